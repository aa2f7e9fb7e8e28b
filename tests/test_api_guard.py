"""Runtime layers against the database under test (``--dsn``, or the throwaway server loaded from sql/):
the health report, the request guard and the health API. Read only: every query is a SELECT in a READ
ONLY transaction, and the "missing" objects are names that do not exist, never something dropped."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pgcontract.connect import Target, connect, read_only
from pgcontract.contract import Contract
from pgcontract.guard import FIX_INSTRUCTIONS, SchemaGuard, SchemaGuardMiddleware, SchemaNotReady
from pgcontract.health import check_health
from pgcontract.names import QualifiedName
from pgcontract.server import ServeSettings, create_app

TOKEN = uuid.uuid4().hex
NO_SUCH_TABLE = f"pgcontract_no_such_table_{uuid.uuid4().hex[:8]}"
NO_SUCH_COLUMN = f"pgcontract_no_such_column_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def conn(pgcontract_target: Target) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with connect(pgcontract_target) as connection:
        yield connection


def _get(app: Starlette, path: str, token: str | None = TOKEN) -> httpx.Response:
    async def request() -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pgcontract.test") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(request())


def test_health_report_is_healthy(pgcontract_target: Target, pgcontract_contract: Contract) -> None:
    """The report the health API serves: every critical table as the contract describes it."""
    report = check_health(pgcontract_target, pgcontract_contract)
    assert report.healthy, "critical issues:\n" + "\n".join(report.critical_issues)


def test_guard_passes_for_the_critical_tables(
    conn: psycopg.Connection[tuple[object, ...]], pgcontract_contract: Contract
) -> None:
    """What a guarded request handler checks: the critical tables with the columns the contract declares."""
    SchemaGuard.from_contract(pgcontract_contract, ttl=0).require(conn)


def test_guard_names_a_missing_table_with_fix_instructions(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    with pytest.raises(SchemaNotReady) as raised:
        SchemaGuard([f"public.{NO_SUCH_TABLE}"], ttl=0).require(conn)
    assert raised.value.status_code == 503
    assert raised.value.to_dict() == {
        "success": False,
        "error": f"Database schema error: required tables missing: public.{NO_SUCH_TABLE}",
        "missing": [f"public.{NO_SUCH_TABLE}"],
        "fix_instructions": FIX_INSTRUCTIONS,
    }


def _first_table(contract: Contract) -> QualifiedName:
    if not contract.table_map:
        pytest.skip("the contract names no table")
    return next(iter(contract.table_map))


def _guarded_app(target: Target, sql_text: str) -> Starlette:
    async def handler(request: Request) -> Response:
        with connect(target) as connection, read_only(connection):
            connection.execute(sql_text.encode())
        return JSONResponse({"success": True})

    return Starlette(routes=[Route("/api/items", handler)], middleware=[Middleware(SchemaGuardMiddleware)])


def test_undefined_table_in_a_guarded_handler_is_503_not_500(pgcontract_target: Target) -> None:
    query = psycopg.sql.SQL("SELECT 1 FROM {}").format(psycopg.sql.Identifier("public", NO_SUCH_TABLE))
    response = _get(_guarded_app(pgcontract_target, query.as_string(None)), "/api/items")
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert response.json()["missing"] == [f"public.{NO_SUCH_TABLE}"]
    assert response.json()["fix_instructions"] == FIX_INSTRUCTIONS


def test_undefined_column_in_a_guarded_handler_is_503_not_500(
    pgcontract_target: Target, pgcontract_contract: Contract
) -> None:
    table = _first_table(pgcontract_contract)
    query = psycopg.sql.SQL("SELECT {} FROM {}").format(
        psycopg.sql.Identifier(NO_SUCH_COLUMN), psycopg.sql.Identifier(table.schema, table.name)
    )
    response = _get(_guarded_app(pgcontract_target, query.as_string(None)), "/api/items")
    assert response.status_code == 503
    assert response.json()["missing"] == [NO_SUCH_COLUMN]
    assert response.json()["error"] == f"Database schema error: required columns missing: {NO_SUCH_COLUMN}"


def test_health_api_answers_200_and_needs_the_token(pgcontract_target: Target, pgcontract_contract: Contract) -> None:
    app = create_app(ServeSettings(target=pgcontract_target, contract=pgcontract_contract, admin_token=TOKEN))
    response = _get(app, "/api/admin/check-db")
    assert response.status_code == 200, response.json()["critical_issues"]
    assert response.json()["healthy"] is True
    assert "age_seconds" in response.json()
    assert "cache-control" in response.headers
    assert _get(app, "/api/admin/check-db", token=None).status_code == 401
    assert _get(app, "/api/admin/check-db", token="wrong").status_code == 401
    setup = _get(app, "/api/admin/setup-sql")
    assert setup.status_code == 200
    assert setup.headers["content-type"].startswith("text/plain")


def test_health_api_answers_503_when_the_database_is_unreachable(pgcontract_contract: Contract) -> None:
    dead = Target("dead", "postgresql://nobody:not-a-secret@127.0.0.1:1/none")
    app = create_app(ServeSettings(target=dead, contract=pgcontract_contract, admin_token=TOKEN))
    response = _get(app, "/api/admin/check-db")
    assert response.status_code == 503
    assert response.json()["error"] == "database unreachable"
    assert "not-a-secret" not in response.text
