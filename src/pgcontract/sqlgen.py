"""DDL for what a contract requires, built with psycopg.sql (identifiers are always quoted data).

Expressions (defaults, checks, policies, predicates) are SQL written by the contract's author and are
inserted as SQL, in parentheses, once the contract has proven each to be exactly one expression with
nothing that could reach past it (``sqlsafe``); every name goes through ``sql.Identifier``. Every
statement declares what it must parse as, and is checked against PostgreSQL's parse when built
(``sqlsafe.statement``); whole scripts are checked again (``ddl.contract_ddl``, ``repair.render_plan``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from psycopg import sql

from pgcontract import clauses
from pgcontract.contract.model import (
    Check,
    Column,
    Deferral,
    Exclusion,
    ForeignKey,
    FunctionSpec,
    Index,
    Policy,
    PublicationSpec,
    RoleSpec,
    Table,
    TriggerSpec,
    Unique,
    ViewSpec,
    key_spec,
)
from pgcontract.indexkeys import KeySpec
from pgcontract.names import InvalidName, QualifiedName, parse_regclass, split_parts
from pgcontract.routines import Parameter, arguments_sql, identity_sql
from pgcontract.seqoptions import OPTION_ORDER, option_clauses, sequence_type
from pgcontract.sqlbody import is_sql_standard, sql_body_tree
from pgcontract.sqlnorm import _BUILTIN, deparsed_expr, nextval_sequence, parse_type, referenced_columns
from pgcontract.sqlsafe import Statements, check_fragment, check_returns, joined, statement

Composable = sql.Composable


def render(statement: Composable) -> str:
    return statement.as_string(None)


def ident(name: QualifiedName) -> sql.Identifier:
    return sql.Identifier(name.schema, name.name)


def _target(name: QualifiedName) -> str:
    return f"{name.schema}.{name.name}"


def expression(text: str) -> Composable:
    """A contract expression as SQL: in parentheses, so it binds as one operand wherever it goes (a
    DEFAULT takes only a restricted expression without them)."""
    check_fragment(text)
    return sql.SQL("({})").format(sql.SQL(text))


def idents(names: Iterable[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def type_sql(text: str) -> Composable:
    parsed = parse_type(text)
    if parsed.schema == "pg_catalog" and parsed.name in _BUILTIN:
        return sql.SQL(parsed.short)
    mods = f"({','.join(parsed.modifiers)})" if parsed.modifiers else ""
    array = "[]" if parsed.is_array else ""
    base: Composable = (
        sql.Identifier(parsed.name) if parsed.schema is None else sql.Identifier(parsed.schema, parsed.name)
    )
    return sql.Composed([base, sql.SQL(mods + array)])


def column_definition(name: str, column: Column) -> Composable:
    parts: list[Composable] = [sql.Identifier(name), type_sql(column.type)]
    if column.collation is not None:
        parts.append(sql.SQL("COLLATE {}").format(collation_sql(column.collation)))
    if column.generated is not None:
        parts.append(sql.SQL("GENERATED ALWAYS AS {} STORED").format(expression(column.generated)))
    elif column.identity is not None:
        parts.append(identity_clause(column))
    elif column.default is not None:
        parts.append(sql.SQL("DEFAULT {}").format(expression(column.default)))
    if column.nullable is False:
        parts.append(sql.SQL("NOT NULL"))
    return sql.SQL(" ").join(parts)


def collation_sql(text: str) -> Composable:
    return sql.Identifier(*clauses.collation(text))


def identity_clause(column: Column) -> Composable:
    """GENERATED ... AS IDENTITY, with the sequence options the contract states."""
    clause = sql.SQL(f"GENERATED {(column.identity or 'by default').upper()} AS IDENTITY")
    spec = column.identity_options
    stated = [o for o in OPTION_ORDER if spec is not None and o in spec.model_fields_set]
    if spec is None or not stated:
        return clause
    try:
        type_ = sequence_type(column.type)
    except ValueError:
        type_ = "bigint"  # only stated options are written: the type's bounds do not matter here
    options = spec.resolved(type_)
    return clause + sql.SQL(" ({})").format(sql.SQL(" ").join(option_clauses(options, stated)))


def create_table(name: QualifiedName, table: Table, deferred: Collection[str] = ()) -> Composable:
    """CREATE TABLE; the ``deferred`` columns without their default, and without the column at all when it
    is generated (set and added afterwards, once what they call exists: ``ddl``)."""
    body: list[Composable] = [
        column_definition(c, col.model_copy(update={"default": None}) if c in deferred else col)
        for c, col in table.columns.items()
        if not (c in deferred and col.generated is not None)
    ]
    if table.primary_key:
        key = sql.SQL("PRIMARY KEY ({})").format(idents(table.primary_key))
        body.append(key + deferral(table.primary_key_deferral) if table.primary_key_deferral else key)
    text = sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n  {}\n)").format(ident(name), sql.SQL(",\n  ").join(body))
    if table.inherits:
        text += sql.SQL(" INHERITS ({})").format(
            sql.SQL(", ").join(ident(QualifiedName.parse(p)) for p in table.inherits)
        )
    return statement("CreateStmt", _target(name), text + _partition_by(table) + sql.SQL(";"))


def _partition_by(table: Table | None) -> Composable:
    # The key is written as given once PostgreSQL's parser read it as exactly one partition key.
    if table is None or table.partition_by is None:
        return sql.SQL("")
    clauses.partition_key(table.partition_by)
    clauses.check_pasteable(table.partition_by)
    return sql.SQL(" PARTITION BY {}").format(sql.SQL(table.partition_by))


def create_partition(name: QualifiedName, parent: QualifiedName, bound: str, own: Table | None = None) -> Composable:
    """A partition of ``parent`` (its columns, keys and indexes come from the parent); ``own``: the
    partition's own entry in the contract, for a partition that is itself partitioned."""
    clauses.partition_bound(bound)
    clauses.check_pasteable(bound)
    text = sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} {}{};").format(
        ident(name), ident(parent), sql.SQL(bound), _partition_by(own)
    )
    return statement("CreateStmt", _target(name), text)


