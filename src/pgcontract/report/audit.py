"""The audit trail of every change pgcontract makes to a target (today: ``repair --apply``, the only
command whose writes last), kept in the history store the user chose (``--history`` JSON Lines file or
``--history-dsn`` table) next to check's run summaries.

A repair writes two entries with one ``audit_id``: ``started`` before anything is applied (who, when,
where, which contract, what is about to run and what is held back), and ``finished`` after it, whatever
happened (applied, partly applied, failed, busy, interrupted), with every statement applied, held back
(and why) or failed (and the error). The first write is also the proof that the store takes writes: when
it fails, nothing is applied. A ``started`` entry without its ``finished`` says the process stopped (or the
store failed) during the repair. Every text in an entry passes through the target's redaction: no
password of the target's DSN, whatever a statement or an error message holds.
"""

from __future__ import annotations

import getpass
import html
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from pgcontract import __version__
from pgcontract.connect import (
    UNPARSABLE,
    CannotConnect,
    DsnError,
    SessionLimits,
    Target,
    _shown_dbname,
    parse_dsn,
    read_only,
    redact_dsn,
    redact_text,
)
from pgcontract.names import visible, visible_lines
from pgcontract.report import history

if TYPE_CHECKING:
    from pgcontract.findings import FindingIndex
    from pgcontract.repair import ApplyResult, RepairPlan

COMMAND = "repair --apply"
STARTED, FINISHED = "started", "finished"
UNFINISHED = "unknown: no finished entry (the process stopped, or the store failed, during the repair)"


class AuditUnwritable(Exception):
    """The audit store did not take an entry; the message says which store and why, password removed."""


@dataclass(frozen=True)
class HistoryStore:
    """Where runs and audit entries go: a JSON Lines file, or a table in a database the user names."""

    file: Path | None = None
    dsn: str | None = field(default=None, repr=False)
    table: str = history.DEFAULT_TABLE

    @classmethod
    def of(cls, file: str | None, dsn: str | None, table: str | None) -> HistoryStore | None:
        if not file and not dsn:
            return None
        return cls(Path(file) if file else None, dsn or None, table or history.DEFAULT_TABLE)

    @property
    def display(self) -> str:
        if self.file is not None:
            return str(self.file)
        return f"table {self.table} in {redact_dsn(self.dsn or '')}"

    def redact(self, text: str) -> str:
        return redact_text(text, self.dsn) if self.dsn else text

    def append(self, entries: list[dict[str, Any]]) -> None:
        """``AuditUnwritable`` when the store does not take them."""
        try:
            history.append(entries, file=self.file, dsn=None if self.file else self.dsn, table=self.table)
        except (OSError, CannotConnect, DsnError, psycopg.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
            raise AuditUnwritable(f"{self.display}: {self.redact(reason)}") from None

    def run_entries(self, warn: Callable[[str], None]) -> list[dict[str, Any]]:
        """Every run entry of the store (``pgcontract check --history``); raises like ``audit_entries``."""
        return history.read(file=self.file, dsn=None if self.file else self.dsn, table=self.table, warn=warn)

    def audit_entries(self, warn: Callable[[str], None]) -> list[dict[str, Any]]:
        """Every audit entry of the store (``OSError``, ``CannotConnect`` when it cannot be read)."""
        return history.read(
            file=self.file, dsn=None if self.file else self.dsn, table=self.table, warn=warn, kind=history.AUDIT
        )


def location(dsn: str) -> str:
    """``host:port/dbname`` of a DSN (no user: a repair as one role and a check as another are the same
    database), or the ``<unparsable DSN>`` marker."""
    try:
        parsed = parse_dsn(dsn)
    except DsnError:
        return redact_dsn(dsn)
    return f"{parsed.host or 'localhost'}:{parsed.port or '5432'}/{_shown_dbname(parsed.dbname) or ''}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return f"uid {os.getuid()}"


def who(conn: psycopg.Connection[Any], limits: SessionLimits) -> dict[str, Any]:
    """Who is making the change: the database roles (``current_user`` is whose privileges the statements
    run with; ``session_user`` who logged in), the OS user (and ``$SUDO_USER``) and the machine."""
    with read_only(conn, limits) as ro:
        row = ro.execute("SELECT current_user::text, session_user::text, current_setting('server_version')").fetchone()
    assert row is not None
    found = {
        "database_role": row[0],
        "session_user": row[1],
        "os_user": _os_user(),
        "host": socket.gethostname(),
        "backend_pid": conn.info.backend_pid,
        "server_version": row[2],
    }
    if os.environ.get("SUDO_USER"):
        found["sudo_user"] = os.environ["SUDO_USER"]
    return found


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redacted(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, redact) for k, v in value.items()}
    return value


