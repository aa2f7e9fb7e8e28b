"""Partitioned tables (key; partitions attached, each with its bound) and inheritance parents; and the
folding of findings on partitions into their partitioned table, so that one defect is reported once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from pgcontract import clauses
from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import Table
from pgcontract.findings import Finding, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import Composable, attach_partition, create_partition, detach_partition, inherit
from pgcontract.sqlnorm import InvalidSql

K = Kind.PARTITIONS
RULES = declare(
    K,
    "partition.key",
    "partition.missing",
    "partition.parent",
    "partition.detach_pending",
    "partition.detached",
    "partition.bound",
    "inherits.missing",
    "inherits.extra",
)
ATTACH_NOTE = (
    "ATTACH PARTITION scans the partition to prove its rows fit the bound (unless a CHECK constraint already "
    "proves it) and the default partition for rows that now belong here, holding locks meanwhile"
)


def _same(parse: Callable[[str], str], expected: str, actual: str | None) -> bool:
    if actual is None:
        return False
    try:
        return parse(expected) == parse(actual)
    except InvalidSql:
        return expected.strip() == actual.strip()


def check_partitions(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    if table.partition_by is not None:
        if actual.partition_key is None or not _same(clauses.partition_key, table.partition_by, actual.partition_key):
            message = "table is not partitioned" if actual.partition_key is None else "partition key differs"
            have = actual.partition_key or "not partitioned"
            # No fix: a table becomes partitioned (or changes its key) only by being created again.
            return [finding("partition.key", K, name, str(name), message, table.partition_by, have)]
        for partition, bound in table.partition_map.items():
            out.extend(_partition(ctx, name, partition, bound))
    if table.inherits is not None:
        out.extend(_inherits(name, [QualifiedName.parse(p) for p in table.inherits], actual))
    return out


def _partition(ctx: Context, parent: QualifiedName, name: QualifiedName, bound: str) -> list[Finding]:
    found = ctx.snapshot.tables.get(name)
    expected = f"partition of {parent} {bound}"
    attach: list[Composable] = [attach_partition(parent, name, bound)]
    if found is None or not found.in_scope:
        siblings = ctx.snapshot.partitions_of(parent)
        hazards = (Hazard.LONG_LOCK,) if any(p.bound == "DEFAULT" for p in siblings) else ()
        note = "the default partition is scanned for rows that belong in the new one" if hazards else ""
        # A partition the contract declares as a table of its own may be partitioned itself.
        repair = fix(create_partition(name, parent, bound, ctx.contract.table_map.get(name)), *hazards, note=note)
        return [finding("partition.missing", K, parent, str(name), "partition is missing", expected, "absent", repair)]
    if not found.is_partition:
        return [
            finding(
                "partition.detached",
                K,
                parent,
                str(name),
                f"partition {name} of {parent} is detached: a table of its own, its rows out of {parent}",
                expected,
                "a table of its own (not attached)",
                fix(attach, Hazard.LONG_LOCK, note=ATTACH_NOTE),
            )
        ]
    other = found.parents[0]
    if other != parent:
        repair = fix([detach_partition(other, name), *attach], Hazard.LONG_LOCK, note=ATTACH_NOTE)
        have = f"partition of {other} {found.bound}"
        message = f"{name} is a partition of another table"
        return [finding("partition.parent", K, parent, str(name), message, expected, have, repair)]
    if found.detach_pending:
        repair = fix([detach_partition(parent, name, finalize=True), *attach], Hazard.LONG_LOCK, note=ATTACH_NOTE)
        message = f"partition {name} of {parent} is being detached (DETACH CONCURRENTLY did not finish)"
        return [finding("partition.detach_pending", K, parent, str(name), message, expected, "detach pending", repair)]
    if not _same(clauses.partition_bound, bound, found.bound):
        repair = fix([detach_partition(parent, name), *attach], Hazard.LONG_LOCK, note=ATTACH_NOTE)
        have = f"partition of {parent} {found.bound}"
        return [finding("partition.bound", K, parent, str(name), "partition bound differs", expected, have, repair)]
    return []


def _inherits(name: QualifiedName, expected: list[QualifiedName], actual: snap.Table) -> list[Finding]:
    have = [] if actual.is_partition else list(actual.parents)
    out = [
        finding(
            "inherits.missing",
            K,
            name,
            str(name),
            f"table no longer inherits from {parent}",
            [str(p) for p in expected],
            [str(p) for p in have],
            fix(inherit(name, parent)),
        )
        for parent in expected
        if parent not in have
    ]
    out += [
        finding(
            "inherits.extra",
            K,
            name,
            str(name),
            f"table inherits from {parent}, which the contract does not list",
            [str(p) for p in expected],
            [str(p) for p in have],
            fix(inherit(name, parent, drop=True)),
        )
        for parent in have
        if parent not in expected
    ]
    return out


FOLDED_KINDS = (Kind.COLUMNS, Kind.CONSTRAINTS, Kind.INDEXES)
NAMED_PARTITIONS = 10


def _owner(snapshot: snap.Snapshot, owner: str) -> snap.Table | None:
    try:
        return snapshot.tables.get(QualifiedName.parse(owner))
    except ValueError:
        return None


def _ancestors(snapshot: snap.Snapshot, table: snap.Table) -> list[QualifiedName]:
    out: list[QualifiedName] = []
    while table.is_partition and table.parents and table.parents[0] not in out:
        out.append(table.parents[0])
        parent = snapshot.tables.get(table.parents[0])
        if parent is None:
            break
        table = parent
    return out


def fold_partitions(findings: list[Finding], snapshot: snap.Snapshot) -> list[Finding]:
    """A defect of a partitioned table shows on every partition (keys, indexes and columns are cloned): a
    partition's finding with the same rule and expectation as one of its partitioned ancestors' is dropped,
    and each finding on a partitioned table names the partitions it concerns."""
    on_parents = {
        (f.owner, f.rule, f.expected) for f in findings if f.kind in FOLDED_KINDS and _is_partitioned(snapshot, f.owner)
    }
    out: list[Finding] = []
    for f in findings:
        table = _owner(snapshot, f.owner) if f.kind in FOLDED_KINDS else None
        ancestors = _ancestors(snapshot, table) if table is not None else []
        if any((str(a), f.rule, f.expected) in on_parents for a in ancestors):
            continue
        if table is not None and table.partition_key is not None:
            f = dataclasses.replace(f, message=f.message + _concerns(snapshot.partitions_of(table.name)))
        out.append(f)
    return out


def _is_partitioned(snapshot: snap.Snapshot, owner: str) -> bool:
    table = _owner(snapshot, owner)
    return table is not None and table.partition_key is not None


def _concerns(partitions: list[snap.Table]) -> str:
    if not partitions:
        return ""
    names = [str(p.name) for p in partitions[:NAMED_PARTITIONS]]
    more = len(partitions) - len(names)
    listed = ", ".join(names) + (f" and {more} more" if more else "")
    count = len(partitions)
    return f"; on a partitioned table: concerns its {count} partition{'s' if count != 1 else ''} ({listed})"