def attach_partition(parent: QualifiedName, name: QualifiedName, bound: str) -> Composable:
    clauses.partition_bound(bound)
    clauses.check_pasteable(bound)
    return alter_table(parent, sql.SQL("ATTACH PARTITION {} {}").format(ident(name), sql.SQL(bound)))


def detach_partition(parent: QualifiedName, name: QualifiedName, finalize: bool = False) -> Composable:
    action = sql.SQL("DETACH PARTITION {}" + (" FINALIZE" if finalize else "")).format(ident(name))
    return alter_table(parent, action)


def inherit(name: QualifiedName, parent: QualifiedName, drop: bool = False) -> Composable:
    return alter_table(name, sql.SQL("NO INHERIT {}" if drop else "INHERIT {}").format(ident(parent)))


def alter_table(name: QualifiedName, action: Composable) -> Statements:
    return statement("AlterTableStmt", _target(name), sql.SQL("ALTER TABLE {} {};").format(ident(name), action))


def add_column(name: QualifiedName, column_name: str, column: Column) -> Composable:
    return alter_table(name, sql.SQL("ADD COLUMN IF NOT EXISTS {}").format(column_definition(column_name, column)))


def alter_column(name: QualifiedName, column_name: str, action: str, *args: Composable) -> Composable:
    return alter_table(
        name, sql.SQL("ALTER COLUMN {} ").format(sql.Identifier(column_name)) + sql.SQL(action).format(*args)
    )


def set_collation(name: QualifiedName, column_name: str, column: Column) -> Composable:
    collation = collation_sql(column.collation or "default")
    return alter_column(name, column_name, "TYPE {} COLLATE {}", type_sql(column.type), collation)


def set_type(name: QualifiedName, column_name: str, type_text: str) -> Composable:
    target = type_sql(type_text)
    return alter_column(name, column_name, "TYPE {} USING {}::{}", target, sql.Identifier(column_name), target)


def constraint_name(table: QualifiedName, columns: Sequence[str], suffix: str) -> str:
    """PostgreSQL's own naming (``table_col_fkey``), cut to 63 bytes."""
    base = "_".join([table.name, *columns, suffix])
    return base.encode("utf-8")[:63].decode("utf-8", "ignore")


_CONSTRAINT_PREFIX = sql.SQL("ADD CONSTRAINT {} ")


def add_primary_key(
    name: QualifiedName, columns: Sequence[str], cname: str | None = None, spec: Deferral | None = None
) -> Composable:
    """ADD CONSTRAINT ... PRIMARY KEY, under ``cname`` (default: PostgreSQL's ``<table>_pkey``), deferrable as
    ``spec`` states."""
    cname = cname or constraint_name(name, [], "pkey")
    action = _CONSTRAINT_PREFIX.format(sql.Identifier(cname)) + sql.SQL("PRIMARY KEY ({})").format(idents(columns))
    return alter_table(name, action + deferral(spec) if spec is not None else action)


