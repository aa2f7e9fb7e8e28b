"""Functions the schema relies on (helpers that policies call) and roles the database must have."""

from __future__ import annotations

import json

from pglast import parser
from psycopg import sql

from pgcontract.catalog.snapshot import Function
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import FunctionSpec, RoleSpec, function_signature
from pgcontract.ddl import known_roles
from pgcontract.findings import Finding, Fix, Hazard, Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.routines import Parameter, same_returns, same_types
from pgcontract.sqlbody import is_sql_standard, sql_body_tree
from pgcontract.sqlgen import (
    alter_function,
    alter_role,
    create_function,
    create_role,
    function_execute,
    function_identity,
    function_options,
    grant_role,
)
from pgcontract.sqlsafe import UnsafeFragment

K = Kind.FUNCTIONS
RULES = declare(
    K,
    "function.missing",
    "function.kind",
    "function.returns",
    "function.arguments",
    "function.language",
    "function.volatility",
    "function.strict",
    "function.leakproof",
    "function.parallel",
    "function.security",
    "function.search_path",
    "function.settings",
    "function.body",
    "function.execute",
)
RULES += declare(Kind.ROLES, "role.missing", "role.login", "role.bypassrls", "role.member_of")


def find_function(ctx: Context, name: QualifiedName, types: tuple[str, ...]) -> Function | None:
    return next((f for f in ctx.snapshot.functions if f.name == name and same_types(types, f.argument_types)), None)


def normal_body(body: str, language: str) -> str:
    """SQL bodies compared as parse trees (layout and comments ignored), others as whitespace-collapsed text."""
    if is_sql_standard(body, language):
        try:
            return json.dumps(_without_locations(sql_body_tree(body)), sort_keys=True)
        except UnsafeFragment:
            pass
    elif language == "sql":
        try:
            tree = json.loads(parser.parse_sql_json(body))
        except parser.ParseError:
            pass
        else:
            return json.dumps(_without_locations(tree), sort_keys=True)
    # A JSON string, never equal to a parse tree's JSON: a body that is the text of the other's tree differs.
    return json.dumps(" ".join(body.split()))


# Offsets into the text, not meaning (an ARRAY[...] constructor's list_start and list_end among them).
_POSITIONS = frozenset(
    {"location", "stmt_location", "stmt_len", "list_start", "list_end", "rexpr_list_start", "rexpr_list_end"}
)


def _without_locations(node: object) -> object:
    if isinstance(node, dict):
        return {k: _without_locations(v) for k, v in node.items() if k not in _POSITIONS}
    if isinstance(node, list):
        return [_without_locations(v) for v in node]
    return node


def _same_parameters(expected: tuple[Parameter, ...], actual: tuple[Parameter, ...]) -> bool:
    return len(expected) == len(actual) and all(
        e.mode == a.mode
        and e.name == a.name
        and same_types((e.identity_type,), (a.identity_type,))
        and e.normal_default == a.normal_default
        for e, a in zip(expected, actual, strict=True)
    )


def replace_blocker(found: Function, spec: FunctionSpec, parameters: tuple[Parameter, ...]) -> str | None:
    """Why CREATE OR REPLACE cannot turn ``found`` into ``spec`` (PostgreSQL refuses to change these in
    place), or None when it can."""
    if found.kind != spec.kind:
        return f"a {found.kind} cannot become a {spec.kind}"
    if not same_returns(spec.returns, found.returns):
        return "CREATE OR REPLACE cannot change the result type"
    have_inputs = [p for p in found.parameters if p.is_input]
    want_inputs = [p for p in parameters if p.is_input]
    for have, want in zip(have_inputs, want_inputs, strict=False):
        if have.name and have.name != want.name:
            return f"CREATE OR REPLACE cannot rename the input parameter {have.name!r}"
    have_out = [(p.name, p.identity_type) for p in found.parameters if p.mode in ("out", "inout")]
    want_out = [(p.name, p.identity_type) for p in parameters if p.mode in ("out", "inout")]
    if have_out != want_out:
        return "CREATE OR REPLACE cannot change the OUT parameters (they make the result type)"
    have_defaults = sum(p.default is not None for p in have_inputs)
    want_defaults = sum(p.default is not None for p in want_inputs)
    if want_defaults < have_defaults:
        return "CREATE OR REPLACE cannot remove parameter defaults"
    return None


