"""``run_checks`` judges the contract's operations budgets too: against the snapshot's reading, and a
statement's mean time against the previous run's statements (what ``--history`` hands it). Broken for real
on a server of its own (pg_stat_statements loaded), the findings pinned."""

from __future__ import annotations

import re

import psycopg
import pytest
from pytest_postgresql import factories

from pgcontract.catalog import read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import Target, connect
from pgcontract.contract import Contract
from pgcontract.embedded import pg_ctl_wrapper
from pgcontract.findings import Finding, Kind, Level
from project_tests.ops_support import SQL, Conn

checks_ops_server = factories.postgresql_proc(
    executable=pg_ctl_wrapper(),
    port=None,
    postgres_options="-c fsync=off -c shared_preload_libraries=pg_stat_statements",
)
checks_ops_pg = factories.postgresql("checks_ops_server")

INVALID = Finding(
    "ops.index.invalid",
    Kind.OPERATIONS,
    "ops.index.invalid",
    "public.d_x",
    "index public.d_x on public.d is invalid (a failed CREATE INDEX CONCURRENTLY leaves one): it slows every"
    " write and serves no query; DROP INDEX CONCURRENTLY and create it again",
    "none",
    "present",
    None,
    Level.ERROR,
)


NO_BASELINE = Finding(
    "ops.statements.no_baseline",
    Kind.OPERATIONS,
    "ops.statements.regression",
    "pg_stat_statements",
    "regressions are judged against the previous run recorded in history: run with --history (the first run"
    " records the baseline)",
    "visible",
    "not visible",
    None,
    Level.INFO,
)


@pytest.fixture
def ops_conn(checks_ops_pg: Conn) -> Conn:
    """The server of the shared ``ops`` and ``ops_sql`` fixtures (project_tests/conftest.py)."""
    return checks_ops_pg


def test_run_checks_judges_the_budgets_against_the_previous_runs_statements(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE d (x int); INSERT INTO d VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        ops_sql("CREATE UNIQUE INDEX CONCURRENTLY d_x ON d (x)")
    with psycopg.connect(ops.dsn, autocommit=True) as app:
        for _ in range(2):
            app.execute("SELECT pg_sleep(0.06)")
        row = app.execute(
            "SELECT queryid::text FROM pg_stat_statements WHERE query = 'SELECT pg_sleep($1)' AND dbid ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
    assert row is not None
    queryid = row[0]
    contract = Contract.model_validate(
        {"operations": {"index.invalid": "error", "statements.regression": {"error": 5, "min_mean": "50ms"}}}
    )
    with connect(ops) as conn:
        snapshot = read_snapshot(conn, contract.schemas, operations=contract.operations)
    # The previous run saw one call of 1ms: the one since took ~60ms.
    index = run_checks(contract, snapshot, {queryid: [1.0, 0.001]})
    regression, invalid = index.findings
    assert invalid == INVALID
    # The time since is the server's: the texts holding it are matched, the rest pinned.
    durations = re.fullmatch(
        rf"statement {queryid} \(SELECT pg_sleep\(\$1\)\) now takes (?P<now>\S+) on average \(1 calls since the"
        r" previous run\), (?P<times>[\d.]+) times its 1ms then: look at its plan \(EXPLAIN ANALYZE\), a dropped"
        r" or unused index, or changed data",
        regression.message,
    )
    assert durations is not None, regression.message
    assert float(durations["times"]) > 5
    assert re.fullmatch(r"[\d.e+]+x", regression.actual), regression.actual
    assert regression == Finding(
        "ops.statements.regression",
        Kind.OPERATIONS,
        "ops.statements.regression",
        f"queryid {queryid}",
        regression.message,
        "at most 5x",
        regression.actual,
        None,
        Level.ERROR,
    )
    # Without the previous run's statements no regression is judged: a note says why.
    assert run_checks(contract, snapshot).findings == [NO_BASELINE, INVALID]
