"""What pgcontract adds to pytest-html's report, so an auditor can read it without the repository:
a summary per target (database with the password removed, server version, pass and fail counts per
category), the contract and its sha256, tool version, git commit, start and end, each target's trend
over the recorded runs (with ``--history``/``--history-dsn``), a Target, Table and
Category column (the report opens with failures first, then skips, then passes, each by table), and for
each failure expected against actual and the fix SQL.

pytest-html renders test ids and environment values as HTML: every name pgcontract puts there (from the
catalog, the contract or the command line) is escaped here, as everything pgcontract writes itself is."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Generator, Iterator
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from pgcontract import __version__
from pgcontract.connect import CannotConnect
from pgcontract.findings import CATEGORIES
from pgcontract.names import visible_lines
from pgcontract.report import history, trends
from pgcontract.report.audit import HistoryStore, LastChange, last_change_html, read_last_change
from pgcontract.report.summary import RECORD, ResultCollector, contract_digest, git_commit

if TYPE_CHECKING:
    from pgcontract.pytest_plugin import SuiteConfig

_CATEGORY_TITLES = {
    "schema": "Schema",
    "rls-static": "RLS static",
    "rls-isolation": "RLS isolation",
    "lints": "Lints",
    "operations": "Operations",
}
log = logging.getLogger(__name__)

STYLE = """
<style>
.pgc-summary { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
.pgc-summary th, .pgc-summary td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
.pgc-summary th { background: #f0f0f0; }
.pgc-ok { color: #1b7a1b; font-weight: bold; }
.pgc-bad { color: #b00020; font-weight: bold; }
.pgc-busy { color: #8a5a00; font-weight: bold; }
.pgc-findings { border-collapse: collapse; margin: 4px 0; font-size: 12px; width: 100%; }
.pgc-findings th, .pgc-findings td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
.pgc-findings th { background: #f7f7f7; }
.pgc-findings pre { margin: 0; white-space: pre-wrap; font-size: 11px; }
.pgc-hazard { color: #9a5b00; }
.last-change pre { margin: 0; white-space: pre-wrap; font-size: 11px; }
.last-change td { border: 1px solid #ddd; padding: 3px 6px; vertical-align: top; font-size: 12px; }
</style>
"""


# A target whose read a lock wait or timeout stopped (exit 4): not a verdict on the contract.
BUSY_NOTE = "database busy, nothing was judged (a lock wait or timeout stopped the read)"


def text(value: str) -> str:
    """A name or message as HTML text: escaped, its control characters shown (a browser hides them)."""
    return escape(visible_lines(value))


def _environment(value: Any) -> Any:
    """An environment table value as pytest-html can show it: it inserts values (and the keys and
    values of a mapping) into the page as HTML."""
    if isinstance(value, dict):
        return {text(str(k)): text(str(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [text(str(v)) for v in value]
    return text(value) if isinstance(value, str) else value


def skip_reason(report: Any) -> str | None:
    """A skip's reason as the sentence it is (pytest keeps it as (path, line, "Skipped: reason"))."""
    if not (report.skipped and isinstance(report.longrepr, tuple)):
        return None
    return str(report.longrepr[2]).removeprefix("Skipped: ")


def why_failed(target: dict[str, Any], limit: int = 10) -> list[str]:
    """A failed target's reasons: a missing critical table first, then its other critical issues; with
    none, the failed tests. Cut at ``limit``, saying how many more there are."""
    reasons = sorted(target["critical_issues"], key=lambda issue: not issue.endswith("(table.missing)"))
    reasons = reasons or list(target["failed_tests"])
    if len(reasons) > limit:
        reasons = [*reasons[: limit - 1], f"... and {len(reasons) - limit + 1} more"]
    return reasons


def _record(report: Any) -> dict[str, Any] | None:
    raw = next((value for name, value in getattr(report, "user_properties", []) if name == RECORD), None)
    return json.loads(str(raw)) if raw is not None else None


def findings_html(findings: list[dict[str, Any]]) -> str:
    rows = []
    for found in findings:
        fix = found.get("fix_sql")
        hazards = found.get("hazards") or []
        fix_cell = f"<pre>{text(fix)}</pre>" if fix else ""
        if hazards:
            fix_cell += f'<div class="pgc-hazard">hazard: {escape(", ".join(hazards))}</div>'
        rows.append(
            "<tr>"
            f"<td>{escape(found['level'])}</td><td>{escape(found['rule'])}</td><td>{text(found['object'])}</td>"
            f"<td>{text(found['message'])}</td><td><pre>{text(found['expected'])}</pre></td>"
            f"<td><pre>{text(found['actual'])}</pre></td><td>{fix_cell}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>level</th><th>rule</th><th>object</th><th>what</th><th>expected</th><th>actual</th><th>fix</th></tr>"
    )
    return f'<table class="pgc-findings">{head}{"".join(rows)}</table>'


class HtmlReport:
    """A pytest plugin object, registered only when pytest-html writes a report."""

    def __init__(self, config: pytest.Config, settings: SuiteConfig, collector: ResultCollector) -> None:
        self.config = config
        self.settings = settings
        self.collector = collector
        self.several = settings.several
        self.report_data: Any = None  # pytest-html's ReportData, handed to pytest_html_report_title

    def _metadata(self) -> dict[str, Any]:
        try:
            from pytest_metadata.plugin import metadata_key
        except ImportError:  # pragma: no cover - pytest-metadata is a dependency
            return {}
        metadata: dict[str, Any] = self.config.stash[metadata_key]
        return metadata

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        settings = self.settings
        contract = settings.contract_path
        metadata = self._metadata()
        metadata["pgcontract"] = __version__
        metadata["Contract"] = str(contract)
        metadata["Contract sha256"] = contract_digest(contract) if contract.exists() else "(missing)"
        metadata["Git commit"] = git_commit(contract if contract.is_dir() else contract.parent) or "(unknown)"
        metadata["Targets"] = ", ".join(f"{t.name} ({t.display})" for t in settings.targets) or "embedded default"
        metadata["Started"] = self.collector.started.isoformat(timespec="seconds")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        metadata = self._metadata()
        if self.collector.finished is not None:
            metadata["Finished"] = self.collector.finished.isoformat(timespec="seconds")
        versions = {t["target"]: t["server_version"] for t in self.collector.summary()["targets"]}
        metadata["Server versions"] = ", ".join(f"{k}: {v}" for k, v in versions.items() if v) or "(not reached)"
        if self.report_data is not None:  # pytest-html writes the report after this hook (trylast)
            self._escape_environment()
            # Rows in table order: pytest-html's initial sort by result (pytest.ini) keeps it within the
            # failures, the skips and the passes.
            tests = self.report_data.data["tests"]
            self.report_data.data["tests"] = dict(sorted(tests.items(), key=lambda item: _table_key(item[1])))

    def _escape_environment(self) -> None:
        environment = {key: _environment(value) for key, value in self._metadata().items()}
        self.report_data.set_data("environment", environment)

    def pytest_html_report_title(self, report: Any) -> None:
        """Called by pytest-html right after it took the environment, with the report's data."""
        report.title = "pgcontract report"
        self.report_data = report
        self._escape_environment()

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        data = self.collector.summary()
        head = "".join(f"<th>{_CATEGORY_TITLES[c]}<br>passed / failed / skipped</th>" for c in CATEGORIES)
        rows = []
        for target in [*data["targets"], *self._stopped(data)]:
            if target.get("busy"):
                status = '<span class="pgc-busy">BUSY</span>'
                why = text(f"{BUSY_NOTE}: {target['busy']}")
            else:
                passed = target["passed"]
                status = '<span class="pgc-ok">PASSED</span>' if passed else '<span class="pgc-bad">FAILED</span>'
                why = "<br>".join(text(r) for r in why_failed(target))
            cells = "".join(
                "<td>{passed} / {failed} / {skipped}</td>".format(**target["counts"][c]) for c in CATEGORIES
            )
            rows.append(
                f"<tr><td>{text(target['target'])}</td><td>{text(target['database'])}</td>"
                f"<td>{escape(target['server_version'] or 'not reached')}</td><td>{status}</td>{cells}"
                f"<td>{why}</td></tr>"
            )
        advanced = [(t["target"], t.get("sequences_advanced") or []) for t in data["targets"]]
        note = "".join(
            f"<p>RLS isolation tests wrote test rows into {escape(name)} (<code>--rls-live</code>) and rolled them "
            "back; the sequences of these columns stay advanced (<code>nextval</code> is not undone by a rollback), "
            f"so their next values skip a few numbers: {escape(', '.join(columns))}</p>"
            for name, columns in advanced
            if columns
        )
        prefix.append(
            STYLE + trends.STYLE + "<h2>Contract</h2>"
            f"<p>{text(data['contract'])} &mdash; sha256 <code>{escape(data['contract_sha256'] or '')}</code>; "
            f"pgcontract {escape(data['pgcontract'])}; git commit {escape(data['git_commit'] or 'unknown')}; "
            f"started {escape(data['started_at'])}, finished {escape(data['checked_at'])}</p>"
            '<h2>Targets</h2><table class="pgc-summary"><tr><th>target</th><th>database</th><th>server</th>'
            f"<th>result</th>{head}<th>why it failed</th></tr>{''.join(rows)}</table>{note}" + self._last_changes()
        )
        recorded = self._history(data)
        if recorded is not None:
            prefix.append(trends.render_trends(recorded, title="Trends (recorded runs)"))

    def _stopped(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Targets too busy to read that stopped the run before any of their tests reported (one target,
        no pytest-xdist: exit 4 at the first test), as summary rows saying so."""
        from pgcontract.pytest_plugin import RUNS

        shown = {t["target"] for t in data["targets"]}
        runs = self.config.stash.get(RUNS, {})
        return [
            {
                "target": name,
                "database": run.display,
                "server_version": None,
                "busy": run.busy,
                "counts": {c: {"passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES},
            }
            for name, run in runs.items()
            if run.busy and name not in shown
        ]

    def _history(self, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The recorded runs with this one (whether or not it was appended yet); None without a history."""
        file = self.config.getoption("pgcontract_history", None)
        dsn = self.config.getoption("pgcontract_history_dsn", None)
        if not file and not dsn:
            return None
        run_id = self.collector.run_id
        try:
            recorded = history.read(
                file=Path(file) if file else None,
                dsn=None if file else dsn,
                table=self.config.getoption("pgcontract_history_table", history.DEFAULT_TABLE),
                warn=lambda _: None,  # the history command reports unreadable lines; the report just skips them
            )
        except (CannotConnect, OSError, psycopg.Error) as exc:
            warnings.warn(pytest.PytestWarning(f"history not shown in the report: {exc}"), stacklevel=1)
            recorded = []
        return [e for e in recorded if e.get("run_id") != run_id] + history.entries_of(data, run_id)

    def _history_store(self) -> HistoryStore | None:
        return HistoryStore.of(
            self.config.getoption("pgcontract_history"),
            self.config.getoption("pgcontract_history_dsn"),
            self.config.getoption("pgcontract_history_table"),
        )

    def _changes(self, store: HistoryStore) -> Iterator[tuple[str, LastChange]]:
        """Each target's name and last change, found by its DSN."""
        for target in self.settings.targets:
            yield target.name, read_last_change(store, target.dsn, log.warning)

    def _last_changes(self) -> str:
        """With a history store: the last change recorded for each target (``repair --apply``)."""
        store = self._history_store()
        if store is None:
            return ""
        return "".join(
            last_change_html(change, f"Last change: {name}" if self.several else "Last change")
            for name, change in self._changes(store)
        )

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="table">Table</th>')
        cells.insert(2, '<th class="sortable" data-column-type="category">Category</th>')
        if self.several:
            cells.insert(1, '<th class="sortable" data-column-type="target">Target</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        record = _record(report) or {}
        subject = record.get("subject", "")
        if record.get("category") == "lints":
            subject = f"lint: {subject}"
        table = f"{record.get('target', '')} · {subject}" if self.several else subject
        # pytest-html puts the test id in its cell as it is, HTML included: the id carries the name.
        test_id = report.nodeid if report.when == "call" else f"{report.nodeid}::{report.when}"
        cells[:] = [
            f'<td class="col-testId">{text(test_id)}</td>' if 'class="col-testId"' in cell else cell for cell in cells
        ]
        cells.insert(1, f'<td class="col-table">{text(table)}</td>')
        categories = dict.fromkeys(record.get("categories") or [record.get("category", "")])
        titles = ", ".join(_CATEGORY_TITLES.get(category, "") for category in categories)
        cells.insert(2, f'<td class="col-category">{escape(titles)}</td>')
        if self.several:
            cells.insert(1, f'<td class="col-target">{text(record.get("target", ""))}</td>')

    def pytest_html_results_table_html(self, report: Any, data: list[str]) -> None:
        reason = skip_reason(report)
        if reason is not None:
            data[:] = [text(reason)]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        if report.when != "call":
            return
        record = _record(report)
        if record and (record["findings"] or record.get("covers")):
            from pytest_html import extras

            shown = []
            if record.get("covers"):  # a table's test: which kinds passed in it
                kinds = escape(", ".join(record["covers"]))
                shown.append(extras.html(f"<p>Checked, as the contract says: {kinds}</p>"))
            if record["findings"]:
                shown.append(extras.html(findings_html(record["findings"])))
            report.extras = [*getattr(report, "extras", []), *shown]


def _table_key(rows: list[dict[str, Any]]) -> str:
    return str(rows[0].get("table", "")) if rows else ""


class _Fixed:
    """A summary already made (``pgcontract merge``), in the collector's place."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self._summary = summary
        self.started = datetime.fromisoformat(summary["started_at"])
        self.finished: datetime | None = datetime.fromisoformat(summary["checked_at"])

    def summary(self) -> dict[str, Any]:
        return self._summary


class MergedHtmlReport(HtmlReport):
    """The HTML report of merged shards: what the report of one run shows, from the merged summary."""

    def __init__(self, config: pytest.Config, summary: dict[str, Any], store: HistoryStore | None = None) -> None:
        self.config = config
        self.collector = _Fixed(summary)  # type: ignore[assignment]  # summary(), started, finished
        self.several = len(summary["targets"]) > 1
        self.report_data = None
        self.store = store  # merge's --history or --history-dsn

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        data = self.collector.summary()
        metadata = self._metadata()
        metadata["pgcontract"] = data["pgcontract"]
        metadata["Contract"] = data["contract"]
        metadata["Contract sha256"] = data["contract_sha256"] or "(missing)"
        metadata["Git commit"] = data["git_commit"] or "(unknown)"
        metadata["Targets"] = ", ".join(f"{t['target']} ({t['database']})" for t in data["targets"]) or "none"
        metadata["Started"] = data["started_at"]

    def _history_store(self) -> HistoryStore | None:
        return self.store

    def _changes(self, store: HistoryStore) -> Iterator[tuple[str, LastChange]]:
        """Each target's name and last change, found by its database (``user@host:port/dbname``, as the
        shards' summaries carry it: never its DSN)."""
        for target in self.collector.summary()["targets"]:
            yield target["target"], read_last_change(store, None, log.warning, database=target["database"])
