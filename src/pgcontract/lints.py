"""Security lints that need no contract: pure functions over the snapshot, each with a stable id, a
default level and a remediation. A contract can change a rule's level, ignore it, or ignore objects:

    lints:
      unindexed_foreign_keys: ignore
      rls_enabled_no_policy: {level: warning, ignore: [public.audit_log]}
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pglast import parser
from psycopg import sql

from pgcontract.catalog.snapshot import Constraint, Snapshot, Table
from pgcontract.contract.model import Contract, Index
from pgcontract.findings import Finding, Fix, Kind, Level, declare
from pgcontract.names import PLATFORM_SCHEMAS, QualifiedName, quote_part
from pgcontract.rls import personal
from pgcontract.sqlgen import alter_function, create_index, enable_rls, grant, ident, render
from pgcontract.sqlnorm import normalize_expr

# Roles through which the API reaches the database (Supabase's); PUBLIC reaches everyone.
API_ROLES = frozenset({"anon", "authenticated", "public"})
_AUTH_CALLS = {("auth", "uid"), ("auth", "jwt"), ("auth", "role"), ("auth", "email"), ("current_setting",)}
_TRUE = normalize_expr("true")


@dataclass(frozen=True)
class Hit:
    object: str
    message: str
    expected: str
    actual: str
    fix_sql: str | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    title: str
    remediation: str
    find: Callable[[Snapshot, frozenset[str]], Iterable[Hit]]


def _tables(snapshot: Snapshot) -> Iterator[Table]:
    return (t for t in snapshot.tables.values() if t.in_scope and t.name.schema not in PLATFORM_SCHEMAS)


def _reachable(table: Table, roles: frozenset[str]) -> list[str]:
    """The roles holding a privilege on the table, or on one of its columns: ``GRANT SELECT (email)`` lets
    a role read that column of every row as surely as a table privilege does."""
    return sorted(r for r in roles if table.grants.get(r) or any(table.column_grants.get(r, {}).values()))


def rls_disabled_in_public(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        reach = _reachable(table, roles)
        if not table.rls_enabled and reach:
            yield Hit(
                str(table.name),
                f"RLS is disabled on a table {', '.join(reach)} can reach",
                "RLS enabled",
                "RLS disabled",
                render(enable_rls(table.name)),
            )


def policy_exists_rls_disabled(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        if table.policies and not table.rls_enabled:
            names = ", ".join(sorted(table.policies))
            yield Hit(
                str(table.name),
                f"policies ({names}) exist but RLS is disabled: they do nothing",
                "RLS enabled",
                "RLS disabled",
                render(enable_rls(table.name)),
            )


def rls_enabled_no_policy(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        if table.rls_enabled and not table.policies:
            yield Hit(
                str(table.name),
                "RLS is enabled but no policy exists: no role but the owner sees a row",
                "at least one policy",
                "no policy",
            )


def security_definer_view(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for view in snapshot.views:
        if view.name.schema in PLATFORM_SCHEMAS or view.security_invoker or not view.rls_tables:
            continue
        readers = sorted(view.readers & roles)
        if readers:
            fix = sql.SQL("ALTER VIEW {} SET (security_invoker = true);").format(ident(view.name))
            yield Hit(
                str(view.name),
                f"view runs with its owner's rights and exposes RLS tables "
                f"({', '.join(view.rls_tables)}) to {', '.join(readers)}",
                "security_invoker = true",
                "security_invoker = false",
                render(fix),
            )


def security_definer_search_path(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for function in snapshot.functions:
        if function.name.schema in PLATFORM_SCHEMAS or not function.security_definer or function.fixed_search_path:
            continue
        callers = sorted(function.executors & roles)
        if callers:
            fix = alter_function(function.name, function.kind, function.parameters, sql.SQL("SET search_path = ''"))
            yield Hit(
                function.signature,
                f"SECURITY DEFINER function without a fixed search_path, executable by {', '.join(callers)}",
                "SET search_path = ...",
                "search_path taken from the caller",
                render(fix),
            )


@lru_cache(maxsize=4096)
def _direct_auth_calls(expression: str) -> tuple[str, ...]:
    """auth.uid() and friends called per row: not wrapped in a sub-select (which is evaluated once).
    Cached by text: schemas repeat the same policy expressions on every table (parsing each again was the
    lints' main cost)."""
    try:
        tree = json.loads(parser.parse_sql_json(f"SELECT {expression}"))
    except parser.ParseError:
        return ()
    found: list[str] = []

    def walk(node: Any, in_subselect: bool) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item, in_subselect)
        elif isinstance(node, dict):
            if "SubLink" in node:
                walk(node["SubLink"], True)
                return
            call = node.get("FuncCall")
            if call is not None and not in_subselect:
                names = tuple(n["String"]["sval"] for n in call["funcname"] if "String" in n)
                names = names[1:] if names[:1] == ("pg_catalog",) else names
                if names in _AUTH_CALLS:
                    found.append(".".join(names) + "()")
            for value in node.values():
                walk(value, in_subselect)

    walk(tree["stmts"][0]["stmt"]["SelectStmt"]["targetList"], False)
    return tuple(found)


