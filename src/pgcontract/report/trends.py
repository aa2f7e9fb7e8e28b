"""Trends as small charts: each target's recent runs as a strip of status marks, and every numeric value
recorded in its history entries (the check's duration, failures, any budget's measured value) as an
inline SVG sparkline.

Rendered on the server as plain markup: no script, no stylesheet or font to fetch, no URL at all (not
even SVG's namespace, which inline SVG in HTML does not need), so the pages keep a strict Content
Security Policy and open offline. Every name (target, series) is escaped.

The series are found generically: every number in an entry (``bool`` excluded), nested objects
flattened with dots (the budgets' values, ``{"ops": {"connections.share": …}}``, give
``ops.connections.share``), except the per-category ``counts``. A value a
feature records in history entries is charted without this module knowing it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape as escape_html
from typing import Any

from pgcontract.health import UNREACHABLE, HealthReport
from pgcontract.names import visible_lines
from pgcontract.report import history

LAST_RUNS = 30
MAX_SERIES = 16  # per target: a page of budgets stays a page
MAX_DEPTH = 4
# Numbers in an entry that are not a measurement over time: the per-category test counts (their sum is
# ``failed``) and the statement counters a regression is judged against (one per statement, not a trend).
NOT_SERIES = frozenset({"counts", "statements"})
LABELS = {"duration_ms": "check duration (ms)", "failed": "failures"}
FIRST = ("duration_ms", "failed")

STATUS_COLOURS = {"passed": "#2e7d32", "failed": "#c62828", "unreachable": "#6d6d6d"}
LINE_COLOUR = "#1565c0"
WIDTH, HEIGHT, PAD = 180, 36, 4
MARK_WIDTH, MARK_GAP, MARK_HEIGHT = 6, 2, 14

STYLE = """
.pgc-trends { margin-top: 1.25rem; }
.pgc-trend { background: #fff; padding: .5rem .75rem; margin-bottom: .75rem; border: 1px solid #e3e5e8; }
.pgc-trend h3 { margin: .25rem 0 .5rem; font-size: 1.05rem; }
.pgc-trend table { width: auto; margin: .25rem 0 0; border-collapse: collapse; }
.pgc-trend td { padding: .15rem .6rem .15rem 0; border: 0; vertical-align: middle; }
.pgc-trend svg { display: block; }
.pgc-trend .muted { color: #666; }
"""


def text(value: str) -> str:
    """A name as HTML text: escaped, control characters shown (a browser would hide them)."""
    return escape_html(visible_lines(value))


def run_status(entry: Mapping[str, Any]) -> str:
    if entry.get("reachable") is False:
        return "unreachable"
    return "passed" if entry.get("passed") else "failed"


def numbers(entry: Mapping[str, Any]) -> dict[str, float]:
    """Every finite number of an entry by its dotted path (booleans and ``NOT_SERIES`` left out)."""
    found: dict[str, float] = {}

    def walk(path: str, value: object, depth: int) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            if math.isfinite(value):
                found[path] = float(value)
        elif isinstance(value, Mapping) and depth < MAX_DEPTH:
            for key, inner in value.items():
                walk(f"{path}.{key}", inner, depth + 1)

    for key, value in entry.items():
        if key not in NOT_SERIES:
            walk(str(key), value, 0)
    return found


@dataclass(frozen=True)
class TargetTrend:
    target: str
    runs: tuple[Mapping[str, Any], ...]  # oldest first
    series: dict[str, list[float | None]]  # one value (or None: not recorded) per run

    @classmethod
    def of(cls, target: str, runs: list[Mapping[str, Any]]) -> TargetTrend:
        values = [numbers(run) for run in runs]
        recorded = {name for found in values for name in found}
        names = sorted(recorded, key=lambda n: (FIRST.index(n) if n in FIRST else len(FIRST), n))
        series = {name: [found.get(name) for found in values] for name in names}
        return cls(target, tuple(runs), series)


def by_target(entries: Iterable[Mapping[str, Any]], last: int = LAST_RUNS) -> list[TargetTrend]:
    """Each target's last ``last`` runs, oldest first, targets by name."""
    runs: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: str(e.get("finished_at", ""))):
        runs[str(entry.get("target", ""))].append(entry)
    return [TargetTrend.of(name, found[-last:]) for name, found in sorted(runs.items())]


def entry_of_report(target: str, report: HealthReport) -> dict[str, Any]:
    """A history-shaped entry for one health check of ``pgcontract serve`` (numbers the report carries
    besides its tables, such as budget values, come along and are charted)."""
    data = report.to_dict()
    skipped = {"tables", "enums", "critical_issues", "error", "status", "operations"}
    extra = {k: v for k, v in data.items() if k not in skipped}
    return {
        **extra,
        **history.budget_values(budget.to_dict() for budget in report.budgets),
        "target": target,
        "finished_at": data["checked_at"],
        "passed": report.healthy,
        "healthy": report.healthy,
        "reachable": report.error != UNREACHABLE,
        "failed": len(report.critical_issues),
        "duration_ms": round(report.duration_ms, 1),
    }


def entry_of_run(target: str, run: Mapping[str, Any]) -> dict[str, Any]:
    """A run ``pgcontract check --history`` recorded, as one of ``serve``'s checks on its dashboard: its
    health (critical issues, not every failed test), their count and the budgets' values. Its duration is
    left out: it is the whole run's (pytest included), not one check's, and would dwarf the others."""
    critical = run.get("critical_issues")
    healthy = bool(run.get("healthy", run.get("passed")))
    entry: dict[str, Any] = {
        "target": target,
        "finished_at": run.get("finished_at"),
        "passed": healthy,
        "healthy": healthy,
        "reachable": run.get("reachable") is not False,
        "failed": len(critical) if isinstance(critical, list) else run.get("failed"),
    }
    if isinstance(run.get(history.BUDGETS), dict):
        entry[history.BUDGETS] = run[history.BUDGETS]
    return entry


def _number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) and abs(value) < 1e15 else f"{value:.3g}"


