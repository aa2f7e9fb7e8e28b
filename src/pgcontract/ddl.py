"""Whole-contract DDL: everything a contract requires, idempotent, in dependency order.

``contract_ddl`` is what ``pgcontract sql`` prints (and what an admin endpoint hands out as set-up SQL);
``table_steps`` is the DDL of one table, shared with the fix of a missing table. The statements
themselves are built in ``sqlgen``; names reach SQL only through ``sql.Identifier`` and ``sql.Literal``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from enum import IntEnum

from psycopg import sql

from pgcontract import __version__
from pgcontract.aggregatesql import create_aggregate
from pgcontract.catalog.aggregates import aggregate_signature
from pgcontract.contract.model import Contract, FunctionSpec, Table, function_signature
from pgcontract.depgraph import Node, cycles, expression_refs, needed, node_of, order
from pgcontract.names import QualifiedName
from pgcontract.routines import parse_returns
from pgcontract.sqlbody import is_sql_standard, reads_relations
from pgcontract.sqlgen import (
    Composable,
    add_check,
    add_column,
    add_exclusion,
    add_foreign_key,
    add_unique,
    alter_column,
    check_name,
    column_sequences,
    create_enum,
    create_extension,
    create_function,
    create_index,
    create_partition,
    create_policy,
    create_role,
    create_schema,
    create_sequence,
    create_table,
    create_trigger,
    default_privileges_exactly,
    drop_policy,
    enable_rls,
    exclusion_name,
    expression,
    fk_name,
    force_rls,
    grant_columns,
    grant_exactly,
    grant_role,
    publication_ddl,
    render,
    schema_grant_exactly,
    sequence_owned_by,
    unique_name,
    view_steps,
)
from pgcontract.sqlnorm import InvalidSql, parse_type
from pgcontract.sqlsafe import Statements, intended_of, render_checked, shown_sql, verify
from pgcontract.typesql import create_sequence as create_sequence_with_options
from pgcontract.typesql import sequence_grant_exactly, sequence_owner, type_definitions, uses_late_type


class Phase(IntEnum):
    """Dependency order: a statement may rely on everything of the phases before its own."""

    ROLES = 0
    SCHEMAS = 1
    EXTENSIONS = 2  # in their schemas; before the types, functions and tables that use theirs
    DEFAULT_PRIVILEGES = 3  # before the objects they apply to are created
    TYPES = 4
    DOMAINS = 5  # domains and composite types, after the enums they may use, before functions taking them
    # Before the tables: column defaults, checks and index expressions may call them. Their bodies are
    # not checked at creation (check_function_bodies = off, as pg_dump does), so they may read tables
    # created later.
    FUNCTIONS = 6
    SEQUENCES = 7
    LATE_DOMAINS = 8  # domains whose CHECK or default calls a function or nextval (and the types using them)
    TABLES = 9
    COLUMNS = 10
    KEYS = 11  # primary keys, unique and exclusion constraints
    INDEXES = 12  # before foreign keys: a foreign key needs a unique index on the columns it references
    FOREIGN_KEYS = 13
    CHECKS = 14
    RLS = 15
    # Functions whose arguments or result are a table's row type, or whose SQL-standard body (BEGIN ATOMIC,
    # RETURN) names a table: PostgreSQL resolves those at creation. After the tables.
    TABLE_FUNCTIONS = 16
    AGGREGATES = 17  # after every function (their state, final... functions), before the views that call them
    VIEWS = 18  # after the tables and functions they read; among themselves by what each reads (viewdeps)
    TRIGGERS = 19  # after their table (or view) and function
    POLICIES = 20  # after every table, column and function: a policy may read other tables and call functions
    GRANTS = 21
    PUBLICATIONS = 22  # after the tables they publish (and the columns of their column lists)

    @property
    def title(self) -> str:
        return _TITLES[self]


_TITLES = {
    Phase.ROLES: "roles",
    Phase.FUNCTIONS: "functions",
    Phase.SCHEMAS: "schemas",
    Phase.TYPES: "enum types",
    Phase.DOMAINS: "domains and composite types",
    Phase.LATE_DOMAINS: "domains calling functions or sequences, and the types using them",
    Phase.SEQUENCES: "sequences",
    Phase.TABLES: "tables",
    Phase.COLUMNS: "columns",
    Phase.KEYS: "primary keys, unique and exclusion constraints",
    Phase.INDEXES: "indexes",
    Phase.FOREIGN_KEYS: "foreign keys",
    Phase.CHECKS: "check constraints",
    Phase.RLS: "row level security",
    Phase.TABLE_FUNCTIONS: "functions on table row types",
    Phase.AGGREGATES: "aggregates",
    Phase.VIEWS: "views and materialized views",
    Phase.TRIGGERS: "triggers",
    Phase.POLICIES: "policies",
    Phase.GRANTS: "grants",
    Phase.EXTENSIONS: "extensions",
    Phase.DEFAULT_PRIVILEGES: "default privileges",
    Phase.PUBLICATIONS: "publications",
}

Step = tuple[Phase, Composable]


_SCHEMA_EXISTS = sql.SQL("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {}")
_TYPE_EXISTS = sql.SQL(
    "SELECT 1 FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
    " WHERE n.nspname = {} AND t.typname = {}"
)
_ROLE_EXISTS = sql.SQL("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = {}")
_PUBLICATION_EXISTS = sql.SQL("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = {}")
_CONSTRAINT_EXISTS = sql.SQL(
    "SELECT 1 FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_class r ON r.oid = c.conrelid"
    " JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace"
    " WHERE n.nspname = {} AND r.relname = {} AND c.conname = {}"
)


def unless_exists(query: sql.SQL, names: Iterable[str], statement: Composable) -> Composable:
    """A ``DO`` block running ``statement`` only when ``query`` (given the names as literals) finds nothing:
    for DDL that has no IF NOT EXISTS (constraints, types), and for schemas, whose IF NOT EXISTS still
    needs the CREATE privilege on the database. (The whole script's check cannot see into the block:
    ``statement`` is checked here.)"""
    condition = sql.SQL("NOT EXISTS ({})").format(query.format(*(sql.Literal(n) for n in names)))
    inner = sql.SQL(render_checked(statement))
    body = render(sql.SQL("BEGIN\n  IF {} THEN\n    {}\n  END IF;\nEND").format(condition, inner))
    tag, n = "$pgcontract$", 0
    while tag in body:  # a dollar quote ends only at its exact tag: pick one the body does not contain
        n += 1
        tag = f"$pgcontract{n}$"
    block = sql.Composed([sql.SQL("DO "), sql.SQL(tag), sql.SQL("\n" + body + "\n"), sql.SQL(tag), sql.SQL(";")])
    return Statements([block], [("DoStmt", None)])


def table_steps(
    name: QualifiedName,
    table: Table,
    idempotent: bool = False,
    contract: Contract | None = None,
    deferred: Collection[str] = (),
) -> list[Step]:
    """The DDL of one table and what belongs to it. ``idempotent``: constraints are guarded and policies
    dropped and re-created, so running it against an existing table fails nothing and changes nothing.
    With the ``contract``: a partitioned table's partitions are created right after it (a partition the
    contract also declares as a table is created there, as a partition, not by its own entry). The
    ``deferred`` columns get their default (or, generated, are added) by a statement of their own, which the
    dependency order places after what the expression calls (a cycle broken as pg_dump does)."""
    sequences = column_sequences(table)
    steps: list[Step] = [(Phase.SEQUENCES, create_sequence(s)) for s, _ in sequences]
    tables = contract.table_map if contract is not None else {}
    if contract is None or name not in contract.partition_parents:
        steps.append((Phase.TABLES, create_table(name, table, deferred)))
    for column_name in (c for c in table.columns if c in deferred):
        column = table.columns[column_name]
        if column.generated is not None:
            steps.append((Phase.COLUMNS, add_column(name, column_name, column)))
        elif column.default is not None:
            steps.append((Phase.COLUMNS, alter_column(name, column_name, "SET DEFAULT {}", expression(column.default))))
    # A sequence the contract declares has its own owned_by (none, possibly): only the others go with the column.
    declared = contract.sequence_map if contract is not None else {}
    steps += [(Phase.TABLES, sequence_owned_by(s, name, column)) for s, column in sequences if s not in declared]
    for partition, bound in table.partition_map.items():
        steps.append((Phase.TABLES, create_partition(partition, name, bound, tables.get(partition))))

    def constraint(phase: Phase, constraint_name: str, statements: list[Composable]) -> None:
        for statement in statements:
            if idempotent:
                statement = unless_exists(_CONSTRAINT_EXISTS, (*name, constraint_name), statement)
            steps.append((phase, statement))

    for unique in table.unique:
        constraint(Phase.KEYS, unique_name(name, unique), [add_unique(name, unique)])
    for exclusion in table.exclusions:
        constraint(Phase.KEYS, exclusion_name(name, exclusion), [add_exclusion(name, exclusion)])
    steps += [(Phase.INDEXES, create_index(name, i, index)) for i, index in table.indexes.items()]
    for fk in table.foreign_keys:
        constraint(Phase.FOREIGN_KEYS, fk_name(name, fk), add_foreign_key(name, fk, not_valid=False))
    for position, check in enumerate(table.checks):
        statements = add_check(name, check, position, not_valid=False)
        constraint(Phase.CHECKS, check_name(name, check, position), statements)
    rls = table.effective_rls
    if rls is not None:
        steps.append((Phase.RLS, enable_rls(name, rls.enabled)))
        if rls.forced is not None:
            steps.append((Phase.RLS, force_rls(name, rls.forced)))
        for policy_name, policy in (rls.policies or {}).items():
            if idempotent:
                steps.append((Phase.POLICIES, drop_policy(name, policy_name)))
            steps.append((Phase.POLICIES, create_policy(name, policy_name, policy)))
    # A partition the contract does not declare as a table of its own gets its parent's grants: read
    # directly, it must not give more than the parent (default privileges may have granted it ALL). Under
    # a parent with RLS it gets none: read directly, it would bypass the parent's policies.
    partitions = [p for p in table.partition_map if p not in tables]
    closed = rls is not None and rls.enabled
    for role, privileges in (table.grants or {}).items():
        steps += [(Phase.GRANTS, statement) for statement in grant_exactly(name, role, privileges)]
        for target in partitions:
            steps += [(Phase.GRANTS, s) for s in grant_exactly(target, role, () if closed else privileges)]
    for role, columns in (table.column_grants or {}).items():
        if any(columns.values()):
            steps.append((Phase.GRANTS, grant_columns(name, role, {c: p for c, p in columns.items() if p})))
    return steps


def known_roles(contract: Contract) -> set[str]:
    """Roles the DDL may name without creating them: the contract's, and those its auth mode implies."""
    roles = set(contract.roles)
    auth = contract.auth
    if auth is not None and auth.mode == "supabase":
        roles |= {auth.user_role, auth.anon_role, "service_role"}
    elif auth is not None and auth.mode == "setting":
        roles.add(auth.role)
    elif auth is not None and auth.mode == "role":
        roles |= set(auth.member_of)
    return roles


