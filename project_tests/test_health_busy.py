"""A lock wait in the health check (``check_health``, ``serve``): not a verdict on the contract and not a
crash. The report says ``busy`` (HTTP 503, ``Retry-After``), names the locked table and who holds it, and
the next check after the lock is gone is healthy again. One try per check: a probe must answer within
its caller's timeout, and the next check is the retry."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from psycopg import sql

from pgcontract.connect import SessionLimits, Target
from pgcontract.contract import load_contract
from pgcontract.health import BUSY, Status, check_health
from pgcontract.names import QualifiedName
from pgcontract.server import ServeSettings, create_app
from pgcontract.server.dashboard import CHECK_DB_PATH
from project_tests.helpers import CHAT_CONTRACT
from project_tests.serving import running

MESSAGES = "public.sam_conversation_messages"
APPLICATION = "migrate_0042"
LIMITS = SessionLimits(lock_timeout="200ms")


ELSEWHERE = "elsewhere.audit_log"  # a table in a schema the contract does not name


@contextmanager
def locked(target: Target, table: str = MESSAGES) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """Another session, as a migration would: ACCESS EXCLUSIVE on ``table`` until closed."""
    holder = psycopg.connect(target.dsn, application_name=APPLICATION)
    try:
        name = QualifiedName.parse(table)
        holder.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(*name)))
        yield holder
    finally:
        holder.close()


def assert_names_the_lock(line: str, pid: int) -> None:
    assert line.startswith("database busy while reading the catalog: "), line
    assert f"{MESSAGES} is locked (ACCESS EXCLUSIVE) by pid {pid} (application '{APPLICATION}'" in line
    assert "; gave up after 1 try in " in line
    assert line.endswith(" s (lock_timeout 200ms)")


def test_check_health_on_a_locked_table_reports_busy_naming_the_lock(chat_db: Target) -> None:
    contract = load_contract(CHAT_CONTRACT)
    with locked(chat_db) as holder:
        pid = holder.info.backend_pid
        started = time.monotonic()
        report = check_health(chat_db, contract, LIMITS)
        took = time.monotonic() - started
    assert took < 1.5  # one try of a 200 ms lock wait, no pauses
    assert (report.status, report.error, report.healthy) == ("busy", BUSY, False)
    assert len(report.critical_issues) == 1
    assert_names_the_lock(report.critical_issues[0], pid)
    assert {t.status for t in report.tables} == {Status.UNKNOWN}
    assert report.to_dict()["status"] == "busy"
    # The lock is gone: the next check is a full, healthy one.
    assert check_health(chat_db, contract, LIMITS).status == "healthy"


def test_check_health_on_an_application_connection_reports_busy_and_leaves_it_usable(chat_db: Target) -> None:
    contract = load_contract(CHAT_CONTRACT)
    with psycopg.connect(chat_db.dsn, autocommit=True) as conn, locked(chat_db) as holder:
        conn.execute("SET lock_timeout = '200ms'")
        report = check_health(conn, contract, LIMITS)
        assert report.status == "busy"
        assert_names_the_lock(report.critical_issues[0], holder.info.backend_pid)
        assert conn.autocommit
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_serve_answers_503_busy_with_retry_after_not_a_500(chat_db: Target) -> None:
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), ttl=1.0, limits=LIMITS)
    with locked(chat_db) as holder, running(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        response = client.get(CHECK_DB_PATH, timeout=30)
        assert response.status_code == 503, response.text
        body = response.json()
        assert (body["status"], body["error"], body["healthy"]) == ("busy", BUSY, False)
        assert_names_the_lock(body["critical_issues"][0], holder.info.backend_pid)
        assert int(response.headers["Retry-After"]) >= 1
        metrics = client.get("/metrics").text
        assert 'pgcontract_checks_total{result="busy"} 1.0' in metrics
        holder.close()  # the migration commits
        time.sleep(1.1)  # past the TTL: the cached busy report is not reused
        again = client.get(CHECK_DB_PATH, timeout=30)
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "healthy"


def test_a_busy_check_logs_its_line_as_the_report_gives_it(chat_db: Target, caplog: pytest.LogCaptureFixture) -> None:
    """The busy line says "database busy" itself: logged once, without the error's name put before it."""
    with locked(chat_db), caplog.at_level(logging.WARNING, logger="pgcontract"):
        report = check_health(chat_db, load_contract(CHAT_CONTRACT), LIMITS)
    assert report.status == "busy"
    assert caplog.messages == [f"health check: {report.detail}"]
    assert report.detail == report.critical_issues[0]
    assert report.detail.startswith("database busy while reading the catalog: ")


def test_a_lock_outside_the_contracts_schemas_leaves_the_check_healthy(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """The read covers the contract's schemas only: a migration locking a table elsewhere does not stop it
    (a read of that table would wait: deparsing its column default takes the table's ACCESS SHARE lock)."""
    run_sql(f"CREATE SCHEMA elsewhere; CREATE TABLE {ELSEWHERE} (id int, at timestamptz NOT NULL DEFAULT now())")
    with locked(chat_db, ELSEWHERE):
        report = check_health(chat_db, load_contract(CHAT_CONTRACT), LIMITS)
    assert (report.status, report.error, report.critical_issues) == ("healthy", None, ())


def test_the_busy_line_names_the_contracts_locked_table_before_a_lock_elsewhere(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """Two migrations hold locks, the one outside the contract's schemas since earlier: the line names the
    lock that stopped the read (on a contract table) first."""
    run_sql(f"CREATE SCHEMA elsewhere; CREATE TABLE {ELSEWHERE} (id int, at timestamptz NOT NULL DEFAULT now())")
    with locked(chat_db, ELSEWHERE) as earlier:
        time.sleep(0.05)  # the other transaction starts visibly later
        with locked(chat_db) as holder:
            pids = earlier.info.backend_pid, holder.info.backend_pid
            report = check_health(chat_db, load_contract(CHAT_CONTRACT), LIMITS)
    assert report.status == "busy"
    line = report.critical_issues[0]
    assert_names_the_lock(line, pids[1])
    first, second = line.removeprefix("database busy while reading the catalog: ").split("; ")[:2]
    assert first.startswith(f"{MESSAGES} is locked (ACCESS EXCLUSIVE) by pid {pids[1]} ")
    assert second.startswith(f"{ELSEWHERE} is locked (ACCESS EXCLUSIVE) by pid {pids[0]} ")
