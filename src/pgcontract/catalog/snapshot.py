"""The catalog snapshot: everything a contract can name, read in a fixed handful of queries."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from pgcontract.catalog.aggregates import Aggregate, build_aggregates
from pgcontract.catalog.privileges import Privileges, build_privileges
from pgcontract.catalog.publications import Extension, Publication, build_extensions, build_publications
from pgcontract.catalog.triggers import Trigger, trigger_from_row
from pgcontract.catalog.typekinds import (
    CompositeType,
    Domain,
    Sequence,
    build_composite_types,
    build_domains,
    build_sequences,
)
from pgcontract.connect import DEFAULT_LIMITS, SessionLimits, read_only
from pgcontract.indexkeys import KeySpec
from pgcontract.names import QualifiedName
from pgcontract.ops.read import OpsReading, read_operations
from pgcontract.routines import Parameter, identity_sql, key_arguments, parse_arguments
from pgcontract.sqlbody import body_of_definition
from pgcontract.sqlnorm import InvalidSql, parse_type

if TYPE_CHECKING:
    from pgcontract.contract.operations import Operations

QUERY_FILES = (
    "server",
    "tables",
    "columns",
    "constraints",
    "indexes",
    "policies",
    "grants",
    "enums",
    "views",
    "functions",
    "roles",
    "partitions",
    "domains",
    "composite_types",
    "sequences",
    "triggers",
    "privileges",
    "extensions",
    "publications",
    "aggregates",
)
FK_ACTIONS = {"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}
POLICY_COMMANDS = {"*": "all", "r": "select", "a": "insert", "w": "update", "d": "delete"}
IDENTITY = {"a": "always", "d": "by default"}


@cache
def query_text(name: str) -> str:
    """A catalog query from the package's ``queries/`` directory (read once per process)."""
    return (resources.files("pgcontract.catalog") / "queries" / f"{name}.sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    not_null: bool
    default: str | None
    identity: str | None
    generated: str | None
    collation: str | None = None  # only when it is not the type's own
    inherited: bool = False  # from a parent (partitions: every column)


@dataclass(frozen=True)
class Constraint:
    name: str
    kind: str  # p, f, u, c, x
    columns: tuple[str, ...]
    ref_table: QualifiedName | None = None
    ref_columns: tuple[str, ...] = ()
    on_delete: str | None = None
    on_update: str | None = None
    check: str | None = None
    validated: bool = True
    definition: str = ""
    deferrable: bool = False
    deferred: bool = False
    nulls_not_distinct: bool = False
    inherited: bool = False  # cloned from a partitioned parent, or inherited from a parent


@dataclass(frozen=True)
class Index:
    name: str
    unique: bool
    primary: bool
    method: str
    key_columns: tuple[str | None, ...]
    key_texts: tuple[str, ...]
    key_desc: tuple[bool, ...]
    key_nulls_first: tuple[bool, ...]
    key_opclasses: tuple[str | None, ...]
    include: tuple[str, ...]
    predicate: str | None
    valid: bool
    definition: str
    nulls_not_distinct: bool = False
    inherited: bool = False  # a partition's clone of its parent's index

    @property
    def keys(self) -> tuple[KeySpec, ...]:
        return tuple(
            KeySpec(
                column=column,
                expression=text if column is None else None,
                desc=desc,
                nulls_first=nulls_first,
                opclass=opclass,
            )
            for column, text, desc, nulls_first, opclass in zip(
                self.key_columns, self.key_texts, self.key_desc, self.key_nulls_first, self.key_opclasses, strict=True
            )
        )


@dataclass(frozen=True)
class Policy:
    name: str
    command: str
    permissive: bool
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None


@dataclass(frozen=True)
class View:
    name: QualifiedName
    kind: str  # v view, m materialized view
    security_invoker: bool
    readers: frozenset[str]
    rls_tables: tuple[str, ...]
    security_barrier: bool = False
    check_option: str | None = None  # local, cascaded
    definition: str = ""  # pg_get_viewdef, without the final semicolon
    columns: tuple[tuple[str, str], ...] = ()  # (name, type)
    owner: str = ""
    grants: tuple[tuple[str, frozenset[str]], ...] = ()  # (grantee, privileges), the owner's included
    reads: tuple[QualifiedName, ...] = ()  # relations the query reads
    indexes: tuple[Index, ...] = ()  # of a materialized view

    @property
    def materialized(self) -> bool:
        return self.kind == "m"

    @property
    def grant_map(self) -> dict[str, frozenset[str]]:
        return dict(self.grants)

    @property
    def index_map(self) -> dict[str, Index]:
        return {index.name: index for index in self.indexes}


@dataclass(frozen=True)
class Function:
    """A function or procedure. Identified by name and input argument types; ``arguments`` is the full
    list as ``pg_get_function_arguments`` prints it (modes, names, defaults)."""

    name: QualifiedName
    arguments: str
    argument_types: tuple[str, ...]  # canonical (sqlnorm.parse_type), comparable with a contract signature
    returns: str | None  # None for a procedure
    language: str
    volatility: str  # immutable, stable, volatile
    security_definer: bool
    settings: tuple[str, ...]
    body: str
    owner: str
    executors: frozenset[str]
    kind: str = "function"  # function, procedure
    strict: bool = False
    leakproof: bool = False
    parallel: str = "unsafe"  # safe, restricted, unsafe
    sql_standard: bool = False  # a SQL-standard body (BEGIN ATOMIC, RETURN), not a string

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        try:
            return parse_arguments(self.arguments)
        except InvalidSql:
            return tuple(Parameter("in", None, t, None) for t in self.argument_types)

    @property
    def search_path(self) -> str | None:
        """The fixed search_path, as SET stores it; None when the caller's applies."""
        return self.setting_map.get("search_path")

    @property
    def setting_map(self) -> dict[str, str]:
        pairs = (setting.partition("=") for setting in self.settings)
        return {key: value for key, _, value in pairs}

    @property
    def other_settings(self) -> dict[str, str]:
        """Every SET but search_path."""
        return {k: v for k, v in self.setting_map.items() if k != "search_path"}

    @property
    def fixed_search_path(self) -> bool:
        return self.search_path is not None

    @property
    def identity(self) -> str:
        """The input arguments (names and types): what a contract key lists."""
        return key_arguments(self.parameters)

    @property
    def identity_sql(self) -> str:
        """The input argument types, as ALTER, GRANT and DROP name the function."""
        return identity_sql(self.parameters)

    @property
    def signature(self) -> str:
        return f"{self.name}({self.identity})"


@dataclass(frozen=True)
class Role:
    name: str
    login: bool
    bypassrls: bool
    superuser: bool
    member_of: frozenset[str]


VOLATILITY = {"i": "immutable", "s": "stable", "v": "volatile"}
PARALLEL = {"s": "safe", "r": "restricted", "u": "unsafe"}
ROUTINE_KINDS = {"f": "function", "p": "procedure"}


def _argument_types(text: str) -> tuple[str, ...]:
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        try:
            out.append(str(parse_type(part)))
        except InvalidSql:
            out.append(part)
    return tuple(out)


@dataclass
class Table:
    name: QualifiedName
    kind: str
    rls_enabled: bool
    rls_forced: bool
    owner: str
    in_scope: bool
    columns: dict[str, Column] = field(default_factory=dict)
    constraints: list[Constraint] = field(default_factory=list)
    indexes: dict[str, Index] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    grants: dict[str, frozenset[str]] = field(default_factory=dict)
    column_grants: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)  # role -> column -> privileges
    partition_key: str | None = None  # RANGE (created_at), for a partitioned table
    parents: tuple[QualifiedName, ...] = ()  # pg_inherits: the partitioned parent, or inheritance parents
    bound: str | None = None  # FOR VALUES ... or DEFAULT, for a partition
    detach_pending: bool = False  # DETACH ... CONCURRENTLY interrupted

    @property
    def is_partition(self) -> bool:
        return self.bound is not None

    @cached_property
    def column_names(self) -> frozenset[str]:
        return frozenset(self.columns)

    def constraints_of(self, kind: str) -> list[Constraint]:
        return [c for c in self.constraints if c.kind == kind]


