"""Sequences: present, with their options (type, start, increment, min, max, cycle, cache) and owner; and the
sequence options of identity columns. A sequence's current value is data, never compared."""

from __future__ import annotations

from pgcontract.catalog import snapshot as snap
from pgcontract.catalog.typekinds import Sequence, owned_by_text
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import SequenceOptions, SequenceSpec, Table
from pgcontract.findings import Finding, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.seqoptions import OPTION_ORDER, OPTIONS, Options
from pgcontract.typesql import (
    alter_sequence,
    create_sequence,
    sequence_grant_exactly,
    sequence_owner,
    set_identity_options,
)

K = Kind.SEQUENCES
RULES = declare(
    K,
    "sequence.missing",
    "sequence.type",
    "sequence.start",
    "sequence.increment",
    "sequence.min",
    "sequence.max",
    "sequence.cycle",
    "sequence.cache",
    "sequence.owned_by",
    "sequence.grants",
)
RULES += declare(Kind.COLUMNS, "column.identity_options")


def check_sequence(ctx: Context, name: QualifiedName, spec: SequenceSpec) -> list[Finding]:
    found = ctx.snapshot.sequences.get(name)
    want = spec.options
    if found is None:
        statements = [create_sequence(name, spec)]
        if spec.owner is not None:
            statements.append(sequence_owner(name, spec.owner))
        for role, privileges in (spec.grants or {}).items():
            statements += sequence_grant_exactly(name, role, privileges)
        return [
            finding(
                "sequence.missing",
                K,
                name,
                str(name),
                "sequence is missing",
                _describe(want),
                "absent",
                fix(statements),
            )
        ]
    out: list[Finding] = []
    have = found.options
    for option in OPTIONS:
        if want.value(option) == have.value(option):
            continue
        # A new type moves min and max only when they were the old type's bounds: state them.
        which = ("type", "min", "max") if option == "type" else (option,)
        repair = fix(alter_sequence(name, want, which))
        text = f"sequence {option} differs"
        out.append(
            finding(f"sequence.{option}", K, name, str(name), text, want.value(option), have.value(option), repair)
        )
    out += _grants(name, spec, found)
    if spec.owner != found.owned_by:
        repair = fix(sequence_owner(name, spec.owner))
        want_owner, have_owner = owned_by_text(spec.owner) or "none", owned_by_text(found.owned_by) or "none"
        out.append(
            finding(
                "sequence.owned_by",
                K,
                name,
                str(name),
                "sequence belongs to another column",
                want_owner,
                have_owner,
                repair,
            )
        )
    return out


def _grants(name: QualifiedName, spec: SequenceSpec, found: Sequence) -> list[Finding]:
    """A role the contract lists has exactly its privileges on the sequence (USAGE, SELECT, UPDATE)."""
    out: list[Finding] = []
    have_map = found.grant_map
    for role, privileges in (spec.grants or {}).items():
        expected, have = frozenset(privileges), have_map.get(role, frozenset())
        if expected == have:
            continue
        problems = []
        if expected - have:
            problems.append(f"{role} lacks {', '.join(sorted(expected - have))}")
        if have - expected:
            problems.append(f"{role} has {', '.join(sorted(have - expected))} beyond the contract")
        repair = fix(sequence_grant_exactly(name, role, expected))
        obj = f"{name} grants to {role}"
        out.append(finding("sequence.grants", K, name, obj, "; ".join(problems), expected, have, repair))
    return out


def _describe(options: Options) -> str:
    return ", ".join(f"{o} {options.value(o)}" for o in OPTIONS)


def check_identity_sequences(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    """An identity column's sequence, compared whole: ``identity_options`` states what is not the default."""
    out: list[Finding] = []
    for column_name, column in table.columns.items():
        if column.identity is None and column.identity_options is None:
            continue
        found = ctx.snapshot.identity_sequences.get((name, column_name))
        if found is None:
            continue  # not an identity column: column.identity says so
        spec = column.identity_options or SequenceOptions()
        want, have = spec.resolved(found.options.type), found.options
        differ = [o for o in OPTION_ORDER if want.value(o) != have.value(o)]
        if not differ:
            continue
        repair = fix(set_identity_options(name, column_name, want, differ))
        out.append(
            finding(
                "column.identity_options",
                Kind.COLUMNS,
                name,
                member(name, column_name),
                f"identity sequence options differ: {', '.join(differ)}",
                ", ".join(f"{o} {want.value(o)}" for o in differ),
                ", ".join(f"{o} {have.value(o)}" for o in differ),
                repair,
            )
        )
    return out
