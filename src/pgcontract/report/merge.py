"""``pgcontract merge``: the JSON summaries of shards (``check --shard K/N --json``) made into the reports of
one run over all the targets.

The merged JSON is built from the shards' per-target summaries (never from the contract or a database, so
the merge runs anywhere); the JUnit and HTML reports are written by pytest itself, replaying every test's
recorded result (id, outcome, message or skip reason, duration, record) under the suite's own ids and
pytest.ini, so they are the reports one run writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from pgcontract.report.audit import HistoryStore
from pgcontract.report.summary import RECORD, SUMMARY_VERSION, run_summary
from pgcontract.textfile import NotUtf8, read_utf8

EXIT_OK, EXIT_VIOLATED, EXIT_CANNOT_CONNECT, EXIT_BUSY = 0, 1, 3, 4


class MergeError(ValueError):
    """Summaries that do not make one run: the message names the file and what is wrong."""


def read_summaries(paths: Sequence[Path]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in paths:
        try:
            data = json.loads(read_utf8(path))
        except NotUtf8 as exc:
            raise MergeError(f"{path}: cannot read summary: {exc.reason}") from None
        except OSError as exc:
            raise MergeError(f"{path}: cannot read summary: {exc.strerror or exc}") from None
        except (ValueError, RecursionError):
            raise MergeError(f"{path}: not a JSON summary") from None
        if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
            raise MergeError(f"{path}: not a pgcontract JSON summary")
        version = data.get("summary_version", 1)
        if version != SUMMARY_VERSION or not isinstance(data.get("tests"), list):
            raise MergeError(
                f"{path}: summary format {version}, merge reads {SUMMARY_VERSION} (written by pgcontract check"
                f" --json of pgcontract {data.get('pgcontract', '?')}): run the shards with this version"
            )
        found.append((str(path), data))
    return found


def _same(summaries: Sequence[tuple[str, dict[str, Any]]], key: str, what: str) -> Any:
    values = {name: data.get(key) for name, data in summaries}
    if len(set(values.values())) > 1:
        listed = ", ".join(f"{name}: {value}" for name, value in values.items())
        raise MergeError(f"the summaries are not of one run: their {what} differ ({listed})")
    return next(iter(values.values()))


def _target_order(summaries: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every target, in the order one run would check them: the order given (the shards carry it)."""
    shards = [(name, data.get("shard")) for name, data in summaries]
    sharded = [(name, s) for name, s in shards if s is not None]
    if not sharded:
        return [t["target"] for _, data in summaries for t in data["targets"]]
    if len(sharded) != len(shards):
        raise MergeError(f"{next(n for n, s in shards if s is None)}: not a shard's summary, the others are")
    count = _same([(n, {"count": s["count"]}) for n, s in sharded], "count", "shard counts (N of K/N)")
    names = _same([(n, {"t": tuple(s["targets"])}) for n, s in sharded], "t", "target lists")
    seen: dict[int, str] = {}
    for name, s in sharded:
        if s["index"] in seen:
            raise MergeError(f"{seen[s['index']]} and {name} are both shard {s['index']}/{count}")
        seen[s["index"]] = name
    missing = [f"{k}/{count}" for k in range(1, count + 1) if k not in seen]
    if missing:
        raise MergeError(f"shard {', '.join(missing)} missing: its targets would go unreported")
    return list(names)


