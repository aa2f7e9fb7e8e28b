"""Primary key, foreign keys (target, actions, deferrability, NOT VALID), unique constraints (deferrability,
NULLS NOT DISTINCT), check constraints (NOT VALID) and exclusion constraints (whole, and deferrability)."""

from __future__ import annotations

from typing import TypeVar

from pgcontract import clauses
from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Check, Deferral, Exclusion, ForeignKey, Table, Unique
from pgcontract.findings import Finding, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import (
    Composable,
    add_check,
    add_exclusion,
    add_foreign_key,
    add_primary_key,
    add_unique,
    alter_deferral,
    check_name,
    constraint_name,
    drop_constraint,
    exclusion_name,
    fk_name,
    unique_name,
    validate_constraint,
)
from pgcontract.sqlnorm import InvalidSql

K = Kind.CONSTRAINTS
RULES = declare(
    K,
    "primary_key.missing",
    "primary_key.columns",
    "primary_key.deferrable",
    "unique.missing",
    "unique.deferrable",
    "unique.nulls_not_distinct",
    "foreign_key.missing",
    "foreign_key.target",
    "foreign_key.on_delete",
    "foreign_key.on_update",
    "foreign_key.deferrable",
    "foreign_key.not_valid",
    "check.missing",
    "check.expression",
    "check.not_valid",
    "exclusion.missing",
    "exclusion.definition",
    "exclusion.deferrable",
)
Named = TypeVar("Named", ForeignKey, Check, Unique, Exclusion)


def _free_name(actual: snap.Table, item: Named, wanted: str) -> Named:
    """``item`` named ``wanted``, or, when another constraint of the table holds that name (an extra check
    with the same generated name, say), ``wanted1``, ``wanted2``... as PostgreSQL picks names. An index of the
    table holds its name too: a unique or exclusion constraint's own index takes the constraint's name."""
    taken = {c.name for c in actual.constraints} | set(actual.indexes)
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
        *_exclusions(name, table, actual),
    ]


def _deferral_text(deferrable: bool, deferred: bool) -> str:
    if not deferrable:
        return "NOT DEFERRABLE"
    return "DEFERRABLE INITIALLY " + ("DEFERRED" if deferred else "IMMEDIATE")


def _deferral_differs(spec: Deferral, found: snap.Constraint) -> bool:
    if spec.deferrable is not None and spec.deferrable != found.deferrable:
        return True
    return spec.initially is not None and (spec.initially == "deferred") != found.deferred


def _wanted_deferral(spec: Deferral) -> Deferral:
    """What a constraint that differs from ``spec`` (``_deferral_differs``) must become. What the contract
    leaves out follows from what differs: ``initially`` alone differs only from a constraint that must be
    DEFERRABLE to meet it, ``deferrable: true`` alone only from a NOT DEFERRABLE (so immediate) one, and
    ``deferrable: false`` makes it immediate. Keeping the found INITIALLY DEFERRED against ``deferrable: false``
    kept it DEFERRABLE: expected read as the found, and the fix changed nothing."""
    return Deferral(deferrable=spec.deferrable is not False, initially=spec.initially or "immediate")


def _wanted_text(wanted: Deferral) -> str:
    return _deferral_text(bool(wanted.deferrable), wanted.initially == "deferred")


SCAN = (
    "scans the whole table to check every stored row (SHARE UPDATE EXCLUSIVE: writes go on; a foreign key "
    "also locks the referenced table against writes); fails if a row violates it"
)


