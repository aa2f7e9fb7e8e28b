"""Aggregates: present, with the kind (normal, ordered-set with its direct arguments, hypothetical-set), the
state function and type, final, combine, serial and deserial functions, initial condition, moving-aggregate
options, sort operator and parallel safety the contract declares (compared whole: left out means the default)."""

from __future__ import annotations

from pgcontract.aggregatesql import create_aggregate, drop_aggregate
from pgcontract.catalog.aggregates import (
    Aggregate,
    AggregateArguments,
    aggregate_signature,
    function_name,
    operator_name,
)
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import AggregateSpec
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import InvalidName, QualifiedName
from pgcontract.routines import input_types, same_types
from pgcontract.sqlnorm import InvalidSql, parse_type

K = Kind.AGGREGATES
_FUNCTIONS = ("sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc", "msfunc", "minvfunc", "mfinalfunc")
_PLAIN = ("finalfunc_extra", "initcond", "parallel", "sspace", "msspace", "mfinalfunc_extra", "minitcond")
_MODIFY = ("finalfunc_modify", "mfinalfunc_modify")
_MORE = ("arguments", "hypothetical", "stype", "mstype", "sortop")
RULES = declare(K, "aggregate.missing", *(f"aggregate.{a}" for a in _MORE + _FUNCTIONS + _PLAIN + _MODIFY))


def find_aggregate(ctx: Context, name: QualifiedName, types: tuple[str, ...]) -> Aggregate | None:
    return next((a for a in ctx.snapshot.aggregates if a.name == name and same_types(types, a.argument_types)), None)


def _same_function(expected: str | None, actual: str | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    try:
        return function_name(expected) == function_name(actual)
    except InvalidName:
        return expected == actual


def _same_type(expected: str | None, actual: str | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return expected == actual


def _same_operator(expected: str | None, actual: str | None) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    try:
        return operator_name(expected) == operator_name(actual)
    except InvalidName:
        return expected == actual


def _shape(arguments: AggregateArguments) -> str:
    """Where ORDER BY splits the arguments, as types: ``double precision ORDER BY double precision``."""
    if arguments.ordered is None:
        return ", ".join(arguments.types) + " (a normal aggregate)"
    return arguments.text(lambda parameters: ", ".join(input_types(parameters)))


def _recreate(name: QualifiedName, arguments: AggregateArguments, spec: AggregateSpec, found: Aggregate) -> Fix:
    """An aggregate has no ALTER for its definition: dropped and created again, in one fix. Held back while
    something depends on it (a view, a SQL-standard function body): the DROP would fail, and CASCADE would
    drop them too."""
    statements = [drop_aggregate(name, found.shape), create_aggregate(name, arguments, spec)]
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
    name, arguments = aggregate_signature(signature)
    found = find_aggregate(ctx, name, arguments.types)
    if found is None:
        create = fix(create_aggregate(name, arguments, spec))
        message = "aggregate is missing"
        return [finding("aggregate.missing", K, signature, signature, message, signature, "absent", create)]
    differences: list[tuple[str, str, object, object]] = []
    want_shape, have_shape = _shape(arguments), _shape(found.shape)
    if want_shape != have_shape:
        text = "direct and aggregated arguments differ (ORDER BY)"
        differences.append(("arguments", text, want_shape, have_shape))
    if spec.hypothetical != found.hypothetical:
        differences.append(("hypothetical", "HYPOTHETICAL differs", spec.hypothetical, found.hypothetical))
    for attribute in _FUNCTIONS:
        want, have = getattr(spec, attribute), getattr(found, attribute)
        if not _same_function(want, have):
            differences.append((attribute, f"{attribute} differs", want, have))
    if not _same_type(spec.stype, found.stype):
        differences.append(("stype", "state type differs", spec.stype, found.stype))
    if not _same_type(spec.mstype, found.mstype):
        differences.append(("mstype", "moving state type differs", spec.mstype, found.mstype))
    if not _same_operator(spec.sortop, found.sortop):
        differences.append(("sortop", "sort operator differs", spec.sortop, found.sortop))
    for attribute in _PLAIN:
        want, have = getattr(spec, attribute), getattr(found, attribute)
        if want != have:
            differences.append((attribute, f"{attribute} differs", want, have))
    for attribute, want in zip(_MODIFY, spec.modify(arguments.ordered is not None), strict=True):
        have = getattr(found, attribute)
        # Without a moving implementation (MSFUNC), MFINALFUNC_MODIFY is kept but means nothing.
        moving = spec.msfunc is not None or found.msfunc is not None
        if want != have and (moving or attribute == "finalfunc_modify"):
            differences.append((attribute, f"{attribute} differs", want, have))
    if not differences:
        return []
    repair = _recreate(name, arguments, spec, found)
    return [
        finding(f"aggregate.{attribute}", K, signature, signature, text, want, have, repair)
        for attribute, text, want, have in differences
    ]
