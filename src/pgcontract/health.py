"""The health report: is the database fit for the application right now?

Built from the same snapshot and findings as the contract suite (no catalog query of its own). A table
is ``OK``, ``MISSING`` or ``DRIFT`` (error-level findings); ``UNKNOWN`` when the database could not be
read. ``healthy`` is false exactly when a table the contract marks ``critical`` is not ``OK``, or when the
database cannot be checked at all.

    report = check_health(os.environ["DATABASE_URL"], load_contract(Path("contracts")))
    if not report.healthy:
        log.error("database not ready: %s", report.critical_issues)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import psycopg

from pgcontract.busy import BLOCKS_READ, retry_busy
from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import DEFAULT_LIMITS, CannotConnect, DatabaseBusy, SessionLimits, Target, connect
from pgcontract.contract import Contract
from pgcontract.findings import Finding, FindingIndex, Kind, Level
from pgcontract.ops.budgets import BudgetValue, operations_result

log = logging.getLogger(__name__)

UNREACHABLE = "database unreachable"
CHECK_FAILED = "health check failed"
BUSY = "database busy"  # a lock wait or statement timeout stopped the read: nothing was judged


class Status(StrEnum):
    OK = "OK"
    MISSING = "MISSING"
    DRIFT = "DRIFT"
    UNKNOWN = "UNKNOWN"  # the database could not be read


@dataclass(frozen=True)
class Issue:
    rule: str
    object: str
    message: str
    expected: str
    actual: str
    level: str
    fix: str | None

    @classmethod
    def of(cls, finding: Finding) -> Issue:
        return cls(
            rule=finding.rule,
            object=finding.object,
            message=finding.message,
            expected=finding.expected,
            actual=finding.actual,
            level=finding.level.value,
            fix=finding.fix.sql if finding.fix is not None else None,
        )

    def line(self) -> str:
        return f"{self.object}: {self.message} ({self.rule})"


@dataclass(frozen=True)
class TableHealth:
    table: str
    critical: bool
    status: Status
    issues: tuple[Issue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "status": self.status.value,
            "critical": self.critical,
            "issues": [issue.__dict__ for issue in self.issues],
        }


@dataclass(frozen=True)
class HealthReport:
    healthy: bool
    critical_issues: tuple[str, ...]
    tables: tuple[TableHealth, ...]
    checked_at: datetime
    duration_ms: float
    error: str | None = None  # UNREACHABLE, BUSY or CHECK_FAILED; never the driver's text
    enums: tuple[TableHealth, ...] = ()
    # The operations budgets (contract section operations:): their findings, and each one's worst value.
    operations: tuple[tuple[str, Issue], ...] = ()  # (the budget's rule id, a finding or note about it)
    budgets: tuple[BudgetValue, ...] = ()
    # The redacted reason for ``error``, for the operator's log; not part of the JSON form.
    detail: str = field(default="", compare=False)

    @property
    def status(self) -> str:
        if self.error == UNREACHABLE:
            return "unreachable"
        if self.error == BUSY:
            return "busy"
        return "healthy" if self.healthy else "unhealthy"

    def to_dict(self) -> dict[str, Any]:
        operations = (
            {
                "operations": {
                    "issues": [{"budget": budget, **issue.__dict__} for budget, issue in self.operations],
                    "budgets": [budget.to_dict() for budget in self.budgets],
                }
            }
            if self.operations or self.budgets
            else {}
        )
        return {
            "healthy": self.healthy,
            "status": self.status,
            "error": self.error,
            "critical_issues": list(self.critical_issues),
            "tables": {
                "critical": [t.to_dict() for t in self.tables if t.critical],
                "other": [t.to_dict() for t in self.tables if not t.critical],
            },
            "enums": [
                {"enum": e.table, "status": e.status.value, "issues": [i.__dict__ for i in e.issues]}
                for e in self.enums
            ],
            "checked_at": self.checked_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "duration_ms": round(self.duration_ms, 1),
            **operations,
        }


def _status(table_errors: list[Finding]) -> Status:
    if any(f.rule == "table.missing" for f in table_errors):
        return Status.MISSING
    return Status.DRIFT if table_errors else Status.OK


def report_from_findings(
    contract: Contract,
    findings: FindingIndex,
    checked_at: datetime,
    duration_ms: float,
    budgets: tuple[BudgetValue, ...] = (),
) -> HealthReport:
    """The report of a completed check: one row per contract table (and enum), in contract order; the
    operations budgets' findings apart, an error-level one a critical issue (the team set it as one)."""
    by_owner: dict[str, list[Finding]] = {}
    for finding in findings.findings:
        by_owner.setdefault(finding.owner, []).append(finding)
    tables: list[TableHealth] = []
    critical_issues: list[str] = []
    for name, table in contract.table_map.items():
        found = by_owner.get(str(name), [])
        errors = [f for f in found if f.level is Level.ERROR]
        issues = tuple(Issue.of(f) for f in found)
        tables.append(TableHealth(str(name), table.critical, _status(errors), issues))
        if table.critical:
            critical_issues.extend(Issue.of(f).line() for f in errors)
    enums = tuple(
        TableHealth(str(name), False, _status(errs), tuple(Issue.of(f) for f in errs))
        for name in contract.enum_map
        for errs in [[f for f in by_owner.get(str(name), []) if f.level is Level.ERROR]]
    )
    operations = [f for f in findings.findings if f.kind is Kind.OPERATIONS]
    critical_issues.extend(Issue.of(f).line() for f in operations if f.level is Level.ERROR)
    return HealthReport(
        healthy=not critical_issues,
        critical_issues=tuple(critical_issues),
        tables=tuple(tables),
        checked_at=checked_at,
        duration_ms=duration_ms,
        enums=enums,
        operations=tuple((f.owner, Issue.of(f)) for f in operations),
        budgets=budgets,
    )


