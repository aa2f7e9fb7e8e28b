"""Judging the operations budgets: pure, from (budgets, one reading, the previous run's statements) to
findings, one per object past a threshold, and each budget's worst value (for metrics and history).

Rule ids are ``ops.<key>`` as the contract names the budget; a finding's owner is its rule id (the
suite's test item), its object the session, table, slot, database or statement. Notes (level info) say
what the role could not see, never fail anything.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pgcontract.contract.operations import Operations, RegressionBudget, Unit
from pgcontract.findings import Finding, Kind, Level, declare
from pgcontract.ops.read import ACTIVITY_RULES, OpsReading
from pgcontract.ops.units import format_duration

if TYPE_CHECKING:
    from pgcontract.catalog.snapshot import Snapshot
    from pgcontract.contract.model import Contract

WRAPAROUND_LIMIT = 2.0**31  # transaction ids and multixacts: PostgreSQL stops short of this age
VISIBILITY = "ops.visibility"
STATEMENTS_UNAVAILABLE = "ops.statements.unavailable"
NO_BASELINE = "ops.statements.no_baseline"
IDLE_STATES = frozenset({"idle in transaction", "idle in transaction (aborted)"})
_LITERAL = re.compile(r"(?:[eE]?'(?:[^']|'')*')|(?:\$(?P<tag>[A-Za-z_]\w*)?\$.*?\$(?P=tag)?\$)", re.S)

Previous = dict[str, list[float]]  # queryid -> [calls, total seconds] at the previous run


def redact_literals(text: str | None, limit: int = 120) -> str:
    """A statement's text without its string constants (a password in ALTER ROLE is one), shortened."""
    if not text:
        return ""
    flat = " ".join(_LITERAL.sub("'…'", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@dataclass(frozen=True)
class BudgetValue:
    """A budget and the worst value measured for it (None: nothing measured)."""

    rule: str
    unit: str
    value: float | None
    warning: float | None
    error: float | None
    level: str | None  # the worst finding's level, None when within budget

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BudgetValue:
        return cls(data["rule"], data["unit"], data["value"], data["warning"], data["error"], data["level"])


@dataclass
class OpsResult:
    findings: list[Finding] = field(default_factory=list)
    values: list[BudgetValue] = field(default_factory=list)
    statements: Previous = field(default_factory=dict)  # for the next run's regression check


@dataclass(frozen=True)
class Measure:
    object: str
    value: float
    message: str  # what is wrong, then what to do
    budget: Any = None  # the object's own budget, when it differs from the rule's


def _finding(rule: str, obj: str, level: Level, message: str, expected: str, actual: str) -> Finding:
    return Finding(rule, Kind.OPERATIONS, rule, obj, message, expected, actual, None, level)


def note(owner: str, rule: str, obj: str, message: str) -> Finding:
    return Finding(rule, Kind.OPERATIONS, owner, obj, message, "visible", "not visible", None, Level.INFO)


def _expected(budget: Any) -> str:
    show, lower = budget.unit.show, budget.lower_is_worse
    word = "at least" if lower else "at most"
    parts = []
    if budget.error is not None:
        parts.append(f"{word} {show(budget.error)}")
    if budget.warning is not None:
        parts.append(f"{'warning below' if lower else 'warning above'} {show(budget.warning)}")
    return "; ".join(parts)


def _level(budget: Any, value: float) -> Level | None:
    def past(threshold: float | None) -> bool:
        if threshold is None:
            return False
        return value < threshold if budget.lower_is_worse else value > threshold

    return Level.ERROR if past(budget.error) else Level.WARNING if past(budget.warning) else None


def evaluate(operations: Operations, reading: OpsReading, previous: Previous | None) -> OpsResult:
    result = OpsResult(statements={s["queryid"]: [s["calls"], s["total_seconds"]] for s in reading.statements or []})
    for rule, budget in operations.rules():
        judge = _JUDGES[rule]
        findings: list[Finding] = []
        worst: float | None = None
        if isinstance(budget, str):  # presence: each object found is a finding at this level
            level = Level(budget)
            found = list(judge(reading, budget, previous))
            for measure in found:
                findings.append(_finding(rule, measure.object, level, measure.message, "none", "present"))
            worst = float(len(found))
            unit, warning, error = (
                Unit.COUNT,
                1.0 if level is Level.WARNING else None,
                1.0 if level is Level.ERROR else None,
            )
        else:
            unit, warning, error = budget.unit, budget.warning, budget.error
            for measure in judge(reading, budget, previous):
                if isinstance(measure, Finding):
                    findings.append(measure)
                    continue
                own = measure.budget or budget
                if worst is None or (measure.value < worst if own.lower_is_worse else measure.value > worst):
                    worst = measure.value
                level_of = _level(own, measure.value)
                if level_of is not None:
                    findings.append(
                        _finding(
                            rule,
                            measure.object,
                            level_of,
                            measure.message,
                            _expected(own),
                            own.unit.show(measure.value),
                        )
                    )
        result.findings.extend(f for f in findings)
        judged = [f.level for f in findings if f.level is not Level.INFO]
        level_name = Level.ERROR.value if Level.ERROR in judged else Level.WARNING.value if judged else None
        result.values.append(BudgetValue(rule, unit.label, worst, warning, error, level_name))
    result.findings.extend(_visibility_notes(operations, reading))
    return result


def _visibility_notes(operations: Operations, reading: OpsReading) -> Iterator[Finding]:
    rules = [rule for rule, _ in operations.rules()]
    server = reading.server
    hidden = Counter(row["role"] for row in reading.activity if row["hidden"])
    if hidden and not server.get("read_all_stats"):
        roles = ", ".join(sorted(str(r) for r in hidden if r is not None)) or "unknown"
        count = sum(hidden.values())
        message = (
            f"{count} session{'s' if count != 1 else ''} of other roles ({roles}) show no state, times or query to"
            " this role: only its own sessions are judged; grant it pg_monitor (or pg_read_all_stats) to see all"
        )
        for rule in rules:
            if rule in ACTIVITY_RULES - {"ops.connections.share"}:
                yield note(rule, VISIBILITY, "pg_stat_activity", message)
    texts_hidden = any((s.get("query") or "") == "<insufficient privilege>" for s in reading.statements or [])
    for rule in rules:
        if rule.startswith("ops.statements."):
            if reading.statements_unavailable is not None:
                yield note(
                    rule,
                    STATEMENTS_UNAVAILABLE,
                    "pg_stat_statements",
                    f"statement budgets not checked: {reading.statements_unavailable} (pgcontract never installs"
                    " it: add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements)",
                )
            elif texts_hidden:
                yield note(
                    rule,
                    VISIBILITY,
                    "pg_stat_statements",
                    "other roles' statement texts read <insufficient privilege>: grant pg_monitor (or"
                    " pg_read_all_stats) to see them",
                )
    if "ops.disk.free" in rules and reading.disk_unavailable is not None:
        yield note(
            "ops.disk.free", VISIBILITY, "data directory", f"free space not measured: {reading.disk_unavailable}"
        )
    lag_hidden = any(r["kind"] == "replica" and r["lag_seconds"] is None for r in reading.replication)
    if "ops.replica_lag" in rules and lag_hidden and not server.get("read_all_stats"):
        yield note(
            "ops.replica_lag",
            VISIBILITY,
            "pg_stat_replication",
            "replicas' lag is hidden from this role: grant it pg_monitor (or pg_read_all_stats)",
        )


Judge = Any


def _session(row: dict[str, Any]) -> str:
    about = [f"role {row['role']}", f"database {row['database']}"]
    if row.get("application"):
        about.append(f"application '{row['application']}'")
    return ", ".join(about)


def _connections(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    maximum = reading.server["max_connections"]
    sessions = len(reading.activity) + 1  # and this one
    yield Measure(
        "server",
        sessions / maximum,
        f"{sessions} of max_connections {maximum} client connections in use: new connections will be refused when"
        " they run out; look for a connection pool that leaks or is sized past the server, or use a pooler",
    )
    limits = {row["name"]: row["connection_limit"] for row in reading.databases}
    per_database = Counter(row["database"] for row in reading.activity if row["database"] is not None)
    for database, count in sorted(per_database.items()):
        limit = limits.get(database, -1)
        allowed = limit if limit is not None and limit > 0 else maximum
        what = f"CONNECTION LIMIT {limit} of the database" if limit and limit > 0 else f"max_connections {maximum}"
        yield Measure(
            f"database {database}",
            count / allowed,
            f"{count} connections to database {database} of {what}: reduce the pools that connect to it",
        )
    role_limits = {row["role"]: row["role_connection_limit"] for row in reading.activity}
    for role, count in sorted(Counter(row["role"] for row in reading.activity if row["role"] is not None).items()):
        limit = role_limits.get(role)
        allowed = limit if limit is not None and limit > 0 else maximum
        what = f"CONNECTION LIMIT {limit} of the role" if limit and limit > 0 else f"max_connections {maximum}"
        yield Measure(
            f"role {role}",
            count / allowed,
            f"{count} connections of role {role} of {what}: the application using this role holds too many",
        )


def _idle_in_transaction(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.activity:
        if row["state"] in IDLE_STATES and row["state_seconds"] is not None:
            yield Measure(
                f"pid {row['pid']}",
                row["state_seconds"],
                f"session {row['pid']} ({_session(row)}) is {row['state']} for {format_duration(row['state_seconds'])}:"
                " it holds its locks and keeps vacuum from removing dead rows; fix the application (commit or roll"
                f" back), end it with SELECT pg_terminate_backend({row['pid']}), and set"
                " idle_in_transaction_session_timeout",
            )


def _long_query(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.activity:
        if row["state"] == "active" and row["query_seconds"] is not None:
            yield Measure(
                f"pid {row['pid']}",
                row["query_seconds"],
                f"session {row['pid']} ({_session(row)}) runs one statement for {format_duration(row['query_seconds'])}"
                f" ({redact_literals(row['query'], 80)}): look at its plan (EXPLAIN), cancel it with SELECT"
                f" pg_cancel_backend({row['pid']}), and set statement_timeout for the role",
            )


def _lock_wait(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.activity:
        if row["wait_seconds"] is not None:
            blockers = ", ".join(str(p) for p in row["blocked_by"] or []) or "unknown"
            on = f" on {row['relations']}" if row["relations"] else ""
            yield Measure(
                f"pid {row['pid']}",
                row["wait_seconds"],
                f"session {row['pid']} ({_session(row)}) waits {format_duration(row['wait_seconds'])} for a"
                f" {row['lock_types']} lock{on}, blocked by pid {blockers}: end the blocking transaction (often idle"
                " in transaction or a long migration) and set lock_timeout",
            )


def _database_size(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    size = reading.server["database_size"]
    yield Measure(
        "database",
        float(size),
        f"the database takes {budget.unit.show(size)}: archive or delete old data, drop what is unused, or raise"
        " the budget once the disk allows it",
    )


def _table_size(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure | Finding]:
    seen = set()
    for row in reading.tables:
        name = f"{row['schema']}.{row['name']}"
        seen.add(name)
        own = budget.tables.get(name)
        if own is None and budget.warning is None and budget.error is None:
            continue
        yield Measure(
            name,
            row["total_bytes"],
            f"table {name} takes {budget.unit.show(row['total_bytes'])} (heap, indexes and TOAST): archive or"
            " partition old rows, VACUUM FULL or pg_repack if it is bloated, or raise its budget",
            own,
        )
    for name in sorted(set(budget.tables) - seen):
        yield note("ops.table_size", "ops.table_size.unknown", name, f"table {name} has a budget but does not exist")


def _dead_tuples(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.tables:
        live, dead = row["live_rows"] or 0.0, row["dead_rows"] or 0.0
        if live + dead < max(budget.min_rows, 1):
            continue
        name = f"{row['schema']}.{row['name']}"
        vacuumed = row["last_vacuum"]
        when = f"last vacuumed {vacuumed:%Y-%m-%d %H:%M:%S %Z}" if vacuumed is not None else "never vacuumed"
        yield Measure(
            name,
            dead / (live + dead),
            f"table {name} holds {dead:.0f} dead rows beside {live:.0f} live ones ({when}): VACUUM it, and look"
            " for what keeps autovacuum from keeping up (long transactions, its settings)",
        )


def _disk_free(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    disk = reading.disk
    if disk is not None:
        yield Measure(
            "data directory",
            disk.free_share,
            f"the data directory's file system has {Unit.BYTES.show(disk.free_bytes)} free of"
            f" {Unit.BYTES.show(disk.total_bytes)}: PostgreSQL stops when it is full; free or add space",
        )


def _archiving(reading: OpsReading) -> bool:
    return str(reading.server.get("archive_mode")) != "off"


def _archiver_failing(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    server = reading.server
    failed, archived = server.get("last_failed_time"), server.get("last_archived_time")
    if _archiving(reading) and failed is not None and (archived is None or failed >= archived):
        since = f"{archived:%Y-%m-%d %H:%M:%S %Z}" if archived is not None else "never (since statistics reset)"
        yield Measure(
            "archiver",
            1.0,
            f"WAL archiving fails: segment {server.get('last_failed_wal')} failed at {failed:%Y-%m-%d %H:%M:%S %Z}"
            f" ({server.get('failed_count')} failures); last segment archived: {since}. Backups cannot be restored"
            " past it, and pg_wal grows until the disk is full: fix archive_command (see the server log)",
        )


def _archiver_age(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    age = reading.server.get("archived_age_seconds")
    if _archiving(reading) and age is not None:
        yield Measure(
            "archiver",
            age,
            f"the last WAL segment was archived {format_duration(age)} ago: a restore loses what came after it;"
            " check archive_command, and set archive_timeout so a quiet server still archives",
        )


def _slot_inactive(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.replication:
        if row["kind"] == "slot" and not row["active"]:
            yield Measure(
                f"slot {row['name']}",
                1.0,
                f"{row['detail']} replication slot {row['name']} is inactive: it keeps WAL"
                f" ({Unit.BYTES.show(row['retained_bytes'] or 0)} now) until its consumer returns; drop it with"
                f" SELECT pg_drop_replication_slot('{row['name']}') if that consumer is gone",
            )


def _slot_retained(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.replication:
        if row["kind"] == "slot":
            retained = row["retained_bytes"] or 0.0
            yield Measure(
                f"slot {row['name']}",
                retained,
                f"replication slot {row['name']} holds back {Unit.BYTES.show(retained)} of WAL: its consumer lags or"
                " is gone; catch it up or drop the slot (and consider max_slot_wal_keep_size)",
            )


def _replica_lag(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.replication:
        if row["kind"] == "replica":
            lag = row["lag_seconds"] or 0.0
            yield Measure(
                f"replica {row['name']}",
                lag,
                f"replica {row['name']} ({row['detail']}) lags {format_duration(lag)}: reads there are stale, and a"
                " failover would lose that much; check its network, disk and long queries",
            )
    lag = reading.server.get("standby_lag_seconds")
    if lag is not None:
        yield Measure(
            "this standby",
            lag,
            f"this standby last replayed a transaction {format_duration(lag)} ago (on a quiet primary this is"
            " expected): check replication from the primary",
        )


def _wraparound(column: str, what: str) -> Judge:
    def judge(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
        for row in reading.databases:
            age = row[column]
            yield Measure(
                f"database {row['name']}",
                age / WRAPAROUND_LIMIT,
                f"the oldest {what} of database {row['name']} is {age:.0f} old, of the {WRAPAROUND_LIMIT:.0f} at"
                " which PostgreSQL stops writing: VACUUM (FREEZE) its oldest tables, end long transactions and"
                " check that autovacuum keeps up",
            )

    return judge


def _statement_text(row: dict[str, Any]) -> str:
    return f"statement {row['queryid']} ({redact_literals(row['query'])})"


def _statements_mean(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.statements or []:
        if row["calls"] >= budget.min_calls and row["mean_seconds"] is not None:
            yield Measure(
                f"queryid {row['queryid']}",
                row["mean_seconds"],
                f"{_statement_text(row)} takes {format_duration(row['mean_seconds'])} on average over"
                f" {row['calls']:.0f} calls: look at its plan (EXPLAIN ANALYZE), its indexes and its locks",
            )


def _statements_total(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.statements or []:
        if row["calls"] >= budget.min_calls:
            yield Measure(
                f"queryid {row['queryid']}",
                row["total_seconds"],
                f"{_statement_text(row)} took {format_duration(row['total_seconds'])} in all over {row['calls']:.0f}"
                " calls: the database spends most of its time here; make it cheaper or call it less",
            )


def _statements_regression(
    reading: OpsReading, budget: RegressionBudget, previous: Previous | None
) -> Iterator[Measure | Finding]:
    if reading.statements is None:
        return
    if previous is None:
        yield note(
            "ops.statements.regression",
            NO_BASELINE,
            "pg_stat_statements",
            "regressions are judged against the previous run recorded in history: run with --history (the first"
            " run records the baseline)",
        )
        return
    if not previous:
        yield note(
            "ops.statements.regression",
            NO_BASELINE,
            "pg_stat_statements",
            "no previous run of this target is recorded in the history: this run records the baseline",
        )
        return
    for row in reading.statements:
        before = previous.get(row["queryid"])
        if before is None or before[0] <= 0 or before[1] <= 0:
            continue
        then = before[1] / before[0]
        calls, total = row["calls"] - before[0], row["total_seconds"] - before[1]
        if calls <= 0 or total < 0:  # statistics reset since: the mean since then
            calls, total = row["calls"], row["total_seconds"]
        if calls <= 0:
            continue
        now = total / calls
        if now < budget.min_mean:
            continue
        yield Measure(
            f"queryid {row['queryid']}",
            now / then,
            f"{_statement_text(row)} now takes {format_duration(now)} on average ({calls:.0f} calls since the"
            f" previous run), {now / then:.1f} times its {format_duration(then)} then: look at its plan"
            " (EXPLAIN ANALYZE), a dropped or unused index, or changed data",
        )


def _index_invalid(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    for row in reading.indexes:
        if not row["valid"]:
            name = f"{row['schema']}.{row['name']}"
            yield Measure(
                name,
                1.0,
                f"index {name} on {row['schema']}.{row['table']} is invalid (a failed CREATE INDEX CONCURRENTLY"
                " leaves one): it slows every write and serves no query; DROP INDEX CONCURRENTLY and create it again",
            )


def _index_unused(reading: OpsReading, budget: Any, previous: Previous | None) -> Iterator[Measure]:
    reset = reading.server.get("stats_reset")
    since = f"since {reset:%Y-%m-%d %H:%M:%S %Z}" if reset is not None else "since statistics began"
    for row in reading.indexes:
        if row["valid"]:
            name = f"{row['schema']}.{row['name']}"
            yield Measure(
                name,
                row["bytes"],
                f"index {name} on {row['schema']}.{row['table']} ({Unit.BYTES.show(row['bytes'])}) was never scanned"
                f" {since}: it costs every write; if no replica or rare job uses it, DROP INDEX CONCURRENTLY",
            )


_JUDGES: dict[str, Judge] = {
    "ops.connections.share": _connections,
    "ops.idle_in_transaction": _idle_in_transaction,
    "ops.long_query": _long_query,
    "ops.lock_wait": _lock_wait,
    "ops.database_size": _database_size,
    "ops.table_size": _table_size,
    "ops.dead_tuples": _dead_tuples,
    "ops.disk.free": _disk_free,
    "ops.archiver.failing": _archiver_failing,
    "ops.archiver.age": _archiver_age,
    "ops.slot.inactive": _slot_inactive,
    "ops.slot.retained_wal": _slot_retained,
    "ops.replica_lag": _replica_lag,
    "ops.wraparound.xid": _wraparound("xid_age", "transaction id"),
    "ops.wraparound.multixact": _wraparound("multixact_age", "multixact id"),
    "ops.statements.mean": _statements_mean,
    "ops.statements.total": _statements_total,
    "ops.statements.regression": _statements_regression,
    "ops.index.invalid": _index_invalid,
    "ops.index.unused": _index_unused,
}
# Budgets: the contract sets each one's warning and error thresholds; notes say what could not be seen.
RULES = declare(
    Kind.OPERATIONS,
    *_JUDGES,
    VISIBILITY,
    STATEMENTS_UNAVAILABLE,
    NO_BASELINE,
    "ops.table_size.unknown",
    levels=(Level.ERROR, Level.WARNING, Level.INFO),
    configurable=True,
)


def operations_result(contract: Contract, snapshot: Snapshot, previous: Previous | None = None) -> OpsResult | None:
    """The budgets judged against the snapshot's statistics; None when the contract sets no budget."""
    if contract.operations is None or snapshot.operations is None:
        return None
    return evaluate(contract.operations, snapshot.operations, previous)
