"""What pgcontract adds to pytest-html's report, so an auditor can read it without the repository:
a summary per target (database with the password removed, server version, pass and fail counts per
category), the contract and its sha256, tool version, git commit, start and end, a Target, Table and
Category column (the report opens sorted by table), and for each failure expected against actual and
the fix SQL."""

from __future__ import annotations

import json
from collections.abc import Generator
from html import escape
from typing import TYPE_CHECKING, Any

import pytest

from pgcontract import __version__
from pgcontract.findings import CATEGORIES
from pgcontract.report.summary import RECORD, ResultCollector, contract_digest, git_commit

if TYPE_CHECKING:
    from pgcontract.pytest_plugin import SuiteConfig

_CATEGORY_TITLES = {"schema": "Schema", "rls-static": "RLS static", "rls-isolation": "RLS isolation", "lints": "Lints"}

STYLE = """
<style>
.pgc-summary { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 13px; }
.pgc-summary th, .pgc-summary td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
.pgc-summary th { background: #f0f0f0; }
.pgc-ok { color: #1b7a1b; font-weight: bold; }
.pgc-bad { color: #b00020; font-weight: bold; }
.pgc-findings { border-collapse: collapse; margin: 4px 0; font-size: 12px; width: 100%; }
.pgc-findings th, .pgc-findings td { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
.pgc-findings th { background: #f7f7f7; }
.pgc-findings pre { margin: 0; white-space: pre-wrap; font-size: 11px; }
.pgc-hazard { color: #9a5b00; }
</style>
"""


def _record(report: Any) -> dict[str, Any] | None:
    raw = next((value for name, value in getattr(report, "user_properties", []) if name == RECORD), None)
    return json.loads(str(raw)) if raw is not None else None


def findings_html(findings: list[dict[str, Any]]) -> str:
    rows = []
    for found in findings:
        fix = found.get("fix_sql")
        hazards = found.get("hazards") or []
        fix_cell = f"<pre>{escape(fix)}</pre>" if fix else ""
        if hazards:
            fix_cell += f'<div class="pgc-hazard">hazard: {escape(", ".join(hazards))}</div>'
        rows.append(
            "<tr>"
            f"<td>{escape(found['level'])}</td><td>{escape(found['rule'])}</td><td>{escape(found['object'])}</td>"
            f"<td>{escape(found['message'])}</td><td><pre>{escape(found['expected'])}</pre></td>"
            f"<td><pre>{escape(found['actual'])}</pre></td><td>{fix_cell}</td>"
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
        self.several = len(settings.target_names) > 1

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

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = "pgcontract report"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        data = self.collector.summary()
        head = "".join(f"<th>{_CATEGORY_TITLES[c]}<br>passed / failed / skipped</th>" for c in CATEGORIES)
        rows = []
        for target in data["targets"]:
            status = '<span class="pgc-ok">PASSED</span>' if target["passed"] else '<span class="pgc-bad">FAILED</span>'
            cells = "".join(
                "<td>{passed} / {failed} / {skipped}</td>".format(**target["counts"][c]) for c in CATEGORIES
            )
            reasons = target["critical_issues"] or [f"{t}" for t in target["failed_tests"][:5]]
            why = "<br>".join(escape(r) for r in reasons[:10])
            rows.append(
                f"<tr><td>{escape(target['target'])}</td><td>{escape(target['database'])}</td>"
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
            STYLE + "<h2>Contract</h2>"
            f"<p>{escape(data['contract'])} &mdash; sha256 <code>{escape(data['contract_sha256'] or '')}</code>; "
            f"pgcontract {escape(data['pgcontract'])}; git commit {escape(data['git_commit'] or 'unknown')}; "
            f"started {escape(data['started_at'])}, finished {escape(data['checked_at'])}</p>"
            '<h2>Targets</h2><table class="pgc-summary"><tr><th>target</th><th>database</th><th>server</th>'
            f"<th>result</th>{head}<th>why it failed</th></tr>{''.join(rows)}</table>{note}"
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
        cells.insert(1, f'<td class="col-table">{escape(table)}</td>')
        cells.insert(2, f'<td class="col-category">{escape(_CATEGORY_TITLES.get(record.get("category", ""), ""))}</td>')
        if self.several:
            cells.insert(1, f'<td class="col-target">{escape(record.get("target", ""))}</td>')

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
        outcome = yield
        report = outcome.get_result()
        if report.when != "call":
            return
        record = _record(report)
        if record and record["findings"]:
            from pytest_html import extras

            report.extras = [*getattr(report, "extras", []), extras.html(findings_html(record["findings"]))]
