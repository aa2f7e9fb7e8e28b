"""The request guard: a handler that needs tables answers 503 with fix instructions when they are missing,
instead of failing silently, answering 500, or returning an empty list.

    from pgcontract.guard import require_schema, SchemaNotReady

    def list_threads(conn, user_id):
        require_schema(conn, tables=["public.sam_conversation_threads"])   # raises SchemaNotReady
        ...

Three ways to use it: ``require_schema`` (or a ``SchemaGuard``) inside a handler; the ``schema_guard``
decorator, which also turns an undefined-table or undefined-column error (SQLSTATE 42P01, 42703) raised
in the handler into ``SchemaNotReady``; and ``SchemaGuardMiddleware`` for Starlette/ASGI applications,
which answers ``SchemaNotReady`` and those errors with the 503 form. Any other error passes untouched.

The check is one catalog query with the names as parameters, in a transaction (a savepoint inside the
caller's) that is read only, has short timeouts and is always rolled back. A positive result is cached
per process for ``ttl`` seconds, so a warm guard costs no database round trip; a negative one is not,
so requests pass again as soon as the schema is repaired.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import anyio
import psycopg
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pgcontract.catalog.snapshot import query_text
from pgcontract.connect import CannotConnect, SessionLimits, Target, connect
from pgcontract.contract import Contract
from pgcontract.names import QualifiedName, quote_part

log = logging.getLogger(__name__)

FIX_INSTRUCTIONS = "Run the SQL from /api/admin/setup-sql"
UNDEFINED = frozenset({"42P01", "42703"})  # undefined_table, undefined_column
DEFAULT_TTL = 30.0
GUARD_LIMITS = SessionLimits(statement_timeout="2s", lock_timeout="1s", application_name="pgcontract-guard")
_LIMITS_SQL = (
    "SELECT set_config('transaction_read_only', 'on', true), set_config('statement_timeout', %s, true),"
    " set_config('lock_timeout', %s, true), set_config('application_name', %s, true)"
)

Conn = psycopg.Connection[Any]
AsyncConn = psycopg.AsyncConnection[Any]
TableSpec = Iterable[str] | Mapping[str, Iterable[str]]


class SchemaNotReady(Exception):
    """Required tables or columns are missing. HTTP form: 503 and ``to_dict()``."""

    status_code = 503

    def __init__(
        self, tables: Sequence[str] = (), columns: Sequence[str] = (), *, fix_instructions: str = FIX_INSTRUCTIONS
    ) -> None:
        self.missing = [*tables, *columns]
        self.fix_instructions = fix_instructions
        parts = [
            f"required {what} missing: {', '.join(names)}"
            for what, names in (("tables", tables), ("columns", columns))
            if names
        ]
        self.error = "Database schema error: " + ("; ".join(parts) or "a required table or column is missing")
        super().__init__(self.error)

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": False,
            "error": self.error,
            "missing": self.missing,
            "fix_instructions": self.fix_instructions,
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.to_dict(), status_code=self.status_code, headers={"Cache-Control": "no-store"})


@dataclass(frozen=True)
class Requirements:
    """Tables, and columns of them, that a handler needs."""

    tables: tuple[QualifiedName, ...]
    columns: tuple[tuple[QualifiedName, str], ...] = ()

    @classmethod
    def of(cls, tables: TableSpec) -> Requirements:
        """From table names, or a mapping of table name to the columns needed."""
        if isinstance(tables, str):
            tables = [tables]
        names = [QualifiedName.parse(t) for t in tables]
        columns: list[tuple[QualifiedName, str]] = []
        if isinstance(tables, Mapping):
            columns = [(QualifiedName.parse(t), c) for t, cols in tables.items() for c in cols]
        return cls(tuple(names), tuple(columns))

    @classmethod
    def from_contract(cls, contract: Contract, *, critical_only: bool = True) -> Requirements:
        """The contract's critical tables (or all) with the columns it declares."""
        chosen = {n: t for n, t in contract.table_map.items() if t.critical or not critical_only}
        return cls(tuple(chosen), tuple((n, c) for n, t in chosen.items() for c in t.columns))

    def params(self) -> dict[str, list[str | None]]:
        rows: list[tuple[str, str, str | None]] = [(t.schema, t.name, None) for t in self.tables]
        rows += [(t.schema, t.name, c) for t, c in self.columns]
        return {"schemas": [r[0] for r in rows], "tables": [r[1] for r in rows], "columns": [r[2] for r in rows]}

    @staticmethod
    def describe(rows: Sequence[Sequence[Any]]) -> SchemaNotReady | None:
        """The guard query's rows (ord, schema, table, column) as the error to raise, or None."""
        tables = [str(QualifiedName(r[1], r[2])) for r in rows if r[3] is None]
        columns = [
            f"{QualifiedName(r[1], r[2])}.{quote_part(r[3])}"
            for r in rows
            if r[3] is not None and str(QualifiedName(r[1], r[2])) not in tables
        ]
        return SchemaNotReady(tables, columns) if tables or columns else None