def contract_steps(contract: Contract) -> list[Step]:
    """Every statement the contract requires, idempotent, in dependency order (``depgraph``: by phase, each
    statement after what it needs, contract order otherwise). A table on a cycle (its default or generated
    column calls a function that needs the table) is created without those, which are set after the function."""
    return [(phase, statement) for phase, statement, _ in _ordered(contract)]


def _ordered(contract: Contract) -> list[tuple[Phase, Composable, str]]:
    """``contract_steps``, each with its text (rendered once)."""
    deferred: dict[QualifiedName, frozenset[str]] = {}
    while True:
        steps = sorted(phase_steps(contract, deferred), key=lambda step: step[0])
        texts = [render(statement) for _, statement in steps]
        nodes = [node_of(text) for text in texts]
        more = _defaults_on_cycles(contract, steps, nodes)
        if all(columns <= deferred.get(name, frozenset()) for name, columns in more.items()):
            break
        deferred = {n: deferred.get(n, frozenset()) | more.get(n, frozenset()) for n in {*deferred, *more}}
    return [(phase, steps[i][1], texts[i]) for phase, i in order([p for p, _ in steps], nodes, Phase)]


def _defaults_on_cycles(
    contract: Contract, steps: Sequence[Step], nodes: Sequence[Node]
) -> dict[QualifiedName, frozenset[str]]:
    """The columns of each table created on a dependency cycle whose default or generated expression needs
    something else on the cycle."""
    out: dict[QualifiedName, frozenset[str]] = {}
    for members in cycles(nodes):
        provided = {key for i in members for key in nodes[i].provides}
        for i in members:
            if intended_of(steps[i][1])[0][0] != "CreateStmt":
                continue
            for kind, schema, relation in nodes[i].provides:
                name = QualifiedName(schema, relation)
                if kind != "relation" or name not in contract.table_map:
                    continue
                columns = contract.table_map[name].columns
                out[name] = frozenset(
                    c
                    for c, column in columns.items()
                    if any(
                        needed(ref) & provided
                        for expression_text in (column.default, column.generated)
                        if expression_text is not None
                        for ref in expression_refs(expression_text)
                    )
                )
    return out


