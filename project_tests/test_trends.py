"""Trends: each target's history as inline SVG (a status mark per run, a sparkline per recorded number) on
the dashboard and in the HTML report, with no script and no URL, names escaped, an empty history shown."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.health import check_health
from pgcontract.report.audit import HistoryStore
from pgcontract.report.history import budget_values
from pgcontract.report.history import read as read_history
from pgcontract.report.trends import entry_of_report, entry_of_run, numbers, render_trends
from pgcontract.server import ServeSettings, create_app
from pgcontract.server.dashboard import render_dashboard
from project_tests.helpers import CHAT_CONTRACT, run_cli
from project_tests.serving import TOKEN, running, wait_until
from project_tests.test_server import MESSAGES, load_sql_for

URL = re.compile(r"https?:|//")


class Charts(HTMLParser):
    """The trend blocks of a page: per target, its status marks and, per series, its dots."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: dict[str, dict[str, Any]] = {}
        self._target: dict[str, Any] | None = None
        self._series: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "script":
            self.scripts += 1
        if "pgc-trend" in classes:
            self._target = {"marks": [], "series": {}, "declared": {}}
            self.targets[found.get("data-target") or ""] = self._target
        elif self._target is not None and "pgc-status" in classes:
            self._target["runs"] = int(found["data-runs"] or 0)
        elif self._target is not None and tag == "rect" and "mark" in classes:
            self._target["marks"].append(next(c.removeprefix("mark-") for c in classes if c.startswith("mark-")))
        elif self._target is not None and "pgc-spark" in classes:
            self._series = found["data-series"] or ""
            self._target["series"][self._series] = 0
            self._target["declared"][self._series] = int(found["data-points"] or 0)
        elif self._target is not None and self._series is not None and tag == "circle":
            self._target["series"][self._series] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._series = None


def charts(page: str) -> Charts:
    parser = Charts()
    parser.feed(page)
    return parser


def run(target: str, finished_at: str, passed: bool, **values: Any) -> dict[str, Any]:
    return {"target": target, "finished_at": finished_at, "passed": passed, "reachable": True, "failed": 0, **values}


def test_runs_become_status_marks_and_every_recorded_number_a_sparkline() -> None:
    entries = [
        run("eu", "2026-01-01T00:00:00", True, duration_ms=120, counts={"schema": {"passed": 9}}),
        run("eu", "2026-01-02T00:00:00", False, failed=2, duration_ms=180, operations={"connections": {"share": 0.4}}),
        {**run("eu", "2026-01-03T00:00:00", False, failed=1, duration_ms=0), "reachable": False},
        run("eu", "2026-01-04T00:00:00", True, duration_ms=150, operations={"connections": {"share": 0.7}}),
        run("us", "2026-01-01T00:00:00", True, duration_ms=90),
    ]
    found = charts(render_trends(reversed(entries)))  # any order in, oldest first out
    eu, us = found.targets["eu"], found.targets["us"]
    assert eu["runs"] == 4
    assert eu["marks"] == ["passed", "failed", "unreachable", "passed"]
    assert eu["series"] == {"duration_ms": 4, "failed": 4, "operations.connections.share": 2}
    assert eu["declared"] == eu["series"]
    assert us["marks"] == ["passed"]
    assert us["series"] == {"duration_ms": 1, "failed": 1}
    page = render_trends(entries)
    assert "counts." not in page  # test counts are not a measurement
    assert found.scripts == 0
    assert not URL.search(page)


BUDGETS: list[dict[str, Any]] = [
    {"rule": "ops.database_size", "unit": "bytes", "value": 8e6, "warning": 1e7, "error": 2e7, "level": None},
    {"rule": "ops.long_query", "unit": "seconds", "value": None, "warning": 60, "error": None, "level": None},
]


def test_budget_values_are_series_and_statement_counters_are_not() -> None:
    """History entries carry the budgets' worst values as {"ops": {name: value}} and pg_stat_statements
    counters (one per statement): each budget's value becomes a series named by its rule; the counters do
    not; a budget with nothing measured (None) is no point."""
    entry = {"duration_ms": 12, "statements": {"4711": {"calls": 3, "mean_ms": 2.5}}, **budget_values(BUDGETS)}
    assert entry["ops"] == {"database_size": 8e6, "long_query": None}
    assert numbers(entry) == {"duration_ms": 12.0, "ops.database_size": 8e6}


def test_a_history_file_of_the_old_shape_still_renders(tmp_path: Path) -> None:
    """Runs recorded before budget values were kept as {"ops": {...}} carry them as a list ``budgets``:
    read from the file, they chart as before, one series with the runs recorded since."""
    hist = tmp_path / "history.jsonl"
    old = [
        {**run("eu", f"2026-01-0{day}T00:00:00Z", True, duration_ms=10), "budgets": [{**BUDGETS[0], "value": size}]}
        for day, size in ((1, 1e6), (2, 2e6))
    ]
    new = [run("eu", "2026-01-03T00:00:00Z", True, duration_ms=10, ops={"database_size": 3e6})]
    hist.write_text("".join(json.dumps(entry) + "\n" for entry in old + new), encoding="utf-8")
    entries = read_history(file=hist)
    assert [numbers(e).get("ops.database_size") for e in entries] == [1e6, 2e6, 3e6]
    found = charts(render_trends(entries)).targets["eu"]
    assert found["series"] == {"duration_ms": 3, "failed": 3, "ops.database_size": 3}
    # The dashboard of `serve --history` starts from the same runs: their values come along.
    served = [entry_of_run("database", e) for e in entries]
    assert (
        found["series"]["ops.database_size"]
        == charts(render_trends(served)).targets["database"]["series"]["ops.database_size"]
    )


