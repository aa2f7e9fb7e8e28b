"""Helpers for the runtime-layer tests: a real uvicorn server in a thread, a local webhook receiver,
and headless Chromium (Debian's, driven by Playwright; never a downloaded browser)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import port_for
import uvicorn
from playwright.sync_api import Browser, sync_playwright
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "test-admin-token-6b1f"


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll until ``predicate`` holds (bounded); the caller asserts on the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def running(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` on a free loopback port with uvicorn in a thread; yield its base URL."""
    port = port_for.select_random()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, timeout=20), "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class WebhookReceiver:
    """A local HTTP endpoint recording the JSON posted to it; the first ``fail_first`` posts get a 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.received: list[dict[str, Any]] = []

        async def hook(request: Request) -> Response:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                return JSONResponse({"ok": False}, status_code=500)
            self.received.append(await request.json())
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: ./dev test installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def dashboard_state(browser: Browser, url: str, screenshot: Path, token: str | None = None) -> dict[str, Any]:
    """Open the dashboard, save a screenshot, and read what a person sees: the banner's state and each
    row's status with its computed colours."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    context = browser.new_context(extra_http_headers=headers, viewport={"width": 1200, "height": 700})
    try:
        page = context.new_page()
        response = page.goto(url)
        assert response is not None
        assert response.status == 200, response.status
        page.screenshot(path=str(screenshot), full_page=True)
        state: dict[str, Any] = page.evaluate(
            """() => {
                const banner = document.querySelector('#overall');
                const rows = {};
                for (const tr of document.querySelectorAll('#tables tbody tr')) {
                    const cell = tr.querySelector('td.status');
                    rows[tr.dataset.table] = {
                        status: cell.textContent.trim(),
                        className: tr.className,
                        cellBackground: getComputedStyle(cell).backgroundColor,
                        cellColor: getComputedStyle(cell).color,
                    };
                }
                return {
                    healthy: banner.dataset.healthy === 'true',
                    bannerBackground: getComputedStyle(banner).backgroundColor,
                    headline: banner.querySelector('h1').textContent,
                    refresh: document.querySelector('meta[http-equiv=refresh]').content,
                    jsonLink: !!document.querySelector('a[href="/api/admin/check-db"]'),
                    rows,
                };
            }"""
        )
        return state
    finally:
        context.close()


RED = "rgb(198, 40, 40)"  # #c62828
GREEN = "rgb(46, 125, 50)"  # #2e7d32
