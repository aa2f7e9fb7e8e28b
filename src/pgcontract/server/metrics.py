"""Prometheus metrics of the health checks, in a registry of the app's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pgcontract.contract import Contract
from pgcontract.health import HealthReport, Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthMetrics:
    def __init__(self, contract: Contract) -> None:
        self.registry = CollectorRegistry()
        self.healthy = Gauge(
            "pgcontract_healthy",
            "1 when every critical table matches the contract, else 0",
            registry=self.registry,
        )
        self.critical_issues = Gauge(
            "pgcontract_critical_issues", "Number of critical issues in the last report", registry=self.registry
        )
        self.table_status = Gauge(
            "pgcontract_table_status",
            "1 for the table's current status (OK, MISSING, DRIFT, UNKNOWN), 0 for the others",
            ["table", "critical", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "pgcontract_check_duration_seconds",
            "Duration of a database health check",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.last_success = Gauge(
            "pgcontract_last_success_timestamp_seconds",
            "Unix time of the last check that read the database (healthy or not)",
            registry=self.registry,
        )
        self.checks = Counter(
            "pgcontract_checks",
            "Database health checks, by result (healthy, unhealthy, unreachable, busy, failed)",
            ["result"],
            registry=self.registry,
        )
        self.budget_value = Gauge(
            "pgcontract_operations_value",
            "Worst value measured for an operations budget (seconds, bytes, share 0-1, ratio, or count found)",
            ["rule", "unit"],
            registry=self.registry,
        )
        self.budget_threshold = Gauge(
            "pgcontract_operations_threshold",
            "An operations budget's warning and error thresholds, in the unit of pgcontract_operations_value",
            ["rule", "level"],
            registry=self.registry,
        )
        self.budget_level = Gauge(
            "pgcontract_operations_level",
            "An operations budget's state: 0 within budget, 1 warning, 2 error",
            ["rule"],
            registry=self.registry,
        )
        for name, table in contract.table_map.items():
            self._set_status(str(name), table.critical, Status.UNKNOWN)

    def _set_status(self, table: str, critical: bool, status: Status) -> None:
        for each in Status:
            self.table_status.labels(table, str(critical).lower(), each.value).set(1 if each is status else 0)

    def observe(self, report: HealthReport) -> None:
        self.healthy.set(1 if report.healthy else 0)
        self.critical_issues.set(len(report.critical_issues))
        self.duration.observe(report.duration_ms / 1000)
        result = report.status if report.error is None or report.status in ("unreachable", "busy") else "failed"
        self.checks.labels(result).inc()
        if report.error is None:
            self.last_success.set(report.checked_at.timestamp())
        for table in report.tables:
            self._set_status(table.table, table.critical, table.status)
        for budget in report.budgets:
            if budget.value is not None:
                self.budget_value.labels(budget.rule, budget.unit).set(budget.value)
            for level, threshold in (("warning", budget.warning), ("error", budget.error)):
                if threshold is not None:
                    self.budget_threshold.labels(budget.rule, level).set(threshold)
            self.budget_level.labels(budget.rule).set({"warning": 1, "error": 2}.get(budget.level or "", 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
