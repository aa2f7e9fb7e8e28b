"""Operations budgets broken for real, the ones test_operations.py leaves: dead tuples piling up, a large
index never scanned, WAL archived too long ago, a statement's total time, a real streaming replica whose
replay is paused, wraparound and free disk against thresholds set from today's real values; and statement
texts shown without their string constants (a password). Each is reported by ``check_health`` (what
``pgcontract serve`` runs) and by ``pgcontract check``, with its rule id at its level and nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import port_for
import psycopg
import pytest
import yaml
from pytest_postgresql import factories

from pgcontract.connect import Target
from pgcontract.embedded import pg_ctl_wrapper
from pgcontract.findings import Level
from pgcontract.health import HealthReport, check_health
from pgcontract.ops.budgets import WRAPAROUND_LIMIT
from pgcontract.pg_ctl import find_bindir
from pgcontract.pg_stage import SERVICE_USER
from project_tests.helpers import run_cli
from project_tests.ops_support import (
    SQL,
    Conn,
    budgets_with,
    contract_with,
    findings_of,
    in_thread,
    judged,
    only_error,
    wait_for,
)
from project_tests.rule_check import assert_only_rule

# pg_stat_statements loaded, WAL archived (to nowhere, successfully), streaming replication allowed (the
# defaults: wal_level replica, max_wal_senders 10, trust for replication connections from 127.0.0.1).
broken_server = factories.postgresql_proc(
    executable=pg_ctl_wrapper(),
    port=None,
    postgres_options=(
        "-c fsync=off -c synchronous_commit=off -c shared_preload_libraries=pg_stat_statements"
        " -c archive_mode=on -c archive_command=true"
    ),
)
broken_pg = factories.postgresql("broken_server")


@pytest.fixture
def ops_conn(broken_pg: Conn) -> Conn:
    """The server of the shared ``ops`` and ``ops_sql`` fixtures (project_tests/conftest.py)."""
    return broken_pg


def flush_statistics(conn: Conn) -> None:
    """Make this session's table and index counters visible to others now (PostgreSQL 15+ keeps them in
    the session for up to a second; before 15 the statistics collector receives them within ~0.5 s)."""
    if conn.info.server_version >= 150000:
        conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")  # the flush happens when the session goes idle after a statement


def scalar(conn: Conn, query: str) -> Any:
    row = conn.execute(query.encode()).fetchone()
    assert row is not None
    return row[0]


@dataclass(frozen=True)
class Checked:
    code: int
    findings: list[tuple[str, str, str]]  # (rule, object, level), notes left out
    text: str  # everything the run wrote: its output and the JSON summary


def cli_check(target: Target, budgets: dict[str, Any], tmp_path: Path) -> Checked:
    """``pgcontract check`` of a contract holding only these budgets, as a user runs it."""
    contract, summary = tmp_path / "ops.yaml", tmp_path / "summary.json"
    contract.write_text(yaml.safe_dump({"operations": budgets}), encoding="utf-8")
    done = run_cli("check", "--dsn", target.dsn, "--contract", str(contract), "--json", str(summary))
    data = summary.read_text(encoding="utf-8")
    found = json.loads(data)["targets"][0]["findings"]
    judged_ = [(f["rule"], f["object"], f["level"]) for f in found if f["level"] != "info"]
    return Checked(done.returncode, judged_, done.stdout + done.stderr + data)


def assert_cli_error(checked: Checked, rule: str) -> list[str]:
    """Exit 1, every finding an error of ``rule``; their objects."""
    assert checked.code == 1, checked.text
    assert checked.findings, checked.text
    assert {(r, level) for r, _, level in checked.findings} == {(rule, "error")}, checked.findings
    return [obj for _, obj, _ in checked.findings]


def only_warning(report: HealthReport, rule: str) -> list[str]:
    found = judged(report)
    assert set(found) == {rule}, found
    assert {level for _, level in found[rule]} == {"warning"}, found
    assert report.healthy, report.critical_issues  # a warning never makes the database unhealthy
    return [obj for obj, _ in found[rule]]


def issue_of(report: HealthReport, rule: str, obj: str) -> Any:
    return next(i for _, i in report.operations if i.rule == rule and i.object == obj)


@pytest.mark.rule("ops.dead_tuples")
def test_dead_tuples_pile_up_where_autovacuum_is_off(ops: Target, broken_pg: Conn, tmp_path: Path) -> None:
    broken_pg.autocommit = True
    broken_pg.execute(
        "CREATE TABLE churn (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);"
        " INSERT INTO churn SELECT g, 0 FROM generate_series(1, 4000) g"
    )
    broken_pg.execute("UPDATE churn SET v = v + 1")  # each row once: a dead version beside each live one
    flush_statistics(broken_pg)
    wait_for(
        ops.dsn, "SELECT n_dead_tup >= 2000 AND n_live_tup >= 4000 FROM pg_stat_user_tables WHERE relname = 'churn'"
    )
    budget = {"warning": "10%", "error": "30%", "min_rows": 1000}
    report = check_health(ops, contract_with(dead_tuples=budget))
    assert_only_rule(findings_of(report), "ops.dead_tuples")
    assert only_error(report, "ops.dead_tuples") == ["public.churn"]
    value = next(b.value for b in report.budgets if b.rule == "ops.dead_tuples")
    assert value is not None
    assert 0.3 < value <= 0.5
    issue = issue_of(report, "ops.dead_tuples", "public.churn")
    assert "never vacuumed" in issue.message
    assert "VACUUM" in issue.message
    assert assert_cli_error(cli_check(ops, budgets_with(dead_tuples=budget), tmp_path), "ops.dead_tuples") == [
        "public.churn"
    ]
    # Vacuumed, the same budget passes.
    broken_pg.execute("VACUUM churn")
    flush_statistics(broken_pg)
    wait_for(ops.dsn, "SELECT n_dead_tup = 0 FROM pg_stat_user_tables WHERE relname = 'churn'")
    after = check_health(ops, contract_with(dead_tuples=budget))
    assert judged(after) == {}
    assert after.healthy


@pytest.mark.rule("ops.index.unused")
def test_large_index_never_scanned(ops: Target, broken_pg: Conn, tmp_path: Path) -> None:
    broken_pg.autocommit = True
    broken_pg.execute(
        "CREATE TABLE events (id int PRIMARY KEY, kind text, at int);"
        " INSERT INTO events SELECT g, md5(g::text), g FROM generate_series(1, 20000) g;"
        " CREATE INDEX events_kind ON events (kind); CREATE INDEX events_at ON events (at); ANALYZE events"
    )
    # events_at is used by a query; events_kind (as large) never is.
    broken_pg.execute("SET enable_seqscan = off")
    assert scalar(broken_pg, "SELECT count(*) FROM events WHERE at BETWEEN 10 AND 20") == 11
    flush_statistics(broken_pg)
    wait_for(ops.dsn, "SELECT idx_scan > 0 FROM pg_stat_user_indexes WHERE indexrelname = 'events_at'")
    size = scalar(broken_pg, "SELECT pg_relation_size('events_kind')")
    assert size > 256 * 1024
    budget = {"warning": "256kB"}
    report = check_health(ops, contract_with(index__unused=budget))
    assert_only_rule(findings_of(report), "ops.index.unused", level=Level.WARNING)
    assert only_warning(report, "ops.index.unused") == ["public.events_kind"]
    issue = issue_of(report, "ops.index.unused", "public.events_kind")
    assert "never scanned" in issue.message
    assert "DROP INDEX CONCURRENTLY" in issue.message
    checked = cli_check(ops, budgets_with(index__unused=budget), tmp_path)
    assert checked.code == 0, checked.text  # a warning fails nothing
    assert checked.findings == [("ops.index.unused", "public.events_kind", "warning")]
    # Larger than the index: nothing.
    assert judged(check_health(ops, contract_with(index__unused={"warning": size + 1}))) == {}


@pytest.mark.rule("ops.archiver.age")
def test_wal_archived_too_long_ago(ops: Target, broken_pg: Conn, tmp_path: Path) -> None:
    broken_pg.autocommit = True
    before = scalar(broken_pg, "SELECT archived_count FROM pg_stat_archiver")
    broken_pg.execute("CREATE TABLE w AS SELECT generate_series(1, 1000) AS id")
    broken_pg.execute("SELECT pg_switch_wal()")
    wait_for(ops.dsn, f"SELECT archived_count > {before} FROM pg_stat_archiver")  # archiving works...
    # ...and then nothing is archived for longer than the budget.
    wait_for(ops.dsn, "SELECT clock_timestamp() - last_archived_time > interval '1.5 s' FROM pg_stat_archiver")
    budget = {"warning": "300ms", "error": "1s"}
    report = check_health(ops, contract_with(archiver__age=budget))
    assert_only_rule(findings_of(report), "ops.archiver.age")
    assert only_error(report, "ops.archiver.age") == ["archiver"]
    assert "archive_timeout" in issue_of(report, "ops.archiver.age", "archiver").message
    assert assert_cli_error(cli_check(ops, budgets_with(archiver__age=budget), tmp_path), "ops.archiver.age") == [
        "archiver"
    ]
    assert judged(check_health(ops, contract_with())) == {}  # within a day: nothing


@pytest.mark.rule("ops.statements.total")
def test_statement_total_time(ops: Target, tmp_path: Path) -> None:
    with psycopg.connect(ops.dsn, autocommit=True) as app:
        for _ in range(4):
            app.execute("SELECT pg_sleep(0.3)")
    # 1.2 s in all, 0.3 s each: past the total's budget, well within the mean's (2 s).
    budget = {"warning": "500ms", "error": "1s"}
    report = check_health(ops, contract_with(statements__total=budget))
    assert_only_rule(findings_of(report), "ops.statements.total")
    objects = only_error(report, "ops.statements.total")
    assert len(objects) == 1
    assert objects[0].startswith("queryid ")
    issue = issue_of(report, "ops.statements.total", objects[0])
    assert "pg_sleep" in issue.message
    assert "over 4 calls" in issue.message
    assert assert_cli_error(
        cli_check(ops, budgets_with(statements__total=budget), tmp_path), "ops.statements.total"
    ) == (objects)


def test_statement_texts_never_show_string_constants(ops: Target, ops_sql: SQL, tmp_path: Path) -> None:
    """A password set while pg_stat_statements records utility statements: ALTER ROLE waits (another
    transaction holds the role's row), so it is the slowest statement, and its text is in every finding."""
    secret = "Sekr1t-pa55-4711"
    ops_sql("DROP ROLE IF EXISTS leaky; CREATE ROLE leaky LOGIN")
    try:
        with psycopg.connect(ops.dsn) as holder:
            holder.execute("ALTER ROLE leaky CONNECTION LIMIT 5")  # the row stays locked until rollback
            with in_thread(ops.dsn, f"ALTER ROLE leaky PASSWORD '{secret}'") as setter:
                pid = setter.info.backend_pid
                wait_for(
                    ops.dsn,
                    f"SELECT wait_event_type = 'Lock' AND clock_timestamp() - query_start > interval '0.8 s'"
                    f" FROM pg_stat_activity WHERE pid = {pid}",
                )
                running = check_health(ops, contract_with(long_query={"warning": "200ms", "error": "500ms"}))
                holder.rollback()
                wait_for(ops.dsn, f"SELECT state = 'idle' FROM pg_stat_activity WHERE pid = {pid}")
        budget = {"warning": "300ms", "error": "600ms"}
        report = check_health(ops, contract_with(statements__mean=budget))
        checked = cli_check(ops, budgets_with(statements__mean=budget), tmp_path)
    finally:
        ops_sql("DROP ROLE leaky")
    # While it runs: the long query, its text without the password.
    assert only_error(running, "ops.long_query") == [f"pid {pid}"]
    assert "ALTER ROLE leaky PASSWORD" in issue_of(running, "ops.long_query", f"pid {pid}").message
    # Recorded by pg_stat_statements: the slowest statement, its text without the password.
    objects = only_error(report, "ops.statements.mean")
    assert len(objects) == 1
    assert "ALTER ROLE leaky PASSWORD" in issue_of(report, "ops.statements.mean", objects[0]).message
    assert assert_cli_error(checked, "ops.statements.mean") == objects
    shown = {
        "long query (health report)": json.dumps(running.to_dict()),
        "slowest statement (health report)": json.dumps(report.to_dict()),
        "pgcontract check (output and JSON)": checked.text,
    }
    assert [where for where, text in shown.items() if secret in text] == []
    assert all("ALTER ROLE leaky PASSWORD" in text for text in shown.values())


@pytest.mark.rule("ops.wraparound.xid", "ops.wraparound.multixact")
def test_wraparound_against_todays_age(ops: Target, broken_pg: Conn, tmp_path: Path) -> None:
    """Real ages of a young server (hundreds of transactions, a multixact or two) against thresholds set
    from them: past half of today's transaction-id age, and past today's multixact age once one more is
    made (two sessions sharing a row lock make one)."""
    broken_pg.autocommit = True
    database = broken_pg.info.dbname
    xid_age = scalar(broken_pg, "SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()")
    oldest = scalar(broken_pg, "SELECT max(age(datfrozenxid)) FROM pg_database")
    assert xid_age > 10
    half = {"error": xid_age / 2 / WRAPAROUND_LIMIT}
    report = check_health(ops, contract_with(wraparound__xid=half))
    assert_only_rule(findings_of(report), "ops.wraparound.xid")  # every database past it: one rule
    assert f"database {database}" in only_error(report, "ops.wraparound.xid")
    actual = issue_of(report, "ops.wraparound.xid", f"database {database}").message
    assert f"is {xid_age} old" in actual or f"is {xid_age + 1} old" in actual
    assert f"database {database}" in assert_cli_error(
        cli_check(ops, budgets_with(wraparound__xid=half), tmp_path), "ops.wraparound.xid"
    )
    twice = {"error": 2 * oldest / WRAPAROUND_LIMIT}
    assert judged(check_health(ops, contract_with(wraparound__xid=twice))) == {}

    multixact_age = scalar(broken_pg, "SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = current_database()")
    today = {"error": multixact_age / WRAPAROUND_LIMIT}
    assert judged(check_health(ops, contract_with(wraparound__multixact=today))) == {}
    broken_pg.execute("CREATE TABLE shared_row (id int PRIMARY KEY); INSERT INTO shared_row VALUES (1)")
    with psycopg.connect(ops.dsn) as first, psycopg.connect(ops.dsn) as second:
        first.execute("SELECT * FROM shared_row FOR SHARE")
        second.execute("SELECT * FROM shared_row FOR SHARE")  # two lockers of one row: a multixact
        first.rollback()
        second.rollback()
    assert scalar(broken_pg, "SELECT mxid_age(datminmxid) FROM pg_database WHERE datname = current_database()") > (
        multixact_age
    )
    report = check_health(ops, contract_with(wraparound__multixact=today))
    assert_only_rule(findings_of(report), "ops.wraparound.multixact")
    assert f"database {database}" in only_error(report, "ops.wraparound.multixact")
    assert f"database {database}" in assert_cli_error(
        cli_check(ops, budgets_with(wraparound__multixact=today), tmp_path), "ops.wraparound.multixact"
    )


@pytest.mark.rule("ops.disk.free")
def test_free_disk_below_a_threshold_above_todays(ops: Target, broken_pg: Conn, tmp_path: Path) -> None:
    """Less free is worse: a threshold above today's free share of the data directory's file system."""
    stat = os.statvfs(scalar(broken_pg, "SHOW data_directory"))
    free = stat.f_bavail / stat.f_blocks
    assert 0 < free < 0.98
    above = {"error": round((1 + free) / 2, 4)}
    report = check_health(ops, contract_with(disk__free=above))
    assert_only_rule(findings_of(report), "ops.disk.free")
    assert only_error(report, "ops.disk.free") == ["data directory"]
    issue = issue_of(report, "ops.disk.free", "data directory")
    assert issue.expected.startswith("at least ")
    assert assert_cli_error(cli_check(ops, budgets_with(disk__free=above), tmp_path), "ops.disk.free") == [
        "data directory"
    ]
    below = {"warning": round(free / 2, 4), "error": round(free / 4, 4)}
    assert judged(check_health(ops, contract_with(disk__free=below))) == {}


@dataclass(frozen=True)
class Replica:
    port: int
    name: str
    datadir: Path

    def target(self, dbname: str) -> Target:
        dsn = psycopg.conninfo.make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)
        return Target("replica", dsn, throwaway=True)


