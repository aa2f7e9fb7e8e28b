"""The health report (layer 1's library): built from the findings, unhealthy exactly when a critical table
fails, and safe to call against a database that is down."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import psycopg
import pytest

from pgcontract.connect import Target, connect, read_only
from pgcontract.contract import Contract, load_contract
from pgcontract.health import UNREACHABLE, Status, check_health
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
