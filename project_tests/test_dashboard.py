"""The dashboard (layer 3) rendered by a real headless Chromium: green when healthy, a dropped critical
table shown in red, auto-refresh every 5 minutes, a link to the JSON. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.server import ServeSettings, create_app
from project_tests.helpers import CHAT_CONTRACT
from project_tests.serving import GREEN, RED, TOKEN, chromium, dashboard_state, running

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"


def test_dashboard_shows_a_dropped_table_in_red(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    ttl = 0.5
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), ttl=ttl, admin_token=TOKEN)
    with running(create_app(settings)) as url, chromium() as browser:
        green = dashboard_state(browser, f"{url}/", tmp_path / "healthy.png", TOKEN)
        assert green["healthy"] is True
        assert green["bannerBackground"] == GREEN
        assert green["headline"] == "Database healthy"
        assert green["refresh"] == "300"
        assert green["jsonLink"]
        assert {t: r["status"] for t, r in green["rows"].items()} == {THREADS: "OK", MESSAGES: "OK"}

        run_sql(f"DROP TABLE {MESSAGES}")
        time.sleep(ttl)
        red = dashboard_state(browser, f"{url}/", tmp_path / "missing.png", TOKEN)
        assert red["healthy"] is False
        assert red["bannerBackground"] == RED
        row = red["rows"][MESSAGES]
        assert row["status"] == "MISSING"
        assert row["className"] == "status-missing"
        assert row["cellBackground"] == RED
        assert red["rows"][THREADS]["cellBackground"] != RED
    assert (tmp_path / "missing.png").stat().st_size > 1000


def test_a_browser_signs_in_with_basic_auth_using_the_token(chat_db: Target) -> None:
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), admin_token=TOKEN)
    with running(create_app(settings)) as url, chromium() as browser:
        anonymous = browser.new_context()
        with pytest.raises(PlaywrightError, match="ERR_INVALID_AUTH_CREDENTIALS"):  # asked, none given
            anonymous.new_page().goto(f"{url}/")
        anonymous.close()
        signed_in = browser.new_context(http_credentials={"username": "admin", "password": TOKEN})
        page = signed_in.new_page()
        response = page.goto(f"{url}/")
        assert response is not None
        assert response.status == 200
        assert page.locator("#overall h1").inner_text() == "Database healthy"
        page.click("text=Health report (JSON)")
        assert '"healthy": true' in page.content()
        signed_in.close()
