"""One target's state during a suite run: the database (a throwaway server is started on first use),
its snapshot, findings, lints and isolation session, each computed once and kept for the reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from pgcontract.busy import BLOCKS_WRITE, read_catalog, retry_busy
from pgcontract.catalog import Snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import CannotConnect, DatabaseBusy, SessionLimits, Target, connect
from pgcontract.contract import Contract
from pgcontract.findings import Finding, FindingIndex, Kind
from pgcontract.lints import run_lints
from pgcontract.names import QualifiedName
from pgcontract.ops.budgets import OpsResult, Previous, operations_result
from pgcontract.report import history

if TYPE_CHECKING:  # imported where used: a check of a DSN without --rls-live needs none of them
    from pgcontract.readahead import ReadAhead
    from pgcontract.rls.erasure import ErasureOutcome
    from pgcontract.rls.matrix import IsolationSession, Outcome

EXIT_CONTRACT_ERROR = 2
EXIT_CANNOT_CONNECT = 3
EXIT_BUSY = 4
# Targets whose catalogs are read at once (``--concurrency``): one connection each while it is read.
DEFAULT_CONCURRENCY = 16


class TargetUnreachable(Exception):
    """A target of several cannot be reached: its tests fail (once) or skip, the others go on."""


class TargetBusy(TargetUnreachable):
    """A target of several was too busy to read (``DatabaseBusy``): reported like an unreachable one."""


@dataclass(frozen=True)
class RunSettings:
    sql_dir: Path
    limits: SessionLimits
    rls_live: bool
    several_targets: bool
    xdist_worker: bool = False  # a pytest-xdist worker cannot stop the run (pytest.exit)
    # Where runs are recorded (--history, --history-dsn): the previous run's statements, for regressions.
    history_file: Path | None = None
    history_dsn: str | None = None
    history_table: str = history.DEFAULT_TABLE


class TargetRun:
    def __init__(self, name: str, given: Target | None, contract: Contract, settings: RunSettings) -> None:
        self.name = name
        self.given = given
        self.contract = contract
        self.settings = settings
        self._stack = ExitStack()
        self._target: Target | None = None
        self._snapshot: Snapshot | None = None
        self._findings: FindingIndex | None = None
        self._lints: FindingIndex | None = None
        self._operations: OpsResult | None = None
        self._isolation: IsolationSession | None = None
        self.outcomes: dict[str, Outcome] = {}
        self.erasure_outcome: ErasureOutcome | None = None
        self.sequences_advanced: list[str] = []  # on a real database (--rls-live): see IsolationSession
        self.display = given.display if given is not None else "embedded"
        self.critical_tables = frozenset(str(n) for n, t in contract.table_map.items() if t.critical)
        self.unreachable: str | None = None
        self.unreachable_reported = False
        self.busy: str | None = None
        self.read_ahead: ReadAhead | None = None  # this target's catalog read, started by `pgcontract check`

    def target(self) -> Target:
        if self._target is None:
            given = self.given
            if given is None:
                from pgcontract.embedded import LoadError, embedded

                auth = self.contract.auth
                supabase = auth is None or auth.mode == "supabase"
                try:
                    given = self._stack.enter_context(embedded(self.settings.sql_dir, supabase=supabase))
                except LoadError as exc:
                    pytest.exit(f"cannot load the throwaway database: {exc}", returncode=EXIT_CONTRACT_ERROR)
            self._target = given
        return self._target

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            if self.unreachable is not None:
                raise TargetUnreachable(self.unreachable)
            if self.busy is not None:
                raise TargetBusy(self.busy)
            ahead, self.read_ahead = self.read_ahead, None
            if ahead is not None:
                try:
                    self._snapshot = ahead.result()
                except DatabaseBusy as exc:
                    self.gave_up(exc)
                return self._snapshot
            try:
                conn = connect(self.target(), self.settings.limits)
            except CannotConnect as exc:
                if not self.settings.several_targets:
                    pytest.exit(str(exc), returncode=EXIT_CANNOT_CONNECT)
                self.unreachable = f"target {self.name}: {exc}"
                raise TargetUnreachable(self.unreachable) from None
            with conn:
                try:
                    self._snapshot = read_catalog(
                        conn, self.contract.schemas, self.settings.limits, self.contract.operations
                    )
                except DatabaseBusy as exc:
                    self.gave_up(exc)
        return self._snapshot

    def prepare(self, findings: bool, lints: bool) -> None:
        """What the target's static tests read, computed ahead of them in a worker thread of
        ``prepare_all``: the catalog read (one connection, closed after it), then the checks and the lints
        when tests need them. A failure is left for the tests to meet as they would without: an
        unreachable or busy target is recorded here and raised to its first test; anything else is
        computed again, and raised, by the test that needs it."""
        try:
            self.snapshot()
            if findings:
                self.findings()
            if lints:
                self.lints()
        except Exception:  # the test that needs it raises it again, in its report
            pass

    def gave_up(self, exc: DatabaseBusy) -> NoReturn:
        """A lock or timeout is no verdict: the run stops with one line (exit 4); with several targets, or
        in a pytest-xdist worker (which cannot stop the run), this target's tests fail once or skip, and
        the run's exit code is 4 all the same (``report.summary``)."""
        self.busy = f"target {self.name}: {exc}" if self.settings.several_targets else str(exc)
        if not (self.settings.several_targets or self.settings.xdist_worker):
            pytest.exit(self.busy, returncode=EXIT_BUSY)
        raise TargetBusy(self.busy) from None

    def findings(self) -> FindingIndex:
        if self._findings is None:
            self._findings = run_checks(self.contract, self.snapshot(), self.previous_statements())
        return self._findings

    def operations(self) -> OpsResult | None:
        """The operations budgets' result (values and the statements for the next run), once computed."""
        if self._operations is None and self._snapshot is not None:
            self._operations = operations_result(self.contract, self._snapshot, self.previous_statements())
        return self._operations

    def previous_statements(self) -> Previous | None:
        """The statements of this target's last recorded run ({} when none is); None without a history."""
        budgets = self.contract.operations
        if budgets is None or budgets.statements_regression is None:
            return None
        settings = self.settings
        if settings.history_file is None and settings.history_dsn is None:
            return None
        try:
            entries = history.read(file=settings.history_file, dsn=settings.history_dsn, table=settings.history_table)
        except (CannotConnect, OSError):
            return None
        recorded = [e for e in entries if e["target"] == self.name and isinstance(e.get("statements"), dict)]
        return recorded[-1]["statements"] if recorded else {}

    def lints(self) -> FindingIndex:
        if self._lints is None:
            self._lints = FindingIndex(run_lints(self.snapshot(), self.contract))
        return self._lints

    def isolation(self, subject: str) -> Outcome:
        """The isolation matrix of one table (dynamic: writes test rows in a transaction rolled back)."""
        from pgcontract.rls.matrix import ImpersonationFailed, not_testable
        from pgcontract.rls.values import SeedError

        target = self.target()
        reason = not_testable(self.contract, self.snapshot(), QualifiedName.parse(subject))
        if reason is not None:
            pytest.skip(reason)
        if not (target.throwaway or self.settings.rls_live):
            pytest.skip(
                f"dynamic RLS tests write test rows (always rolled back): pass --rls-live to run them on "
                f"{target.display}"
            )
        session = self.isolation_session()
        try:
            # Once: the isolation tests share one transaction, which a retry would have to start over.
            outcome = retry_busy(
                session.conn,
                lambda: session.run(QualifiedName.parse(subject)),
                doing=f"running the isolation tests of {subject}",
                limits=self.settings.limits,
                modes=BLOCKS_WRITE,
                schemas=self.contract.schemas,
                tries=1,
            )
        except DatabaseBusy as exc:
            self.gave_up(exc)
        except (SeedError, ImpersonationFailed) as exc:
            pytest.fail(f"cannot run the isolation matrix of {subject}: {exc}", pytrace=False)
        finally:
            if not target.throwaway:
                self.sequences_advanced = session.sequence_columns()
        self.outcomes[subject] = outcome
        return outcome

    def erasure(self) -> ErasureOutcome:
        """The erasure proof (dynamic: a user and rows of that user, deleted, in a transaction rolled back)."""
        from pgcontract.rls.erasure import run_erasure
        from pgcontract.rls.matrix import ImpersonationFailed
        from pgcontract.rls.values import SeedError

        target = self.target()
        if not (target.throwaway or self.settings.rls_live):
            pytest.skip(
                f"the erasure proof writes test rows and deletes a test user (always rolled back): pass --rls-live "
                f"to run it on {target.display}"
            )
        snapshot = self.snapshot()
        try:
            conn = self._stack.enter_context(connect(target, self.settings.limits))
        except CannotConnect as exc:
            raise TargetUnreachable(f"target {self.name}: {exc}") from None
        try:
            outcome = retry_busy(
                conn,
                lambda: run_erasure(
                    conn, self.contract, snapshot, throwaway=target.throwaway, limits=self.settings.limits
                ),
                doing="running the erasure proof",
                limits=self.settings.limits,
                modes=BLOCKS_WRITE,
                schemas=self.contract.schemas,
                tries=1,
            )
        except DatabaseBusy as exc:
            self.gave_up(exc)
        except (SeedError, ImpersonationFailed) as exc:
            pytest.fail(f"cannot run the erasure proof: {exc}", pytrace=False)
        if outcome is None:
            pytest.skip("the contract declares no erasure")
        self.erasure_outcome = outcome
        return outcome

    def isolation_session(self) -> IsolationSession:
        if self._isolation is None:
            from pgcontract.rls.matrix import IsolationSession

            snapshot = self.snapshot()
            try:
                conn = self._stack.enter_context(connect(self.target(), self.settings.limits))
            except CannotConnect as exc:
                raise TargetUnreachable(f"target {self.name}: {exc}") from None
            self._isolation = IsolationSession(
                conn, self.contract, snapshot, throwaway=self.target().throwaway, limits=self.settings.limits
            )
        return self._isolation

    def finish_isolation(self) -> list[str] | None:
        """Roll the isolation tests' transaction back; what was left behind (None if none ran)."""
        if self._isolation is None:
            return None
        session, self._isolation = self._isolation, None
        return session.finish()

    def recorded(self, subject: str, kind: Kind) -> list[Finding]:
        """What was found for a test, from what is already computed (never queries the target)."""
        if kind is Kind.ISOLATION:
            outcome = self.outcomes.get(subject)
            return isolation_findings(outcome) if outcome is not None else []
        if kind is Kind.ERASURE:
            return erasure_findings(self.erasure_outcome) if self.erasure_outcome is not None else []
        index = self._lints if kind is Kind.LINTS else self._findings
        return index.of(subject, kind) if index is not None else []

    def close(self) -> None:
        if self.read_ahead is not None:
            self.read_ahead.close()
        if self._isolation is not None:
            self.finish_isolation()
        self._stack.close()


