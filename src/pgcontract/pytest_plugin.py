"""The pytest layer, kept thin: options, one frozen configuration, the suite's items and fixtures.

Registered by entry point, so ``pytest`` in a repository with ``contracts/`` and the suite's test files
(or ``pgcontract check`` anywhere) runs the contract suite. The contract is loaded when the suite is
collected, so a bad contract stops the run (exit 2) before any test runs; an unreachable database stops
it with one line (exit 3), and so does a database too busy to read (a lock wait or timeout after bounded
retries, exit 4); with several targets, an unreachable or busy one fails alone.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from _pytest.runner import call_and_report, runtestprotocol  # the default protocol's steps, for TableCheck

from pgcontract.catalog import Snapshot
from pgcontract.connect import CannotConnect, SessionLimits, Target, duration_argument
from pgcontract.contract import Contract, ContractError, Table, load_contract
from pgcontract.findings import CATEGORY, FindingIndex, Kind, Level, render_all
from pgcontract.lints import lint_rules
from pgcontract.names import visible, visible_lines
from pgcontract.readahead import ReadAhead
from pgcontract.report.summary import RECORD, ResultCollector
from pgcontract.targetrun import (
    DEFAULT_CONCURRENCY,
    EXIT_CONTRACT_ERROR,
    RunSettings,
    TargetRun,
    TargetUnreachable,
    prepare_all,
)
from pgcontract.targets import TargetsError, parse_shard, parse_targets, shard

if TYPE_CHECKING:  # imported where used: a check of a DSN without --rls-live or --html needs none of them
    from pgcontract.rls.erasure import ErasureOutcome
    from pgcontract.rls.matrix import Outcome

DSN_ENV = ("PGCONTRACT_DSN", "DATABASE_URL")
TARGETS_ENV = "PGCONTRACT_TARGETS"  # JSON {name: dsn}: how `pgcontract check` hands several targets over
EMBEDDED = "embedded"


@dataclass(frozen=True)
class SuiteConfig:
    """Everything the suite needs, resolved once from options and environment."""

    contract_path: Path
    sql_dir: Path
    targets: tuple[Target, ...]  # empty: the embedded default
    limits: SessionLimits
    rls_live: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    shard: tuple[int, int] | None = None  # (K, N): ``targets`` is shard K of N of ``all_names``
    all_names: tuple[str, ...] = ()  # every target's name, in the order given (before --shard)

    @property
    def target_names(self) -> list[str]:
        if self.shard is not None:
            return [t.name for t in self.targets]  # an empty shard checks nothing, not the embedded default
        return [t.name for t in self.targets] or [EMBEDDED]

    @property
    def several(self) -> bool:
        """Several targets in the run: test ids name the target; one that fails does not stop the others.
        Counted before --shard, so that a shard's ids and reports are those of the whole run."""
        return len(self.all_names or self.target_names) > 1


