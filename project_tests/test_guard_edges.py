"""The request guard's edges, against real PostgreSQL (issue 15: what its mutation run found unpinned): the
cache's key and lifetime, a contract's critical tables, every form of an undefined-object error the
guard recognises, the async decorator, and the middleware's paths, sources and unreachable database."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import port_for
import psycopg
import pytest
from starlette.types import Message, Receive, Scope, Send

from pgcontract import guard as guard_module
from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.guard import (
    DEFAULT_TTL,
    FIX_INSTRUCTIONS,
    GUARD_LIMITS,
    Requirements,
    SchemaGuard,
    SchemaGuardMiddleware,
    SchemaNotReady,
    process_guard,
    require_schema,
    require_schema_async,
    reset_cache,
    schema_error,
    schema_guard,
)

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"
Conn = psycopg.Connection[tuple[object, ...]]
AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process-wide guard yet, as in a new process (under mutmut, the process that forks each mutant's
    test run has run the tests already, and would hand its guards down)."""
    monkeypatch.setattr(guard_module, "_guards", {})


@pytest.fixture
def conn(chat_db: Target) -> Iterator[Conn]:
    with psycopg.connect(chat_db.dsn, autocommit=True) as connection:
        yield connection


def _error_of(conn: Conn, statement: str) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(statement.encode())
    return raised.value


# --- the cache ---------------------------------------------------------------------------------------


def test_a_fresh_guard_counts_each_round_trip_and_ttl_zero_caches_nothing(conn: Conn) -> None:
    guard = SchemaGuard([THREADS], ttl=0)
    assert guard.checks == 0
    guard.require(conn)
    guard.require(conn)
    assert guard.checks == 2
    guard.check(conn)  # check() never reads the cache
    assert guard.checks == 3


def test_the_default_ttl_keeps_a_positive_result_thirty_seconds(conn: Conn) -> None:
    guard = process_guard([THREADS])
    assert guard.ttl == DEFAULT_TTL == 30.0
    assert guard.limits == GUARD_LIMITS
    assert (GUARD_LIMITS.statement_timeout, GUARD_LIMITS.lock_timeout, GUARD_LIMITS.application_name) == (
        "2s",
        "1s",
        "pgcontract-guard",
    )
    assert not guard.fresh(("any", "key"))
    guard.mark_ok("key")
    assert guard.fresh("key")
    assert not guard.fresh("another key")
    guard.invalidate()
    assert not guard.fresh("key")


def test_require_schema_with_its_own_ttl_is_another_guard(conn: Conn) -> None:
    require_schema(conn, tables=[THREADS])
    short = process_guard([THREADS], 0.0)
    before = short.checks
    require_schema(conn, tables=[THREADS], ttl=0.0)
    require_schema(conn, tables=[THREADS], ttl=0.0)
    assert short.checks == before + 2
    assert process_guard([THREADS]) is not short
    assert process_guard([MESSAGES]) is not process_guard([THREADS])

    @schema_guard(tables=[THREADS], ttl=0.0)
    def handler(connection: Conn) -> None:
        pass

    handler(conn)
    handler(conn)
    assert short.checks == before + 4


def test_require_schema_async_with_its_own_ttl_checks_every_time(chat_db: Target) -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(chat_db.dsn, autocommit=True) as aconn:
            await require_schema_async(aconn, tables=[THREADS], ttl=0.0)
            await require_schema_async(aconn, tables=[THREADS], ttl=0.0)
            guard = SchemaGuard([THREADS], ttl=0)
            await guard.require_async(aconn)
            await guard.require_async(aconn)
            assert guard.checks == 2

    asyncio.run(scenario())
    assert process_guard([THREADS], 0.0).checks == 2


def test_reset_cache_makes_the_next_request_check_again(conn: Conn) -> None:
    guard = process_guard([THREADS])
    require_schema(conn, tables=[THREADS])
    before = guard.checks
    reset_cache()
    require_schema(conn, tables=[THREADS])
    assert guard.checks == before + 1


