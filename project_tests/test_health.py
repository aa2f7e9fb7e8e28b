"""The health report (layer 1's library): built from the findings, unhealthy exactly when a critical table
fails, and safe to call against a database that is down."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from pgcontract.connect import SessionLimits, Target, connect, read_only
from pgcontract.contract import Contract, load_contract
from pgcontract.health import BUSY, CHECK_FAILED, UNREACHABLE, Status, check_health, failed_report
from project_tests.helpers import CHAT_CONTRACT, KITCHEN_CONTRACT, check

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"


def test_healthy_database_report_has_the_documented_form(chat_db: Target) -> None:
    report = check_health(chat_db.dsn, load_contract(CHAT_CONTRACT))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["healthy"] is True
    assert data["critical_issues"] == []
    assert [t["table"] for t in data["tables"]["critical"]] == [THREADS, MESSAGES]
    assert {t["status"] for t in data["tables"]["critical"]} == {"OK"}
    assert all(t["issues"] == [] for t in data["tables"]["critical"])
    assert data["tables"]["other"] == []
    assert data["checked_at"].endswith("Z")
    assert data["duration_ms"] == round(report.duration_ms, 1) > 0
    assert "operations" not in data  # the contract has no operations section


def test_dropped_critical_table_is_missing_and_unhealthy(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(f"DROP TABLE {MESSAGES}")
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    assert not report.healthy
    status = {t.table: t.status for t in report.tables}
    assert status == {THREADS: Status.OK, MESSAGES: Status.MISSING}
    assert report.critical_issues == (f"{MESSAGES}: table is missing (table.missing)",)
    missing = next(t for t in report.to_dict()["tables"]["critical"] if t["table"] == MESSAGES)
    assert missing["issues"][0]["rule"] == "table.missing"
    assert "CREATE TABLE" in missing["issues"][0]["fix"]


def test_drifted_critical_column_is_drift(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(f"ALTER TABLE {THREADS} DROP COLUMN title")
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    assert not report.healthy
    assert {t.table: t.status for t in report.tables}[THREADS] is Status.DRIFT
    assert report.critical_issues == (f"{THREADS}.title: column is missing (column.missing)",)
    # The issue in the JSON form carries the finding whole: what was expected, what was found, the fix.
    (finding,) = [f for f in check(chat_db, CHAT_CONTRACT).findings if f.rule == "column.missing"]
    assert finding.fix is not None
    (threads,) = [t for t in report.to_dict()["tables"]["critical"] if t["table"] == THREADS]
    assert threads["issues"] == [
        {
            "rule": "column.missing",
            "object": f"{THREADS}.title",
            "message": "column is missing",
            "expected": finding.expected,
            "actual": finding.actual,
            "level": "error",
            "fix": finding.fix.sql,
        }
    ]


def test_failing_non_critical_table_leaves_the_report_healthy(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("kitchen")
    run_sql("DROP INDEX public.memberships_user_idx")
    report = check_health(target, load_contract(KITCHEN_CONTRACT))
    data = report.to_dict()
    assert report.healthy, report.critical_issues
    assert {t["table"]: t["status"] for t in data["tables"]["other"]}["public.memberships"] == "DRIFT"
    assert [t["table"] for t in data["tables"]["critical"]] == ["public.organizations"]
    assert data["enums"] == [{"enum": "public.member_role", "status": "OK", "issues": []}]


def test_unreachable_database_is_unhealthy_without_secrets(chat_db: Target) -> None:
    params = psycopg.conninfo.conninfo_to_dict(chat_db.dsn)
    dead = psycopg.conninfo.make_conninfo(
        host="127.0.0.1", port="1", user=str(params["user"]), dbname="x", password="hunter2-secret"
    )
    report = check_health(dead, load_contract(CHAT_CONTRACT))
    text = json.dumps(report.to_dict())
    assert not report.healthy
    assert report.error == UNREACHABLE
    assert report.critical_issues == (UNREACHABLE,)
    assert {t.status for t in report.tables} == {Status.UNKNOWN}
    assert "hunter2" not in text
    assert "hunter2" not in report.detail
    assert "127.0.0.1" not in text  # the driver's text stays in the log, out of the report


def test_unreachable_database_reports_every_table_and_enum_unknown_in_the_documented_form(
    caplog: pytest.LogCaptureFixture,
) -> None:
    contract = load_contract(KITCHEN_CONTRACT)
    with caplog.at_level(logging.WARNING, logger="pgcontract"):
        report = check_health("host=127.0.0.1 port=1 user=u dbname=x password=hunter2-secret", contract)
    data = report.to_dict()
    del data["checked_at"], data["duration_ms"]

    def unknown(critical: bool) -> list[dict[str, object]]:
        return [
            {"table": str(name), "status": "UNKNOWN", "critical": critical, "issues": []}
            for name, table in contract.table_map.items()
            if table.critical is critical
        ]

    assert data == {
        "healthy": False,
        "status": "unreachable",
        "error": UNREACHABLE,
        "critical_issues": [UNREACHABLE],
        "tables": {"critical": unknown(True), "other": unknown(False)},
        "enums": [{"enum": "public.member_role", "status": "UNKNOWN", "issues": []}],
    }
    assert unknown(True)
    assert unknown(False)
    # The redacted reason: in report.detail and the operator's log, never in the JSON form.
    assert report.detail.startswith("cannot connect to u@127.0.0.1:1/x: ")
    assert f"health check: {UNREACHABLE}: {report.detail}" in caplog.messages
    assert "hunter2" not in report.detail


def test_a_drifted_enum_is_drift_with_its_error_and_leaves_the_report_healthy(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("kitchen")
    run_sql("ALTER TYPE public.member_role ADD VALUE 'guest'")
    report = check_health(target, load_contract(KITCHEN_CONTRACT))
    (enum,) = report.to_dict()["enums"]
    assert (enum["enum"], enum["status"]) == ("public.member_role", "DRIFT")
    assert [(i["rule"], i["object"], i["level"]) for i in enum["issues"]] == [
        ("enum.values", "public.member_role", "error")
    ]
    assert report.healthy  # enums are not critical tables


def test_an_operations_budget_past_its_error_is_a_critical_issue_in_the_json_form(chat_db: Target) -> None:
    contract = Contract.model_validate({"operations": {"database_size": {"warning": "1kB", "error": "2kB"}}})
    report = check_health(chat_db, contract)
    assert not report.healthy
    data = report.to_dict()["operations"]
    (issue,) = [i for i in data["issues"] if i["level"] == "error"]
    assert (issue["budget"], issue["rule"]) == ("ops.database_size", "ops.database_size")
    assert data["budgets"] == [b.to_dict() for b in report.budgets]
    assert [b["rule"] for b in data["budgets"]] == ["ops.database_size"]


def test_check_on_an_application_connection_leaves_it_as_given(chat_db: Target) -> None:
    with connect(chat_db) as conn:
        conn.autocommit = True
        report = check_health(conn, load_contract(CHAT_CONTRACT))
        assert report.healthy
        assert conn.autocommit is True
        assert not conn.read_only
        assert conn.isolation_level is None
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_catalog_read_sees_one_snapshot_even_while_a_migration_commits(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """A check racing a migration must see the schema before or after it, never half of it."""
    with connect(chat_db) as conn, read_only(conn):
        query = "SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'sam_conversation_messages'"
        assert conn.execute(query).fetchone() == (1,)
        run_sql(f"DROP TABLE {MESSAGES}")  # committed by another session between two queries
        assert conn.execute(query).fetchone() == (1,)


def test_a_warning_on_a_critical_table_leaves_it_ok_and_the_report_healthy(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """An extra RESTRICTIVE policy only narrows access: policy.extra at warning level, shown, not unhealthy."""
    run_sql(
        f"CREATE POLICY not_archived ON {THREADS} AS RESTRICTIVE FOR SELECT TO authenticated"
        " USING (status IS DISTINCT FROM 'archived')"
    )
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    threads = next(t for t in report.tables if t.table == THREADS)
    assert [(i.rule, i.level) for i in threads.issues] == [("policy.extra", "warning")]
    assert threads.status is Status.OK
    assert report.healthy
    assert report.critical_issues == ()


# -- a check that fails after connecting ------------------------------------------------------------


def test_a_server_side_error_after_connecting_is_check_failed_with_the_redacted_reason(
    chat_db: Target, run_sql: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    """The catalog read refused (a SQLSTATE): CHECK_FAILED, every table UNKNOWN, the driver's text only in
    ``detail`` and the log, redacted: the role's password is the name in the error (``pg_class``)."""
    run_sql("CREATE ROLE pgc_health_reader LOGIN PASSWORD 'pg_class'; REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC")
    dsn = psycopg.conninfo.make_conninfo(chat_db.dsn, user="pgc_health_reader", password="pg_class")
    contract = load_contract(CHAT_CONTRACT)
    for source in (dsn, Target("reader", dsn)):
        caplog.clear()
        started = time.perf_counter()
        with caplog.at_level(logging.WARNING, logger="pgcontract"):
            report = check_health(source, contract)
        elapsed_ms = (time.perf_counter() - started) * 1000
        assert (report.error, report.status, report.healthy) == (CHECK_FAILED, "unhealthy", False)
        assert report.critical_issues == (CHECK_FAILED,)
        assert [(t.table, t.status, t.issues) for t in report.tables] == [
            (THREADS, Status.UNKNOWN, ()),
            (MESSAGES, Status.UNKNOWN, ()),
        ]
        assert report.detail == "InsufficientPrivilege: permission denied for table ********"
        assert caplog.messages == [f"health check: {CHECK_FAILED}: {report.detail}"]
        assert 0 < report.duration_ms <= elapsed_ms
        assert "pg_class" not in json.dumps(report.to_dict())


