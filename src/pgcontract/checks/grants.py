"""Table privileges: a role listed in the contract has exactly the listed table privileges, and exactly
the listed column privileges (none, when ``column_grants`` does not list it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Table
from pgcontract.findings import Finding, Fix, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import grant, grant_columns

RULES = declare(
    Kind.GRANTS, "grant.missing", "grant.extra", "grant.column_missing", "grant.column_extra", "grant.partition_extra"
)


def check_grants(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    for role, privileges in (table.grants or {}).items():
        expected = frozenset(privileges)
        have = actual.grants.get(role, frozenset())
        obj = member(name, f"grants to {role}")
        if expected - have:
            out.append(
                finding(
                    "grant.missing",
                    Kind.GRANTS,
                    name,
                    obj,
                    f"{role} lacks privileges",
                    expected,
                    have,
                    fix(grant(name, role, expected - have)),
                )
            )
        if have - expected:
            out.append(
                finding(
                    "grant.extra",
                    Kind.GRANTS,
                    name,
                    obj,
                    f"{role} has privileges beyond the contract",
                    expected,
                    have,
                    _revoke(name, role, have - expected, (table.column_grants or {}).get(role, {})),
                )
            )
    column_grants = table.column_grants or {}
    for role in dict.fromkeys([*(table.grants or {}), *column_grants]):
        out.extend(_column_grants(name, role, column_grants.get(role, {}), actual.column_grants.get(role, {})))
    out += _partition_grants(ctx, name, table)
    return out


def _revoke(name: QualifiedName, role: str, privileges: frozenset[str], columns: Mapping[str, Iterable[str]]) -> Fix:
    """REVOKE on a table also revokes that privilege on each of its columns: the contract's column
    privileges of these kinds are granted back in the same fix."""
    kept: dict[str, Iterable[str]] = {
        column: both for column, wanted in columns.items() if (both := sorted(privileges & set(wanted)))
    }
    if not kept:
        return fix(grant(name, role, privileges, revoke=True))
    return fix(
        [grant(name, role, privileges, revoke=True), grant_columns(name, role, kept)],
        note="REVOKE on the table also takes these column privileges, granted back as the contract lists them",
    )


def _partition_grants(ctx: Context, name: QualifiedName, table: Table) -> list[Finding]:
    """A partition the contract does not describe may grant a listed role no more than its partitioned table:
    a partition is a table of its own, reachable directly, and GRANT on the parent does not cover it."""
    out: list[Finding] = []
    for partition in ctx.snapshot.partitions_of(name):
        own = ctx.contract.table_map.get(partition.name)
        if own is not None and own.grants is not None:
            continue  # its own entry states its grants
        for role, privileges in (table.grants or {}).items():
            beyond = partition.grants.get(role, frozenset()) - frozenset(privileges)
            if role == partition.owner or not beyond:
                continue
            out.append(
                finding(
                    "grant.partition_extra",
                    Kind.GRANTS,
                    name,
                    member(partition.name, f"grants to {role}"),
                    f"{role} has privileges on partition {partition.name} beyond its partitioned table's",
                    sorted(privileges),
                    sorted(partition.grants.get(role, frozenset())),
                    fix(grant(partition.name, role, beyond, revoke=True)),
                )
            )
    return out


def _column_grants(
    name: QualifiedName, role: str, wanted: Mapping[str, Iterable[str]], have: Mapping[str, frozenset[str]]
) -> list[Finding]:
    out: list[Finding] = []
    for column in sorted({*wanted, *have}):
        expected = frozenset(wanted.get(column, ()))
        actual = have.get(column, frozenset())
        obj = member(name, column) + f" grants to {role}"
        if expected - actual:
            statement = grant_columns(name, role, {column: expected - actual})
            message = f"{role} lacks privileges on column {column}"
            out.append(
                finding("grant.column_missing", Kind.GRANTS, name, obj, message, expected, actual, fix(statement))
            )
        if actual - expected:
            statement = grant_columns(name, role, {column: actual - expected}, revoke=True)
            message = f"{role} has privileges on column {column} beyond the contract"
            out.append(finding("grant.column_extra", Kind.GRANTS, name, obj, message, expected, actual, fix(statement)))
    return out
