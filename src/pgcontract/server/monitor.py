"""The cached health report behind every endpoint: one database check per TTL, shared by everyone.

Concurrent requests that find the report stale share one refresh (single flight); a background loop
refreshes it once per TTL, just before it expires, so alerts and metrics follow the database even when
nobody is looking and requests do not wait for a check.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from pgcontract.health import HealthReport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedReport:
    report: HealthReport
    at: float  # monotonic time of the check
    json_head: str  # the report's JSON without its closing brace: the age is appended per request

    def age(self, now: float) -> float:
        return max(0.0, now - self.at)

    def body(self, now: float) -> bytes:
        return f'{self.json_head}, "age_seconds": {self.age(now):.3f}}}'.encode()


class HealthMonitor:
    def __init__(
        self,
        check: Callable[[], HealthReport],
        ttl: float,
        on_report: Callable[[HealthReport], None] = lambda _: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self.ttl = ttl
        self._on_report = on_report
        self.clock = clock
        self.checks = 0  # database checks run, for tests and benchmarks
        self._cached: CachedReport | None = None
        self._inflight: asyncio.Future[CachedReport] | None = None

    def fresh(self) -> CachedReport | None:
        cached = self._cached
        return cached if cached is not None and cached.age(self.clock()) < self.ttl else None

    async def current(self) -> CachedReport:
        """The report, refreshed first when older than the TTL (one refresh at a time)."""
        cached = self.fresh()
        return cached if cached is not None else await self.refresh()

    async def refresh(self) -> CachedReport:
        """Check the database now, or join the check already running."""
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._refresh())
        # shield: a client that disconnects must not cancel the refresh the others are waiting for
        return await asyncio.shield(self._inflight)

    async def _refresh(self) -> CachedReport:
        try:
            self.checks += 1
            report = await anyio.to_thread.run_sync(self._check)
            head = json.dumps({**report.to_dict(), "ttl_seconds": self.ttl})[:-1]
            cached = CachedReport(report, self.clock(), head)
            self._cached = cached
            try:
                self._on_report(report)
            except Exception:  # metrics or alerts must never take the health API down
                log.exception("health monitor: processing a report failed")
            return cached
        finally:
            self._inflight = None

    async def run(self) -> None:
        """Keep the report fresh until cancelled: refresh it shortly before it reaches the TTL (by about
        twice the last check's duration), so requests find a fresh report instead of waiting for a check."""
        cached = await self.current()
        while True:
            lead = min(self.ttl / 10, max(0.05, 2 * cached.report.duration_ms / 1000))
            await asyncio.sleep(max(self.ttl - cached.age(self.clock()) - lead, 0.0))
            cached = await self.refresh()