CONFIG = pytest.StashKey[SuiteConfig]()
TABLES_COLLECTED = pytest.StashKey[bool]()
TABLE_TESTS = pytest.StashKey[dict[tuple[str, str], "TableCheck"]]()  # by target and table
CONTRACT = pytest.StashKey[Contract]()
RUNS = pytest.StashKey[dict[str, TargetRun]]()
# The catalog read `pgcontract check` started before pytest (readahead.py), taken by the run it serves.
READ_AHEAD = pytest.StashKey[ReadAhead]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pgcontract", "pgcontract contract suite")
    group.addoption(
        "--dsn",
        action="append",
        default=[],
        help="database to check; repeat for several, NAME=postgresql://... names one "
        "(else $PGCONTRACT_DSN, $DATABASE_URL; none: a throwaway server)",
    )
    group.addoption("--targets", default=None, help="YAML file mapping target names to DSNs (${VAR} expanded)")
    group.addoption("--contract", default="contracts", help="contract file or directory (default: contracts)")
    group.addoption(
        "--sql",
        dest="pgcontract_sql",
        default="sql",
        help="SQL loaded into the throwaway server when no DSN is given (default: sql)",
    )
    group.addoption(
        "--statement-timeout",
        type=duration_argument,
        default="30s",
        help="statement_timeout on the target (default: 30s)",
    )
    group.addoption(
        "--lock-timeout", type=duration_argument, default="2s", help="lock_timeout on the target (default: 2s)"
    )
    group.addoption("--json", dest="pgcontract_json", default=None, help="write the run's summary as JSON")
    group.addoption(
        "--history", dest="pgcontract_history", default=None, help="append the summary to this JSON Lines file"
    )
    group.addoption(
        "--history-dsn",
        dest="pgcontract_history_dsn",
        default=None,
        help="append the summary to a table in this database",
    )
    group.addoption("--history-table", dest="pgcontract_history_table", default="pgcontract_history")
    group.addoption(
        "--rls-live",
        action="store_true",
        help="run the dynamic RLS tests against a DSN too (they write test rows and always roll them back)",
    )
    group.addoption(
        "--concurrency",
        dest="pgcontract_concurrency",
        type=_concurrency,
        default=DEFAULT_CONCURRENCY,
        help=f"targets whose catalogs are read at once, one connection each (default: {DEFAULT_CONCURRENCY})",
    )
    group.addoption(
        "--shard",
        dest="pgcontract_shard",
        type=_shard,
        default=None,
        help="check shard K of N of the targets (K/N: names sorted, dealt round-robin)",
    )