def _db_key(conn: Conn | AsyncConn) -> Hashable:
    info = conn.info
    return (info.host, info.port, info.dbname)


def _limits_params(limits: SessionLimits) -> tuple[str, str, str]:
    return (limits.statement_timeout, limits.lock_timeout, limits.application_name)


class SchemaGuard:
    """Checks ``requirements`` on a connection, caching a positive result for ``ttl`` seconds per database."""

    def __init__(
        self, tables: TableSpec | Requirements, *, ttl: float = DEFAULT_TTL, limits: SessionLimits = GUARD_LIMITS
    ):
        self.requirements = tables if isinstance(tables, Requirements) else Requirements.of(tables)
        self.ttl = ttl
        self.limits = limits
        self.checks = 0  # database round trips made, for tests and benchmarks
        self._ok_until: dict[Hashable, float] = {}
        self._params = self.requirements.params()

    @classmethod
    def from_contract(cls, contract: Contract, **kwargs: Any) -> SchemaGuard:
        return cls(Requirements.from_contract(contract), **kwargs)

    def fresh(self, key: Hashable) -> bool:
        return self._ok_until.get(key, 0.0) > time.monotonic()

    def mark_ok(self, key: Hashable) -> None:
        self._ok_until[key] = time.monotonic() + self.ttl

    def invalidate(self) -> None:
        self._ok_until.clear()

    def check(self, conn: Conn) -> None:
        """Query now (no cache); raise ``SchemaNotReady`` naming what is missing."""
        self.checks += 1
        with conn.transaction(force_rollback=True):
            conn.execute(_LIMITS_SQL, _limits_params(self.limits))
            rows = conn.execute(query_text("guard").encode(), self._params).fetchall()
        error = Requirements.describe(rows)
        if error is not None:
            raise error

    async def check_async(self, conn: AsyncConn) -> None:
        self.checks += 1
        async with conn.transaction(force_rollback=True):
            await conn.execute(_LIMITS_SQL, _limits_params(self.limits))
            cursor = await conn.execute(query_text("guard").encode(), self._params)
            rows = await cursor.fetchall()
        error = Requirements.describe(rows)
        if error is not None:
            raise error

    def require(self, conn: Conn) -> None:
        key = _db_key(conn)
        if self.fresh(key):
            return
        self.check(conn)
        self.mark_ok(key)

    async def require_async(self, conn: AsyncConn) -> None:
        key = _db_key(conn)
        if self.fresh(key):
            return
        await self.check_async(conn)
        self.mark_ok(key)


_guards: dict[tuple[Hashable, float], SchemaGuard] = {}
_guards_lock = threading.Lock()


def _frozen(tables: TableSpec) -> tuple[Any, ...]:
    """A hashable copy of a requirement (also consumes an iterator only once)."""
    if isinstance(tables, str):
        return (tables,)
    if isinstance(tables, Mapping):
        return tuple((t, tuple(c)) for t, c in tables.items())
    return tuple(tables)


def process_guard(tables: TableSpec, ttl: float = DEFAULT_TTL) -> SchemaGuard:
    """The process-wide guard for these requirements (one cache per distinct requirement and TTL)."""
    frozen = _frozen(tables)
    key = (frozen, ttl)
    guard = _guards.get(key)
    if guard is None:
        requirements = Requirements.of(dict(frozen) if isinstance(tables, Mapping) else frozen)
        with _guards_lock:
            guard = _guards.setdefault(key, SchemaGuard(requirements, ttl=ttl))
    return guard


def require_schema(conn: Conn, tables: TableSpec, *, ttl: float = DEFAULT_TTL) -> None:
    """Raise ``SchemaNotReady`` unless every table (and, given a mapping, its columns) exists."""
    process_guard(tables, ttl).require(conn)


async def require_schema_async(conn: AsyncConn, tables: TableSpec, *, ttl: float = DEFAULT_TTL) -> None:
    await process_guard(tables, ttl).require_async(conn)


def reset_cache() -> None:
    """Forget every cached positive result of the process-wide guards."""
    for guard in list(_guards.values()):
        guard.invalidate()


# Where PostgreSQL names the missing object (server messages in English; otherwise nothing is named).
_NAMED = (
    re.compile(r'column "(?P<column>[^"]+)" of relation "(?P<table>[^"]+)" does not exist'),
    re.compile(r'relation "(?P<table>[^"]+)" does not exist'),
    re.compile(r'column "?(?P<column>[^" ]+)"? does not exist'),
)


