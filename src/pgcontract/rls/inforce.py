"""What the catalog says about a table's policies, for the probes and their messages: the policies in
force for a command and role (so a failure names them), and the columns a policy compares with the caller
(``author_id = auth.uid()``), which an attacker fills with their own id to get past a side check."""

from __future__ import annotations

import re

from pgcontract.catalog.snapshot import Policy, Table

# What a policy compares with to recognise the caller, as pg_get_expr spells it.
_CALLER = r"(?:auth\.uid\(\)|CURRENT_USER|SESSION_USER|current_setting\('[^']+'(?:::text)?(?:,\s*true)?\))"
_IDENT = r"(\"(?:[^\"]|\"\")+\"|[A-Za-z_][\w$]*)"
# Column first (``author_id = ( SELECT auth.uid() AS uid)``, ``(owner = CURRENT_USER)``) or caller first.
_COLUMN_THEN_CALLER = re.compile(
    _IDENT + r"\s*=\s*[\s(]*(?:SELECT\s+)?[\s(]*(?:NULLIF\(\s*)?[\s(]*" + _CALLER, re.IGNORECASE
)
_CALLER_THEN_COLUMN = re.compile(_CALLER + r"[^=()]*\)*(?:\s*AS\s+\w+\)*)?\s*=\s*" + _IDENT, re.IGNORECASE)
_KEYWORDS = frozenset({"select", "and", "or", "not", "true", "false", "null", "current_user", "session_user"})


def applies(policy: Policy, command: str, roles: set[str] | None) -> bool:
    if policy.command not in ("all", command):
        return False
    return roles is None or "public" in policy.roles or bool(roles.intersection(policy.roles))


def policies_in_force(table: Table, command: str, roles: set[str] | None) -> str:
    """``"p" USING (...) WITH CHECK (...)`` for each policy applying to ``command`` and one of ``roles``
    (the acting role and the roles it is a member of)."""
    if not table.rls_enabled:
        return "row level security disabled"
    found = []
    for policy in sorted(table.policies.values(), key=lambda p: p.name):
        if not applies(policy, command, roles):
            continue
        text = f'"{policy.name}"' + ("" if policy.permissive else " (restrictive)")
        if policy.using is not None and command != "insert":
            text += f" USING {_wrapped(policy.using)}"
        if policy.with_check is not None and command in ("insert", "update"):
            text += f" WITH CHECK {_wrapped(policy.with_check)}"
        found.append(text)
    return "; ".join(found) if found else f"no {command.upper()} policy for this role"


def _wrapped(expression: str) -> str:
    return expression if expression.startswith("(") and expression.endswith(")") else f"({expression})"


def caller_columns(table: Table) -> frozenset[str]:
    """Columns of ``table`` that some policy compares with the caller's identity."""
    found: set[str] = set()
    for policy in table.policies.values():
        for expression in (policy.using, policy.with_check):
            if expression is None:
                continue
            for pattern in (_COLUMN_THEN_CALLER, _CALLER_THEN_COLUMN):
                for match in pattern.finditer(expression):
                    name = match.group(1)
                    # PostgreSQL prints a column named like a reserved word quoted: unquoted, it is the word.
                    if name.startswith('"'):
                        found.add(name[1:-1].replace('""', '"'))
                    elif name.lower() not in _KEYWORDS:
                        found.add(name)
    return frozenset(name for name in found if name in table.columns)
