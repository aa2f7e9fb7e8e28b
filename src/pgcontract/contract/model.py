"""The contract: what the application expects of its database (pydantic, frozen).

Semantics, everywhere: what the contract names must exist as described; what it leaves out is not
checked (extra columns, indexes and constraints are allowed). Exceptions, because they decide access:
a table whose ``rls.policies`` is given must have exactly those policies, and a role listed under
``grants`` must have exactly those privileges. A column attribute that is left out is not checked;
``default: null`` says "no default". An index or policy is compared whole, as its DDL would create it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pgcontract import clauses
from pgcontract.catalog.aggregates import aggregate_signature, default_modify, function_name, operator_name
from pgcontract.catalog.privileges import DefaultKey
from pgcontract.contract.operations import Operations
from pgcontract.contract.template import check_template
from pgcontract.indexkeys import KeySpec
from pgcontract.names import InvalidName, QualifiedName, split_parts, split_reference
from pgcontract.routines import Parameter, input_types, parse_arguments, same_types, split_signature
from pgcontract.seqoptions import Options, resolve, sequence_type
from pgcontract.sqlbody import is_sql_standard, sql_body_tree
from pgcontract.sqlnorm import InvalidSql, check_expr, check_query, parse_type
from pgcontract.sqlsafe import UnsafeFragment, check_fragment, check_returns


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _sql_text(value: Any) -> Any:
    """YAML scalars that are SQL: ``0``, ``1.5`` and ``true`` are SQL text too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


# Cached by text: a contract repeats the same few types and expressions on every table (277,500
# validations of about twenty texts at 10,000 tables), and a text that fails raises again (not cached).
@lru_cache(maxsize=4096)
def _is_expression(text: str) -> str:
    try:
        check_expr(text)
    except InvalidSql as exc:
        raise ValueError(f"not a valid SQL expression: {text!r} (expected a single SQL expression: {exc})") from None
    return text


@lru_cache(maxsize=4096)
def _is_type(text: str) -> str:
    try:
        check_fragment(text)
        parse_type(text)
    except (InvalidSql, UnsafeFragment) as exc:
        raise ValueError(f"not a valid PostgreSQL type: {text!r} (expected a single SQL type: {exc})") from None
    return text


def _is_result_type(text: str) -> str:
    try:
        check_returns(text)
    except UnsafeFragment as exc:
        raise ValueError(
            f"not a valid result type: {text!r} (expected a single type as RETURNS takes it,"
            f" e.g. boolean, setof uuid, trigger, table (a int): {exc})"
        ) from None
    return text


def _is_qualified_name(text: str) -> str:
    try:
        QualifiedName.parse(text)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None
    return text


def _is_reference(text: str) -> str:
    try:
        split_reference(text)
    except InvalidName as exc:
        raise ValueError(f"expected schema.table(column, ...): {exc}") from None
    return text


def _clause(parse: Any, what: str) -> Any:
    def validate(text: str) -> str:
        try:
            clauses.check_pasteable(text)
            parse(text)
        except InvalidSql as exc:
            raise ValueError(f"not a valid {what}: {exc}") from None
        return text

    return validate


SqlExpr = Annotated[str, BeforeValidator(_sql_text), AfterValidator(_is_expression)]
PartitionKey = Annotated[str, AfterValidator(_clause(clauses.partition_key, "partition key"))]
PartitionBound = Annotated[str, AfterValidator(_clause(clauses.partition_bound, "partition bound"))]
ExclusionClause = Annotated[str, AfterValidator(_clause(clauses.exclusion, "exclusion constraint"))]
CollationName = Annotated[str, AfterValidator(_clause(clauses.collation, "collation name"))]
TypeName = Annotated[str, AfterValidator(_is_type)]
ResultType = Annotated[str, AfterValidator(_is_result_type)]
TableName = Annotated[str, AfterValidator(_is_qualified_name)]
Reference = Annotated[str, AfterValidator(_is_reference)]
Identifier = Annotated[str, Field(min_length=1, max_length=63)]
Action = Literal["no action", "restrict", "cascade", "set null", "set default"]
Privilege = Literal["select", "insert", "update", "delete", "truncate", "references", "trigger", "maintain"]
ColumnPrivilege = Literal["select", "insert", "update", "references"]


class SequenceOptions(Model):
    """Options of a sequence (or of an identity column's sequence); left out: CREATE SEQUENCE's default for the
    type and direction (min 1 and max the type's maximum when ascending, start at min; -1 and start at max
    when descending). The current value is data: never compared."""

    start: int | None = Field(None, description="START WITH; default: min (ascending) or max (descending)")
    increment: int = Field(1, description="INCREMENT BY (not 0)")
    min: int | None = Field(None, description="MINVALUE; default 1 (ascending) or the type's minimum")
    max: int | None = Field(None, description="MAXVALUE; default the type's maximum (ascending) or -1")
    cycle: bool = Field(False, description="CYCLE")
    cache: int = Field(1, ge=1, description="CACHE")

    @model_validator(mode="after")
    def _nonzero_increment(self) -> SequenceOptions:
        if self.increment == 0:
            raise ValueError("increment must not be 0")
        return self

    def resolved(self, type_: str) -> Options:
        return resolve(type_, self.start, self.increment, self.min, self.max, self.cycle, self.cache)


def _sequence_type(value: Any) -> Any:
    return sequence_type(value) if isinstance(value, str) else value


def _is_owned_by(text: str) -> str:
    parts = split_parts(text)
    if len(parts) != 3:
        raise ValueError(f"expected schema.table.column, got {text!r}")
    return text


class SequenceSpec(SequenceOptions):
    """A sequence the schema uses (a ``nextval`` default draws from it): compared whole, as its DDL would create
    it."""

    type: Annotated[Literal["smallint", "integer", "bigint"], BeforeValidator(_sequence_type)] = "bigint"
    owned_by: Annotated[str, AfterValidator(_is_owned_by)] | None = Field(
        None, description="schema.table.column the sequence belongs to (OWNED BY); left out: none"
    )
    grants: dict[Identifier, list[Literal["usage", "select", "update"]]] | None = Field(
        None, description="role (public for PUBLIC) -> exactly these sequence privileges; left out: not checked"
    )

    @property
    def options(self) -> Options:
        return self.resolved(self.type)

    @property
    def owner(self) -> tuple[QualifiedName, str] | None:
        if self.owned_by is None:
            return None
        schema, table, column = split_parts(self.owned_by)
        return QualifiedName(schema, table), column


