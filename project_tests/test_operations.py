"""Operations budgets (contract section ``operations:``): each budget broken for real on a throwaway server
(sessions held open, idle in a transaction, a long query, a lock wait, a grown table, a failing archiver, an
inactive slot holding WAL, a slow statement, an invalid index), reported with its rule id at its level and
nothing else; a healthy server passes; the reading is a fixed handful of queries; a role without
pg_monitor gets notes, never errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from pytest_postgresql import factories

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.embedded import pg_ctl_wrapper
from pgcontract.findings import Finding, Kind, Level
from pgcontract.health import check_health
from project_tests.helpers import run_cli
from project_tests.ops_support import (
    HEALTHY,
    SQL,
    Conn,
    contract_with,
    findings_of,
    in_thread,
    judged,
    only_error,
    target_of,
    wait_for,
)
from project_tests.rule_check import assert_only_rule

# One server with pg_stat_statements loaded, WAL archiving on (to nowhere, successfully) and few connections.
ops_server = factories.postgresql_proc(
    executable=pg_ctl_wrapper(),
    port=None,
    postgres_options=(
        "-c fsync=off -c synchronous_commit=off -c max_connections=30 -c shared_preload_libraries=pg_stat_statements"
        " -c archive_mode=on -c archive_command=true"
    ),
)
ops_pg = factories.postgresql("ops_server")
# One whose archive_command always fails.
failing_archive_server = factories.postgresql_proc(
    executable=pg_ctl_wrapper(),
    port=None,
    postgres_options="-c fsync=off -c archive_mode=on -c archive_command=false",
)
failing_archive_pg = factories.postgresql("failing_archive_server")


@pytest.fixture
def ops_conn(ops_pg: Conn) -> Conn:
    """The server of the shared ``ops`` and ``ops_sql`` fixtures (project_tests/conftest.py)."""
    return ops_pg


def findings_in(summary_findings: list[dict[str, Any]]) -> list[Finding]:
    """The findings of a ``pgcontract check --json`` summary, as the checks made them."""
    return [
        Finding(f["rule"], Kind(f["kind"]), f["table"], f["object"], f["message"], f["expected"], f["actual"],
                level=Level(f["level"]))
        for f in summary_findings
    ]  # fmt: skip


def test_healthy_server_passes_every_budget(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'x' FROM generate_series(1, 100) g")
    report = check_health(ops, contract_with())
    assert judged(report) == {}
    assert report.healthy, report.critical_issues
    notes = {issue.rule for _, issue in report.operations}
    assert notes <= {"ops.statements.no_baseline"}, notes  # a superuser on this machine sees everything
    values = {b.rule: b for b in report.budgets}
    assert set(values) == {f"ops.{key}" for key in HEALTHY}
    assert 0 < (values["ops.connections.share"].value or 0) < 0.5
    assert (values["ops.database_size"].value or 0) > 1_000_000
    assert 0 < (values["ops.disk.free"].value or 0) <= 1


@pytest.mark.rule("ops.connections.share")
def test_connections_held_open_past_the_budget(ops: Target, ops_pg: Conn) -> None:
    held = [psycopg.connect(ops.dsn) for _ in range(16)]
    try:
        report = check_health(ops, contract_with(connections__share={"warning": 0.3, "error": 0.5}))
    finally:
        for conn in held:
            conn.close()
    assert_only_rule(findings_of(report), "ops.connections.share")
    objects = only_error(report, "ops.connections.share")
    assert "server" in objects
    assert f"database {ops_pg.info.dbname}" in objects
    values = {b.rule: b.value for b in report.budgets}
    assert (values["ops.connections.share"] or 0) > 0.5
    # The JSON form (API, webhook): each issue under its budget's rule, and every budget's value.
    data = report.to_dict()["operations"]
    assert ("ops.connections.share", "ops.connections.share", "error") in [
        (i["budget"], i["rule"], i["level"]) for i in data["issues"]
    ]
    assert data["budgets"] == [b.to_dict() for b in report.budgets]


@pytest.mark.rule("ops.idle_in_transaction")
def test_idle_in_transaction_session(ops: Target) -> None:
    with psycopg.connect(ops.dsn) as idle:
        idle.execute("SELECT 1")  # opens a transaction and leaves it open
        pid = idle.info.backend_pid
        wait_for(ops.dsn, f"SELECT now() - state_change > interval '1 s' FROM pg_stat_activity WHERE pid = {pid}")
        report = check_health(ops, contract_with(idle_in_transaction={"warning": "200ms", "error": "500ms"}))
        idle.rollback()
    assert_only_rule(findings_of(report), "ops.idle_in_transaction")
    assert only_error(report, "ops.idle_in_transaction") == [f"pid {pid}"]
    issue = next(i for _, i in report.operations if i.rule == "ops.idle_in_transaction")
    assert "pg_terminate_backend" in issue.message
    assert issue.expected.startswith("at most 500ms")


@pytest.mark.rule("ops.long_query")
def test_long_query(ops: Target) -> None:
    with in_thread(ops.dsn, "SELECT pg_sleep(60)") as sleeper:
        pid = sleeper.info.backend_pid
        wait_for(ops.dsn, f"SELECT now() - query_start > interval '1 s' FROM pg_stat_activity WHERE pid = {pid}")
        report = check_health(ops, contract_with(long_query={"warning": "200ms", "error": "500ms"}))
    assert_only_rule(findings_of(report), "ops.long_query")
    assert only_error(report, "ops.long_query") == [f"pid {pid}"]


@pytest.mark.rule("ops.lock_wait")
def test_lock_wait(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)")
    with psycopg.connect(ops.dsn) as holder:
        holder.execute("UPDATE t SET v = 1 WHERE id = 1")  # holds the row lock, transaction open
        holder_pid = holder.info.backend_pid
        with in_thread(ops.dsn, "UPDATE t SET v = 2 WHERE id = 1") as waiter:
            pid = waiter.info.backend_pid
            wait_for(
                ops.dsn,
                f"SELECT now() - min(waitstart) > interval '1 s' FROM pg_locks WHERE pid = {pid} AND NOT granted",
            )
            report = check_health(ops, contract_with(lock_wait={"warning": "200ms", "error": "500ms"}))
            holder.rollback()
    assert_only_rule(findings_of(report), "ops.lock_wait")
    assert only_error(report, "ops.lock_wait") == [f"pid {pid}"]
    issue = next(i for _, i in report.operations if i.rule == "ops.lock_wait")
    assert f"blocked by pid {holder_pid}" in issue.message


@pytest.mark.rule("ops.table_size")
def test_table_grown_past_its_size(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g")
    ops_sql("CREATE TABLE small (id int)")
    budget = {**HEALTHY["table_size"], "tables": {"public.big": {"warning": "100kB", "error": "200kB"}}}
    report = check_health(ops, contract_with(table_size=budget))
    assert_only_rule(findings_of(report), "ops.table_size")
    assert only_error(report, "ops.table_size") == ["public.big"]
    # The same size within every other table's budget: nothing.
    assert judged(check_health(ops, contract_with())) == {}


@pytest.mark.rule("ops.archiver.failing")
@pytest.mark.rule("ops.table_size.unknown")
def test_a_table_budget_for_a_table_that_does_not_exist_is_a_note(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE small (id int)")
    budget = {**HEALTHY["table_size"], "tables": {"public.small": {"error": "1GB"}, "public.gone": {"error": "1GB"}}}
    report = check_health(ops, contract_with(table_size=budget))
    assert_only_rule(findings_of(report), "ops.table_size.unknown", obj="public.gone", level=Level.INFO)
    assert report.healthy, report.critical_issues
    assert [i.object for _, i in report.operations if i.rule == "ops.table_size.unknown"] == ["public.gone"]


def test_failing_archiver(failing_archive_pg: Conn, tmp_path: Path) -> None:
    failing_archive_pg.autocommit = True
    failing_archive_pg.execute("CREATE TABLE w AS SELECT generate_series(1, 1000) AS id")
    failing_archive_pg.execute("SELECT pg_switch_wal()")
    target = target_of(failing_archive_pg)
    wait_for(target.dsn, "SELECT failed_count > 0 FROM pg_stat_archiver")
    report = check_health(target, contract_with())
    assert_only_rule(findings_of(report), "ops.archiver.failing")
    assert only_error(report, "ops.archiver.failing") == ["archiver"]
    # The same through `pgcontract check`: exit 1, the failure named by its rule.
    contract = tmp_path / "ops.yaml"
    contract.write_text(yaml.safe_dump({"operations": HEALTHY}), encoding="utf-8")
    done = run_cli("check", "--dsn", target.dsn, "--contract", str(contract), "--json", str(tmp_path / "s.json"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "test_operations[ops.archiver.failing] FAILED" in done.stdout or "ops.archiver.failing" in done.stdout
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    failed = summary["targets"][0]["failed_tests"]
    assert failed == ["test_schema.py::test_operations[ops.archiver.failing]"], failed
    errors = [f for f in summary["targets"][0]["findings"] if f["level"] == "error"]
    assert [f["rule"] for f in errors] == ["ops.archiver.failing"]


@pytest.mark.rule("ops.slot.inactive", "ops.slot.retained_wal")
def test_inactive_slot_holding_wal(ops: Target, ops_sql: SQL) -> None:
    retained = {"warning": "256kB", "error": "512kB"}
    ops_sql("SELECT pg_create_physical_replication_slot('ops_test_slot', true)")
    try:
        ops_sql("CREATE TABLE w AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g")
        report = check_health(ops, contract_with(slot__retained_wal=retained))
        # Each of the two alone: the other budget left out of the contract.
        inactive = check_health(ops, contract_with(slot__retained_wal=None))
        holding = check_health(ops, contract_with(slot__inactive=None, slot__retained_wal=retained))
    finally:
        ops_sql("SELECT pg_drop_replication_slot('ops_test_slot')")
    found = judged(report)
    assert found == {
        "ops.slot.inactive": [("slot ops_test_slot", "error")],
        "ops.slot.retained_wal": [("slot ops_test_slot", "error")],
    }
    assert_only_rule(findings_of(inactive), "ops.slot.inactive", obj="slot ops_test_slot")
    assert_only_rule(findings_of(holding), "ops.slot.retained_wal", obj="slot ops_test_slot")


@pytest.mark.rule("ops.statements.mean")
def test_slow_statement(ops: Target) -> None:
    with psycopg.connect(ops.dsn, autocommit=True) as app:
        for _ in range(2):
            app.execute("SELECT pg_sleep(0.3)")
    report = check_health(ops, contract_with(statements__mean={"warning": "100ms", "error": "200ms"}))
    assert_only_rule(findings_of(report), "ops.statements.mean")
    objects = only_error(report, "ops.statements.mean")
    assert len(objects) == 1
    assert objects[0].startswith("queryid ")
    issue = next(i for _, i in report.operations if i.rule == "ops.statements.mean")
    assert "pg_sleep" in issue.message


@pytest.mark.rule("ops.statements.regression", "ops.statements.no_baseline")
def test_statement_regression_against_the_previous_recorded_run(ops: Target, tmp_path: Path) -> None:
    contract = tmp_path / "ops.yaml"
    contract.write_text(yaml.safe_dump({"operations": HEALTHY}), encoding="utf-8")
    history, summary = tmp_path / "history.jsonl", tmp_path / "summary.json"

    def check() -> tuple[int, dict[str, Any]]:
        args = ("check", "--dsn", ops.dsn, "--contract", str(contract), "--history", str(history))
        done = run_cli(*args, "--json", str(summary))
        return done.returncode, json.loads(summary.read_text(encoding="utf-8"))["targets"][0]

    with psycopg.connect(ops.dsn, autocommit=True) as app:
        for _ in range(3):
            app.execute("SELECT pg_sleep(%s)", (0.06,))
        code, first = check()
        assert code == 0, first
        assert "ops.statements.no_baseline" in {f["rule"] for f in first["findings"]}
        assert_only_rule(findings_in(first["findings"]), "ops.statements.no_baseline", level=Level.INFO)
        for _ in range(2):
            app.execute("SELECT pg_sleep(%s)", (0.5,))
    code, second = check()
    assert code == 1
    errors = [f for f in second["findings"] if f["level"] != "info"]
    assert [(f["rule"], f["level"]) for f in errors] == [("ops.statements.regression", "error")], errors
    assert_only_rule(findings_in(second["findings"]), "ops.statements.regression")
    assert "pg_sleep" in errors[0]["message"]
    recorded = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    assert len(recorded) == 2
    assert all(entry["statements"] for entry in recorded)
    assert set(recorded[-1]["ops"]) == set(HEALTHY)  # each budget's worst value, by its rule's name


@pytest.mark.rule("ops.index.invalid")
def test_invalid_index(ops: Target, ops_sql: SQL) -> None:
    ops_sql("CREATE TABLE d (x int); INSERT INTO d VALUES (1), (1)")
    with pytest.raises(psycopg.errors.UniqueViolation):
        ops_sql("CREATE UNIQUE INDEX CONCURRENTLY d_x ON d (x)")
    report = check_health(ops, contract_with())
    assert_only_rule(findings_of(report), "ops.index.invalid")
    assert only_error(report, "ops.index.invalid") == ["public.d_x"]


def test_reading_is_a_fixed_handful_of_queries_whatever_the_tables(ops: Target, ops_sql: SQL, ops_pg: Conn) -> None:
    """Counted by the server (pg_stat_statements calls of the checking role), not taken from the code."""
    ops_sql("DROP ROLE IF EXISTS ops_counter; CREATE ROLE ops_counter LOGIN IN ROLE pg_monitor")
    ops_sql("GRANT ALL ON SCHEMA public TO ops_counter")
    counter = target_of(ops_pg, user="ops_counter")

    def calls() -> int:
        row = ops_pg.execute(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid"
            " WHERE r.rolname = 'ops_counter'"
            " AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        assert row is not None
        return int(row[0])

    def statements_of(contract: Contract) -> int:
        before = calls()
        report = check_health(counter, contract)
        assert report.error is None, report.detail
        assert not judged(report), judged(report)
        return calls() - before

    def operations_queries(tables: int) -> int:
        names = [f"public.t{i}" for i in range(tables)]
        budget = {**HEALTHY["table_size"], "tables": {name: {"error": "1GB"} for name in names}}
        with_budgets = statements_of(contract_with(table_size=budget))
        without = statements_of(Contract.model_validate({}))
        return with_budgets - without

    try:
        ops_sql("".join(f"CREATE TABLE t{i} (id int PRIMARY KEY, v text);" for i in range(2)))
        few = operations_queries(2)
        ops_sql("".join(f"CREATE TABLE t{i} (id int PRIMARY KEY, v text);" for i in range(2, 60)))
        many = operations_queries(60)
    finally:
        ops_sql("DROP OWNED BY ops_counter; DROP ROLE ops_counter")
    assert few == many
    assert 0 < few <= 10, few


@pytest.mark.rule("ops.visibility")
def test_role_without_pg_monitor_gets_notes_not_errors(ops: Target, ops_sql: SQL, ops_pg: Conn) -> None:
    ops_sql("DROP ROLE IF EXISTS ops_plain; CREATE ROLE ops_plain LOGIN")
    ops_sql("DROP ROLE IF EXISTS ops_monitor; CREATE ROLE ops_monitor LOGIN IN ROLE pg_monitor")
    contract = contract_with(idle_in_transaction={"warning": "200ms", "error": "500ms"})
    try:
        with psycopg.connect(ops.dsn) as idle:  # a superuser's session, idle in a transaction
            idle.execute("SELECT 1")
            pid = idle.info.backend_pid
            wait_for(ops.dsn, f"SELECT now() - state_change > interval '1 s' FROM pg_stat_activity WHERE pid = {pid}")
            plain = check_health(target_of(ops_pg, user="ops_plain"), contract)
            monitor = check_health(target_of(ops_pg, user="ops_monitor"), contract)
            idle.rollback()
    finally:
        ops_sql("DROP ROLE ops_plain; DROP ROLE ops_monitor")
    # Without pg_monitor: the session is hidden, said in notes; nothing fails for what could not be seen.
    assert judged(plain) == {}
    assert plain.healthy, plain.critical_issues
    notes = {(owner, issue.rule) for owner, issue in plain.operations}
    assert ("ops.idle_in_transaction", "ops.visibility") in notes
    assert ("ops.disk.free", "ops.visibility") in notes
    assert all(issue.level == "info" for _, issue in plain.operations)
    assert_only_rule(findings_of(plain), "ops.visibility", level=Level.INFO)
    # With pg_monitor, the same session is seen and judged; no note says anything was hidden.
    assert only_error(monitor, "ops.idle_in_transaction") == [f"pid {pid}"]
    assert not [i for _, i in monitor.operations if i.rule == "ops.visibility"]


@pytest.mark.rule("ops.statements.unavailable")
def test_statements_budget_without_pg_stat_statements_is_a_note(pg: Conn) -> None:
    """The project's default test server has no pg_stat_statements: a note, never an error."""
    report = check_health(target_of(pg), contract_with(archiver__failing="error"))
    notes = [(owner, i) for owner, i in report.operations if i.rule == "ops.statements.unavailable"]
    assert {owner for owner, _ in notes} == {"ops.statements.mean", "ops.statements.total", "ops.statements.regression"}
    assert all(i.level == "info" and "never installs" in i.message for _, i in notes)
    assert_only_rule(findings_of(report), "ops.statements.unavailable", level=Level.INFO)
    assert judged(report) == {}
    assert report.healthy


