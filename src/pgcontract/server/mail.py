"""Email alerts: a mail when a target turns unhealthy, and one when it is healthy again (transitions only;
the first report counts as one when it is unhealthy).

Sent with the standard library's ``smtplib`` from one background thread, so a slow or dead SMTP server
never holds up a check or a request: ``observe`` only queues. The connection is upgraded with STARTTLS
(the server's certificate verified) before the password is sent; a server without STARTTLS gets nothing
unless STARTTLS is turned off, which then also forbids a password. A failed mail is tried again a few
times, then dropped; an outage logs one warning (and a line when mail goes through again). The password
is in no log line, message or ``repr``.

Settings come from the environment (``MailSettings.from_env``); see the README's alerts section.
"""

from __future__ import annotations

import logging
import queue
import smtplib
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TypeVar

from pgcontract.health import HealthReport
from pgcontract.names import visible

log = logging.getLogger(__name__)

PREFIX = "PGCONTRACT_SMTP_"
HOST, PORT, USER, PASSWORD = (f"{PREFIX}{n}" for n in ("HOST", "PORT", "USER", "PASSWORD"))
FROM, TO, STARTTLS, CA_FILE, TIMEOUT = (f"{PREFIX}{n}" for n in ("FROM", "TO", "STARTTLS", "CA_FILE", "TIMEOUT"))
DEFAULT_PORT = 587
DEFAULT_TIMEOUT = 10.0
MAX_PENDING = 20
MAX_LISTED = 20

N = TypeVar("N", int, float)


class MailConfigError(ValueError):
    """Email settings that cannot work; the message names the variable, never the password's value."""


@dataclass(frozen=True)
class MailSettings:
    host: str
    sender: str
    recipients: tuple[str, ...]
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    ca_file: Path | None = None  # a CA bundle to verify the server with (a private CA); else the system's
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings | None:
        """The settings in ``env``; None when no ``PGCONTRACT_SMTP_*`` variable is set (no email alerts)."""
        given = {k: v for k, v in env.items() if k.startswith(PREFIX) and v != ""}
        if not given:
            return None
        for name in (HOST, FROM, TO):
            if not given.get(name, "").strip():
                others = ", ".join(sorted(given))
                raise MailConfigError(f"{name} is not set (email alerts need it; set: {others})")
        starttls_value = given.get(STARTTLS, "required").strip().lower()
        if starttls_value not in ("required", "off"):
            raise MailConfigError(f"{STARTTLS} must be 'required' or 'off'")
        starttls = starttls_value == "required"
        user, password = given.get(USER), given.get(PASSWORD)
        if (user is None) != (password is None):
            raise MailConfigError(f"{USER} and {PASSWORD} go together: set both or neither")
        if password is not None and not starttls:
            raise MailConfigError(
                f"{PASSWORD} is set with {STARTTLS}=off: the password would cross the network in clear"
            )
        recipients = tuple(r.strip() for r in given[TO].split(",") if r.strip())
        if not recipients:
            raise MailConfigError(f"{TO} names no recipient")
        ca_file = Path(given[CA_FILE]) if CA_FILE in given else None
        if ca_file is not None and not ca_file.is_file():
            raise MailConfigError(f"{CA_FILE}: {ca_file} is not a file")
        return cls(
            host=given[HOST].strip(),
            sender=given[FROM].strip(),
            recipients=recipients,
            port=_number(given, PORT, int, DEFAULT_PORT, 1, 65535),
            user=user,
            password=password,
            starttls=starttls,
            ca_file=ca_file,
            timeout=_number(given, TIMEOUT, float, DEFAULT_TIMEOUT, 0.1, 600.0),
        )

    def describe(self) -> str:
        """Where mail goes, for the start-up line (no user name, no password)."""
        tls = "STARTTLS" if self.starttls else "no TLS"
        return f"{self.host}:{self.port} ({tls}) to {len(self.recipients)} recipient(s)"


def _number(given: Mapping[str, str], name: str, kind: type[N], default: N, low: N, high: N) -> N:
    if name not in given:
        return default
    try:
        value = kind(given[name].strip())
    except ValueError:
        raise MailConfigError(f"{name} must be a number") from None
    if not low <= value <= high:
        raise MailConfigError(f"{name} must be between {low} and {high}")
    return value


def _one_line(value: str) -> str:
    """A name fit for a mail header: control characters (line breaks too) shown, never obeyed."""
    return visible(value)


