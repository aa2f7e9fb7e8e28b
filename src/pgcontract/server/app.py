"""The Starlette application of ``pgcontract serve``: health API, setup SQL, dashboard, metrics, liveness.

Admin endpoints (everything but ``/healthz``) need the admin token when one is configured: as a bearer
token, or as the password of HTTP Basic authentication (so a browser can open the dashboard). Tokens are
compared in constant time. No response carries a DSN, a password or an internal error text.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pgcontract.connect import CannotConnect, DsnError, SessionLimits, Target
from pgcontract.contract import Contract
from pgcontract.health import CHECK_FAILED, HealthReport, check_health, failed_report
from pgcontract.report.audit import HistoryStore, LastChange, LastChangeReader, recorded_runs
from pgcontract.report.trends import entry_of_report, entry_of_run
from pgcontract.server.alerts import WebhookNotifier
from pgcontract.server.dashboard import CHECK_DB_PATH, SETUP_SQL_PATH, render_dashboard
from pgcontract.server.mail import MailNotifier, MailSettings
from pgcontract.server.metrics import CONTENT_TYPE, HealthMetrics
from pgcontract.server.monitor import CachedReport, HealthMonitor
from pgcontract.server.setup_sql import setup_sql
from pgcontract.sqlsafe import GeneratedSqlError

log = logging.getLogger(__name__)

TOKEN_ENV = "PGCONTRACT_ADMIN_TOKEN"
CHECK_LIMITS = SessionLimits(statement_timeout="10s", lock_timeout="2s", connect_timeout=5)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
CHALLENGE = 'Basic realm="pgcontract", Bearer realm="pgcontract"'


@dataclass(frozen=True)
class ServeSettings:
    target: Target = field(repr=False)
    contract: Contract = field(repr=False)
    ttl: float = 60.0
    admin_token: str | None = field(default=None, repr=False)  # None: admin endpoints are open
    webhook_url: str | None = field(default=None, repr=False)
    webhook_retry_seconds: float = 10.0
    mail: MailSettings | None = field(default=None, repr=False)  # email alerts (from PGCONTRACT_SMTP_*)
    mail_retry_seconds: float = 30.0
    trend_checks: int = 60  # recent checks kept (in memory) for the dashboard's trend
    limits: SessionLimits = CHECK_LIMITS
    history: HistoryStore | None = field(default=None, repr=False)  # the dashboard shows its last change


def token_matches(authorization: str, token: str) -> bool:
    """``Bearer <token>``, or HTTP Basic with the token as password (any user name)."""
    scheme, _, value = authorization.partition(" ")
    candidate = ""
    if scheme.lower() == "bearer":
        candidate = value.strip()
    elif scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            candidate = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
    return hmac.compare_digest(candidate.encode(), token.encode())


Endpoint = Callable[[Request], Awaitable[Response]]


def admin(token: str | None, endpoint: Endpoint) -> Endpoint:
    if token is None:
        return endpoint

    async def guarded(request: Request) -> Response:
        if not token_matches(request.headers.get("authorization", ""), token):
            return JSONResponse(
                {"error": "unauthorized: send the admin token as a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": CHALLENGE, "Cache-Control": "no-store"},
            )
        return await endpoint(request)

    return guarded


def _caching(monitor: HealthMonitor, cached: CachedReport) -> dict[str, str]:
    age = cached.age(monitor.clock())
    remaining = max(0, math.floor(monitor.ttl - age))
    return {"Cache-Control": f"private, max-age={remaining}", "Age": str(math.floor(age))}


def _setup_sql_or_problem(contract: Contract) -> tuple[str, str | None]:
    """The set-up SQL, or (when the script generated is not what pgcontract meant to write: its own bug)
    what the endpoint answers instead; the health API, dashboard and metrics serve either way."""
    try:
        return setup_sql(contract), None
    except GeneratedSqlError as exc:
        detail = " ".join(str(exc).split()).removeprefix("internal error: ")
        log.error("set-up SQL not served: %s", detail)
        problem = (
            f"internal error: the set-up SQL was not generated as intended ({detail}); no SQL is served."
            " This is a bug in pgcontract: please report it with the contract"
        )
        return "", problem


def create_app(settings: ServeSettings, check: Callable[[], HealthReport] | None = None) -> Starlette:
    """The app; ``check`` replaces the database check (tests wrap the real one to count or delay it)."""
    contract = settings.contract
    target = settings.target

    run_check = check or (lambda: check_health(target, contract, settings.limits))

    def check_database() -> HealthReport:
        try:
            return run_check()
        except Exception as exc:  # a bug must give an unhealthy report, not a 500
            reason = target.redact(f"{type(exc).__name__}: {exc}")
            log.error("health check crashed: %s", reason)
            return failed_report(contract, CHECK_FAILED, reason, datetime.now(UTC), 0.0)

    metrics = HealthMetrics(contract)
    notifier = (
        WebhookNotifier(settings.webhook_url, retry_seconds=settings.webhook_retry_seconds)
        if settings.webhook_url
        else None
    )

    mailer = MailNotifier(settings.mail, retry_seconds=settings.mail_retry_seconds) if settings.mail else None
    recent: deque[dict[str, Any]] = deque(maxlen=max(settings.trend_checks, 1))

    def on_report(report: HealthReport) -> None:
        # The page is about one database and shows no connection detail: not even the target's name.
        recent.append(entry_of_report("database", report))
        metrics.observe(report)
        if notifier is not None:
            notifier.observe(report)
        if mailer is not None:
            mailer.observe(report, target.name)

    monitor = HealthMonitor(check_database, settings.ttl, on_report)
    sql_text, sql_problem = _setup_sql_or_problem(contract)

    async def check_db(request: Request) -> Response:
        cached = await monitor.current()
        headers = _caching(monitor, cached)
        if cached.report.status == "busy":
            # A lock wait is over soon more often than not: ask again once this report is stale.
            headers["Retry-After"] = str(max(1, math.ceil(monitor.ttl - cached.age(monitor.clock()))))
        return Response(
            cached.body(monitor.clock()),
            status_code=200 if cached.report.healthy else 503,
            media_type="application/json",
            headers=headers,
        )

    store = settings.history

    # The dashboard's last change: the history file read again only when it changed, not per request.
    last_change_of = LastChangeReader(store, target.dsn, log.warning) if store is not None else None

    def last_change() -> LastChange | None:
        return last_change_of() if last_change_of is not None else None

    def recorded_trend() -> list[dict[str, Any]]:
        """The runs ``check --history`` recorded for this database, so the trend survives a restart."""
        if store is None:
            return []
        try:
            runs = recorded_runs(store, target.dsn, max(settings.trend_checks, 1), log.warning)
        except (OSError, CannotConnect, DsnError, psycopg.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
            log.warning("dashboard trend: recorded runs not read from %s: %s", store.display, store.redact(reason))
            return []
        return [entry_of_run("database", run) for run in runs]

    async def seed_trend() -> None:
        runs = await asyncio.to_thread(recorded_trend)
        # Checks made meanwhile stay the newest; a full deque would drop them if the runs were prepended.
        merged = (runs + list(recent))[-(recent.maxlen or len(runs)) :]
        recent.clear()
        recent.extend(merged)
        seeded.set()

    seeded = asyncio.Event()

    async def dashboard(request: Request) -> Response:
        cached = await monitor.current()
        change = await asyncio.to_thread(last_change)
        page = render_dashboard(cached.report, cached.age(monitor.clock()), change, history=list(recent))
        headers = {
            **SECURITY_HEADERS,
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        }
        return HTMLResponse(page, headers=headers)

    async def setup(request: Request) -> Response:
        if sql_problem is not None:
            return JSONResponse({"error": sql_problem}, status_code=500, headers={"Cache-Control": "no-store"})
        return PlainTextResponse(sql_text, headers={"Cache-Control": "no-store"})

    async def prometheus(request: Request) -> Response:
        await monitor.current()
        return Response(metrics.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Read in the background: a slow or unreachable store delays neither the start nor a check.
        tasks = [asyncio.ensure_future(seed_trend()), asyncio.ensure_future(monitor.run())]
        if notifier is not None:
            tasks.append(asyncio.ensure_future(notifier.run()))
        if mailer is not None:
            mailer.start()
        try:
            yield
        finally:
            if mailer is not None:
                await anyio.to_thread.run_sync(mailer.stop)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s: %s", request.url.path, type(exc).__name__)
        return JSONResponse({"error": "internal error"}, status_code=500)

    token = settings.admin_token
    app = Starlette(
        routes=[
            Route("/", admin(token, dashboard)),
            Route(CHECK_DB_PATH, admin(token, check_db)),
            Route(SETUP_SQL_PATH, admin(token, setup)),
            Route("/metrics", admin(token, prometheus)),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
        exception_handlers={Exception: internal_error},
    )
    # Starlette would answer "/metrics/" with a redirect to an absolute URL built from the request's
    # Host header (before the token is checked): a redirect anywhere a client's Host points to.
    app.router.redirect_slashes = False
    app.state.monitor = monitor
    app.state.metrics = metrics
    app.state.notifier = notifier
    app.state.mailer = mailer
    app.state.recent = recent
    app.state.trend_seeded = seeded
    return app