def phase_steps(contract: Contract, deferred: Mapping[QualifiedName, Collection[str]]) -> list[Step]:
    """Every statement the contract requires, each with its phase, in contract order (not yet ordered by
    dependencies: ``contract_steps``); the ``deferred`` columns of each table set apart (``table_steps``)."""
    schemas = sorted(
        {n.schema for n in (*contract.table_map, *contract.enum_map, *(n for n, _ in contract.function_map))}
        | {n.schema for n, _ in contract.aggregate_map}
        | {e.in_schema for e in contract.extensions.values() if e.in_schema is not None}
        | set(contract.privileges.schemas if contract.privileges is not None else ())
        | {n.schema for n in (*contract.domain_map, *contract.composite_type_map, *contract.sequence_map)}
    )
    schemas += sorted({n.schema for n in contract.view_map} - set(schemas))
    steps: list[Step] = [(Phase.SCHEMAS, unless_exists(_SCHEMA_EXISTS, [s], create_schema(s))) for s in schemas]
    for role, role_spec in contract.roles.items():
        steps.append((Phase.ROLES, unless_exists(_ROLE_EXISTS, [role], create_role(role, role_spec))))
        steps += [(Phase.ROLES, grant_role(group, role)) for group in role_spec.member_of]
    steps += type_steps(contract)
    routines: list[Step] = []
    for signature, spec in contract.functions.items():
        name, _, arguments = function_signature(signature)
        if spec.body is not None:
            standard = is_sql_standard(spec.body, spec.language)
            after_tables = _uses_row_type(contract, spec, arguments) or (standard and reads_relations(spec.body))
            phase = Phase.TABLE_FUNCTIONS if after_tables else Phase.FUNCTIONS
            if phase is Phase.FUNCTIONS and uses_late_type(contract, [p.type for p in spec.parameters(arguments)]):
                phase = Phase.LATE_DOMAINS  # after the types it takes, which come after what they call
            create = create_function(name, spec.parameters(arguments), spec, known_roles(contract))
            routines.append((phase, create))
    if any(
        spec.body is not None and not is_sql_standard(spec.body, spec.language) for spec in contract.functions.values()
    ):
        # Only a string body is checked at creation under this setting (a SQL-standard one is resolved
        # whatever it says): off, as pg_dump does, since it may read tables created later.
        steps.append((Phase.FUNCTIONS, NO_BODY_CHECK))
    for signature, aggregate in contract.aggregates.items():
        name, shape = aggregate_signature(signature)
        create = create_aggregate(name, shape, aggregate, replace=True)
        routines.append((Phase.AGGREGATES, create))
    steps += routines
    steps += [
        (Phase.TYPES, unless_exists(_TYPE_EXISTS, name, create_enum(name, labels)))
        for name, labels in contract.enum_map.items()
    ]
    for name, table in contract.table_map.items():
        steps += table_steps(name, table, idempotent=True, contract=contract, deferred=deferred.get(name, ()))
    for name, view in contract.view_map.items():
        if view.definition is not None:
            steps += [(Phase.VIEWS, statement) for statement in view_steps(name, view)]
    for name, triggers in contract.trigger_map.items():
        steps += [(Phase.TRIGGERS, create_trigger(name, t, spec)) for t, spec in triggers.items()]
    steps += privilege_steps(contract)
    steps += [(Phase.EXTENSIONS, create_extension(n, e.in_schema)) for n, e in contract.extensions.items()]
    for publication, publication_spec in contract.publications.items():
        create = publication_ddl(publication, publication_spec)
        statement = unless_exists(_PUBLICATION_EXISTS, [publication], create)
        steps.append((Phase.PUBLICATIONS, statement))
    return steps