def test_the_cache_is_per_database(conn: Conn, chat_db: Target, pg: Conn) -> None:
    """Warm on one database, the guard still checks another database of the same server (and finds its
    table missing there)."""
    other = f"{psycopg.conninfo.conninfo_to_dict(chat_db.dsn)['dbname']}_other"
    pg.commit()
    pg.autocommit = True
    pg.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(other)))
    try:
        require_schema(conn, tables=[THREADS])
        dsn = psycopg.conninfo.make_conninfo(chat_db.dsn, dbname=other)
        with psycopg.connect(dsn, autocommit=True) as elsewhere, pytest.raises(SchemaNotReady) as raised:
            require_schema(elsewhere, tables=[THREADS])
        assert raised.value.missing == [THREADS]

        async def the_same_async() -> None:
            guard = SchemaGuard([THREADS])
            async with await psycopg.AsyncConnection.connect(chat_db.dsn, autocommit=True) as here:
                await guard.require_async(here)
            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as there:
                with pytest.raises(SchemaNotReady):
                    await guard.require_async(there)

        asyncio.run(the_same_async())
    finally:
        pg.execute(psycopg.sql.SQL("DROP DATABASE {} WITH (FORCE)").format(psycopg.sql.Identifier(other)))


def test_the_cache_is_per_server_address(conn: Conn, chat_db: Target) -> None:
    """The same database reached at another address of the server is another cache entry (a replica or
    another server with the same port and database name must be checked on its own)."""
    info = conn.info
    assert info.host != "localhost"
    guard = SchemaGuard([THREADS])
    guard.require(conn)
    guard.require(conn)
    assert guard.checks == 1
    dsn = psycopg.conninfo.make_conninfo(chat_db.dsn, host="localhost")
    with psycopg.connect(dsn, autocommit=True) as same_server_by_name:
        guard.require(same_server_by_name)
    assert guard.checks == 2


def test_a_single_table_name_is_one_requirement(conn: Conn) -> None:
    require_schema(conn, tables=THREADS)
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables="public.nope")
    assert raised.value.missing == ["public.nope"]
    with pytest.raises(SchemaNotReady) as raised:
        SchemaGuard("public.nope").require(conn)
    assert raised.value.missing == ["public.nope"]


def test_a_mapping_through_the_process_guard_and_several_missing_names(conn: Conn) -> None:
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables={THREADS: ["title", "nope"], MESSAGES: ["content"]})
    assert raised.value.missing == [f"{THREADS}.nope"]
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables=["public.one", THREADS, "public.two"])
    assert raised.value.error == "Database schema error: required tables missing: public.one, public.two"


