"""Schema privileges (USAGE, CREATE) and default privileges: each listed role has exactly the listed ones.

A finding's owner (the suite's subject) is the schema, or the default-privileges entry
(``defaults of postgres in public on tables``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pgcontract.catalog.privileges import Grants
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import DefaultPrivilege
from pgcontract.findings import Finding, Kind, declare
from pgcontract.names import quote_part
from pgcontract.sqlgen import alter_default_privileges, create_schema, grant_schema

K = Kind.PRIVILEGES
RULES = declare(
    K,
    "schema_grant.schema_missing",
    "schema_grant.missing",
    "schema_grant.extra",
    "default_privilege.missing",
    "default_privilege.extra",
)


def check_schema_privileges(ctx: Context, schema: str, wanted: Mapping[str, Iterable[str]]) -> list[Finding]:
    have = ctx.snapshot.privileges.schemas.get(schema)
    if have is None:
        statements = [create_schema(schema), *(grant_schema(schema, r, p) for r, p in wanted.items() if p)]
        return [
            finding(
                "schema_grant.schema_missing",
                K,
                schema,
                f"schema {quote_part(schema)}",
                "schema missing",
                "exists",
                "(none)",
                fix(statements),
            )
        ]
    out: list[Finding] = []
    for role, privileges in wanted.items():
        expected, actual = frozenset(privileges), have.get(role, frozenset())
        obj = f"schema {quote_part(schema)} grants to {role}"
        if expected - actual:
            statement = grant_schema(schema, role, expected - actual)
            message = f"{role} lacks privileges on schema {schema}"
            out.append(finding("schema_grant.missing", K, schema, obj, message, expected, actual, fix(statement)))
        if actual - expected:
            statement = grant_schema(schema, role, actual - expected, revoke=True)
            message = f"{role} has privileges on schema {schema} beyond the contract"
            out.append(finding("schema_grant.extra", K, schema, obj, message, expected, actual, fix(statement)))
    return out


def check_default_privileges(ctx: Context, entry: DefaultPrivilege) -> list[Finding]:
    key = entry.key
    have: Grants = ctx.snapshot.privileges.default_grants(key)
    out: list[Finding] = []
    for grantee, privileges in entry.grants.items():
        expected, actual = frozenset(privileges), have.get(grantee, frozenset())
        obj = f"{key} grants to {grantee}"
        args = (key.role, key.schema, key.objects, grantee)
        if expected - actual:
            statement = alter_default_privileges(*args, expected - actual)
            message = f"new {key.objects} of {key.role} are not granted all the contract lists to {grantee}"
            out.append(
                finding("default_privilege.missing", K, str(key), obj, message, expected, actual, fix(statement))
            )
        if actual - expected:
            statement = alter_default_privileges(*args, actual - expected, revoke=True)
            message = f"new {key.objects} of {key.role} are granted {grantee} more than the contract lists"
            out.append(finding("default_privilege.extra", K, str(key), obj, message, expected, actual, fix(statement)))
    return out
