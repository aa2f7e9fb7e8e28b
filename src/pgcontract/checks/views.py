"""Views and materialized views: the query (normalised, as other expressions), output columns, options,
privileges and a materialized view's indexes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from psycopg import sql

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.checks.indexes import check_indexes
from pgcontract.contract.model import Table, ViewSpec
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import alter_view_option, create_view, drop_view, grant_privileges, view_steps
from pgcontract.sqlnorm import InvalidSql, normalize_query, parse_type

K = Kind.VIEWS
RULES = declare(
    K,
    "view.missing",
    "view.kind",
    "view.definition",
    "view.columns",
    "view.security_invoker",
    "view.security_barrier",
    "view.check_option",
    "view.grants",
)

_POPULATE = (
    "creating a materialized view runs its query and stores the result inside the repair's transaction, "
    "which can take long; create it in a migration (or WITH NO DATA, then REFRESH MATERIALIZED VIEW)"
)
_REPLACE = (
    "{why}: the view must be dropped and created again, which fails while other views depend on it, drops "
    "its triggers and loses grants the contract does not list; do it in a migration"
)


def find_view(ctx: Context, name: QualifiedName) -> snap.View | None:
    return next((v for v in ctx.snapshot.views if v.name == name), None)


def _what(materialized: bool) -> str:
    return "materialized view" if materialized else "view"


def _created(name: QualifiedName, spec: ViewSpec) -> Fix | None:
    if spec.definition is None:
        return None
    if spec.materialized:
        return fix(view_steps(name, spec), Hazard.LONG_LOCK, note=_POPULATE)
    return fix(view_steps(name, spec))


def _columns_text(columns: dict[str, str] | tuple[tuple[str, str], ...]) -> list[str]:
    pairs = columns.items() if isinstance(columns, dict) else columns
    return [f"{n} {t}" for n, t in pairs]


def _same_type(expected: str, actual: str) -> bool:
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return expected == actual


def _same_columns(expected: dict[str, str], actual: tuple[tuple[str, str], ...]) -> bool:
    return len(expected) == len(actual) and all(
        en == an and _same_type(et, at) for (en, et), (an, at) in zip(expected.items(), actual, strict=True)
    )


def _replaceable(spec: ViewSpec, found: snap.View) -> str | None:
    """Why CREATE OR REPLACE VIEW cannot make ``spec`` of ``found`` (it keeps every existing column, with its
    name and type, in place; new ones may only be added at the end), or None when it can."""
    if spec.materialized or found.materialized:
        return "a materialized view cannot be replaced in place"
    if spec.columns is None:
        return None
    expected = list(spec.columns.items())
    if len(expected) < len(found.columns):
        return "CREATE OR REPLACE VIEW cannot drop columns"
    for (en, et), (an, at) in zip(expected, found.columns, strict=False):
        if en != an:
            return f"CREATE OR REPLACE VIEW cannot rename the column {an!r}"
        if not _same_type(et, at):
            return f"CREATE OR REPLACE VIEW cannot change the type of the column {an!r}"
    return None


def _replace(name: QualifiedName, spec: ViewSpec, found: snap.View) -> Fix | None:
    if spec.definition is None:
        return None
    why = _replaceable(spec, found)
    if why is None:
        return fix(create_view(name, spec))
    if spec.materialized and found.materialized:
        note = f"{_POPULATE}; the old one must be dropped first, losing grants the contract does not list"
        return fix([drop_view(name, True), *view_steps(name, spec)], Hazard.LONG_LOCK, Hazard.MANUAL, note=note)
    steps = [drop_view(name, found.materialized), *view_steps(name, spec)]
    return fix(steps, Hazard.MANUAL, note=_REPLACE.format(why=why))


def check_view(ctx: Context, name: QualifiedName, spec: ViewSpec) -> list[Finding]:
    found = find_view(ctx, name)
    what = _what(spec.materialized)
    if found is None:
        return [finding("view.missing", K, name, str(name), f"{what} is missing", what, "absent", _created(name, spec))]
    if spec.materialized != found.materialized:
        have = _what(found.materialized)
        return [finding("view.kind", K, name, str(name), "kind differs", what, have, _replace(name, spec, found))]
    out: list[Finding] = []

    def differs(rule: str, text: str, want: object, have: object, fix_: Fix | None) -> None:
        out.append(finding(rule, K, name, str(name), text, want, have, fix_))

    replace = _replace(name, spec, found)
    if spec.definition is not None and not _same_query(ctx, spec.definition, found.definition):
        differs("view.definition", "query differs", spec.definition, found.definition, replace)
    if spec.columns is not None and not _same_columns(spec.columns, found.columns):
        differs("view.columns", "columns differ", _columns_text(spec.columns), _columns_text(found.columns), replace)
    for option, want_flag, have_flag in (
        ("security_invoker", spec.security_invoker, found.security_invoker),
        ("security_barrier", spec.security_barrier, found.security_barrier),
    ):
        if want_flag != have_flag:
            alter = fix(alter_view_option(name, option, "true" if want_flag else None))
            differs(f"view.{option}", f"{option} differs", f"{option}={want_flag}", f"{option}={have_flag}", alter)
    if spec.check_option != found.check_option:
        alter = fix(alter_view_option(name, "check_option", spec.check_option))
        differs("view.check_option", "check option differs", spec.check_option, found.check_option, alter)
    if spec.grants is not None:
        out += _grants(name, spec.grants, found)
    if spec.indexes:
        as_table = snap.Table(name, "m", False, False, found.owner, True, indexes=found.index_map)
        indexes = check_indexes(ctx, name, Table(indexes=spec.indexes), as_table)
        out += [dataclasses.replace(f, kind=K) for f in indexes]
    return out


def _same_query(ctx: Context, expected: str, actual: str) -> bool:
    # The very text only: equal once spaces are squeezed is not equal ('a  b' is another constant than 'a b').
    if expected == actual:
        return True
    try:
        return normalize_query(expected, ctx.snapshot.columns_of) == normalize_query(actual, ctx.snapshot.columns_of)
    except InvalidSql:
        return False


def _grants(name: QualifiedName, grants: Mapping[str, Sequence[str]], found: snap.View) -> list[Finding]:
    have = found.grant_map
    out = []
    for role, privileges in grants.items():
        expected, actual = set(privileges), set(have.get(role, frozenset()))
        if expected != actual:
            statements: list[sql.Composable] = list(grant_privileges(name, role, expected, actual))
            obj = member(name, f"grants to {role}")
            out.append(
                finding("view.grants", K, name, obj, f"{role}'s privileges differ", expected, actual, fix(statements))
            )
    return out
