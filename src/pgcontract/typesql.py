"""DDL of domains, composite types and sequences (psycopg.sql: every name an Identifier; expressions are
the contract's SQL, each validated as one expression when the contract was loaded)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from pglast import parser
from psycopg import sql

from pgcontract.contract.model import (
    CompositeAttribute,
    CompositeTypeSpec,
    Contract,
    DomainSpec,
    SequenceOptions,
    SequenceSpec,
)
from pgcontract.names import QualifiedName, split_parts
from pgcontract.seqoptions import OPTION_ORDER, Options, option_clauses
from pgcontract.sqlgen import Composable, expression, ident, type_sql
from pgcontract.sqlnorm import InvalidSql, parse_type
from pgcontract.sqlsafe import Statements, statement


def collation_sql(collation: str) -> Composable:
    return sql.SQL("COLLATE {}").format(sql.Identifier(*split_parts(collation)))


def _target(name: QualifiedName) -> str:
    return f"{name.schema}.{name.name}"


def _check(constraint: str, check: str) -> Composable:
    return sql.SQL("CONSTRAINT {} CHECK {}").format(sql.Identifier(constraint), expression(check))


def sequence_grant_exactly(name: QualifiedName, role: str, privileges: Iterable[str]) -> list[Composable]:
    """The role ends up with exactly these privileges on the sequence: all revoked, these granted."""
    grantee = sql.SQL("PUBLIC") if role == "public" else sql.Identifier(role)
    out: list[Composable] = [
        statement("GrantStmt", None, sql.SQL("REVOKE ALL ON SEQUENCE {} FROM {};").format(ident(name), grantee))
    ]
    wanted = sorted(set(privileges))
    if wanted:
        privs = sql.SQL(", ").join(sql.SQL(p.upper()) for p in wanted)
        text = sql.SQL("GRANT {} ON SEQUENCE {} TO {};").format(privs, ident(name), grantee)
        out.append(statement("GrantStmt", None, text))
    return out


def create_domain(name: QualifiedName, spec: DomainSpec) -> Composable:
    parts: list[Composable] = [sql.SQL("CREATE DOMAIN {} AS {}").format(ident(name), type_sql(spec.type))]
    if spec.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(expression(spec.default)))
    if not spec.nullable:
        parts.append(sql.SQL("NOT NULL"))
    parts += [_check(constraint, check) for constraint, check in spec.checks.items()]
    return statement("CreateDomainStmt", _target(name), sql.SQL("\n  ").join(parts) + sql.SQL(";"))


def alter_domain(name: QualifiedName, action: Composable) -> Statements:
    return statement("AlterDomainStmt", _target(name), sql.SQL("ALTER DOMAIN {} {};").format(ident(name), action))


def domain_default(name: QualifiedName, default: str | None) -> Composable:
    if default is None:
        return alter_domain(name, sql.SQL("DROP DEFAULT"))
    return alter_domain(name, sql.SQL("SET DEFAULT {}").format(expression(default)))


def domain_not_null(name: QualifiedName, not_null: bool) -> Composable:
    return alter_domain(name, sql.SQL("SET NOT NULL" if not_null else "DROP NOT NULL"))


def add_domain_check(name: QualifiedName, constraint: str, check: str) -> list[Composable]:
    """NOT VALID, then VALIDATE (which checks the stored values of every column of the domain)."""
    return [
        alter_domain(name, sql.SQL("ADD {} NOT VALID").format(_check(constraint, check))),
        alter_domain(name, sql.SQL("VALIDATE CONSTRAINT {}").format(sql.Identifier(constraint))),
    ]


def drop_domain_check(name: QualifiedName, constraint: str) -> Composable:
    return alter_domain(name, sql.SQL("DROP CONSTRAINT IF EXISTS {}").format(sql.Identifier(constraint)))


def _attribute(attribute: str, spec: CompositeAttribute) -> Composable:
    parts = [sql.Identifier(attribute), type_sql(spec.type)]
    if spec.collation is not None:
        parts.append(collation_sql(spec.collation))
    return sql.SQL(" ").join(parts)


def create_composite_type(name: QualifiedName, spec: CompositeTypeSpec) -> Composable:
    attributes = sql.SQL(",\n  ").join(_attribute(a, s) for a, s in spec.attributes.items())
    text = sql.SQL("CREATE TYPE {} AS (\n  {}\n);").format(ident(name), attributes)
    return statement("CompositeTypeStmt", _target(name), text)


def alter_type(name: QualifiedName, action: Composable) -> Statements:
    return statement("AlterTableStmt", _target(name), sql.SQL("ALTER TYPE {} {};").format(ident(name), action))


def add_attribute(name: QualifiedName, attribute: str, spec: CompositeAttribute) -> Composable:
    return alter_type(name, sql.SQL("ADD ATTRIBUTE {}").format(_attribute(attribute, spec)))


def drop_attribute(name: QualifiedName, attribute: str) -> Composable:
    return alter_type(name, sql.SQL("DROP ATTRIBUTE IF EXISTS {}").format(sql.Identifier(attribute)))


def alter_attribute(name: QualifiedName, attribute: str, spec: CompositeAttribute) -> Composable:
    """Type and collation of an attribute, in place (PostgreSQL refuses while a table column uses the type)."""
    target = [type_sql(spec.type)] + ([collation_sql(spec.collation)] if spec.collation is not None else [])
    action = sql.SQL("ALTER ATTRIBUTE {} TYPE {}").format(sql.Identifier(attribute), sql.SQL(" ").join(target))
    return alter_type(name, action)


def stated_options(spec: SequenceOptions) -> list[str]:
    """The options a contract states (for an identity column's clause: the rest are the defaults)."""
    return [o for o in OPTION_ORDER if o in spec.model_fields_set]


def create_sequence(name: QualifiedName, spec: SequenceSpec) -> Composable:
    clauses = option_clauses(spec.options, ("type", *OPTION_ORDER))
    text = sql.SQL("CREATE SEQUENCE IF NOT EXISTS {} {};").format(ident(name), sql.SQL(" ").join(clauses))
    return statement("CreateSeqStmt", _target(name), text)


def alter_sequence(name: QualifiedName, options: Options, which: Sequence[str]) -> Composable:
    text = sql.SQL("ALTER SEQUENCE {} {};").format(ident(name), sql.SQL(" ").join(option_clauses(options, which)))
    return statement("AlterSeqStmt", _target(name), text)


def sequence_owner(name: QualifiedName, owner: tuple[QualifiedName, str] | None) -> Composable:
    """OWNED BY the column (the sequence is dropped with it), or NONE."""
    target = sql.SQL("NONE") if owner is None else sql.Identifier(owner[0].schema, owner[0].name, owner[1])
    return statement(
        "AlterSeqStmt", _target(name), sql.SQL("ALTER SEQUENCE {} OWNED BY {};").format(ident(name), target)
    )


def set_identity_options(table: QualifiedName, column: str, options: Options, which: Sequence[str]) -> Composable:
    """ALTER TABLE ... ALTER COLUMN ... SET <option> ...: the identity's sequence options, in place."""
    sets = sql.SQL(" ").join(sql.SQL("SET ") + clause for clause in option_clauses(options, which))
    text = sql.SQL("ALTER TABLE {} ALTER COLUMN {} {};").format(ident(table), sql.Identifier(column), sets)
    return statement("AlterTableStmt", _target(table), text)


def _called(text: str) -> list[tuple[str, ...]]:
    """The names of the functions an expression calls, as written."""
    out: list[tuple[str, ...]] = []

    def walk(node: object) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            call = node.get("FuncCall")
            if isinstance(call, dict):
                out.append(tuple(n["String"]["sval"] for n in call.get("funcname", [])))
            for value in node.values():
                walk(value)

    try:
        tree = json.loads(parser.parse_sql_json(f"SELECT {text}"))
    except parser.ParseError:
        return out
    walk(tree)
    return out


def _matches(reference: tuple[str | None, str], names: Iterable[QualifiedName]) -> list[QualifiedName]:
    schema, name = reference
    return [n for n in names if n.name == name and schema in (None, n.schema)]


def _type_reference(text: str) -> tuple[str | None, str] | None:
    try:
        parsed = parse_type(text)
    except InvalidSql:
        return None
    return None if parsed.schema == "pg_catalog" else (parsed.schema, parsed.name)


def _type_dependencies(contract: Contract) -> dict[QualifiedName, list[QualifiedName]]:
    """Each declared domain and composite type -> the declared domains and composite types it uses."""
    declared = [*contract.domain_map, *contract.composite_type_map]
    uses: dict[QualifiedName, list[str]] = {n: [d.type] for n, d in contract.domain_map.items()}
    uses |= {n: [a.type for a in c.attributes.values()] for n, c in contract.composite_type_map.items()}
    out = {}
    for name, texts in uses.items():
        references = [r for r in map(_type_reference, texts) if r is not None]
        out[name] = [d for r in references for d in _matches(r, declared) if d != name]
    return out


def calls_late(contract: Contract, expressions: Iterable[str]) -> bool:
    """Whether the expressions call a function the contract declares, or ``nextval`` (its sequence): what
    must exist before a domain using them is created."""
    functions = {name for name, _ in contract.function_map}
    for text in expressions:
        for called in _called(text):
            if called[-1] == "nextval" or _matches((called[-2] if len(called) > 1 else None, called[-1]), functions):
                return True
    return False


def late_types(contract: Contract) -> set[QualifiedName]:
    """Domains whose default or CHECK calls a declared function or nextval, and the domains and composite types
    using them: created after functions and sequences."""
    late = {
        name
        for name, spec in contract.domain_map.items()
        if calls_late(contract, [*spec.checks.values(), *([spec.default] if spec.default else [])])
    }
    dependencies = _type_dependencies(contract)
    grew = True
    while grew:
        before = len(late)
        late |= {name for name, uses in dependencies.items() if any(u in late for u in uses)}
        grew = len(late) != before
    return late


def type_definitions(contract: Contract) -> list[tuple[bool, QualifiedName, Composable]]:
    """CREATE of every declared domain and composite type (each only when missing), in dependency order
    (contract order otherwise), each with whether it is late (see ``late_types``)."""
    dependencies = _type_dependencies(contract)
    late = late_types(contract)
    ordered: list[QualifiedName] = []
    visiting: set[QualifiedName] = set()

    def visit(name: QualifiedName) -> None:
        if name in ordered or name in visiting:
            return  # a cycle cannot be created anyway: keep contract order
        visiting.add(name)
        for used in dependencies.get(name, []):
            visit(used)
        ordered.append(name)

    for name in dependencies:
        visit(name)
    out: list[tuple[bool, QualifiedName, Composable]] = []
    for name in ordered:
        if name in contract.domain_map:
            statement = create_domain(name, contract.domain_map[name])
        else:
            statement = create_composite_type(name, contract.composite_type_map[name])
        out.append((name in late, name, statement))
    return out


def uses_late_type(contract: Contract, type_texts: Iterable[str]) -> bool:
    """Whether any of these types (a function's arguments, say) is a late domain or composite type."""
    late = late_types(contract)
    references = [r for r in map(_type_reference, type_texts) if r is not None]
    return any(_matches(r, late) for r in references)
