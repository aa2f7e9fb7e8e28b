"""Composite types: present, with exactly their attributes, in order, each with its type and collation."""

from __future__ import annotations

from psycopg import sql

from pgcontract.catalog.typekinds import Attribute
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.checks.typeuse import columns_using
from pgcontract.contract.model import CompositeAttribute, CompositeTypeSpec
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import InvalidName, QualifiedName, split_parts
from pgcontract.sqlgen import ident
from pgcontract.sqlnorm import InvalidSql, parse_type
from pgcontract.sqlsafe import statement
from pgcontract.typesql import add_attribute, alter_attribute, create_composite_type, drop_attribute

K = Kind.COMPOSITE_TYPES
RULES = declare(
    K,
    "composite_type.missing",
    "composite_type.attribute_missing",
    "composite_type.attribute_type",
    "composite_type.attribute_collation",
    "composite_type.attribute_extra",
    "composite_type.attribute_order",
)


def _describe(spec: CompositeAttribute) -> str:
    return spec.type + (f" COLLATE {spec.collation}" if spec.collation is not None else "")


def _describe_found(found: Attribute) -> str:
    return found.type + (f" COLLATE {found.collation}" if found.collation is not None else "")


def _collation_key(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    try:
        parts = split_parts(text)
    except InvalidName:
        return (text,)
    return ("pg_catalog", *parts) if len(parts) == 1 else tuple(parts)


def _same_type(expected: str, actual: str) -> bool:
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return expected == actual


def check_composite_type(ctx: Context, name: QualifiedName, spec: CompositeTypeSpec) -> list[Finding]:
    found = ctx.snapshot.composite_types.get(name)
    if found is None:
        repair = fix(create_composite_type(name, spec))
        expected = [f"{a} {_describe(s)}" for a, s in spec.attributes.items()]
        return [
            finding(
                "composite_type.missing", K, name, str(name), "composite type is missing", expected, "absent", repair
            )
        ]
    used = columns_using(ctx.snapshot, name)
    have = {a.name: a for a in found.attributes}
    out: list[Finding] = []
    wanted = list(spec.attributes)
    present_order = [a.name for a in found.attributes if a.name in spec.attributes]
    for position, (attribute, attribute_spec) in enumerate(spec.attributes.items()):
        obj = member(name, attribute)
        existing = have.get(attribute)
        if existing is None:
            # ADD ATTRIBUTE appends: right only when every attribute after it in the contract is missing too.
            later_present = any(a in have for a in wanted[position + 1 :])
            repair = _appended(name, attribute, attribute_spec, later_present)
            out.append(
                finding(
                    "composite_type.attribute_missing",
                    K,
                    name,
                    obj,
                    "attribute is missing",
                    f"{attribute} {_describe(attribute_spec)}",
                    "absent",
                    repair,
                )
            )
            continue
        same_type = _same_type(attribute_spec.type, existing.type)
        same_collation = _collation_key(attribute_spec.collation) == _collation_key(existing.collation)
        if not same_type or not same_collation:
            rule, text = (
                ("composite_type.attribute_type", "attribute has another type")
                if not same_type
                else ("composite_type.attribute_collation", "attribute has another collation")
            )
            repair = _in_place(alter_attribute(name, attribute, attribute_spec), used)
            out.append(finding(rule, K, name, obj, text, _describe(attribute_spec), _describe_found(existing), repair))
    for existing in found.attributes:
        if existing.name not in spec.attributes:
            obj = member(name, existing.name)
            repair = _dropped(name, existing.name, used)
            out.append(
                finding(
                    "composite_type.attribute_extra",
                    K,
                    name,
                    obj,
                    "attribute the contract does not list",
                    "absent",
                    f"{existing.name} {_describe_found(existing)}",
                    repair,
                )
            )
    expected_order = [a for a in wanted if a in have]
    if present_order != expected_order:
        out.append(
            finding(
                "composite_type.attribute_order",
                K,
                name,
                str(name),
                "attributes are in another order",
                expected_order,
                present_order,
                _recreated(name, spec, used),
            )
        )
    return out


def _recreated(name: QualifiedName, spec: CompositeTypeSpec, used: list[str]) -> Fix:
    return fix(
        [statement("DropStmt", None, sql.SQL("DROP TYPE {};").format(ident(name))), create_composite_type(name, spec)],
        Hazard.MANUAL,
        Hazard.DATA_LOSS,
        note="attributes cannot be reordered in place: the type must be dropped and created again, which fails "
        f"while columns or functions use it (columns: {', '.join(used) or 'none found'})",
    )


def _appended(name: QualifiedName, attribute: str, spec: CompositeAttribute, later_present: bool) -> Fix:
    if not later_present:
        return fix(add_attribute(name, attribute, spec))
    return fix(
        add_attribute(name, attribute, spec),
        Hazard.MANUAL,
        note="ADD ATTRIBUTE appends at the end, and the contract places it before attributes that exist: "
        "the order would still differ (re-create the type to get the contract's order)",
    )


def _in_place(statement: sql.Composable, used: list[str]) -> Fix:
    if not used:
        return fix(statement)
    return fix(
        statement,
        Hazard.MANUAL,
        Hazard.LONG_LOCK,
        note=f"columns use the type ({', '.join(used)}): PostgreSQL refuses to change an attribute then, unless "
        "CASCADE, which rewrites those tables under an exclusive lock",
    )


def _dropped(name: QualifiedName, attribute: str, used: list[str]) -> Fix:
    return fix(
        drop_attribute(name, attribute),
        Hazard.DATA_LOSS,
        note="the attribute's values stored in columns of the type "
        f"({', '.join(used) or 'none found'}) would be lost; functions using it may break",
    )
