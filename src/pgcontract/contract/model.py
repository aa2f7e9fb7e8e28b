"""The contract: what the application expects of its database (pydantic, frozen).

Semantics, everywhere: what the contract names must exist as described; what it leaves out is not
checked (extra columns, indexes and constraints are allowed). Exceptions, because they decide access:
a table whose ``rls.policies`` is given must have exactly those policies, and a role listed under
``grants`` must have exactly those privileges. A column attribute that is left out is not checked;
``default: null`` says "no default". An index or policy is compared whole, as its DDL would create it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from pgcontract.indexkeys import KeySpec
from pgcontract.names import InvalidName, QualifiedName, split_reference
from pgcontract.sqlnorm import InvalidSql, check_expr, parse_type


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _sql_text(value: Any) -> Any:
    """YAML scalars that are SQL: ``0``, ``1.5`` and ``true`` are SQL text too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _is_expression(text: str) -> str:
    try:
        check_expr(text)
    except InvalidSql as exc:
        raise ValueError(f"not a valid SQL expression: {text!r} ({exc})") from None
    return text


def _is_type(text: str) -> str:
    try:
        parse_type(text)
    except InvalidSql:
        raise ValueError(f"not a valid PostgreSQL type: {text!r}") from None
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


SqlExpr = Annotated[str, BeforeValidator(_sql_text), AfterValidator(_is_expression)]
TypeName = Annotated[str, AfterValidator(_is_type)]
TableName = Annotated[str, AfterValidator(_is_qualified_name)]
Reference = Annotated[str, AfterValidator(_is_reference)]
Identifier = Annotated[str, Field(min_length=1, max_length=63)]
Action = Literal["no action", "restrict", "cascade", "set null", "set default"]
Privilege = Literal["select", "insert", "update", "delete", "truncate", "references", "trigger"]


class Column(Model):
    """A column. ``nullable`` and ``default`` are checked only when given; ``default: null`` means none."""

    type: TypeName = Field(description="PostgreSQL type; aliases allowed (int, timestamptz, varchar(50))")
    nullable: bool | None = Field(None, description="false: NOT NULL; true: must accept NULL")
    default: SqlExpr | None = Field(None, description="default expression; null: must have no default")
    identity: Literal["always", "by default"] | None = Field(None, description="GENERATED ... AS IDENTITY")
    generated: SqlExpr | None = Field(None, description="GENERATED ALWAYS AS (expression) STORED")
    description: str | None = Field(None, description="documentation only, not checked")

    @property
    def checks_default(self) -> bool:
        return "default" in self.model_fields_set


class ForeignKey(Model):
    name: Identifier | None = None
    columns: list[Identifier] = Field(min_length=1)
    references: Reference = Field(description="schema.table(column, ...), e.g. auth.users(id)")
    on_delete: Action | None = None
    on_update: Action | None = None

    @cached_property
    def target(self) -> tuple[QualifiedName, tuple[str, ...]]:
        return split_reference(self.references)


def _columns_shorthand(value: Any) -> Any:
    return {"columns": value} if isinstance(value, list) else value


def _check_shorthand(value: Any) -> Any:
    return {"expression": value} if isinstance(value, str) else value


class Unique(Model):
    name: Identifier | None = None
    columns: list[Identifier] = Field(min_length=1)


class Check(Model):
    name: Identifier | None = None
    expression: SqlExpr


class IndexKeyOptions(Model):
    order: Literal["asc", "desc"] = "asc"
    nulls: Literal["first", "last"] | None = Field(None, description="default: last for asc, first for desc")
    opclass: str | None = Field(None, description="operator class, when not the type's default")

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


class Table(Model):
    critical: bool = Field(False, description="the health API is unhealthy when this table fails")
    description: str | None = None
    columns: dict[Identifier, Column] = Field(default_factory=dict)
    primary_key: list[Identifier] | None = None
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    unique: list[Annotated[Unique, BeforeValidator(_columns_shorthand)]] = Field(default_factory=list)
    checks: list[Annotated[Check, BeforeValidator(_check_shorthand)]] = Field(default_factory=list)
    indexes: dict[Identifier, Index] = Field(default_factory=dict)
    rls: Rls | None = None
    grants: dict[Identifier, list[Privilege]] | None = Field(None, description="role -> exactly these table privileges")


class SupabaseAuth(Model):
    mode: Literal["supabase"]
    claims: dict[str, Any] = Field(default_factory=dict, description="extra JWT claims for test users")


class RoleAuth(Model):
    mode: Literal["role"]
    role_prefix: str = "pgcontract_user_"


class SettingAuth(Model):
    mode: Literal["setting"]
    role: Identifier = Field(description="the application role that queries run as")
    setting: str = Field(description="the setting that carries the user or tenant id, e.g. app.tenant_id")


Auth = Annotated[SupabaseAuth | RoleAuth | SettingAuth, Field(discriminator="mode")]


class Contract(Model):
    """One contract file, or several merged."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="pgcontract contract", json_schema_extra={"$id": "pgcontract"}
    )

    version: Literal[1] = 1
    auth: Auth | None = None
    tables: dict[TableName, Table] = Field(default_factory=dict)
    enums: dict[TableName, list[Annotated[str, Field(min_length=1)]]] = Field(default_factory=dict)

    @cached_property
    def table_map(self) -> dict[QualifiedName, Table]:
        return {QualifiedName.parse(k): v for k, v in self.tables.items()}

    @cached_property
    def enum_map(self) -> dict[QualifiedName, tuple[str, ...]]:
        return {QualifiedName.parse(k): tuple(v) for k, v in self.enums.items()}

    @cached_property
    def schemas(self) -> frozenset[str]:
        """Schemas a snapshot must read: of tables, enums, and tables that foreign keys reference."""
        names = set(self.table_map) | set(self.enum_map)
        for table in self.table_map.values():
            names.update(fk.target[0] for fk in table.foreign_keys)
        return frozenset(n.schema for n in names)