def _undefined(exc: BaseException) -> BaseException | None:
    """The driver error with SQLSTATE 42P01/42703 that ``exc`` is or wraps (``raise ... from``, or an ORM's
    ``.orig``). An error merely raised while handling one (``__context__``) is another error."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if code in UNDEFINED:
            return current
        orig = getattr(current, "orig", None)
        todo.extend([current.__cause__, orig if isinstance(orig, BaseException) else None])
    return None


def schema_error(exc: BaseException) -> SchemaNotReady | None:
    """``SchemaNotReady`` for an undefined-table/column error (naming the object when the server does)."""
    if isinstance(exc, SchemaNotReady):
        return exc
    found = _undefined(exc)
    if found is None:
        return None
    text = getattr(getattr(found, "diag", None), "message_primary", None) or str(found)
    for pattern in _NAMED:
        match = pattern.search(text)
        if match is None:
            continue
        parts = match.groupdict()
        if parts.get("column") is None:
            return SchemaNotReady(tables=[parts["table"]])
        owner = f"{parts['table']}." if parts.get("table") else ""
        return SchemaNotReady(columns=[owner + parts["column"]])
    return SchemaNotReady()


P = ParamSpec("P")
R = TypeVar("R")


def _connection_in(args: Iterable[object]) -> Conn | AsyncConn | None:
    return next((a for a in args if isinstance(a, psycopg.Connection | psycopg.AsyncConnection)), None)


def schema_guard(
    tables: TableSpec | None = None, *, ttl: float = DEFAULT_TTL
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a handler (sync or async): with ``tables``, check them first on the psycopg connection
    passed to it (positional or keyword); always turn 42P01/42703 raised inside into ``SchemaNotReady``."""
    guard = process_guard(tables, ttl) if tables is not None else None

    def wrap(function: Callable[P, R]) -> Callable[P, R]:
        def connection(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Conn | AsyncConn:
            conn = _connection_in([*args, *kwargs.values()])
            if conn is None:
                raise TypeError(
                    f"{function.__qualname__}: schema_guard(tables=...) needs a psycopg connection argument"
                )
            return conn

        def translate(exc: Exception) -> Exception:
            error = schema_error(exc)
            if error is None:
                return exc
            if guard is not None:
                guard.invalidate()
            return error

        if inspect.iscoroutinefunction(function):

            async def run_async(*args: Any, **kwargs: Any) -> Any:
                if guard is not None:
                    await guard.require_async(cast(AsyncConn, connection(args, kwargs)))
                try:
                    return await cast(Callable[..., Awaitable[Any]], function)(*args, **kwargs)
                except Exception as exc:
                    error = translate(exc)
                    if error is exc:
                        raise
                    raise error from exc

            return cast(Callable[P, R], functools.wraps(function)(run_async))

        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            if guard is not None:
                guard.require(cast(Conn, connection(args, kwargs)))
            try:
                return function(*args, **kwargs)
            except Exception as exc:
                error = translate(exc)
                if error is exc:
                    raise
                raise error from exc

        return functools.wraps(function)(run)

    return wrap


ConnectionSource = str | Target | Callable[[], AbstractContextManager[Conn]]


class SchemaGuardMiddleware:
    """ASGI middleware: 503 with the guard's JSON for ``SchemaNotReady`` and 42P01/42703 raised by the
    application (before it started its response); every other error passes through untouched.

    With ``tables`` (or ``contract``: its critical tables and their columns) and a ``connection`` source
    (a DSN, a Target, or a callable returning a connection context manager such as
    ``psycopg_pool.ConnectionPool.connection``), requests under ``paths`` are checked first; the result
    is cached for ``ttl`` seconds, and one check runs at a time.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        tables: TableSpec | None = None,
        contract: Contract | None = None,
        connection: ConnectionSource | None = None,
        paths: Sequence[str] = ("/",),
        ttl: float = DEFAULT_TTL,
    ) -> None:
        self.app = app
        requirements = Requirements.from_contract(contract) if contract is not None else None
        if tables is not None:
            requirements = Requirements.of(tables)
        self.guard = SchemaGuard(requirements, ttl=ttl) if requirements is not None else None
        self.connection = connection
        self.paths = tuple(paths)
        self._lock: anyio.Lock | None = None

    def _open(self) -> AbstractContextManager[Conn]:
        source = self.connection
        if isinstance(source, str | Target):
            target = Target("guard", source) if isinstance(source, str) else source
            return connect(target, GUARD_LIMITS)
        assert source is not None
        return source()

    def _check_now(self) -> bool:
        """Check on a connection of the source; False when the guard cannot connect (it then lets the
        request through: availability is the application's own concern, the guard's is the schema)."""
        assert self.guard is not None
        try:
            with self._open() as conn:
                self.guard.check(conn)
        except (CannotConnect, psycopg.OperationalError) as exc:
            log.warning(
                "schema guard: cannot check the schema: %s",
                exc if isinstance(exc, CannotConnect) else type(exc).__name__,
            )
            return False
        return True

    async def _precheck(self) -> None:
        guard = self.guard
        if guard is None or self.connection is None or guard.fresh(self):
            return
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            if not guard.fresh(self) and await anyio.to_thread.run_sync(self._check_now):
                guard.mark_ok(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.paths):
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._precheck()
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            error = schema_error(exc)
            if error is None or started:
                raise
            if self.guard is not None:
                self.guard.invalidate()
            await error.response()(scope, receive, send)