def foreign_key_clause(fk: ForeignKey) -> Composable:
    target, ref_columns = fk.target
    clause = sql.SQL("FOREIGN KEY ({}) REFERENCES {}").format(idents(fk.columns), ident(target))
    if ref_columns:
        clause += sql.SQL(" ({})").format(idents(ref_columns))
    if fk.on_delete:
        clause += sql.SQL(" ON DELETE " + fk.on_delete.upper())
    if fk.on_update:
        clause += sql.SQL(" ON UPDATE " + fk.on_update.upper())
    return clause + deferral(fk)


def deferral(spec: Deferral, explicit: bool = False) -> Composable:
    """`` DEFERRABLE INITIALLY DEFERRED`` and the like, for what the contract states (``explicit``: both
    clauses always, as ALTER CONSTRAINT needs them to set what the contract states)."""
    out = ""
    deferrable = spec.deferrable if spec.deferrable is not None else spec.initially == "deferred"
    if deferrable or explicit:
        out += " DEFERRABLE" if deferrable else " NOT DEFERRABLE"
    if spec.initially is not None or explicit:
        out += " INITIALLY " + (spec.initially or "immediate").upper()
    return sql.SQL(out)


def alter_deferral(name: QualifiedName, cname: str, spec: Deferral) -> Composable:
    """ALTER CONSTRAINT: PostgreSQL changes the deferrability of foreign keys only."""
    return alter_table(name, sql.SQL("ALTER CONSTRAINT {}").format(sql.Identifier(cname)) + deferral(spec, True))


def validate_constraint(name: QualifiedName, cname: str) -> Composable:
    return alter_table(name, sql.SQL("VALIDATE CONSTRAINT {}").format(sql.Identifier(cname)))


def fk_name(table: QualifiedName, fk: ForeignKey) -> str:
    return fk.name or constraint_name(table, fk.columns, "fkey")


def _add_constraint(name: QualifiedName, cname: str, clause: Composable, not_valid: bool) -> list[Composable]:
    """NOT VALID, then VALIDATE: the check of existing rows does not block writes. (A new table has no rows
    to check: ``not_valid=False`` adds it in one statement.)"""
    action = _CONSTRAINT_PREFIX.format(sql.Identifier(cname)) + clause
    if not not_valid:
        return [alter_table(name, action)]
    return [
        alter_table(name, action + sql.SQL(" NOT VALID")),
        alter_table(name, sql.SQL("VALIDATE CONSTRAINT {}").format(sql.Identifier(cname))),
    ]


def add_foreign_key(name: QualifiedName, fk: ForeignKey, not_valid: bool = True) -> list[Composable]:
    return _add_constraint(name, fk_name(name, fk), foreign_key_clause(fk), not_valid)


def unique_name(table: QualifiedName, unique: Unique) -> str:
    return unique.name or constraint_name(table, unique.columns, "key")


def add_unique(name: QualifiedName, unique: Unique) -> Composable:
    cname = sql.Identifier(unique_name(name, unique))
    nulls = " NULLS NOT DISTINCT" if unique.nulls_not_distinct else ""
    clause = sql.SQL("UNIQUE" + nulls + " ({})").format(idents(unique.columns)) + deferral(unique)
    return alter_table(name, _CONSTRAINT_PREFIX.format(cname) + clause)


def exclusion_name(table: QualifiedName, exclusion: Exclusion) -> str:
    return exclusion.name or constraint_name(table, [], "excl")


def add_exclusion(name: QualifiedName, exclusion: Exclusion) -> Composable:
    # The clause is written as given once PostgreSQL's parser read it as exactly one EXCLUDE constraint.
    clauses.exclusion(exclusion.definition)
    clauses.check_pasteable(exclusion.definition)
    cname = sql.Identifier(exclusion_name(name, exclusion))
    return alter_table(name, _CONSTRAINT_PREFIX.format(cname) + sql.SQL(exclusion.definition))


def check_name(table: QualifiedName, check: Check, position: int) -> str:
    """PostgreSQL's naming: ``table_column_check`` for a one-column check, else ``table_check``."""
    if check.name:
        return check.name
    columns = referenced_columns(check.expression)
    base = constraint_name(table, columns if len(columns) == 1 else [], "check")
    return base if position == 0 else constraint_name(table, [*columns[:1], str(position)], "check")


def add_check(name: QualifiedName, check: Check, position: int = 0, not_valid: bool = True) -> list[Composable]:
    clause = sql.SQL("CHECK {}").format(expression(check.expression))
    return _add_constraint(name, check_name(name, check, position), clause, not_valid)


def drop_constraint(name: QualifiedName, constraint: str) -> Composable:
    return alter_table(name, sql.SQL("DROP CONSTRAINT IF EXISTS {}").format(sql.Identifier(constraint)))