class AuditTrail:
    """The audit entries of one ``repair --apply``: ``begin`` before applying (``AuditUnwritable`` stops
    the repair), then what happened, then ``finish`` whatever happened."""

    def __init__(self, store: HistoryStore, target: Target, contract: Path, who: dict[str, Any]) -> None:
        from pgcontract.report.summary import contract_digest, git_commit

        self.store = store
        self.target = target
        self.entry: dict[str, Any] = {
            "kind": history.AUDIT,
            "audit_id": str(uuid.uuid4()),
            "command": COMMAND,
            "target": target.name,
            "database": target.display,
            "location": location(target.dsn),
            "who": who,
            "started_at": _now(),
            "pgcontract": __version__,
            "contract": str(contract),
            "contract_sha256": contract_digest(contract) if contract.exists() else None,
            "git_commit": git_commit(contract if contract.is_dir() else contract.parent),
            "applied": [],
            "held": [],
            "failed": [],
            "skipped": [],
            "unfixable": [],
            "error": None,
            "after": None,
        }
        self._stopped: str | None = None
        self._result: ApplyResult | None = None

    def _write(self, stage: str, outcome: str, passed: bool) -> None:
        entry = {**self.entry, "stage": stage, "outcome": outcome, "finished_at": _now(), "passed": passed}
        self.store.append([_redacted(entry, self.target.redact)])

    def begin(self, plan: RepairPlan) -> None:
        """Record what is about to run; ``AuditUnwritable`` if the store does not take it (apply nothing)."""
        self.entry["planned"] = [{"sql": s.sql, "fixes": list(s.serves)} for s in plan.statements]
        self.entry["held"] = [{"sql": h.sql, "reason": h.reason, "fixes": list(h.serves)} for h in plan.held]
        self.entry["unfixable"] = [{"finding": f.id, "message": f.message} for f in plan.unfixable]
        self._write(STARTED, STARTED, False)

    def applied(self, result: ApplyResult) -> None:
        self._result = result
        self.entry["applied"] = [{"sql": s.sql, "fixes": list(s.serves)} for s in result.applied]
        self.entry["failed"] = [{"sql": f.statement, "error": f.error, "left": list(f.left)} for f in result.failures]
        self.entry["skipped"] = [{"sql": s.sql, "fixes": list(s.serves)} for s in result.skipped]

    def checked(self, after: FindingIndex) -> None:
        errors = len(after.errors())
        self.entry["after"] = {"errors_left": errors, "warnings_left": len(after.findings) - errors}

    def stopped(self, outcome: str, error: str) -> None:
        """The repair did not complete: ``failed`` (rolled back), ``busy``, ``interrupted``, ``error``."""
        self._stopped = outcome
        self.entry["error"] = error

    def outcome(self) -> str:
        if self._stopped is not None:
            return self._stopped
        if self._result is None:
            return "error"
        if self._result.failures:
            return "partly applied" if self._result.applied else "failed"
        return "applied" if self._result.applied else "nothing applied"

    def finish(self) -> str | None:
        """Write the finished entry; the reason when the store did not take it (the repair is not undone)."""
        after = self.entry["after"]
        try:
            self._write(FINISHED, self.outcome(), after is not None and after["errors_left"] == 0)
        except AuditUnwritable as exc:
            return str(exc)
        return None