def _not_valid(name: QualifiedName, rule: str, constraint: snap.Constraint, what: str) -> Finding:
    return finding(
        rule,
        K,
        name,
        member(name, constraint.name),
        f"{what} is NOT VALID: rows stored before it was added are not checked",
        "validated",
        "NOT VALID",
        fix(validate_constraint(name, constraint.name), Hazard.LONG_LOCK, note=SCAN),
    )


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
                    add_primary_key(name, expected, spec=table.primary_key_deferral),
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
    spec = table.primary_key_deferral
    if spec is not None and _deferral_differs(spec, pk):
        wanted = _wanted_deferral(spec)
        return [
            finding(
                "primary_key.deferrable",
                K,
                name,
                member(name, pk.name),
                "primary key deferrability differs",
                _wanted_text(wanted),
                _deferral_text(pk.deferrable, pk.deferred),
                fix(
                    [drop_constraint(name, pk.name), add_primary_key(name, expected, pk.name, wanted)],
                    Hazard.LONG_LOCK,
                    note="PostgreSQL cannot ALTER a primary key's deferrability: the key is added again, building "
                    "its unique index under an exclusive lock; fails while foreign keys use it",
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
                    fix([drop_constraint(name, other.name), *add_foreign_key(name, fk, not_valid=actual.kind != "p")]),
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
                # PostgreSQL (before 18) cannot add a NOT VALID foreign key to a partitioned table.
                fix(add_foreign_key(name, _free_name(actual, fk, fk_name(name, fk)), not_valid=actual.kind != "p")),
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
                            *add_foreign_key(
                                name, fk.model_copy(update={"name": found.name}), not_valid=actual.kind != "p"
                            ),
                        ]
                    ),
                )
            )
    if _deferral_differs(fk, found):
        wanted = _wanted_deferral(fk)
        out.append(
            finding(
                "foreign_key.deferrable",
                K,
                name,
                member(name, found.name),
                "foreign key deferrability differs",
                _wanted_text(wanted),
                _deferral_text(found.deferrable, found.deferred),
                fix(alter_deferral(name, found.name, wanted)),
            )
        )
    if fk.validated and not found.validated:
        out.append(_not_valid(name, "foreign_key.not_valid", found, "foreign key"))
    return out


def _unique_candidates(unique: Unique, actual: snap.Table) -> list[snap.Constraint | snap.Index]:
    """Unique constraints, then unique non-partial indexes, on the entry's columns (its name first). A
    constraint's own index (of its name) is no index of its own: it would stand in for its constraint as a
    NOT DEFERRABLE one, so a unique constraint made DEFERRABLE went unreported."""
    columns = frozenset(unique.columns)
    constraint_names = {c.name for c in actual.constraints}
    constraints = sorted(
        (c for c in actual.constraints_of("u") if frozenset(c.columns) == columns), key=lambda c: c.name != unique.name
    )
    indexes = [
        ix
        for ix in actual.indexes.values()
        if ix.unique
        and ix.name not in constraint_names
        and ix.predicate is None
        and None not in ix.key_columns
        and not ix.include
        and frozenset(c for c in ix.key_columns if c is not None) == columns
    ]
    return [*constraints, *indexes]


def _unique_differences(unique: Unique, found: snap.Constraint | snap.Index) -> list[tuple[str, str, str, str]]:
    out = []
    deferrable, deferred = (found.deferrable, found.deferred) if isinstance(found, snap.Constraint) else (False, False)
    if (unique.deferrable is not None and unique.deferrable != deferrable) or (
        unique.initially is not None and (unique.initially == "deferred") != deferred
    ):
        want = _wanted_text(_wanted_deferral(unique))
        out.append(
            ("unique.deferrable", "unique constraint deferrability differs", want, _deferral_text(deferrable, deferred))
        )
    if unique.nulls_not_distinct is not None and unique.nulls_not_distinct != found.nulls_not_distinct:
        out.append(
            (
                "unique.nulls_not_distinct",
                "unique constraint treats NULLs otherwise",
                _nulls(unique.nulls_not_distinct),
                _nulls(found.nulls_not_distinct),
            )
        )
    return out


def _nulls(not_distinct: bool) -> str:
    return "NULLS NOT DISTINCT" if not_distinct else "NULLS DISTINCT"


