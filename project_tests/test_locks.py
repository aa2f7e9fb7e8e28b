"""Locks and timeouts: a lock wait or statement timeout is no verdict on the contract. The work is tried
again a bounded number of times, then stopped with one line naming the locked table and who holds it
(pid, application, since when), exit 4, no traceback; bad timeout values are usage errors (exit 2)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from subprocess import CompletedProcess

import psycopg
import pytest
from psycopg import sql

from pgcontract.busy import BLOCKS_READ, read_catalog, retry_busy
from pgcontract.connect import DatabaseBusy, SessionLimits, Target, connect, pg_duration, read_only
from pgcontract.embedded import supabase_shim
from pgcontract.names import QualifiedName
from project_tests.helpers import CHAT_CONTRACT, CHAT_SQL, ROOT, check, run_cli

MESSAGES = "public.sam_conversation_messages"
FAST = ("--lock-timeout", "200ms")
APPLICATION = "migrate_0042"
Conn = psycopg.Connection[tuple[object, ...]]


# A process started by a pytest-xdist worker (CI runs this suite with -n) inherits $PYTEST_XDIST_WORKER:
# the command must still stop the run itself.
INHERITED_FROM_A_WORKER = {"PYTEST_XDIST_WORKER": "gw7"}


@contextmanager
def locked(target: Target, table: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[Conn]:
    """Another session, as a migration would: a transaction holding ``mode`` on ``table`` until the end."""
    holder = psycopg.connect(target.dsn, application_name=APPLICATION)
    try:
        lock(holder, table, mode)
        yield holder
    finally:
        holder.close()


def lock(holder: Conn, table: str, mode: str) -> None:
    name = QualifiedName.parse(table)
    holder.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(sql.Identifier(*name), sql.SQL(mode)))


def pid_of(holder: Conn) -> int:
    return holder.info.backend_pid


def assert_one_busy_line(
    result: CompletedProcess[str], pid: int, mode: str = "ACCESS EXCLUSIVE", tries: str = "3 tries"
) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("pgcontract: database busy while "), line
    assert f"{MESSAGES} is locked ({mode}) by pid {pid} (application '{APPLICATION}', in a transaction since " in line
    assert f"gave up after {tries} in " in line
    assert len(output.splitlines()) < 30, output
    return line


def test_check_on_a_locked_table_exits_4_with_one_line_naming_the_lock_and_its_holder(chat_db: Target) -> None:
    with locked(chat_db, MESSAGES) as holder:
        result = run_cli(
            "check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), *FAST, env=INHERITED_FROM_A_WORKER
        )
        line = assert_one_busy_line(result, pid_of(holder))
    assert "reading the catalog" in line
    assert "FAILED" not in result.stdout
    assert "failed" not in result.stdout


def test_check_with_xdist_workers_exits_4_too(chat_db: Target) -> None:
    """A worker cannot stop the run: the target's tests fail once (one line) or skip, and the exit is 4."""
    with locked(chat_db, MESSAGES) as holder:
        result = run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), *FAST, "--", "-n", "2")
        assert_one_busy_line(result, pid_of(holder))
    assert "INTERNALERROR" not in result.stdout
    assert "During handling" not in result.stdout
    assert len([line for line in result.stdout.splitlines() if line.startswith("FAILED")]) == 1


@pytest.mark.parametrize("command", [["snapshot"], ["repair"], ["repair", "--apply"]], ids=" ".join)
def test_snapshot_and_repair_on_a_locked_table_exit_4_with_one_line(chat_db: Target, command: list[str]) -> None:
    with locked(chat_db, MESSAGES) as holder:
        result = run_cli(*command, "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), *FAST)
        assert_one_busy_line(result, pid_of(holder))
    assert result.stdout == ""


def test_a_statement_timeout_is_busy_too(chat_db: Target) -> None:
    """No lock_timeout (0: wait for ever): statement_timeout (57014) ends the wait; the same one line, exit 4,
    after one try: the wait already lasted the whole statement timeout."""
    with locked(chat_db, MESSAGES) as holder:
        result = run_cli("snapshot", "--dsn", chat_db.dsn, "--lock-timeout", "0", "--statement-timeout", "200ms")
        line = assert_one_busy_line(result, pid_of(holder), tries="1 try")
    assert line.endswith("(statement_timeout 200ms, not tried again)")


def test_a_statement_timeout_is_not_tried_again_a_lock_wait_is(chat_db: Target) -> None:
    """A read slower than statement_timeout is no faster a second later: one try, no pause. A lock wait
    (lock_timeout) on the same connection is tried three times, 0.5 s and 1 s apart."""
    limits = SessionLimits(statement_timeout="300ms", lock_timeout="200ms")
    calls: list[float] = []

    def slow() -> object:
        calls.append(time.monotonic())
        with read_only(conn, limits):
            return conn.execute("SELECT pg_sleep(2)").fetchone()

    def waits() -> object:
        calls.append(time.monotonic())
        with read_only(conn, limits):
            return conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*QualifiedName.parse(MESSAGES)))
            ).fetchone()

    with connect(chat_db, limits) as conn:
        started = time.monotonic()
        with pytest.raises(
            DatabaseBusy, match=r"gave up after 1 try in 0\.\d s \(statement_timeout 300ms, not tried again\)$"
        ):
            retry_busy(conn, slow, doing="reading", limits=limits, modes=BLOCKS_READ)
        assert len(calls) == 1
        assert time.monotonic() - started < 1.0
        calls.clear()
        with (
            locked(chat_db, MESSAGES),
            pytest.raises(DatabaseBusy, match=r"gave up after 3 tries .*\(lock_timeout 200ms\)$"),
        ):
            retry_busy(conn, waits, doing="reading", limits=limits, modes=BLOCKS_READ)
        assert len(calls) == 3
        assert calls[2] - calls[0] >= 1.5


