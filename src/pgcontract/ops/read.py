"""Reading what the operations budgets measure: a fixed handful of statistics queries (``ops_*.sql``),
whatever the number of tables, in the catalog read's own READ ONLY transaction.

Every query works with the privileges of ``pg_monitor``; without them PostgreSQL hides parts (another
role's session state, a replica's lag, the data directory), and the reading says so in ``notes``
instead of failing. Only the queries some budget needs are run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

if TYPE_CHECKING:
    from pgcontract.contract.operations import Operations


Conn = psycopg.Connection[Any]
Row = dict[str, Any]

ACTIVITY_RULES = frozenset({"ops.connections.share", "ops.idle_in_transaction", "ops.long_query", "ops.lock_wait"})
# Which query each rule needs (ops_server is always read: every budget needs the role's visibility).
QUERY_RULES: dict[str, frozenset[str]] = {
    "ops_databases": frozenset({"ops.connections.share", "ops.wraparound.xid", "ops.wraparound.multixact"}),
    "ops_activity": ACTIVITY_RULES,
    "ops_tables": frozenset({"ops.table_size", "ops.dead_tuples"}),
    "ops_indexes": frozenset({"ops.index.invalid", "ops.index.unused"}),
    "ops_replication": frozenset({"ops.slot.inactive", "ops.slot.retained_wal", "ops.replica_lag"}),
}
STATEMENT_RULES = frozenset({"ops.statements.mean", "ops.statements.total", "ops.statements.regression"})


@dataclass(frozen=True)
class DiskSpace:
    free_bytes: float
    total_bytes: float

    @property
    def free_share(self) -> float:
        return self.free_bytes / self.total_bytes if self.total_bytes else 1.0


@dataclass
class OpsReading:
    """What one read measured; ``None`` (or absent rows) where a query was not needed."""

    server: Row
    databases: list[Row] = field(default_factory=list)
    activity: list[Row] = field(default_factory=list)
    tables: list[Row] = field(default_factory=list)
    indexes: list[Row] = field(default_factory=list)
    replication: list[Row] = field(default_factory=list)
    statements: list[Row] | None = None
    statements_unavailable: str | None = None  # why pg_stat_statements could not be read
    disk: DiskSpace | None = None
    disk_unavailable: str | None = None
    query_count: int = 0


def _query(name: str) -> str:
    from pgcontract.catalog.snapshot import query_text

    return query_text(name)


def read_operations(conn: Conn, operations: Operations) -> OpsReading:
    """Run the statistics queries the budgets need, inside the caller's open (READ ONLY) transaction."""
    rules = {rule for rule, _ in operations.rules()}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_query("ops_server").encode())
        reading = OpsReading(server=dict(cur.fetchone() or {}), query_count=1)
        for name, needed_by in QUERY_RULES.items():
            if rules & needed_by:
                cur.execute(_query(name).encode())
                setattr(reading, name.removeprefix("ops_"), cur.fetchall())
                reading.query_count += 1
    if rules & STATEMENT_RULES:
        _read_statements(conn, reading)
    if "ops.disk.free" in rules:
        reading.disk, reading.disk_unavailable = data_directory_space(reading.server)
    return reading


def _read_statements(conn: Conn, reading: OpsReading) -> None:
    schema = reading.server.get("statements_schema")
    if schema is None:
        reading.statements_unavailable = "the pg_stat_statements extension is not installed in this database"
        return
    text = sql.SQL(_query("ops_statements")).format(schema=sql.Identifier(schema))
    reading.query_count += 1
    try:
        # A savepoint: the view fails when the library is not in shared_preload_libraries, and the
        # catalog read's transaction must go on.
        with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
            cur.execute(text)
            reading.statements = cur.fetchall()
    except (psycopg.errors.ObjectNotInPrerequisiteState, psycopg.errors.InsufficientPrivilege) as exc:
        reading.statements_unavailable = f"pg_stat_statements cannot be read: {' '.join(str(exc).split())}"


def data_directory_space(server: Row) -> tuple[DiskSpace | None, str | None]:
    """Free space of the data directory's file system, when that directory is on this machine.

    PostgreSQL has no SQL function for free disk space. When the role may read ``data_directory`` and the
    path holds the ``postmaster.pid`` of this very server (same port and start time), the file system is
    measured here; otherwise the reading says it could not see it."""
    directory = server.get("data_directory")
    if directory is None:
        return None, "the data directory's path is hidden from this role (needs pg_read_all_settings or pg_monitor)"
    pid_file = Path(directory) / "postmaster.pid"
    try:
        lines = pid_file.read_text(encoding="utf-8", errors="replace").splitlines()
        stat = os.statvfs(directory)
    except OSError:
        return None, "the data directory is not on the machine pgcontract runs on (free space cannot be measured)"
    started = server.get("started_at")
    same = (
        len(lines) >= 4
        and lines[3].strip() == str(server.get("port"))
        and started is not None
        and lines[2].strip().isdigit()
        # Two clocks read a moment apart at start-up: the file's second may differ by one.
        and abs(int(lines[2]) - started.timestamp()) < 2
    )
    if not same:
        return None, "the data directory's path on this machine belongs to another server (free space not measured)"
    return DiskSpace(float(stat.f_bavail * stat.f_frsize), float(stat.f_blocks * stat.f_frsize)), None
