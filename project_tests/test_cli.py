"""The ``pgcontract`` command as a user runs it: exit codes, reports, snapshot round trips, no secrets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from project_tests.helpers import run_cli

PASSWORD = "Tr0ub4dor&3-very-secret"


def with_password(target: Target, run_sql: Callable[[str], None]) -> str:
    """A DSN for a login role that has a password (the throwaway server trusts local TCP, so any works)."""
    run_sql(f"CREATE ROLE checker LOGIN PASSWORD '{PASSWORD}'")
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    return f"postgresql://checker:{PASSWORD}@{params['host']}:{params['port']}/{params['dbname']}"


def test_clean_database_exits_0_and_writes_reports(chat_db: Target, tmp_path: Path) -> None:
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = run_cli("check", "--dsn", chat_db.dsn, "--html", str(html), "--junitxml", str(junit))
    assert result.returncode == 0, result.stdout + result.stderr
    # A clean table is one test standing for all its kinds (README: one test per table).
    assert 'name="test_table[public.sam_conversation_threads]"' in junit.read_text()
    assert "&quot;covers&quot;: [&quot;table&quot;, &quot;columns&quot;" in junit.read_text()
    assert html.stat().st_size > 10_000


def test_violation_exits_1_and_no_password_anywhere(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    dsn = with_password(chat_db, run_sql)
    run_sql("DROP TABLE public.sam_conversation_messages")
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = run_cli("check", "--dsn", dsn, "--html", str(html), "--junitxml", str(junit), "--", "-v", "-l")
    assert result.returncode == 1
    assert "table.missing" in result.stdout
    for text in (result.stdout, result.stderr, html.read_text(), junit.read_text()):
        assert PASSWORD not in text


def test_unreachable_database_is_one_line_exit_3_without_password() -> None:
    dsn = f"postgresql://app:{PASSWORD}@127.0.0.1:1/app"
    result = run_cli("check", "--dsn", dsn)
    assert result.returncode == 3
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pgcontract: cannot connect to app@127.0.0.1:1/app:")
    assert PASSWORD not in result.stderr


def test_dsn_from_environment(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """$DATABASE_URL is the target: its dropped table fails the run (the embedded default would pass)."""
    run_sql("DROP TABLE public.sam_conversation_messages")
    result = run_cli("check", env={"DATABASE_URL": chat_db.dsn})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_table[public.sam_conversation_messages]" in result.stdout


def test_usage_error_exits_2() -> None:
    assert run_cli("check", "--no-such-option").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_embedded_default_passes() -> None:
    """No DSN: a throwaway server is started and loaded from sql/ (the README's main command)."""
    result = run_cli("check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("schema", ["chat", "kitchen", "workspace", "ledger"])
def test_snapshot_then_check_passes(schema: str, make_db: Callable[[str], Target], tmp_path: Path) -> None:
    target = make_db(schema)
    snap = run_cli("snapshot", "--dsn", target.dsn)
    assert snap.returncode == 0, snap.stderr
    contract = tmp_path / "contract.yaml"
    contract.write_text(snap.stdout, encoding="utf-8")
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(contract))
    assert result.returncode == 0, snap.stdout + result.stdout


def test_snapshot_then_defect_fails(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(run_cli("snapshot", "--dsn", chat_db.dsn).stdout, encoding="utf-8")
    run_sql("ALTER TABLE public.sam_conversation_threads ALTER COLUMN status SET DEFAULT 'closed'")
    result = run_cli("check", "--dsn", chat_db.dsn, "--contract", str(contract))
    assert result.returncode == 1
    assert "public.sam_conversation_threads.status" in result.stdout


def test_snapshot_leaves_out_platform_schemas_and_honours_schema_option(make_db: Callable[[str], Target]) -> None:
    target = make_db("kitchen")
    everything = run_cli("snapshot", "--dsn", target.dsn).stdout
    assert "public.organizations:" in everything
    assert "\n  auth.users:" not in everything
    odd_only = run_cli("snapshot", "--dsn", target.dsn, "--schema", "Odd Schema").stdout
    assert "public.organizations:" not in odd_only
    assert "Odd Schema" in odd_only


def test_contract_defaults_to_contracts_directory(chat_db: Target) -> None:
    result = run_cli("check", "--dsn", chat_db.dsn, "--", "--collect-only", "-q")
    assert "test_columns[public.sam_conversation_messages]" in result.stdout


def test_no_dsn_and_no_sql_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("check", "--contract", str(tmp_path / "none.yaml"), "--sql", str(tmp_path / "nosql"))
    assert result.returncode == 2
    result = run_cli("check", "--sql", str(tmp_path / "nosql"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_up_keeps_the_embedded_default_running_until_interrupted() -> None:
    import signal
    import subprocess
    import sys

    command = [str(Path(sys.executable).parent / "pgcontract"), "up"]
    process = subprocess.Popen(command, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        dsn = process.stdout.readline().strip()
        assert run_cli("check", "--dsn", dsn).returncode == 0
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
