"""Primary key, foreign keys (target and actions), unique and check constraints."""

from __future__ import annotations

from typing import TypeVar

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Check, ForeignKey, Table
from pgcontract.findings import Finding, Hazard, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import (
    add_check,
    add_foreign_key,
    add_primary_key,
    add_unique,
    check_name,
    constraint_name,
    drop_constraint,
    fk_name,
    unique_name,
)

K = Kind.CONSTRAINTS
Named = TypeVar("Named", ForeignKey, Check)


def _free_name(actual: snap.Table, item: Named, wanted: str) -> Named:
    """``item`` named ``wanted``, or, when another constraint of the table holds that name (an extra check
    with the same generated name, say), ``wanted1``, ``wanted2``... as PostgreSQL picks names."""
    taken = {c.name for c in actual.constraints}
    name, n = wanted, 0
    while name in taken:
        n += 1
        name = wanted.encode("utf-8")[: 63 - len(str(n))].decode("utf-8", "ignore") + str(n)
    return item.model_copy(update={"name": name})


def check_constraints(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    return [
        *_primary_key(name, table, actual),
        *(f for fk in table.foreign_keys for f in _foreign_key(name, fk, actual)),
        *_unique(name, table, actual),
        *_checks(ctx, name, table, actual),
    ]


def _primary_key(name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    if table.primary_key is None:
        return []
    pks = actual.constraints_of("p")
    expected = tuple(table.primary_key)
    if not pks:
        return [
            finding(
                "primary_key.missing",
                K,
                name,
                member(name, constraint_name(name, [], "pkey")),
                "primary key is missing",
                list(expected),
                "absent",
                fix(
                    add_primary_key(name, expected),
                    Hazard.LONG_LOCK,
                    note="builds a unique index under an exclusive lock; fails on duplicate values",
                ),
            )
        ]
    pk = pks[0]
    if pk.columns != expected:
        return [
            finding(
                "primary_key.columns",
                K,
                name,
                member(name, pk.name),
                "primary key has other columns",
                list(expected),
                list(pk.columns),
                fix(
                    [drop_constraint(name, pk.name), add_primary_key(name, expected)],
                    Hazard.LONG_LOCK,
                    note="rebuilds the key under an exclusive lock; foreign keys that use it must be dropped",
                ),
            )
        ]
    return []


def _describe_fk(columns: tuple[str, ...], target: QualifiedName | None, ref: tuple[str, ...]) -> str:
    return f"({', '.join(columns)}) -> {target}({', '.join(ref)})"


def _foreign_key(name: QualifiedName, fk: ForeignKey, actual: snap.Table) -> list[Finding]:
    target, ref_columns = fk.target
    columns = tuple(fk.columns)
    fks = actual.constraints_of("f")
    if fk.name is not None:
        candidates = [c for c in fks if c.name == fk.name]
    else:
        candidates = [c for c in fks if c.columns == columns]
    matching = [
        c
        for c in candidates
        if c.ref_table == target and (not ref_columns or c.ref_columns == ref_columns) and c.columns == columns
    ]
    if not matching:
        expected_text = _describe_fk(columns, target, ref_columns)
        if candidates:
            other = candidates[0]
            return [
                finding(
                    "foreign_key.target",
                    K,
                    name,
                    member(name, other.name),
                    "foreign key points elsewhere",
                    expected_text,
                    _describe_fk(other.columns, other.ref_table, other.ref_columns),
                    fix([drop_constraint(name, other.name), *add_foreign_key(name, fk)]),
                )
            ]
        return [
            finding(
                "foreign_key.missing",
                K,
                name,
                member(name, fk_name(name, fk)),
                "foreign key is missing",
                expected_text,
                "absent",
                fix(add_foreign_key(name, _free_name(actual, fk, fk_name(name, fk)))),
            )
        ]
    found = matching[0]
    out: list[Finding] = []
    for attribute, want, have in (
        ("on_delete", fk.on_delete, found.on_delete),
        ("on_update", fk.on_update, found.on_update),
    ):
        if want is not None and want != have:
            out.append(
                finding(
                    f"foreign_key.{attribute}",
                    K,
                    name,
                    member(name, found.name),
                    f"{attribute.replace('_', ' ').upper()} action differs",
                    want.upper(),
                    (have or "no action").upper(),
                    fix(
                        [
                            drop_constraint(name, found.name),
                            *add_foreign_key(name, fk.model_copy(update={"name": found.name})),
                        ]
                    ),
                )
            )
    return out


def _unique(name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    have = {frozenset(c.columns) for c in actual.constraints_of("u")} | {
        frozenset(c for c in ix.key_columns if c is not None)
        for ix in actual.indexes.values()
        if ix.unique and ix.predicate is None and None not in ix.key_columns and not ix.include
    }
    for unique in table.unique:
        if frozenset(unique.columns) not in have:
            out.append(
                finding(
                    "unique.missing",
                    K,
                    name,
                    member(name, unique_name(name, unique)),
                    "unique constraint is missing",
                    f"UNIQUE ({', '.join(unique.columns)})",
                    "absent",
                    fix(
                        add_unique(name, unique),
                        Hazard.LONG_LOCK,
                        note="builds a unique index, blocking writes; fails on duplicate values",
                    ),
                )
            )
    return out


def _checks(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    found = actual.constraints_of("c")
    by_name = {c.name: c for c in found}
    normal_found = {ctx.normal(c.check or "", name) for c in found}
    present = [c.check for c in found]
    for position, check in enumerate(table.checks):
        if check.name is not None and check.name in by_name:
            existing = by_name[check.name]
            if not ctx.same_expr(check.expression, existing.check, name):
                out.append(
                    finding(
                        "check.expression",
                        K,
                        name,
                        member(name, check.name),
                        "check constraint differs",
                        check.expression,
                        existing.check,
                        fix([drop_constraint(name, check.name), *add_check(name, check, position)]),
                    )
                )
            continue
        if ctx.normal(check.expression, name) not in normal_found:
            out.append(
                finding(
                    "check.missing",
                    K,
                    name,
                    member(name, check_name(name, check, position)),
                    "check constraint is missing",
                    check.expression,
                    present if present else "no check constraints",
                    fix(add_check(name, _free_name(actual, check, check_name(name, check, position)), position)),
                )
            )
    return out
