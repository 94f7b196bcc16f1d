"""Keys: stored hashed, shown once, scoped, revocable, rotatable; 401 and 403."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from models import ApiKey
from reconsent.db import unit_of_work
from reconsent.kernel.clock import FixedClock
from reconsent.operators.api_keys import authenticate, revoke_key, rotate_key
from tests.integration.operator_api.conftest import ANNA, Keys

CHECK = f"/api/v1/contactability?channel=ivr&phone={ANNA.replace('+', '%2B')}"


def test_a_key_is_stored_as_its_sha256_only(engine: Engine, keys: Keys) -> None:
    with unit_of_work(engine) as s:
        rows = list(s.scalars(select(ApiKey).order_by(ApiKey.id)))
        assert [r.secret_sha256 for r in rows] == [
            hashlib.sha256(k.encode()).hexdigest()
            for k in (keys.read, keys.write, keys.export, keys.all)
        ]
        # the secret is everything after rk_<prefix>_ (it may hold "_" itself)
        secret = keys.read.split("_", 2)[2]
        assert all(secret not in (r.secret_sha256 + r.prefix) for r in rows)
        assert authenticate(s, keys.read + "x") is None  # a wrong secret, the right prefix


def test_missing_unknown_and_revoked_keys_get_401_and_a_wrong_scope_403(
    client: TestClient, keys: Keys, engine: Engine, api_clock: FixedClock
) -> None:
    missing = client.get(CHECK)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"] == "application/problem+json"
    assert client.get(CHECK, headers=keys.auth("rk_000000000000_nope")).status_code == 401
    assert client.get(CHECK, headers=keys.auth(keys.write)).status_code == 403
    assert client.get(CHECK, headers=keys.auth(keys.read)).status_code == 200
    assert client.get(CHECK, headers={"X-API-Key": keys.read}).status_code == 200
    with unit_of_work(engine) as s:
        revoke_key(s, "dialler", api_clock.now())
    revoked = client.get(CHECK, headers=keys.auth(keys.read))
    assert (revoked.status_code, revoked.headers["www-authenticate"][:6]) == (401, "Bearer")


def test_rotation_keeps_name_and_scopes_and_revokes_the_old_key(
    client: TestClient, keys: Keys, engine: Engine, api_clock: FixedClock
) -> None:
    with unit_of_work(engine) as s:
        new = rotate_key(s, "crm", api_clock.now())
    assert (new.name, new.scopes) == ("crm", ("export:read",))
    assert client.get("/api/v1/consents/changes", headers=keys.auth(keys.export)).status_code == 401
    assert client.get("/api/v1/consents/changes", headers=keys.auth(new.key)).status_code == 200
