"""The pytest layer, kept thin: options, one frozen configuration, session fixtures, parametrisation.

Registered by entry point, so ``pytest`` in a repository with ``contracts/`` and the suite's test files
(or ``pgcontract check`` anywhere) runs the contract suite. The contract is loaded when the suite is
collected, so a bad contract stops the run (exit 2) before any test runs; an unreachable database stops
it with one line (exit 3).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import CannotConnect, SessionLimits, Target, connect
from pgcontract.contract import Contract, ContractError, Table, load_contract
from pgcontract.embedded import LoadError, embedded
from pgcontract.findings import FindingIndex, Kind, Level, render_all

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
    wanted: Callable[[Table], bool] = {
        Kind.TABLE: lambda t: True,
        Kind.COLUMNS: lambda t: bool(t.columns),
        Kind.CONSTRAINTS: lambda t: bool(t.primary_key or t.foreign_keys or t.unique or t.checks),
        Kind.INDEXES: lambda t: bool(t.indexes),
        Kind.POLICIES: lambda t: t.rls is not None,
        Kind.GRANTS: lambda t: bool(t.grants),
    }[kind]
    return [str(name) for name, table in contract.table_map.items() if wanted(table)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("pgcontract")
    if marker is None:
        return
    kind = Kind(marker.args[0])
    names = subjects(suite_contract(metafunc.config), kind)
    metafunc.parametrize("subject", names, ids=names)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop suite tests of a kind the contract has nothing of (rather than "empty parameter set")."""
    empty = [
        item
        for item in items
        if item.get_closest_marker("pgcontract") is not None
        and not isinstance(getattr(getattr(item, "callspec", None), "params", {}).get("subject"), str)
    ]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]


@pytest.fixture(scope="session")
def pgcontract_config(pytestconfig: pytest.Config) -> SuiteConfig:
    return pytestconfig.stash[CONFIG]


@pytest.fixture(scope="session")
def pgcontract_contract(pytestconfig: pytest.Config) -> Contract:
    return suite_contract(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_target(pgcontract_config: SuiteConfig, pgcontract_contract: Contract) -> Iterator[Target]:
    """The database under test: the DSN given (only connected to), or a throwaway server loaded from sql/."""
    given = pgcontract_config.target
    if given is not None:
        yield given
        return
    supabase = pgcontract_contract.auth is not None and pgcontract_contract.auth.mode == "supabase"
    try:
        with embedded(pgcontract_config.sql_dir, supabase=supabase) as target:
            yield target
    except LoadError as exc:
        pytest.exit(f"cannot load the throwaway database: {exc}", returncode=EXIT_CONTRACT_ERROR)


@pytest.fixture(scope="session")
def pgcontract_snapshot(
    pgcontract_target: Target, pgcontract_contract: Contract, pgcontract_config: SuiteConfig
) -> Snapshot:
    try:
        conn = connect(pgcontract_target, pgcontract_config.limits)
    except CannotConnect as exc:
        pytest.exit(str(exc), returncode=EXIT_CANNOT_CONNECT)
    with conn:
        return read_snapshot(conn, pgcontract_contract.schemas, pgcontract_config.limits)


@pytest.fixture(scope="session")
def pgcontract_findings(pgcontract_contract: Contract, pgcontract_snapshot: Snapshot) -> FindingIndex:
    return run_checks(pgcontract_contract, pgcontract_snapshot)


def assert_clean(findings: FindingIndex, subject: str, kind: Kind) -> None:
    """Fail with every error-level mismatch of ``subject`` for ``kind`` at once, expected against actual."""
    if kind is not Kind.TABLE and kind is not Kind.ENUMS and findings.of(subject, Kind.TABLE):
        pytest.skip(f"table {subject} is missing (reported by test_table[{subject}])")
    found = findings.of(subject, kind)
    errors = [f for f in found if f.level is Level.ERROR]
    for warning in (f for f in found if f.level is not Level.ERROR):
        import warnings

        warnings.warn(pytest.PytestWarning(warning.render()), stacklevel=2)
    if errors:
        count = len(errors)
        head = f"{subject}: {count} {kind.value} mismatch{'es' if count != 1 else ''}"
        pytest.fail(f"{head}\n{render_all(errors)}", pytrace=False)
