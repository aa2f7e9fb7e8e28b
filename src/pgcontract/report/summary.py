"""The run's summary, built from the reports of the suite's tests (so it works across xdist workers):
per target, counts per category, the health report's shape (healthy, critical_issues, tables), findings.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
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
from pgcontract.health import CHECK_FAILED, UNREACHABLE, failed_report, report_from_findings

RECORD = "pgcontract"


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

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" and not (report.when == "setup" and not report.passed):
            return
        raw = next((value for name, value in report.user_properties if name == RECORD), None)
        outcome = "failed" if report.failed else ("skipped" if report.skipped else "passed")
        if raw is None:
            self.others[outcome] += 1
            return
        message = report.longreprtext.strip() if report.failed else ""
        record = json.loads(str(raw))
        nodeid = report.nodeid.removesuffix("@" + record.get("group", ""))  # pytest-xdist's group suffix
        self.results.append(TestResult(nodeid, outcome, record, message))

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
        # Tables, their status and the critical issues: the health report's own rules (pgcontract.health).
        finished = self.finished or datetime.now(UTC)
        if unreachable or busy:
            error, reason = (UNREACHABLE, unreachable) if unreachable else (CHECK_FAILED, busy)
            health = failed_report(self.load_contract(), error, str(reason), finished, 0)
            critical_issues = [str(reason)]
        else:
            index = FindingIndex([Finding.from_dict(f) for f in findings])
            health = report_from_findings(self.load_contract(), index, finished, 0)
            critical_issues = list(health.critical_issues)
        tables = health.to_dict()["tables"]
        failed = sum(c["failed"] for c in counts.values())
        server = next((r.record["server_version"] for r in mine if r.record.get("server_version")), None)
        sequences = sorted({c for r in mine for c in r.record.get("sequences_advanced", [])})
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
        }

    def summary(self) -> dict[str, Any]:
        targets = [self.target_summary(t) for t in self.targets()]
        finished = self.finished or datetime.now(UTC)
        out: dict[str, Any] = {
            "healthy": all(t["healthy"] for t in targets),
            "passed": all(t["passed"] for t in targets),
            "critical_issues": [f"{t['target']}: {i}" for t in targets for i in t["critical_issues"]],
            "checked_at": finished.isoformat(timespec="seconds"),
            "started_at": self.started.isoformat(timespec="seconds"),
            "duration_ms": self.duration_ms,
            "pgcontract": __version__,
            "contract": str(self.contract_path),
            "contract_sha256": contract_digest(self.contract_path) if self.contract_path.exists() else None,
            "git_commit": git_commit(self.contract_path if self.contract_path.is_dir() else self.contract_path.parent),
            "targets": targets,
        }
        if len(targets) == 1:
            out["tables"] = targets[0]["tables"]
        return out
