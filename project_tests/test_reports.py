"""Audit reports, machine summaries, several targets in one run, history; no password in any artifact."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.embedded import supabase_shim
from project_tests.helpers import CHAT_SQL, run_cli
from project_tests.serving import chromium

PASSWORD = "S3cr3t-Audit-Pw!"


@pytest.fixture
def two_targets(target: Target, run_sql: Callable[[str], None]) -> Iterator[tuple[str, str]]:
    """Two databases of one throwaway server: "eu" healthy, "us" with a dropped table (URL DSNs with a
    password for a login role; the test server trusts local TCP, so any password works)."""
    role = f"auditor_{uuid.uuid4().hex[:8]}"
    run_sql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    base = f"postgresql://{role}:{PASSWORD}@{params['host']}:{params['port']}"
    schema = supabase_shim().read_text(encoding="utf-8") + CHAT_SQL.read_text(encoding="utf-8")
    eu, us = f"pgc_eu_{role}", f"pgc_us_{role}"
    for name in (eu, us):
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            conn.execute(schema.encode())
    with psycopg.connect(f"{base}/{us}", autocommit=True) as conn:
        conn.execute("DROP TABLE public.sam_conversation_messages")
    yield f"eu={base}/{eu}", f"us={base}/{us}"
    for name in (eu, us):
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_two_targets_one_broken_writes_all_reports_and_exits_1(two_targets: tuple[str, str], tmp_path: Path) -> None:
    html, junit, summary, hist = (tmp_path / n for n in ("report.html", "junit.xml", "summary.json", "h.jsonl"))
    eu, us = two_targets
    result = run_cli(
        "check",
        "--dsn",
        eu,
        "--dsn",
        us,
        "--html",
        str(html),
        "--junitxml",
        str(junit),
        "--json",
        str(summary),
        "--history",
        str(hist),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads(summary.read_text())
    by_name = {t["target"]: t for t in data["targets"]}
    assert by_name["eu"]["passed"]
    assert by_name["eu"]["healthy"]
    assert not by_name["us"]["passed"]
    assert not by_name["us"]["healthy"]
    assert {t["table"]: t["status"] for t in by_name["us"]["tables"]["critical"]} == {
        "public.sam_conversation_threads": "OK",
        "public.sam_conversation_messages": "MISSING",
    }
    assert any("table.missing" in issue for issue in data["critical_issues"])
    assert data["contract_sha256"]
    assert data["pgcontract"]
    report = html.read_text()
    assert "test_table[us:public.sam_conversation_messages]" in report
    assert "table is missing" in report
    assert "CREATE TABLE IF NOT EXISTS" in report
    assert "Contract sha256" in report
    assert "RLS isolation" in report
    assert 'name="test_table[us:public.sam_conversation_messages]"' in junit.read_text()
    for artifact in (report, junit.read_text(), summary.read_text(), hist.read_text(), result.stdout, result.stderr):
        assert PASSWORD not in artifact
    assert len(hist.read_text().splitlines()) == 2


def test_history_prints_each_targets_trend(two_targets: tuple[str, str], tmp_path: Path) -> None:
    hist = tmp_path / "history.jsonl"
    eu, us = two_targets
    for _ in range(2):
        run_cli("check", "--dsn", eu, "--dsn", us, "--history", str(hist))
    shown = run_cli("history", "--history", str(hist))
    assert shown.returncode == 0
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()}
    assert "✔✔" in lines["eu"]
    assert "passing since" in lines["eu"]
    assert "✘✘" in lines["us"]
    assert "FAILING since" in lines["us"]
    assert "(2 runs" in lines["us"]


def test_unreachable_target_fails_alone(two_targets: tuple[str, str], tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    eu, _ = two_targets
    down = f"down=postgresql://auditor:{PASSWORD}@127.0.0.1:1/nowhere"  # nothing listens on port 1
    result = run_cli("check", "--dsn", eu, "--dsn", down, "--json", str(summary))
    assert result.returncode == 3, result.stdout
    data = {t["target"]: t for t in json.loads(summary.read_text())["targets"]}
    assert data["eu"]["passed"]
    assert not data["down"]["reachable"]
    assert sum(c["failed"] for c in data["down"]["counts"].values()) == 1
    assert "target down: cannot connect to auditor@127.0.0.1:1/nowhere" in result.stdout
    assert "1 failed" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr


def test_targets_file_expands_environment_variables(two_targets: tuple[str, str], tmp_path: Path) -> None:
    eu, us = (t.split("=", 1)[1] for t in two_targets)
    targets = tmp_path / "targets.yaml"
    targets.write_text("eu: ${EU_URL}\nus: ${US_URL}\n", encoding="utf-8")
    result = run_cli("check", "--targets", str(targets), "--", "-q", env={"EU_URL": eu, "US_URL": us})
    assert result.returncode == 1
    assert "us:public.sam_conversation_messages" in result.stdout
    missing = run_cli("check", "--targets", str(targets))
    assert missing.returncode == 2
    assert "environment variable EU_URL is not set" in missing.stderr


def test_targets_run_in_parallel_with_xdist(two_targets: tuple[str, str], tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    eu, us = two_targets
    result = run_cli("check", "--dsn", eu, "--dsn", us, "--json", str(summary), "--", "-n", "2")
    assert result.returncode == 1, result.stdout
    assert "2 workers" in result.stdout
    data = {t["target"]: t for t in json.loads(summary.read_text())["targets"]}
    assert data["eu"]["passed"]
    assert data["us"]["failed_tests"] == ["test_schema.py::test_table[us:public.sam_conversation_messages]"]


def test_report_reads_well_in_chromium(two_targets: tuple[str, str], tmp_path: Path) -> None:
    """The auditor's view, in a real headless Chromium: the failed target and its reason at the top, the
    failure's expected/actual/fix table open, failures first, each group by table. A screenshot is kept."""
    html = tmp_path / "report.html"
    eu, us = two_targets
    assert run_cli("check", "--dsn", eu, "--dsn", us, "--html", str(html)).returncode == 1
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(html.as_uri())
        page.wait_for_selector("#results-table")
        rows = page.locator(".pgc-summary tr")
        assert rows.count() == 3  # header, eu, us
        assert "PASSED" in rows.nth(1).inner_text()
        assert "FAILED" in rows.nth(2).inner_text()
        assert "table is missing" in rows.nth(2).inner_text()
        assert page.locator(".pgc-bad").first.evaluate("e => getComputedStyle(e).color") == "rgb(176, 0, 32)"
        failure = page.locator(".pgc-findings", has_text="table.missing").first
        assert failure.is_visible(), "a failure's findings are open when the report opens"
        assert "CREATE TABLE IF NOT EXISTS" in failure.inner_text()
        results = page.locator("#results-table td.col-result").all_inner_texts()
        order = ["Failed", "Skipped", "Passed"]
        assert results == sorted(results, key=order.index), "the report opens with failures, skips, passes"
        tables = page.locator("td.col-table").all_inner_texts()
        failed = tables[: results.count("Failed")]
        assert failed == sorted(failed), "each group sorted by table"
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 50_000