def status_strip(runs: tuple[Mapping[str, Any], ...]) -> str:
    """One mark per run, oldest first, coloured by its status (each with a tooltip)."""
    marks = []
    for i, run in enumerate(runs):
        status = run_status(run)
        x = i * (MARK_WIDTH + MARK_GAP)
        tip = text(f"{run.get('finished_at', '')}: {status}")
        marks.append(
            f'<rect class="mark mark-{status}" x="{x}" y="0" width="{MARK_WIDTH}" height="{MARK_HEIGHT}"'
            f' fill="{STATUS_COLOURS[status]}"><title>{tip}</title></rect>'
        )
    width = max(len(runs) * (MARK_WIDTH + MARK_GAP) - MARK_GAP, 1)
    return (
        f'<svg class="pgc-status" width="{width}" height="{MARK_HEIGHT}" viewBox="0 0 {width} {MARK_HEIGHT}"'
        f' role="img" aria-label="status of the last {len(runs)} runs" data-runs="{len(runs)}">{"".join(marks)}</svg>'
    )


def sparkline(name: str, values: list[float | None], times: list[str]) -> str:
    """A line through the recorded values (a gap where a run did not record one), a dot per value."""
    present = [v for v in values if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 0.0)
    span = high - low
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return HEIGHT / 2 if span == 0 else PAD + (high - value) / span * (HEIGHT - 2 * PAD)

    segments: list[list[str]] = [[]]
    dots = []
    for i, value in enumerate(values):
        if value is None:
            segments.append([])
            continue
        x = PAD + i * step if len(values) > 1 else WIDTH / 2
        point = f"{x:.1f},{y(value):.1f}"
        segments[-1].append(point)
        tip = text(f"{times[i]}: {_number(value)}")
        dots.append(
            f'<circle cx="{x:.1f}" cy="{y(value):.1f}" r="2" fill="{LINE_COLOUR}"><title>{tip}</title></circle>'
        )
    lines = "".join(
        f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.5"/>'
        for points in segments
        if len(points) > 1
    )
    return (
        f'<svg class="pgc-spark" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-label="{text(name)}" data-series="{text(name)}" data-points="{len(present)}">'
        f"{lines}{''.join(dots)}</svg>"
    )


def _series_row(name: str, values: list[float | None], times: list[str]) -> str:
    present = [v for v in values if v is not None]
    latest = next((v for v in reversed(values) if v is not None), None)
    latest_text = _number(latest) if latest is not None else "—"
    scale = f"{_number(min(present))} – {_number(max(present))}" if present else ""
    return (
        f"<tr><td>{text(LABELS.get(name, name))}</td><td>{sparkline(name, values, times)}</td>"
        f'<td>last {latest_text}</td><td class="muted">{scale}</td></tr>'
    )


def render_trend(trend: TargetTrend) -> str:
    times = [str(run.get("finished_at", "")) for run in trend.runs]
    names = list(trend.series)
    rows = "".join(_series_row(n, trend.series[n], times) for n in names[:MAX_SERIES])
    more = len(names) - MAX_SERIES
    more_note = f'<p class="muted">… and {more} more recorded value{"s" if more != 1 else ""}</p>' if more > 0 else ""
    count = len(trend.runs)
    return (
        f'<div class="pgc-trend" data-target="{text(trend.target)}">'
        f"<h3>{text(trend.target)}</h3>"
        f'<p class="muted">last {count} run{"s" if count != 1 else ""}, oldest first '
        f"(green passed, red failed, grey unreachable)</p>"
        f"{status_strip(trend.runs)}<table>{rows}</table>{more_note}</div>"
    )


def render_trends(entries: Iterable[Mapping[str, Any]], *, title: str = "Trends", last: int = LAST_RUNS) -> str:
    """The trends section: one block per target, or a note that nothing is recorded yet."""
    trends = by_target(entries, last)
    body = "".join(render_trend(t) for t in trends) or '<p class="muted">No runs recorded yet.</p>'
    return f'<section class="pgc-trends" id="trends"><h2>{text(title)}</h2>{body}</section>'
