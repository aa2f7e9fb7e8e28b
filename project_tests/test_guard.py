"""The request guard (layer 2) against real PostgreSQL: passes when the tables exist, names what is missing
with fix instructions, turns 42P01/42703 inside handlers into the same 503, lets other errors through,
and costs no round trip when warm."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.guard import (
    FIX_INSTRUCTIONS,
    SchemaGuard,
    SchemaGuardMiddleware,
    SchemaNotReady,
    process_guard,
    require_schema,
    require_schema_async,
    reset_cache,
    schema_guard,
)
from pgcontract.names import QualifiedName
from project_tests.helpers import CHAT_CONTRACT
from project_tests.serving import running

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"
ODD = '"Odd Schema"."Weird ""Table""; DROP TABLE x;--"'


@pytest.fixture(autouse=True)
def _fresh_process_cache() -> Iterator[None]:
    reset_cache()
    yield
    reset_cache()


@pytest.fixture
def conn(chat_db: Target) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(chat_db.dsn, autocommit=True) as connection:
        yield connection


def test_guard_passes_when_tables_exist_and_warm_guard_needs_no_round_trip(
    conn: psycopg.Connection[tuple[object, ...]],
) -> None:
    tables = [THREADS, MESSAGES]
    # Counted from here: the process-wide guard outlives a test (another test, or an earlier pytest run in
    # the same process as under mutmut, may have used it); the fixture only forgets its cached result.
    guard = process_guard(tables)
    before = guard.checks
    require_schema(conn, tables=tables)
    assert guard.checks == before + 1
    for _ in range(100):
        require_schema(conn, tables=tables)
    assert guard.checks == before + 1


def test_dropped_table_raises_503_form_naming_it(
    conn: psycopg.Connection[tuple[object, ...]], run_sql: Callable[[str], None]
) -> None:
    run_sql(f"DROP TABLE {MESSAGES}")
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables=[THREADS, MESSAGES])
    error = raised.value
    assert error.status_code == 503
    assert error.to_dict() == {
        "success": False,
        "error": f"Database schema error: required tables missing: {MESSAGES}",
        "missing": [MESSAGES],
        "fix_instructions": FIX_INSTRUCTIONS,
    }
    assert FIX_INSTRUCTIONS == "Run the SQL from /api/admin/setup-sql"


def test_dropped_column_is_named(conn: psycopg.Connection[tuple[object, ...]], run_sql: Callable[[str], None]) -> None:
    run_sql(f"ALTER TABLE {THREADS} DROP COLUMN thread_type")
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables={THREADS: ["id", "user_id", "title", "thread_type", "status"], MESSAGES: ["id"]})
    assert raised.value.missing == [f"{THREADS}.thread_type"]
    assert raised.value.error == f"Database schema error: required columns missing: {THREADS}.thread_type"


def test_a_missing_table_is_named_once_not_per_column(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables={"public.nope": ["a", "b"], THREADS: ["nope_col"]})
    assert raised.value.missing == ["public.nope", f"{THREADS}.nope_col"]
    assert raised.value.error == (
        f"Database schema error: required tables missing: public.nope; required columns missing: {THREADS}.nope_col"
    )


def test_awkward_names_are_parameters_not_sql(make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db("kitchen")
    with psycopg.connect(target.dsn, autocommit=True) as connection:
        SchemaGuard({ODD: ["Üser Id", "semi;colon", "MixedCase"]}).require(connection)
        run_sql(f'ALTER TABLE {ODD} DROP COLUMN "semi;colon"')
        with pytest.raises(SchemaNotReady) as raised:
            SchemaGuard({ODD: ["Üser Id", "semi;colon"]}).require(connection)
        assert raised.value.missing == [f"{QualifiedName.parse(ODD)}.semi;colon"]
        assert connection.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'Odd Schema'").fetchone() == (1,)


def test_guard_inside_the_callers_transaction_changes_nothing_of_it(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    with psycopg.connect(chat_db.dsn) as connection:
        connection.execute("SET statement_timeout = '42s'")
        connection.execute("INSERT INTO auth.users (id) VALUES (gen_random_uuid())")
        SchemaGuard([THREADS]).require(connection)
        with pytest.raises(SchemaNotReady):
            SchemaGuard(["public.nope"]).require(connection)
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        row = connection.execute(
            "SELECT current_setting('statement_timeout'), current_setting('transaction_read_only'),"
            " current_setting('application_name') <> 'pgcontract-guard', (SELECT count(*) FROM auth.users)"
        ).fetchone()
        assert row == ("42s", "off", True, 1)
        connection.rollback()


def test_async_guard(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    async def scenario() -> None:
        async with await psycopg.AsyncConnection.connect(chat_db.dsn, autocommit=True) as aconn:
            await require_schema_async(aconn, tables=[THREADS, MESSAGES])
            run_sql(f"DROP TABLE {MESSAGES}")
            with pytest.raises(SchemaNotReady) as raised:
                await SchemaGuard([THREADS, MESSAGES]).require_async(aconn)
            assert raised.value.missing == [MESSAGES]

    asyncio.run(scenario())


def test_decorator_turns_undefined_table_and_column_into_schema_not_ready(
    conn: psycopg.Connection[tuple[object, ...]], run_sql: Callable[[str], None]
) -> None:
    @schema_guard()
    def titles(connection: psycopg.Connection[tuple[object, ...]]) -> list[tuple[object, ...]]:
        return connection.execute(f"SELECT title FROM {THREADS}").fetchall()

    @schema_guard()
    def divide(connection: psycopg.Connection[tuple[object, ...]]) -> object:
        return connection.execute("SELECT 1 / 0").fetchone()

    assert titles(conn) == []
    run_sql(f"ALTER TABLE {THREADS} DROP COLUMN title")
    with pytest.raises(SchemaNotReady) as raised:
        titles(conn)
    assert raised.value.missing == ["title"]
    assert isinstance(raised.value.__cause__, psycopg.errors.UndefinedColumn)
    run_sql(f"DROP TABLE {THREADS} CASCADE")
    with pytest.raises(SchemaNotReady) as raised:
        titles(conn)
    assert raised.value.missing == [THREADS]
    with pytest.raises(psycopg.errors.DivisionByZero):
        divide(conn)


def test_decorator_with_tables_checks_first_and_relearns_after_an_undefined_table(
    conn: psycopg.Connection[tuple[object, ...]], run_sql: Callable[[str], None]
) -> None:
    calls: list[int] = []

    @schema_guard(tables=[THREADS, MESSAGES])
    def count(connection: psycopg.Connection[tuple[object, ...]]) -> object:
        calls.append(1)
        return connection.execute(f"SELECT count(*) FROM {MESSAGES}").fetchone()

    assert count(conn) == (0,)
    run_sql(f"DROP TABLE {MESSAGES}")
    with pytest.raises(SchemaNotReady):  # the warm cache lets it through; the handler's 42P01 is caught
        count(conn)
    with pytest.raises(SchemaNotReady) as raised:  # and the cache is dropped: checked before the handler
        count(conn)
    assert raised.value.missing == [MESSAGES]
    assert len(calls) == 2


def _app(dsn: str, *, precheck: bool) -> Starlette:
    def query(sql_text: str) -> list[tuple[object, ...]]:
        with psycopg.connect(dsn) as connection:
            return connection.execute(sql_text.encode()).fetchall()

    async def threads(request: Request) -> Response:
        return JSONResponse({"threads": len(query(f"SELECT id, title FROM {THREADS}"))})

    async def boom(request: Request) -> Response:
        query("SELECT 1 / 0")
        return JSONResponse({})

    async def late(request: Request) -> Response:
        def body() -> Iterator[bytes]:
            yield b"["
            query("SELECT * FROM public.nope")

        return StreamingResponse(body())

    guard = (
        Middleware(SchemaGuardMiddleware, paths=["/api/"], contract=load_contract(CHAT_CONTRACT), connection=dsn)
        if precheck
        else Middleware(SchemaGuardMiddleware, paths=["/api/"])
    )
    routes = [Route("/api/threads", threads), Route("/api/boom", boom), Route("/api/late", late)]
    return Starlette(routes=routes, middleware=[guard])


def test_middleware_turns_undefined_objects_in_handlers_into_503(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    with running(_app(chat_db.dsn, precheck=False)) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/threads").json() == {"threads": 0}
        run_sql(f"ALTER TABLE {THREADS} DROP COLUMN title")
        response = client.get("/api/threads")
        assert response.status_code == 503
        assert response.json() == {
            "success": False,
            "error": "Database schema error: required columns missing: title",
            "missing": ["title"],
            "fix_instructions": FIX_INSTRUCTIONS,
        }
        run_sql(f"DROP TABLE {THREADS} CASCADE")
        response = client.get("/api/threads")
        assert response.status_code == 503
        assert response.json()["missing"] == [THREADS]
        boom = client.get("/api/boom")
        assert boom.status_code == 500  # any other error passes through untouched
        assert "division" not in boom.text


def test_middleware_does_not_rewrite_a_response_already_started(chat_db: Target) -> None:
    with (
        running(_app(chat_db.dsn, precheck=False)) as url,
        httpx.Client(base_url=url) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.get("/api/late")


def test_middleware_precheck_answers_503_before_the_handler_runs(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    app = _app(chat_db.dsn, precheck=True)
    with running(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/api/threads").status_code == 200
        run_sql(f"ALTER TABLE {MESSAGES} DROP COLUMN content")
        # Warm: the handler (which does not read messages) still runs; no database check per request.
        assert client.get("/api/threads").status_code == 200
        run_sql(f"DROP TABLE {THREADS} CASCADE")
        first = client.get("/api/threads")  # the handler's 42P01 drops the cache ...
        second = client.get("/api/threads")  # ... and the check names everything the contract needs
        assert first.status_code == second.status_code == 503
        assert second.json()["missing"] == [THREADS, f"{MESSAGES}.content"]
        assert second.json()["fix_instructions"] == FIX_INSTRUCTIONS


def test_requirements_given_as_an_iterator_are_read_once(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with pytest.raises(SchemaNotReady) as raised:
        require_schema(conn, tables=iter([THREADS, "public.nope"]))
    assert raised.value.missing == ["public.nope"]
