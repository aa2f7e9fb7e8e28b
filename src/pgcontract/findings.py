"""Findings: what a check found, with a stable id, expected against actual, and the SQL that fixes it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pgcontract.names import visible, visible_lines


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Hazard(StrEnum):
    """Why a fix must not be applied blindly."""

    DATA_LOSS = "data-loss"  # drops or rewrites stored values
    LONG_LOCK = "long-lock"  # holds a lock that blocks the table while it rewrites or scans
    MANUAL = "manual"  # PostgreSQL cannot do it in place; a person must decide


class Kind(StrEnum):
    """The object kinds of the schema suite: one test per table (or enum) and kind."""

    TABLE = "table"
    COLUMNS = "columns"
    CONSTRAINTS = "constraints"
    INDEXES = "indexes"
    POLICIES = "policies"
    GRANTS = "grants"
    ENUMS = "enums"
    FUNCTIONS = "functions"
    AGGREGATES = "aggregates"
    ROLES = "roles"
    PARTITIONS = "partitions"  # partitioning and inheritance
    DOMAINS = "domains"
    COMPOSITE_TYPES = "composite_types"
    SEQUENCES = "sequences"
    VIEWS = "views"
    TRIGGERS = "triggers"
    PRIVILEGES = "privileges"  # schema privileges and default privileges
    EXTENSIONS = "extensions"
    PUBLICATIONS = "publications"
    ISOLATION = "isolation"  # dynamic RLS tests
    ERASURE = "erasure"  # deleting a user deletes the user's rows (dynamic, like the isolation tests)
    LINTS = "lints"
    OPERATIONS = "operations"  # budgets of the running database (contract section operations:)


CATEGORY = {
    Kind.TABLE: "schema",
    Kind.COLUMNS: "schema",
    Kind.CONSTRAINTS: "schema",
    Kind.INDEXES: "schema",
    Kind.GRANTS: "schema",
    Kind.ENUMS: "schema",
    Kind.FUNCTIONS: "schema",
    Kind.AGGREGATES: "schema",
    Kind.ROLES: "schema",
    Kind.PARTITIONS: "schema",
    Kind.DOMAINS: "schema",
    Kind.COMPOSITE_TYPES: "schema",
    Kind.SEQUENCES: "schema",
    Kind.VIEWS: "schema",
    Kind.TRIGGERS: "schema",
    Kind.PRIVILEGES: "schema",
    Kind.EXTENSIONS: "schema",
    Kind.PUBLICATIONS: "schema",
    Kind.POLICIES: "rls-static",
    Kind.ISOLATION: "rls-isolation",
    Kind.ERASURE: "rls-isolation",
    Kind.LINTS: "lints",
    Kind.OPERATIONS: "operations",
}
CATEGORIES = ("schema", "rls-static", "rls-isolation", "lints", "operations")


@dataclass(frozen=True)
class RuleSpec:
    """A rule id a check may report: the kind that reports it and the levels it is reported at (the first
    by default)."""

    id: str
    kind: Kind
    levels: tuple[Level, ...] = (Level.ERROR,)
    configurable: bool = False  # a contract may set its level (lints)

    @property
    def level(self) -> Level:
        return self.levels[0]


# Every rule id, declared by the module that reports it (``declare``); ``pgcontract.rules`` gathers them.
REGISTERED: dict[str, RuleSpec] = {}


class UnregisteredRule(AssertionError):
    """A finding names a rule no module declared, or reports it at a level not declared: a bug."""


def declare(
    kind: Kind, *ids: str, levels: tuple[Level, ...] = (Level.ERROR,), configurable: bool = False
) -> tuple[str, ...]:
    """Register the rule ids a module reports, next to where it reports them:

    declare(Kind.INDEXES, "index.missing", "index.table")
    """
    for rule in ids:
        spec = RuleSpec(rule, kind, levels, configurable)
        if REGISTERED.get(rule, spec) != spec:
            raise UnregisteredRule(f"rule {rule!r} declared twice, differently: {REGISTERED[rule]} and {spec}")
        REGISTERED[rule] = spec
    return ids


def registered(rule: str) -> RuleSpec:
    """The rule's declaration (loading every reporting module first when it is not known yet)."""
    spec = REGISTERED.get(rule)
    if spec is None:
        from pgcontract.rules import load_all  # cycle: the reporting modules import this one

        load_all()
        spec = REGISTERED.get(rule)
    if spec is None:
        raise UnregisteredRule(f"rule {rule!r} is not registered: declare it with findings.declare(...)")
    return spec


