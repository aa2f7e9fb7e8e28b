"""Triggers, on any table the contract names (auth.users' signup trigger included), compared whole."""

from __future__ import annotations

from pgcontract.catalog.triggers import Trigger
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import TriggerSpec
from pgcontract.findings import Finding, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import create_trigger, trigger_state

K = Kind.TRIGGERS
RULES = declare(
    K,
    "trigger.missing",
    "trigger.timing",
    "trigger.events",
    "trigger.columns",
    "trigger.for_each",
    "trigger.function",
    "trigger.arguments",
    "trigger.when",
    "trigger.transition_tables",
    "trigger.enabled",
)


def _state(enabled: bool | str) -> str:
    if isinstance(enabled, bool):
        return "enabled" if enabled else "disabled"
    return f"enabled {enabled}"


def check_triggers(ctx: Context, table: QualifiedName, triggers: dict[str, TriggerSpec]) -> list[Finding]:
    found = {t.name: t for t in ctx.snapshot.triggers if t.table == table}
    out: list[Finding] = []
    for name, spec in triggers.items():
        obj = member(table, name)
        create = fix(create_trigger(table, name, spec))
        actual = found.get(name)
        if actual is None:
            out.append(
                finding("trigger.missing", K, table, obj, "trigger is missing", _summary(spec), "absent", create)
            )
            continue
        out += [
            finding(f"trigger.{rule}", K, table, obj, f"trigger {text} differs", want, have, create)
            for rule, text, want, have in _differences(ctx, table, spec, actual)
        ]
        if spec.enabled != actual.enabled:
            state = fix(trigger_state(table, name, spec.enabled))
            out.append(
                finding(
                    "trigger.enabled",
                    K,
                    table,
                    obj,
                    "trigger state differs",
                    _state(spec.enabled),
                    _state(actual.enabled),
                    state,
                )
            )
    return out


def _differences(
    ctx: Context, table: QualifiedName, spec: TriggerSpec, actual: Trigger
) -> list[tuple[str, str, object, object]]:
    out: list[tuple[str, str, object, object]] = []
    if spec.timing != actual.timing:
        out.append(("timing", "timing", spec.timing, actual.timing))
    if sorted(spec.events) != sorted(actual.events):
        out.append(("events", "events", sorted(spec.events), sorted(actual.events)))
    if tuple(spec.columns) != actual.columns:
        out.append(("columns", "UPDATE OF columns", list(spec.columns), list(actual.columns)))
    if spec.for_each != actual.for_each:
        out.append(("for_each", "FOR EACH", spec.for_each, actual.for_each))
    if spec.function_name != actual.function:
        # str(): a QualifiedName is a tuple, which a finding would show as a list ("[public, f]").
        out.append(("function", "function", str(spec.function_name), str(actual.function)))
    if tuple(spec.arguments) != actual.arguments:
        out.append(("arguments", "function arguments", list(spec.arguments), list(actual.arguments)))
    if not _same_when(ctx, table, spec.when, actual.when):
        out.append(("when", "WHEN condition", spec.when, actual.when))
    if (spec.old_table, spec.new_table) != (actual.old_table, actual.new_table):
        want = f"old table {spec.old_table}, new table {spec.new_table}"
        have = f"old table {actual.old_table}, new table {actual.new_table}"
        out.append(("transition_tables", "REFERENCING", want, have))
    return out


def _same_when(ctx: Context, table: QualifiedName, expected: str | None, actual: str | None) -> bool:
    # OLD and NEW are not relations: normalised without the table, so old.x stays qualified by "old".
    return ctx.same_expr(expected, actual, None)


def _summary(spec: TriggerSpec) -> str:
    events = " or ".join(
        e + (" of " + ", ".join(spec.columns) if e == "update" and spec.columns else "") for e in spec.events
    )
    return f"{spec.timing} {events} for each {spec.for_each} execute {spec.function_name}()"
