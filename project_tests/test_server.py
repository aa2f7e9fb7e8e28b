"""``pgcontract serve``'s application (layers 1, 3 and alerts) on a real uvicorn and real PostgreSQL:
status codes, caching with one check per TTL shared by concurrent requests, auth, metrics, setup SQL,
webhook on transitions only, and no secret or internal text in any response."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest

from pgcontract import ddl
from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.ddl import Phase, table_steps
from pgcontract.health import HealthReport, check_health
from pgcontract.names import QualifiedName
from pgcontract.server import ServeSettings, create_app, listen
from pgcontract.server.app import CHALLENGE, token_matches
from pgcontract.server.setup_sql import setup_sql
from pgcontract.sqlgen import render
from project_tests.helpers import CHAT_CONTRACT
from project_tests.serving import TOKEN, WebhookReceiver, running, wait_until

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "s3cret-Pa55word"


def settings_for(target: Target, **overrides: object) -> ServeSettings:
    values: dict[str, object] = {"target": target, "contract": load_contract(CHAT_CONTRACT), "admin_token": TOKEN}
    values.update(overrides)
    return ServeSettings(**values)  # type: ignore[arg-type]


@contextmanager
def served(settings: ServeSettings, check: Callable[[], HealthReport] | None = None) -> Iterator[httpx.Client]:
    with running(create_app(settings, check)) as url, httpx.Client(base_url=url, headers=ADMIN, timeout=30) as client:
        yield client


@pytest.fixture
def password_target(chat_db: Target, run_sql: Callable[[str], None]) -> Target:
    """The chat database reached through a role with a password in its DSN (to look for leaks)."""
    run_sql(f"CREATE ROLE watcher LOGIN PASSWORD '{PASSWORD}'; GRANT USAGE ON SCHEMA auth TO watcher")
    return Target("watcher", psycopg.conninfo.make_conninfo(chat_db.dsn, user="watcher", password=PASSWORD))


def test_healthy_database_answers_200_with_cache_headers_and_age(password_target: Target) -> None:
    with served(settings_for(password_target)) as client:
        response = client.get("/api/admin/check-db")
        assert response.status_code == 200
        body = response.json()
        assert body["healthy"] is True
        assert body["ttl_seconds"] == 60
        assert 0 <= body["age_seconds"] < 60
        assert response.headers["cache-control"].startswith("private, max-age=")
        assert response.headers["content-type"] == "application/json"
        for path in ("/api/admin/check-db", "/", "/metrics", "/api/admin/setup-sql", "/healthz"):
            assert PASSWORD not in client.get(path).text
            assert "watcher" not in client.get(path).text


def test_dropped_critical_table_gives_503_naming_it_within_one_ttl(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    ttl = 1.0
    with served(settings_for(chat_db, ttl=ttl)) as client:
        assert client.get("/api/admin/check-db").status_code == 200
        run_sql(f"DROP TABLE {MESSAGES}")
        time.sleep(ttl)
        response = client.get("/api/admin/check-db")
        assert response.status_code == 503
        body = response.json()
        assert body["healthy"] is False
        assert body["critical_issues"] == [f"{MESSAGES}: table is missing (table.missing)"]
        statuses = {t["table"]: t["status"] for t in body["tables"]["critical"]}
        assert statuses == {THREADS: "OK", MESSAGES: "MISSING"}


def test_unreachable_database_gives_503_without_details(chat_db: Target, caplog: pytest.LogCaptureFixture) -> None:
    dead = Target("dead", f"postgresql://app:{PASSWORD}@127.0.0.1:1/chat")
    with caplog.at_level(logging.INFO), served(settings_for(dead)) as client:
        response = client.get("/api/admin/check-db")
        assert response.status_code == 503
        body = response.json()
        assert body["error"] == "database unreachable"
        assert body["healthy"] is False
        assert PASSWORD not in response.text
        assert "127.0.0.1" not in response.text
        page = client.get("/")
        assert page.status_code == 200
        assert "database unreachable" in page.text
        metrics = client.get("/metrics").text
        assert 'pgcontract_checks_total{result="unreachable"}' in metrics
    assert "database unreachable" in caplog.text
    assert PASSWORD not in caplog.text


def test_a_crashing_check_is_a_503_not_a_500_nor_a_trace(chat_db: Target) -> None:
    def crash() -> HealthReport:
        raise RuntimeError(f"password={PASSWORD} internal detail")

    with served(settings_for(chat_db), check=crash) as client:
        response = client.get("/api/admin/check-db")
        assert response.status_code == 503
        assert response.json()["error"] == "health check failed"
        assert "internal detail" not in response.text
        assert PASSWORD not in response.text
        assert "Traceback" not in response.text


def test_concurrent_requests_during_a_refresh_share_one_check(chat_db: Target) -> None:
    contract = load_contract(CHAT_CONTRACT)
    gate = threading.Event()
    checks: list[float] = []

    def gated_check() -> HealthReport:
        checks.append(time.monotonic())
        gate.wait(timeout=30)
        return check_health(chat_db, contract)

    requests = 25
    app = create_app(settings_for(chat_db, ttl=600), gated_check)
    with running(app) as url:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=30) as client:
                pending = [asyncio.ensure_future(client.get("/api/admin/check-db")) for _ in range(requests)]
                await asyncio.sleep(0.5)  # every request is now waiting on the refresh held by the gate
                assert not any(task.done() for task in pending)
                gate.set()
                return list(await asyncio.gather(*pending))

        responses = asyncio.run(burst())
        assert [r.status_code for r in responses] == [200] * requests
        assert len({r.json()["checked_at"] for r in responses}) == 1
        assert len(checks) == 1
        assert app.state.monitor.checks == 1
        metrics = httpx.get(f"{url}/metrics", headers=ADMIN).text
        assert 'pgcontract_checks_total{result="healthy"} 1.0' in metrics


def test_admin_endpoints_need_the_token(chat_db: Target) -> None:
    with served(settings_for(chat_db)) as client:
        for path in ("/api/admin/check-db", "/api/admin/setup-sql", "/", "/metrics"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Token {TOKEN}"}):
                client.headers.pop("Authorization", None)
                response = client.get(path, headers=headers)
                assert response.status_code == 401, (path, headers)
                assert response.headers["www-authenticate"] == CHALLENGE
                assert response.headers["cache-control"] == "no-store"
                assert response.json() == {"error": "unauthorized: send the admin token as a bearer token"}
                assert TOKEN not in response.text
            basic = base64.b64encode(f"admin:{TOKEN}".encode()).decode()
            assert client.get(path, headers={"Authorization": f"Basic {basic}"}).status_code == 200
            assert client.get(path, headers=ADMIN).status_code == 200
        client.headers.pop("Authorization", None)
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").json() == {"status": "ok"}


def basic(user_and_password: bytes) -> str:
    return "Basic " + base64.b64encode(user_and_password).decode()


def test_basic_credentials_that_are_not_base64_or_not_utf8_are_refused_not_a_crash() -> None:
    good = basic(f"admin:{TOKEN}".encode())
    assert token_matches(good, TOKEN)
    # validate=True: a character outside base64 is not skipped over to reach the token.
    assert not token_matches(good[:10] + "!" + good[10:], TOKEN)
    assert not token_matches("Basic %%%", TOKEN)
    assert not token_matches(basic(b"admin:\xff\xfe" + TOKEN.encode()), TOKEN)


def test_the_password_after_the_first_colon_is_the_token_whatever_it_holds() -> None:
    assert token_matches(basic(b"admin:tok:en"), "tok:en")
    assert not token_matches(basic(b"admin:tok:en"), "en")


@pytest.mark.parametrize("token", [TOKEN, "XXXX"])
def test_a_header_without_bearer_or_basic_matches_no_token(token: str) -> None:
    for header in ("", token, f"Token {token}", f"{token} {token}"):
        assert not token_matches(header, token), header


def test_spaces_around_a_bearer_token_are_not_part_of_it() -> None:
    assert token_matches(f"Bearer   {TOKEN} ", TOKEN)
    assert not token_matches(f"Bearer {TOKEN[:3]} {TOKEN[3:]}", TOKEN)


def test_without_a_token_configured_admin_endpoints_are_open(chat_db: Target) -> None:
    with served(settings_for(chat_db, admin_token=None)) as client:
        client.headers.pop("Authorization", None)
        assert client.get("/api/admin/check-db").status_code == 200


def test_setup_sql_is_plain_text_that_creates_a_healthy_schema(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    contract = load_contract(CHAT_CONTRACT)
    with served(settings_for(chat_db)) as client:
        response = client.get("/api/admin/setup-sql")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == setup_sql(contract)
    assert "ENABLE ROW LEVEL SECURITY" in response.text
    assert "CREATE POLICY" in response.text
    run_sql(f"DROP TABLE {MESSAGES}, {THREADS}")
    assert not check_health(chat_db, contract).healthy
    run_sql(response.text)
    report = check_health(chat_db, contract)
    assert report.healthy
    assert not [i for t in report.tables for i in t.issues]


def test_metrics_follow_the_report(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    with served(settings_for(chat_db, ttl=0.2)) as client:
        healthy = client.get("/metrics")
        assert healthy.headers["content-type"].startswith("text/plain")
        assert "pgcontract_healthy 1.0" in healthy.text
        run_sql(f"DROP TABLE {MESSAGES}")
        time.sleep(0.25)
        text = client.get("/metrics").text
    assert "pgcontract_healthy 0.0" in text
    assert f'pgcontract_table_status{{critical="true",status="MISSING",table="{MESSAGES}"}} 1.0' in text
    assert f'pgcontract_table_status{{critical="true",status="OK",table="{THREADS}"}} 1.0' in text
    assert "pgcontract_check_duration_seconds_count" in text
    assert "pgcontract_last_success_timestamp_seconds 1." in text
    assert "pgcontract_critical_issues 1.0" in text


def test_webhook_is_called_on_transitions_only_and_retried(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    receiver = WebhookReceiver(fail_first=1)
    with running(receiver.app) as hook_url:
        settings = settings_for(chat_db, ttl=0.2, webhook_url=f"{hook_url}/hook", webhook_retry_seconds=0.1)
        app = create_app(settings)
        with running(app):
            monitor = app.state.monitor
            assert wait_until(lambda: monitor.checks >= 3)  # healthy, healthy, ...: nothing is sent
            assert receiver.attempts == 0
            run_sql(f"DROP TABLE {MESSAGES}")
            assert wait_until(lambda: len(receiver.received) == 1)
            assert receiver.attempts == 2  # the first delivery failed and was retried
            checks_when_alerted = monitor.checks
            assert wait_until(lambda: monitor.checks >= checks_when_alerted + 3)  # still unhealthy: silence
            assert len(receiver.received) == 1
            run_sql(load_sql_for(MESSAGES))
            assert wait_until(lambda: len(receiver.received) == 2)
            checks_when_alerted = monitor.checks
            assert wait_until(lambda: monitor.checks >= checks_when_alerted + 3)
    down, up = receiver.received
    assert len(receiver.received) == 2
    assert down["healthy"] is False
    assert up["healthy"] is True
    assert down["critical_issues"] == [f"{MESSAGES}: table is missing (table.missing)"]
    assert "UNHEALTHY" in down["text"]
    assert MESSAGES in down["text"]
    assert "healthy again" in up["text"]


def test_an_unreachable_webhook_never_breaks_the_server(
    chat_db: Target, run_sql: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    hook = "http://127.0.0.1:1/hook-secret-path"
    app = create_app(settings_for(chat_db, ttl=0.2, webhook_url=hook, webhook_retry_seconds=0.05))
    with caplog.at_level(logging.INFO), running(app) as url, httpx.Client(base_url=url, headers=ADMIN) as client:
        run_sql(f"DROP TABLE {MESSAGES}")
        assert wait_until(lambda: app.state.notifier.failures >= 3)
        assert client.get("/api/admin/check-db").status_code == 503
        assert client.get("/healthz").status_code == 200
    assert "alert webhook delivery failed (ConnectError); will retry" in caplog.text
    assert "hook-secret-path" not in caplog.text


def load_sql_for(table: str) -> str:
    """The setup SQL's statements for one table (re-creating it after a test dropped it)."""
    contract = load_contract(CHAT_CONTRACT)
    name = QualifiedName.parse(table)
    return "\n".join(render(s) for _, s in table_steps(name, contract.table_map[name]))


