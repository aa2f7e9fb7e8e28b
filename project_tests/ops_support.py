"""What the operations-budget tests share (test_operations.py, test_operations_broken.py): budgets a
healthy test server is within, a target of a server's connection, reading a health report's operations
findings, and running a statement in another session. Their ``ops``/``ops_sql`` fixtures are in
conftest.py, over each module's ``ops_conn``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.findings import Finding, Kind, Level
from pgcontract.health import HealthReport

Conn = psycopg.Connection[tuple[Any, ...]]
SQL = Callable[[str], None]

# Budgets a healthy, quiet test server is well within.
HEALTHY: dict[str, Any] = {
    "connections.share": {"warning": 0.8, "error": 0.9},
    "idle_in_transaction": {"warning": "1min", "error": "10min"},
    "long_query": {"warning": "1min", "error": "10min"},
    "lock_wait": {"warning": "30s", "error": "5min"},
    "database_size": {"warning": "1GB", "error": "2GB"},
    "table_size": {"warning": "100MB", "error": "200MB"},
    "dead_tuples": {"warning": 0.8, "error": 0.95},
    "disk.free": {"warning": "2%", "error": "1%"},
    "archiver.failing": "error",
    "archiver.age": {"error": "1d"},
    "slot.inactive": "error",
    "slot.retained_wal": {"error": "1GB"},
    "replica_lag": {"error": "1min"},
    "wraparound.xid": {"warning": 0.5, "error": 0.75},
    "wraparound.multixact": {"warning": 0.5, "error": 0.75},
    "statements.mean": {"warning": "2s", "error": "5s"},
    "statements.total": {"error": "1h"},
    "statements.regression": {"error": 5, "min_mean": "50ms"},
    "index.invalid": "error",
    "index.unused": {"warning": "100MB"},
}


def budgets_with(**changed: Any) -> dict[str, Any]:
    """HEALTHY with these budgets changed (``slot__inactive=None``: that budget left out)."""
    budgets = {**HEALTHY, **{key.replace("__", "."): value for key, value in changed.items()}}
    return {key: value for key, value in budgets.items() if value is not None}


def contract_with(**changed: Any) -> Contract:
    """A contract of HEALTHY with these budgets changed (as ``budgets_with``)."""
    return Contract.model_validate({"operations": budgets_with(**changed)})


def target_of(conn: Conn, **override: Any) -> Target:
    info = conn.info
    params = {"host": info.host, "port": info.port, "user": info.user, "dbname": info.dbname, **override}
    return Target("ops", psycopg.conninfo.make_conninfo(**params), throwaway=True)


def judged(report: HealthReport) -> dict[str, list[tuple[str, str]]]:
    """The report's operations findings past a threshold: rule -> [(object, level)]."""
    out: dict[str, list[tuple[str, str]]] = {}
    for _, issue in report.operations:
        if issue.level != Level.INFO.value:
            out.setdefault(issue.rule, []).append((issue.object, issue.level))
    return out


def findings_of(report: HealthReport) -> list[Finding]:
    """The report's operations findings and notes as the checks made them (these contracts declare nothing
    else, so they are every finding of the run)."""
    assert not report.tables
    assert not report.enums
    return [
        Finding(i.rule, Kind.OPERATIONS, owner, i.object, i.message, i.expected, i.actual, level=Level(i.level))
        for owner, i in report.operations
    ]


def only_error(report: HealthReport, rule: str) -> list[str]:
    """The objects of ``rule``'s findings, asserting they are errors and that nothing else fired."""
    found = judged(report)
    assert set(found) == {rule}, found
    assert {level for _, level in found[rule]} == {"error"}, found
    assert not report.healthy
    assert all(f"({rule})" in issue for issue in report.critical_issues), report.critical_issues
    return [obj for obj, _ in found[rule]]


@contextmanager
def in_thread(dsn: str, statement: str) -> Iterator[Conn]:
    """Run ``statement`` on its own connection in a thread; cancel it on the way out."""
    conn: Conn = psycopg.connect(dsn, autocommit=True)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            conn.execute(statement.encode())
        except psycopg.errors.QueryCanceled:
            pass
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield conn
    finally:
        conn.cancel_safe()
        thread.join(timeout=30)
        conn.close()
    assert not errors, errors


def wait_for(dsn: str, query: str, *, timeout: float = 20.0) -> None:
    """Until ``query`` returns true (a state the test set up in another session has been reached)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(query.encode()).fetchone()
            if row is not None and row[0]:
                return
            time.sleep(0.1)
    raise AssertionError(f"never true: {query}")
