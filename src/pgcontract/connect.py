"""Targets, safe connection settings, and the one place passwords are removed from anything shown."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

APPLICATION_NAME = "pgcontract"


@dataclass(frozen=True)
class SessionLimits:
    """What every transaction pgcontract opens on a target sets first."""

    statement_timeout: str = "30s"
    lock_timeout: str = "2s"
    application_name: str = APPLICATION_NAME
    connect_timeout: int = 10


DEFAULT_LIMITS = SessionLimits()

# A timeout as PostgreSQL reads one: a number, a unit (default ms) among these, spaces around.
_DURATION = re.compile(r"\s*(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>us|ms|s|min|h|d)?\s*")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0, "d": 86_400_000.0}
_MAX_MS = 2**31 - 1


def pg_duration(text: str) -> str:
    """``text`` if PostgreSQL accepts it as ``statement_timeout`` / ``lock_timeout`` (``30s``, ``200ms``,
    ``1min``, ``0`` for none), else ``ValueError`` saying what is expected."""
    match = _DURATION.fullmatch(text)
    if match is None or float(match["number"]) * _UNIT_MS[match["unit"] or "ms"] > _MAX_MS:
        raise ValueError(
            f"{text!r} is not a PostgreSQL duration: a number with a unit among us, ms, s, min, h, d"
            " (e.g. 30s, 200ms; 0 for no limit), at most 2147483647ms"
        )
    return text


def duration_argument(text: str) -> str:
    """``pg_duration`` as an argparse ``type`` (pgcontract's options and the pytest plugin's): a bad
    value is a usage error before anything connects."""
    try:
        return pg_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


@dataclass(frozen=True)
class Target:
    """A database to check. ``repr`` and ``display`` never show the password."""

    name: str
    dsn: str = field(repr=False)
    throwaway: bool = False

    @property
    def display(self) -> str:
        return redact_dsn(self.dsn)

    def redact(self, text: str) -> str:
        return redact_text(text, self.dsn)

    def __repr__(self) -> str:
        return f"Target(name={self.name!r}, dsn={self.display!r}, throwaway={self.throwaway})"


class CannotConnect(Exception):
    """The target cannot be reached; the message is one line with the password removed."""


class DatabaseBusy(Exception):
    """A lock wait or statement timeout stopped the work on every try (``pgcontract.busy``): one line
    naming the lock holders; nothing was judged."""


_URL_PASSWORD = re.compile(r"(?P<scheme>postgres(?:ql)?://[^:/@\s]*):(?P<password>[^@\s]*)@")
_KV_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _password(dsn: str) -> str | None:
    try:
        return conninfo_to_dict(dsn).get("password")  # type: ignore[return-value]
    except psycopg.ProgrammingError:
        match = _URL_PASSWORD.search(dsn)
        return match.group("password") if match else None


def redact_dsn(dsn: str) -> str:
    """``host:port/dbname user=...`` form of a DSN, password removed; usable in reports and logs."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return redact_text(dsn, dsn)
    params.pop("password", None)
    host = params.pop("host", None) or "localhost"
    port = params.pop("port", None) or "5432"
    dbname = params.pop("dbname", None) or ""
    user = params.pop("user", None)
    shown = f"{host}:{port}/{dbname}"
    if user:
        shown = f"{user}@{shown}"
    return shown


def redact_text(text: str, dsn: str) -> str:
    """Remove the DSN's password (and any password-looking parameter) from a text."""
    secret = _password(dsn)
    if secret:
        text = text.replace(secret, "********")
    text = _URL_PASSWORD.sub(r"\g<scheme>:********@", text)
    return _KV_PASSWORD.sub(r"\g<key>********", text)


def connect(target: Target, limits: SessionLimits = DEFAULT_LIMITS) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, or raise ``CannotConnect`` with one redacted line saying why."""
    try:
        conninfo = make_conninfo(
            target.dsn,
            application_name=limits.application_name,
            connect_timeout=str(limits.connect_timeout),
        )
        return psycopg.connect(conninfo)
    except (psycopg.Error, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise CannotConnect(f"cannot connect to {target.display}: {target.redact(reason)}") from None


def apply_limits(conn: psycopg.Connection[tuple[object, ...]], limits: SessionLimits) -> None:
    """Set the limits for the current transaction only (``is_local``): needs an open transaction."""
    conn.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
        " set_config('application_name', %s, true)",
        (limits.statement_timeout, limits.lock_timeout, limits.application_name),
    )


@contextmanager
def read_only(
    conn: psycopg.Connection[tuple[object, ...]], limits: SessionLimits = DEFAULT_LIMITS
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """One READ ONLY, REPEATABLE READ transaction with the session limits set; always rolled back."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    # Outside autocommit psycopg opens the transaction itself, as BEGIN READ ONLY; under autocommit the
    # transaction-local settings below would silently do nothing. REPEATABLE READ: every query sees the
    # same snapshot, so a read racing a migration sees it before or after, never half done (under READ
    # COMMITTED a table dropped between two catalog queries showed up as present without its keys).
    conn.autocommit = False
    conn.read_only = True
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        apply_limits(conn, limits)
        yield conn
    finally:
        conn.rollback()
