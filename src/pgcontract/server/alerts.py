"""Alerts: a Slack-compatible webhook called when the database turns unhealthy or healthy again.

Only transitions are sent (the first report counts as one when it is unhealthy). Deliveries run in a
background task; a failed one is logged (never the URL, which is a secret for Slack) and retried with a
growing delay, in order, while newer alerts wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from pgcontract.health import HealthReport

log = logging.getLogger(__name__)

MAX_PENDING = 20
MAX_RETRY_SECONDS = 300.0


def alert_payload(report: HealthReport, name: str = "pgcontract") -> dict[str, Any]:
    """Slack's ``text`` (a headline and the critical issues), plus the same facts as fields."""
    if report.healthy:
        text = f":large_green_circle: {name}: database healthy again"
    else:
        lines = "\n".join(f"• {issue}" for issue in report.critical_issues[:20])
        more = len(report.critical_issues) - 20
        text = f":red_circle: {name}: database UNHEALTHY\n{lines}" + (f"\n… and {more} more" if more > 0 else "")
    return {
        "text": text,
        "healthy": report.healthy,
        "status": report.status,
        "critical_issues": list(report.critical_issues),
        "checked_at": report.to_dict()["checked_at"],
    }


class WebhookNotifier:
    def __init__(self, url: str, *, retry_seconds: float = 10.0, timeout: float = 10.0, name: str = "pgcontract"):
        self._url = url
        self.retry_seconds = retry_seconds
        self.timeout = timeout
        self.name = name
        self.delivered = 0
        self.failures = 0
        self._last_healthy: bool | None = None
        self._pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def __repr__(self) -> str:
        return "WebhookNotifier(url=<hidden>)"

    def observe(self, report: HealthReport) -> None:
        """Queue an alert when the report changes healthy <-> unhealthy (or starts unhealthy)."""
        previous, self._last_healthy = self._last_healthy, report.healthy
        if previous == report.healthy or (previous is None and report.healthy):
            return
        if self._pending.qsize() >= MAX_PENDING:
            self._pending.get_nowait()
            log.warning("alert webhook: too many undelivered alerts; the oldest was dropped")
        self._pending.put_nowait(alert_payload(report, self.name))

    async def _deliver(self, client: httpx.AsyncClient, payload: dict[str, Any]) -> bool:
        try:
            response = await client.post(self._url, json=payload)
        except Exception as exc:  # any failure is logged and retried; none may stop the server
            reason = type(exc).__name__
        else:
            if response.is_success:
                return True
            reason = f"HTTP {response.status_code}"
        self.failures += 1
        log.warning("alert webhook delivery failed (%s); will retry", reason)
        return False

    async def run(self) -> None:
        """Deliver queued alerts in order until cancelled, retrying each until it is accepted."""
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            while True:
                payload = await self._pending.get()
                delay = self.retry_seconds
                while not await self._deliver(client, payload):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max(MAX_RETRY_SECONDS, self.retry_seconds))
                self.delivered += 1
