"""Email alerts through a real local SMTP server (aiosmtpd) that requires STARTTLS (a self-signed
certificate made here with openssl) and AUTH: one mail per health transition, naming the target and the
failing rules, never the password; a dead SMTP server neither blocks the health API nor the checks."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import port_for
import psycopg
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from pgcontract.cli import named_target
from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.health import UNREACHABLE, failed_report
from pgcontract.server import ServeSettings, create_app
from pgcontract.server.mail import MailConfigError, MailSettings, alert_message
from project_tests.helpers import CHAT_CONTRACT, ROOT, run_cli
from project_tests.serving import TOKEN, running, wait_until
from project_tests.test_server import MESSAGES, load_sql_for

USER = "alerts@example.test"
PASSWORD = "Smtp-Pa55-7f3a9c"
TARGET = "billing-eu"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Inbox:
    """aiosmtpd handler: keeps each accepted message with whether its session was encrypted and signed in."""

    messages: list[Message] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    sessions: list[tuple[bool, bool]] = field(default_factory=list)  # (tls, authenticated)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        self.raw.append(content)
        self.messages.append(message_from_bytes(content))
        self.sessions.append((session.ssl is not None, bool(session.authenticated)))
        return "250 OK"


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok)


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (its key beside it), made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the SMTP server's certificate")
    cert, key = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert), "-addext", "subjectAltName=IP:127.0.0.1",
         "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert


@pytest.fixture
def smtp_server(certificate: Path) -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on a free loopback port: STARTTLS required, AUTH required (only over TLS)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, certificate.with_suffix(".key"))
    inbox = Inbox()
    port = port_for.select_random()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(port: int, ca_file: Path | None, timeout: float = 10.0) -> MailSettings:
    return MailSettings(
        host="127.0.0.1",
        port=port,
        sender="pgcontract@example.test",
        recipients=("oncall@example.test", "dba@example.test"),
        user=USER,
        password=PASSWORD,
        ca_file=ca_file,
        timeout=timeout,
    )


def settings_for(target: Target, mail: MailSettings, **overrides: Any) -> ServeSettings:
    return ServeSettings(
        target=target,
        contract=load_contract(CHAT_CONTRACT),
        admin_token=TOKEN,
        mail=mail,
        **overrides,
    )


def test_one_mail_per_transition_through_starttls_and_auth(
    chat_db: Target,
    run_sql: Callable[[str], None],
    smtp_server: tuple[Inbox, int],
    certificate: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox, port = smtp_server
    target = Target(TARGET, chat_db.dsn)
    app = create_app(settings_for(target, mail_settings(port, certificate), ttl=0.2))
    with caplog.at_level(logging.DEBUG), running(app):
        monitor = app.state.monitor
        assert wait_until(lambda: monitor.checks >= 2)  # healthy from the start: nothing to say
        run_sql(f"DROP TABLE {MESSAGES}")
        assert wait_until(lambda: len(inbox.messages) == 1)
        broken_at = monitor.checks
        assert wait_until(lambda: monitor.checks >= broken_at + 2)  # still broken, checked twice more
        run_sql(load_sql_for(MESSAGES))
        assert wait_until(lambda: len(inbox.messages) == 2)
        fixed_at = monitor.checks
        assert wait_until(lambda: monitor.checks >= fixed_at + 2)
        time.sleep(0.3)  # a mail queued by the last check would be on its way by now
    assert len(inbox.messages) == 2
    assert inbox.sessions == [(True, True), (True, True)]  # each over STARTTLS, signed in
    down, up = inbox.messages
    assert down["Subject"] == f"[pgcontract] {TARGET}: database UNHEALTHY (table.missing)"
    down_body = str(down.get_payload())
    assert TARGET in down_body
    assert "Failing rules: table.missing" in down_body
    assert f"{MESSAGES}: table is missing (table.missing)" in down_body
    assert down["To"] == "oncall@example.test, dba@example.test"
    assert up["Subject"] == f"[pgcontract] {TARGET}: database healthy again"
    up_body = str(up.get_payload())
    assert TARGET in up_body
    assert "It was failing: table.missing." in up_body
    assert app.state.mailer.sent == 2
    for raw in inbox.raw:
        assert PASSWORD.encode() not in raw
    assert PASSWORD not in caplog.text
    assert "email alert not sent" not in caplog.text


def test_a_dead_smtp_server_blocks_neither_the_health_api_nor_the_checks(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    """A port that accepts connections and never answers: every send waits for its full timeout."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as silent:
        port = silent.getsockname()[1]
        run_sql(f"DROP TABLE {MESSAGES}")  # unhealthy from the first check: a mail is due at once
        app = create_app(settings_for(chat_db, mail_settings(port, None, timeout=4.0), ttl=0.2))
        with running(app) as url, httpx.Client(base_url=url, headers=ADMIN, timeout=30) as client:
            monitor = app.state.monitor
            assert wait_until(lambda: monitor.checks >= 1)
            started_checks = monitor.checks
            timings = []
            for _ in range(10):
                start = time.perf_counter()
                response = client.get("/api/admin/check-db")
                timings.append(time.perf_counter() - start)
                assert response.status_code == 503
                assert client.get("/healthz").status_code == 200
                time.sleep(0.1)
            assert app.state.mailer.sent == 0
            assert monitor.checks >= started_checks + 3  # the checks went on while the mail hung
            assert app.state.mailer.failures == 0  # still waiting on the silent server
    assert max(timings) < 1.0, timings