def _check_map(value: Any) -> Any:
    return {k: _sql_text(v) for k, v in value.items()} if isinstance(value, dict) else value


class DomainSpec(Model):
    """A domain, compared whole as its DDL would create it: a left-out ``nullable``, ``default`` or ``checks``
    means the DDL default (NULL allowed, no default, no CHECK)."""

    type: TypeName = Field(description="the base type (a built-in, an enum, another domain...)")
    nullable: bool = Field(True, description="false: NOT NULL")
    default: SqlExpr | None = Field(None, description="DEFAULT expression")
    checks: Annotated[dict[Identifier, SqlExpr], BeforeValidator(_check_map)] = Field(
        default_factory=dict, description="exactly these CHECK constraints, name -> expression on VALUE"
    )


def _attribute_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


def _is_collation(text: str) -> str:
    parts = split_parts(text)
    if len(parts) > 2:
        raise ValueError(f"expected collation or schema.collation, got {text!r}")
    return text


class CompositeAttribute(Model):
    type: TypeName
    collation: Annotated[str, AfterValidator(_is_collation)] | None = Field(
        None, description='COLLATE, when not the type\'s default: C, "en_US.utf8", schema.name'
    )


class CompositeTypeSpec(Model):
    """A composite type (CREATE TYPE ... AS (...)), compared whole: attribute names, order, types, collations."""

    attributes: dict[Identifier, Annotated[CompositeAttribute, BeforeValidator(_attribute_shorthand)]] = Field(
        default_factory=dict, description="name -> type, or {type: ..., collation: ...}, in order"
    )


class Column(Model):
    """A column. ``nullable`` and ``default`` are checked only when given; ``default: null`` means none."""

    type: TypeName = Field(description="PostgreSQL type; aliases allowed (int, timestamptz, varchar(50))")
    nullable: bool | None = Field(None, description="false: NOT NULL; true: must accept NULL")
    default: SqlExpr | None = Field(None, description="default expression; null: must have no default")
    identity: Literal["always", "by default"] | None = Field(None, description="GENERATED ... AS IDENTITY")
    identity_options: SequenceOptions | None = Field(
        None,
        description="the identity's sequence options that differ from the defaults (start, increment, min, max, "
        "cycle, cache); an identity column's sequence is compared whole: what is left out means the default",
    )
    generated: SqlExpr | None = Field(None, description="GENERATED ALWAYS AS (expression) STORED")
    collation: CollationName | None = Field(
        None,
        description='COLLATE, e.g. "C" or public.nocase; left out: not checked (snapshot writes a non-default one)',
    )
    description: str | None = Field(None, description="documentation only, not checked")

    @property
    def checks_default(self) -> bool:
        return "default" in self.model_fields_set


class Deferral(Model):
    """DEFERRABLE and INITIALLY, checked when given."""

    deferrable: bool | None = Field(None, description="DEFERRABLE (true) or NOT DEFERRABLE (false)")
    initially: Literal["immediate", "deferred"] | None = Field(None, description="INITIALLY IMMEDIATE or DEFERRED")

    @model_validator(mode="after")
    def _deferred_is_deferrable(self) -> Deferral:
        if self.initially == "deferred" and self.deferrable is False:
            raise ValueError("'initially: deferred' needs a deferrable constraint")
        return self


class ForeignKey(Deferral):
    name: Identifier | None = None
    columns: list[Identifier] = Field(min_length=1)
    references: Reference = Field(description="schema.table(column, ...), e.g. auth.users(id)")
    on_delete: Action | None = None
    on_update: Action | None = None
    validated: bool = Field(
        True, description="false: may be NOT VALID (rows stored before it was added are not checked)"
    )

    @cached_property
    def target(self) -> tuple[QualifiedName, tuple[str, ...]]:
        return split_reference(self.references)


def _columns_shorthand(value: Any) -> Any:
    return {"columns": value} if isinstance(value, list) else value


def _check_shorthand(value: Any) -> Any:
    return {"expression": value} if isinstance(value, str) else value


class Unique(Deferral):
    name: Identifier | None = None
    columns: list[Identifier] = Field(min_length=1)
    nulls_not_distinct: bool | None = Field(None, description="NULLS NOT DISTINCT (PostgreSQL 15+)")

    @property
    def needs_constraint(self) -> bool:
        """A unique index cannot be deferrable: only a constraint satisfies a deferrable entry."""
        return bool(self.deferrable or self.initially == "deferred")


class Check(Model):
    name: Identifier | None = None
    expression: SqlExpr
    validated: bool = Field(
        True, description="false: may be NOT VALID (rows stored before it was added are not checked)"
    )


def _exclusion_shorthand(value: Any) -> Any:
    return {"definition": value} if isinstance(value, str) else value


class Exclusion(Model):
    """An exclusion constraint, compared whole (as its DDL would create it) and for deferrability."""

    name: Identifier | None = None
    definition: ExclusionClause = Field(
        description="as pg_get_constraintdef prints it: EXCLUDE USING gist (room WITH =, during WITH &&)"
    )


def _is_opclass(text: str) -> str:
    try:
        parts = split_parts(text)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None
    if len(parts) > 2:
        raise ValueError(f"expected operator class or schema.operator_class, got {text!r}")
    return text


class IndexKeyOptions(Model):
    order: Literal["asc", "desc"] = "asc"
    nulls: Literal["first", "last"] | None = Field(None, description="default: last for asc, first for desc")
    opclass: Annotated[str, AfterValidator(_is_opclass)] | None = Field(
        None,
        description="operator class, when not the type's default: text_pattern_ops, or an extension's as"
        " schema.name (extensions.gist_geometry_ops_nd); unqualified, it matches that name in any schema",
    )

    @property
    def nulls_first(self) -> bool:
        return self.nulls == "first" if self.nulls is not None else self.order == "desc"


class IndexColumn(IndexKeyOptions):
    column: Identifier


class IndexExpression(IndexKeyOptions):
    expression: SqlExpr


IndexKey = Identifier | IndexColumn | IndexExpression


def key_spec(key: IndexKey) -> KeySpec:
    if isinstance(key, str):
        return KeySpec(column=key, expression=None)
    column = key.column if isinstance(key, IndexColumn) else None
    expression = key.expression if isinstance(key, IndexExpression) else None
    return KeySpec(column, expression, key.order == "desc", key.nulls_first, key.opclass)