def failing_rules(report: HealthReport) -> list[str]:
    """The rules of the critical tables' errors, then of the operations budgets' errors (each a critical
    issue too), in order of first appearance."""
    rules = [i.rule for t in report.tables if t.critical for i in t.issues if i.level == "error"]
    rules += [i.rule for _, i in report.operations if i.level == "error"]
    return list(dict.fromkeys(rules))


def alert_message(
    settings: MailSettings, target: str, report: HealthReport, previous: HealthReport | None, name: str = "pgcontract"
) -> EmailMessage:
    """The mail for a transition to ``report``'s state (``previous``: the last report of the other state)."""
    who = _one_line(target)
    checked = report.to_dict()["checked_at"]
    message = EmailMessage()
    if report.healthy:
        message["Subject"] = f"[{name}] {who}: database healthy again"
        lines = [f"Target {who} is healthy again (checked at {checked})."]
        if previous is not None:
            was = failing_rules(previous) or [previous.error or "unhealthy"]
            lines.append(f"It was failing: {', '.join(was)}.")
    else:
        rules = failing_rules(report)
        shown = ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
        what = report.error or shown or "unhealthy"
        message["Subject"] = f"[{name}] {who}: database UNHEALTHY ({_one_line(what)})"
        lines = [f"Target {who} is UNHEALTHY (checked at {checked}).", ""]
        if rules:
            lines.append(f"Failing rules: {', '.join(rules)}")
        lines.append("Critical issues:")
        lines += [f"  - {visible(issue)}" for issue in report.critical_issues[:MAX_LISTED]]
        more = len(report.critical_issues) - MAX_LISTED
        if more > 0:
            lines.append(f"  ... and {more} more")
    lines += ["", f"Sent by {name} on a change of the health status; no mail follows while it stays the same."]
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="pgcontract.invalid")
    message.set_content("\n".join(lines) + "\n")
    return message


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Deliver one message (raises on any failure). Debug output stays off: it would print the AUTH line."""
    with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        smtp.ehlo()
        if settings.starttls:
            context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user is not None and settings.password is not None:
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)


def _reason(exc: BaseException) -> str:
    """What went wrong, without the server's text (it may quote what was sent)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__} {exc.smtp_code}"
    return type(exc).__name__


class MailNotifier:
    """Queues a mail per health transition of each target; one daemon thread delivers them in order."""

    def __init__(
        self, settings: MailSettings, *, tries: int = 3, retry_seconds: float = 30.0, name: str = "pgcontract"
    ) -> None:
        self.settings = settings
        self.tries = tries
        self.retry_seconds = retry_seconds
        self.name = name
        self.sent = 0
        self.failures = 0  # failed delivery attempts
        self.dropped = 0  # mails given up
        self._last: dict[str, HealthReport] = {}  # each target's last report
        self._other: dict[str, HealthReport] = {}  # each target's last report of the other state
        self._pending: queue.Queue[EmailMessage | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._down = False  # the last delivery failed: the outage was already reported

    def __repr__(self) -> str:
        return f"MailNotifier({self.settings.describe()})"

    def observe(self, report: HealthReport, target: str) -> None:
        """Queue a mail when ``target`` turns healthy <-> unhealthy (or starts unhealthy); never blocks."""
        previous = self._last.get(target)
        self._last[target] = report
        if previous is not None and previous.healthy == report.healthy:
            return
        if previous is not None:
            self._other[target] = previous
        elif report.healthy:
            return
        earlier = self._other.get(target) if report.healthy else None
        if self._pending.qsize() >= MAX_PENDING:
            try:
                self._pending.get_nowait()
                log.warning("email alerts: too many unsent mails; the oldest was dropped")
            except queue.Empty:
                pass
        self._pending.put_nowait(alert_message(self.settings, target, report, earlier, self.name))

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pgcontract-mail", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the mail being sent (a retry's wait is cut short); unsent mails are dropped."""
        self._stop.set()
        self._pending.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self._pending.get()
            if message is None:
                break
            self._deliver(message)

    def _deliver(self, message: EmailMessage) -> None:
        for attempt in range(self.tries):
            if attempt and self._stop.wait(self.retry_seconds * attempt):
                return
            try:
                send(self.settings, message)
            except Exception as exc:  # any failure is logged and retried; none may reach the server
                self.failures += 1
                if not self._down:
                    self._down = True
                    log.warning(
                        "email alert not sent via %s:%s (%s); retrying, further failures are not logged",
                        self.settings.host,
                        self.settings.port,
                        _reason(exc),
                    )
                continue
            self.sent += 1
            if self._down:
                self._down = False
                log.info("email alerts: sent again via %s:%s", self.settings.host, self.settings.port)
            return
        self.dropped += 1