def privilege_steps(contract: Contract) -> list[Step]:
    """Schema privileges made exact (after the schemas' objects: GRANTS), default privileges made exact
    (before the objects are created, which then get them)."""
    if contract.privileges is None:
        return []
    steps: list[Step] = []
    for schema, grants in contract.privileges.schemas.items():
        for role, schema_privileges in grants.items():
            steps += [(Phase.GRANTS, s) for s in schema_grant_exactly(schema, role, schema_privileges)]
    for entry in contract.privileges.defaults:
        for grantee, privileges in entry.grants.items():
            statements = default_privileges_exactly(entry.role, entry.in_schema, entry.objects, grantee, privileges)
            steps += [(Phase.DEFAULT_PRIVILEGES, s) for s in statements]
    return steps


NO_BODY_CHECK = Statements([sql.SQL("SET check_function_bodies = off;")], [("VariableSetStmt", None)])


def type_steps(contract: Contract) -> list[Step]:
    """Domains and composite types (each created only when missing) in dependency order; sequences with their
    options, before the tables whose defaults draw from them, OWNED BY once the tables exist."""
    steps: list[Step] = [
        (Phase.LATE_DOMAINS if late else Phase.DOMAINS, unless_exists(_TYPE_EXISTS, name, statement))
        for late, name, statement in type_definitions(contract)
    ]
    for name, spec in contract.sequence_map.items():
        steps.append((Phase.SEQUENCES, create_sequence_with_options(name, spec)))
        if spec.owner is not None:
            steps.append((Phase.COLUMNS, sequence_owner(name, spec.owner)))
        for role, privileges in (spec.grants or {}).items():
            steps += [(Phase.GRANTS, s) for s in sequence_grant_exactly(name, role, privileges)]
    return steps


