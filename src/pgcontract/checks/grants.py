"""Table privileges: a role listed in the contract has exactly the listed privileges."""

from __future__ import annotations

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Table
from pgcontract.findings import Finding, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import grant


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
                    fix(grant(name, role, have - expected, revoke=True)),
                )
            )
    return out
