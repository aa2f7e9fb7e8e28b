"""Run history: each run appends one entry per target to a JSON Lines file or to a table in a database
the user names (never a checked target); ``pgcontract history`` prints each target's trend. The same store
keeps the audit trail of ``repair --apply`` (``pgcontract.report.audit``): entries of ``kind`` ``audit``,
which the trend skips, and ``pgcontract history --audit`` prints."""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from pgcontract.connect import Target, connect
from pgcontract.names import visible

DEFAULT_TABLE = "pgcontract_history"
log = logging.getLogger(__name__)


def entries_of(summary: dict[str, Any], run_id: str | None = None) -> list[dict[str, Any]]:
    """One entry per target. ``duration_ms`` is the whole run's (the targets are checked together)."""
    run_id = run_id or str(uuid.uuid4())
    out = []
    for target in summary["targets"]:
        failed = sum(c["failed"] for c in target["counts"].values())
        out.append(
            {
                "run_id": run_id,
                "target": target["target"],
                "database": target["database"],
                "started_at": summary["started_at"],
                "finished_at": summary["checked_at"],
                "passed": target["passed"],
                "healthy": target["healthy"],
                "reachable": target["reachable"],
                "failed": failed,
                "duration_ms": summary.get("duration_ms"),
                "counts": target["counts"],
                "critical_issues": target["critical_issues"],
                "failed_tests": target["failed_tests"],
                "contract_sha256": summary.get("contract_sha256"),
                "git_commit": summary.get("git_commit"),
                # The operations budgets' worst values ({"ops": {...}}), and the statements a regression
                # is judged against.
                **budget_values(target.get("budgets", [])),
                **{key: target[key] for key in ("statements",) if key in target},
            }
        )
    return out


BUDGETS = "ops"  # the key of an entry's budget values; every budget's rule is ``ops.<name>``


def budget_values(budgets: Iterable[object]) -> dict[str, dict[str, float | None]]:
    """Budgets (``BudgetValue.to_dict()``: rule, value, thresholds, level) as an entry records their worst
    values: ``{"ops": {"connections.share": 0.31, ...}}``, so that each one's dotted path is its rule
    (None: nothing measured); nothing when there are none."""
    values = {
        str(budget["rule"]).removeprefix(f"{BUDGETS}."): budget.get("value")
        for budget in budgets
        if isinstance(budget, dict) and isinstance(budget.get("rule"), str)
    }
    return {BUDGETS: values} if values else {}