def _hand_to_service_user(path: Path) -> None:
    """As root the server runs as the service user (pg_ctl.py): it must own the copied data directory."""
    if os.geteuid() != 0:
        return
    import pwd

    account = pwd.getpwnam(SERVICE_USER)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, account.pw_uid, account.pw_gid)


@pytest.fixture
def replica(ops: Target, broken_pg: Conn) -> Iterator[Replica]:
    """A real streaming replica of the test server: pg_basebackup -R, started on its own port through the
    same pg_ctl wrapper as every test server."""
    base = Path(tempfile.mkdtemp(prefix="pgc-replica-"))
    datadir, log = base / "data", base / "replica.log"
    port, name = port_for.select_random(), "ops_replica"
    info = broken_pg.info
    subprocess.run(
        [str(find_bindir() / "pg_basebackup"), "-h", str(info.host), "-p", str(info.port), "-U", str(info.user),
         "-D", str(datadir), "-R", "-X", "stream", "-c", "fast"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    _hand_to_service_user(base)
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={tempfile.gettempdir()}"
        f" -c cluster_name={name} -c fsync=off -c hot_standby=on -c wal_receiver_status_interval=1s"
    )
    wrapper = pg_ctl_wrapper()
    subprocess.run(
        [wrapper, "start", "-D", str(datadir), "-l", str(log), "-w", "-t", "60", "-o", options],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    try:
        wait_for(ops.dsn, f"SELECT count(*) = 1 FROM pg_stat_replication WHERE application_name = '{name}'"
                 " AND state = 'streaming'")  # fmt: skip
        yield Replica(port, name, datadir)
    finally:
        subprocess.run([wrapper, "stop", "-D", str(datadir), "-m", "immediate", "-w"], capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.rule("ops.replica_lag")
def test_replica_lag_of_a_paused_streaming_replica(
    ops: Target, broken_pg: Conn, replica: Replica, tmp_path: Path
) -> None:
    broken_pg.autocommit = True
    database = broken_pg.info.dbname
    standby = replica.target(database)
    budget = {"warning": "300ms", "error": "1s"}
    broken_pg.execute("CREATE TABLE replicated (id int)")
    wait_for(standby.dsn, "SELECT to_regclass('public.replicated') IS NOT NULL")
    # Streaming and caught up: the budget holds, on the primary and on the standby.
    assert judged(check_health(ops, contract_with(replica_lag=budget))) == {}
    with psycopg.connect(standby.dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            time.sleep(1.2)
            # The primary goes on writing; the standby receives it and does not apply it.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                broken_pg.execute("INSERT INTO replicated SELECT generate_series(1, 100)")
                if scalar(broken_pg, "SELECT max(replay_lag) > interval '1.5 s' FROM pg_stat_replication"):
                    break
                time.sleep(0.2)
            primary = check_health(ops, contract_with(replica_lag=budget))
            on_standby = check_health(standby, contract_with(replica_lag=budget))
            checked = cli_check(ops, budgets_with(replica_lag=budget), tmp_path)
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")
    assert_only_rule(findings_of(primary), "ops.replica_lag")
    assert_only_rule(findings_of(on_standby), "ops.replica_lag", obj="this standby")
    assert only_error(primary, "ops.replica_lag") == [f"replica {replica.name}"]
    assert assert_cli_error(checked, "ops.replica_lag") == [f"replica {replica.name}"]
    assert only_error(on_standby, "ops.replica_lag") == ["this standby"]
