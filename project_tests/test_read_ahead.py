"""`pgcontract check` of one target reads its catalog ahead, on the connection it opens to say early that
the target is reachable, while pytest starts and collects (issue 13): one session on the target per run,
and what the suite gets is the catalog as the suite would read it itself. Busy and unreachable targets
keep their one line and exit codes (test_locks.py, test_cli.py run through the same path)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from pytest_postgresql.executors import NoopExecutor, PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from pgcontract.busy import read_catalog
from pgcontract.connect import SessionLimits, Target, connect
from pgcontract.contract import load_contract
from pgcontract.embedded import supabase_shim
from pgcontract.readahead import ReadAhead
from project_tests.helpers import CHAT_CONTRACT, CHAT_SQL, run_cli

Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def alone(server: PostgreSQLExecutor | NoopExecutor) -> Iterator[Target]:
    """A database of its own holding the chat schema, which no other session (not even the test's
    fixtures) connects to: its session count is pgcontract's alone."""
    name = f"read_ahead_{uuid.uuid4().hex[:12]}"
    password = None if server.password is None else str(server.password)
    janitor = DatabaseJanitor(user=server.user, host=server.host, port=server.port, dbname=name, password=password)
    with janitor:
        janitor.load(supabase_shim())
        janitor.load(CHAT_SQL)
        conninfo = make_conninfo(host=server.host, port=server.port, user=server.user, dbname=name, password=password)
        yield Target(name, conninfo)


def sessions_so_far(watcher: Conn, dbname: str) -> int:
    """Sessions ever opened on ``dbname``, once every session on it has ended (a backend's counts reach
    the statistics when it exits, before it leaves pg_stat_activity)."""
    deadline = time.monotonic() + 30
    while watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)).fetchone() != (0,):
        assert time.monotonic() < deadline, f"sessions on {dbname} did not end"
        time.sleep(0.05)
    watcher.execute("SELECT pg_stat_clear_snapshot()")
    row = watcher.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (dbname,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def test_check_reads_the_catalog_on_the_connection_it_opened_first(pg: Conn, alone: Target) -> None:
    """Before: one connection to say the target is reachable, closed, then another for the read."""
    dbname = psycopg.conninfo.conninfo_to_dict(alone.dsn)["dbname"]
    with psycopg.connect(pg.info.dsn, autocommit=True) as watcher:
        before = sessions_so_far(watcher, str(dbname))
        result = run_cli("check", "--dsn", alone.dsn, "--contract", str(CHAT_CONTRACT), "--", "-q")
        assert result.returncode == 0, result.stdout + result.stderr
        assert sessions_so_far(watcher, str(dbname)) - before == 1


def test_the_read_ahead_gives_the_catalog_the_suite_would_read(chat_db: Target) -> None:
    contract = load_contract(CHAT_CONTRACT)
    limits = SessionLimits(statement_timeout="20s", lock_timeout="1s")
    ahead = ReadAhead(connect(chat_db, limits), chat_db, limits, contract)
    with connect(chat_db, limits) as conn:
        own = read_catalog(conn, contract.schemas, limits, contract.operations)
    got = ahead.result()
    assert got.tables == own.tables
    assert got.functions == own.functions
    assert got.views == own.views
    assert got.query_count == own.query_count
    assert ahead.serves(Target("named by the suite", chat_db.dsn), limits, contract)
    assert not ahead.serves(chat_db, SessionLimits(statement_timeout="20s", lock_timeout="2s"), contract)
    assert not ahead.serves(chat_db, limits, load_contract(CHAT_CONTRACT))