def current(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as this version records it: a run recorded before budget values were kept as
    ``{"ops": {...}}`` carries them as the list ``budgets``, read into that shape here."""
    if BUDGETS not in entry and isinstance(entry.get("budgets"), list):
        return {**entry, **budget_values(entry["budgets"])}
    return entry


def _table(name: str) -> sql.Composable:
    schema, _, table = name.rpartition(".")
    return sql.Identifier(schema, table) if schema else sql.Identifier(table)


def append(
    entries: Iterable[dict[str, Any]], *, file: Path | None = None, dsn: str | None = None, table: str = DEFAULT_TABLE
) -> None:
    entries = list(entries)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in entries).encode()
        # One append of whole lines, on disk before this returns: another writer's lines (a check and a
        # repair recording at once) cannot land inside one of these, and an audit entry written before a
        # repair is there even if the machine stops during it.
        fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    if dsn is not None:
        with connect(Target("history", dsn)) as conn, conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, run_id uuid NOT NULL,"
                    " target text NOT NULL, finished_at timestamptz NOT NULL, passed boolean NOT NULL,"
                    " entry jsonb NOT NULL)"
                ).format(_table(table))
            )
            for entry in entries:
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {} (run_id, target, finished_at, passed, entry) VALUES (%s, %s, %s, %s, %s)"
                    ).format(_table(table)),
                    # An audit entry's id is its audit_id; its ``passed``: the database satisfied the contract after.
                    (
                        entry.get("run_id") or entry["audit_id"],
                        entry["target"],
                        entry["finished_at"],
                        bool(entry["passed"]),
                        Jsonb(entry),
                    ),
                )


# What ``trend`` reads of an entry; anything else in a line is kept but not needed.
ENTRY_FIELDS: dict[str, type] = {"target": str, "finished_at": str, "passed": bool, "reachable": bool, "failed": int}


def is_entry(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(value.get(k), t) for k, t in ENTRY_FIELDS.items())


AUDIT = "audit"  # the ``kind`` of an audit entry (``pgcontract.report.audit``); a run entry has no kind
# What an audit entry needs to be shown.
AUDIT_FIELDS: dict[str, type] = {"audit_id": str, "stage": str, "target": str, "started_at": str, "finished_at": str}


def is_audit_entry(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("kind") == AUDIT
        and all(isinstance(value.get(k), t) for k, t in AUDIT_FIELDS.items())
    )


def _of_kind(value: object, kind: str) -> bool | None:
    """True: an entry of ``kind``; None: an entry of the other kind (skipped quietly); False: neither."""
    if kind == AUDIT:
        return True if is_audit_entry(value) else (None if is_entry(value) else False)
    if isinstance(value, dict) and value.get("kind") == AUDIT:
        return None
    return is_entry(value)


def read(
    *,
    file: Path | None = None,
    dsn: str | None = None,
    table: str = DEFAULT_TABLE,
    warn: Callable[[str], None] = log.warning,
    kind: str = "run",
) -> list[dict[str, Any]]:
    """The recorded entries of ``kind`` (``run``: check's run summaries; ``audit``: the audit trail); a line
    (or row) that is neither kind is skipped, and ``warn`` says which."""
    fields = AUDIT_FIELDS if kind == AUDIT else ENTRY_FIELDS
    not_entry = f"not a{'n audit' if kind == AUDIT else ' run'} entry (one needs {', '.join(fields)}), skipped"
    entries: list[dict[str, Any]] = []
    if file is not None:
        if not file.exists():
            return []
        for number, raw in enumerate(file.read_bytes().split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep to read
                warn(f"{file}:{number}: not a JSON line, skipped")
                continue
            found = _of_kind(value, kind)
            if found and isinstance(value, dict):
                entries.append(current(value))
            elif found is False:
                warn(f"{file}:{number}: {not_entry}")
        return entries
    assert dsn is not None
    with connect(Target("history", dsn)) as conn:
        try:
            rows = conn.execute(sql.SQL("SELECT id, entry FROM {} ORDER BY finished_at, id").format(_table(table)))
        except psycopg.errors.UndefinedTable:
            return []
        for row_id, value in rows.fetchall():
            found = _of_kind(value, kind)
            if found and isinstance(value, dict):
                entries.append(current(value))
            elif found is False:
                warn(f"{table} row id {row_id}: {not_entry}")
    return entries


def latest(entries: list[dict[str, Any]], last: int = 10) -> list[dict[str, Any]]:
    """The last ``last`` runs of each target, oldest first (``pgcontract history --json``)."""
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e["finished_at"]):
        by_target[entry["target"]].append(entry)
    kept = {id(e) for runs in by_target.values() for e in (runs[-last:] if last > 0 else [])}
    return [e for e in sorted(entries, key=lambda e: e["finished_at"]) if id(e) in kept]


def trend(entries: list[dict[str, Any]], last: int = 10) -> str:
    """Per target: the last runs (oldest first, ✔ passed, ✘ failed, ? unreachable) and since when it fails."""
    by_target: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in sorted(entries, key=lambda e: e["finished_at"]):
        by_target[entry["target"]].append(entry)
    if not by_target:
        return "no runs recorded"
    lines = []
    # A target is named after its database (dbname@host): shown, so a name cannot forge or restyle a line.
    shown = {target: visible(target) for target in by_target}
    width = max(len(t) for t in shown.values())
    for target, runs in sorted(by_target.items()):
        marks = "".join("?" if not r["reachable"] else ("✔" if r["passed"] else "✘") for r in runs[-last:])
        latest = runs[-1]
        if latest["passed"]:
            streak_start = _streak_start(runs, passed=True)
            state = f"passing since {streak_start['finished_at']}"
        else:
            streak_start = _streak_start(runs, passed=False)
            count = runs.index(latest) - runs.index(streak_start) + 1
            what = "unreachable" if not latest["reachable"] else f"{latest['failed']} failed test(s)"
            state = (
                f"FAILING since {streak_start['finished_at']} ({count} run{'s' if count != 1 else ''}; last: {what})"
            )
        lines.append(f"{shown[target]:<{width}}  {marks:<{last}}  {visible(state)}")
    return "\n".join(lines)


def _streak_start(runs: list[dict[str, Any]], *, passed: bool) -> dict[str, Any]:
    start = runs[-1]
    for run in reversed(runs):
        if bool(run["passed"]) != passed:
            break
        start = run
    return start
