"""Targets, safe connection settings, and the one place passwords are removed from anything shown."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import unquote

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


class DsnError(ValueError):
    """A DSN that is not PostgreSQL's or that libpq cannot read unambiguously. The message says where it
    came from and what is wrong, and never quotes the DSN (any part of it may be the password)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


UNPARSABLE = "<unparsable DSN>"
SCHEMES = ("postgresql", "postgres")
_SCHEME = re.compile(r"\s*(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# Text of unknown origin: a URL's user info up to its last '@', a password=value pair.
_URL_PASSWORD = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):(?P<password>\S*)@")
_KV_PASSWORD = re.compile(r"(?P<key>\bpassword\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_TOKEN = re.compile(r"[^\s@:/?&=,'\"]+")
_MASK = "********"


@dataclass(frozen=True)
class ParsedDsn:
    """What libpq read from a DSN. ``conninfo`` is the DSN as libpq takes it (the scheme in lower case)."""

    conninfo: str = field(repr=False)
    host: str | None
    port: str | None
    user: str | None
    dbname: str | None
    password: str | None = field(repr=False)


def parse_dsn(dsn: str, where: str = "DSN") -> ParsedDsn:
    """Read a DSN the way libpq will, or raise ``DsnError``: a scheme other than ``postgresql://`` or
    ``postgres://`` (in any case), a URL with more than one '@' or an '@' after a '/' (an unencoded
    '@' or '/' in the password, which libpq would read as host, port or database), or text libpq
    cannot parse (its own message quotes the DSN, so it is not passed on)."""
    url = _SCHEME.match(dsn)
    if url is not None:
        scheme = url.group("scheme")
        if scheme.lower() not in SCHEMES:
            raise DsnError(where, _foreign(scheme))
        rest = dsn[url.end() :]
        at = rest.find("@")
        if rest.count("@") > 1 or "/" in rest[: max(at, 0)]:
            raise DsnError(
                where,
                "cannot tell the password from the host (more than one '@', or an '@' after a '/'):"
                " percent-encode '@' as %40, '/' as %2F and '%' as %25 in the user name and password",
            )
        conninfo = f"{scheme.lower()}://{rest}"
    else:
        conninfo = dsn
    try:
        params = conninfo_to_dict(conninfo)
    except (psycopg.Error, ValueError):
        raise DsnError(
            where,
            "not a postgresql:// URL libpq can read (percent-encode '%', '@', '/' and spaces in the password)"
            if url is not None
            else "neither a postgresql:// URL nor key=value pairs libpq can read"
            " (put a value with spaces in single quotes)",
        ) from None

    def part(key: str) -> str | None:
        value = params.get(key)
        return str(value) if value not in (None, "") else None

    return ParsedDsn(conninfo, part("host"), part("port"), part("user"), part("dbname"), part("password"))


def _foreign(scheme: str) -> str:
    if len(scheme) > 40:
        return "the URL's scheme is not PostgreSQL's: use postgresql://user:password@host:port/dbname"
    hint = " (drop the driver suffix: libpq takes postgresql://)" if "+" in scheme else ""
    return f"scheme {scheme!r} is not PostgreSQL's: use postgresql://user:password@host:port/dbname{hint}"


def checked_dsn(dsn: str, where: str) -> str:
    """The DSN as libpq takes it, or ``DsnError`` saying what is wrong (for every DSN a user gives)."""
    return parse_dsn(dsn, where).conninfo


def _shown_dbname(value: str | None) -> str | None:
    # libpq reads a database name holding '=' or a URL as a connection string, which may carry a password:
    # that is not a name libpq proved to be the database. Host, port and user are never expanded.
    return "?" if value is not None and ("://" in value or "=" in value) else value


def redact_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` from what libpq read of a DSN, or ``<unparsable DSN>``: never any other
    part of the text given, which may hold the password wherever libpq did not find it."""
    try:
        parsed = parse_dsn(dsn)
    except DsnError:
        return UNPARSABLE
    shown = f"{parsed.host or 'localhost'}:{parsed.port or '5432'}/{_shown_dbname(parsed.dbname) or ''}"
    user = parsed.user
    return f"{user}@{shown}" if user else shown


def _secrets(dsn: str) -> list[str]:
    """Every text a DSN's password may appear as: the password read by libpq and as written; when libpq
    cannot read the DSN, every token of it but the scheme, since any of them may be the password."""
    try:
        parsed = parse_dsn(dsn)
    except DsnError:
        url = _SCHEME.match(dsn)
        scheme = url.group("scheme") if url else None
        return [t for t in _TOKEN.findall(dsn) if t != scheme]
    found = [parsed.password] if parsed.password else []
    for written in (m.group("password") for m in _URL_PASSWORD.finditer(parsed.conninfo)):
        found += [written, unquote(written)]
    for written in (m.group("value") for m in _KV_PASSWORD.finditer(dsn)):
        found += [written, written.strip("'")]
    return [s for s in found if s]


def _scrub(text: str, secret: str) -> str:
    if len(secret) >= 4:
        return text.replace(secret, _MASK)
    # A short secret is masked only as a whole word: masking every 'p' leaves nothing readable.
    edge = r"[A-Za-z0-9_%.+-]"
    return re.sub(rf"(?<!{edge}){re.escape(secret)}(?!{edge})", _MASK, text)


def redact_text(text: str, dsn: str) -> str:
    """Remove a DSN and its password (and any password-looking part) from a text, whether or not libpq
    can read the DSN."""
    if dsn.strip():
        text = text.replace(dsn, redact_dsn(dsn))
    for secret in sorted(set(_secrets(dsn)), key=len, reverse=True):
        text = _scrub(text, secret)
    text = _URL_PASSWORD.sub(rf"\g<scheme>:{_MASK}@", text)
    return _KV_PASSWORD.sub(rf"\g<key>{_MASK}", text)


def connect(target: Target, limits: SessionLimits = DEFAULT_LIMITS) -> psycopg.Connection[tuple[object, ...]]:
    """Open a connection, or raise ``CannotConnect`` with one redacted line saying why."""
    try:
        # libpq is never handed a DSN it would misread: its errors would quote it, password included.
        conninfo = make_conninfo(
            parse_dsn(target.dsn).conninfo,
            application_name=limits.application_name,
            connect_timeout=str(limits.connect_timeout),
        )
        return psycopg.connect(conninfo)
    except DsnError as exc:
        raise CannotConnect(f"cannot connect to {target.display}: {exc.reason}") from None
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