def test_a_connection_lost_during_the_check_is_unreachable(
    chat_db: Target, run_sql: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    """The backend terminated (no SQLSTATE reaches the client): UNREACHABLE, not a failed check."""
    with connect(chat_db) as conn:
        run_sql(f"SELECT pg_terminate_backend({conn.info.backend_pid})")
        with caplog.at_level(logging.WARNING, logger="pgcontract"):
            report = check_health(conn, load_contract(CHAT_CONTRACT))
    assert (report.error, report.status) == (UNREACHABLE, "unreachable")
    assert report.critical_issues == (UNREACHABLE,)
    assert {t.status for t in report.tables} == {Status.UNKNOWN}
    assert report.detail == "OperationalError: the connection is lost"
    assert caplog.messages == [f"health check: {UNREACHABLE}: {report.detail}"]
    assert report.duration_ms > 0


def test_a_dsn_string_is_read_with_the_given_session_limits(chat_db: Target) -> None:
    """A DSN string gets a connection of its own, with the caller's limits: a 200 ms lock timeout answers
    busy well before the default 2 s."""
    holder = psycopg.connect(chat_db.dsn)
    try:
        holder.execute(f"LOCK TABLE {MESSAGES} IN ACCESS EXCLUSIVE MODE")
        report = check_health(chat_db.dsn, load_contract(CHAT_CONTRACT), SessionLimits(lock_timeout="200ms"))
    finally:
        holder.close()
    assert (report.error, report.status) == (BUSY, "busy")
    assert report.duration_ms < 1500
    assert MESSAGES.split(".")[1] in report.critical_issues[0]


def test_a_dsn_string_connects_with_the_callers_connect_timeout() -> None:
    """A server that accepts the connection and never answers: the caller's 2 s connect timeout ends the
    wait, not the default 10 s."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        started = time.monotonic()
        report = check_health(
            f"postgresql://nobody@127.0.0.1:{port}/app", load_contract(CHAT_CONTRACT), SessionLimits(connect_timeout=2)
        )
        took = time.monotonic() - started
    assert (report.error, report.status) == (UNREACHABLE, "unreachable")
    assert report.detail.startswith(f"cannot connect to nobody@127.0.0.1:{port}/app: "), report.detail
    assert 1.5 < took < 6


def test_an_operational_error_with_a_sqlstate_is_check_failed_not_unreachable(
    chat_db: Target, run_sql: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    """A server-side error of the driver's OperationalError class, the connection still up: deparsing a
    deeply nested CHECK passes a small ``max_stack_depth`` (SQLSTATE 54001). CHECK_FAILED, not UNREACHABLE
    (decisions.md: unreachable is a connection failure or a lost connection, with no SQLSTATE)."""
    nested = "x"
    for _ in range(1000):  # deparsing this needs more stack than max_stack_depth=100kB
        nested = f"({nested} + 1)"
    run_sql(f"CREATE TABLE public.deep (x int CHECK ({nested} > 0))")
    dsn = psycopg.conninfo.make_conninfo(chat_db.dsn, options="-c max_stack_depth=100kB")
    with caplog.at_level(logging.WARNING, logger="pgcontract"):
        report = check_health(dsn, load_contract(CHAT_CONTRACT))
    assert (report.error, report.status, report.critical_issues) == (CHECK_FAILED, "unhealthy", (CHECK_FAILED,))
    assert {t.status for t in report.tables} == {Status.UNKNOWN}
    assert report.detail.startswith("StatementTooComplex: stack depth limit exceeded"), report.detail
    assert caplog.messages == [f"health check: {CHECK_FAILED}: {report.detail}"]


def test_the_json_form_shows_the_duration_to_a_tenth_of_a_millisecond() -> None:
    report = failed_report(load_contract(CHAT_CONTRACT), UNREACHABLE, "", datetime.now(UTC), 12.34)
    assert report.to_dict()["duration_ms"] == 12.3


def test_a_dsn_string_reads_the_operations_budgets(chat_db: Target) -> None:
    contract = Contract.model_validate({"operations": {"database_size": {"warning": "100GB", "error": "200GB"}}})
    report = check_health(chat_db.dsn, contract)
    assert report.healthy, report.critical_issues
    data = report.to_dict()
    # A budget within its limits: no issue, but its value is shown.
    assert data["operations"]["issues"] == []
    assert [b["rule"] for b in data["operations"]["budgets"]] == ["ops.database_size"]


# -- a read racing a migration: confirmed by reading again ------------------------------------------

RENAME = "ALTER TABLE {} RENAME TO {}"


def pauses(monkeypatch: pytest.MonkeyPatch, *migrations: str, run_sql: Callable[[str], None]) -> list[float]:
    """The pause between two reads, with a migration committing in it (one per pause, in order)."""
    paused: list[float] = []

    def pause(seconds: float) -> None:
        if len(paused) < len(migrations):
            run_sql(migrations[len(paused)])
        paused.append(seconds)

    # health.py pauses with time.sleep; nothing else in a check sleeps.
    monkeypatch.setattr(time, "sleep", pause)
    return paused


def test_a_healthy_read_is_not_read_again(
    chat_db: Target, run_sql: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    paused = pauses(monkeypatch, run_sql=run_sql)
    assert check_health(chat_db, load_contract(CHAT_CONTRACT)).healthy
    assert paused == []


def test_an_error_found_again_by_the_second_read_is_reported(
    chat_db: Target, run_sql: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sql(RENAME.format(MESSAGES, "old_messages"))
    paused = pauses(monkeypatch, run_sql=run_sql)
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    assert report.critical_issues == (f"{MESSAGES}: table is missing (table.missing)",)
    assert paused == [0.05]


def test_an_error_a_migration_undid_before_the_second_read_is_not_reported(
    chat_db: Target, run_sql: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sql(RENAME.format(MESSAGES, "old_messages"))
    paused = pauses(monkeypatch, RENAME.format("public.old_messages", "sam_conversation_messages"), run_sql=run_sql)
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    assert report.healthy, report.critical_issues
    assert paused == [0.05]


def test_errors_changing_on_every_read_are_read_three_times_and_the_last_reported(
    chat_db: Target, run_sql: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_sql(RENAME.format(MESSAGES, "old_messages"))
    paused = pauses(
        monkeypatch,
        f"{RENAME.format('public.old_messages', 'sam_conversation_messages')}; {RENAME.format(THREADS, 'old_threads')}",
        f"{RENAME.format('public.old_threads', 'sam_conversation_threads')}; {RENAME.format(MESSAGES, 'old_messages')}",
        run_sql=run_sql,
    )
    report = check_health(chat_db, load_contract(CHAT_CONTRACT))
    assert report.critical_issues == (f"{MESSAGES}: table is missing (table.missing)",)
    assert paused == [0.05, 0.05]
