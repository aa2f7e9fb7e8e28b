"""The run's summary, built from the reports of the suite's tests (so it works across xdist workers):
per target, counts per category, the health report's shape (healthy, critical_issues, tables), findings;
and every test's result (id, outcome, message or skip reason, duration, its record), which is what
``pgcontract merge`` needs to write the JUnit and HTML reports of shards run on other machines.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pgcontract import __version__
from pgcontract.contract.loader import contract_files
from pgcontract.contract.model import Contract
from pgcontract.findings import CATEGORIES, Finding, FindingIndex
from pgcontract.health import BUSY, UNREACHABLE, failed_report, report_from_findings
from pgcontract.ops.budgets import BudgetValue

RECORD = "pgcontract"
# The JSON summary's format. 2: ``tests`` (each test's result) and, for a shard, ``shard``. Before it
# the summary had no ``summary_version`` (read as 1); ``pgcontract merge`` reads 2 only.
SUMMARY_VERSION = 2


def contract_digest(path: Path) -> str:
    """sha256 over the contract's files (names relative to the contract path, and contents)."""
    digest = hashlib.sha256()
    base = path if path.is_dir() else path.parent
    for file in contract_files(path):
        digest.update(str(file.relative_to(base)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def git_commit(where: Path) -> str | None:
    for variable in ("GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"):
        if os.environ.get(variable):
            return os.environ[variable]
    try:
        done = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@dataclass
class TestResult:
    nodeid: str
    outcome: str  # passed, failed, skipped
    record: dict[str, Any]
    message: str = ""
    duration: float = 0.0
    skip: list[Any] | None = None  # pytest's (path, line, "Skipped: reason") of a skip


@dataclass(eq=False)  # a pytest plugin object: hashed by identity
class ResultCollector:
    """Collects the suite's results in the controlling process (a pytest plugin object)."""

    contract_path: Path
    load_contract: Callable[[], Contract]
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished: datetime | None = None
    results: list[TestResult] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _clock: float = field(default_factory=time.perf_counter)
    duration_ms: int = 0
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))  # the history entries' (and the report's)
    shard: dict[str, Any] | None = None  # {"index": K, "count": N, "targets": every name, in order}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and not report.passed):
            return
        raw = next((value for name, value in report.user_properties if name == RECORD), None)
        outcome = "failed" if report.failed else ("skipped" if report.skipped else "passed")
        if raw is None:
            self.others[outcome] += 1
            return
        message = report.longreprtext.strip() if report.failed else ""
        skip = list(report.longrepr) if report.skipped and isinstance(report.longrepr, tuple) else None
        record = json.loads(str(raw))
        nodeid = report.nodeid.removesuffix("@" + record.get("group", ""))  # pytest-xdist's group suffix
        self.results.append(TestResult(nodeid, outcome, record, message, report.duration, skip))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.finished = datetime.now(UTC)
        self.duration_ms = int((time.perf_counter() - self._clock) * 1000)
        # A target that could not be reached makes the run's exit code 3 (cannot connect); one too busy
        # to read (a lock wait or timeout), 4: neither is a verdict on the contract.
        if self.unreachable() and session.exitstatus in (0, 1):
            session.exitstatus = 3
        elif any(r.record.get("busy") for r in self.results) and session.exitstatus in (0, 1):
            session.exitstatus = 4

    def unreachable(self) -> dict[str, str]:
        return {r.record["target"]: r.record["unreachable"] for r in self.results if r.record.get("unreachable")}

    def targets(self) -> list[str]:
        return list(dict.fromkeys(r.record["target"] for r in self.results))

    def target_summary(self, target: str) -> dict[str, Any]:
        mine = [r for r in self.results if r.record["target"] == target]
        counts = {c: {"passed": 0, "failed": 0, "skipped": 0} for c in CATEGORIES}
        for result in mine:  # per table and kind: a table's test stands for each kind it covers
            for category in result.record.get("categories") or [result.record["category"]]:
                counts[category][result.outcome] += 1
        unreachable = next((r.record["unreachable"] for r in mine if r.record.get("unreachable")), None)
        busy = next((r.record["busy"] for r in mine if r.record.get("busy")), None)
        findings = [found for r in mine for found in r.record["findings"]]
        budgets = [budget for r in mine for budget in r.record.get("budgets", [])]
        statements = next((r.record["statements"] for r in mine if "statements" in r.record), None)
        # Tables, their status and the critical issues: the health report's own rules (pgcontract.health).
        finished = self.finished or datetime.now(UTC)
        if unreachable or busy:
            error, reason = (UNREACHABLE, unreachable) if unreachable else (BUSY, busy)
            health = failed_report(self.load_contract(), error, str(reason), finished, 0)
            critical_issues = [str(reason)]
        else:
            index = FindingIndex([Finding.from_dict(f) for f in findings])
            values = tuple(BudgetValue.from_dict(b) for b in budgets)
            health = report_from_findings(self.load_contract(), index, finished, 0, values)
            critical_issues = list(health.critical_issues)
        tables = health.to_dict()["tables"]
        failed = sum(c["failed"] for c in counts.values())
        server = next((r.record["server_version"] for r in mine if r.record.get("server_version")), None)
        sequences = self.sequences_advanced(target, mine)
        return {
            "target": target,
            "database": mine[0].record["target_display"] if mine else target,
            "server_version": server,
            "reachable": unreachable is None,
            "healthy": health.healthy,
            "passed": failed == 0 and unreachable is None and busy is None,
            "critical_issues": critical_issues,
            "tables": tables,
            "counts": counts,
            "failed_tests": [r.nodeid for r in mine if r.outcome == "failed"],
            "findings": findings,
            "sequences_advanced": sequences,
            # A lock wait or timeout stopped the read: why, for the reports to say nothing was judged.
            **({"busy": busy} if busy else {}),
            **({"budgets": budgets} if budgets else {}),
            **({"statements": statements} if statements is not None else {}),
        }

    def sequences_advanced(self, target: str, mine: list[TestResult] | None = None) -> list[str]:
        """Sequences the target's RLS isolation tests advanced (a rollback does not undo nextval)."""
        if mine is None:
            mine = [r for r in self.results if r.record["target"] == target]
        return sorted({c for r in mine for c in r.record.get("sequences_advanced", [])})

    def tests(self) -> list[dict[str, Any]]:
        """Every test's result; a test's findings are positions in its target's ``findings`` (which are
        its tests' findings, in the order of ``results``), not copies."""
        out: list[dict[str, Any]] = []
        offsets: dict[str, int] = defaultdict(int)
        for result in self.results:
            record = dict(result.record)
            start = offsets[record["target"]]
            offsets[record["target"]] = start + len(record["findings"])
            record["findings"] = list(range(start, offsets[record["target"]]))
            test: dict[str, Any] = {"id": result.nodeid, "outcome": result.outcome, "duration": result.duration}
            if result.message:
                test["message"] = result.message
            if result.skip is not None:
                test["skip"] = result.skip
            test["record"] = record
            out.append(test)
        return out

    def summary(self) -> dict[str, Any]:
        finished = self.finished or datetime.now(UTC)
        return run_summary(
            [self.target_summary(t) for t in self.targets()],
            {
                "checked_at": finished.isoformat(timespec="seconds"),
                "started_at": self.started.isoformat(timespec="seconds"),
                # Still running when pytest-html asks (its hook may come first): the time so far.
                "duration_ms": self.duration_ms or int((time.perf_counter() - self._clock) * 1000),
                "pgcontract": __version__,
                "contract": str(self.contract_path),
                "contract_sha256": contract_digest(self.contract_path) if self.contract_path.exists() else None,
                "git_commit": git_commit(
                    self.contract_path if self.contract_path.is_dir() else self.contract_path.parent
                ),
            },
            self.tests(),
            self.shard,
        )


def run_summary(
    targets: list[dict[str, Any]],
    about: dict[str, Any],
    tests: list[dict[str, Any]],
    shard: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary's top level from its targets' summaries (the same for one run and for merged shards);
    ``about`` holds checked_at, started_at, duration_ms, pgcontract, contract, contract_sha256, git_commit."""
    out: dict[str, Any] = {
        "summary_version": SUMMARY_VERSION,
        "healthy": all(t["healthy"] for t in targets),
        "passed": all(t["passed"] for t in targets),
        "critical_issues": [f"{t['target']}: {i}" for t in targets for i in t["critical_issues"]],
        **about,
        "targets": targets,
    }
    if len(targets) == 1:
        out["tables"] = targets[0]["tables"]
    if shard is not None:
        out["shard"] = shard
    out["tests"] = tests
    return out
