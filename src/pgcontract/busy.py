"""A database too busy to answer: a lock wait (``lock_timeout``, SQLSTATE 55P03) or a statement timeout
(57014) stopped a read or a repair. That is not a verdict on the contract: a lock wait is tried again a
bounded number of times (a migration's lock is often gone a moment later), a statement timeout is not (a
read that ran for the whole timeout is no faster a second later; trying it again only multiplied the
wait, to 3 x 30 s with the defaults). Then it is given up with one line naming the locked table and who
holds the lock (``DatabaseBusy``; the command exits 4). Worst case: 3 lock waits and 1.5 s of pauses, or
2 lock waits, the pauses and one statement timeout.

Who blocked is found after the failure (our own lock request is gone by then): the relation locks other
sessions hold, granted, in a mode that conflicts with what the work asks for (a catalog read takes ACCESS
SHARE, which only ACCESS EXCLUSIVE blocks), with the holder's pid, application and transaction start from
``pg_stat_activity`` where the role may see them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from pglast import parser

from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, DatabaseBusy, SessionLimits, read_only
from pgcontract.names import DEFAULT_SCHEMA, QualifiedName, visible

if TYPE_CHECKING:
    from pgcontract.contract.operations import Operations

Conn = psycopg.Connection[Any]
T = TypeVar("T")

__all__ = ["DatabaseBusy", "read_catalog", "retry_busy", "lock_holders"]

BUSY_ERRORS = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled)
TRIES = 3
PAUSES = (0.5, 1.0)  # seconds between tries: a migration's lock is often gone a moment later
SHOWN_HOLDERS = 3

# PostgreSQL's lock modes, strongest first, and those that conflict with the mode a statement asks for.
MODES = (
    "AccessExclusiveLock",
    "ExclusiveLock",
    "ShareRowExclusiveLock",
    "ShareLock",
    "ShareUpdateExclusiveLock",
    "RowExclusiveLock",
    "RowShareLock",
    "AccessShareLock",
)
BLOCKS_READ = ("AccessExclusiveLock",)
BLOCKS_WRITE = ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock")

_HOLDERS_SQL = """
SELECT n.nspname::text, c.relname::text, l.mode, l.pid, a.application_name::text, a.xact_start
FROM pg_catalog.pg_locks AS l
JOIN pg_catalog.pg_class AS c ON c.oid = l.relation
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.granted AND c.relpersistence <> 't'
  AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
  AND l.database IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))
  AND (%(modes)s::text[] IS NULL OR l.mode = ANY (%(modes)s::text[]))
  AND (%(rel_schemas)s::text[] IS NULL OR (n.nspname, c.relname) IN (
       SELECT * FROM unnest(%(rel_schemas)s::text[], %(rel_names)s::text[])))
ORDER BY (%(schemas)s::text[] IS NULL OR n.nspname = ANY (%(schemas)s::text[])) DESC,
         array_position(%(strength)s::text[], l.mode), a.xact_start NULLS LAST, n.nspname, c.relname, l.pid