def index_key(spec: KeySpec) -> Composable:
    key: Composable = sql.Identifier(spec.column) if spec.column is not None else expression(spec.expression or "")
    if spec.opclass:
        key += sql.SQL(" ") + sql.Identifier(*split_parts(spec.opclass))
    if spec.desc:
        key += sql.SQL(" DESC")
    if spec.nulls_first != spec.desc:
        key += sql.SQL(" NULLS FIRST" if spec.nulls_first else " NULLS LAST")
    return key


def create_index(table: QualifiedName, index_name: str, index: Index) -> Composable:
    keys = sql.SQL(", ").join(index_key(key_spec(k)) for k in index.columns)
    text = sql.SQL("CREATE {}INDEX IF NOT EXISTS {} ON {} USING {} ({})").format(
        sql.SQL("UNIQUE " if index.unique else ""),
        sql.Identifier(index_name),
        ident(table),
        sql.Identifier(index.method),
        keys,
    )
    if index.include:
        text += sql.SQL(" INCLUDE ({})").format(idents(index.include))
    if index.nulls_not_distinct:
        text += sql.SQL(" NULLS NOT DISTINCT")
    if index.where is not None:
        text += sql.SQL(" WHERE {}").format(expression(index.where))
    return statement("IndexStmt", _target(table), text + sql.SQL(";"))


def drop_index(schema: str, index_name: str) -> Composable:
    return statement("DropStmt", None, sql.SQL("DROP INDEX IF EXISTS {};").format(sql.Identifier(schema, index_name)))


def enable_rls(name: QualifiedName, enabled: bool = True) -> Composable:
    return alter_table(name, sql.SQL("ENABLE ROW LEVEL SECURITY" if enabled else "DISABLE ROW LEVEL SECURITY"))


def force_rls(name: QualifiedName, forced: bool = True) -> Composable:
    return alter_table(name, sql.SQL("FORCE ROW LEVEL SECURITY" if forced else "NO FORCE ROW LEVEL SECURITY"))


def _role(role: str) -> Composable:
    return sql.SQL("PUBLIC") if role == "public" else sql.Identifier(role)


def create_policy(table: QualifiedName, policy_name: str, policy: Policy) -> Composable:
    text = sql.SQL("CREATE POLICY {} ON {} AS {} FOR {} TO {}").format(
        sql.Identifier(policy_name),
        ident(table),
        sql.SQL(policy.as_.upper()),
        sql.SQL(policy.command.upper()),
        sql.SQL(", ").join(_role(r) for r in policy.roles),
    )
    if policy.using is not None:
        text += sql.SQL("\n  USING {}").format(expression(policy.using))
    if policy.with_check is not None:
        text += sql.SQL("\n  WITH CHECK {}").format(expression(policy.with_check))
    return statement("CreatePolicyStmt", _target(table), text + sql.SQL(";"))


def drop_policy(table: QualifiedName, policy_name: str) -> Composable:
    text = sql.SQL("DROP POLICY IF EXISTS {} ON {};").format(sql.Identifier(policy_name), ident(table))
    return statement("DropStmt", None, text)


def grant_exactly(table: QualifiedName, role: str, privileges: Iterable[str]) -> list[Composable]:
    """The role ends up with exactly these table privileges: all revoked, these granted (REVOKE ALL, so
    that privileges a newer server knows, such as PostgreSQL 17's MAINTAIN, go too)."""
    wanted = set(privileges)
    out: list[Composable] = [
        statement("GrantStmt", None, sql.SQL("REVOKE ALL ON {} FROM {};").format(ident(table), _role(role)))
    ]
    if wanted:
        out.append(grant(table, role, wanted))
    return out


def grant(table: QualifiedName, role: str, privileges: Iterable[str], revoke: bool = False) -> Composable:
    privs = sql.SQL(", ").join(sql.SQL(p.upper()) for p in sorted(privileges))
    template = "REVOKE {} ON {} FROM {};" if revoke else "GRANT {} ON {} TO {};"
    return statement("GrantStmt", None, sql.SQL(template).format(privs, ident(table), _role(role)))


def create_schema(schema: str) -> Composable:
    return statement(
        "CreateSchemaStmt", None, sql.SQL("CREATE SCHEMA IF NOT EXISTS {};").format(sql.Identifier(schema))
    )


def create_sequence(sequence: QualifiedName) -> Composable:
    return statement(
        "CreateSeqStmt", _target(sequence), sql.SQL("CREATE SEQUENCE IF NOT EXISTS {};").format(ident(sequence))
    )


