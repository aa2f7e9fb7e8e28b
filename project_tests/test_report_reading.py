"""The output a person reads first: test ids as the suite names them (not by the path the package is
installed at), the HTML report with failures first, then skips, then passes, a missing critical table
first among a target's reasons, and skip reasons as sentences."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from pgcontract.connect import Target
from project_tests.helpers import CHAT_CONTRACT, run_cli
from project_tests.serving import chromium

MESSAGES = "public.sam_conversation_messages"
THREADS = "public.sam_conversation_threads"
ORDER = ["failed", "skipped", "passed"]


@dataclass(frozen=True)
class Run:
    result: CompletedProcess[str]
    html: Path
    junit: Path


@pytest.fixture
def broken_run(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> Run:
    """`pgcontract check` from a directory outside the package, against the chat schema with both
    critical tables broken: threads (first in the contract) drifted, messages (second) dropped."""
    run_sql(f"ALTER TABLE {THREADS} ALTER COLUMN title TYPE varchar(50)")
    run_sql(f"DROP TABLE {MESSAGES}")
    html, junit = tmp_path / "report.html", tmp_path / "junit.xml"
    result = run_cli(
        "check",
        "--dsn",
        chat_db.dsn,
        "--contract",
        str(CHAT_CONTRACT),
        "--html",
        str(html),
        "--junitxml",
        str(junit),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    return Run(result, html, junit)


def test_test_ids_are_the_suites_not_the_install_path(broken_run: Run) -> None:
    out = broken_run.result.stdout
    assert any(line.startswith(f"FAILED test_schema.py::test_table[{MESSAGES}]") for line in out.splitlines()), out
    assert any(line.startswith("test_schema.py ") for line in out.splitlines()), out  # the progress line
    assert "suite/test_" not in out
    assert "../" not in out
    junit = broken_run.junit.read_text(encoding="utf-8")
    assert f'classname="test_schema" name="test_table[{MESSAGES}]"' in junit
    # A skip names the test it belongs to, not the plugin's file on the machine that ran it.
    assert "pytest_plugin.py" not in junit
    assert ">test_schema.py:" in junit


@dataclass(frozen=True)
class Shown:
    rows: list[dict[str, str]]  # result, table and log of each row, top to bottom
    why: list[str]  # the target's "why it failed" lines


def shown(html: Path) -> Shown:
    """The report as Chromium renders it."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(html.as_uri())
        page.wait_for_selector("#results-table")
        rows: list[dict[str, str]] = page.evaluate(
            """() => [...document.querySelectorAll('#results-table tbody.results-table-row')].map(b => ({
                result: b.className.split(' ').find(c => ['failed', 'skipped', 'passed'].includes(c)),
                table: b.querySelector('td.col-table').textContent,
                log: b.querySelector('.log')?.textContent ?? '',
            }))"""
        )
        why = page.locator(".pgc-summary tr").nth(1).locator("td").last.inner_text().splitlines()
    return Shown(rows, why)


def test_html_report_opens_with_failures_then_skips_then_passes(broken_run: Run) -> None:
    rows = shown(broken_run.html).rows
    results = [row["result"] for row in rows]
    assert set(results) == set(ORDER)
    assert results == sorted(results, key=ORDER.index)
    for outcome in ORDER:  # each group by table
        tables = [row["table"] for row in rows if row["result"] == outcome]
        assert tables == sorted(tables)


def test_why_it_failed_names_a_missing_critical_table_first(broken_run: Run) -> None:
    why = shown(broken_run.html).why
    assert why[0] == f"{MESSAGES}: table is missing (table.missing)"
    assert f"{THREADS}.title: column has another type (column.type)" in why[1:]


def test_skip_reasons_are_sentences(broken_run: Run) -> None:
    assert "pytest_plugin.py" not in broken_run.html.read_text(encoding="utf-8")
    rows = shown(broken_run.html).rows
    skipped = {row["table"]: row["log"].strip() for row in rows if row["result"] == "skipped"}
    assert skipped[MESSAGES] == f"table {MESSAGES} is missing (reported by test_table[{MESSAGES}])"
    for reason in skipped.values():  # every skip, not only the suite's own: no (path, line, reason)
        assert not reason.startswith("("), reason
        assert "Skipped:" not in reason