def test_a_contract_guard_needs_its_critical_tables_only_unless_asked_for_all(conn: Conn, tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(
        "version: 1\ntables:\n"
        f"  {THREADS}:\n    critical: true\n    columns:\n      title: {{type: text}}\n"
        "  public.audit_log:\n    columns:\n      at: {type: timestamptz}\n",
        encoding="utf-8",
    )
    contract = load_contract(path)
    guard = SchemaGuard.from_contract(contract, ttl=0)
    assert guard.ttl == 0
    guard.require(conn)  # the audit log is not critical
    with pytest.raises(SchemaNotReady) as raised:
        SchemaGuard(Requirements.from_contract(contract, critical_only=False)).require(conn)
    assert raised.value.missing == ["public.audit_log"]
    conn.execute(f"ALTER TABLE {THREADS} DROP COLUMN title")
    with pytest.raises(SchemaNotReady) as raised:
        guard.require(conn)
    assert raised.value.missing == [f"{THREADS}.title"]


def test_the_async_guard_is_cached_and_leaves_the_callers_transaction_as_it_was(chat_db: Target) -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(chat_db.dsn) as aconn:
            await aconn.execute("SET statement_timeout = '42s'")
            guard = SchemaGuard([THREADS])
            await guard.require_async(aconn)
            await guard.require_async(aconn)
            assert guard.checks == 1
            with pytest.raises(SchemaNotReady):
                await SchemaGuard(["public.nope"]).require_async(aconn)
            assert aconn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
            cursor = await aconn.execute(
                "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only'),"
                " current_setting('lock_timeout')"
            )
            assert await cursor.fetchone() == ("42s", "off", "0")
            await aconn.rollback()

    asyncio.run(scenario())


def test_the_guard_reads_under_its_own_lock_timeout(chat_db: Target) -> None:
    """A guard waiting for a lock on the catalog gives up after its lock timeout (1 s), in its own
    transaction, with the guard's application name: the database is not held by a guard."""
    guard = SchemaGuard([THREADS])
    seen: list[object] = []
    with (
        psycopg.connect(chat_db.dsn, autocommit=True) as waiting,
        psycopg.connect(chat_db.dsn) as locker,
        psycopg.connect(chat_db.dsn, autocommit=True) as watcher,
    ):
        guard.check(waiting)  # warms the waiting session's catalog caches
        watch = "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = %s"
        watcher.execute(watch, (waiting.info.backend_pid,))
        locker.execute("LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE")

        async def both() -> None:
            async def look() -> None:
                for _ in range(40):
                    row = await asyncio.to_thread(
                        lambda: watcher.execute(watch, (waiting.info.backend_pid,)).fetchone()
                    )
                    if row is not None:
                        seen.append(row[0])
                        return
                    await asyncio.sleep(0.05)

            async def check() -> None:
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    await asyncio.to_thread(guard.check, waiting)

            await asyncio.gather(look(), check())

        asyncio.run(both())
        locker.rollback()
    assert seen == ["pgcontract-guard"]


# --- undefined-object errors ---------------------------------------------------------------------------


def test_each_server_message_names_what_is_missing(conn: Conn) -> None:
    cases = {
        f"INSERT INTO {THREADS} (nope) VALUES (1)": ["sam_conversation_threads.nope"],
        f"SELECT t.nope FROM {THREADS} t": ["t.nope"],
        f'SELECT "Nope" FROM {THREADS}': ["Nope"],
        "SELECT * FROM public.nowhere": ["public.nowhere"],
    }
    for statement, missing in cases.items():
        error = schema_error(_error_of(conn, statement))
        assert error is not None, statement
        assert error.missing == missing, statement


def test_the_name_comes_from_the_servers_message_not_the_statement_it_quotes(conn: Conn) -> None:
    """The error's full text quotes the statement (``LINE 1: ...``): a literal in it that reads like a
    message must not be taken for the missing object."""
    error = _error_of(conn, f"SELECT 'relation \"decoy\" does not exist', nope FROM {THREADS}")
    assert 'relation "decoy"' in str(error)
    found = schema_error(error)
    assert found is not None
    assert found.missing == ["nope"]


def test_an_undefined_column_the_server_does_not_name_gives_the_general_message(conn: Conn) -> None:
    error = schema_error(_error_of(conn, "SELECT (ROW(1, 2)).nope"))
    assert error is not None
    assert error.missing == []
    assert error.to_dict() == {
        "success": False,
        "error": "Database schema error: a required table or column is missing",
        "missing": [],
        "fix_instructions": FIX_INSTRUCTIONS,
    }
    custom = SchemaNotReady(["public.t"], fix_instructions="Run migrations")
    assert custom.to_dict()["fix_instructions"] == "Run migrations"
    assert str(custom) == "Database schema error: required tables missing: public.t"


class WrappedByAnOrm(Exception):
    """As SQLAlchemy's DBAPIError: the driver's error in ``.orig``."""

    def __init__(self, orig: object) -> None:
        super().__init__("(wrapped)")
        self.orig = orig


class Psycopg2Style(Exception):
    """psycopg2's errors carry the SQLSTATE as ``pgcode``, and no ``diag.message_primary`` here."""

    pgcode = "42P01"


def test_a_driver_error_wrapped_by_an_orm_or_a_raise_from_is_found(conn: Conn) -> None:
    undefined = _error_of(conn, "SELECT * FROM public.nowhere")
    assert schema_error(WrappedByAnOrm(undefined)) is not None
    assert schema_error(WrappedByAnOrm(WrappedByAnOrm(undefined))) is not None
    try:
        raise RuntimeError("handler failed") from undefined
    except RuntimeError as chained:
        found = schema_error(chained)
    assert found is not None
    assert found.missing == ["public.nowhere"]
    psycopg2_like = schema_error(Psycopg2Style('relation "public.gone" does not exist'))
    assert psycopg2_like is not None
    assert psycopg2_like.missing == ["public.gone"]


def test_errors_that_are_not_undefined_objects_are_left_alone(conn: Conn) -> None:
    undefined = _error_of(conn, "SELECT * FROM public.nowhere")
    assert schema_error(_error_of(conn, "SELECT 1 / 0")) is None
    assert schema_error(WrappedByAnOrm("not an exception")) is None
    during = RuntimeError("raised while handling it")  # as `raise ... from None` inside `except` leaves it
    during.__context__, during.__suppress_context__ = undefined, True
    assert schema_error(during) is None
    looped, other = RuntimeError("a"), RuntimeError("b")
    looped.__cause__, other.__cause__ = other, looped
    assert schema_error(looped) is None
    itself = SchemaNotReady(["public.t"])
    assert schema_error(itself) is itself


# --- the decorator -----------------------------------------------------------------------------------------


def test_the_decorator_finds_a_connection_passed_by_keyword_and_refuses_a_handler_without_one(conn: Conn) -> None:
    @schema_guard(tables=["public.nope"])
    def by_keyword(*, connection: Conn) -> str:
        return "ran"

    @schema_guard(tables=[THREADS])
    def without_connection(name: str) -> str:
        return name

    with pytest.raises(SchemaNotReady) as raised:
        by_keyword(connection=conn)
    assert raised.value.missing == ["public.nope"]
    with pytest.raises(
        TypeError, match=re.escape("without_connection: schema_guard(tables=...) needs a psycopg connection")
    ):
        without_connection("x")
    assert by_keyword.__name__ == "by_keyword"

    @schema_guard(tables=[THREADS])
    def titles(*, connection: Conn) -> list[tuple[object, ...]]:
        return connection.execute(f"SELECT title FROM {THREADS}").fetchall()

    @schema_guard(tables=[THREADS])
    async def titles_async(*, connection: AsyncConn) -> list[tuple[object, ...]]:
        cursor = await connection.execute(f"SELECT title FROM {THREADS}")
        return await cursor.fetchall()

    async def call_async() -> list[tuple[object, ...]]:
        async with await psycopg.AsyncConnection.connect(conn.info.dsn, autocommit=True) as aconn:
            return await titles_async(connection=aconn)

    assert titles(connection=conn) == []
    assert asyncio.run(call_async()) == []


def test_the_async_decorator_checks_first_translates_and_lets_other_errors_through(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    calls: list[str] = []

    @schema_guard(tables=[THREADS, MESSAGES])
    async def count(connection: AsyncConn) -> object:
        calls.append("count")
        cursor = await connection.execute(f"SELECT count(*) FROM {MESSAGES}")
        return await cursor.fetchone()

    @schema_guard()
    async def divide(connection: AsyncConn) -> object:
        cursor = await connection.execute("SELECT 1 / 0")
        return await cursor.fetchone()

    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(chat_db.dsn, autocommit=True) as aconn:
            assert await count(aconn) == (0,)
            run_sql(f"DROP TABLE {MESSAGES}")
            with pytest.raises(SchemaNotReady) as raised:  # warm: the handler runs, its 42P01 translated
                await count(aconn)
            assert raised.value.missing == [MESSAGES]
            assert isinstance(raised.value.__cause__, psycopg.errors.UndefinedTable)
            with pytest.raises(SchemaNotReady):  # the cache was dropped: checked before the handler
                await count(aconn)
            with pytest.raises(psycopg.errors.DivisionByZero):
                await divide(aconn)

    asyncio.run(scenario())
    assert calls == ["count", "count"]
    assert count.__name__ == "count"


def test_the_decorator_passes_a_schema_not_ready_of_the_handler_and_forgets_its_cache(conn: Conn) -> None:
    guard = process_guard([THREADS])

    @schema_guard(tables=[THREADS])
    def handler(connection: Conn) -> None:
        require_schema(connection, tables=["public.nope"])

    with pytest.raises(SchemaNotReady) as raised:
        handler(conn)
    assert raised.value.missing == ["public.nope"]
    assert raised.value.__cause__ is None
    before = guard.checks
    with pytest.raises(SchemaNotReady):
        handler(conn)
    assert guard.checks == before + 1  # the handler's error dropped the cached result


# --- the middleware, called in process (ASGI messages, no server) ------------------------------------------


def _call(app: SchemaGuardMiddleware, path: str, scope_type: str = "http") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"the request body", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": scope_type, "path": path, "method": "GET", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent


def _handler(dsn: str, seen: list[str]) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(str(scope["path"]))
        if scope["path"].endswith("/raise"):
            with psycopg.connect(dsn, autocommit=True) as connection:
                require_schema(connection, tables=["public.nope"])
        if scope["path"].endswith("/echo"):
            message = await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": message["body"]})
            return
        if scope["path"].endswith("/late"):
            await send({"type": "http.response.start", "status": 200, "headers": []})
        with psycopg.connect(dsn) as connection:
            connection.execute(f"SELECT title FROM {THREADS}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _status(sent: list[Message]) -> int:
    return int(next(m["status"] for m in sent if m["type"] == "http.response.start"))


def test_the_middleware_answers_503_with_no_store_and_only_under_its_paths(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    seen: list[str] = []
    app = SchemaGuardMiddleware(_handler(chat_db.dsn, seen), paths=["/api/"])
    run_sql(f"ALTER TABLE {THREADS} DROP COLUMN title")
    sent = _call(app, "/api/threads")
    assert _status(sent) == 503
    headers = dict(sent[0]["headers"])
    assert headers[b"cache-control"] == b"no-store"
    assert b'"missing":["title"]' in sent[1]["body"]
    with pytest.raises(psycopg.errors.UndefinedColumn):  # outside the paths: untouched
        _call(app, "/other")
    with pytest.raises(psycopg.errors.UndefinedColumn):  # not HTTP: untouched
        _call(app, "/api/threads", scope_type="websocket")
    with pytest.raises(psycopg.errors.UndefinedColumn):  # a response already started: not rewritten
        _call(app, "/api/late")
    assert seen == ["/api/threads", "/other", "/api/threads", "/api/late"]


def test_the_middleware_passes_a_schema_not_ready_raised_by_the_application(chat_db: Target) -> None:
    sent = _call(SchemaGuardMiddleware(_handler(chat_db.dsn, [])), "/api/raise")
    assert _status(sent) == 503
    assert b'"missing":["public.nope"]' in sent[1]["body"]


def test_the_middleware_checks_its_tables_once_on_each_kind_of_source(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    def from_callable() -> AbstractContextManager[Conn]:
        return psycopg.connect(chat_db.dsn)

    sources: list[Any] = [chat_db.dsn, chat_db, from_callable]
    for source in sources:
        seen: list[str] = []
        app = SchemaGuardMiddleware(_handler(chat_db.dsn, seen), tables=[THREADS, "public.later"], connection=source)
        sent = _call(app, "/api/threads")
        assert _status(sent) == 503, source
        assert b'"missing":["public.later"]' in sent[1]["body"]
        assert seen == []  # refused before the handler ran
        run_sql("CREATE TABLE public.later ()")
        assert _status(_call(app, "/api/threads")) == 200
        assert _status(_call(app, "/api/threads")) == 200
        assert app.guard is not None
        assert app.guard.checks == 2  # the refusal and the first pass; the third request was cached
        assert seen == ["/api/threads", "/api/threads"]
        run_sql("DROP TABLE public.later")


def test_the_middleware_tables_win_over_the_contract_and_without_a_source_nothing_is_checked_first(
    chat_db: Target,
) -> None:
    contract = load_contract(Path(__file__).resolve().parent.parent / "contracts" / "tables.yaml")
    both = SchemaGuardMiddleware(
        _handler(chat_db.dsn, []), tables=["public.later"], contract=contract, connection=chat_db.dsn
    )
    sent = _call(both, "/x")
    assert _status(sent) == 503
    assert b'"missing":["public.later"]' in sent[1]["body"]
    seen: list[str] = []
    no_source = SchemaGuardMiddleware(_handler(chat_db.dsn, seen), tables=["public.later"])
    assert _status(_call(no_source, "/api/threads")) == 200
    assert seen == ["/api/threads"]


def test_a_middleware_that_cannot_reach_the_database_lets_requests_through_and_says_so(
    chat_db: Target, caplog: pytest.LogCaptureFixture
) -> None:
    closed = port_for.select_random()
    unreachable = f"postgresql://app_user:s3cret-pw@127.0.0.1:{closed}/app?connect_timeout=2"

    def failing_pool() -> AbstractContextManager[Conn]:
        return psycopg.connect(unreachable)

    for source, shown in (
        (unreachable, f": cannot connect to app_user@127.0.0.1:{closed}/app"),
        (failing_pool, ": OperationalError"),
    ):
        seen: list[str] = []
        app = SchemaGuardMiddleware(_handler(chat_db.dsn, seen), tables=["public.nope"], connection=source)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="pgcontract.guard"):
            assert _status(_call(app, "/")) == 200
            assert _status(_call(app, "/")) == 200
        assert seen == ["/", "/"]
        messages = [r.getMessage() for r in caplog.records if r.name == "pgcontract.guard"]
        assert len(messages) == 2, messages  # not marked good: the next request tries again
        assert all(m.startswith("schema guard: cannot check the schema: ") for m in messages)
        assert shown in messages[0]
        assert "s3cret-pw" not in caplog.text


def test_the_middleware_connects_under_the_guards_application_name(chat_db: Target) -> None:
    """Its own connection is named ``pgcontract-guard`` from the start, before the check's transaction
    names itself: a DBA sees who holds it (held here by a lock on the catalog the check waits for)."""
    app = SchemaGuardMiddleware(_handler(chat_db.dsn, []), tables=[THREADS], connection=chat_db.dsn)
    watch = "SELECT application_name FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = %s"
    dbname = psycopg.conninfo.conninfo_to_dict(chat_db.dsn)["dbname"]
    with psycopg.connect(chat_db.dsn) as locker, psycopg.connect(chat_db.dsn, autocommit=True) as watcher:
        assert watcher.execute(watch, (dbname,)).fetchall() == []  # warms the watcher's catalog caches
        locker.execute("LOCK TABLE pg_catalog.pg_namespace IN ACCESS EXCLUSIVE MODE")
        result: list[list[Message]] = []
        caller = threading.Thread(target=lambda: result.append(_call(app, "/api/threads")))
        caller.start()
        try:
            names: list[tuple[object, ...]] = []
            for _ in range(200):
                names = watcher.execute(watch, (dbname,)).fetchall()
                if names:
                    break
                time.sleep(0.05)
        finally:
            locker.rollback()
            caller.join(timeout=30)
    assert names == [("pgcontract-guard",)]
    assert _status(result[0]) == 200


def test_the_application_reads_its_request_through_the_middleware(chat_db: Target) -> None:
    sent = _call(SchemaGuardMiddleware(_handler(chat_db.dsn, []), tables=[THREADS], connection=chat_db.dsn), "/echo")
    assert _status(sent) == 200
    assert sent[1]["body"] == b"the request body"


def test_the_middleware_ttl_and_one_check_for_requests_arriving_together(chat_db: Target) -> None:
    uncached = SchemaGuardMiddleware(_handler(chat_db.dsn, []), tables=[THREADS], connection=chat_db.dsn, ttl=0)
    for _ in range(3):
        assert _status(_call(uncached, "/api/threads")) == 200
    assert uncached.guard is not None
    assert uncached.guard.checks == 3

    app = SchemaGuardMiddleware(_handler(chat_db.dsn, []), tables=[THREADS], connection=chat_db.dsn)

    async def together() -> list[int]:
        async def one() -> int:
            sent: list[Message] = []

            async def receive() -> Message:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: Message) -> None:
                sent.append(message)

            await app({"type": "http", "path": "/api/threads", "method": "GET", "headers": []}, receive, send)
            return _status(sent)

        return list(await asyncio.gather(*(one() for _ in range(5))))

    assert asyncio.run(together()) == [200] * 5
    assert app.guard is not None
    assert app.guard.checks == 1  # the others waited for the first check and took its result