def sequence_owned_by(sequence: QualifiedName, table: QualifiedName, column: str) -> Composable:
    """The sequence goes with its column (as for ``serial``): dropped with it."""
    owner = sql.Identifier(table.schema, table.name, column)
    text = sql.SQL("ALTER SEQUENCE {} OWNED BY {};").format(ident(sequence), owner)
    return statement("AlterSeqStmt", _target(sequence), text)


def column_sequences(table: Table) -> list[tuple[QualifiedName, str]]:
    """(sequence, column) for each column whose default is ``nextval('<sequence>'::regclass)``."""
    out = []
    for column_name, column in table.columns.items():
        text = nextval_sequence(column.default) if column.default else None
        if text is not None:
            try:
                out.append((parse_regclass(text), column_name))
            except InvalidName:
                continue
    return out


def restart_identity_after_max(table: QualifiedName, column: str) -> Composable:
    """A new identity sequence starts at 1: move it past the values already stored."""
    text = sql.SQL("SELECT setval(pg_get_serial_sequence({}, {}), coalesce(max({}), 0) + 1, false) FROM {};").format(
        sql.Literal(render(ident(table))), sql.Literal(column), sql.Identifier(column), ident(table)
    )
    return statement("SelectStmt", None, text)


def create_enum(name: QualifiedName, labels: Sequence[str]) -> Composable:
    text = sql.SQL("CREATE TYPE {} AS ENUM ({});").format(
        ident(name), sql.SQL(", ").join(sql.Literal(v) for v in labels)
    )
    return statement("CreateEnumStmt", _target(name), text)


def add_enum_value(name: QualifiedName, label: str, after: str | None, before: str | None = None) -> Composable:
    text = sql.SQL("ALTER TYPE {} ADD VALUE IF NOT EXISTS {}").format(ident(name), sql.Literal(label))
    if after is not None:
        text += sql.SQL(" AFTER {}").format(sql.Literal(after))
    elif before is not None:
        text += sql.SQL(" BEFORE {}").format(sql.Literal(before))
    return statement("AlterEnumStmt", _target(name), text + sql.SQL(";"))


def _dollar_quote(body: str) -> str:
    tag, n = "$body$", 0
    while tag in body:
        n += 1
        tag = f"$body{n}$"
    return tag


def function_identity(name: QualifiedName, parameters: Sequence[Parameter]) -> Composable:
    """``schema.name(input types)`` for ALTER, GRANT and DROP: the name quoted, the types as PostgreSQL's
    parser read them (deparsed, never the contract's text)."""
    return sql.SQL("{}({})").format(ident(name), sql.SQL(identity_sql(tuple(parameters))))


def _routine(kind: str) -> Composable:
    return sql.SQL("PROCEDURE" if kind == "procedure" else "FUNCTION")


def _set_clauses(spec: FunctionSpec) -> list[Composable]:
    out: list[Composable] = []
    if spec.search_path is not None:
        path = [p.strip() for p in spec.search_path.split(",") if p.strip() and p.strip() not in ("''", '""')]
        value = sql.SQL(", ").join(sql.Identifier(p.strip('"')) for p in path) if path else sql.SQL("''")
        out.append(sql.SQL("SET search_path = {}").format(value))
    for setting, value_text in sorted((spec.settings or {}).items()):
        out.append(sql.SQL("SET {} = {}").format(_setting_name(setting), sql.Literal(value_text)))
    return out


def _setting_name(setting: str) -> Composable:
    """A configuration parameter's name: ``work_mem`` or a custom ``app.tenant``, each part quoted."""
    return sql.SQL(".").join(sql.Identifier(part) for part in setting.split("."))


def function_options(spec: FunctionSpec) -> list[Composable]:
    """The options a CREATE states: language, and for a function volatility, strictness, leakproof and
    parallel safety (only what differs from the default), then SECURITY and every SET."""
    head: list[Composable] = [sql.SQL("LANGUAGE {}").format(sql.Identifier(spec.language))]
    if spec.kind == "function":
        head.append(sql.SQL(spec.volatility.upper()))
        if spec.strict:
            head.append(sql.SQL("STRICT"))
        if spec.leakproof:
            head.append(sql.SQL("LEAKPROOF"))
        if spec.parallel != "unsafe":
            head.append(sql.SQL("PARALLEL " + spec.parallel.upper()))
    security = sql.SQL("SECURITY DEFINER" if spec.security == "definer" else "SECURITY INVOKER")
    return [sql.SQL(" ").join(head), security, *_set_clauses(spec)]


