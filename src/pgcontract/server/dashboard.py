"""The dashboard: one server-rendered HTML page, plain CSS, no script; the browser reloads it every 5 minutes.
Below the tables, the trend of the server's recent checks (status, duration, recorded values) as inline SVG."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from html import escape as escape_html
from typing import Any

from pgcontract.contract.operations import Unit
from pgcontract.health import HealthReport, Issue, Status, TableHealth
from pgcontract.names import visible_lines
from pgcontract.report import trends
from pgcontract.report.audit import LastChange, last_change_html

REFRESH_SECONDS = 300
CHECK_DB_PATH = "/api/admin/check-db"
SETUP_SQL_PATH = "/api/admin/setup-sql"

CSS = (
    """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
.banner { padding: 1.25rem 1.5rem; border-radius: 8px; color: #fff; }
.banner h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
.banner p { margin: 0; }
.banner a { color: #fff; }
.banner.healthy { background: #2e7d32; }
.banner.unhealthy { background: #c62828; }
table { width: 100%; border-collapse: collapse; margin-top: 1.25rem; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: .55rem .75rem; border-bottom: 1px solid #e3e5e8; }
th { background: #eceef1; font-weight: 600; }
td.status { font-weight: 700; white-space: nowrap; }
tr.status-ok td.status { color: #2e7d32; }
tr.status-missing, tr.status-drift { background: #fdecea; }
tr.status-missing td.status, tr.status-drift td.status { color: #fff; background: #c62828; }
tr.status-unknown td.status { color: #fff; background: #6d6d6d; }
tr.budget-warning td.status { color: #fff; background: #b26a00; }
tr.budget-error td.status { color: #fff; background: #c62828; }
tr.budget-ok td.status { color: #2e7d32; }
ul.issues { margin: 0; padding-left: 1.1rem; }
ul.issues code { font-size: .85em; }
.muted { color: #666; }
footer { margin-top: 1rem; font-size: .9rem; }
.last-change { margin-top: 1.25rem; background: #fff; padding: .75rem 1rem; }
.last-change h2 { font-size: 1.1rem; margin: 0 0 .4rem; }
.last-change pre { margin: 0; white-space: pre-wrap; font-size: .85em; }
.last-change td { font-size: .9em; }
"""
    + trends.STYLE
)


def escape(text: str) -> str:
    """Text for the page: HTML-escaped, control characters shown (a browser would hide them)."""
    return escape_html(visible_lines(text))


def _issue(issue: Issue) -> str:
    detail = f"expected {issue.expected}, actual {issue.actual}"
    return (
        f'<li class="issue-{escape(issue.level)}"><code>{escape(issue.rule)}</code> {escape(issue.object)}:'
        f' {escape(issue.message)} <span class="muted">({escape(detail)})</span></li>'
    )


def _row(table: TableHealth) -> str:
    status = table.status.value
    if table.issues:
        issues = '<ul class="issues">' + "".join(_issue(i) for i in table.issues) + "</ul>"
    else:
        issues = '<span class="muted">—</span>' if table.status is not Status.UNKNOWN else "not checked"
    return (
        f'<tr class="status-{status.lower()}" data-table="{escape_html(table.table)}" data-status="{status}">'
        f"<td>{escape(table.table)}</td><td>{'yes' if table.critical else 'no'}</td>"
        f'<td class="status">{status}</td><td>{issues}</td></tr>'
    )


def _operations(report: HealthReport) -> str:
    """The operations budgets: each one's worst value against its thresholds, and its findings."""
    if not report.budgets and not report.operations:
        return ""
    rows = []
    for budget in report.budgets:
        show = Unit.of(budget.unit).show

        def cell(value: float | None, show: Callable[[float], str] = show) -> str:
            return escape(show(value)) if value is not None else '<span class="muted">—</span>'

        state = budget.level or "ok"
        issues = [issue for owner, issue in report.operations if owner == budget.rule]
        listed = '<ul class="issues">' + "".join(_issue(i) for i in issues) + "</ul>" if issues else ""
        rows.append(
            f'<tr class="budget-{state}" data-rule="{escape_html(budget.rule)}" data-level="{state}">'
            f"<td><code>{escape(budget.rule)}</code></td><td>{cell(budget.value)}</td>"
            f"<td>{cell(budget.warning)}</td><td>{cell(budget.error)}</td>"
            f'<td class="status">{state.upper()}</td><td>{listed}</td></tr>'
        )
    return (
        '<table id="operations">\n<thead><tr><th>Budget</th><th>Worst value</th><th>Warning</th><th>Error</th>'
        f"<th>State</th><th>Findings</th></tr></thead>\n<tbody>{''.join(rows)}</tbody>\n</table>"
    )


def render_dashboard(
    report: HealthReport,
    age_seconds: float,
    last_change: LastChange | None = None,
    history: Iterable[Mapping[str, Any]] = (),
) -> str:
    """The page; ``last_change``: the last change recorded for the target (None: no history store);
    ``history``: the entries of recent checks (``trends.entry_of_report``), oldest first."""
    if report.healthy:
        headline = "Database healthy"
    elif report.error is not None:
        headline = f"Database unhealthy: {report.error}"
    else:
        count = len(report.critical_issues)
        headline = f"Database unhealthy: {count} critical issue{'s' if count != 1 else ''}"
    checked = report.to_dict()["checked_at"]
    rows = "".join(_row(t) for t in sorted(report.tables, key=lambda t: (not t.critical, t.table)))
    state = "healthy" if report.healthy else "unhealthy"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(headline)} · pgcontract</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header id="overall" class="banner {state}" data-healthy="{str(report.healthy).lower()}">
<h1>{escape(headline)}</h1>
<p>Last checked <time datetime="{checked}">{checked}</time> ({age_seconds:.0f} s ago, in {report.duration_ms:.0f} ms).
This page reloads every {REFRESH_SECONDS // 60} minutes.</p>
</header>
<table id="tables">
<thead><tr><th>Table</th><th>Critical</th><th>Status</th><th>Issues</th></tr></thead>
<tbody>{rows}</tbody>
</table>
{_operations(report)}
{trends.render_trends(history, title="Recent checks")}
{last_change_html(last_change) if last_change is not None else ""}
<footer>
<a href="{CHECK_DB_PATH}">Health report (JSON)</a> ·
<a href="{SETUP_SQL_PATH}">Setup SQL</a> ·
<a href="/metrics">Prometheus metrics</a>
</footer>
</main>
</body>
</html>
"""
