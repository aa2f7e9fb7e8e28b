"""Hostile names (HTML in table, role and database names; a terminal escape sequence) taken into a
contract by ``snapshot`` and shown in every report: the HTML report and the dashboard opened in a real
headless Chromium run no script and gain no element; the terminal gets no raw escape sequence."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from playwright.sync_api import Browser, Dialog
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.names import hidden
from pgcontract.server import ServeSettings, create_app
from pgcontract.server.dashboard import CHECK_DB_PATH
from pgcontract.sqlsafe import shown_sql
from project_tests.helpers import CHAT_CONTRACT, run_cli
from project_tests.serving import TOKEN, chromium, running, wait_until
from project_tests.test_serve_cli import serve_process

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
    # The fix runs as shown: the name in escapes PostgreSQL reads back.
    assert 'ALTER TABLE "public".U&"red\\001B[31mtable" ALTER COLUMN "v" TYPE bigint' in result.stdout


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


# --- the terminal: every line pgcontract writes itself, not only findings ------------------------------

# A database name that clears the screen and, after a line break, claims the database is fine.
FORGING_DB = "shop\x1b[2J\nFORGED: the database satisfies the contract"
FORGING_SHOWN = r"shop\x1b[2J\x0aFORGED: the database satisfies the contract"
ESC_TABLE_YAML = '"public.\\"red\\x1b[31mtable\\""'


def forging_dsn(target: Target, dbname: str = FORGING_DB) -> str:
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    return psycopg.conninfo.make_conninfo(host=params["host"], port=params["port"], user=params["user"], dbname=dbname)


@pytest.fixture
def forging(target: Target, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database named FORGING_DB holding the table ESC_TABLE without its column ``v``, and a contract
    that declares ``v`` (a safe repair: ADD COLUMN)."""
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(FORGING_DB)))
    dsn = forging_dsn(target)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE public.{} (id integer)").format(sql.Identifier(ESC_TABLE)))
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        f"version: 1\ntables:\n  {ESC_TABLE_YAML}:\n    columns: {{id: {{type: integer}}, v: {{type: text}}}}\n",
        encoding="utf-8",
    )
    yield dsn, contract
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(FORGING_DB)))


def assert_nothing_forged(text: str) -> None:
    assert "\x1b" not in text
    assert not [line for line in text.splitlines() if line.startswith("FORGED")], text


def test_a_cli_error_message_shows_a_hostile_name_escaped(target: Target) -> None:
    """``cli._die``: the server's "database ... does not exist" names the database as given."""
    result = run_cli("check", "--dsn", forging_dsn(target, FORGING_DB + " (gone)"))
    assert result.returncode == 3, result.stdout + result.stderr
    assert_nothing_forged(result.stderr)
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("pgcontract: cannot connect to ")
    assert FORGING_SHOWN + " (gone)" in result.stderr


def test_history_shows_a_hostile_target_name_escaped(forging: tuple[str, Path], tmp_path: Path) -> None:
    """The target is named after its database (dbname@host); ``history`` prints one line for it."""
    dsn, contract = forging
    history = tmp_path / "history.jsonl"
    run = run_cli("check", "--dsn", dsn, "--contract", str(contract), "--history", str(history))
    assert run.returncode == 1, run.stdout + run.stderr
    shown = run_cli("history", "--history", str(history))
    assert shown.returncode == 0, shown.stderr
    assert_nothing_forged(shown.stdout)
    assert len(shown.stdout.splitlines()) == 1, shown.stdout
    assert shown.stdout.startswith(FORGING_SHOWN + "@")


def test_repair_plan_headers_show_hostile_names_escaped(forging: tuple[str, Path]) -> None:
    """The header names the target, the notes name findings: comments a person reads. (The statements
    keep the table's real name: they must run as written.)"""
    dsn, contract = forging
    result = run_cli("repair", "--dsn", dsn, "--contract", str(contract))
    assert result.returncode == 1, result.stdout + result.stderr
    comments = "\n".join(line for line in result.stdout.splitlines() if line.startswith("--"))
    assert_nothing_forged(comments)
    assert not [line for line in result.stdout.splitlines() if line.startswith("FORGED")], result.stdout
    assert "-- pgcontract repair of postgres@" in comments
    assert f"/{FORGING_SHOWN} against {contract}: errors: 1, warnings: 0." in comments
    assert r"-- fixes column.missing:public.red\x1b[31mtable.v" in comments
    applied = run_cli("repair", "--dsn", dsn, "--contract", str(contract), "--apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert_nothing_forged(applied.stderr)
    assert f"/{FORGING_SHOWN} in one transaction" in applied.stderr


def test_serve_log_lines_show_a_hostile_name_escaped(target: Target) -> None:
    """The "serving ... for <target>" line and the health check's warning, which carries the server's
    error text naming the database."""
    dsn = forging_dsn(target, FORGING_DB + " (gone)")
    with serve_process("--dsn", dsn, "--no-auth", "--contract", str(CHAT_CONTRACT)) as (process, url, lines):
        assert wait_until(lambda: any("serving http" in line for line in lines)), lines
        assert httpx.get(f"{url}{CHECK_DB_PATH}", timeout=30).status_code == 503
        assert wait_until(lambda: any("health check:" in line for line in lines)), lines
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    text = "".join(lines)
    assert_nothing_forged(text)
    serving = next(line for line in lines if "serving http" in line)
    assert f"/{FORGING_SHOWN} (gone) (report reused for" in serving
    warning = next(line for line in lines if "health check:" in line)
    assert warning.startswith("health check: database unreachable: ")
    assert FORGING_SHOWN + " (gone)" in warning


# --- SQL printed to be run: the same statements, no character a terminal obeys -----------------------

# A table whose name clears the screen and, after a line break, starts a line of its own.
SQL_TABLE = "t\x1b[2J\nFORGED: the database satisfies the contract"
SQL_TABLE_ESCAPED = r'U&"t\001B[2J\000AFORGED: the database satisfies the contract"'


def sql_table_contract(tmp_path: Path, columns: dict[str, Any]) -> Path:
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        yaml.safe_dump({"version": 1, "tables": {f"public.{SQL_TABLE}": {"columns": columns}}}), encoding="utf-8"
    )
    return contract