@dataclass
class Snapshot:
    """One consistent read of the catalog (all queries in one READ ONLY transaction)."""

    server_version: str
    server_version_num: int
    database: str
    user: str
    read_only: bool
    schemas: frozenset[str] | None
    tables: dict[QualifiedName, Table]
    enums: dict[QualifiedName, tuple[str, ...]]
    views: list[View] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    roles: dict[str, Role] = field(default_factory=dict)
    domains: dict[QualifiedName, Domain] = field(default_factory=dict)
    composite_types: dict[QualifiedName, CompositeType] = field(default_factory=dict)
    sequences: dict[QualifiedName, Sequence] = field(default_factory=dict)  # not identity columns' own
    identity_sequences: dict[tuple[QualifiedName, str], Sequence] = field(default_factory=dict)  # (table, column)
    triggers: list[Trigger] = field(default_factory=list)
    privileges: Privileges = field(default_factory=Privileges)
    extensions: dict[str, Extension] = field(default_factory=dict)
    publications: dict[str, Publication] = field(default_factory=dict)
    aggregates: list[Aggregate] = field(default_factory=list)
    query_count: int = 0
    read_seconds: float = 0.0
    operations: OpsReading | None = None  # the operations budgets' statistics, when the contract has budgets

    def columns_of(self, name: QualifiedName) -> frozenset[str] | None:
        table = self.tables.get(name)
        return table.column_names if table is not None and table.in_scope else None

    def tables_named(self, name: str) -> list[QualifiedName]:
        return [q for q in self.tables if q.name == name]

    def partitions_of(self, name: QualifiedName) -> list[Table]:
        """The partitions of a partitioned table, by name."""
        return list(self._partitions.get(name, ()))

    @cached_property
    def _partitions(self) -> dict[QualifiedName, list[Table]]:
        """Partitioned table -> its partitions by name, built in one pass: every table's checks ask, and a
        scan of all tables per table made the checks quadratic (3 s of 8 at 10,000 tables)."""
        out: dict[QualifiedName, list[Table]] = {}
        for table in self.tables.values():
            if table.is_partition and len(table.parents) == 1:
                out.setdefault(table.parents[0], []).append(table)
        for partitions in out.values():
            partitions.sort(key=lambda t: t.name)
        return out

    @cached_property
    def index_owner(self) -> dict[tuple[str, str], QualifiedName]:
        """(schema, index name) -> table, for indexes found on another table than expected."""
        return {(t.name.schema, i): t.name for t in self.tables.values() for i in t.indexes}


