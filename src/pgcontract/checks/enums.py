"""Enum types: present, with exactly the listed values in that order."""

from __future__ import annotations

from pgcontract.checks.base import Context, finding, fix
from pgcontract.findings import Finding, Hazard, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import add_enum_value, create_enum


def check_enum(ctx: Context, name: QualifiedName, labels: tuple[str, ...]) -> list[Finding]:
    found = ctx.snapshot.enums.get(name)
    if found is None:
        return [
            finding(
                "enum.missing",
                Kind.ENUMS,
                name,
                str(name),
                "enum type is missing",
                list(labels),
                "absent",
                fix(create_enum(name, labels)),
            )
        ]
    if found == labels:
        return []
    missing = [v for v in labels if v not in found]
    extra = [v for v in found if v not in labels]
    statements = []
    for value in missing:
        position = labels.index(value)
        statements.append(add_enum_value(name, value, labels[position - 1] if position else None))
    hazards = (
        (Hazard.MANUAL,)
        if extra or [v for v in found if v in labels] != [v for v in labels if v in found]
        else ()
    )
    note = "PostgreSQL cannot remove or reorder enum values in place" if hazards else ""
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"extra {', '.join(extra)}")
    if not parts:
        parts.append("order differs")
    return [
        finding(
            "enum.values",
            Kind.ENUMS,
            name,
            str(name),
            "enum values differ: " + "; ".join(parts),
            list(labels),
            list(found),
            fix(statements, *hazards, note=note) if statements or hazards else None,
        )
    ]
