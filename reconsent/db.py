"""The one database module: engines, sessions (unit of work) and migrations.

Nothing here runs at import time.  SQLite gets WAL, foreign keys and a busy
timeout on every connection; PostgreSQL is used as is (psycopg 3).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    Integer,
    Select,
    String,
    Text,
    any_,
    bindparam,
    cast,
    create_engine,
    event,
    func,
    literal_column,
    make_url,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import QueryableAttribute, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.elements import ColumnElement

from reconsent.kernel.errors import ConfigError


def normalise_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


#: How long a SQLite connection waits for another's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse text
        raise ConfigError(f"invalid database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # Temporary tables and sorts in memory: planning's scratch table (~100 MB at a
    # million contacts) is 3x faster than on a temp file.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


#: One sessionmaker per engine, made on first use (building one costs ~0.3 ms).
_FACTORIES: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = _FACTORIES.get(engine)
    if factory is None:
        factory = _FACTORIES.setdefault(engine, sessionmaker(engine, expire_on_commit=False))
    return factory


#: What a unit of work can be opened on: an engine, or a session factory built on one.
SessionSource = Engine | sessionmaker[Session]


@contextmanager
def unit_of_work(source: SessionSource) -> Iterator[Session]:
    """The unit of work: a session that commits on success and rolls back on any error."""
    factory = session_factory(source) if isinstance(source, Engine) else source
    with factory() as session, session.begin():
        yield session


def hold_contacts(session: Session, contact_ids: Sequence[int], *, exclusive: bool = False) -> None:
    """The hand-over lock on these people, held until the unit of work ends.

    The dispatcher holds it (shared) while a chunk of their messages is with the
    provider; every "no" (objection, opt-out) takes it exclusively before it writes,
    so the two never interleave (``reconsent.dispatch.handover``).

    * PostgreSQL: one transaction-level advisory lock (:data:`HANDOVER_LOCK`), shared
      by the dispatchers, exclusive for a "no"; PostgreSQL queues a waiting exclusive
      request ahead of later shared ones, so a stream of chunks cannot starve an
      objection. (Row locks on the contacts cost a tuple write per person: -25% of
      dispatch throughput, bench/dispatch_bench.py.) A 30 s ``lock_timeout`` turns
      a stuck holder into an error instead of a hang.
    * SQLite (a file): one readers-writer lock per database file, on lock files
      beside it (``flock``; writers first, so a stream of chunks cannot starve an
      objection). The shared holder must not write while it holds it; an exclusive
      holder waits at most one chunk's provider call.
    """
    dialect = _dialect(session)
    if dialect == "postgresql":
        if not contact_ids or session.info.get(_HELD_KEY):
            return
        conn = session.connection()
        conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
        take = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.execute(text(f"SELECT {take}(:key)"), {"key": HANDOVER_LOCK})
        session.info[_HELD_KEY] = True  # released with the transaction
        return
    path = _sqlite_file(session)
    if dialect != "sqlite" or path is None or session.info.get(_HELD_KEY):
        return
    held = _FileLock(path, exclusive=exclusive)
    session.info[_HELD_KEY] = held

    @event.listens_for(session, "after_transaction_end")
    def _release(_session: Session, transaction: Any) -> None:
        # Sessions here live for one unit of work: the listener goes with the session.
        if transaction.parent is None and session.info.get(_HELD_KEY) is held:
            session.info.pop(_HELD_KEY).release()


_HELD_KEY = "reconsent.hand_over_lock"
#: The advisory lock key of the hand-over (the ledger's subject locks use other keys).
HANDOVER_LOCK = 0x7265636F6E5F6801  # "recon_h\x01"


def _sqlite_file(session: Session) -> Path | None:
    database = session.get_bind().engine.url.database
    if not database or database == ":memory:":
        return None
    return Path(database)


class _FileLock:
    """A readers-writer lock across processes: ``<db>.handover`` (shared by readers,
    exclusive for a writer) behind the turnstile ``<db>.turnstile`` a writer holds while
    it waits, so new readers queue behind it."""

    def __init__(self, database: Path, *, exclusive: bool) -> None:
        import fcntl

        self._fcntl = fcntl
        with Path(f"{database}.turnstile").open("a+b") as turnstile:
            fcntl.flock(turnstile, fcntl.LOCK_EX)  # released when the file closes
            self._handle = Path(f"{database}.handover").open("a+b")  # noqa: SIM115 - held
            if exclusive:
                fcntl.flock(self._handle, fcntl.LOCK_EX)
        if not exclusive:
            fcntl.flock(self._handle, fcntl.LOCK_SH)

    def release(self) -> None:
        self._fcntl.flock(self._handle, self._fcntl.LOCK_UN)
        self._handle.close()


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


def listed(bind: Session | Connection, values: Sequence[int] | Sequence[str]) -> Select[Any]:
    """``SELECT`` of one column whose rows are ``values``, bound as one parameter:
    ``unnest(array)`` on PostgreSQL, ``json_each(json)`` on SQLite."""
    if _dialect(bind) == "postgresql":
        kind = String() if values and isinstance(values[0], str) else Integer()
        return select(func.unnest(bindparam(None, list(values), type_=ARRAY(kind))))
    each: Any = func.json_each(json.dumps(list(values)))
    return select(literal_column("value")).select_from(each)


def among(
    bind: Session | Connection,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Sequence[int] | Sequence[str],
) -> ColumnElement[bool]:
    """``column IN (values)`` as one bound parameter however many values there are:
    ``= ANY(array)`` on PostgreSQL, ``IN (SELECT value FROM json_each(...))`` on SQLite.

    An expanded ``IN`` renders (and PostgreSQL parses) one placeholder per value: at a
    thousand ids that costs more than the statement itself.
    """
    if _dialect(bind) == "postgresql":
        # One text parameter cast to an array: psycopg dumps a list of 10,000 values
        # element by element (~30 ms), a string at once.
        array = cast(bindparam(None, array_literal(values), type_=Text()), ARRAY(column.type))
        return column == any_(array)
    return column.in_(listed(bind, values))


def array_literal(values: Sequence[int] | Sequence[str]) -> str:
    """PostgreSQL's text form of a one-dimensional array (``{1,2}``, ``{"a","b\\"c"}``)."""

    def item(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return str(int(value))  # type: ignore[call-overload]  # ints (ids) otherwise

    return "{" + ",".join(map(item, values)) + "}"


def among_param(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``among`` for a statement built once and run many times: the values come at
    execution, as the parameter ``name`` (``= ANY(:name)`` on PostgreSQL, an expanding
    ``IN`` on SQLite, where a short list renders cheaply)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def among_list(
    column: ColumnElement[Any] | QueryableAttribute[Any], name: str, dialect: str
) -> ColumnElement[bool]:
    """``among_param`` for long lists in a statement built once: the values come at
    execution as one text parameter (:func:`list_param`): an array literal cast on
    PostgreSQL, a JSON array read by ``json_each`` on SQLite."""
    if dialect == "postgresql":
        return column == any_(cast(bindparam(name, type_=Text()), ARRAY(column.type)))
    each: Any = func.json_each(bindparam(name, type_=Text()))
    return column.in_(select(literal_column("value")).select_from(each))


def list_param(values: Sequence[int] | Sequence[str], dialect: str) -> str:
    """The value of an :func:`among_list` parameter."""
    return array_literal(values) if dialect == "postgresql" else json.dumps(list(values))


class _Compiled(NamedTuple):
    sql: str
    fixed: dict[str, Any]  # the statement's own parameters, bind-processed


_COMPILED: weakref.WeakKeyDictionary[Any, _Compiled] = weakref.WeakKeyDictionary()


def _compiled(query: Select[Any], conn: Connection) -> _Compiled:
    held = _COMPILED.get(query)
    if held is None:
        compiled = query.compile(dialect=conn.dialect)
        fixed = {}
        for name, value in compiled.params.items():
            process = compiled.binds[name].type.bind_processor(conn.dialect)
            fixed[name] = process(value) if process else value
        held = _COMPILED[query] = _Compiled(str(compiled), fixed)
    return held


def plain_rows(conn: Connection, query: Select[Any], params: dict[str, Any]) -> list[Any]:
    """The rows of ``query`` (a statement built once and kept, e.g. by ``functools.cache``)
    as plain tuples, with what the driver makes of the values: no result types applied,
    so an enum column comes as its string (and as the enum on SQLite), a timestamp as
    the driver's (aware on PostgreSQL, in the session's zone).

    On PostgreSQL the statement, compiled once, runs as a prepared statement on the
    driver's own cursor: a contactability check of one contact spent a quarter of its
    time in SQLAlchemy's execution and result set-up (0.60 -> 0.45 ms a request,
    bench/api_bench.py). Elsewhere it runs through ``conn``. ``params`` are given as the
    driver takes them (nothing bind-processed: a list as :func:`list_param`)."""
    if conn.dialect.name != "postgresql":
        return list(conn.execute(query, params))
    compiled = _compiled(query, conn)
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(compiled.sql, {**compiled.fixed, **params}, prepare=True)
        rows: list[Any] = cursor.fetchall()
    return rows


def _dialect(bind: Session | Connection) -> str:
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name


def insert_ignoring_conflicts(session: Session, table: Any) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's dialect."""
    if is_postgres(session):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the schema at ``url`` to ``revision`` (idempotent; default every head,
    so revisions written side by side on branches apply before they are merged)."""
    from alembic import command

    make_engine(url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(url), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision (several heads, before their merge: comma separated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return ", ".join(sorted(heads)) or None


def schema_problem(engine: Engine) -> str | None:
    """Why the database cannot be worked on as it is (None: its schema is at every head of
    this release): empty, behind, or ahead of this code."""
    from alembic.script import ScriptDirectory

    found = current_revision(engine)
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(False)))
    wanted = set(script.get_heads())
    if found is None:
        return "the database has no schema (run `reconsent db upgrade`)"
    have = set(found.split(", "))
    if have == wanted:
        return None
    known = {rev.revision for rev in script.walk_revisions()}
    if have - known:
        return f"the database is at {found}, which this release does not know (a newer one?)"
    return f"the database is at {found}, behind this release (run `reconsent db upgrade`)"