def test_a_server_started_on_a_broken_database_alerts_once(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(f"DROP TABLE {MESSAGES}")
    receiver = WebhookReceiver()
    with running(receiver.app) as hook_url:
        app = create_app(settings_for(chat_db, ttl=0.2, webhook_url=f"{hook_url}/hook"))
        with running(app):
            assert wait_until(lambda: app.state.monitor.checks >= 5)
    assert len(receiver.received) == 1
    assert receiver.received[0]["healthy"] is False


def test_setup_sql_not_generated_as_intended_is_a_clear_500_and_the_rest_serves(
    chat_db: Target, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug planted in the DDL generator (one statement more than intended): the endpoint says what is
    wrong, in JSON, without the DSN; the server still starts and answers the health check."""
    original = ddl.with_sections

    def with_a_statement_more(statements: Iterable[tuple[Phase, str]]) -> Iterator[str]:
        yield from original(statements)
        yield "DROP TABLE public.victim;"

    monkeypatch.setattr(ddl, "with_sections", with_a_statement_more)
    target = Target("watcher", psycopg.conninfo.make_conninfo(chat_db.dsn, password=PASSWORD))
    with caplog.at_level(logging.ERROR), served(settings_for(target)) as client:
        response = client.get("/api/admin/setup-sql")
        assert client.get("/api/admin/check-db").status_code == 200
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error.startswith("internal error: the set-up SQL was not generated as intended (generated SQL holds [")
    assert "(23 statements)], not [" in error
    assert "(22 statements)] as intended" in error
    assert error.endswith("no SQL is served. This is a bug in pgcontract: please report it with the contract")
    assert PASSWORD not in response.text
    assert "Traceback" not in response.text
    assert "set-up SQL not served: generated SQL holds [" in caplog.text


def test_the_socket_from_listen_accepts_connections_before_uvicorn_runs() -> None:
    """``pgcontract serve`` prints "serving http://..." between ``listen`` and uvicorn's start (which
    may take a moment, e.g. while a slow target is looked up); a client that connects on that line must
    wait in the backlog, not be refused."""
    sock = listen("127.0.0.1", 0)
    try:
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass
    finally:
        sock.close()