def changes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per repair, oldest first: its finished entry, else its started one (outcome unknown)."""
    by_id: dict[str, dict[str, Any]] = {}
    for entry in entries:
        kept = by_id.get(entry["audit_id"])
        if kept is None or (kept["stage"] != FINISHED and entry["stage"] == FINISHED):
            by_id[entry["audit_id"]] = entry
    return sorted(by_id.values(), key=lambda e: (str(e["started_at"]), str(e["finished_at"])))


def outcome_of(entry: dict[str, Any]) -> str:
    return UNFINISHED if entry.get("stage") != FINISHED else str(entry.get("outcome", "unknown"))


def _items(entry: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = entry.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def who_line(entry: dict[str, Any]) -> str:
    who = entry.get("who") if isinstance(entry.get("who"), dict) else {}
    assert isinstance(who, dict)
    role = f"database role {who.get('database_role', '?')}"
    if who.get("session_user") not in (None, who.get("database_role")):
        role += f" (logged in as {who.get('session_user')})"
    sudo = f" (sudo by {who['sudo_user']})" if who.get("sudo_user") else ""
    return f"{role}, OS user {who.get('os_user', '?')}{sudo} on host {who.get('host', '?')}"


def counts_line(entry: dict[str, Any]) -> str:
    applied, held, failed = (len(_items(entry, k)) for k in ("applied", "held", "failed"))
    if entry.get("stage") != FINISHED:
        applied_text = f"{len(_items(entry, 'planned'))} statement(s) planned"
    else:
        applied_text = f"{applied} statement(s) applied"
    return f"{applied_text}, {held} held back, {failed} failed"


def after_line(entry: dict[str, Any]) -> str | None:
    after = entry.get("after")
    if not isinstance(after, dict):
        return None
    if after.get("errors_left") == 0:
        return "checked again: the database satisfies the contract"
    return f"checked again: errors left: {after.get('errors_left')}"


def summary_line(entry: dict[str, Any]) -> str:
    """One line: when, what, where, by whom, the outcome and the counts (for the report and dashboard)."""
    return (
        f"{entry.get('finished_at')}: {entry.get('command', COMMAND)} on {entry.get('database', entry['target'])}"
        f" by {who_line(entry)}: {outcome_of(entry)} ({counts_line(entry)})"
    )


def statements(entry: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, statement, note) for every statement of a change: applied, failed, held back, skipped."""
    out: list[tuple[str, str, str]] = []
    applied_key = "applied" if entry.get("stage") == FINISHED else "planned"
    for item in _items(entry, applied_key):
        out.append((applied_key, str(item.get("sql", "")), "fixes " + ", ".join(map(str, item.get("fixes", [])))))
    for item in _items(entry, "failed"):
        left = ", ".join(map(str, item.get("left", [])))
        out.append(("failed", str(item.get("sql", "")), f"error: {item.get('error')}; left unfixed: {left}"))
    for item in _items(entry, "held"):
        out.append(("held back", str(item.get("sql", "")), f"why: {item.get('reason')}"))
    for item in _items(entry, "skipped"):
        out.append(("not applied (its fix failed)", str(item.get("sql", "")), ""))
    return out


def _indented(text: str, prefix: str) -> list[str]:
    return [prefix + visible(line) for line in text.split("\n")]


def render(entries: list[dict[str, Any]], last: int = 10) -> str:
    """The last ``last`` changes, oldest first, as a person reads them."""
    shown = changes(entries)[-last:] if last > 0 else []
    if not shown:
        return "no changes recorded"
    blocks = []
    for entry in shown:
        lines = [
            visible(
                f"{entry['started_at']}  {entry.get('command', COMMAND)}  {entry['target']}"
                f" ({entry.get('database', '?')})  {outcome_of(entry)}"
            ),
            visible(f"  who: {who_line(entry)}"),
            visible(f"  contract: {entry.get('contract', '?')} (sha256 {entry.get('contract_sha256') or 'unknown'})"),
            visible(f"  finished: {entry['finished_at']}; {counts_line(entry)}"),
        ]
        if entry.get("error"):
            lines.append(visible(f"  error: {entry['error']}"))
        for what, sql_text, note in statements(entry):
            lines.append(f"  {what}:")
            lines += _indented(sql_text, "    ")
            if note:
                lines += _indented(note, "      ")
        if after_line(entry):
            lines.append(f"  {after_line(entry)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def last_change(
    store: HistoryStore, dsn: str | None, warn: Callable[[str], None], database: str | None = None
) -> dict[str, Any] | None:
    """The latest change recorded for the database of ``dsn`` (by host, port and database), or of a run's
    ``database`` (``user@host:port/dbname``: a summary carries no DSN)."""
    where = location(dsn) if dsn is not None else None
    mine = [
        e
        for e in store.audit_entries(warn)
        if (where is not None and e.get("location") == where)
        or (database is not None and same_database(database, e.get("location")))
    ]
    found = changes(mine)
    return found[-1] if found else None