def test_repair_script_names_a_hostile_table_in_escapes_and_still_runs(target: Target, tmp_path: Path) -> None:
    """The table lacks ``v`` (a safe fix: run) and holds ``w`` as text where the contract says bigint (a
    hazard: held back, commented out). Neither the statement nor the comment carries the escape sequence
    or the line break; the script, run as printed, adds the column to the table of that exact name."""
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE public.{} (id integer, w text)").format(sql.Identifier(SQL_TABLE)))
    columns = {"id": {"type": "integer"}, "w": {"type": "bigint"}, "v": {"type": "text"}}
    contract = sql_table_contract(tmp_path, columns)
    result = run_cli("repair", "--dsn", target.dsn, "--contract", str(contract))
    assert result.returncode == 1, result.stdout + result.stderr
    assert_nothing_forged(result.stdout)
    assert f'ALTER TABLE "public".{SQL_TABLE_ESCAPED} ADD COLUMN IF NOT EXISTS "v" text;' in result.stdout.splitlines()
    held = [line for line in result.stdout.splitlines() if line.startswith("-- ALTER TABLE")]
    assert held == [f'-- ALTER TABLE "public".{SQL_TABLE_ESCAPED} ALTER COLUMN "w" TYPE bigint USING "w"::bigint;']
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(result.stdout.encode())
        added = conn.execute(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'v'",
            (sql.Identifier("public", SQL_TABLE).as_string(conn),),
        ).fetchone()
    assert added == (1,)


def test_sql_script_names_a_hostile_table_in_escapes_and_still_runs(target: Target, tmp_path: Path) -> None:
    """``pgcontract sql``: the DDL creates the table of that exact name, printed without the escape
    sequence or the line break."""
    contract = sql_table_contract(tmp_path, {"id": {"type": "integer"}})
    result = run_cli("sql", "--contract", str(contract))
    assert result.returncode == 0, result.stdout + result.stderr
    assert_nothing_forged(result.stdout)
    assert SQL_TABLE_ESCAPED in result.stdout
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(result.stdout.encode())
        found = conn.execute("SELECT relname FROM pg_class WHERE relname LIKE 't%FORGED%'").fetchall()
    assert found == [(SQL_TABLE,)]


@pytest.mark.parametrize(
    "select",
    [
        'SELECT 1 AS "a\x1b[2J\nb\\c""d\u202ee"',  # an identifier: control, line break, backslash, quote, bidi
        "SELECT 'a\x1b[2J\nb\\c''d\u202ee'",  # a string constant
        "SELECT E'a\x1b[2J\\nb\\\\c''d\u202ee'",  # an escape string: its backslashes stay escapes
        "SELECT $x$a\x1b[2J\n\tb\\c'd\u202ee$x$",  # a dollar-quoted string: line break and tab kept
    ],
    ids=["identifier", "string", "escape-string", "dollar-quoted"],
)
def test_shown_sql_means_what_it_shows(select: str, target: Target) -> None:
    """``shown_sql`` writes quoted names and strings without a character a terminal obeys, and PostgreSQL
    reads back the same name or value."""
    shown = shown_sql(select)
    assert all(ch in "\n\t" or not hidden(ch) for ch in shown), shown
    assert "\n" not in shown or select.startswith("SELECT $x$")
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        results = [conn.execute(text.encode()) for text in (select, shown)]
        read = [(found.fetchone(), found.description[0].name) for found in results]  # type: ignore[index]
    assert read[1] == read[0]


def test_check_names_a_hostile_table_in_escapes(target: Target, tmp_path: Path) -> None:
    """``pgcontract check``: the test id, the finding and its fix name the table without the escape
    sequence or the line break; the fix is SQL that runs."""
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE TABLE public.{} (id integer, w text)").format(sql.Identifier(SQL_TABLE)))
    contract = sql_table_contract(tmp_path, {"id": {"type": "integer"}, "w": {"type": "bigint"}})
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(contract))
    assert result.returncode == 1, result.stdout + result.stderr
    assert_nothing_forged(result.stdout + result.stderr)
    assert f'fix:      ALTER TABLE "public".{SQL_TABLE_ESCAPED} ALTER COLUMN "w" TYPE bigint' in result.stdout
