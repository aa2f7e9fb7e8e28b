"""The contract's optional ``operations:`` section: budgets for the running database.

Each key is a rule id without its ``ops.`` prefix; a budget gives a ``warning`` and/or an ``error``
threshold (a value past it is a finding at that level), or, for a rule that is about presence (an
invalid index, a failing archiver, an inactive slot), the level itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from pgcontract.names import InvalidName, QualifiedName
from pgcontract.ops.units import (
    format_count,
    format_duration,
    format_ratio,
    format_share,
    format_size,
    parse_duration,
    parse_ratio,
    parse_share,
    parse_size,
)


class Unit(Enum):
    """What a budget measures, how it is written and shown, and which way is worse."""

    SECONDS = ("seconds", format_duration)
    BYTES = ("bytes", format_size)
    SHARE = ("share", format_share)
    RATIO = ("ratio", format_ratio)
    COUNT = ("count", format_count)

    def __init__(self, label: str, show: Callable[[float], str]) -> None:
        self.label = label
        self.show = show

    @classmethod
    def of(cls, label: str) -> Unit:
        return next(unit for unit in cls if unit.label == label)


def _schema(example: str) -> WithJsonSchema:
    return WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}], "examples": [example]})


Duration = Annotated[float, BeforeValidator(parse_duration), _schema("5min")]
Size = Annotated[float, BeforeValidator(parse_size), _schema("10GB")]
Share = Annotated[float, BeforeValidator(parse_share), _schema("80%")]
Ratio = Annotated[float, BeforeValidator(parse_ratio), _schema("2")]
Presence = Literal["error", "warning"]


class _Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unit: ClassVar[Unit]
    lower_is_worse: ClassVar[bool] = False

    @model_validator(mode="after")
    def _ordered(self) -> _Budget:
        warning, error = getattr(self, "warning", None), getattr(self, "error", None)
        if warning is None and error is None and self.needs_threshold():
            raise ValueError("a budget needs a warning or an error threshold (or both)")
        if warning is not None and error is not None:
            if self.lower_is_worse and warning < error:
                raise ValueError("the warning threshold must be above the error threshold (less is worse here)")
            if not self.lower_is_worse and warning > error:
                raise ValueError("the warning threshold must not be above the error threshold")
        return self

    def needs_threshold(self) -> bool:
        return True


class DurationBudget(_Budget):
    warning: Duration | None = Field(None, description="longer than this: a warning")
    error: Duration | None = Field(None, description="longer than this: an error (critical in the health report)")
    unit: ClassVar[Unit] = Unit.SECONDS


class SizeBudget(_Budget):
    warning: Size | None = Field(None, description="larger than this: a warning")
    error: Size | None = Field(None, description="larger than this: an error (critical in the health report)")
    unit: ClassVar[Unit] = Unit.BYTES


class ShareBudget(_Budget):
    warning: Share | None = Field(None, description="above this share: a warning")
    error: Share | None = Field(None, description="above this share: an error (critical in the health report)")
    unit: ClassVar[Unit] = Unit.SHARE


class FreeSpaceBudget(_Budget):
    warning: Share | None = Field(None, description="less free than this share: a warning")
    error: Share | None = Field(None, description="less free than this share: an error")
    unit: ClassVar[Unit] = Unit.SHARE
    lower_is_worse: ClassVar[bool] = True


def _table_name(value: Any) -> Any:
    try:
        return str(QualifiedName.parse(value)) if isinstance(value, str) else value
    except InvalidName as exc:
        raise ValueError(str(exc)) from None


class TableSizeBudget(SizeBudget):
    tables: dict[Annotated[str, BeforeValidator(_table_name)], SizeBudget] = Field(
        default_factory=dict, description="a table's own budget (schema.table), instead of the one for every table"
    )

    def needs_threshold(self) -> bool:
        return not self.tables  # ``tables:`` alone: budgets for those tables only


class DeadTupleBudget(ShareBudget):
    min_rows: int = Field(1000, ge=0, description="tables with fewer rows (live and dead) are not judged")


class StatementBudget(DurationBudget):
    min_calls: int = Field(1, ge=1, description="statements called fewer times are not judged")


class RegressionBudget(_Budget):
    warning: Ratio | None = Field(None, description="mean time this many times the previous run's: a warning")
    error: Ratio | None = Field(None, description="mean time this many times the previous run's: an error")
    min_mean: Duration = Field(0.001, description="statements faster than this (now) are not judged (default 1ms)")
    unit: ClassVar[Unit] = Unit.RATIO


def _dotted(name: str) -> Any:
    return Field(None, alias=name, description=f"budget of rule ops.{name}")


class Operations(BaseModel):
    """Budgets for the running database, each checked in the same read-only run as the schema."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    connections_share: ShareBudget | None = _dotted("connections.share")
    idle_in_transaction: DurationBudget | None = _dotted("idle_in_transaction")
    long_query: DurationBudget | None = _dotted("long_query")
    lock_wait: DurationBudget | None = _dotted("lock_wait")
    database_size: SizeBudget | None = _dotted("database_size")
    table_size: TableSizeBudget | None = _dotted("table_size")
    dead_tuples: DeadTupleBudget | None = _dotted("dead_tuples")
    disk_free: FreeSpaceBudget | None = _dotted("disk.free")
    archiver_failing: Presence | None = _dotted("archiver.failing")
    archiver_age: DurationBudget | None = _dotted("archiver.age")
    slot_inactive: Presence | None = _dotted("slot.inactive")
    slot_retained_wal: SizeBudget | None = _dotted("slot.retained_wal")
    replica_lag: DurationBudget | None = _dotted("replica_lag")
    wraparound_xid: ShareBudget | None = _dotted("wraparound.xid")
    wraparound_multixact: ShareBudget | None = _dotted("wraparound.multixact")
    statements_mean: StatementBudget | None = _dotted("statements.mean")
    statements_total: StatementBudget | None = _dotted("statements.total")
    statements_regression: RegressionBudget | None = _dotted("statements.regression")
    index_invalid: Presence | None = _dotted("index.invalid")
    index_unused: SizeBudget | None = _dotted("index.unused")

    def rules(self) -> Iterator[tuple[str, Any]]:
        """(rule id, budget) for every budget the contract sets, in the section's order."""
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is not None:
                yield f"ops.{info.alias}", value

    def budget(self, rule: str) -> Any:
        return dict(self.rules()).get(rule)
