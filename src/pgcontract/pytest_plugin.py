"""The pytest layer, kept thin: options, one frozen configuration, session fixtures, parametrisation.

Registered by entry point, so ``pytest`` in a repository with ``contracts/`` and the suite's test files
(or ``pgcontract check`` anywhere) runs the contract suite. The contract is loaded when the suite is
collected, so a bad contract stops the run (exit 2) before any test runs; an unreachable database stops
it with one line (exit 3).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import CannotConnect, SessionLimits, Target, connect
from pgcontract.contract import Contract, ContractError, Table, load_contract
from pgcontract.embedded import LoadError, embedded
from pgcontract.findings import FindingIndex, Kind, Level, render_all
from pgcontract.lints import lint_rules, run_lints
from pgcontract.names import QualifiedName
from pgcontract.rls.matrix import ImpersonationFailed, IsolationSession, Outcome
from pgcontract.rls.values import SeedError

EXIT_CONTRACT_ERROR = 2
EXIT_CANNOT_CONNECT = 3
DSN_ENV = ("PGCONTRACT_DSN", "DATABASE_URL")


@dataclass(frozen=True)
class SuiteConfig:
    """Everything the suite needs, resolved once from options and environment."""

    contract_path: Path
    sql_dir: Path
    dsn: str | None
    limits: SessionLimits
    rls_live: bool = False

    @property
    def target(self) -> Target | None:
        return Target(name="target", dsn=self.dsn) if self.dsn else None


CONFIG = pytest.StashKey[SuiteConfig]()
CONTRACT = pytest.StashKey[Contract]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pgcontract", "pgcontract contract suite")
    group.addoption(
        "--dsn",
        default=None,
        help="database to check (else $PGCONTRACT_DSN, $DATABASE_URL; none: a throwaway server)",
    )
    group.addoption("--contract", default="contracts", help="contract file or directory (default: contracts)")
    group.addoption(
        "--sql",
        dest="pgcontract_sql",
        default="sql",
        help="SQL loaded into the throwaway server when no DSN is given (default: sql)",
    )
    group.addoption("--statement-timeout", default="30s", help="statement_timeout on the target (default: 30s)")
    group.addoption("--lock-timeout", default="2s", help="lock_timeout on the target (default: 2s)")
    group.addoption(
        "--rls-live",
        action="store_true",
        help="run the dynamic RLS tests against a DSN too (they write test rows and always roll them back)",
    )


def resolve_config(config: pytest.Config) -> SuiteConfig:
    base = config.invocation_params.dir
    dsn = config.getoption("--dsn") or next((os.environ[v] for v in DSN_ENV if os.environ.get(v)), None)
    return SuiteConfig(
        contract_path=base / config.getoption("--contract"),
        sql_dir=base / config.getoption("pgcontract_sql"),
        dsn=dsn,
        limits=SessionLimits(
            statement_timeout=config.getoption("--statement-timeout"),
            lock_timeout=config.getoption("--lock-timeout"),
        ),
        rls_live=bool(config.getoption("--rls-live")),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[CONFIG] = resolve_config(config)
    config.addinivalue_line("markers", "pgcontract(kind): a contract-suite test, parametrised per table or enum")


def suite_contract(config: pytest.Config) -> Contract:
    if CONTRACT not in config.stash:
        try:
            config.stash[CONTRACT] = load_contract(config.stash[CONFIG].contract_path)
        except ContractError as exc:
            pytest.exit(exc.render(), returncode=EXIT_CONTRACT_ERROR)
    return config.stash[CONTRACT]


def subjects(contract: Contract, kind: Kind) -> list[str]:
    """The tables (or enums) that have something of ``kind`` to check."""
    if kind is Kind.ENUMS:
        return [str(name) for name in contract.enum_map]
    if kind is Kind.LINTS:
        return lint_rules(contract)
    wanted: Callable[[Table], bool] = {
        Kind.TABLE: lambda t: True,
        Kind.COLUMNS: lambda t: bool(t.columns),
        Kind.CONSTRAINTS: lambda t: bool(t.primary_key or t.foreign_keys or t.unique or t.checks),
        Kind.INDEXES: lambda t: bool(t.indexes),
        Kind.POLICIES: lambda t: t.rls is not None or t.isolation is not None,
        Kind.ISOLATION: lambda t: t.isolation is not None,
        Kind.GRANTS: lambda t: bool(t.grants),
    }[kind]
    return [str(name) for name, table in contract.table_map.items() if wanted(table)]


class SuiteRun:
    """The session's shared state: the target (a throwaway server is started on first use and stopped
    at the end), its snapshot and the findings, each computed once."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.settings = config.stash[CONFIG]
        self._stack = ExitStack()
        self._target: Target | None = None
        self._snapshot: Snapshot | None = None
        self._findings: FindingIndex | None = None
        self._lints: FindingIndex | None = None
        self._isolation: IsolationSession | None = None

    @property
    def contract(self) -> Contract:
        return suite_contract(self.config)

    def target(self) -> Target:
        if self._target is None:
            given = self.settings.target
            if given is None:
                auth = self.contract.auth
                supabase = auth is not None and auth.mode == "supabase"
                try:
                    given = self._stack.enter_context(embedded(self.settings.sql_dir, supabase=supabase))
                except LoadError as exc:
                    pytest.exit(f"cannot load the throwaway database: {exc}", returncode=EXIT_CONTRACT_ERROR)
            self._target = given
        return self._target

    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            try:
                conn = connect(self.target(), self.settings.limits)
            except CannotConnect as exc:
                pytest.exit(str(exc), returncode=EXIT_CANNOT_CONNECT)
            with conn:
                self._snapshot = read_snapshot(conn, self.contract.schemas, self.settings.limits)
        return self._snapshot

    def findings(self) -> FindingIndex:
        if self._findings is None:
            self._findings = run_checks(self.contract, self.snapshot())
        return self._findings

    def lints(self) -> FindingIndex:
        if self._lints is None:
            self._lints = FindingIndex(run_lints(self.snapshot(), self.contract))
        return self._lints

    def isolation(self, subject: str) -> Outcome:
        """The isolation matrix of one table (dynamic: writes test rows in a transaction rolled back)."""
        target = self.target()
        if not (target.throwaway or self.settings.rls_live):
            pytest.skip(
                f"dynamic RLS tests write test rows (always rolled back): pass --rls-live to run them on "
                f"{target.display}"
            )
        session = self.isolation_session()
        try:
            return session.run(QualifiedName.parse(subject))
        except (SeedError, ImpersonationFailed) as exc:
            pytest.fail(f"cannot run the isolation matrix of {subject}: {exc}", pytrace=False)

    def isolation_session(self) -> IsolationSession:
        if self._isolation is None:
            try:
                conn = self._stack.enter_context(connect(self.target(), self.settings.limits))
            except CannotConnect as exc:
                pytest.exit(str(exc), returncode=EXIT_CANNOT_CONNECT)
            self._isolation = IsolationSession(
                conn, self.contract, self.snapshot(), throwaway=self.target().throwaway, limits=self.settings.limits
            )
        return self._isolation

    def finish_isolation(self) -> list[str] | None:
        """Roll the isolation tests' transaction back; what was left behind (None if none ran)."""
        if self._isolation is None:
            return None
        session, self._isolation = self._isolation, None
        return session.finish()

    def close(self) -> None:
        if self._isolation is not None:
            self.finish_isolation()
        self._stack.close()