def _uses_row_type(contract: Contract, spec: FunctionSpec, arguments: str) -> bool:
    """Whether an argument or the result is the row type of a table the contract declares."""
    texts = [p.type for p in spec.parameters(arguments)]
    if spec.returns is not None:
        try:
            returns = parse_returns(spec.returns)
        except InvalidSql:
            return True  # unknown: the safe side is after the tables
        texts += [str(returns.type), *(str(t) for _, t in returns.columns)]
    tables = contract.table_map
    for text in texts:
        try:
            parsed = parse_type(text)
        except InvalidSql:
            continue
        if any(t.name == parsed.name and parsed.schema in (None, t.schema) for t in tables):
            return True
    return False


def with_sections(statements: Iterable[tuple[Phase, str]]) -> Iterator[str]:
    """The statements' text, each phase under a ``-- <phase>`` heading."""
    current: Phase | None = None
    for phase, text in statements:
        if phase is not current:
            yield ""
            yield f"-- {phase.title}"
            current = phase
        yield text


def contract_ddl(contract: Contract) -> str:
    """Complete, idempotent DDL for a contract: applied to an empty database, the contract passes; applied
    again, nothing changes and nothing fails."""
    header = [
        f"-- DDL for {len(contract.table_map)} tables and {len(contract.enum_map)} enum types,"
        f" generated by pgcontract {__version__} from the contract.",
        "-- Idempotent: running it again changes nothing. It creates what is missing and does not alter what",
        "-- exists (`pgcontract repair` brings a drifted database back). Tables the contract references but does",
        "-- not declare (such as auth.users) must exist. Atomic with: psql --single-transaction -f <file>",
    ]
    steps = _ordered(contract)
    body = with_sections((phase, text) for phase, _, text in steps)
    text = "\n".join([*header, *body]) + "\n"
    # The whole script, parsed back, must hold exactly the statements built, in order: nothing the
    # contract wrote (or a section heading) may add, hide or merge one.
    return verify(shown_sql(text), [item for _, statement, _ in steps for item in intended_of(statement)])