def _concurrency(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of at least 1, not {value!r}")
    return int(value)


def _shard(value: str) -> tuple[int, int]:
    try:
        return parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def resolve_config(config: pytest.Config) -> SuiteConfig:
    base = config.invocation_params.dir
    dsns = list(config.getoption("--dsn") or [])
    targets_file = config.getoption("--targets")
    for option, values in (("--dsn", dsns), ("--history-dsn", [config.getoption("pgcontract_history_dsn")])):
        if any(value is not None and not value.strip() for value in values):
            raise pytest.UsageError(f"{option} is empty")  # as in `pgcontract`: not "use the default"
    try:
        if not dsns and not targets_file and os.environ.get(TARGETS_ENV):
            targets = [Target(name, dsn) for name, dsn in json.loads(os.environ[TARGETS_ENV]).items()]
        else:
            source = "--dsn"
            if not dsns and not targets_file:
                given = [(v, os.environ[v]) for v in DSN_ENV if os.environ.get(v)][:1]
                source, dsns = (f"${given[0][0]}", [given[0][1]]) if given else (source, [])
            targets = parse_targets(dsns, base / targets_file if targets_file else None, source)
    except TargetsError as exc:
        raise pytest.UsageError(str(exc)) from None
    chosen = config.getoption("pgcontract_shard")
    if chosen is not None and not targets:
        raise pytest.UsageError("--shard needs targets (--targets FILE or --dsn), not the embedded default")
    names = tuple(t.name for t in targets)
    if chosen is not None:
        targets = shard(targets, *chosen)
    return SuiteConfig(
        contract_path=base / config.getoption("--contract"),
        sql_dir=base / config.getoption("pgcontract_sql"),
        targets=tuple(targets),
        limits=SessionLimits(
            statement_timeout=config.getoption("--statement-timeout"),
            lock_timeout=config.getoption("--lock-timeout"),
        ),
        rls_live=bool(config.getoption("--rls-live")),
        concurrency=config.getoption("pgcontract_concurrency"),
        shard=chosen,
        all_names=names,
    )


def pytest_configure(config: pytest.Config) -> None:
    settings = config.stash[CONFIG] = resolve_config(config)
    if not hasattr(config, "workerinput"):  # the controlling process (not a pytest-xdist worker)
        collector = RunSummary(settings.contract_path, lambda: suite_contract(config), config)
        if settings.shard is not None:
            index, count = settings.shard
            collector.shard = {"index": index, "count": count, "targets": list(settings.all_names)}
        config.pluginmanager.register(collector, "pgcontract-summary")
        if config.getoption("htmlpath", None) and config.pluginmanager.hasplugin("html"):
            from pgcontract.report.html import HtmlReport

            config.pluginmanager.register(HtmlReport(config, settings, collector), "pgcontract-html")
    config.addinivalue_line("markers", "pgcontract(kind): a contract-suite test, one per table (or enum) and kind")
    config.addinivalue_line("markers", "xdist_group(name): pytest-xdist runs a group's tests in one worker")


class SuiteRootIds:
    """A pytest plugin object for ``pgcontract check``: test ids and files shown as the suite names them.

    pytest shows them relative to the directory it was invoked from: from a repository, the suite inside
    the installed package reads ``../../<install path>/suite/test_rls.py::test_policies[...]``. The suite
    is its own rootdir, so its ids (``test_rls.py::test_policies[...]``, as in JUnit) are shown as they
    are. Only the display changes: pytest's working directory, and the paths given to it, do not."""

    @pytest.hookimpl(trylast=True)  # after pytest's terminal reporter is made
    def pytest_configure(self, config: pytest.Config) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.startpath = config.rootpath
        config.cwd_relative_nodeid = str  # type: ignore[method-assign,assignment]  # the id as it is


class RunSummary(ResultCollector):
    """The summary collector, writing the JSON summary and the history at the end of the run."""

    def __init__(self, contract_path: Path, load_contract: Callable[[], Contract], config: pytest.Config) -> None:
        super().__init__(contract_path, load_contract)
        self.config = config

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        # Only the sequences: the whole summary (health report of every table) is built only when written.
        for target in self.targets():
            sequences = self.sequences_advanced(target)
            if sequences:
                terminalreporter.write_line(
                    f"note: {target}: the RLS isolation tests' rows were rolled back, but sequences stay "
                    f"advanced (nextval is not undone by a rollback): {', '.join(sequences)}"
                )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        super().pytest_sessionfinish(session, exitstatus)
        if not self.results and self.shard is None:  # a shard's summary is written even when it is empty
            return
        json_path = self.config.getoption("pgcontract_json")
        history_file = self.config.getoption("pgcontract_history")
        history_dsn = self.config.getoption("pgcontract_history_dsn")
        recorded = bool(self.results and (history_file or history_dsn))
        if not json_path and not recorded:
            return  # building the summary (a health report of every table) costs seconds at 10,000 tables
        summary = self.summary()
        if json_path:
            Path(json_path).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if recorded:
            from pgcontract.report import history

            try:
                history.append(
                    history.entries_of(summary, self.run_id),
                    file=Path(history_file) if history_file else None,
                    dsn=history_dsn,
                    table=self.config.getoption("pgcontract_history_table"),
                )
            except (CannotConnect, OSError) as exc:
                warnings.warn(pytest.PytestWarning(f"history not recorded: {exc}"), stacklevel=1)


def suite_contract(config: pytest.Config) -> Contract:
    if CONTRACT not in config.stash:
        try:
            config.stash[CONTRACT] = load_contract(config.stash[CONFIG].contract_path)
        except ContractError as exc:
            pytest.exit(exc.render(), returncode=EXIT_CONTRACT_ERROR)
    return config.stash[CONTRACT]


def target_runs(config: pytest.Config) -> dict[str, TargetRun]:
    """One TargetRun per target, created on first use."""
    if RUNS not in config.stash:
        settings = config.stash[CONFIG]
        run_settings = RunSettings(
            sql_dir=settings.sql_dir,
            limits=settings.limits,
            rls_live=settings.rls_live,
            several_targets=settings.several,
            # Asked of the config, not of $PYTEST_XDIST_WORKER: a worker's subprocesses inherit that variable.
            xdist_worker=hasattr(config, "workerinput"),
            history_file=Path(config.getoption("pgcontract_history"))
            if config.getoption("pgcontract_history")
            else None,
            history_dsn=config.getoption("pgcontract_history_dsn"),
            history_table=config.getoption("pgcontract_history_table"),
        )
        contract = suite_contract(config)
        given: list[tuple[str, Target | None]] = [(t.name, t) for t in settings.targets]
        if not settings.targets and settings.shard is None:
            given = [(EMBEDDED, None)]
        runs = config.stash[RUNS] = {name: TargetRun(name, target, contract, run_settings) for name, target in given}
        ahead = config.stash.get(READ_AHEAD, None)
        for run in runs.values():
            if ahead is not None and ahead.serves(run.given, run_settings.limits, contract):
                run.read_ahead, ahead = ahead, None
    return config.stash[RUNS]


def first_run(config: pytest.Config) -> TargetRun:
    return next(iter(target_runs(config).values()))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """With several targets, read their catalogs (and run their checks) concurrently, ``--concurrency`` at
    a time, before the tests run: the tests then only read what is computed, in collection order. Not in
    a pytest-xdist worker, which does not know which targets it will be given."""
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput"):
        return
    needs: dict[str, tuple[bool, bool]] = {}
    for item in session.items:
        if isinstance(item, ContractCheck):
            findings, lints = needs.get(item.target, (False, False))
            static = item.kind not in (Kind.LINTS, Kind.ISOLATION)
            needs[item.target] = (findings or static, lints or item.kind is Kind.LINTS)
    if len(needs) < 2:
        return
    runs = target_runs(config)
    tasks = [partial(runs[name].prepare, findings, lints) for name, (findings, lints) in needs.items()]
    prepare_all(tasks, config.stash[CONFIG].concurrency)


def pytest_unconfigure(config: pytest.Config) -> None:
    for run in config.stash.get(RUNS, {}).values():
        run.close()


def subjects(contract: Contract, kind: Kind) -> list[str]:
    """The tables (or enums, or lint rules) that have something of ``kind`` to check."""
    if kind is Kind.ENUMS:
        return [str(name) for name in contract.enum_map]
    if kind is Kind.LINTS:
        return lint_rules(contract)
    if kind is Kind.FUNCTIONS:
        return list(contract.functions)
    if kind is Kind.AGGREGATES:
        return list(contract.aggregates)
    if kind is Kind.ROLES:
        return list(contract.roles)
    if kind is Kind.DOMAINS:
        return [str(name) for name in contract.domain_map]
    if kind is Kind.COMPOSITE_TYPES:
        return [str(name) for name in contract.composite_type_map]
    if kind is Kind.SEQUENCES:
        return [str(name) for name in contract.sequence_map]
    if kind is Kind.VIEWS:
        return [str(name) for name in contract.view_map]
    if kind is Kind.TRIGGERS:
        return [str(name) for name in contract.trigger_map]
    if kind is Kind.PRIVILEGES:
        return privilege_subjects(contract)
    if kind is Kind.EXTENSIONS:
        return list(contract.extensions)
    if kind is Kind.PUBLICATIONS:
        return list(contract.publications)
    if kind is Kind.OPERATIONS:
        return [rule for rule, _ in contract.operations.rules()] if contract.operations is not None else []
    if kind is Kind.ERASURE:
        return ["erasure"] if contract.erasure is not None else []
    wanted: Callable[[Table], bool] = {
        Kind.TABLE: lambda t: True,
        Kind.COLUMNS: lambda t: bool(t.columns),
        Kind.CONSTRAINTS: lambda t: bool(t.primary_key or t.foreign_keys or t.unique or t.checks or t.exclusions),
        Kind.INDEXES: lambda t: bool(t.indexes),
        Kind.POLICIES: lambda t: t.rls is not None or t.isolation is not None,
        Kind.ISOLATION: lambda t: t.isolation is not None,
        Kind.GRANTS: lambda t: bool(t.grants),
        Kind.PARTITIONS: lambda t: t.partition_by is not None or t.inherits is not None,
    }[kind]
    return [str(name) for name, table in contract.table_map.items() if wanted(table)]


def privilege_subjects(contract: Contract) -> list[str]:
    """Schemas whose privileges the contract lists, then its default-privileges entries."""
    if contract.privileges is None:
        return []
    defaults = [str(entry.key) for entry in contract.privileges.defaults]
    return [*contract.privileges.schemas, *defaults]


def xdist_group(target: str) -> str:
    """The target's pytest-xdist group; xdist appends it to test ids after an "@", so none in it."""
    return "target-" + target.replace("@", "_")


class ContractCheck(pytest.Item):
    """One suite test for one target, table (or enum) and kind: ``test_columns[public.t]``, with several
    targets ``test_columns[eu:public.t]``.

    The suite's functions become these light items rather than parametrised functions: a contract of
    1,000 tables makes thousands of them, and they need no per-test fixtures, only the target's state.
    """

    def __init__(
        self,
        *,
        function: Callable[[str, TargetRun], None],
        kind: Kind,
        subject: str,
        target: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function = function
        self.kind = kind
        self.subject = subject
        self.target = target
        self.own_markers.extend(getattr(function, "pytestmark", []))
        # With pytest-xdist's --dist loadgroup, all the tests of one target run in one worker.
        self.add_marker(pytest.mark.xdist_group(xdist_group(target)))

    def runtest(self) -> None:
        run = target_runs(self.config)[self.target]
        try:
            self.check(run)
        except TargetUnreachable as exc:
            if run.unreachable_reported:
                state = "busy" if run.busy else "unreachable"
                pytest.skip(f"target {visible(self.target)} is {state} (reported once)")
            run.unreachable_reported = True
            raise pytest.fail.Exception(visible_lines(str(exc)), pytrace=False) from None  # one line, no chain
        finally:
            self.record(run)

    def check(self, run: TargetRun) -> None:
        self.function(self.subject, run)

    def covers(self) -> list[Kind]:
        """The kinds this test's report stands for."""
        return [self.kind]

    def record(self, run: TargetRun) -> None:
        """What the reports need, as a user property (it travels with the report, across xdist workers)."""
        kinds = self.covers()
        record = {
            "target": self.target,
            "group": xdist_group(self.target),
            "target_display": run.display,
            "subject": self.subject,
            "kind": self.kind.value,
            "category": CATEGORY[self.kind],
            "critical": self.subject in run.critical_tables,
            "unreachable": run.unreachable,
            "busy": run.busy,
            "server_version": run._snapshot.server_version if run._snapshot is not None else None,
            "findings": [f.to_dict() for kind in kinds for f in run.recorded(self.subject, kind)],
            "sequences_advanced": run.sequences_advanced,
        }
        if len(kinds) > 1:  # a table's test that stands for several kinds (TableCheck): counted per kind
            record["covers"] = [kind.value for kind in kinds]
            record["categories"] = [CATEGORY[kind] for kind in kinds]
        if isinstance(self, Replay):  # where it ran: a merge of shards puts it where one run does
            record["within"] = self.within
        if self.kind is Kind.OPERATIONS:
            record.update(operations_record(run, self.subject))
        self.user_properties.append((RECORD, json.dumps(record)))

    def reportinfo(self) -> tuple[Path, int, str]:
        return *_code_location(self.function), self.name


@functools.cache
def _code_location(function: Callable[..., object]) -> tuple[Path, int]:
    """Where a suite function is (once per function, not per test: a path costs a few µs to build)."""
    return Path(function.__code__.co_filename), function.__code__.co_firstlineno - 1


@dataclass(frozen=True)
class KindCheck:
    """One suite function a TableCheck runs for its table."""

    name: str  # the function's name: test_columns
    function: Callable[[str, TargetRun], None]
    kind: Kind


@dataclass
class Attempt:
    """What one kind's function did when a TableCheck ran it: the warnings it gave, how it stopped."""

    check: KindCheck
    parent: pytest.Collector | None = None  # the module of its function, when not the TableCheck's own
    warned: list[warnings.WarningMessage] = field(default_factory=list)
    stopped: BaseException | None = None  # a failure or skip; None: not run yet


class TableCheck(ContractCheck):
    """The test of one table for every kind its module checks (``test_table[public.t]`` runs the table,
    columns, constraints, indexes, grants, partitions and triggers tests of ``public.t``).

    pytest costs about as much per test as checking one kind of one table, so the kinds of a table run
    in one test, and still report per table and kind: this test's report stands for the table and every
    kind that passed; a kind that failed or was skipped is reported as its own test, under its own id
    (``test_columns[public.t]``: in the terminal, JUnit, the HTML report and the JSON summary, as when
    each kind ran alone). ``-k``, ``--deselect`` and test ids on the command line select kinds, so with
    them (and under pytest-xdist) each kind is collected as its own test again (``folded``)."""

    def __init__(self, *, also: Sequence[KindCheck], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts = [Attempt(check) for check in also]
        self.passed: list[Kind] = []

    def check(self, run: TargetRun) -> None:
        self.function(self.subject, run)  # the table first: when it is missing, the other kinds skip
        for attempt in self.attempts:
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always")
                try:
                    attempt.check.function(self.subject, run)
                except (pytest.fail.Exception, pytest.skip.Exception, TargetUnreachable) as exc:
                    attempt.stopped = exc
            if attempt.stopped is None:
                self.passed.append(attempt.check.kind)
                for w in warned:  # handed to pytest's own warning capture, as if the kind ran alone
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            else:
                attempt.warned = warned

    def covers(self) -> list[Kind]:
        return [self.kind, *self.passed]

    def others(self) -> list[ContractCheck]:
        """A test for each kind that did not pass (or did not run: the table failed first)."""
        parent = self.parent
        assert parent is not None  # a module collects it
        suffix = self.name.removeprefix(self.function.__name__)  # [public.t]
        return [
            Replay.from_parent(
                attempt.parent or parent,
                name=attempt.check.name + suffix,
                function=attempt.check.function,
                kind=attempt.check.kind,
                subject=self.subject,
                target=self.target,
                attempt=attempt,
                within=self.nodeid.split("[", 1)[0],
            )
            for attempt in self.attempts
            if attempt.check.kind not in self.passed
        ]


class Replay(ContractCheck):
    """A kind of a TableCheck that failed or was skipped, reported as its own test: it gives the same
    warnings and stops the same way again (the function is not run twice), or runs when it never ran."""

    def __init__(self, *, attempt: Attempt, within: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempt = attempt
        self.within = within  # the TableCheck's function: test_schema.py::test_table

    def check(self, run: TargetRun) -> None:
        if self.attempt.stopped is None:
            self.function(self.subject, run)
            return
        for w in self.attempt.warned:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        raise self.attempt.stopped


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A TableCheck, then a test for each of its kinds that did not pass, as pytest runs one test."""
    if not isinstance(item, TableCheck):
        return None
    ihook = item.ihook
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    if call_and_report(item, "setup").passed:
        call_and_report(item, "call")
    others = item.others()
    call_and_report(item, "teardown", nextitem=others[0] if others else nextitem)
    for i, other in enumerate(others):
        runtestprotocol(other, nextitem=others[i + 1] if i + 1 < len(others) else nextitem)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def operations_record(run: TargetRun, rule: str) -> dict[str, Any]:
    """An operations test's budget value, and (on the regression test) the statements for the next run."""
    result = run.operations()
    if result is None:
        return {}
    record: dict[str, Any] = {"budgets": [v.to_dict() for v in result.values if v.rule == rule]}
    if rule == "ops.statements.regression":
        record["statements"] = result.statements
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if isinstance(item, ContractCheck) and report.skipped and isinstance(report.longrepr, tuple):
        # pytest places a skip where pytest.skip() ran (this module, by its path on the machine that ran
        # it); the test's own location, relative to the rootdir, says which check was skipped.
        path, line, _ = item.location
        report.longrepr = (path, (line or 0) + 1, report.longrepr[2])


def _suite_kind(name: str, obj: object) -> tuple[Kind, pytest.Mark] | None:
    marker = next((m for m in getattr(obj, "pytestmark", []) if m.name == "pgcontract"), None)
    if marker is None or not callable(obj) or not name.startswith("test"):
        return None
    return Kind(marker.args[0]), marker


def folded(config: pytest.Config) -> bool:
    """Whether a table's kinds run as one test (TableCheck): not when kinds are selected one by one or
    listed (--collect-only lists every id a run may report), nor in a pytest-xdist worker (it requires
    every report of a test to carry that test's id)."""
    option = config.option
    if getattr(option, "keyword", "") or getattr(option, "deselect", None) or getattr(option, "collectonly", False):
        return False
    if hasattr(config, "workerinput"):
        return False
    return not any("::" in str(arg) for arg in config.args)


def folded_checks(module: object) -> list[KindCheck]:
    """The suite functions of a module that a TableCheck runs, in the module's order."""
    checks = []
    for name, obj in vars(module).items():
        found = _suite_kind(name, obj)
        if found is not None and found[0] in FOLDED and not found[1].kwargs.get("per_target"):
            checks.append(KindCheck(name, obj, found[0]))
    return checks


def table_checks(collector: pytest.Collector, targets: list[str], prefixed: bool) -> list[ContractCheck]:
    """One TableCheck per target and table for all the folded kinds of a module, in the module's order.
    A table that already has one, from a module collected before (test_schema.py's, for test_rls.py's
    policies), gets this module's kinds too: one test per table, whatever module its kinds come from."""
    config = collector.config
    contract = suite_contract(config)
    by_subject: dict[str, list[KindCheck]] = {}
    for check in folded_checks(getattr(collector, "obj", None)):
        for subject in subjects(contract, check.kind):
            by_subject.setdefault(subject, []).append(check)
    hosts = config.stash.setdefault(TABLE_TESTS, {})
    made: list[ContractCheck] = []
    for target in targets:
        for subject, (first, *also) in by_subject.items():
            host = hosts.get((target, subject))
            if host is not None:
                host.attempts += [Attempt(check, collector) for check in (first, *also)]
                continue
            hosts[(target, subject)] = item = TableCheck.from_parent(
                collector,
                name=f"{first.name}[{visible(target) + ':' if prefixed else ''}{visible(subject)}]",
                function=first.function,
                kind=first.kind,
                subject=subject,
                target=target,
                also=also,
            )
            made.append(item)
    return made


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """In a directory, the module with the table tests (test_schema.py) is collected first, so the kinds
    of other modules (test_rls.py's policies) join its tests of the tables instead of making their own."""
    report = yield
    if isinstance(collector, pytest.Dir | pytest.Package) and report.result and folded(collector.config):
        report.result.sort(key=lambda node: not _has_table_tests(node))
    return report


def _has_table_tests(node: pytest.Item | pytest.Collector) -> bool:
    if not isinstance(node, pytest.Module):
        return False
    try:
        module = node.obj
    except Exception:  # reported when the module itself is collected
        return False
    return any(check.kind is Kind.TABLE for check in folded_checks(module))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> list[ContractCheck] | None:
    found = _suite_kind(name, obj)
    if found is None:
        return None
    kind, marker = found
    config = collector.config
    names = config.stash[CONFIG].target_names
    prefixed = config.stash[CONFIG].several
    if kind in FOLDED and not marker.kwargs.get("per_target") and folded(config):
        # The module's first folded kind collects them all; the others have nothing left to collect.
        if collector.stash.get(TABLES_COLLECTED, False):
            return []
        collector.stash[TABLES_COLLECTED] = True
        return table_checks(collector, names, prefixed)
    if marker.kwargs.get("per_target"):
        # One test per target (not per table), when the contract has something of the kind at all.
        if not subjects(suite_contract(config), kind):
            return []
        return [
            ContractCheck.from_parent(
                collector,
                name=f"{name}[{visible(target)}]",
                function=obj,
                kind=kind,
                subject=f"({target})",
                target=target,
            )
            for target in names
        ]
    return [
        ContractCheck.from_parent(
            collector,
            # Test ids are printed: a name's control characters are shown escaped, not sent to the terminal.
            name=f"{name}[{visible(target)}:{visible(subject)}]" if prefixed else f"{name}[{visible(subject)}]",
            function=obj,
            kind=kind,
            subject=subject,
            target=target,
        )
        for target in names
        for subject in subjects(suite_contract(config), kind)
    ]


@pytest.fixture(scope="session")
def pgcontract_run(pytestconfig: pytest.Config) -> TargetRun:
    """The (first) target's shared state: target, snapshot, findings, the isolation tests' transaction."""
    return first_run(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_runs(pytestconfig: pytest.Config) -> dict[str, TargetRun]:
    """Every target's shared state, by target name."""
    return target_runs(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_config(pytestconfig: pytest.Config) -> SuiteConfig:
    return pytestconfig.stash[CONFIG]


@pytest.fixture(scope="session")
def pgcontract_contract(pytestconfig: pytest.Config) -> Contract:
    return suite_contract(pytestconfig)


@pytest.fixture(scope="session")
def pgcontract_target(pytestconfig: pytest.Config) -> Target:
    """The database under test: the DSN given (only connected to), or a throwaway server loaded from sql/."""
    return first_run(pytestconfig).target()


@pytest.fixture(scope="session")
def pgcontract_snapshot(pytestconfig: pytest.Config) -> Snapshot:
    return first_run(pytestconfig).snapshot()


@pytest.fixture(scope="session")
def pgcontract_findings(pytestconfig: pytest.Config) -> FindingIndex:
    return first_run(pytestconfig).findings()


TABLE_KINDS = (
    Kind.COLUMNS,
    Kind.CONSTRAINTS,
    Kind.INDEXES,
    Kind.GRANTS,
    Kind.POLICIES,
    Kind.TRIGGERS,
    Kind.PARTITIONS,
)
# The kinds a TableCheck runs together, per table (the dynamic isolation tests stay one test each).
FOLDED = (Kind.TABLE, *TABLE_KINDS)


def assert_isolated(outcome: Outcome) -> None:
    """Fail naming who saw or changed what; and if the test left anything behind."""
    problems = [v.text for v in outcome.violations] + [f"left behind: {p}" for p in outcome.left_behind]
    if problems:
        count = len(problems)
        head = f"{outcome.table}: {count} isolation failure{'s' if count != 1 else ''}"
        pytest.fail(visible_lines("\n".join([head, *(f"  - {p}" for p in problems)])), pytrace=False)


def assert_erased(outcome: ErasureOutcome) -> None:
    """Fail naming each table and foreign key that kept the deleted user's data; and any leftover."""
    from pgcontract.rls.erasure import LEFT_BEHIND

    problems = [f"[{v.rule}] {v.message}" for v in outcome.violations]
    problems += [f"[{LEFT_BEHIND}] left behind: {p}" for p in outcome.left_behind]
    if problems:
        count = len(problems)
        head = f"deleting a user from {outcome.users}: {count} erasure failure{'s' if count != 1 else ''}"
        pytest.fail(visible_lines("\n".join([head, *(f"  - {p}" for p in problems)])), pytrace=False)


def assert_clean(findings: FindingIndex, subject: str, kind: Kind) -> None:
    """Fail with every error-level mismatch of ``subject`` for ``kind`` at once, expected against actual."""
    if kind in TABLE_KINDS and findings.of(subject, Kind.TABLE):
        pytest.skip(f"table {visible(subject)} is missing (reported by test_table[{visible(subject)}])")
    found = findings.of(subject, kind)
    errors = [f for f in found if f.level is Level.ERROR]
    reported = [f for f in found if f.level is Level.WARNING]
    if reported:  # one warning per test: a lint can hit thousands of objects
        count = len(reported)
        head = f"{visible(subject)}: {count} warning{'s' if count != 1 else ''}"
        # Placed at the suite's test by its file name, not by the path the package is installed at.
        caller = sys._getframe(1).f_code
        warning = pytest.PytestWarning(f"{head}\n{render_all(reported)}")
        warnings.warn_explicit(warning, pytest.PytestWarning, Path(caller.co_filename).name, caller.co_firstlineno)
    if errors:
        count = len(errors)
        head = f"{visible(subject)}: {count} {kind.value} mismatch{'es' if count != 1 else ''}"
        pytest.fail(f"{head}\n{render_all(errors)}", pytrace=False)