def create_function(
    name: QualifiedName,
    parameters: Sequence[Parameter],
    spec: FunctionSpec,
    existing_roles: Iterable[str] = (),
) -> Composable:
    """CREATE OR REPLACE FUNCTION (or PROCEDURE) with the full argument list, defaults included; then, when
    the contract lists who may execute it, REVOKE from PUBLIC and from every other role known to exist
    (default privileges may have granted them) and GRANT to each listed role."""
    body = spec.body or ""
    tag = _dollar_quote(body)
    head = sql.SQL("CREATE OR REPLACE {} {}({})").format(
        _routine(spec.kind), ident(name), sql.SQL(arguments_sql(tuple(parameters)))
    )
    if spec.kind == "function":
        check_returns(spec.returns or "void")
        head += sql.SQL(" RETURNS {}").format(sql.SQL(spec.returns or "void"))
    parts = [head, *function_options(spec)]
    if is_sql_standard(body, spec.language):
        # SQL of the statement itself, read by PostgreSQL's parser as exactly this body (contract model); the
        # ';' on a line of its own, and the whole statement verified when rendered.
        sql_body_tree(body)
        parts.append(sql.SQL(body.strip() + "\n;"))
    else:
        source = sql.SQL("\n" + body.strip() + "\n")
        parts.append(sql.Composed([sql.SQL("AS "), sql.SQL(tag), source, sql.SQL(tag), sql.SQL(";")]))
    statements: list[Composable] = [statement("CreateFunctionStmt", _target(name), sql.SQL("\n  ").join(parts))]
    if spec.execute is not None:
        expected = set(spec.execute)
        revoke = ({"public", *existing_roles}) - expected
        statements += function_execute(name, spec.kind, parameters, expected, revoke, grant_all=True)
    return joined("\n", statements)


def alter_function(name: QualifiedName, kind: str, parameters: Sequence[Parameter], action: Composable) -> Composable:
    """ALTER FUNCTION (or PROCEDURE) ... <action>: an attribute changed in place, whatever the defaults."""
    text = sql.SQL("ALTER {} {} {};").format(_routine(kind), function_identity(name, parameters), action)
    return statement("AlterFunctionStmt", None, text)


def function_execute(
    name: QualifiedName,
    kind: str,
    parameters: Sequence[Parameter],
    expected: set[str],
    actual: set[str],
    grant_all: bool = False,
) -> list[Composable]:
    """REVOKE what the contract does not list (PUBLIC included), GRANT what it lists and ``actual`` lacks
    (``grant_all``: every listed role, for a function just created)."""
    function = function_identity(name, parameters)
    routine = _routine(kind)
    out: list[Composable] = []
    for role in sorted(actual - expected):
        revoke = sql.SQL("REVOKE EXECUTE ON {} {} FROM {};").format(routine, function, _role(role))
        out.append(statement("GrantStmt", None, revoke))
    for role in sorted(expected if grant_all else expected - actual):
        grant = sql.SQL("GRANT EXECUTE ON {} {} TO {};").format(routine, function, _role(role))
        out.append(statement("GrantStmt", None, grant))
    return out


def create_role(name: str, spec: RoleSpec) -> Composable:
    options = ["LOGIN" if spec.login else "NOLOGIN"]
    if spec.bypassrls:
        options.append("BYPASSRLS")
    return statement(
        "CreateRoleStmt", None, sql.SQL("CREATE ROLE {} {};").format(sql.Identifier(name), sql.SQL(" ".join(options)))
    )


def alter_role(name: str, keyword: str) -> Composable:
    return statement("AlterRoleStmt", None, sql.SQL("ALTER ROLE {} {};").format(sql.Identifier(name), sql.SQL(keyword)))


def grant_role(group: str, member: str) -> Composable:
    return statement(
        "GrantRoleStmt", None, sql.SQL("GRANT {} TO {};").format(sql.Identifier(group), sql.Identifier(member))
    )


def _view_options(spec: ViewSpec) -> list[Composable]:
    return [
        sql.SQL(f"{option} = true")
        for option, on in (("security_invoker", spec.security_invoker), ("security_barrier", spec.security_barrier))
        if on
    ]


def create_view(name: QualifiedName, spec: ViewSpec) -> Composable:
    """CREATE OR REPLACE VIEW (options and check option replaced too), or for a materialized view CREATE
    MATERIALIZED VIEW IF NOT EXISTS ... WITH DATA. The query (validated as exactly one query) stands on
    lines of its own, so a trailing comment in it cannot swallow what follows."""
    definition = spec.definition or ""
    check_fragment(definition)
    query = sql.SQL("\n" + definition + "\n")
    if spec.materialized:
        text = sql.SQL("CREATE MATERIALIZED VIEW IF NOT EXISTS {} AS{}WITH DATA;").format(ident(name), query)
        return statement("CreateTableAsStmt", None, text)
    create = sql.SQL("CREATE OR REPLACE VIEW {}").format(ident(name))
    options = _view_options(spec)
    if options:
        create += sql.SQL(" WITH ({})").format(sql.SQL(", ").join(options))
    create += sql.SQL(" AS") + query
    if spec.check_option is not None:
        create += sql.SQL(f"WITH {spec.check_option.upper()} CHECK OPTION")
    return statement("ViewStmt", _target(name), create + sql.SQL(";"))


