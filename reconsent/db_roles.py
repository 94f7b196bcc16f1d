"""Least privilege on PostgreSQL: the schema's owner migrates, a runtime role works.

The portal, the flows and the CLI connect with ``RECONSENT_DATABASE_URL`` as a
role that owns nothing: it cannot ``ALTER TABLE`` (so it cannot disable the
ledger's append-only triggers), ``TRUNCATE``, or change the schema, and on the
proof tables it may only read and append:

==================  ==========================================================
consent_events      SELECT, INSERT (append-only; the triggers refuse the rest)
notices             SELECT, INSERT (a call's spoken notice is published here)
consent_status      SELECT, INSERT, UPDATE (the projection; verify re-derives it)
suppressions        SELECT, INSERT (append-only: the triggers refuse the rest)
suppression_lifts   SELECT, INSERT (an SMS START lifts a STOP: a new row; append-only)
suppression_log     SELECT (the triggers write it, as the owner; append-only)
key_fingerprints    SELECT, INSERT (a key's fingerprint is recorded once, never changed)
alembic_version     SELECT
every other table   SELECT, INSERT, UPDATE, DELETE
==================  ==========================================================

``reconsent db upgrade`` with ``RECONSENT_DATABASE_OWNER_URL`` set runs the
migrations as that owner, then creates the runtime role named in
``RECONSENT_DATABASE_URL`` (with its password) if it does not exist and grants
exactly the above; run it again after every upgrade (it is idempotent).
"""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from models.base import Base

__all__ = ["PRIVILEGES", "grant_runtime_role", "runtime_role_of"]

_ALL = "SELECT, INSERT, UPDATE, DELETE"
PRIVILEGES: dict[str, str] = {
    "consent_events": "SELECT, INSERT",
    "notices": "SELECT, INSERT",
    "consent_status": "SELECT, INSERT, UPDATE",
    "suppressions": "SELECT, INSERT",
    "suppression_lifts": "SELECT, INSERT",
    "suppression_log": "SELECT",  # written by the suppressions' triggers, as the owner
    "key_fingerprints": "SELECT, INSERT",
    "alembic_version": "SELECT",
}


def runtime_role_of(runtime_url: str) -> tuple[str, str | None]:
    """The role name and password a runtime URL connects with."""
    url = make_url(runtime_url)
    if not url.username:
        raise ValueError("RECONSENT_DATABASE_URL names no user: the runtime role is unknown")
    return url.username, url.password if isinstance(url.password, str) else None


def _quoted(engine: Engine, name: str) -> str:
    return engine.dialect.identifier_preparer.quote_identifier(name)


def grant_runtime_role(owner: Engine, role: str, password: str | None = None) -> None:
    """Create ``role`` (LOGIN, no superuser, nothing owned) if absent and grant it the
    table privileges above, revoking anything more (idempotent)."""
    if owner.dialect.name != "postgresql":
        raise ValueError("database roles are a PostgreSQL feature (SQLite has none)")
    who = _quoted(owner, role)
    tables = [*sorted(Base.metadata.tables), "alembic_version"]
    with owner.begin() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        if exists.first() is None:
            conn.execute(text(f"CREATE ROLE {who} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"))
        if password:
            # DDL takes no bound parameters: a standard SQL string literal (quotes doubled;
            # standard_conforming_strings is on by default since PostgreSQL 9.1).
            literal = "'" + password.replace("'", "''") + "'"
            conn.execute(text(f"ALTER ROLE {who} PASSWORD {literal}"))
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f"GRANT CONNECT ON DATABASE {_quoted(owner, database)} TO {who}"))
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {who}"))
        conn.execute(text(f"REVOKE CREATE ON SCHEMA public FROM {who}"))
        for table in tables:
            name = _quoted(owner, table)
            conn.execute(text(f"REVOKE ALL ON TABLE {name} FROM {who}"))
            conn.execute(text(f"GRANT {PRIVILEGES.get(table, _ALL)} ON TABLE {name} TO {who}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}"))