def test_retries_are_bounded(chat_db: Target) -> None:
    """Three tries of a 200 ms lock wait with 0.5 s and 1 s between them: given up in about 2.1 s."""
    limits = SessionLimits(lock_timeout="200ms")
    with locked(chat_db, MESSAGES), connect(chat_db, limits) as conn:
        started = time.monotonic()
        with pytest.raises(DatabaseBusy, match="gave up after 3 tries"):
            read_catalog(conn, ["public"], limits)
        took = time.monotonic() - started
    assert 2.0 <= took < 5.0


def test_a_lock_released_during_the_retries_gives_a_full_read(chat_db: Target) -> None:
    """The first try waits 200 ms and fails; the migration commits 0.4 s in; the next try reads it all."""
    limits = SessionLimits(lock_timeout="200ms")
    holder = psycopg.connect(chat_db.dsn, application_name=APPLICATION)
    lock(holder, MESSAGES, "ACCESS EXCLUSIVE")
    release = threading.Timer(0.4, holder.close)
    with connect(chat_db, limits) as conn:
        started = time.monotonic()
        release.start()
        snapshot = read_catalog(conn, ["public"], limits)
        took = time.monotonic() - started
    release.join()
    assert took > 0.4  # it did wait for the lock, and tried again
    assert {"id", "thread_id"} <= set(snapshot.tables[QualifiedName.parse(MESSAGES)].columns)


def test_check_passes_once_the_lock_is_released(chat_db: Target) -> None:
    with locked(chat_db, MESSAGES):
        assert run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), *FAST).returncode == 4
    result = run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), *FAST)
    assert result.returncode == 0, result.stdout + result.stderr


