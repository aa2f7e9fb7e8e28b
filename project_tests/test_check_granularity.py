"""`pgcontract check` runs all the kinds of a table as one test, and still reports what fails per table
and kind: under the kind's own id in the terminal, JUnit and the JSON summary, with the same counts and
findings as when each kind is its own test (which ``-k`` gives)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from project_tests.helpers import CHAT_CONTRACT, run_cli

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    target: dict[str, Any]  # the JSON summary's target
    cases: dict[str, str]  # JUnit: test name -> "failed", "skipped" or "passed"


def check(target: Target, out: Path, *pytest_args: str) -> Run:
    out.mkdir()
    summary, junit = out / "summary.json", out / "junit.xml"
    done = run_cli(
        "check",
        "--dsn",
        target.dsn,
        "--contract",
        str(CHAT_CONTRACT),
        "--json",
        str(summary),
        "--junitxml",
        str(junit),
        "--",
        "-rA",
        *pytest_args,
    )
    cases = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome = "failed" if case.find("failure") is not None else "passed"
        cases[case.attrib["name"]] = "skipped" if case.find("skipped") is not None else outcome
    (data,) = json.loads(summary.read_text(encoding="utf-8"))["targets"]
    return Run(done.returncode, done.stdout, data, cases)


@pytest.fixture
def drifted(chat_db: Target, run_sql: Callable[[str], None]) -> Target:
    """The chat schema with one kind of one table broken: a column of threads has another type."""
    run_sql(f"ALTER TABLE {THREADS} ALTER COLUMN title TYPE varchar(50)")
    return chat_db


def test_a_failing_kind_is_reported_under_its_own_id(drifted: Target, tmp_path: Path) -> None:
    run = check(drifted, tmp_path / "run")
    assert run.code == 1, run.stdout
    assert f"FAILED test_schema.py::test_columns[{THREADS}]" in run.stdout
    assert f"{THREADS}: 1 columns mismatch\n[column.type] {THREADS}.title: column has another type" in run.stdout
    # The table's test stands for the table and its kinds that passed; the other table is one test.
    assert f"PASSED test_schema.py::test_table[{THREADS}]" in run.stdout
    assert run.cases[f"test_columns[{THREADS}]"] == "failed"
    assert run.cases[f"test_table[{THREADS}]"] == "passed"
    assert run.cases[f"test_table[{MESSAGES}]"] == "passed"
    assert f"test_columns[{MESSAGES}]" not in run.cases
    assert run.target["failed_tests"] == [f"test_schema.py::test_columns[{THREADS}]"]
    assert re.search(r"1 failed, \d+ passed", run.stdout), run.stdout


def test_same_verdict_counts_and_findings_as_one_test_per_kind(drifted: Target, tmp_path: Path) -> None:
    folded = check(drifted, tmp_path / "folded")
    per_kind = check(drifted, tmp_path / "per_kind", "-k", "test_")  # every test: selected one by one
    assert (folded.code, per_kind.code) == (1, 1)
    assert len(folded.cases) < len(per_kind.cases)  # fewer tests ran ...
    for key in ("counts", "failed_tests", "tables", "healthy", "passed", "critical_issues"):
        assert folded.target[key] == per_kind.target[key], key  # ... and each table and kind is counted
    assert sorted(f["id"] for f in folded.target["findings"]) == sorted(f["id"] for f in per_kind.target["findings"])
    failed = {name for name, outcome in per_kind.cases.items() if outcome == "failed"}
    assert failed == {name for name, outcome in folded.cases.items() if outcome == "failed"}


def test_k_selects_single_kinds(drifted: Target, tmp_path: Path) -> None:
    run = check(drifted, tmp_path / "run", "-k", "test_columns")
    assert run.code == 1, run.stdout
    assert run.cases == {f"test_columns[{THREADS}]": "failed", f"test_columns[{MESSAGES}]": "passed"}
    assert "deselected" in run.stdout


def test_a_missing_table_fails_once_and_skips_its_kinds(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(f"DROP TABLE {MESSAGES}")
    run = check(chat_db, tmp_path / "run")
    assert run.code == 1, run.stdout
    assert run.cases[f"test_table[{MESSAGES}]"] == "failed"
    assert run.cases[f"test_columns[{MESSAGES}]"] == "skipped"
    assert run.cases[f"test_policies[{MESSAGES}]"] == "skipped"
    assert run.target["failed_tests"] == [f"test_schema.py::test_table[{MESSAGES}]"]


def test_a_failing_policy_keeps_its_rls_id(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    """Policies (test_rls.py) run in the table's test (test_schema.py) and fail under their own module's id."""
    run_sql(f"ALTER TABLE {THREADS} DISABLE ROW LEVEL SECURITY")
    run = check(chat_db, tmp_path / "run")
    assert run.code == 1, run.stdout
    assert f"FAILED test_rls.py::test_policies[{THREADS}]" in run.stdout
    assert run.cases[f"test_policies[{THREADS}]"] == "failed"
    assert run.cases[f"test_table[{THREADS}]"] == "passed"
    assert f"test_policies[{MESSAGES}]" not in run.cases  # it passed, in test_table[...]
    failed = [t for t in run.target["failed_tests"] if not t.startswith("test_lints.py::")]  # lints see it too
    assert failed == [f"test_rls.py::test_policies[{THREADS}]"]
    assert run.target["counts"]["rls-static"]["failed"] == 1
    assert run.target["counts"]["rls-static"]["passed"] == 1
