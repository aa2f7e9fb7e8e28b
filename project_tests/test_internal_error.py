"""Generated SQL that is not what pgcontract meant to write (``GeneratedSqlError``) is a bug in the tool:
contract SQL is refused at load (exit 2) unless it is exactly one node of its kind. The command stops with
one line and exit 70, before anything is printed as SQL or run; never a traceback.

The bug is planted in a generator of the real command (run as a process, as a user runs it), so the
check that catches it is the real one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg

from pgcontract.cli import EXIT_INTERNAL
from pgcontract.connect import Target
from project_tests.helpers import CHAT_CONTRACT, ROOT

# A generator that lets one statement more through: the script must not be printed.
EXTRA_STATEMENT = """
import pgcontract.ddl as ddl
original = ddl.with_sections
def with_sections(statements):
    yield from original(statements)
    yield "DROP TABLE public.victim;"
ddl.with_sections = with_sections
"""
# A held fix whose comment marker is lost: its SQL would run with the safe statements.
LOST_COMMENT = """
import pgcontract.repair as repair
repair.comment = lambda text: text
"""


def planted(bug: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = f"{bug}\nimport sys\nfrom pgcontract.cli import main\nsys.exit(main({list(args)!r}))\n"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def assert_internal_error(done: subprocess.CompletedProcess[str], holds: str) -> None:
    assert done.returncode == EXIT_INTERNAL == 70, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"pgcontract: internal error: generated SQL {holds}")
    assert lines[0].endswith("This is a bug in pgcontract: please report it with the contract")


def test_sql_with_a_statement_more_than_intended_exits_70_and_prints_no_script(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("version: 1\ntables:\n  public.t:\n    columns: {id: {type: integer}}\n", encoding="utf-8")
    done = planted(EXTRA_STATEMENT, "sql", "--contract", str(contract))
    assert_internal_error(done, "holds [")
    assert "holds [DoStmt, CreateStmt public.t, DropStmt], not [DoStmt, CreateStmt public.t]" in done.stderr
    assert done.stdout == ""


def test_repair_apply_with_a_broken_script_exits_70_and_applies_nothing(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql("DROP INDEX public.idx_sam_threads_user_id")
    audit = tmp_path / "audit.jsonl"
    args = ("repair", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--apply", "--history", str(audit))
    done = planted(LOST_COMMENT, *args)
    assert_internal_error(done, "does not parse")
    assert done.stdout == ""
    with psycopg.connect(chat_db.dsn) as conn:
        assert conn.execute("SELECT to_regclass('public.idx_sam_threads_user_id')").fetchone() == (None,)
    # Unplanted, the same command repairs: the exit above came from the planted bug alone.
    assert planted("", *args).returncode == 0


def test_the_exit_code_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| 70 | internal error:" in readme
    assert "70 internal error" in planted("", "--help").stdout