def failed_report(
    contract: Contract, error: str, detail: str, checked_at: datetime, duration_ms: float
) -> HealthReport:
    """The report when the database could not be checked: unhealthy, every table UNKNOWN. A busy database
    says which table is locked and by whom (no connection detail in that line); other errors only
    ``error``, the driver's text staying in ``detail``."""
    return HealthReport(
        healthy=False,
        critical_issues=(detail if error == BUSY else error,),
        tables=tuple(TableHealth(str(n), t.critical, Status.UNKNOWN) for n, t in contract.table_map.items()),
        checked_at=checked_at,
        duration_ms=duration_ms,
        error=error,
        enums=tuple(TableHealth(str(n), False, Status.UNKNOWN) for n in contract.enum_map),
        detail=detail,
    )


Source = psycopg.Connection[Any] | Target | str


def _read(source: Source, contract: Contract, limits: SessionLimits) -> Snapshot:
    if isinstance(source, psycopg.Connection):
        # Leave the application's connection as it was given (read_snapshot opens its own READ ONLY
        # transaction on it, which needs autocommit off).
        given = source.autocommit, source.read_only, source.isolation_level
        try:
            return _read_once(source, contract, limits)
        finally:
            source.autocommit, source.read_only, source.isolation_level = given
    target = Target("target", source) if isinstance(source, str) else source
    with connect(target, limits) as conn:
        return _read_once(conn, contract, limits)


def _read_once(conn: psycopg.Connection[Any], contract: Contract, limits: SessionLimits) -> Snapshot:
    """The catalog, or ``DatabaseBusy`` naming the lock holders. One try, unlike ``check``: a health probe
    must answer within its caller's timeout, and the next check (after the TTL) is the retry."""
    return retry_busy(
        conn,
        lambda: read_snapshot(conn, contract.schemas, limits, contract.operations),
        doing="reading the catalog",
        limits=limits,
        modes=BLOCKS_READ,
        schemas=contract.schemas,
        tries=1,
    )


def check_health(source: Source, contract: Contract, limits: SessionLimits = DEFAULT_LIMITS) -> HealthReport:
    """Check a database (a DSN, a Target, or an idle connection) against the contract.

    Never raises for an unreachable or failing database: the report says ``database unreachable`` (or
    ``health check failed``) and is unhealthy; the redacted reason is in ``report.detail`` and the log.
    """
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        findings, budgets = _confirmed_findings(source, contract, limits)
    except CannotConnect as exc:
        return _failed(contract, UNREACHABLE, str(exc), checked_at, started)
    except DatabaseBusy as exc:
        return _failed(contract, BUSY, str(exc), checked_at, started)
    except (psycopg.Error, OSError) as exc:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if isinstance(source, str | Target):
            reason = (Target("target", source) if isinstance(source, str) else source).redact(reason)
        # A server-side error has a SQLSTATE (timeout, permission); a lost connection has none.
        lost = isinstance(exc, OSError) or (isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None)
        error = UNREACHABLE if lost else CHECK_FAILED
        return _failed(contract, error, reason, checked_at, started)
    return report_from_findings(contract, findings, checked_at, _ms_since(started), budgets)


CONFIRM_READS = 3


def _confirmed_findings(
    source: Source, contract: Contract, limits: SessionLimits
) -> tuple[FindingIndex, tuple[BudgetValue, ...]]:
    """The findings, confirmed by a second read when there are errors.

    A read racing a migration can see half of it: the catalog rows come from the transaction's snapshot,
    but PostgreSQL's deparsing functions read the latest catalog (an expression of a table dropped
    meanwhile deparses as NULL). A healthy read needs no confirmation; a failing one is kept only when
    the next read finds the same errors (reading again at most ``CONFIRM_READS`` times in all).
    """
    snapshot = _read(source, contract, limits)
    findings = run_checks(contract, snapshot)
    for _ in range(CONFIRM_READS - 1):
        errors = {f.id for f in findings.errors()}
        if not errors:
            break
        time.sleep(0.05)
        snapshot = _read(source, contract, limits)
        again = run_checks(contract, snapshot)
        if {f.id for f in again.errors()} == errors:
            break
        findings = again
    operations = operations_result(contract, snapshot)
    return findings, tuple(operations.values) if operations is not None else ()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _failed(contract: Contract, error: str, reason: str, checked_at: datetime, started: float) -> HealthReport:
    log.warning("health check: %s", reason if error == BUSY else f"{error}: {reason}")  # busy says so itself
    return failed_report(contract, error, reason, checked_at, _ms_since(started))
