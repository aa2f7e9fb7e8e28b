"""Fixtures for the project's own tests: a real throwaway PostgreSQL (pytest-postgresql through the
root-safe pg_ctl wrapper), a fresh database per test cloned from a template that holds the Supabase auth
shim, and helpers to load SQL and run the checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor, PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from pgcontract.connect import Target
from pgcontract.embedded import pg_ctl_wrapper, supabase_shim
from project_tests.helpers import CHAT_SQL, SCHEMAS
from project_tests.ops_support import SQL, Conn, target_of

# Opt-in: the libpq conninfo of an already running throwaway server (its superuser) to use instead of
# starting one per run; bench/mutate.py keeps one per worker (a server start is most of a short run's time).
# Still real PostgreSQL, still a fresh database per test; the tests create and drop databases and roles
# there, so: a throwaway server only, and one test run at a time on it.
RUNNING_SERVER = "PGCONTRACT_TEST_SERVER"

pg_own_server = factories.postgresql_proc(
    executable=pg_ctl_wrapper(),
    port=None,
    load=[supabase_shim()],
    postgres_options="-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
)
pg = factories.postgresql("pg_server")


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[PostgreSQLExecutor | NoopExecutor]:
    """The run's server: its own throwaway one, or the running one named by ``$PGCONTRACT_TEST_SERVER``
    (read when the session starts, not at import: mutmut forks one process per mutant after importing)."""
    running = os.environ.get(RUNNING_SERVER)
    if not running:
        yield request.getfixturevalue("pg_own_server")
        return
    params = psycopg.conninfo.conninfo_to_dict(running)
    executor = NoopExecutor(
        host=str(params.get("host", "127.0.0.1")),
        port=str(params.get("port", "5432")),
        user=str(params.get("user", "postgres")),
        password=None if params.get("password") is None else str(params["password"]),
        options="",
        dbname="tests",
    )
    # The template every test database is cloned from, as pytest-postgresql builds it for its own server.
    template = DatabaseJanitor(
        user=executor.user,
        host=executor.host,
        port=executor.port,
        dbname=executor.template_dbname,
        password=executor.password,
        as_template=True,
    )
    template.drop()
    with template:
        template.load(supabase_shim())
        yield executor


@pytest.fixture
def target(pg: psycopg.Connection[tuple[object, ...]]) -> Target:
    """The test's own fresh database, as a target (superuser DSN)."""
    info = pg.info
    dsn = psycopg.conninfo.make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname)
    return Target(name="test", dsn=dsn, throwaway=True)


@pytest.fixture
def run_sql(pg: psycopg.Connection[tuple[object, ...]]) -> Callable[[str], None]:
    """Execute SQL text (several statements allowed) and commit."""

    def run(text: str) -> None:
        pg.execute(text.encode())
        pg.commit()

    return run


@pytest.fixture
def chat_db(run_sql: Callable[[str], None], target: Target) -> Target:
    """A fresh database holding the seed's chat schema (sql/ of this repository)."""
    run_sql(CHAT_SQL.read_text(encoding="utf-8"))
    return target


@pytest.fixture(scope="session")
def server(pg_server: PostgreSQLExecutor | NoopExecutor) -> PostgreSQLExecutor | NoopExecutor:
    return pg_server


@pytest.fixture
def make_db(run_sql: Callable[[str], None], target: Target) -> Callable[[str], Target]:
    """Load one of the fixture schemas ("chat" or "kitchen") into the test's fresh database."""

    def make(schema: str) -> Target:
        run_sql(SCHEMAS[schema][0].read_text(encoding="utf-8"))
        return target

    return make


@pytest.fixture
def ops(ops_conn: Conn) -> Target:
    """The operations tests' target: their module's server (its ``ops_conn``), pg_stat_statements created."""
    ops_conn.autocommit = True
    ops_conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return target_of(ops_conn)


@pytest.fixture
def ops_sql(ops_conn: Conn) -> SQL:
    """Run SQL text on the operations tests' server (autocommit)."""

    def run(text: str) -> None:
        ops_conn.autocommit = True
        ops_conn.execute(text.encode())

    return run


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rule(*ids): the test builds exactly the defect of these rules and asserts each alone fires"
    )
