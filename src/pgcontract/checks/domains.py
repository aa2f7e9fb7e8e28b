"""Domains: present, with their base type, NOT NULL, default and exactly their named CHECK constraints."""

from __future__ import annotations

from psycopg import sql

from pgcontract.catalog.typekinds import Domain
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.checks.typeuse import columns_using
from pgcontract.contract.model import DomainSpec
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlnorm import InvalidSql, parse_type
from pgcontract.sqlsafe import statement
from pgcontract.typesql import (
    add_domain_check,
    create_domain,
    domain_default,
    domain_not_null,
    drop_domain_check,
)

K = Kind.DOMAINS
RULES = declare(
    K,
    "domain.missing",
    "domain.type",
    "domain.nullable",
    "domain.default",
    "domain.check_missing",
    "domain.check",
    "domain.check_extra",
)


def check_domain(ctx: Context, name: QualifiedName, spec: DomainSpec) -> list[Finding]:
    found = ctx.snapshot.domains.get(name)
    if found is None:
        repair = fix(create_domain(name, spec))
        return [finding("domain.missing", K, name, str(name), "domain is missing", spec.type, "absent", repair)]
    used = columns_using(ctx.snapshot, name)
    out: list[Finding] = []
    if not _same_type(spec.type, found.type):
        out.append(_type_changed(name, spec, found, used))
    if spec.nullable == found.not_null:
        if spec.nullable:
            repair = fix(domain_not_null(name, False))
            out.append(
                finding(
                    "domain.nullable", K, name, str(name), "domain must accept NULL", "nullable", "NOT NULL", repair
                )
            )
        else:
            repair = fix(
                domain_not_null(name, True),
                Hazard.LONG_LOCK,
                note="checks every stored value of the columns using the domain "
                f"({', '.join(used) or 'none found'}) under a lock that blocks writes; fails if a NULL is stored",
            )
            out.append(
                finding(
                    "domain.nullable", K, name, str(name), "domain must be NOT NULL", "NOT NULL", "nullable", repair
                )
            )
    if not ctx.same_expr(spec.default, found.default, None):
        text = "default is missing" if found.default is None else "default differs"
        repair = fix(domain_default(name, spec.default))
        out.append(finding("domain.default", K, name, str(name), text, spec.default, found.default, repair))
    out += _checks(ctx, name, spec, found, used)
    return out


def _same_type(expected: str, actual: str) -> bool:
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return expected == actual


def _type_changed(name: QualifiedName, spec: DomainSpec, found: Domain, used: list[str]) -> Finding:
    repair = fix(
        [
            statement("DropStmt", None, sql.SQL("DROP DOMAIN {};").format(sql.Identifier(*name))),
            create_domain(name, spec),
        ],
        Hazard.MANUAL,
        Hazard.DATA_LOSS,
        note="a domain's base type cannot change in place: it must be dropped and created again, which fails while "
        f"columns use it ({', '.join(used) or 'none found'}) and would lose their values",
    )
    return finding("domain.type", K, name, str(name), "domain has another base type", spec.type, found.type, repair)


def _scanning(statements: sql.Composable | list[sql.Composable], used: list[str], fails: str) -> Fix:
    """A fix that checks every stored value of the domain's columns: held while columns use it."""
    if not used:
        return fix(statements)
    return fix(
        statements,
        Hazard.LONG_LOCK,
        note=f"checks every stored value of the columns using the domain ({', '.join(used)}) while holding a lock "
        f"that blocks writes to their tables; {fails}",
    )


def _checks(ctx: Context, name: QualifiedName, spec: DomainSpec, found: Domain, used: list[str]) -> list[Finding]:
    out: list[Finding] = []
    have = dict(found.checks)
    for constraint, expression in spec.checks.items():
        obj = member(name, constraint)
        existing = have.get(constraint)
        fails = "fails if a stored value violates it"
        if existing is None:
            repair = _scanning(add_domain_check(name, constraint, expression), used, fails)
            present = [f"{n}: {e}" for n, e in found.checks] or "no check constraints"
            out.append(
                finding("domain.check_missing", K, name, obj, "domain check is missing", expression, present, repair)
            )
        elif not ctx.same_expr(expression, existing, None):
            statements = [drop_domain_check(name, constraint), *add_domain_check(name, constraint, expression)]
            repair = _scanning(statements, used, fails)
            out.append(finding("domain.check", K, name, obj, "domain check differs", expression, existing, repair))
    for constraint, expression in found.checks:
        if constraint not in spec.checks:
            repair = fix(drop_domain_check(name, constraint))
            obj = member(name, constraint)
            out.append(
                finding(
                    "domain.check_extra",
                    K,
                    name,
                    obj,
                    "domain has a check the contract does not list",
                    "absent",
                    expression,
                    repair,
                )
            )
    return out