_DROP_NOTE = (
    "{why}: the function must be dropped and created again, which fails while policies, column defaults or "
    "other functions depend on it (DROP ... CASCADE would drop them too); do it in a migration"
)


def _replace(
    ctx: Context, name: QualifiedName, spec: FunctionSpec, key_parameters: tuple[Parameter, ...], found: Function
) -> Fix | None:
    """CREATE OR REPLACE of an existing function, keeping what the contract does not check as it is
    (argument names and defaults, search_path, settings); held back when PostgreSQL cannot replace it."""
    if spec.body is None:
        return None
    parameters = key_parameters if spec.arguments is not None else found.parameters
    kept = spec.model_copy(
        update={
            "search_path": spec.search_path if spec.search_path is not None else found.search_path,
            "settings": spec.settings if spec.settings is not None else found.other_settings,
            "execute": None,
        }
    )
    statement = create_function(name, parameters, kept)
    why = replace_blocker(found, spec, parameters)
    if why is None:
        return fix(statement)
    drop = sql.SQL("DROP {} {};").format(sql.SQL(found.kind.upper()), function_identity(name, found.parameters))
    created = create_function(name, parameters, spec, existing_roles(ctx))
    return fix([drop, created], Hazard.MANUAL, note=_DROP_NOTE.format(why=why))


def existing_roles(ctx: Context) -> set[str]:
    """Roles the contract expects that exist: EXECUTE is revoked from them on a new function unless listed."""
    return known_roles(ctx.contract) & set(ctx.snapshot.roles)


def _alter(name: QualifiedName, found: Function, clause: str | sql.Composable) -> Fix:
    action = sql.SQL(clause) if isinstance(clause, str) else clause
    return fix(alter_function(name, found.kind, found.parameters, action))


def _settings_action(expected: dict[str, str], actual: dict[str, str]) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.SQL("RESET {}").format(sql.SQL(".").join(sql.Identifier(p) for p in k.split(".")))
        for k in sorted(set(actual) - set(expected))
    ]
    spec = FunctionSpec(returns="void", settings={k: v for k, v in expected.items() if actual.get(k) != v})
    parts += function_options(spec)[2:]
    return sql.SQL(" ").join(parts)