def test_repair_apply_blocked_only_at_the_apply_exits_4_and_changes_nothing(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """The read passes (ROW EXCLUSIVE does not block ACCESS SHARE) but CREATE INDEX waits (SHARE): the
    repair is rolled back on each try, then given up naming the holder of the table it needed."""
    run_sql("DROP INDEX public.idx_sam_messages_thread_id")
    with locked(chat_db, MESSAGES, "ROW EXCLUSIVE") as holder:
        result = run_cli("repair", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--apply", *FAST)
        line = assert_one_busy_line(result, pid_of(holder), mode="ROW EXCLUSIVE")
    assert "applying the repair (rolled back, nothing changed)" in line
    assert 'CREATE INDEX IF NOT EXISTS "idx_sam_messages_thread_id"' in result.stdout  # the plan was printed
    assert [f.id for f in check(chat_db, CHAT_CONTRACT).errors()] == [
        f"index.missing:{MESSAGES}.idx_sam_messages_thread_id"
    ]


def test_isolation_tests_on_a_write_locked_table_exit_4_not_a_verdict(chat_db: Target) -> None:
    """EXCLUSIVE lets the catalog read and SELECTs through but not the test rows' INSERT: the isolation
    test must not take the lock wait for a policy refusing the write."""
    with locked(chat_db, MESSAGES, "EXCLUSIVE") as holder:
        result = run_cli(
            "check",
            "--dsn",
            chat_db.dsn,
            "--contract",
            str(CHAT_CONTRACT),
            "--rls-live",
            *FAST,
            env=INHERITED_FROM_A_WORKER,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 4, output
        assert "Traceback" not in output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert "running the isolation tests of public." in lines[0]
        held = f"{MESSAGES} is locked (EXCLUSIVE) by pid {pid_of(holder)} (application '{APPLICATION}'"
        assert held in lines[0]
    assert "FAILED" not in result.stdout


def url(target: Target) -> str:
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    return f"postgresql://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"


@pytest.fixture
def second_db(target: Target) -> Iterator[Target]:
    """Another database of the same server, holding the chat schema."""
    name = f"pgc_locks_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    other = Target("other", psycopg.conninfo.make_conninfo(target.dsn, dbname=name))
    with psycopg.connect(other.dsn, autocommit=True) as conn:
        conn.execute((supabase_shim().read_text(encoding="utf-8") + CHAT_SQL.read_text(encoding="utf-8")).encode())
    yield other
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_one_busy_target_of_two_fails_alone_and_the_run_exits_4(
    chat_db: Target, second_db: Target, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    with locked(second_db, MESSAGES) as holder:
        result = run_cli(
            "check",
            "--dsn",
            f"eu={url(chat_db)}",
            "--dsn",
            f"us={url(second_db)}",
            "--contract",
            str(CHAT_CONTRACT),
            "--json",
            str(summary),
            *FAST,
        )
        pid = pid_of(holder)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    assert "Traceback" not in output
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    assert len(failed) == 1, result.stdout
    assert "[us:" in failed[0]
    held = f"target us: database busy while reading the catalog: {MESSAGES} is locked (ACCESS EXCLUSIVE) by pid {pid}"
    assert held in result.stdout
    targets = {t["target"]: t for t in json.loads(summary.read_text())["targets"]}
    assert targets["eu"]["passed"]
    assert targets["eu"]["healthy"]
    assert not targets["us"]["passed"]
    assert not targets["us"]["healthy"]
    assert targets["us"]["reachable"]
    assert targets["us"]["critical_issues"][0].startswith(held)


@pytest.mark.parametrize("option", ["--statement-timeout", "--lock-timeout"])
@pytest.mark.parametrize("command", ["check", "snapshot", "repair"])
def test_a_timeout_that_is_not_a_duration_is_a_usage_error(chat_db: Target, command: str, option: str) -> None:
    result = run_cli(command, "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), option, "banana")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'banana' is not a PostgreSQL duration" in result.stderr
    assert result.stdout == ""


def test_the_pytest_plugin_refuses_a_timeout_that_is_not_a_duration(chat_db: Target) -> None:
    result = run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--", "--lock-timeout", "banana")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "'banana' is not a PostgreSQL duration" in result.stderr
    assert "passed" not in result.stdout
    assert "failed" not in result.stdout


VALUES = ["30s", "200ms", "1min", "2h", "1d", "10 us", "0", "1.5s", " 2 s ", "1e3", "2147483647"]
NOT_VALUES = ["banana", "30 sec", "30S", "-1", "", "2147483648", "25d", "1 s s"]


@pytest.mark.parametrize("value", VALUES + NOT_VALUES)
def test_durations_are_what_postgresql_accepts(target: Target, value: str) -> None:
    with psycopg.connect(target.dsn) as conn:
        try:
            conn.execute("SELECT set_config('statement_timeout', %s, true)", (value,))
            accepted = True
        except psycopg.errors.InvalidParameterValue:
            accepted = False
    try:
        pg_duration(value)
        ours = True
    except ValueError:
        ours = False
    assert ours == accepted == (value in VALUES)


def test_exit_code_4_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| 4 | database busy" in readme
    result = run_cli("--help")
    assert "4 database busy" in result.stdout


def summary_section(html: Path) -> str:
    """The report's table of targets (pgcontract's summary, above pytest-html's own)."""
    page = html.read_text(encoding="utf-8")
    start = page.index('<table class="pgc-summary">')
    return page[start : page.index("</table>", start)]


def test_the_html_report_of_a_busy_check_says_busy_and_nothing_judged(chat_db: Target, tmp_path: Path) -> None:
    """One target, stopped at its first test (exit 4): its row says busy, nothing was judged, and why."""
    html = tmp_path / "report.html"
    with locked(chat_db, MESSAGES) as holder:
        args = ("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--html", str(html), *FAST)
        result = run_cli(*args)
        pid = pid_of(holder)
    assert result.returncode == 4, result.stdout + result.stderr
    section = summary_section(html)
    assert section.count("<tr>") == 2, section  # the heading and the target
    assert '<span class="pgc-busy">BUSY</span>' in section
    assert "database busy, nothing was judged (a lock wait or timeout stopped the read): database busy while" in section
    assert f"{MESSAGES} is locked (ACCESS EXCLUSIVE) by pid {pid}" in section
    assert "FAILED" not in section
    assert "health check failed" not in html.read_text(encoding="utf-8")


def test_the_html_report_of_one_busy_target_of_two_says_busy_for_it_alone(
    chat_db: Target, second_db: Target, tmp_path: Path
) -> None:
    html, summary = tmp_path / "report.html", tmp_path / "summary.json"
    with locked(second_db, MESSAGES):
        args = ("--contract", str(CHAT_CONTRACT), "--html", str(html), "--json", str(summary), *FAST)
        result = run_cli("check", "--dsn", f"eu={url(chat_db)}", "--dsn", f"us={url(second_db)}", *args)
    assert result.returncode == 4, result.stdout + result.stderr
    rows = summary_section(html).split("<tr>")[2:]
    assert ['<span class="pgc-ok">PASSED</span>' in row for row in rows] == [True, False]
    assert "<td>us</td>" in rows[1]
    assert '<span class="pgc-busy">BUSY</span>' in rows[1]
    assert "nothing was judged (a lock wait or timeout stopped the read): target us: database busy while" in rows[1]
    assert "health check failed" not in html.read_text(encoding="utf-8")
    us = next(t for t in json.loads(summary.read_text(encoding="utf-8"))["targets"] if t["target"] == "us")
    assert us["busy"].startswith("target us: database busy while reading the catalog: ")
    assert us["critical_issues"] == [us["busy"]]