"""

# The diagnosis must not wait itself: it reads only lock and activity views and catalog rows by oid.
_DIAGNOSIS_LIMITS = SessionLimits(statement_timeout="2s", lock_timeout="1s")


class Blocked(Exception):
    """A statement stopped by a lock wait or timeout, with the relations it needed when known."""

    def __init__(self, error: psycopg.Error, relations: Sequence[QualifiedName] = ()) -> None:
        super().__init__(str(error))
        self.error = error
        self.relations = tuple(relations)


@dataclass(frozen=True)
class LockHolder:
    relation: QualifiedName
    mode: str
    pid: int | None
    application: str | None
    since: datetime | None

    def describe(self) -> str:
        about = []
        if self.application:
            about.append(f"application '{visible(self.application)}'")
        if self.since is not None:
            about.append(f"in a transaction since {self.since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
        who = f"pid {self.pid}" if self.pid is not None else "a prepared transaction"
        details = f" ({', '.join(about)})" if about else ""
        return f"{visible(str(self.relation))} is locked ({mode_name(self.mode)}) by {who}{details}"


def mode_name(mode: str) -> str:
    """``AccessExclusiveLock`` as the SQL names it: ``ACCESS EXCLUSIVE``."""
    return " ".join(re.findall(r"[A-Z][a-z]*", mode.removesuffix("Lock"))).upper()


def lock_holders(
    conn: Conn,
    *,
    modes: Sequence[str] | None,
    relations: Sequence[QualifiedName] = (),
    schemas: Iterable[str] | None = None,
) -> list[LockHolder]:
    """Relation locks other sessions hold in one of ``modes`` (any: None), on ``relations`` (any: empty),
    those in ``schemas`` first, strongest first. Empty when the question itself fails."""
    params = {
        "modes": list(modes) if modes is not None else None,
        "rel_schemas": [r.schema for r in relations] or None,
        "rel_names": [r.name for r in relations] or None,
        "schemas": sorted(schemas) if schemas is not None else None,
        "strength": list(MODES),
    }
    status = conn.info.transaction_status
    try:
        if status == psycopg.pq.TransactionStatus.IDLE:
            with read_only(conn, _DIAGNOSIS_LIMITS):
                rows = conn.execute(_HOLDERS_SQL, params).fetchall()
        elif status == psycopg.pq.TransactionStatus.INTRANS:
            with conn.transaction():  # a savepoint in the caller's transaction, which goes on as it was
                rows = conn.execute(_HOLDERS_SQL, params).fetchall()
        else:
            return []
    except psycopg.Error:
        return []
    return [LockHolder(QualifiedName(r[0], r[1]), r[2], r[3], r[4] or None, r[5]) for r in rows]


def relations_of(statement: str) -> list[QualifiedName]:
    """The tables a statement names (every RangeVar of its parse tree), in order, once each."""
    try:
        tree = json.loads(parser.parse_sql_json(statement))
    except parser.ParseError:
        return []
    found: dict[QualifiedName, None] = {}

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "relname" in node:
                found[QualifiedName(node.get("schemaname") or DEFAULT_SCHEMA, node["relname"])] = None
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return list(found)


def busy_message(
    doing: str, error: psycopg.Error, holders: Sequence[LockHolder], limits: SessionLimits, tries: int, seconds: float
) -> str:
    if holders:
        shown = [h.describe() for h in holders[:SHOWN_HOLDERS]]
        if len(holders) > SHOWN_HOLDERS:
            shown.append(f"and {len(holders) - SHOWN_HOLDERS} more locks")
        who = "; ".join(shown)
    else:
        who = "no lock holder visible to this role"
    if isinstance(error, psycopg.errors.LockNotAvailable):
        cause = f"lock_timeout {limits.lock_timeout}"
    elif "statement timeout" in str(error):
        cause = f"statement_timeout {limits.statement_timeout}"
    else:
        cause = " ".join(str(error).split()) or type(error).__name__
    attempts = f"{tries} tr{'ies' if tries != 1 else 'y'}"
    if not isinstance(error, psycopg.errors.LockNotAvailable):
        cause += ", not tried again"
    return f"database busy while {doing}: {who}; gave up after {attempts} in {seconds:.1f} s ({cause})"


def retry_busy(
    conn: Conn,
    work: Callable[[], T],
    *,
    doing: str,
    limits: SessionLimits,
    modes: Sequence[str] | None,
    schemas: Iterable[str] | None = None,
    tries: int = TRIES,
) -> T:
    """``work()``, tried again (pausing ``PAUSES``) while a lock wait stops it, at most ``tries`` times in
    all; a statement timeout (or a cancel) stops it at once. Then ``DatabaseBusy`` naming the lock
    holders. ``work`` must leave ``conn`` usable (rolled back) when it fails, as ``read_only`` and
    ``conn.transaction()`` do."""
    started = time.monotonic()
    made = 0
    while made < tries:
        made += 1
        try:
            return work()
        except (*BUSY_ERRORS, Blocked) as exc:
            error, relations = (exc.error, exc.relations) if isinstance(exc, Blocked) else (exc, ())
            if not isinstance(error, psycopg.errors.LockNotAvailable):
                break
            if made < tries:
                time.sleep(PAUSES[min(made - 1, len(PAUSES) - 1)])
    # With no mode to go by, only locks on the tables the failed statement named say anything.
    known = modes is not None or relations
    holders = lock_holders(conn, modes=modes, relations=relations, schemas=schemas) if known else []
    raise DatabaseBusy(busy_message(doing, error, holders, limits, made, time.monotonic() - started)) from None


def read_catalog(
    conn: Conn,
    schemas: Iterable[str] | None = None,
    limits: SessionLimits = DEFAULT_LIMITS,
    operations: Operations | None = None,
) -> Snapshot:
    """``read_snapshot``, tried again while a lock wait or timeout stops it; ``DatabaseBusy`` at last."""
    scope = sorted(set(schemas)) if schemas is not None else None
    return retry_busy(
        conn,
        lambda: read_snapshot(conn, scope, limits, operations),
        doing="reading the catalog",
        limits=limits,
        modes=BLOCKS_READ,
        schemas=scope,
    )