class Index(Model):
    """An index, compared whole: a left-out unique, method, where or include means the DDL default."""

    columns: list[IndexKey] = Field(
        min_length=1, description="column names, {column: ..., order: desc} or {expression: ...}"
    )
    unique: bool = False
    method: str = "btree"
    where: SqlExpr | None = None
    include: list[Identifier] = Field(default_factory=list)
    nulls_not_distinct: bool = Field(False, description="NULLS NOT DISTINCT (a unique index, PostgreSQL 15+)")


class Policy(Model):
    command: Literal["all", "select", "insert", "update", "delete"] = "all"
    roles: list[Identifier] = Field(default_factory=lambda: ["public"], min_length=1)
    as_: Literal["permissive", "restrictive"] = Field("permissive", alias="as")
    using: SqlExpr | None = None
    with_check: SqlExpr | None = None

    @model_validator(mode="after")
    def _clauses_fit_command(self) -> Policy:
        if self.command == "insert" and self.using is not None:
            raise ValueError("an insert policy has no 'using' clause (only 'with_check')")
        if self.command in ("select", "delete") and self.with_check is not None:
            raise ValueError(f"a {self.command} policy has no 'with_check' clause (only 'using')")
        if self.using is None and self.with_check is None:
            raise ValueError("a policy needs 'using', 'with_check' or both")
        return self


class Rls(Model):
    enabled: bool = True
    forced: bool | None = Field(None, description="FORCE ROW LEVEL SECURITY; checked only when given")
    policies: dict[Identifier, Policy] | None = Field(
        None, description="the exact policy set; left out: policies are not compared"
    )


Command = Literal["select", "insert", "update", "delete"]
WriteCommand = Literal["insert", "update", "delete"]


def _column_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _seed_text(value: Any) -> str:
    text = _sql_text(value)
    if not isinstance(text, str):
        raise ValueError(f"expected SQL literal text or a template, got {value!r}")
    return check_template(text)


def _seed_value(value: Any) -> Any:
    """One value for every row (literal text or a template), or ``{A: ..., B: ...}`` per user."""
    if not isinstance(value, dict):
        return _seed_text(value)
    per_user = {str(k).upper(): v for k, v in value.items()}
    if not per_user or set(per_user) - {"A", "B"}:
        raise ValueError(f"values per user take the keys A and B, got {sorted(map(str, value))}")
    return {k: _seed_text(v) for k, v in per_user.items()}


SeedValue = Annotated[str | dict[str, str], BeforeValidator(_seed_value)]


class Membership(Model):
    """Users reach a tenant through a membership table: a row (tenant, user) grants access."""

    table: TableName = Field(description="the membership table, e.g. public.memberships")
    tenant: Identifier = Field(description="its column holding the tenant id, e.g. org_id")
    user: Identifier = Field(description="its column holding the user id, e.g. user_id")
    role: Identifier | None = Field(
        None, description="its column holding the member's role (an enum or text), for `allow` per role"
    )


class Isolation(Model):
    """Who owns a row, for the dynamic RLS tests. Exactly one of ``owner`` or ``via``, unless the table
    is only ``public_read``."""

    owner: Identifier | None = Field(
        None, description="column holding the owner's id: the user (or, with membership or setting auth, the tenant)"
    )
    via: Annotated[list[Identifier], BeforeValidator(_column_list)] | None = Field(
        None, description="foreign-key column(s) to the parent row whose owner owns this row, e.g. thread_id"
    )
    membership: Membership | None = Field(None, description="the owner column holds a tenant users reach this way")
    public_read: bool = Field(False, description="the same as 'read: anon' (kept for older contracts)")
    read: Literal["anon", "authenticated", "members"] | Annotated[list[Identifier], Field(min_length=1)] | None = Field(
        None,
        description="who may read every row: anon (everyone, anonymous callers included), authenticated (any "
        "signed-in user, not anonymous callers), members (only the row's owner; the default), or a list of "
        "auth.principals (e.g. [admin]: they read every row, other users only their own, or none without "
        "'owner'/'via')",
    )
    protected: list[Identifier] = Field(
        default_factory=list,
        description="columns a user may not change on own rows (role, primary_owner_user_id): changing them is "
        "privilege escalation",
    )
    cross_owner: list[Identifier] = Field(
        default_factory=list,
        description="foreign-key columns that may point at other owners' rows (e.g. a comment on someone's post); "
        "every other foreign key to an owned table must stay within the row's owner",
    )
    allow: list[Command] | dict[Identifier, list[Command]] | None = Field(
        None,
        description="exactly what a user may do to own rows (default: what the contract's policies grant, else "
        "all); a command left out must be refused. Per membership role: {owner: [select, update], member: [select]} "
        "(on a 'via' table, the roles of the membership the ownership chain ends at)",
    )
    write: dict[Identifier, list[WriteCommand]] = Field(
        default_factory=dict,
        description="per auth.principals entry, the commands it may run on every row, other users' included, e.g. "
        "{admin: [update, delete]}; plain users and the other principals only on their own rows",
    )
    values: dict[Identifier, SeedValue] = Field(
        default_factory=dict,
        description="values for columns of test rows (SQL literals' text): one for every row, a template "
        "(${user}, ${id}, ${n}: a number of the row's own, for UNIQUE columns), or {A: ..., B: ...} per user",
    )

    @model_validator(mode="after")
    def _one_ownership(self) -> Isolation:
        if self.owner is not None and self.via is not None:
            raise ValueError("give either 'owner' or 'via', not both")
        if self.public_read and self.read not in (None, "anon"):
            raise ValueError(f"'public_read: true' means 'read: anon', not 'read: {self.read}': give one of them")
        if self.owner is None and self.via is None and self.readers == "members" and not self.read_by:
            raise ValueError("give 'owner' (a column) or 'via' (foreign-key columns), or 'read: anon|authenticated'")
        if self.membership is not None and self.owner is None:
            raise ValueError("'membership' needs 'owner': the column holding the tenant id")
        if (
            isinstance(self.allow, dict)
            and self.via is None
            and (self.membership is None or self.membership.role is None)
        ):
            raise ValueError(
                "'allow' per role needs 'membership' with 'role' (the membership table's role column), or 'via' to "
                "a table that has them"
            )
        # UPDATE and DELETE ... WHERE read the table: a principal that changes every row must also read it.
        unread = [p for p, cs in self.write.items() if {"update", "delete"} & set(cs) and not self._reads_all(p)]
        if unread:
            raise ValueError(
                f"'write' lets {', '.join(map(repr, unread))} update or delete every row, which needs reading them:"
                f" add {'them' if len(unread) > 1 else 'it'} to 'read' (read: [{', '.join(unread)}])"
            )
        return self

    def _reads_all(self, principal: str) -> bool:
        return self.readers != "members" or principal in self.read_by

    @property
    def readers(self) -> Literal["anon", "authenticated", "members"]:
        """Who may read every row of the table, not only own rows (principals named by ``read`` aside)."""
        if isinstance(self.read, str):
            return self.read
        return "anon" if self.public_read else "members"

    @property
    def read_by(self) -> tuple[str, ...]:
        """The principals (``auth.principals``) that read every row; the other users read only their own."""
        return tuple(self.read) if isinstance(self.read, list) else ()


