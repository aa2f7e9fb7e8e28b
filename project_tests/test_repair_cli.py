"""`pgcontract repair` as a user runs it: the acceptance scenario on the embedded default, exit codes,
read-only without --apply, one transaction with lock_timeout under --apply, no password in any output."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from pgcontract.connect import Target
from project_tests.helpers import CHAT_CONTRACT, KITCHEN_CONTRACT, ROOT, by_rule, check, fingerprint, run_cli
from project_tests.test_cli import PASSWORD

MESSAGES = "public.sam_conversation_messages"


def test_acceptance_drop_messages_then_repair_apply_on_the_embedded_default() -> None:
    """The issue's scenario, as a new user would try it: `pgcontract up`, drop the table, repair, check."""
    command = [str(Path(sys.executable).parent / "pgcontract"), "up"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        dsn = process.stdout.readline().strip()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {MESSAGES}")
        assert run_cli("check", "--dsn", dsn).returncode == 1
        repaired = run_cli("repair", "--dsn", dsn, "--apply")
        assert repaired.returncode == 0, repaired.stdout + repaired.stderr
        assert "checked again: the database satisfies the contract" in repaired.stderr
        after = run_cli("check", "--dsn", dsn, "--", "-v")
        assert after.returncode == 0, after.stdout
        # One test per table stands for the table and every kind of it that passed (a failing kind would be
        # reported under its own id: test_check_granularity.py).
        assert f"test_table[{MESSAGES}] PASSED" in after.stdout
        assert "FAILED" not in after.stdout
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0


def test_clean_database_exits_0_with_nothing_to_apply(chat_db: Target) -> None:
    result = run_cli("repair", "--dsn", chat_db.dsn)
    assert result.returncode == 0, result.stderr
    assert "nothing safe to apply" in result.stdout


def test_without_apply_prints_and_writes_nothing_even_as_a_read_only_role(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(f"DROP INDEX public.idx_sam_messages_thread_id; ALTER TABLE {MESSAGES} DISABLE ROW LEVEL SECURITY")
    # Roles are per server, not per test database: a name no other test uses.
    run_sql("CREATE ROLE repair_auditor LOGIN; ALTER ROLE repair_auditor SET default_transaction_read_only = on")
    auditor = psycopg.conninfo.make_conninfo(chat_db.dsn, user="repair_auditor")
    before = fingerprint(chat_db)
    result = run_cli("repair", "--dsn", auditor, "--contract", str(CHAT_CONTRACT))
    assert result.returncode == 1, result.stderr
    assert 'CREATE INDEX IF NOT EXISTS "idx_sam_messages_thread_id"' in result.stdout
    assert "ENABLE ROW LEVEL SECURITY" in result.stdout
    assert fingerprint(chat_db) == before


def test_hazardous_fix_is_commented_out_and_left(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("kitchen")
    run_sql("ALTER TABLE organizations ALTER COLUMN slug TYPE varchar(60); REVOKE SELECT ON organizations FROM anon")
    result = run_cli("repair", "--dsn", target.dsn, "--contract", str(KITCHEN_CONTRACT), "--apply")
    assert result.returncode == 1
    assert "-- WARNING: not applied: long-lock, data-loss:" in result.stdout
    assert '-- ALTER TABLE "public"."organizations" ALTER COLUMN "slug" TYPE varchar(50)' in result.stdout
    assert '\nGRANT SELECT ON "public"."organizations" TO "anon";' in result.stdout
    assert "applied 1 statements" in result.stderr
    assert "errors left: 1" in result.stderr
    assert "column.type" in result.stderr
    left = check(target, KITCHEN_CONTRACT)
    assert [f.id for f in left.errors()] == ["column.type:public.organizations.slug"]


def test_apply_is_one_transaction_bounded_by_lock_timeout(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """The index is created first, then RLS waits for a lock held elsewhere: lock_timeout ends the wait and
    the whole transaction, index included, is rolled back (on each of the tries; a lock is not a failed
    repair but a busy database: exit 4, naming who holds the table)."""
    run_sql(f"DROP INDEX public.idx_sam_threads_user_id; ALTER TABLE {MESSAGES} DISABLE ROW LEVEL SECURITY")
    with psycopg.connect(chat_db.dsn) as blocker:
        blocker.execute(f"LOCK TABLE {MESSAGES} IN ACCESS SHARE MODE")
        result = run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--lock-timeout", "300ms")
        blocker.rollback()
    assert result.returncode == 4, result.stderr
    assert "database busy while applying the repair (rolled back, nothing changed)" in result.stderr
    assert f"{MESSAGES} is locked (ACCESS SHARE) by pid " in result.stderr
    assert "(lock_timeout 300ms)" in result.stderr
    after = check(chat_db, CHAT_CONTRACT)
    assert by_rule(after, "index.missing")
    assert by_rule(after, "rls.disabled")


def test_warnings_only_exit_0(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(f"CREATE POLICY narrow ON {MESSAGES} AS RESTRICTIVE FOR SELECT USING (role <> 'system')")
    result = run_cli("repair", "--dsn", chat_db.dsn, "--apply")
    assert result.returncode == 0, result.stderr
    assert "-- WARNING: not applied: a warning, not a violation" in result.stdout
    assert "errors left: 0" in result.stderr


def test_no_password_in_any_output(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(f"CREATE ROLE repairer LOGIN PASSWORD '{PASSWORD}'; DROP INDEX public.idx_sam_messages_thread_id")
    params = psycopg.conninfo.conninfo_to_dict(chat_db.dsn)
    dsn = f"postgresql://repairer:{PASSWORD}@{params['host']}:{params['port']}/{params['dbname']}"
    for args in (("repair", "--dsn", dsn), ("repair", "--dsn", dsn, "--apply")):
        result = run_cli(*args)  # --apply fails (repairer does not own the table): the error is shown too
        assert PASSWORD not in result.stdout + result.stderr
        assert "repairer@" in result.stdout
    unreachable = run_cli("repair", "--dsn", f"postgresql://app:{PASSWORD}@127.0.0.1:1/app", "--apply")
    assert unreachable.returncode == 3
    assert PASSWORD not in unreachable.stdout + unreachable.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert run_cli("repair", "--no-such-option").returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 2\n", encoding="utf-8")
    assert run_cli("repair", "--dsn", "host=127.0.0.1 port=1", "--contract", str(bad)).returncode == 2
    missing = run_cli("repair", "--sql", str(tmp_path / "nosql"))
    assert missing.returncode == 2
    assert "no such file or directory" in missing.stderr


def test_without_dsn_repairs_the_embedded_default() -> None:
    result = run_cli("repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "postgres@127.0.0.1:" in result.stdout