Conn = psycopg.Connection[Any]


READ_ATTEMPTS = 5


def read_snapshot(
    conn: Conn,
    schemas: Iterable[str] | None = None,
    limits: SessionLimits = DEFAULT_LIMITS,
    operations: Operations | None = None,
) -> Snapshot:
    """Read the catalog of ``schemas`` (all but PostgreSQL's own when None) in one READ ONLY transaction.

    A migration committing during the read can make PostgreSQL's deparsing functions fail ("cache lookup
    failed for relation ...", SQLSTATE XX000: they look at the latest catalog, the queries at the
    transaction's snapshot); the read is then tried again, in a new transaction, after a short pause.
    With ``operations`` (the contract's budgets), their statistics are read in the same transaction.
    """
    for attempt in range(READ_ATTEMPTS - 1):
        try:
            return _read_snapshot(conn, schemas, limits, operations)
        except psycopg.errors.InternalError_:
            time.sleep(0.05 * 2**attempt)
    return _read_snapshot(conn, schemas, limits, operations)


def _read_snapshot(
    conn: Conn, schemas: Iterable[str] | None, limits: SessionLimits, operations: Operations | None = None
) -> Snapshot:
    scope = sorted(set(schemas)) if schemas is not None else None
    params = {"schemas": scope}
    started = time.perf_counter()
    with read_only(conn, limits):
        # Deparse with only pg_catalog visible: every other object comes out schema-qualified.
        conn.execute("SELECT set_config('search_path', 'pg_catalog', true)")
        # Constants (partition bounds, defaults) deparsed the same whatever the server's or role's settings.
        # No JIT: the catalog queries' estimates (set-returning functions in per-row subqueries) pass its cost
        # thresholds on large schemas, and compiling cost more than running (indexes at 10,000 tables: 3.4 s of
        # 7.3, compiled again in each parallel worker). Same statement: the statement count stays fixed.
        conn.execute(
            "SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, YMD', true),"
            " set_config('jit', 'off', true)"
        )
        rows: dict[str, list[dict[str, Any]]] = {}
        with conn.cursor(row_factory=dict_row) as cur:
            for name in QUERY_FILES:
                text = query_text(name)
                cur.execute(text.encode(), params if "%(schemas)s" in text else None)
                rows[name] = cur.fetchall()
        reading = read_operations(conn, operations) if operations is not None else None
    snapshot = _build(rows, frozenset(scope) if scope is not None else None)
    snapshot.query_count = len(QUERY_FILES) + (reading.query_count if reading is not None else 0)
    snapshot.operations = reading
    snapshot.read_seconds = time.perf_counter() - started
    return snapshot