class TableErasure(Model):
    """What deleting a user must do to this table's rows (the erasure proof, with a top-level ``erasure``)."""

    set_null: list[Identifier] = Field(
        default_factory=list,
        description="columns that must be cleared (NULL), not the row deleted, when the user they point at is "
        "deleted, e.g. [author_id] (ON DELETE SET NULL); the table holds personal data through them",
    )
    retain: str | None = Field(
        None,
        min_length=1,
        description="why the rows outlive their user on purpose (e.g. invoices kept for accounting): the table is "
        "left out of the erasure proof and lint",
    )


class Table(Model):
    critical: bool = Field(False, description="the health API is unhealthy when this table fails")
    description: str | None = None
    columns: dict[Identifier, Column] = Field(default_factory=dict)
    primary_key: list[Identifier] | None = None
    primary_key_deferral: Deferral | None = Field(
        None,
        description="the primary key's DEFERRABLE and INITIALLY (checked when given; snapshot writes it for a "
        "deferrable key)",
    )
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    unique: list[Annotated[Unique, BeforeValidator(_columns_shorthand)]] = Field(default_factory=list)
    checks: list[Annotated[Check, BeforeValidator(_check_shorthand)]] = Field(default_factory=list)
    exclusions: list[Annotated[Exclusion, BeforeValidator(_exclusion_shorthand)]] = Field(default_factory=list)
    indexes: dict[Identifier, Index] = Field(default_factory=dict)
    partition_by: PartitionKey | None = Field(
        None, description="partitioned table: its key as pg_get_partkeydef prints it, e.g. RANGE (created_at)"
    )
    partitions: dict[TableName, PartitionBound] = Field(
        default_factory=dict,
        description="partitions that must be attached, with their bounds: FOR VALUES FROM (...) TO (...), "
        "FOR VALUES IN (...), FOR VALUES WITH (modulus m, remainder r) or DEFAULT; others may exist too",
    )
    inherits: list[TableName] | None = Field(
        None, description="exactly these parent tables (INHERITS), not for partitions; left out: not checked"
    )
    rls: Rls | None = None
    grants: dict[Identifier, list[Privilege]] | None = Field(
        None,
        description="role (public for PUBLIC) -> exactly these table privileges; a listed role has no column "
        "privileges but those under column_grants",
    )
    column_grants: dict[Identifier, dict[Identifier, list[ColumnPrivilege]]] | None = Field(
        None, description="role -> column -> exactly these column privileges (GRANT SELECT (col) ...)"
    )
    isolation: Isolation | None = Field(None, description="who owns a row, for the dynamic RLS isolation tests")
    erasure: TableErasure | None = Field(
        None, description="columns cleared rather than deleted with their user, or a reason to keep the rows"
    )

    @model_validator(mode="after")
    def _partitioning_fits(self) -> Table:
        if self.partitions and self.partition_by is None:
            raise ValueError("'partitions' needs 'partition_by'")
        if self.partition_by is not None and self.inherits:
            raise ValueError("a partitioned table cannot inherit ('inherits' with 'partition_by')")
        return self

    @cached_property
    def partition_map(self) -> dict[QualifiedName, str]:
        return {QualifiedName.parse(k): v for k, v in self.partitions.items()}

    @property
    def effective_rls(self) -> Rls | None:
        """The RLS the table must have: as declared, or enabled when the table declares who owns its rows."""
        if self.rls is not None:
            return self.rls
        return Rls() if self.isolation is not None else None


class Erasure(Model):
    """The erasure proof: deleting a user, as the platform does, must leave no row of that user."""

    users: TableName | None = Field(
        None,
        description="the table whose row is the user (deleted with DELETE ... WHERE its primary key = the user's); "
        "default under supabase auth: auth.users; required otherwise",
    )


MAX_CLAIMS_DEPTH = 16


def _shallow_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """Claims are the one free-form part of a contract; they become JSON for every test user, and
    nesting that deep (aliases can build it from little text) would overflow the JSON encoder."""
    todo: list[tuple[Any, int]] = [(claims, 1)]
    while todo:
        value, depth = todo.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_CLAIMS_DEPTH:
                    raise ValueError(f"claims may nest at most {MAX_CLAIMS_DEPTH} levels deep")
                todo.append((child, depth + 1))
    return claims


class AuthBase(Model):
    seed_role: Identifier | None = Field(
        None, description="role that creates test rows (must bypass RLS); default: the connecting role"
    )


class PrincipalSpec(Model):
    """A kind of signed-in user with claims of its own (an admin), tried as user A on tables whose
    ``isolation.read`` names it."""

    claims: Annotated[dict[str, Any], AfterValidator(_shallow_claims)] = Field(
        default_factory=dict,
        description="JWT claims over auth.claims (app_metadata and user_metadata merged key by key), e.g. "
        "{app_metadata: {role: admin}}",
    )


class SupabaseAuth(AuthBase):
    """Supabase: ``SET LOCAL ROLE authenticated`` (or ``anon``) plus ``request.jwt.claims``."""

    mode: Literal["supabase"]
    user_role: Identifier = "authenticated"
    anon_role: Identifier = "anon"
    claims: Annotated[dict[str, Any], AfterValidator(_shallow_claims)] = Field(
        default_factory=dict, description="extra JWT claims for test users (role, email, aal, app_metadata, ...)"
    )
    principals: dict[Identifier, PrincipalSpec] = Field(
        default_factory=dict,
        description="named users with claims of their own (admin: {claims: {app_metadata: {role: admin}}}), for "
        "tables whose isolation.read names them",
    )