@pytest.mark.rule("ops.database_size")
def test_findings_are_of_the_operations_kind(ops: Target) -> None:
    from pgcontract.catalog import read_snapshot
    from pgcontract.checks import run_checks
    from pgcontract.connect import connect

    contract = contract_with(database_size={"warning": "1kB"})
    with connect(ops) as conn:
        snapshot = read_snapshot(conn, contract.schemas, operations=contract.operations)
    index = run_checks(contract, snapshot)
    assert_only_rule(index, "ops.database_size", level=Level.WARNING)
    found: list[Finding] = [f for f in index.findings if f.level is not Level.INFO]
    assert [(f.rule, f.kind, f.owner, f.level) for f in found] == [
        ("ops.database_size", Kind.OPERATIONS, "ops.database_size", Level.WARNING)
    ]


def test_snapshot_proposes_budgets_the_database_passes(ops: Target, ops_sql: SQL, tmp_path: Path) -> None:
    ops_sql("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g")
    done = run_cli("snapshot", "--dsn", ops.dsn, "--operations")
    assert done.returncode == 0, done.stderr
    contract = tmp_path / "contract.yaml"
    contract.write_text(done.stdout, encoding="utf-8")
    proposed = yaml.safe_load(done.stdout)["operations"]
    # pg_stat_statements is there, archiving is on, the data directory is on this machine: all proposed.
    assert set(proposed) == set(HEALTHY) - {"statements.total"}
    # The usual defaults where today's values are far from them (the rules in the README).
    assert proposed["idle_in_transaction"] == {"warning": "1min", "error": "10min"}
    assert proposed["connections.share"] == {"warning": "80%", "error": "90%"}
    assert proposed["index.invalid"] == "error"
    loaded = Contract.model_validate({"operations": proposed})
    assert loaded.operations is not None
    report = check_health(ops, loaded)
    size = next(b for b in report.budgets if b.rule == "ops.database_size")
    assert size.value is not None
    assert size.value < 512 * 1024**2
    assert size.error == 1024**3  # twice today's size, with a floor of twice 512MB
    # Adopted in one step: the whole contract (schema and budgets) passes `pgcontract check`.
    summary = tmp_path / "summary.json"
    checked = run_cli("check", "--dsn", ops.dsn, "--contract", str(contract), "--json", str(summary))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    counts = json.loads(summary.read_text(encoding="utf-8"))["targets"][0]["counts"]["operations"]
    assert counts == {"passed": len(proposed), "failed": 0, "skipped": 0}
    # Without --operations, no section.
    plain = run_cli("snapshot", "--dsn", ops.dsn)
    assert "operations" not in yaml.safe_load(plain.stdout)