def _opclasses(names: list[str | None], schemas: list[str | None]) -> tuple[str | None, ...]:
    """Non-default operator classes; an extension's named with its schema (``extensions.gist_geometry_ops_nd``),
    which need not be on the search_path of whoever runs the DDL."""
    return tuple(
        None if n is None else n if s is None else str(QualifiedName(s, n)) for n, s in zip(names, schemas, strict=True)
    )


def _qn(row: Mapping[str, Any], table_key: str = "table") -> QualifiedName:
    return QualifiedName(row["schema"], row[table_key])


def _build(rows: dict[str, list[dict[str, Any]]], scope: frozenset[str] | None) -> Snapshot:
    server = rows["server"][0]
    tables: dict[QualifiedName, Table] = {}
    # The same tables by (schema, name) as the rows give them: looked up once per row of every query,
    # without making a QualifiedName for each (300,000 rows at 10,000 tables).
    by_key: dict[tuple[str, str], Table] = {}
    for row in rows["tables"]:
        name = QualifiedName(row["schema"], row["name"])
        tables[name] = by_key[name] = Table(
            name=name,
            kind=row["kind"],
            rls_enabled=row["rls_enabled"],
            rls_forced=row["rls_forced"],
            owner=row["owner"],
            in_scope=scope is None or row["schema"] in scope,
        )
    for row in rows["columns"]:
        table = by_key.get((row["schema"], row["table"]))
        if table is not None:
            table.columns[row["name"]] = Column(
                name=row["name"],
                type=row["type"],
                not_null=row["not_null"],
                default=None if row["generated"] else row["default_expr"],
                identity=IDENTITY.get(row["identity"] or ""),
                generated=row["default_expr"] if row["generated"] else None,
                collation=row["collation"],
                inherited=row["inherited"],
            )
    for row in rows["constraints"]:
        table = by_key.get((row["schema"], row["table"]))
        if table is None:
            continue
        is_fk = row["kind"] == "f"
        table.constraints.append(
            Constraint(
                name=row["name"],
                kind=row["kind"],
                columns=tuple(row["columns"]),
                ref_table=QualifiedName(row["ref_schema"], row["ref_table"]) if is_fk else None,
                ref_columns=tuple(row["ref_columns"]) if is_fk else (),
                on_delete=FK_ACTIONS.get(row["on_delete"]) if is_fk else None,
                on_update=FK_ACTIONS.get(row["on_update"]) if is_fk else None,
                check=row["check_expr"],
                validated=row["validated"],
                definition=row["definition"],
                deferrable=row["deferrable"],
                deferred=row["deferred"],
                nulls_not_distinct=row["nulls_not_distinct"],
                inherited=row["inherited"],
            )
        )
    view_indexes: dict[QualifiedName, list[Index]] = {}
    for row in rows["indexes"]:
        table = by_key.get((row["schema"], row["table"]))
        index = Index(
            name=row["name"],
            unique=row["is_unique"],
            primary=row["is_primary"],
            method=row["method"],
            key_columns=tuple(row["key_columns"]),
            key_texts=tuple(row["key_texts"]),
            key_desc=tuple(row["key_desc"]),
            key_nulls_first=tuple(row["key_nulls_first"]),
            key_opclasses=_opclasses(row["key_opclasses"], row["key_opclass_schemas"]),
            include=tuple(row["include"]),
            predicate=row["predicate"],
            valid=row["valid"],
            definition=row["definition"],
            nulls_not_distinct=row["nulls_not_distinct"],
            inherited=row["inherited"],
        )
        if table is not None:
            table.indexes[index.name] = index
        else:  # a materialized view's
            view_indexes.setdefault(_qn(row), []).append(index)
    for row in rows["policies"]:
        table = by_key.get((row["schema"], row["table"]))
        if table is not None:
            table.policies[row["name"]] = Policy(
                name=row["name"],
                command=POLICY_COMMANDS[row["command"]],
                permissive=row["permissive"],
                roles=tuple(row["roles"]),
                using=row["using_expr"],
                with_check=row["check_expr"],
            )
    for row in rows["grants"]:
        table = by_key.get((row["schema"], row["table"]))
        if table is not None and row["column"] is None:
            table.grants[row["grantee"]] = frozenset(row["privileges"])
        elif table is not None:
            table.column_grants.setdefault(row["grantee"], {})[row["column"]] = frozenset(row["privileges"])
    _inheritance(tables, rows["partitions"])
    enums = {QualifiedName(r["schema"], r["name"]): tuple(r["labels"]) for r in rows["enums"]}
    views = [_view(r, view_indexes) for r in rows["views"]]
    functions = [
        Function(
            name=QualifiedName(r["schema"], r["name"]),
            arguments=r["arguments"],
            argument_types=_argument_types(r["argument_types"]),
            returns=r["returns"],
            language=r["language"],
            volatility=VOLATILITY.get(r["volatility"], r["volatility"]),
            security_definer=r["security_definer"],
            settings=tuple(r["settings"]),
            body=r["body"] if r["definition"] is None else body_of_definition(r["definition"], r["arguments"]),
            owner=r["owner"],
            executors=frozenset(r["executors"]),
            kind=ROUTINE_KINDS.get(r["kind"], r["kind"]),
            strict=r["strict"],
            leakproof=r["leakproof"],
            parallel=PARALLEL.get(r["parallel"], r["parallel"]),
            sql_standard=r["definition"] is not None,
        )
        for r in rows["functions"]
    ]
    roles = {
        r["name"]: Role(r["name"], r["login"], r["bypassrls"], r["superuser"], frozenset(r["member_of"]))
        for r in rows["roles"]
    }
    sequences = build_sequences(rows["sequences"])
    return Snapshot(
        server_version=server["version"],
        server_version_num=server["version_num"],
        database=server["database"],
        user=server["current_user"],
        read_only=server["read_only"],
        schemas=scope,
        tables=tables,
        enums=enums,
        views=views,
        functions=functions,
        roles=roles,
        privileges=build_privileges(rows["privileges"]),
        extensions=build_extensions(rows["extensions"]),
        publications=build_publications(rows["publications"]),
        domains=build_domains(rows["domains"]),
        composite_types=build_composite_types(rows["composite_types"]),
        sequences={s.name: s for s in sequences if not s.identity},
        identity_sequences={s.owned_by: s for s in sequences if s.identity and s.owned_by is not None},
        triggers=[trigger_from_row(r) for r in rows["triggers"]],
        aggregates=build_aggregates(rows["aggregates"]),
    )