def auth_rls_initplan(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        for policy in table.policies.values():
            calls = sorted({c for e in (policy.using, policy.with_check) if e for c in _direct_auth_calls(e)})
            if calls:
                yield Hit(
                    f"{table.name}.{quote_part(policy.name)}",
                    f"{', '.join(calls)} is evaluated for every row",
                    f"(select {calls[0]})",
                    calls[0],
                )


def multiple_permissive_policies(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        by_role_command: dict[tuple[str, str], list[str]] = defaultdict(list)
        for policy in table.policies.values():
            if not policy.permissive:
                continue
            commands = ("select", "insert", "update", "delete") if policy.command == "all" else (policy.command,)
            for role in policy.roles:
                for command in commands:
                    by_role_command[(role, command)].append(policy.name)
        for (role, command), names in sorted(by_role_command.items()):
            if len(names) > 1:
                yield Hit(
                    f"{table.name} ({role}, {command})",
                    f"{len(names)} permissive policies for {role} on {command}: {', '.join(sorted(names))}"
                    " (each is evaluated; any one grants access)",
                    "one permissive policy",
                    f"{len(names)} policies",
                )


def permissive_true_write(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        for policy in table.policies.values():
            if not policy.permissive or policy.command == "select":
                continue
            always = [
                clause
                for clause, text in (("USING", policy.using), ("WITH CHECK", policy.with_check))
                if text is not None and normalize_expr(text) == _TRUE
            ]
            if always:
                yield Hit(
                    f"{table.name}.{quote_part(policy.name)}",
                    f"{' and '.join(always)} (true) on a policy that allows {policy.command}",
                    "a condition on the row",
                    "true",
                )


# Table privileges that row level security does not restrict (checked: TRUNCATE empties a table whose
# only policy is USING (false)); REFERENCES lets a role probe for keys through foreign-key errors, TRIGGER
# lets it run its own code on every write.
RLS_BYPASSING = frozenset({"truncate", "references", "trigger"})


def rls_bypass_privileges(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    """On an RLS table, a role the policies apply to (one they name, PUBLIC, an API role; every grantee when
    a policy is for PUBLIC) holding TRUNCATE, REFERENCES or TRIGGER. The owner, superusers and BYPASSRLS
    roles are not held to RLS anyway (and an owner can grant itself anything back)."""
    for table in _tables(snapshot):
        if not table.rls_enabled:
            continue
        named = {role for policy in table.policies.values() for role in policy.roles}
        for grantee, privileges in sorted(table.grants.items()):
            held = privileges & RLS_BYPASSING
            role = snapshot.roles.get(grantee)
            exempt = grantee == table.owner or (role is not None and (role.superuser or role.bypassrls))
            if not held or exempt or not ("public" in named or grantee in named | roles):
                continue
            yield Hit(
                f"{table.name} ({grantee})",
                f"{grantee} holds {', '.join(sorted(p.upper() for p in held))} on a table whose rows RLS guards",
                "none of TRUNCATE, REFERENCES, TRIGGER",
                ", ".join(sorted(held)),
                render(grant(table.name, grantee, held, revoke=True)),
            )


def unindexed_foreign_keys(snapshot: Snapshot, roles: frozenset[str]) -> Iterator[Hit]:
    for table in _tables(snapshot):
        leading = [tuple(c for c in index.key_columns) for index in table.indexes.values()]
        for fk in table.constraints_of("f"):
            width = len(fk.columns)
            if any(len(keys) >= width and set(keys[:width]) == set(fk.columns) for keys in leading):
                continue
            name = f"{table.name.name}_{'_'.join(fk.columns)}_idx"[:63]
            fix = create_index(table.name, name, Index(columns=list(fk.columns)))
            yield Hit(
                f"{table.name}.{quote_part(fk.name)}",
                f"foreign key ({', '.join(fk.columns)}) has no covering index: deletes of the parent scan this table",
                "an index on the key columns",
                "none",
                render(fix),
            )


def erasure_foreign_keys(snapshot: Snapshot, contract: Contract) -> Iterator[Hit]:
    """With ``erasure`` declared: foreign keys of tables holding personal data (to the users table, or along
    an owner chain) that neither delete the row (CASCADE) nor clear a column declared ``erasure.set_null``
    (SET NULL): deleting the user fails on them, or leaves the row; and owner or set_null columns that no
    foreign key ties to their parent."""
    scope = personal.scope_of(contract, snapshot)
    if scope is None:
        return
    for entry, fk in personal.erasure_foreign_keys(scope, snapshot):
        cleared = entry.declared_cleared(fk.columns)
        wanted = "SET NULL" if cleared else "CASCADE"
        effect = (
            "the row stays, tied to nothing (declare the columns under erasure.set_null if it may stay)"
            if fk.on_delete in (personal.CLEARING, "set default")
            else "deleting the user fails on it"
        )
        yield Hit(
            f"{entry.name}.{quote_part(fk.name)}",
            f"foreign key ({', '.join(fk.columns)}) to {fk.ref_table} is {personal.action(fk)}: {effect}",
            f"ON DELETE {wanted}",
            personal.action(fk),
            _refined_fk(entry.name, fk, wanted),
        )
    for entry, link in personal.unlinked_columns(scope):
        what = "nothing clears it" if link.kind == "set_null" else "nothing deletes its rows"
        yield Hit(
            f"{entry.name} ({', '.join(link.columns)})",
            f"column {', '.join(link.columns)} holds the user but has no foreign key to {scope.users}: "
            f"when the user is deleted, {what}",
            f"a foreign key to {scope.users}",
            "none",
        )


def _refined_fk(table: QualifiedName, fk: Constraint, wanted: str) -> str:
    """The key again, with the wanted ON DELETE; NOT VALID, then VALIDATE, so existing rows are checked
    without blocking writes."""
    assert fk.ref_table is not None
    name = sql.Identifier(fk.name)
    clause = sql.SQL("FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE " + wanted).format(
        sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
        ident(fk.ref_table),
        sql.SQL(", ").join(map(sql.Identifier, fk.ref_columns)),
    )
    if fk.deferrable:
        clause += sql.SQL(" DEFERRABLE INITIALLY DEFERRED" if fk.deferred else " DEFERRABLE")
    statements = [
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}, ADD CONSTRAINT {} {} NOT VALID;").format(
            ident(table), name, name, clause
        ),
        sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {};").format(ident(table), name),
    ]
    return "\n".join(render(s) for s in statements)


@dataclass(frozen=True)
class ContractRule:
    """A rule that reads a declaration of the contract: on only when ``applies`` says the contract makes it."""

    id: str
    level: Level
    title: str
    remediation: str
    find: Callable[[Snapshot, Contract], Iterable[Hit]]
    applies: Callable[[Contract], bool]


CONTRACT_RULES = (
    ContractRule(
        "erasure_foreign_keys",
        Level.ERROR,
        "Deleting a user keeps or blocks rows of personal data",
        "ON DELETE CASCADE on foreign keys to the users table and along owner chains; ON DELETE SET NULL only"
        " on columns declared under the table's erasure.set_null",
        erasure_foreign_keys,
        lambda contract: contract.erasure is not None,
    ),
)


RULES = (
    Rule(
        "rls_disabled_in_public",
        Level.ERROR,
        "RLS disabled on a table the API roles can reach",
        "ALTER TABLE ... ENABLE ROW LEVEL SECURITY and add policies",
        rls_disabled_in_public,
    ),
    Rule(
        "policy_exists_rls_disabled",
        Level.ERROR,
        "Policies exist but RLS is disabled",
        "ALTER TABLE ... ENABLE ROW LEVEL SECURITY",
        policy_exists_rls_disabled,
    ),
    Rule(
        "rls_enabled_no_policy",
        Level.INFO,
        "RLS enabled with no policy",
        "add the policies that grant access, or document that only the owner may read",
        rls_enabled_no_policy,
    ),
    Rule(
        "security_definer_view",
        Level.ERROR,
        "View without security_invoker exposes RLS tables",
        "ALTER VIEW ... SET (security_invoker = true), or revoke SELECT from the API roles",
        security_definer_view,
    ),
    Rule(
        "security_definer_search_path",
        Level.WARNING,
        "SECURITY DEFINER function without a fixed search_path",
        "ALTER FUNCTION ... SET search_path = '' and qualify every name in its body",
        security_definer_search_path,
    ),
    Rule(
        "auth_rls_initplan",
        Level.WARNING,
        "auth.uid() or current_setting() evaluated per row in a policy",
        "wrap the call in a sub-select: (select auth.uid()) is evaluated once per statement",
        auth_rls_initplan,
    ),
    Rule(
        "multiple_permissive_policies",
        Level.WARNING,
        "Several permissive policies for one role and command",
        "merge them into one policy (permissive policies are OR-ed; each one costs)",
        multiple_permissive_policies,
    ),
    Rule(
        "permissive_true_write",
        Level.WARNING,
        "USING (true) or WITH CHECK (true) on a policy that writes",
        "restrict the policy to the rows the caller owns",
        permissive_true_write,
    ),
    Rule(
        "rls_bypass_privileges",
        Level.ERROR,
        "A role RLS applies to holds privileges RLS does not restrict",
        "REVOKE TRUNCATE, REFERENCES, TRIGGER ON the table FROM the role: TRUNCATE empties the table whatever"
        " the policies, REFERENCES probes for keys through foreign-key errors, TRIGGER runs the role's code on"
        " every write",
        rls_bypass_privileges,
    ),
    Rule(
        "unindexed_foreign_keys",
        Level.INFO,
        "Foreign key without a covering index",
        "CREATE INDEX on the foreign key's columns",
        unindexed_foreign_keys,
    ),
)
RULE_IDS = tuple(rule.id for rule in RULES) + tuple(rule.id for rule in CONTRACT_RULES)
for _rule in (*RULES, *CONTRACT_RULES):
    declare(Kind.LINTS, f"lint.{_rule.id}", levels=(_rule.level,), configurable=True)
_LEVELS = {"error": Level.ERROR, "warning": Level.WARNING, "info": Level.INFO}


def api_roles(contract: Contract | None) -> frozenset[str]:
    """Supabase's API roles, and the roles a contract's auth settings impersonate."""
    roles = set(API_ROLES)
    auth = contract.auth if contract is not None else None
    if auth is not None and auth.mode == "supabase":
        roles |= {auth.user_role, auth.anon_role}
    elif auth is not None and auth.mode == "setting":
        roles.add(auth.role)
    elif auth is not None and auth.mode == "role":
        roles |= set(auth.member_of)
    return frozenset(roles)


def run_lints(snapshot: Snapshot, contract: Contract | None = None) -> list[Finding]:
    """Every lint hit as a finding (owner: the rule id), with the contract's levels and ignores applied."""
    settings = contract.lints if contract is not None else {}
    roles = api_roles(contract)
    findings: list[Finding] = []
    hits: list[tuple[Rule | ContractRule, Iterable[Hit]]] = [(rule, rule.find(snapshot, roles)) for rule in RULES]
    if contract is not None:
        hits += [(rule, rule.find(snapshot, contract)) for rule in CONTRACT_RULES if rule.applies(contract)]
    for rule, found in hits:
        setting = settings.get(rule.id)
        if setting is not None and setting.level == "ignore":
            continue
        level = _LEVELS[setting.level] if setting is not None and setting.level else rule.level
        ignored = set(setting.ignore) if setting is not None else set()
        for hit in found:
            # "public.t (anon, select)" is ignored with its table too; a table's name may hold spaces.
            if hit.object in ignored or hit.object.rpartition(" (")[0] in ignored:
                continue
            findings.append(
                Finding(
                    rule=f"lint.{rule.id}",
                    kind=Kind.LINTS,
                    owner=rule.id,
                    object=hit.object,
                    message=f"{rule.title}: {hit.message}. Remediation: {rule.remediation}",
                    expected=hit.expected,
                    actual=hit.actual,
                    fix=Fix(hit.fix_sql) if hit.fix_sql else None,
                    level=level,
                )
            )
    return findings


def lint_rules(contract: Contract) -> list[str]:
    """The rules a contract leaves on (one suite test each)."""
    ignored = {rule for rule, setting in contract.lints.items() if setting.level == "ignore"}
    on = [rule.id for rule in RULES] + [rule.id for rule in CONTRACT_RULES if rule.applies(contract)]
    return [rule for rule in on if rule not in ignored]


def validate_lint_names(contract: Contract) -> list[str]:
    return [rule for rule in contract.lints if rule not in RULE_IDS]


__all__ = ["RULES", "RULE_IDS", "lint_rules", "run_lints", "validate_lint_names"]
