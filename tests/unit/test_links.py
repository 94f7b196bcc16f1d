from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from reconsent.kernel.errors import BadLink, ExpiredLink
from reconsent.kernel.links import LinkSigner, LinkUse, check_age


def test_round_trip_carries_only_the_opaque_ids() -> None:
    signer = LinkSigner(["k1"])
    token = signer.sign(LinkUse.LANDING, 42, 1)
    payload = signer.verify(LinkUse.LANDING, token, timedelta(days=1))
    assert (payload.request_id, payload.step_index) == (42, 1)
    assert len(payload.token_id) == 16 and payload.token_id not in token


def test_rotation_old_key_verifies_new_key_signs() -> None:
    old_token = LinkSigner(["old"]).sign(LinkUse.LANDING, 7)
    rotated = LinkSigner(["old", "new"])
    assert rotated.verify(LinkUse.LANDING, old_token, None).request_id == 7
    new_token = rotated.sign(LinkUse.LANDING, 7)
    with pytest.raises(BadLink):
        LinkSigner(["old"]).verify(LinkUse.LANDING, new_token, None)


@pytest.mark.parametrize("mutate", [lambda t: t[:-2] + "xx", lambda t: "A" + t[1:], lambda t: ""])
def test_tampered_token_is_a_bad_link(mutate: Callable[[str], str]) -> None:
    signer = LinkSigner(["k"])
    token = signer.sign(LinkUse.LANDING, 1)
    with pytest.raises(BadLink):
        signer.verify(LinkUse.LANDING, mutate(token), None)


def test_salt_separates_uses() -> None:
    signer = LinkSigner(["k"])
    with pytest.raises(BadLink):
        signer.verify(LinkUse.OPTOUT, signer.sign(LinkUse.LANDING, 1), None)


def test_age_is_checked_against_the_given_clock() -> None:
    signer = LinkSigner(["k"])
    payload = signer.verify(LinkUse.LANDING, signer.sign(LinkUse.LANDING, 5), None)
    check_age(payload, timedelta(days=14), payload.issued_at + timedelta(days=13))
    with pytest.raises(ExpiredLink) as info:
        check_age(payload, timedelta(days=14), payload.issued_at + timedelta(days=15))
    assert info.value.request_id == 5
    assert payload.issued_at.tzinfo is UTC or payload.issued_at.utcoffset() == timedelta(0)
    assert abs(payload.issued_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_signer_reads_time_from_the_injected_clock() -> None:
    from reconsent.kernel.clock import FixedClock

    clock = FixedClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    signer = LinkSigner(["k"], clock=clock)
    token = signer.sign(LinkUse.LANDING, 3)
    assert signer.verify(LinkUse.LANDING, token, None).issued_at == clock.now()
    clock.advance(timedelta(days=2))
    with pytest.raises(ExpiredLink):
        signer.verify(LinkUse.LANDING, token, timedelta(days=1))


def test_fast_signing_makes_the_tokens_itsdangerous_makes() -> None:
    import random

    from reconsent.kernel.clock import FixedClock

    clock = FixedClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    signer = LinkSigner(["old", "new"], clock=clock)
    rng = random.Random(7)
    ids = [1, 7, 111, 1111111, 10**7, *(rng.randrange(1, 10**12) for _ in range(2000))]
    for i, request_id in enumerate(ids):
        step = i % 4
        for use in LinkUse:  # one message signs the same ids for each use
            token = signer.sign(use, request_id, step)
            assert token == signer._serializer(use).dumps({"r": request_id, "s": step})
            assert signer.verify(use, token, None).request_id == request_id
        if i % 500 == 0:
            clock.advance(timedelta(seconds=1))


@pytest.mark.parametrize("max_age", [None, timedelta(days=14)])
def test_a_link_stamped_in_the_future_is_refused(max_age: timedelta | None) -> None:
    """Beyond a small clock skew (another server a little ahead), a future stamp is not
    a link we made at that time: refused as not valid (not "expired", which offers a
    fresh one)."""
    from reconsent.kernel.clock import FixedClock
    from reconsent.kernel.links import CLOCK_SKEW

    clock = FixedClock(datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    ahead = LinkSigner(["k"], clock=FixedClock(clock.now() + timedelta(hours=1)))
    slightly = LinkSigner(["k"], clock=FixedClock(clock.now() + CLOCK_SKEW / 2))
    verifier = LinkSigner(["k"], clock=clock)
    with pytest.raises(BadLink):
        verifier.verify(LinkUse.LANDING, ahead.sign(LinkUse.LANDING, 9), max_age)
    token = slightly.sign(LinkUse.LANDING, 9)
    assert verifier.verify(LinkUse.LANDING, token, max_age).request_id == 9


def test_a_mac_differing_only_in_its_padding_bits_is_refused() -> None:
    """27 base64 characters carry 162 bits for a 160-bit MAC: the last character's two
    spare bits change the text, not the bytes. Only the canonical form verifies, so a
    link has one token id (one rate-limit key, one CSRF binding)."""
    from itsdangerous.encoding import base64_decode, base64_encode

    signer = LinkSigner(["k"])
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for request_id in range(1, 40):
        token = signer.sign(LinkUse.LANDING, request_id)
        value, _, mac = token.rpartition(".")
        same = [
            c
            for c in alphabet
            if c != mac[-1] and base64_decode((mac[:-1] + c).encode()) == base64_decode(mac)
        ]
        assert len(same) == 3  # the other values of the two spare bits
        assert base64_encode(base64_decode(mac)).decode() == mac
        for c in same:
            with pytest.raises(BadLink):
                signer.verify(LinkUse.LANDING, f"{value}.{mac[:-1]}{c}", None)
        assert signer.verify(LinkUse.LANDING, token, None).request_id == request_id