def test_serve_reports_budgets_in_api_dashboard_metrics_and_webhook(ops: Target) -> None:
    import httpx

    from pgcontract.server import ServeSettings, create_app
    from project_tests.serving import TOKEN, WebhookReceiver, running, wait_until

    contract = contract_with(idle_in_transaction={"warning": "300ms", "error": "600ms"})
    receiver = WebhookReceiver()
    with running(receiver.app) as hook_url:
        settings = ServeSettings(
            target=ops, contract=contract, ttl=0.3, admin_token=TOKEN, webhook_url=f"{hook_url}/hook"
        )
        app = create_app(settings)
        with running(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            assert client.get("/api/admin/check-db").status_code == 200
            with psycopg.connect(ops.dsn) as idle:
                idle.execute("SELECT 1")
                pid = idle.info.backend_pid
                assert wait_until(lambda: len(receiver.received) == 1, timeout=20)
                api = client.get("/api/admin/check-db")
                page = client.get("/").text
                metrics = client.get("/metrics").text
                idle.rollback()
            assert wait_until(lambda: len(receiver.received) == 2, timeout=20)
    down, up = receiver.received
    assert len(down["critical_issues"]) == 1
    assert down["critical_issues"][0].startswith(f"pid {pid}: ")
    assert down["critical_issues"][0].endswith("(ops.idle_in_transaction)")
    assert up["healthy"] is True
    assert api.status_code == 503
    issues = api.json()["operations"]["issues"]
    assert [(i["budget"], i["rule"], i["object"], i["level"]) for i in issues if i["level"] != "info"] == [
        ("ops.idle_in_transaction", "ops.idle_in_transaction", f"pid {pid}", "error")
    ]
    assert 'data-rule="ops.idle_in_transaction" data-level="error"' in page
    assert 'data-rule="ops.database_size" data-level="ok"' in page
    assert 'pgcontract_operations_level{rule="ops.idle_in_transaction"} 2.0' in metrics
    assert 'pgcontract_operations_threshold{level="error",rule="ops.idle_in_transaction"} 0.6' in metrics
    value = next(
        line
        for line in metrics.splitlines()
        if line.startswith('pgcontract_operations_value{rule="ops.idle_in_transaction"')
    )
    assert float(value.rsplit(" ", 1)[1]) > 0.6
    assert 'pgcontract_operations_level{rule="ops.database_size"} 0.0' in metrics
