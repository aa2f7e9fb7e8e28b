"""Aggregates: present, with the state function and type, final, combine, serial and deserial functions,
initial condition and parallel safety the contract declares (compared whole: left out means the default)."""

from __future__ import annotations

from pgcontract.aggregatesql import create_aggregate, drop_aggregate
from pgcontract.catalog.aggregates import Aggregate, function_name
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import AggregateSpec, function_signature
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import InvalidName, QualifiedName
from pgcontract.routines import Parameter, parse_arguments, same_types
from pgcontract.sqlnorm import InvalidSql, parse_type

K = Kind.AGGREGATES
_FUNCTIONS = ("sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc")
_PLAIN = ("finalfunc_extra", "finalfunc_modify", "initcond", "parallel")
RULES = declare(K, "aggregate.missing", "aggregate.stype", *(f"aggregate.{a}" for a in _FUNCTIONS + _PLAIN))


def find_aggregate(ctx: Context, name: QualifiedName, types: tuple[str, ...]) -> Aggregate | None:
    return next((a for a in ctx.snapshot.aggregates if a.name == name and same_types(types, a.argument_types)), None)


def _same_function(expected: str | None, actual: str | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    try:
        return function_name(expected) == function_name(actual)
    except InvalidName:
        return expected == actual


def _same_type(expected: str, actual: str) -> bool:
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return expected == actual


def _recreate(name: QualifiedName, parameters: tuple[Parameter, ...], spec: AggregateSpec, found: Aggregate) -> Fix:
    """An aggregate has no ALTER for its definition: dropped and created again, in one fix. Held back while
    something depends on it (a view, a SQL-standard function body): the DROP would fail, and CASCADE would
    drop them too."""
    statements = [drop_aggregate(name, found.parameters), create_aggregate(name, parameters, spec)]
    if not found.dependents:
        return fix(statements)
    return fix(
        statements,
        Hazard.MANUAL,
        note=f"{', '.join(found.dependents)} depend on the aggregate: DROP AGGREGATE fails while they exist "
        "(CASCADE would drop them); re-create them with it in a migration, or use CREATE OR REPLACE AGGREGATE "
        "when the result type is unchanged",
    )


def check_aggregate(ctx: Context, signature: str, spec: AggregateSpec) -> list[Finding]:
    name, types, arguments = function_signature(signature)
    parameters = parse_arguments(arguments)
    found = find_aggregate(ctx, name, types)
    if found is None:
        create = fix(create_aggregate(name, parameters, spec))
        message = "aggregate is missing"
        return [finding("aggregate.missing", K, signature, signature, message, signature, "absent", create)]
    differences: list[tuple[str, str, object, object]] = []
    for attribute in _FUNCTIONS:
        want, have = getattr(spec, attribute), getattr(found, attribute)
        if not _same_function(want, have):
            differences.append((attribute, f"{attribute} differs", want, have))
    if not _same_type(spec.stype, found.stype):
        differences.append(("stype", "state type differs", spec.stype, found.stype))
    for attribute in _PLAIN:
        want, have = getattr(spec, attribute), getattr(found, attribute)
        if want != have:
            differences.append((attribute, f"{attribute} differs", want, have))
    if not differences:
        return []
    repair = _recreate(name, parameters, spec, found)
    return [
        finding(f"aggregate.{attribute}", K, signature, signature, text, want, have, repair)
        for attribute, text, want, have in differences
    ]