def _unique(name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    for unique in table.unique:
        candidates = _unique_candidates(unique, actual)
        if candidates:
            found = next((c for c in candidates if not _unique_differences(unique, c)), candidates[0])
            differences = _unique_differences(unique, found)
            if isinstance(found, snap.Constraint):
                again = unique.model_copy(update={"name": found.name})
                if any(rule == "unique.deferrable" for rule, *_ in differences):
                    # Added again as its expected text reads: the contract's partial deferral completed.
                    wanted = _wanted_deferral(unique)
                    again = again.model_copy(update={"deferrable": wanted.deferrable, "initially": wanted.initially})
                statements = [drop_constraint(name, found.name), add_unique(name, again)]
            else:
                statements = [add_unique(name, _free_name(actual, unique, unique_name(name, unique)))]
            repair = fix(
                statements,
                Hazard.LONG_LOCK,
                note="PostgreSQL cannot change this in place: the constraint is added again, building a unique "
                "index under a lock; fails on duplicates (and while foreign keys use the old one)",
            )
            obj = member(name, found.name)
            out += [finding(rule, K, name, obj, text, want, have, repair) for rule, text, want, have in differences]
            continue
        added = _free_name(actual, unique, unique_name(name, unique))
        out.append(
            finding(
                "unique.missing",
                K,
                name,
                member(name, unique_name(name, added)),
                "unique constraint is missing",
                f"UNIQUE ({', '.join(unique.columns)})",
                "absent",
                fix(
                    add_unique(name, added),
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
    normal_found: set[str] | None = None  # only for checks matched by expression: a check found by its
    # name with the same text needs no parse (normalising every table's checks was most of the checks' time)
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
            elif check.validated and not existing.validated:
                out.append(_not_valid(name, "check.not_valid", existing, "check constraint"))
            continue
        normal = ctx.normal(check.expression, name)
        same = [c for c in found if ctx.normal(c.check or "", name) == normal]
        if same and check.validated and not any(c.validated for c in same):
            out.append(_not_valid(name, "check.not_valid", same[0], "check constraint"))
        if normal_found is None:
            normal_found = {ctx.normal(c.check or "", name) for c in found}
        if normal not in normal_found:
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


def _exclusions(name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    found = actual.constraints_of("x")
    for exclusion in table.exclusions:
        want = clauses.exclusion(exclusion.definition)
        have: dict[str, clauses.Exclusion] = {}
        for constraint in found:
            try:
                have[constraint.name] = clauses.exclusion(constraint.definition)
            except InvalidSql:
                continue
        if exclusion.name is not None:
            match = next((c for c in found if c.name == exclusion.name), None)
        else:
            match = next((c for c in found if c.name in have and have[c.name].shape == want.shape), None)
        if match is None:
            added = _free_name(actual, exclusion, exclusion_name(name, exclusion))
            repair = fix(
                add_exclusion(name, added),
                Hazard.LONG_LOCK,
                note="builds its index under a lock that blocks writes; fails on conflicting rows",
            )
            obj = member(name, exclusion_name(name, added))
            out.append(
                finding(
                    "exclusion.missing",
                    K,
                    name,
                    obj,
                    "exclusion constraint is missing",
                    exclusion.definition,
                    "absent",
                    repair,
                )
            )
            continue
        got = have.get(match.name)
        statements: list[Composable] = [
            drop_constraint(name, match.name),
            add_exclusion(name, exclusion.model_copy(update={"name": match.name})),
        ]
        if got is None or got.shape != want.shape:
            rule, text = "exclusion.definition", "exclusion constraint differs"
            note = "dropped and added again: rebuilds its index under a lock; fails on conflicting rows"
        elif (got.deferrable, got.deferred) != (want.deferrable, want.deferred):
            rule, text = "exclusion.deferrable", "exclusion constraint deferrability differs"
            note = (
                "PostgreSQL cannot ALTER an exclusion constraint's deferrability: dropped and added again, "
                "rebuilding its index"
            )
        else:
            continue
        repair = fix(statements, Hazard.LONG_LOCK, note=note)
        out.append(
            finding(rule, K, name, member(name, match.name), text, exclusion.definition, match.definition, repair)
        )
    return out