def _view(row: Mapping[str, Any], indexes: dict[QualifiedName, list[Index]]) -> View:
    name = QualifiedName(row["schema"], row["name"])
    grants = (grant.rpartition("=") for grant in row["grants"])
    return View(
        name,
        row["kind"],
        row["security_invoker"],
        frozenset(row["readers"]),
        tuple(row["rls_tables"]),
        security_barrier=row["security_barrier"],
        check_option=row["check_option"],
        definition=row["definition"].strip().rstrip(";").strip(),
        columns=tuple(zip(row["column_names"], row["column_types"], strict=True)),
        owner=row["owner"],
        grants=tuple(sorted((grantee, frozenset(privileges.split(","))) for grantee, _, privileges in grants)),
        reads=tuple(sorted(QualifiedName(schema, relation) for schema, relation in row["reads"])),
        indexes=tuple(indexes.get(name, ())),
    )


def _inheritance(tables: dict[QualifiedName, Table], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        table = tables.get(_qn(row))
        if table is None:
            continue
        table.partition_key = row["partition_key"]
        if row["parent_table"] is not None:
            table.parents += (QualifiedName(row["parent_schema"], row["parent_table"]),)
            if row["is_partition"]:
                table.bound = row["bound"]
                table.detach_pending = row["detach_pending"]