class RoleAuth(AuthBase):
    """Plain PostgreSQL: every user is a role; test users are created (and rolled back) per test."""

    mode: Literal["role"]
    member_of: list[Identifier] = Field(default_factory=list, description="roles granted to each test user role")


class SettingAuth(AuthBase):
    """An application role plus ``set_config('<setting>', <id>, true)``."""

    mode: Literal["setting"]
    role: Identifier = Field(description="the application role that queries run as")
    setting: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_.]*$",
        description="the custom setting that carries the user or tenant id, e.g. app.tenant_id",
    )


Auth = Annotated[SupabaseAuth | RoleAuth | SettingAuth, Field(discriminator="mode")]


class RoleSpec(Model):
    """A role the database must have (policies and grants name it). Attributes are checked when given."""

    login: bool | None = None
    bypassrls: bool | None = None
    member_of: list[Identifier] = Field(default_factory=list, description="roles it must be granted")


class FunctionSpec(Model):
    """A function or procedure the schema relies on (e.g. a helper policies call). Keyed by its signature,
    ``schema.name(arg type, ...)``: its input arguments (IN, INOUT, VARIADIC) identify it. An attribute that
    is left out is not checked where it says so, else it means the DDL default (``pgcontract sql`` needs body)."""

    kind: Literal["function", "procedure"] = "function"
    arguments: str | None = Field(
        None,
        description="the full argument list, as pg_get_function_arguments prints it: modes (IN, OUT, INOUT, "
        "VARIADIC), names, types and DEFAULTs; left out: the key's list, and only the input types are checked",
    )
    returns: ResultType | None = Field(
        None, description="the result type, as in RETURNS (boolean, setof uuid, TABLE(id uuid), trigger, ...)"
    )
    language: str = "sql"
    volatility: Literal["immutable", "stable", "volatile"] = "volatile"
    security: Literal["definer", "invoker"] = "invoker"
    strict: bool = Field(False, description="STRICT (RETURNS NULL ON NULL INPUT)")
    leakproof: bool = False
    parallel: Literal["safe", "restricted", "unsafe"] = "unsafe"
    search_path: str | None = Field(None, description="SET search_path = ... ('' for empty); left out: not checked")
    settings: dict[str, str] | None = Field(
        None, description="every other SET of the function (name -> value); left out: not checked"
    )
    body: str | None = Field(None, description="the function's source; compared after normalisation when given")
    execute: list[Identifier] | None = Field(
        None, description="exactly the roles that may execute it (besides its owner); PUBLIC must not"
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> FunctionSpec:
        if self.kind == "function" and self.returns is None:
            raise ValueError("a function needs 'returns'")
        if self.kind == "procedure":
            if self.returns is not None:
                raise ValueError("a procedure has no 'returns'")
            if self.volatility != "volatile" or self.strict or self.leakproof or self.parallel != "unsafe":
                raise ValueError("a procedure has no volatility, strict, leakproof or parallel")
        if self.settings is not None and "search_path" in self.settings:
            raise ValueError("give search_path as 'search_path', not under 'settings'")
        if is_sql_standard(self.body, self.language):
            try:
                sql_body_tree(self.body or "")
            except UnsafeFragment as exc:
                raise ValueError(str(exc)) from None
        if self.arguments is not None:
            try:
                parse_arguments(self.arguments)
            except InvalidSql as exc:
                raise ValueError(str(exc)) from None
            _safe_arguments(self.arguments)
        return self

    def parameters(self, key_arguments: str) -> tuple[Parameter, ...]:
        """The full parameter list: ``arguments`` when given, else the key's."""
        return parse_arguments(self.arguments if self.arguments is not None else key_arguments)


def _name_of(parse: Callable[[str], object]) -> AfterValidator:
    """A validator keeping the text ``parse`` accepts (its InvalidName turned into pydantic's ValueError)."""

    def valid(text: str) -> str:
        try:
            parse(text)
        except InvalidName as exc:
            raise ValueError(str(exc)) from None
        return text

    return AfterValidator(valid)


OperatorName = Annotated[str, _name_of(operator_name)]
FunctionName = Annotated[str, _name_of(function_name)]


class AggregateSpec(Model):
    """An aggregate (CREATE AGGREGATE), keyed by its signature like a function (``public.median(numeric)``;
    an ordered-set aggregate's holds ORDER BY between its direct and aggregated arguments:
    ``public.pct(frac double precision ORDER BY value double precision)``) and compared whole, as its DDL
    would create it: a left-out attribute is the DDL default. Functions are named ``schema.name``, or
    ``name`` for PostgreSQL's own (``array_append``)."""

    sfunc: FunctionName = Field(description="the state transition function (SFUNC)")
    stype: TypeName = Field(description="the state value's type (STYPE)")
    sspace: int = Field(0, ge=0, description="SSPACE, the state's average size in bytes; left out: 0 (estimated)")
    finalfunc: FunctionName | None = Field(None, description="FINALFUNC; left out: none")
    finalfunc_extra: bool = Field(False, description="FINALFUNC_EXTRA")
    finalfunc_modify: Literal["read_only", "shareable", "read_write"] | None = Field(
        None, description="FINALFUNC_MODIFY; left out: read_only, read_write for an ordered-set aggregate"
    )
    combinefunc: FunctionName | None = Field(None, description="COMBINEFUNC (partial aggregation); left out: none")
    serialfunc: FunctionName | None = Field(None, description="SERIALFUNC; left out: none")
    deserialfunc: FunctionName | None = Field(None, description="DESERIALFUNC; left out: none")
    initcond: Annotated[str, BeforeValidator(_sql_text)] | None = Field(
        None, description="INITCOND, the state's initial value as text ('{}', '0'); left out: none (NULL)"
    )
    msfunc: FunctionName | None = Field(None, description="MSFUNC, moving-aggregate state function; left out: none")
    minvfunc: FunctionName | None = Field(None, description="MINVFUNC, its inverse; left out: none")
    mstype: TypeName | None = Field(None, description="MSTYPE, the moving state's type; left out: none")
    msspace: int = Field(0, ge=0, description="MSSPACE; left out: 0 (estimated)")
    mfinalfunc: FunctionName | None = Field(None, description="MFINALFUNC; left out: none")
    mfinalfunc_extra: bool = Field(False, description="MFINALFUNC_EXTRA")
    mfinalfunc_modify: Literal["read_only", "shareable", "read_write"] | None = Field(
        None, description="MFINALFUNC_MODIFY; left out: read_only, read_write for an ordered-set aggregate"
    )
    minitcond: Annotated[str, BeforeValidator(_sql_text)] | None = Field(
        None, description="MINITCOND, the moving state's initial value as text; left out: none (NULL)"
    )
    sortop: OperatorName | None = Field(
        None, description="SORTOP, the sort operator of a MIN/MAX-like aggregate (>, <, schema.op); left out: none"
    )
    hypothetical: bool = Field(
        False, description="HYPOTHETICAL: an ordered-set aggregate of hypothetical-set kind (like rank)"
    )
    parallel: Literal["safe", "restricted", "unsafe"] = "unsafe"

    def modify(self, ordered: bool) -> tuple[str, str]:
        """FINALFUNC_MODIFY and MFINALFUNC_MODIFY, the left-out ones at PostgreSQL's default for the kind."""
        default = default_modify(ordered)
        return self.finalfunc_modify or default, self.mfinalfunc_modify or default


def function_signature(text: str) -> tuple[QualifiedName, tuple[str, ...], str]:
    """``schema.name(a uuid, OUT b text)`` -> (name, canonical input argument types, argument list as written)."""
    name, arguments = split_signature(text)
    try:
        parameters = parse_arguments(arguments)
    except InvalidSql as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return name, input_types(parameters), arguments


def _is_signature(text: str) -> str:
    _, _, arguments = function_signature(text)
    _safe_arguments(arguments)
    return text


def _is_aggregate_signature(text: str) -> str:
    aggregate_signature(text)
    _safe_arguments(split_signature(text)[1])
    return text


def _safe_arguments(text: str) -> None:
    """An argument list reaches DDL deparsed from its parse (``routines``); a comment, ``;`` or ambiguous
    string in it is refused all the same, as in every other field that is SQL."""
    try:
        check_fragment(text)
    except UnsafeFragment as exc:
        raise ValueError(f"expected schema.name(argument types); not an argument list: {exc}") from None


def _function_name(value: Any) -> Any:
    """``public.handle_new_user`` or ``public.handle_new_user()``: a trigger function takes no declared arguments."""
    return value[:-2].rstrip() if isinstance(value, str) and value.endswith("()") else value


TriggerEvent = Literal["insert", "update", "delete", "truncate"]


class TriggerSpec(Model):
    """A trigger, compared whole as its CREATE TRIGGER would make it (a left-out attribute is the DDL default)."""

    timing: Literal["before", "after", "instead of"]
    events: list[TriggerEvent] = Field(min_length=1, description="insert, update, delete, truncate")
    columns: list[Identifier] = Field(default_factory=list, description="UPDATE OF these columns")
    for_each: Literal["row", "statement"] = "statement"
    function: Annotated[str, BeforeValidator(_function_name), AfterValidator(_is_qualified_name)] = Field(
        description="the trigger function, schema.name"
    )
    arguments: list[str] = Field(default_factory=list, description="the function's arguments (string literals)")
    when: SqlExpr | None = Field(None, description="WHEN condition, e.g. old.email IS DISTINCT FROM new.email")
    old_table: Identifier | None = Field(None, description="REFERENCING OLD TABLE AS ...")
    new_table: Identifier | None = Field(None, description="REFERENCING NEW TABLE AS ...")
    enabled: bool | Literal["replica", "always"] = Field(
        True, description="true (fires in normal sessions), false (DISABLE), replica or always (ENABLE REPLICA/ALWAYS)"
    )

    @model_validator(mode="after")
    def _fits_events(self) -> TriggerSpec:
        if self.columns and "update" not in self.events:
            raise ValueError("'columns' (UPDATE OF) needs the update event")
        if self.timing == "instead of" and self.for_each != "row":
            raise ValueError("an INSTEAD OF trigger is FOR EACH ROW")
        return self

    @cached_property
    def function_name(self) -> QualifiedName:
        return QualifiedName.parse(self.function)


def _is_query(text: str) -> str:
    text = text.strip().rstrip(";").rstrip()  # pg_get_viewdef ends its text with one
    try:
        check_fragment(text)
        check_query(text)
    except (InvalidSql, UnsafeFragment) as exc:
        raise ValueError(f"not a single query: {exc}") from None
    return text


class ViewSpec(Model):
    """A view or materialized view. ``definition`` is compared after normalisation (layout, casts of
    constants, how columns are qualified do not count); an attribute left out is the DDL default, except
    ``definition``, ``columns`` and ``grants``, which are checked only when given."""

    materialized: bool = False
    definition: Annotated[str, AfterValidator(_is_query)] | None = Field(
        None, description="the query (one SELECT or VALUES); `pgcontract sql` needs it"
    )
    columns: dict[Identifier, TypeName] | None = Field(None, description="the output columns in order: name -> type")
    security_invoker: bool = Field(False, description="runs with the caller's rights and RLS (PostgreSQL 15+)")
    security_barrier: bool = False
    check_option: Literal["local", "cascaded"] | None = Field(None, description="WITH ... CHECK OPTION")
    grants: dict[Identifier, list[Privilege]] | None = Field(None, description="role -> exactly these privileges")
    indexes: dict[Identifier, Index] = Field(default_factory=dict, description="a materialized view's indexes")
    read: Literal["anon", "authenticated", "members"] = Field(
        "members",
        description="who may see every user's rows through it, for the isolation tests: anon (everyone, e.g. a "
        "public leaderboard), authenticated (signed-in users, not anonymous callers), members (only what the "
        "caller's own rows show; the default)",
    )

    @model_validator(mode="after")
    def _fits_kind(self) -> ViewSpec:
        if self.materialized and (self.security_invoker or self.security_barrier or self.check_option):
            raise ValueError("a materialized view has no security_invoker, security_barrier or check_option")
        if self.indexes and not self.materialized:
            raise ValueError("only a materialized view has indexes")
        return self


SchemaPrivilege = Literal["usage", "create"]
DefaultObjects = Literal["tables", "sequences", "functions", "types", "schemas"]
DEFAULT_PRIVILEGES: dict[str, frozenset[str]] = {
    "tables": frozenset(get_args(Privilege)),
    "sequences": frozenset({"usage", "select", "update"}),
    "functions": frozenset({"execute"}),
    "types": frozenset({"usage"}),
    "schemas": frozenset({"usage", "create"}),
}


class DefaultPrivilege(Model):
    """``ALTER DEFAULT PRIVILEGES FOR ROLE <role> [IN SCHEMA <schema>]``: what objects ``role`` creates later
    are granted. Each listed grantee has exactly the listed privileges in that entry."""

    role: Identifier = Field(description="the role whose new objects get these privileges (FOR ROLE)")
    in_schema: Identifier | None = Field(
        None, alias="schema", description="IN SCHEMA; left out: the role's defaults for every schema"
    )
    objects: DefaultObjects
    grants: dict[Identifier, list[str]] = Field(description="grantee (public for PUBLIC) -> exactly these privileges")

    @model_validator(mode="after")
    def _privileges_fit_objects(self) -> DefaultPrivilege:
        allowed = DEFAULT_PRIVILEGES[self.objects]
        for grantee, privileges in self.grants.items():
            wrong = sorted(set(privileges) - allowed)
            if wrong:
                raise ValueError(
                    f"{grantee}: {', '.join(wrong)} is not a privilege on {self.objects} ({sorted(allowed)})"
                )
        if self.objects == "schemas" and self.in_schema is not None:
            raise ValueError("default privileges on schemas take no 'schema'")
        return self

    @property
    def key(self) -> DefaultKey:
        return DefaultKey(self.role, self.in_schema, self.objects)


class Privileges(Model):
    """Privileges beyond one table's: on schemas, and the defaults new objects get."""

    schemas: dict[Identifier, dict[Identifier, list[SchemaPrivilege]]] = Field(
        default_factory=dict, description="schema -> role (public for PUBLIC) -> exactly these (usage, create)"
    )
    defaults: list[DefaultPrivilege] = Field(default_factory=list, description="ALTER DEFAULT PRIVILEGES entries")

    @model_validator(mode="after")
    def _one_entry_each(self) -> Privileges:
        seen = set()
        for entry in self.defaults:
            key = (entry.role, entry.in_schema, entry.objects)
            if key in seen:
                where = f" in schema {entry.in_schema}" if entry.in_schema else ""
                raise ValueError(f"default privileges of {entry.role}{where} on {entry.objects} are listed twice")
            seen.add(key)
        return self


def _quoted_version(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"write the version quoted, as text: '{value}' (YAML reads 1.10 as the number 1.1)")
    return value


class ExtensionSpec(Model):
    """An extension the schema relies on (pgcrypto's gen_random_bytes, pgvector's type, ...)."""

    in_schema: Identifier | None = Field(None, alias="schema", description="its schema; left out: not checked")
    min_version: Annotated[str, BeforeValidator(_quoted_version)] | None = Field(
        None, pattern=r"^[0-9A-Za-z]+([._-][0-9A-Za-z]+)*$", description="at least this version, e.g. '1.3'"
    )


Operation = Literal["insert", "update", "delete", "truncate"]


class PublishedTable(Model):
    columns: list[Identifier] | None = Field(None, description="a column list (PostgreSQL 15+); left out: every column")
    where: SqlExpr | None = Field(None, description="a row filter (PostgreSQL 15+)")


def _table_list(value: Any) -> Any:
    return dict.fromkeys(value) if isinstance(value, list) else value


class PublicationSpec(Model):
    """A publication (logical replication; Supabase Realtime streams ``supabase_realtime``), compared whole:
    its tables are exactly those listed, its operations exactly those listed (default: all four)."""

    all_tables: bool = Field(False, description="FOR ALL TABLES")
    operations: list[Operation] = Field(
        default_factory=lambda: list(get_args(Operation)), description="what it publishes"
    )
    tables: Annotated[dict[TableName, PublishedTable | None], BeforeValidator(_table_list)] = Field(
        default_factory=dict, description="schema.table -> {columns, where} (or a list of names): exactly these"
    )

    @model_validator(mode="after")
    def _tables_or_all(self) -> PublicationSpec:
        if self.all_tables and self.tables:
            raise ValueError("a publication FOR ALL TABLES lists no tables")
        return self

    @cached_property
    def table_map(self) -> dict[QualifiedName, PublishedTable]:
        return {QualifiedName.parse(k): v or PublishedTable() for k, v in self.tables.items()}


LintLevel = Literal["error", "warning", "info", "ignore"]


class LintSetting(Model):
    level: LintLevel | None = None
    ignore: list[str] = Field(default_factory=list, description="objects (schema.table, ...) the rule skips")


def _lint_shorthand(value: Any) -> Any:
    return {"level": value} if isinstance(value, str) else value


LintSetting.model_rebuild()


class Contract(Model):
    """One contract file, or several merged."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="pgcontract contract", json_schema_extra={"$id": "pgcontract"}
    )

    version: Literal[1] = 1
    auth: Auth | None = None
    tables: dict[TableName, Table] = Field(default_factory=dict)
    enums: dict[TableName, list[Annotated[str, Field(min_length=1)]]] = Field(default_factory=dict)
    roles: dict[Identifier, RoleSpec] = Field(default_factory=dict, description="roles the database must have")
    functions: dict[Annotated[str, AfterValidator(_is_signature)], FunctionSpec] = Field(
        default_factory=dict, description="functions the schema relies on, by signature: public.is_member(uuid)"
    )
    domains: dict[TableName, DomainSpec] = Field(default_factory=dict, description="domains, by schema.name")
    composite_types: dict[TableName, CompositeTypeSpec] = Field(
        default_factory=dict, description="composite types (CREATE TYPE ... AS (...)), by schema.name"
    )
    sequences: dict[TableName, SequenceSpec] = Field(
        default_factory=dict, description="sequences (not identity columns' own), by schema.name"
    )
    views: dict[TableName, ViewSpec] = Field(default_factory=dict, description="views and materialized views")
    aggregates: dict[Annotated[str, AfterValidator(_is_aggregate_signature)], AggregateSpec] = Field(
        default_factory=dict, description="aggregates (CREATE AGGREGATE), by signature: public.median(numeric)"
    )
    triggers: dict[TableName, dict[Identifier, TriggerSpec]] = Field(
        default_factory=dict,
        description="table (or view) -> trigger name -> trigger; any table, auth.users included",
    )
    lints: dict[str, Annotated[LintSetting, BeforeValidator(_lint_shorthand)]] = Field(
        default_factory=dict, description="lint rule id -> level (error, warning, info) or ignore"
    )
    privileges: Privileges | None = Field(None, description="schema privileges and default privileges")
    erasure: Erasure | None = Field(
        None,
        description="prove that deleting a user deletes (or clears) every row of that user: {users: auth.users}",
    )
    extensions: dict[Identifier, ExtensionSpec] = Field(
        default_factory=dict, description="extensions that must be installed: name -> {schema, min_version}"
    )
    publications: dict[Identifier, PublicationSpec] = Field(
        default_factory=dict, description="publications (logical replication, Supabase Realtime), compared whole"
    )
    operations: Operations | None = Field(
        None, description="budgets for the running database (connections, storage, backups, wraparound, queries)"
    )

    @model_validator(mode="after")
    def _readers_are_principals(self) -> Contract:
        declared = self.auth.principals if isinstance(self.auth, SupabaseAuth) else {}
        for name, table in self.tables.items():
            isolation = table.isolation
            for field, named in (
                ("read", isolation.read_by if isolation else ()),
                ("write", isolation.write if isolation else {}),
            ):
                unknown = [p for p in named if p not in declared]
                if unknown:
                    raise ValueError(
                        f"tables: {name}: isolation.{field} names {', '.join(map(repr, unknown))}, not among "
                        "auth.principals (auth: {mode: supabase, principals: {NAME: {claims: {...}}}})"
                    )
        return self

    @model_validator(mode="after")
    def _arguments_fit_keys(self) -> Contract:
        for signature, spec in self.functions.items():
            _, _, key = function_signature(signature)
            if spec.arguments is not None and not same_types(
                input_types(parse_arguments(key)), input_types(parse_arguments(spec.arguments))
            ):
                raise ValueError(f"functions: {signature}: 'arguments' has other input types than the key")
        return self

    @cached_property
    def table_map(self) -> dict[QualifiedName, Table]:
        return {QualifiedName.parse(k): v for k, v in self.tables.items()}

    @cached_property
    def erasure_users(self) -> QualifiedName | None:
        """The users table of the erasure proof (None: no ``erasure``, or no users table known)."""
        if self.erasure is None:
            return None
        if self.erasure.users is not None:
            return QualifiedName.parse(self.erasure.users)
        return QualifiedName("auth", "users") if isinstance(self.auth, SupabaseAuth) else None

    @cached_property
    def partition_parents(self) -> dict[QualifiedName, QualifiedName]:
        """partition -> the contract table that lists it under ``partitions``."""
        return {part: name for name, table in self.table_map.items() for part in table.partition_map}

    def declared_columns(self, name: QualifiedName, seen: frozenset[QualifiedName] = frozenset()) -> set[str]:
        """Columns a table has by the contract: its own, and those of its partitioned parent or the
        parents it inherits from (declared there once)."""
        table = self.table_map.get(name)
        own = set(table.columns) if table is not None else set()
        parents = [self.partition_parents[name]] if name in self.partition_parents else []
        if table is not None and table.inherits:
            parents += [QualifiedName.parse(p) for p in table.inherits]
        for parent in parents:
            if parent not in seen:
                own |= self.declared_columns(parent, seen | {name})
        return own

    @cached_property
    def enum_map(self) -> dict[QualifiedName, tuple[str, ...]]:
        return {QualifiedName.parse(k): tuple(v) for k, v in self.enums.items()}

    @cached_property
    def domain_map(self) -> dict[QualifiedName, DomainSpec]:
        return {QualifiedName.parse(k): v for k, v in self.domains.items()}

    @cached_property
    def composite_type_map(self) -> dict[QualifiedName, CompositeTypeSpec]:
        return {QualifiedName.parse(k): v for k, v in self.composite_types.items()}

    @cached_property
    def sequence_map(self) -> dict[QualifiedName, SequenceSpec]:
        return {QualifiedName.parse(k): v for k, v in self.sequences.items()}

    @cached_property
    def function_map(self) -> dict[tuple[QualifiedName, tuple[str, ...]], tuple[str, FunctionSpec]]:
        """(name, argument types) -> (signature as written, spec)."""
        out = {}
        for signature, spec in self.functions.items():
            name, types, _ = function_signature(signature)
            out[(name, types)] = (signature, spec)
        return out

    @cached_property
    def aggregate_map(self) -> dict[tuple[QualifiedName, tuple[str, ...]], tuple[str, AggregateSpec]]:
        """(name, argument types) -> (signature as written, spec)."""
        out = {}
        for signature, spec in self.aggregates.items():
            name, arguments = aggregate_signature(signature)
            out[(name, arguments.types)] = (signature, spec)
        return out

    @cached_property
    def view_map(self) -> dict[QualifiedName, ViewSpec]:
        return {QualifiedName.parse(k): v for k, v in self.views.items()}

    @cached_property
    def trigger_map(self) -> dict[QualifiedName, dict[str, TriggerSpec]]:
        return {QualifiedName.parse(k): v for k, v in self.triggers.items()}

    @cached_property
    def schemas(self) -> frozenset[str]:
        """Schemas a snapshot must read: of tables, enums, tables that foreign keys and memberships
        reference, and ``auth`` under Supabase auth (test users are rows of ``auth.users``)."""
        names = set(self.table_map) | set(self.enum_map) | {name for name, _ in self.function_map}
        names |= {name for name, _ in self.aggregate_map}
        names |= set(self.domain_map) | set(self.composite_type_map) | set(self.sequence_map)
        names |= set(self.view_map) | set(self.trigger_map)
        names.update(t.function_name for triggers in self.trigger_map.values() for t in triggers.values())
        for table in self.table_map.values():
            names.update(fk.target[0] for fk in table.foreign_keys)
            names.update(table.partition_map)
            names.update(QualifiedName.parse(p) for p in table.inherits or ())
            if table.isolation is not None and table.isolation.membership is not None:
                names.add(QualifiedName.parse(table.isolation.membership.table))
        for publication in self.publications.values():
            names.update(publication.table_map)
        schemas = {n.schema for n in names}
        if self.privileges is not None:
            schemas.update(self.privileges.schemas)
            schemas.update(d.in_schema for d in self.privileges.defaults if d.in_schema is not None)
        if self.auth is not None and self.auth.mode == "supabase":
            schemas.add("auth")
        if self.erasure_users is not None:
            schemas.add(self.erasure_users.schema)
        return frozenset(schemas)


# The sections of a contract that declare something to check (every other one only says how): a contract
# with all of them empty is refused, and the message lists them from here. A new section lands here by itself.
DECLARING_SECTIONS: tuple[str, ...] = tuple(
    name for name in Contract.model_fields if name not in ("version", "auth", "lints")
)
