"""Functions the schema relies on (helpers that policies call) and roles the database must have."""

from __future__ import annotations

import json

from pglast import parser

from pgcontract.catalog.snapshot import Function
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import FunctionSpec, RoleSpec, function_signature
from pgcontract.findings import Finding, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import alter_role, create_function, create_role, function_execute, grant_role
from pgcontract.sqlnorm import InvalidSql, SqlType, parse_type

K = Kind.FUNCTIONS


def _types(texts: tuple[str, ...]) -> list[SqlType | str]:
    out: list[SqlType | str] = []
    for text in texts:
        try:
            out.append(parse_type(text))
        except InvalidSql:
            out.append(text)
    return out


def _same_arguments(expected: tuple[str, ...], actual: tuple[str, ...]) -> bool:
    want, have = _types(expected), _types(actual)
    return len(want) == len(have) and all(
        w.matches(h) if isinstance(w, SqlType) and isinstance(h, SqlType) else w == h
        for w, h in zip(want, have, strict=True)
    )


def find_function(ctx: Context, name: QualifiedName, types: tuple[str, ...]) -> Function | None:
    return next(
        (f for f in ctx.snapshot.functions if f.name == name and _same_arguments(types, f.argument_types)), None
    )


def normal_body(body: str, language: str) -> str:
    """SQL bodies compared as parse trees (layout and comments ignored), others as whitespace-collapsed text."""
    if language == "sql":
        try:
            tree = json.loads(parser.parse_sql_json(body))
        except parser.ParseError:
            pass
        else:
            return json.dumps(_without_locations(tree), sort_keys=True)
    return " ".join(body.split())


def _without_locations(node: object) -> object:
    if isinstance(node, dict):
        return {k: _without_locations(v) for k, v in node.items() if k not in ("location", "stmt_location", "stmt_len")}
    if isinstance(node, list):
        return [_without_locations(v) for v in node]
    return node


def _same_returns(expected: str, actual: str) -> bool:
    try:
        return parse_type(expected).matches(parse_type(actual))
    except InvalidSql:
        return " ".join(expected.lower().split()) == " ".join(actual.lower().split())


def check_function(ctx: Context, signature: str, spec: FunctionSpec) -> list[Finding]:
    name, types, arguments = function_signature(signature)
    found = find_function(ctx, name, types)
    create = fix(create_function(name, arguments, spec)) if spec.body is not None else None
    if found is None:
        return [
            finding("function.missing", K, signature, signature, "function is missing", signature, "absent", create)
        ]
    differences: list[tuple[str, str, object, object]] = []
    if not _same_returns(spec.returns, found.returns):
        differences.append(("function.returns", "result type differs", spec.returns, found.returns))
    if spec.language != found.language:
        differences.append(("function.language", "language differs", spec.language, found.language))
    if spec.volatility != found.volatility:
        differences.append(("function.volatility", "volatility differs", spec.volatility, found.volatility))
    definer = spec.security == "definer"
    if definer != found.security_definer:
        differences.append(
            (
                "function.security",
                "SECURITY differs",
                f"security {spec.security}",
                "security definer" if found.security_definer else "security invoker",
            )
        )
    if spec.search_path is not None and _path(spec.search_path) != _path(found.search_path):
        differences.append(
            (
                "function.search_path",
                "search_path differs",
                spec.search_path,
                found.search_path if found.search_path is not None else "(not fixed)",
            )
        )
    if spec.body is not None and normal_body(spec.body, spec.language) != normal_body(found.body, found.language):
        differences.append(("function.body", "function body differs", spec.body.strip(), found.body.strip()))
    out = [finding(rule, K, signature, signature, text, want, have, create) for rule, text, want, have in differences]
    if spec.execute is not None:
        expected = set(spec.execute)
        actual = set(found.executors) - {found.owner}
        if expected != actual:
            statements = function_execute(name, arguments, expected, actual)
            out.append(
                finding(
                    "function.execute",
                    K,
                    signature,
                    signature,
                    "other roles may execute it",
                    sorted(expected),
                    sorted(actual),
                    fix(statements),
                )
            )
    return out


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