def test_a_refused_smtp_port_logs_one_warning_and_the_server_goes_on(
    chat_db: Target, run_sql: Callable[[str], None], caplog: pytest.LogCaptureFixture
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again below: connections are refused
    settings = settings_for(chat_db, mail_settings(port, None), ttl=0.2, mail_retry_seconds=0.05)
    app = create_app(settings)
    with caplog.at_level(logging.INFO), running(app) as url, httpx.Client(base_url=url, headers=ADMIN) as client:
        run_sql(f"DROP TABLE {MESSAGES}")
        assert wait_until(lambda: app.state.mailer.dropped >= 1)
        run_sql(load_sql_for(MESSAGES))
        assert wait_until(lambda: app.state.mailer.dropped >= 2)  # the recovery mail failed too
        assert client.get("/api/admin/check-db").status_code == 200
        assert client.get("/healthz").status_code == 200
    assert app.state.mailer.failures == 6  # three tries for each of the two mails
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "email alert" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "ConnectionRefusedError" in warnings[0].getMessage()
    assert PASSWORD not in caplog.text


def test_settings_come_from_the_environment_and_never_show_the_password(tmp_path: Path) -> None:
    env = {
        "PGCONTRACT_SMTP_HOST": "smtp.example.test",
        "PGCONTRACT_SMTP_PORT": "2525",
        "PGCONTRACT_SMTP_USER": USER,
        "PGCONTRACT_SMTP_PASSWORD": PASSWORD,
        "PGCONTRACT_SMTP_FROM": "pgcontract@example.test",
        "PGCONTRACT_SMTP_TO": "a@example.test, b@example.test",
    }
    settings = MailSettings.from_env(env)
    assert settings is not None
    assert (settings.host, settings.port, settings.starttls) == ("smtp.example.test", 2525, True)
    assert settings.recipients == ("a@example.test", "b@example.test")
    assert PASSWORD not in repr(settings)
    assert MailSettings.from_env({}) is None
    with pytest.raises(MailConfigError, match="in clear") as clear:
        MailSettings.from_env({**env, "PGCONTRACT_SMTP_STARTTLS": "off"})
    with pytest.raises(MailConfigError, match="PGCONTRACT_SMTP_TO is not set") as no_to:
        MailSettings.from_env({k: v for k, v in env.items() if k != "PGCONTRACT_SMTP_TO"})
    with pytest.raises(MailConfigError, match="'required' or 'off'"):
        MailSettings.from_env({**env, "PGCONTRACT_SMTP_STARTTLS": "maybe"})
    for raised in (clear, no_to):
        assert PASSWORD not in str(raised.value)
    # serve refuses such settings before it starts anything, without echoing the password
    result = run_cli("serve", "--contract", str(CHAT_CONTRACT), env={**env, "PGCONTRACT_SMTP_STARTTLS": "off"})
    assert result.returncode == 2
    assert "email alerts: PGCONTRACT_SMTP_PASSWORD is set with PGCONTRACT_SMTP_STARTTLS=off" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_a_hostile_target_name_cannot_add_mail_headers() -> None:
    contract = load_contract(CHAT_CONTRACT)
    report = failed_report(contract, UNREACHABLE, "", datetime.now(UTC), 0.0)
    message = alert_message(mail_settings(25, None), "eu\r\nBcc: thief@example.test", report, None)
    raw = message.as_bytes()
    assert b"\nBcc:" not in raw
    assert message["Bcc"] is None
    assert "eu\\x0d\\x0aBcc: thief@example.test" in str(message["Subject"])
    assert PASSWORD.encode() not in raw


def unfolded(header: object) -> str:
    """A header as it reads: a long one is folded onto more lines (RFC 5322), the line breaks not part of it."""
    return "".join(str(header).splitlines()).strip()


def test_pgcontract_serve_mails_a_budget_breach_once_and_its_recovery_once(
    chat_db: Target, smtp_server: tuple[Inbox, int], certificate: Path, tmp_path: Path
) -> None:
    """`pgcontract serve` as an operator runs it (budgets in the contract file, mail settings in the
    environment): a session left idle in a transaction past the budget turns the health API to 503 and
    sends one mail, however many checks see it; its end sends one recovery mail."""
    inbox, port = smtp_server
    contract = yaml.safe_load(CHAT_CONTRACT.read_text(encoding="utf-8"))
    contract["operations"] = {"idle_in_transaction": {"warning": "300ms", "error": "600ms"}}
    contract_file = tmp_path / "contract.yaml"
    contract_file.write_text(yaml.safe_dump(contract), encoding="utf-8")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PGCONTRACT_DSN", "DATABASE_URL")},
        "PGCONTRACT_ADMIN_TOKEN": TOKEN,
        "PGCONTRACT_SMTP_HOST": "127.0.0.1",
        "PGCONTRACT_SMTP_PORT": str(port),
        "PGCONTRACT_SMTP_USER": USER,
        "PGCONTRACT_SMTP_PASSWORD": PASSWORD,
        "PGCONTRACT_SMTP_FROM": "pgcontract@example.test",
        "PGCONTRACT_SMTP_TO": "oncall@example.test",
        "PGCONTRACT_SMTP_CA_FILE": str(certificate),
    }
    http_port = port_for.select_random()
    command = [
        str(Path(sys.executable).parent / "pgcontract"), "serve", "--dsn", chat_db.dsn,
        "--contract", str(contract_file), "--port", str(http_port), "--ttl", "0.3",
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    url = f"http://127.0.0.1:{http_port}"

    def status() -> int | None:
        try:
            return httpx.get(f"{url}/api/admin/check-db", headers=ADMIN, timeout=5).status_code
        except httpx.TransportError:
            return None

    try:
        assert wait_until(lambda: status() == 200, timeout=90), log.read_text(encoding="utf-8")
        time.sleep(1.0)  # healthy for several checks: nothing to say
        assert inbox.messages == []
        with psycopg.connect(chat_db.dsn) as idle:
            idle.execute("SELECT 1")  # a transaction left open
            pid = idle.info.backend_pid
            assert wait_until(lambda: status() == 503)
            assert wait_until(lambda: len(inbox.messages) == 1)
            breached = httpx.get(f"{url}/api/admin/check-db", headers=ADMIN, timeout=5).json()
            time.sleep(1.5)  # still breached, checked several times more: no second mail
            assert len(inbox.messages) == 1
            idle.rollback()
        assert wait_until(lambda: status() == 200)
        assert wait_until(lambda: len(inbox.messages) == 2)
        time.sleep(1.0)  # healthy again for several checks: nothing more
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    stderr = log.read_text(encoding="utf-8")
    assert len(inbox.messages) == 2, [m["Subject"] for m in inbox.messages]
    assert breached["critical_issues"] == [breached["critical_issues"][0]]
    assert breached["critical_issues"][0].startswith(f"pid {pid}: ")
    assert breached["critical_issues"][0].endswith("(ops.idle_in_transaction)")
    down, up = inbox.messages
    # Named as `check` names it: unnamed, dbname@host of the DSN.
    assert unfolded(down["Subject"]) == "[pgcontract] tests@127.0.0.1: database UNHEALTHY (ops.idle_in_transaction)"
    down_body = str(down.get_payload())
    assert "Failing rules: ops.idle_in_transaction" in down_body
    assert f"pid {pid}: session {pid}" in down_body
    assert unfolded(up["Subject"]) == "[pgcontract] tests@127.0.0.1: database healthy again"
    assert "It was failing: ops.idle_in_transaction." in str(up.get_payload())
    assert inbox.sessions == [(True, True), (True, True)]
    for raw in inbox.raw:
        assert PASSWORD.encode() not in raw
    assert PASSWORD not in stderr
    assert "email alert not sent" not in stderr


@pytest.mark.parametrize(
    ("dsns", "name"),
    [
        (["shop-eu=postgresql://app:s3cret@db.example.test:5432/shop"], "shop-eu"),
        (["postgresql://app:s3cret@db.example.test:5432/shop"], "shop@db.example.test"),
        (None, "shop@db.example.test"),  # from $PGCONTRACT_DSN or $DATABASE_URL
    ],
    ids=["named", "unnamed", "from-the-environment"],
)
def test_serve_names_its_target_as_check_does(dsns: list[str] | None, name: str) -> None:
    """The name alerts carry: NAME of --dsn NAME=..., else dbname@host, never the password."""
    given = Target("target", "postgresql://app:s3cret@db.example.test:5432/shop")
    assert named_target(dsns, given) == Target(name, given.dsn)