def same_database(display: object, where: object) -> bool:
    """Whether a run's ``database`` (``user@host:port/dbname``) is the database at ``where``
    (``host:port/dbname``, as ``location`` gives it); a user name may itself hold an '@'."""
    return isinstance(display, str) and isinstance(where, str) and (display == where or display.endswith(f"@{where}"))


def recorded_runs(store: HistoryStore, dsn: str, last: int, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """The last ``last`` runs recorded for the database of ``dsn`` (by host, port and database, whatever
    the role or target name of the check), oldest first; ``OSError``, ``CannotConnect`` when the store
    cannot be read."""
    where = location(dsn)
    if where == UNPARSABLE or last <= 0:
        return []

    mine = [e for e in store.run_entries(warn) if same_database(e.get("database"), where)]
    return sorted(mine, key=lambda e: str(e["finished_at"]))[-last:]


@dataclass(frozen=True)
class LastChange:
    """The last change recorded for a target, for the HTML report and the dashboard."""

    entry: dict[str, Any] | None  # None: nothing recorded for this database
    unreadable: str | None = None  # why the store could not be read (the password removed)


def read_last_change(
    store: HistoryStore, dsn: str | None, warn: Callable[[str], None], database: str | None = None
) -> LastChange:
    """``last_change``, or why the store could not be read: a report or a page must not fail for it."""
    try:
        return LastChange(last_change(store, dsn, warn, database))
    except (OSError, CannotConnect, DsnError, psycopg.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())
        return LastChange(None, f"{store.display}: {store.redact(reason)}")


class LastChangeReader:
    """``read_last_change`` for a page asked for again and again (the dashboard): a history file is read
    again only when it has changed (another size, modification time or inode: appended to, rewritten or
    replaced), not on every request; a table is read each time (one query)."""

    def __init__(self, store: HistoryStore, dsn: str, warn: Callable[[str], None]) -> None:
        self.store, self.dsn, self.warn = store, dsn, warn
        self._read: tuple[tuple[int, int, int], LastChange] | None = None

    def _state(self) -> tuple[int, int, int] | None:
        if self.store.file is None:
            return None
        try:
            found = self.store.file.stat()
        except OSError:  # missing or unreadable: read_last_change says so
            return None
        return found.st_ino, found.st_size, found.st_mtime_ns

    def __call__(self) -> LastChange:
        state = self._state()  # taken before the read: a write during it makes the next request read again
        read = self._read
        if state is not None and read is not None and read[0] == state:
            return read[1]
        change = read_last_change(self.store, self.dsn, self.warn)
        if state is not None:
            self._read = (state, change)
        return change


def _html(value: object) -> str:
    return html.escape(visible_lines(str(value)))


def last_change_html(change: LastChange, heading: str = "Last change") -> str:
    """A section saying when, by whom and how the target was last changed, with every statement; every
    text escaped (the store is a file anyone with access may have edited)."""
    if change.unreadable is not None:
        body = f"<p>unknown: the history store could not be read ({_html(change.unreadable)})</p>"
        outcome = "unknown"
    elif change.entry is None:
        body = "<p>no change by pgcontract recorded for this database</p>"
        outcome = "none"
    else:
        entry = change.entry
        outcome = outcome_of(entry)
        rows = "".join(
            f"<tr><td>{_html(what)}</td><td><pre>{_html(sql_text)}</pre></td><td>{_html(note)}</td></tr>"
            for what, sql_text, note in statements(entry)
        )
        after = after_line(entry)
        body = (
            f"<p>{_html(summary_line(entry))}</p>"
            + (f"<p>{_html(after)}</p>" if after else "")
            + (f"<p>error: {_html(entry['error'])}</p>" if entry.get("error") else "")
            + (f"<details><summary>statements</summary><table>{rows}</table></details>" if rows else "")
        )
    return f'<section class="last-change" data-outcome="{_html(outcome)}"><h2>{_html(heading)}</h2>{body}</section>'