def drop_view(name: QualifiedName, materialized: bool) -> Composable:
    text = sql.SQL("DROP {}VIEW {};").format(sql.SQL("MATERIALIZED " if materialized else ""), ident(name))
    return statement("DropStmt", None, text)


def alter_view_option(name: QualifiedName, option: str, value: str | None) -> Composable:
    """ALTER VIEW ... SET (option = value), or RESET (option) for None."""
    if value is None:
        text = sql.SQL("ALTER VIEW {} RESET ({});").format(ident(name), sql.Identifier(option))
    else:
        text = sql.SQL("ALTER VIEW {} SET ({} = {});").format(ident(name), sql.Identifier(option), sql.SQL(value))
    return statement("AlterTableStmt", _target(name), text)


def grant_privileges(name: QualifiedName, role: str, expected: set[str], actual: set[str]) -> list[Composable]:
    """REVOKE what ``actual`` has beyond ``expected``, GRANT what it lacks."""
    out: list[Composable] = []
    if actual - expected:
        out.append(grant(name, role, actual - expected, revoke=True))
    if expected - actual:
        out.append(grant(name, role, expected - actual))
    return out


_TRIGGER_STATE: dict[bool | str, str] = {
    False: "DISABLE TRIGGER",
    "replica": "ENABLE REPLICA TRIGGER",
    "always": "ENABLE ALWAYS TRIGGER",
}


def trigger_state(table: QualifiedName, trigger_name: str, enabled: bool | str) -> Composable:
    action = "ENABLE TRIGGER" if enabled is True else _TRIGGER_STATE[enabled]
    return alter_table(table, sql.SQL(action + " {}").format(sql.Identifier(trigger_name)))


def create_trigger(table: QualifiedName, trigger_name: str, spec: TriggerSpec) -> Composable:
    """CREATE OR REPLACE TRIGGER (PostgreSQL 14+), then its state when it is not plainly enabled. The WHEN
    condition is PostgreSQL's parser's reading of the contract's expression, printed again."""
    events: list[Composable] = []
    for event in spec.events:
        clause: Composable = sql.SQL(event.upper())
        if event == "update" and spec.columns:
            clause += sql.SQL(" OF ") + idents(spec.columns)
        events.append(clause)
    create = sql.SQL("CREATE OR REPLACE TRIGGER {} {} {} ON {}").format(
        sql.Identifier(trigger_name), sql.SQL(spec.timing.upper()), sql.SQL(" OR ").join(events), ident(table)
    )
    transition = [
        sql.SQL(f"{which} TABLE AS ") + sql.Identifier(alias)
        for which, alias in (("OLD", spec.old_table), ("NEW", spec.new_table))
        if alias is not None
    ]
    if transition:
        create += sql.SQL(" REFERENCING ") + sql.SQL(" ").join(transition)
    create += sql.SQL(f" FOR EACH {spec.for_each.upper()}")
    if spec.when is not None:
        create += sql.SQL(" WHEN ({})").format(sql.SQL(deparsed_expr(spec.when)))
    create += sql.SQL(" EXECUTE FUNCTION {}({});").format(
        ident(spec.function_name), sql.SQL(", ").join(sql.Literal(a) for a in spec.arguments)
    )
    created = statement("CreateTrigStmt", _target(table), create)
    if spec.enabled is True:
        return created
    return joined("\n", [created, trigger_state(table, trigger_name, spec.enabled)])


def view_steps(name: QualifiedName, spec: ViewSpec) -> list[Composable]:
    """A view's DDL: CREATE (needs ``definition``), a materialized view's indexes, its grants."""
    steps: list[Composable] = [create_view(name, spec)]
    steps += [create_index(name, index_name, index) for index_name, index in spec.indexes.items()]
    for role, privileges in (spec.grants or {}).items():
        steps += grant_exactly(name, role, privileges)
    return steps


def _privilege_list(privileges: Iterable[str]) -> Composable:
    return sql.SQL(", ").join(sql.SQL(p.upper()) for p in sorted(privileges))