def test_an_empty_history_says_so() -> None:
    page = render_trends([])
    assert "No runs recorded yet." in page
    assert "<svg" not in page
    assert not URL.search(page)


def test_hostile_target_and_series_names_are_escaped() -> None:
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    entries = [run(hostile, "2026-01-01T00:00:00", True, duration_ms=5, ops={hostile: 3})]
    page = render_trends(entries)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    found = charts(page)
    assert found.scripts == 0
    assert list(found.targets) == [hostile]  # the attribute holds the name, unharmed
    assert found.targets[hostile]["series"] == {"duration_ms": 1, "failed": 1, f"ops.{hostile}": 1}


def test_dashboard_charts_checks_of_a_real_database(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    contract = load_contract(CHAT_CONTRACT)
    history = []
    for change in ("", f"DROP TABLE {MESSAGES}", "", load_sql_for(MESSAGES)):
        if change:
            run_sql(change)
        report = check_health(chat_db, contract)
        history.append(entry_of_report("chat", report))
    page = render_dashboard(report, 0.0, history=history)
    found = charts(page)
    chat = found.targets["chat"]
    assert chat["marks"] == ["passed", "failed", "failed", "passed"]
    assert chat["series"]["duration_ms"] == 4
    assert chat["series"]["failed"] == 4
    assert found.scripts == 0
    assert not URL.search(page)
    empty = render_dashboard(report, 0.0, history=[])
    assert "No runs recorded yet." in empty
    assert not URL.search(empty)


def test_served_dashboard_shows_the_servers_recent_checks(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    settings = ServeSettings(target=Target("chat-eu", chat_db.dsn), contract=load_contract(CHAT_CONTRACT), ttl=0.2)
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert wait_until(lambda: app.state.monitor.checks >= 2)
        run_sql(f"DROP TABLE {MESSAGES}")
        assert wait_until(lambda: sum(not e["passed"] for e in app.state.recent) >= 2)
        response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    found = charts(response.text)
    chat = found.targets["database"]
    assert "chat-eu" not in response.text  # like the rest of the page: no connection detail
    marks = chat["marks"]
    assert chat["runs"] == len(marks) >= 3
    assert marks[0] == "passed"
    assert marks[-1] == "failed"
    assert chat["series"]["duration_ms"] == len(marks)
    assert found.scripts == 0
    assert not URL.search(response.text)


def test_html_report_charts_the_recorded_runs(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    hist, html = tmp_path / "history.jsonl", tmp_path / "report.html"
    first = run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--history", str(hist))
    assert first.returncode == 0, first.stdout + first.stderr
    run_sql(f"DROP TABLE {MESSAGES}")
    second = run_cli(
        "check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--history", str(hist), "--html", str(html)
    )
    assert second.returncode == 1, second.stdout + second.stderr
    report = html.read_text(encoding="utf-8")
    start = report.index('<section class="pgc-trends"')
    section = report[start : report.index("</section>", start) + len("</section>")]
    found = charts(section)
    [target] = found.targets.values()
    assert target["runs"] == 2  # the recorded run and this one, once
    assert target["marks"] == ["passed", "failed"]
    assert target["series"]["duration_ms"] == 2
    assert target["series"]["failed"] == 2
    assert found.scripts == 0
    assert not URL.search(section)
    assert len(hist.read_text().splitlines()) == 2


def first_page(settings: ServeSettings) -> httpx.Response:
    """The dashboard of a server just started, once it has read the history store and checked once."""
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        assert wait_until(lambda: app.state.trend_seeded.is_set() and app.state.monitor.checks >= 1)
        return client.get("/")


def test_served_dashboard_starts_from_the_runs_recorded_in_history(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """`serve --history`: at each start the trend begins with the runs `check --history` recorded for this
    database (not those of another database in the same store), then the server's own checks."""
    hist = tmp_path / "history.jsonl"

    def check() -> int:
        args = ("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--history", str(hist))
        return run_cli(*args).returncode

    assert check() == 0
    run_sql(f"DROP TABLE {MESSAGES}")
    assert check() == 1
    run_sql(load_sql_for(MESSAGES))
    recorded = [json.loads(line) for line in hist.read_text(encoding="utf-8").splitlines()]
    elsewhere = {**recorded[0], "target": "other", "database": "app@db.elsewhere.test:5432/other"}
    with hist.open("a", encoding="utf-8") as out:
        out.write(json.dumps({**elsewhere, "finished_at": "2999-01-01T00:00:00Z"}) + "\n")
    store = HistoryStore(file=hist)
    for _start in range(2):  # a restart starts from the same recorded runs, not from nothing
        settings = ServeSettings(
            target=Target("target", chat_db.dsn), contract=load_contract(CHAT_CONTRACT), ttl=60, history=store
        )
        page = first_page(settings).text
        found = charts(page)
        assert set(found.targets) == {"database"}
        trend = found.targets["database"]
        assert trend["marks"] == ["passed", "failed", "passed"]  # recorded, recorded, this server's check
        assert trend["series"]["failed"] == 3
        assert trend["series"]["duration_ms"] == 1  # a run's duration is not one check's: not charted
        assert "elsewhere" not in page
        assert "target" not in found.targets


def test_served_dashboard_without_a_readable_history_still_charts_its_checks(
    chat_db: Target, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = HistoryStore(file=tmp_path)  # a directory: the store cannot be read
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), ttl=60, history=store)
    with caplog.at_level(logging.WARNING):
        response = first_page(settings)
    assert response.status_code == 200
    assert charts(response.text).targets["database"]["marks"] == ["passed"]
    assert f"dashboard trend: recorded runs not read from {tmp_path}" in caplog.text