def check_function(ctx: Context, signature: str, spec: FunctionSpec) -> list[Finding]:
    name, types, key_arguments = function_signature(signature)
    parameters = spec.parameters(key_arguments)
    found = find_function(ctx, name, types)
    what = spec.kind
    if found is None:
        create = fix(create_function(name, parameters, spec, existing_roles(ctx))) if spec.body is not None else None
        return [finding("function.missing", K, signature, signature, f"{what} is missing", signature, "absent", create)]
    replace = _replace(ctx, name, spec, parameters, found)
    differences: list[tuple[str, str, object, object, Fix | None]] = []
    if spec.kind != found.kind:
        differences.append(("function.kind", "kind differs", spec.kind, found.kind, replace))
    if spec.kind == found.kind and not same_returns(spec.returns, found.returns):
        differences.append(("function.returns", "result type differs", spec.returns, found.returns, replace))
    if spec.arguments is not None and not _same_parameters(parameters, found.parameters):
        differences.append(("function.arguments", "argument list differs", spec.arguments, found.arguments, replace))
    if spec.language != found.language:
        differences.append(("function.language", "language differs", spec.language, found.language, replace))
    if spec.kind == "function" == found.kind:
        if spec.volatility != found.volatility:
            differences.append(
                (
                    "function.volatility",
                    "volatility differs",
                    spec.volatility,
                    found.volatility,
                    _alter(name, found, spec.volatility.upper()),
                )
            )
        for attribute, want, have, on, off in (
            ("strict", spec.strict, found.strict, "STRICT", "CALLED ON NULL INPUT"),
            ("leakproof", spec.leakproof, found.leakproof, "LEAKPROOF", "NOT LEAKPROOF"),
        ):
            if want != have:
                differences.append(
                    (
                        f"function.{attribute}",
                        f"{attribute} differs",
                        on if want else off,
                        on if have else off,
                        _alter(name, found, on if want else off),
                    )
                )
        if spec.parallel != found.parallel:
            differences.append(
                (
                    "function.parallel",
                    "parallel safety differs",
                    f"parallel {spec.parallel}",
                    f"parallel {found.parallel}",
                    _alter(name, found, f"PARALLEL {spec.parallel.upper()}"),
                )
            )
    definer = spec.security == "definer"
    if definer != found.security_definer:
        differences.append(
            (
                "function.security",
                "SECURITY differs",
                f"security {spec.security}",
                "security definer" if found.security_definer else "security invoker",
                _alter(name, found, "SECURITY DEFINER" if definer else "SECURITY INVOKER"),
            )
        )
    if spec.search_path is not None and _path(spec.search_path) != _path(found.search_path):
        differences.append(
            (
                "function.search_path",
                "search_path differs",
                spec.search_path,
                found.search_path if found.search_path is not None else "(not fixed)",
                _alter(name, found, function_options(FunctionSpec(returns="void", search_path=spec.search_path))[2]),
            )
        )
    if spec.settings is not None and spec.settings != found.other_settings:
        differences.append(
            (
                "function.settings",
                "settings differ",
                _settings(spec.settings),
                _settings(found.other_settings),
                _alter(name, found, _settings_action(spec.settings, found.other_settings)),
            )
        )
    if spec.body is not None and normal_body(spec.body, spec.language) != normal_body(found.body, found.language):
        differences.append(("function.body", "function body differs", spec.body.strip(), found.body.strip(), replace))
    elif spec.body is not None and is_sql_standard(spec.body, spec.language) and not found.sql_standard:
        # The same text as a string (AS $$ RETURN ... $$) is no SQL-standard body: PostgreSQL never ran it. Not the
        # other way round: a catalog's SQL-standard body compares as its parse tree, unlike any contract string body.
        text = "function body is a string body (AS $$ ... $$), not a SQL-standard body"
        differences.append(("function.body", text, spec.body.strip(), f"AS $$ {found.body.strip()} $$", replace))
    out = [
        finding(rule, K, signature, signature, text, want, have, fix_) for rule, text, want, have, fix_ in differences
    ]
    if spec.execute is not None:
        out += _execute(name, signature, spec, found)
    return out


def _settings(values: dict[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in sorted(values.items())]


def _execute(name: QualifiedName, signature: str, spec: FunctionSpec, found: Function) -> list[Finding]:
    expected = set(spec.execute or ())
    actual = set(found.executors) - {found.owner}
    if expected == actual:
        return []
    problems = []
    if actual - expected:
        problems.append(f"other roles may execute it ({', '.join(sorted(actual - expected))})")
    if expected - actual:
        problems.append(f"roles lack EXECUTE ({', '.join(sorted(expected - actual))})")
    statements = function_execute(name, found.kind, found.parameters, expected, actual)
    return [
        finding(
            "function.execute",
            K,
            signature,
            signature,
            "; ".join(problems),
            sorted(expected),
            sorted(actual),
            fix(statements),
        )
    ]


def _path(value: str | None) -> str | None:
    if value is None:
        return None
    parts = [p.strip().strip('"') for p in value.split(",")]
    return ", ".join(p for p in parts if p and p != "''")


def check_role(ctx: Context, name: str, spec: RoleSpec) -> list[Finding]:
    found = ctx.snapshot.roles.get(name)
    if found is None:
        statements = [create_role(name, spec), *(grant_role(g, name) for g in spec.member_of)]
        return [finding("role.missing", Kind.ROLES, name, name, "role is missing", name, "absent", fix(statements))]
    out = []
    for attribute, want, have in (("login", spec.login, found.login), ("bypassrls", spec.bypassrls, found.bypassrls)):
        if want is not None and want != have:
            keyword = ("" if want else "NO") + attribute.upper()
            out.append(
                finding(
                    f"role.{attribute}",
                    Kind.ROLES,
                    name,
                    name,
                    f"role {attribute} differs",
                    keyword,
                    ("" if have else "NO") + attribute.upper(),
                    fix(alter_role(name, keyword)),
                )
            )
    missing = sorted(set(spec.member_of) - found.member_of)
    if missing:
        out.append(
            finding(
                "role.member_of",
                Kind.ROLES,
                name,
                name,
                "role lacks memberships",
                sorted(spec.member_of),
                sorted(found.member_of),
                fix([grant_role(g, name) for g in missing]),
            )
        )
    return out