def grant_columns(
    table: QualifiedName, role: str, columns: dict[str, Iterable[str]], revoke: bool = False
) -> Composable:
    """``GRANT SELECT (a, b), UPDATE (b) ON t TO role`` (or the REVOKE): column privileges, per privilege."""
    by_privilege: dict[str, list[str]] = {}
    for column, privileges in sorted(columns.items()):
        for privilege in privileges:
            by_privilege.setdefault(privilege, []).append(column)
    privs = sql.SQL(", ").join(
        sql.SQL("{} ({})").format(sql.SQL(p.upper()), idents(cols)) for p, cols in sorted(by_privilege.items())
    )
    template = "REVOKE {} ON {} FROM {};" if revoke else "GRANT {} ON {} TO {};"
    return statement("GrantStmt", None, sql.SQL(template).format(privs, ident(table), _role(role)))


def grant_schema(schema: str, role: str, privileges: Iterable[str], revoke: bool = False) -> Composable:
    template = "REVOKE {} ON SCHEMA {} FROM {};" if revoke else "GRANT {} ON SCHEMA {} TO {};"
    text = sql.SQL(template).format(_privilege_list(privileges), sql.Identifier(schema), _role(role))
    return statement("GrantStmt", None, text)


def schema_grant_exactly(schema: str, role: str, privileges: Iterable[str]) -> list[Composable]:
    wanted = set(privileges)
    out = [grant_schema(schema, role, ["all"], revoke=True)]
    return out + ([grant_schema(schema, role, wanted)] if wanted else [])


def alter_default_privileges(
    role: str, schema: str | None, objects: str, grantee: str, privileges: Iterable[str], revoke: bool = False
) -> Composable:
    """``ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT ... ON TABLES TO g`` (or the REVOKE)."""
    head = sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}").format(sql.Identifier(role))
    if schema is not None:
        head += sql.SQL(" IN SCHEMA {}").format(sql.Identifier(schema))
    template = " REVOKE {} ON {} FROM {};" if revoke else " GRANT {} ON {} TO {};"
    text = head + sql.SQL(template).format(_privilege_list(privileges), sql.SQL(objects.upper()), _role(grantee))
    return statement("AlterDefaultPrivilegesStmt", None, text)


def default_privileges_exactly(
    role: str, schema: str | None, objects: str, grantee: str, privileges: Iterable[str]
) -> list[Composable]:
    wanted = set(privileges)
    out = [alter_default_privileges(role, schema, objects, grantee, ["all"], revoke=True)]
    return out + ([alter_default_privileges(role, schema, objects, grantee, wanted)] if wanted else [])


def create_extension(name: str, schema: str | None) -> Composable:
    text = sql.SQL("CREATE EXTENSION IF NOT EXISTS {}").format(sql.Identifier(name))
    if schema is not None:
        text += sql.SQL(" WITH SCHEMA {}").format(sql.Identifier(schema))
    return statement("CreateExtensionStmt", None, text + sql.SQL(";"))


def published_table(name: QualifiedName, columns: Sequence[str] | None, where: str | None) -> Composable:
    """One table of a publication: ``t (a, b) WHERE (...)``; the row filter is the contract's expression."""
    out: Composable = ident(name)
    if columns is not None:
        out += sql.SQL(" ({})").format(idents(columns))
    if where is not None:
        out += sql.SQL(" WHERE {}").format(expression(where))
    return out


def publish_option(operations: Iterable[str]) -> Composable:
    ordered = [op for op in ("insert", "update", "delete", "truncate") if op in set(operations)]
    return sql.SQL("publish = {}").format(sql.Literal(", ".join(ordered)))


def create_publication(
    name: str, all_tables: bool, tables: Sequence[Composable], operations: Iterable[str]
) -> Composable:
    text = sql.SQL("CREATE PUBLICATION {}").format(sql.Identifier(name))
    if all_tables:
        text += sql.SQL(" FOR ALL TABLES")
    elif tables:
        text += sql.SQL(" FOR TABLE {}").format(sql.SQL(", ").join(tables))
    return statement("CreatePublicationStmt", None, text + sql.SQL(" WITH ({});").format(publish_option(operations)))


def publication_ddl(name: str, spec: PublicationSpec) -> Composable:
    tables = [published_table(n, t.columns, t.where) for n, t in spec.table_map.items()]
    return create_publication(name, spec.all_tables, tables, spec.operations)


def alter_publication(name: str, action: str, *args: Composable) -> Composable:
    text = sql.SQL("ALTER PUBLICATION {} ").format(sql.Identifier(name)) + sql.SQL(action + ";").format(*args)
    return statement("AlterPublicationStmt", None, text)


def drop_publication(name: str) -> Composable:
    return statement("DropStmt", None, sql.SQL("DROP PUBLICATION IF EXISTS {};").format(sql.Identifier(name)))