def merge(summaries: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One summary of the whole run, in one run's order: targets as given; tests by suite function (in
    the suite's order), then target, then as the shard ran them."""
    if not summaries:
        raise MergeError("no summaries to merge")
    contract_sha256 = _same(summaries, "contract_sha256", "contracts (contract_sha256)")
    version = _same(summaries, "pgcontract", "pgcontract versions")
    order = {name: position for position, name in enumerate(_target_order(summaries))}
    targets: dict[str, dict[str, Any]] = {}
    for name, data in summaries:
        for target in data["targets"]:
            if target["target"] in targets:
                raise MergeError(f"target {target['target']} is in more than one summary (again in {name})")
            if target["target"] not in order:
                raise MergeError(f"{name}: target {target['target']} is not in its shard's target list")
            targets[target["target"]] = target
    functions: dict[str, int] = {}
    tests: list[tuple[tuple[int, int, int], dict[str, Any]]] = []
    for _, data in sorted(summaries, key=lambda item: (item[1].get("shard") or {}).get("index", 0)):
        for position, test in enumerate(data["tests"]):
            # A kind reported on its own after its table's test (pytest_plugin.Replay) ranks with that test.
            function = test["record"].get("within") or test["id"].split("[", 1)[0]
            rank = functions.setdefault(function, len(functions))
            tests.append(((rank, order[test["record"]["target"]], position), test))
    tests.sort(key=lambda item: item[0])
    starts = [data["started_at"] for _, data in summaries]
    ends = [data["checked_at"] for _, data in summaries]
    first = summaries[0][1]
    about = {
        "checked_at": max(ends, key=datetime.fromisoformat),
        "started_at": min(starts, key=datetime.fromisoformat),
        # Shards run side by side: the run took as long as its longest shard.
        "duration_ms": max(int(data.get("duration_ms") or 0) for _, data in summaries),
        "pgcontract": version,
        "contract": first.get("contract"),
        "contract_sha256": contract_sha256,
        "git_commit": next((data["git_commit"] for _, data in summaries if data.get("git_commit")), None),
    }
    ordered = sorted(targets.values(), key=lambda t: order[t["target"]])
    return run_summary(ordered, about, [test for _, test in tests])


def exit_code(summary: dict[str, Any]) -> int:
    """The exit code one run would give (``ResultCollector.pytest_sessionfinish``): an unreachable target
    makes it 3, else a busy one 4, else a failed test 1."""
    records = [test["record"] for test in summary["tests"]]
    if any(r.get("unreachable") for r in records):
        return EXIT_CANNOT_CONNECT
    if any(r.get("busy") for r in records):
        return EXIT_BUSY
    return EXIT_VIOLATED if any(test["outcome"] == "failed" for test in summary["tests"]) else EXIT_OK


def replay(
    summary: dict[str, Any],
    *,
    junitxml: str | None,
    html: str | None,
    passthrough: Sequence[str],
    store: HistoryStore | None = None,
) -> int:
    """Write the JUnit and HTML reports by running pytest over the recorded results: pytest's exit code.
    With ``store`` (merge's --history or --history-dsn), the HTML shows each target's last change."""
    from pgcontract.pytest_plugin import SuiteRootIds
    from pgcontract.suite import SUITE_DIR

    args = [str(SUITE_DIR), "--rootdir", str(SUITE_DIR), "-c", str(SUITE_DIR / "pytest.ini"), "-p", "no:pgcontract"]
    if junitxml:
        args += ["--junitxml", junitxml]
    if html:
        args += ["--html", html, "--self-contained-html"]
    return int(pytest.main([*args, *passthrough], plugins=[Replay(summary, SUITE_DIR, store), SuiteRootIds()]))


def _with_findings(test: dict[str, Any], findings: list[dict[str, Any]]) -> dict[str, Any]:
    record = dict(test["record"])
    record["findings"] = [findings[i] for i in record["findings"]]
    return record


class ReplayFile(pytest.File):
    def collect(self) -> list[pytest.Item]:  # the items are made by Replay, not collected
        return []


class ReplayItem(pytest.Item):
    """A suite test as it ran in a shard: the same id, outcome, message or skip, record and duration."""

    def __init__(self, *, test: dict[str, Any], record: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test
        self.user_properties.append((RECORD, json.dumps(record)))

    def runtest(self) -> None:
        if self.test["outcome"] == "failed":
            raise pytest.fail.Exception(self.test.get("message", ""), pytrace=False)
        if self.test["outcome"] == "skipped":
            pytest.skip(str(self.test["skip"][2]).removeprefix("Skipped: ") if self.test.get("skip") else "")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.name


class Replay:
    """A pytest plugin object: the merged summary's tests become the session's items."""

    def __init__(self, summary: dict[str, Any], suite_dir: Path, store: HistoryStore | None = None) -> None:
        self.summary = summary
        self.suite_dir = suite_dir
        self.store = store

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        if config.getoption("htmlpath", None) and config.pluginmanager.hasplugin("html"):
            from pgcontract.report.html import MergedHtmlReport

            config.pluginmanager.register(MergedHtmlReport(config, self.summary, self.store), "pgcontract-html")

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection(self, session: pytest.Session) -> bool:
        findings = {t["target"]: t["findings"] for t in self.summary["targets"]}
        files: dict[str, ReplayFile] = {}
        items: list[pytest.Item] = []
        for test in self.summary["tests"]:
            path, _, name = test["id"].partition("::")
            if path not in files:
                files[path] = ReplayFile.from_parent(session, path=self.suite_dir / path)
            record = _with_findings(test, findings[test["record"]["target"]])
            items.append(ReplayItem.from_parent(files[path], name=name, test=test, record=record))
        session.items = items
        session.testscollected = len(items)
        hook = session.config.hook
        hook.pytest_collection_modifyitems(session=session, config=session.config, items=items)
        hook.pytest_collection_finish(session=session)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report = outcome.get_result()
        if isinstance(item, ReplayItem) and report.when == "call":
            report.duration = float(item.test.get("duration", 0.0))
            if report.skipped and item.test.get("skip"):
                path, line, reason = item.test["skip"]
                report.longrepr = (path, line, reason)
