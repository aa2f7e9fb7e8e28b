"""Hostile names (HTML in table, role and database names; a terminal escape sequence) taken into a
contract by ``snapshot`` and shown in every report: the HTML report and the dashboard opened in a real
headless Chromium run no script and gain no element; the terminal gets no raw escape sequence."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Dialog
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.server import ServeSettings, create_app
from project_tests.helpers import run_cli
from project_tests.serving import TOKEN, chromium, running

IMG_TABLE = '"><img src=x onerror=alert(1)>'  # critical; dropped after the snapshot: missing
SCRIPT_TABLE = "<script>alert(2)</script>"  # a column retyped in the contract: drift
ESC_TABLE = "red\x1b[31mtable"  # a terminal escape sequence; a column retyped: drift
ROLE = "<img src=x onerror=alert(3)>"
DATABASE = "</td><script>alert(4)</script>"  # no '=': libpq would read it as a connection string
CONTRACT_DIR = "<img src=x onerror=alert(5)>"
NAMES = (IMG_TABLE, SCRIPT_TABLE, ROLE, DATABASE, CONTRACT_DIR)


@dataclass(frozen=True)
class Hostile:
    dsn: str
    contract: Path


@pytest.fixture
def hostile(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> Iterator[Hostile]:
    """A database and a login role with HTML in their names, holding three hostile tables; its
    snapshot (in a directory with HTML in its name), made to fail: the critical table dropped, two
    columns retyped."""
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN SUPERUSER").format(sql.Identifier(ROLE)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE), sql.Identifier(ROLE)))
    dsn = psycopg.conninfo.make_conninfo(host=params["host"], port=params["port"], user=ROLE, dbname=DATABASE)
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table in (IMG_TABLE, SCRIPT_TABLE, ESC_TABLE):
            conn.execute(
                sql.SQL("CREATE TABLE public.{} (id integer PRIMARY KEY, v text)").format(sql.Identifier(table))
            )
    snapshot = run_cli("snapshot", "--dsn", dsn)
    assert snapshot.returncode == 0, snapshot.stderr
    text = snapshot.stdout
    img_key = 'public."""><img src=x onerror=alert(1)>":\n'
    assert img_key in text, text
    text = text.replace(img_key, img_key + "    critical: true\n")
    assert text.count("v: {type: text, nullable: true}") == 3
    text = text.replace("v: {type: text, nullable: true}", "v: {type: bigint, nullable: true}")
    text = text.replace("v: {type: bigint, nullable: true}", "v: {type: text, nullable: true}", 1)  # the img table
    contract = tmp_path / CONTRACT_DIR / "tables.yaml"
    contract.parent.mkdir()
    contract.write_text(text, encoding="utf-8")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE public.{}").format(sql.Identifier(IMG_TABLE)))
    yield Hostile(dsn, contract)
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(ROLE)))


class Watch:
    """What a page did that it should not have: dialogs opened (alert) and requests for ``x``."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


INJECTED = """() => ({
    images: [...document.querySelectorAll('img')].filter(e => e.getAttribute('src') === 'x').length,
    scripts: [...document.querySelectorAll('script')].filter(e => e.textContent.includes('alert(')).length,
    handlers: [...document.querySelectorAll('*')].filter(e => e.hasAttribute('onerror')).length,
})"""


def opened(browser: Browser, url: str, watch: Watch, **context: object) -> tuple[str, dict[str, int]]:
    """The page's visible text and the count of injected elements, after it rendered."""
    page = browser.new_context(**context).new_page()  # type: ignore[arg-type]
    page.on("dialog", watch.dialog)
    page.on("request", lambda request: watch.requests.append(request.url))
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # an injected image's onerror would have fired by now
    counts: dict[str, int] = page.evaluate(INJECTED)
    return page.locator("body").inner_text(), counts


def test_html_report_runs_no_script_from_names(hostile: Hostile, tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    result = run_cli("check", "--dsn", hostile.dsn, "--contract", str(hostile.contract), "--html", str(html))
    assert result.returncode == 1, result.stdout + result.stderr
    watch = Watch()
    with chromium() as browser:
        shown, injected = opened(browser, html.as_uri(), watch, viewport={"width": 1400, "height": 1800})
    assert watch.dialogs == []
    assert injected == {"images": 0, "scripts": 0, "handlers": 0}
    assert not [url for url in watch.requests if url.endswith("/x")]
    for name in NAMES:  # shown as text: in results, findings, the environment table and the summary
        assert name in shown, name
    assert r"red\x1b[31mtable" in shown  # the escape sequence made visible, not hidden by the browser


def test_terminal_output_shows_escape_sequences_escaped(hostile: Hostile) -> None:
    result = run_cli("check", "--dsn", hostile.dsn, "--contract", str(hostile.contract), "--", "-rA")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    # The test id and the finding name the table with its escape sequence shown.
    assert r"FAILED test_schema.py::test_columns[public.red\x1b[31mtable]" in result.stdout
    assert r"[column.type] public.red\x1b[31mtable.v: column has another type" in result.stdout
    assert re.search(r'ALTER TABLE "public"\."red\\x1b\[31mtable" ALTER COLUMN "v" TYPE bigint', result.stdout)


def test_dashboard_runs_no_script_from_names(hostile: Hostile) -> None:
    target = Target("target", hostile.dsn)
    settings = ServeSettings(target=target, contract=load_contract(hostile.contract), admin_token=TOKEN)
    watch = Watch()
    with running(create_app(settings)) as url, chromium() as browser:
        shown, injected = opened(browser, f"{url}/", watch, extra_http_headers={"Authorization": f"Bearer {TOKEN}"})
    assert watch.dialogs == []
    assert injected == {"images": 0, "scripts": 0, "handlers": 0}
    assert IMG_TABLE in shown
    assert SCRIPT_TABLE in shown
    assert r"red\x1b[31mtable" in shown
    assert "MISSING" in shown