@dataclass(frozen=True)
class Fix:
    sql: str
    hazards: tuple[Hazard, ...] = ()
    note: str = ""

    @property
    def safe(self) -> bool:
        return not self.hazards


@dataclass(frozen=True)
class Finding:
    rule: str  # stable, e.g. "column.type"
    kind: Kind
    owner: str  # the table or enum this belongs to, as the contract names it
    object: str  # the exact object, e.g. "public.t.title"
    message: str
    expected: str
    actual: str
    fix: Fix | None = None
    level: Level = Level.ERROR

    def __post_init__(self) -> None:
        # The kind is not compared: a materialized view's index findings are index rules under Kind.VIEWS.
        spec = registered(self.rule)
        if not spec.configurable and self.level not in spec.levels:
            raise UnregisteredRule(f"rule {self.rule!r} is declared at {spec.levels}, reported at {self.level}")

    @property
    def id(self) -> str:
        return f"{self.rule}:{self.object}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "kind": self.kind.value,
            "category": CATEGORY[self.kind],
            "table": self.owner,
            "object": self.object,
            "level": self.level.value,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "fix_sql": self.fix.sql if self.fix else None,
            "hazards": [h.value for h in self.fix.hazards] if self.fix else [],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The inverse of ``to_dict`` (findings travel in test reports, across pytest-xdist workers)."""
        fix = Fix(data["fix_sql"], tuple(Hazard(h) for h in data["hazards"])) if data["fix_sql"] else None
        return cls(
            rule=data["rule"],
            kind=Kind(data["kind"]),
            owner=data["table"],
            object=data["object"],
            message=data["message"],
            expected=data["expected"],
            actual=data["actual"],
            fix=fix,
            level=Level(data["level"]),
        )

    def render(self) -> str:
        """The finding as text for a terminal: names' control characters are shown escaped."""
        lines = [
            f"[{self.rule}] {visible(self.object)}: {visible_lines(self.message)}",
            f"    expected: {visible_lines(self.expected)}",
            f"    actual:   {visible_lines(self.actual)}",
        ]
        if self.fix is not None:
            from pgcontract.sqlsafe import shown_sql  # pglast: only for a finding with a fix

            prefix = "    fix:      "
            # The fix as SQL that runs (names in escapes PostgreSQL reads back); each line shown as text.
            for i, line in enumerate(shown_sql(self.fix.sql).split("\n")):
                lines.append((prefix if i == 0 else " " * len(prefix)) + visible(line))
            if self.fix.hazards:
                lines.append(f"    hazard:   {', '.join(self.fix.hazards)}: {self.fix.note}")
        return "\n".join(lines)


@dataclass
class FindingIndex:
    """Findings grouped by (owner, kind), as the suite's tests look them up."""

    findings: list[Finding]
    by_key: dict[tuple[str, Kind], list[Finding]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[tuple[str, Kind], list[Finding]] = defaultdict(list)
        for finding in self.findings:
            grouped[(finding.owner, finding.kind)].append(finding)
        self.by_key = dict(grouped)

    def of(self, owner: str, kind: Kind) -> list[Finding]:
        return self.by_key.get((owner, kind), [])

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == Level.ERROR]


def render_all(findings: Iterable[Finding]) -> str:
    return "\n".join(f.render() for f in findings)