def isolation_findings(outcome: Outcome) -> list[Finding]:
    table = str(outcome.table)
    found = [Finding(v.rule, Kind.ISOLATION, table, table, v.text, v.expected, v.actual) for v in outcome.violations]
    found += [
        Finding("isolation.left_behind", Kind.ISOLATION, table, table, f"left behind: {p}", "nothing", p)
        for p in outcome.left_behind
    ]
    return found


def erasure_findings(outcome: ErasureOutcome) -> list[Finding]:
    from pgcontract.rls.erasure import LEFT_BEHIND

    found = [
        Finding(v.rule, Kind.ERASURE, v.table, v.table, v.message, v.expected, v.actual) for v in outcome.violations
    ]
    users = str(outcome.users)
    found += [
        Finding(LEFT_BEHIND, Kind.ERASURE, users, users, f"left behind: {p}", "nothing", p) for p in outcome.left_behind
    ]
    return found


def prepare_all(tasks: Sequence[Callable[[], None]], concurrency: int) -> None:
    """Run ``tasks`` (``TargetRun.prepare`` of each target) on at most ``concurrency`` threads, and wait for
    all: a catalog read mostly waits on the network and the server, so several overlap. The tests then run
    one by one in collection order, reading what is computed, so every report is the sequential one."""
    if concurrency <= 1 or len(tasks) <= 1:
        for task in tasks:
            task()
        return
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(tasks)), thread_name_prefix="pgcontract-target")
    try:
        for future in [pool.submit(task) for task in tasks]:
            future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