RUN = pytest.StashKey[SuiteRun]()


def suite_run(config: pytest.Config) -> SuiteRun:
    if RUN not in config.stash:
        config.stash[RUN] = SuiteRun(config)
    return config.stash[RUN]


def pytest_unconfigure(config: pytest.Config) -> None:
    if RUN in config.stash:
        config.stash[RUN].close()


class ContractCheck(pytest.Item):
    """One suite test for one table (or enum): ``test_columns[public.t]``.

    The suite's functions become these light items rather than parametrised functions: a contract of
    1,000 tables makes thousands of them, and they need no per-test fixtures, only the session's findings.
    """

    def __init__(self, *, function: Callable[[str, SuiteRun], None], subject: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = function
        self.subject = subject
        self.own_markers.extend(getattr(function, "pytestmark", []))

    def runtest(self) -> None:
        self.function(self.subject, suite_run(self.config))

    def reportinfo(self) -> tuple[Path, int, str]:
        lineno = self.function.__code__.co_firstlineno - 1
        return Path(self.function.__code__.co_filename), lineno, self.name


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[ContractCheck] | None:
    marker = next((m for m in getattr(obj, "pytestmark", []) if m.name == "pgcontract"), None)
    if marker is None or not callable(obj) or not name.startswith("test"):
        return None
    kind = Kind(marker.args[0])
    return [
        ContractCheck.from_parent(collector, name=f"{name}[{subject}]", function=obj, subject=subject)
        for subject in subjects(suite_contract(collector.config), kind)
    ]


@pytest.fixture(scope="session")
def pgcontract_run(pytestconfig: pytest.Config) -> SuiteRun:
    """The session's shared state (target, snapshot, findings, the isolation tests' transaction)."""
    return suite_run(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_config(pytestconfig: pytest.Config) -> SuiteConfig:
    return pytestconfig.stash[CONFIG]


@pytest.fixture(scope="session")
def pgcontract_contract(pytestconfig: pytest.Config) -> Contract:
    return suite_contract(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_target(pytestconfig: pytest.Config) -> Target:
    """The database under test: the DSN given (only connected to), or a throwaway server loaded from sql/."""
    return suite_run(pytestconfig).target()


@pytest.fixture(scope="session")
def pgcontract_snapshot(pytestconfig: pytest.Config) -> Snapshot:
    return suite_run(pytestconfig).snapshot()


@pytest.fixture(scope="session")
def pgcontract_findings(pytestconfig: pytest.Config) -> FindingIndex:
    return suite_run(pytestconfig).findings()


def assert_isolated(outcome: Outcome) -> None:
    """Fail naming who saw or changed what; and if the test left anything behind."""
    problems = [v.message for v in outcome.violations] + [f"left behind: {p}" for p in outcome.left_behind]
    if problems:
        count = len(problems)
        head = f"{outcome.table}: {count} isolation failure{'s' if count != 1 else ''}"
        pytest.fail("\n".join([head, *(f"  - {p}" for p in problems)]), pytrace=False)


def assert_clean(findings: FindingIndex, subject: str, kind: Kind) -> None:
    """Fail with every error-level mismatch of ``subject`` for ``kind`` at once, expected against actual."""
    if kind not in (Kind.TABLE, Kind.ENUMS, Kind.LINTS) and findings.of(subject, Kind.TABLE):
        pytest.skip(f"table {subject} is missing (reported by test_table[{subject}])")
    found = findings.of(subject, kind)
    errors = [f for f in found if f.level is Level.ERROR]
    for warning in (f for f in found if f.level is Level.WARNING):
        warnings.warn(pytest.PytestWarning(warning.render()), stacklevel=2)
    if errors:
        count = len(errors)
        head = f"{subject}: {count} {kind.value} mismatch{'es' if count != 1 else ''}"
        pytest.fail(f"{head}\n{render_all(errors)}", pytrace=False)
