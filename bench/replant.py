"""The bugs issue 15 found surviving the tests, planted again, one at a time, each shown to make a test fail.

    .venv/bin/python bench/replant.py                   # every plant, then all of them at once (./dev replant)
    .venv/bin/python bench/replant.py attach-other ...  # some plants (no all-at-once run)
    .venv/bin/python bench/replant.py --list            # the plants, their edits' files and their tests
    .venv/bin/python bench/replant.py --check           # every edit still applies (no test run; seconds)

Each plant is an exact edit of the source (old text -> new text in a file under ``src/pgcontract``): the
old text must occur exactly once, or the script stops saying which plant rotted, so a refactoring cannot
silently turn a plant into a no-op. Plants are applied to a copy of the checkout in a temporary directory
(never to the working tree), and the project test files that cover the plant run against that copy
(``PYTHONPATH`` points at its ``src``, so the ``pgcontract`` command run by the tests is the copy too),
with ``-x``. A plant is *killed* when at least one test **fails**: an error (a broken import, a fixture
that crashed) does not count. The tests that killed plants then run once against an unplanted copy and
must pass there (else the kill proves nothing). Last, every plant applied at once, the whole selection:
it must fail too. Exit 0 only when all of that holds.

Tests start their own throwaway PostgreSQL (``project_tests/conftest.py``); ``bench/mutate_plugin.py``
gives each run a base temp directory of its own and reuses one ``initdb``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What the tests read besides the package (as bench/mutate.py's ALSO_COPY), and the package itself.
COPY = ("src", "project_tests", "tests", "sql", "contracts", "examples", "conftest.py", "bench", "README.md", "docs")
COPY_FILES = ("pyproject.toml",)
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", ".ruff_cache", ".pytest_cache")
RUN_TIMEOUT = 900  # seconds per pytest run: a plant that makes a probe loop forever is reported, not waited for

MATRIX = "rls/matrix.py"
ISOLATION_CASE = "project_tests/test_isolation_rules.py::test_only_this_probe_catches_the_leak[{}]"
ATTACKER_LEAK = "project_tests/test_rls_attacker.py::test_leak_is_caught[{}]"
SCHEMA_RULE = "project_tests/test_rule_probes.py::test_the_schema_rule_fires_alone[{}]"
FUNCTION_CHANGE = (
    "project_tests/test_functions_realworld.py::test_each_change_fails_naming_the_function_and_repair_restores_it"
)
FAIL = "\n                self.fail(\n                    "


class Rotted(Exception):
    """A plant's old text is no longer in the source exactly once."""


@dataclass(frozen=True)
class Edit:
    file: str  # under src/pgcontract
    old: str
    new: str


@dataclass(frozen=True)
class Plant:
    id: str
    item: str  # the numbering of the thirteen survivors
    what: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]  # pytest arguments: test files, or node ids to keep a run short
    # False for a plant that edits the same text as an earlier one (the other direction of one comparison):
    # tried alone only, left out of the all-at-once run.
    together: bool = True


def _never(file: str, condition: str, after: str = "") -> Edit:
    """The ``if``/``elif`` line ``condition`` (followed by ``after``, to make it unique) made never true."""
    keyword = condition.strip().split(" ", 1)[0]
    indent = condition[: len(condition) - len(condition.lstrip())]
    return Edit(file, condition + after, f"{indent}{keyword} False:  # planted: was {condition.strip()}{after}")


PLANTS: tuple[Plant, ...] = (
    Plant(
        "update-unfiltered",
        "1",
        "the UPDATE-without-WHERE probe (isolation.update_unfiltered) reports nothing",
        (_never(MATRIX, '        if updated and "update" not in self.writes:'),),
        (ATTACKER_LEAK.format("update-using-true-renames-b-without-where"),),
    ),
    Plant(
        "attach-other",
        "2",
        "the attach probe (isolation.attach_other) tries no foreign key",
        (
            Edit(
                MATRIX,
                'for parent, values in attach if "insert" not in writes else ():',
                "for parent, values in ():  # planted",
            ),
        ),
        (ISOLATION_CASE.format("entry-key-without-the-tenant"),),
    ),
    Plant(
        "move-to-other",
        "2",
        "the move probe (isolation.move_to_other) is never run",
        (_never(MATRIX, '            if move and "update" not in writes:'),),
        (ISOLATION_CASE.format("update-check-accepts-any-owner"),),
    ),
    Plant(
        "update-other",
        "2",
        "the update-other probe (isolation.update_other) reports nothing",
        (_never(MATRIX, "            elif result.ok and result.rows:", FAIL + '"isolation.update_other"'),),
        (ISOLATION_CASE.format("update-of-others-profiles"),),
    ),
    Plant(
        "delete-other",
        "2",
        "the delete-other probe (isolation.delete_other) reports no row deleted",
        (_never(MATRIX, "            elif result.ok and result.rows:", FAIL + '"isolation.delete_other"'),),
        (ISOLATION_CASE.format("delete-policy-forgets-the-owner"),),
    ),
    Plant(
        "delete-other-by-key",
        "2",
        "the delete-other probe (isolation.delete_other) ignores a DELETE only a foreign key refused",
        (
            _never(
                MATRIX, "            elif result.sqlstate == FOREIGN_KEY_VIOLATION:", "\n                # The key is"
            ),
        ),
        (ISOLATION_CASE.format("delete-refused-only-by-a-key"),),
    ),
    Plant(
        "anonymous-insert",
        "3",
        "the anonymous-write probe (isolation.anonymous_write) tries no INSERT",
        (_never(MATRIX, "            if self.insert(new_a).ok:"),),
        (ISOLATION_CASE.format("guests-insert-threads"),),
    ),
    Plant(
        "anonymous-update",
        "3",
        "the anonymous-write probe (isolation.anonymous_write) reports no UPDATE ... WHERE",
        (
            _never(
                MATRIX,
                "            if result.ok and result.rows:",
                '\n                self.fail(\n                    "isolation.anonymous_write",\n'
                '                    f"{who} updated',
            ),
        ),
        (ISOLATION_CASE.format("guests-edit-threads"),),
    ),
    Plant(
        "anonymous-delete",
        "3",
        "the anonymous-write probe (isolation.anonymous_write) reports no DELETE ... WHERE",
        (
            _never(
                MATRIX,
                "            if result.ok and result.rows:",
                '\n                self.fail(\n                    "isolation.anonymous_write",\n'
                '                    f"{who} deleted',
            ),
        ),
        (ISOLATION_CASE.format("guests-delete-threads"),),
    ),
    Plant(
        "insert-own",
        "3",
        "the own-row probe (isolation.insert_own) accepts a refused INSERT of one's own row",
        (_never(MATRIX, '        elif "insert" in allowed and not result.ok:'),),
        (ISOLATION_CASE.format("inserts-closed"),),
    ),
    Plant(
        "update-own",
        "3",
        "the own-row probe (isolation.update_own) accepts a refused UPDATE of one's own row",
        (Edit(MATRIX, "            if command in allowed and", '            if command in allowed - {"update"} and'),),
        (ATTACKER_LEAK.format("allowed-update-refused-on-own-rows"),),
    ),
    Plant(
        "delete-own",
        "3",
        "the own-row probe (isolation.delete_own) accepts a refused DELETE of one's own row",
        (
            Edit(
                MATRIX,
                '(not result.ok or result.rows != 1):\n                reason = result.error or f"0 rows {done}"',
                '(not result.ok or result.rows != 1) and command != "delete":\n'
                '                reason = result.error or f"0 rows {done}"',
            ),
        ),
        (ATTACKER_LEAK.format("allowed-delete-refused-on-own-rows"),),
    ),
    Plant(
        "delete-unfiltered",
        "(1)",
        "the DELETE-without-WHERE probe (isolation.delete_unfiltered) reports nothing (the miss the issue found)",
        (_never(MATRIX, '        elif deleted and "delete" not in self.writes:'),),
        (ATTACKER_LEAK.format("delete-using-true-without-where"),),
    ),
    Plant(
        "delete-unfiltered-by-key",
        "(1)",
        "the DELETE-without-WHERE probe ignores a DELETE only a foreign key refused",
        (_never(MATRIX, '        if deleted and "delete" not in self.writes and refusal is not None:'),),
        ("project_tests/test_rls_delete_refused_by_key.py",),
    ),
    Plant(
        "left-behind",
        "4",
        "the proof that isolation left nothing behind always returns nothing",
        (Edit(MATRIX, "    if seeder is None or not seeder.created:", "    if True:  # planted"),),
        ("project_tests/test_rule_probes.py::test_a_row_left_behind_after_the_rollback_is_reported",),
    ),
    Plant(
        "no-lint",
        "5",
        "no lint rule runs at all",
        (Edit("lints.py", "    for rule, found in hits:", "    for rule, found in hits[:0]:  # planted"),),
        ("project_tests/test_rule_probes.py::test_the_lint_fires_on_its_defect",),
    ),
    Plant(
        "redact-text",
        "6",
        "redact_text returns the text as given",
        (
            Edit(
                "connect.py",
                '    can read the DSN."""\n    if dsn.strip():',
                '    can read the DSN."""\n    return text  # planted\n    if dsn.strip():',
            ),
        ),
        ("project_tests/test_secrets.py",),
    ),
    Plant(
        "token-prefix",
        "7",
        "any (non-empty) prefix of the admin token is accepted",
        (
            Edit(
                "server/app.py",
                "    return hmac.compare_digest(candidate.encode(), token.encode())",
                "    return bool(candidate) and token.startswith(candidate)  # planted",
            ),
        ),
        ("project_tests/test_near_misses.py",),
    ),
    Plant(
        "health-warnings",
        "8",
        "a warning makes a table DRIFT (and a critical table's report unhealthy)",
        (Edit("health.py", "        errors = [f for f in found if f.level is Level.ERROR]", "        errors = found"),),
        ("project_tests/test_health.py",),
    ),
    Plant(
        "index-invalid",
        "9",
        "index.invalid is never reported",
        (_never("checks/indexes.py", "        if not found.valid:"),),
        (SCHEMA_RULE.format("index made invalid"),),
    ),
    Plant(
        "index-table",
        "10",
        "an index on another table is reported as index.missing, not index.table",
        (_never("checks/indexes.py", "            if owner is not None:"),),
        (SCHEMA_RULE.format("index moved to another table"),),
    ),
    Plant(
        "rls-enabled-one-way",
        "11",
        "RLS enabled compared one way: enabled where the contract has it off is not reported (rls.enabled)",
        (
            Edit(
                "checks/policies.py",
                "    if rls.enabled != actual.rls_enabled:",
                "    if rls.enabled and not actual.rls_enabled:  # planted",
            ),
        ),
        (SCHEMA_RULE.format("rls enabled where the contract has it off"),),
    ),
    Plant(
        "rls-disabled-one-way",
        "11",
        "RLS enabled compared the other way: disabled where the contract has it on is not reported (rls.disabled)",
        (
            Edit(
                "checks/policies.py",
                "    if rls.enabled != actual.rls_enabled:",
                "    if not rls.enabled and actual.rls_enabled:  # planted",
            ),
        ),
        ("project_tests/test_policies.py",),
        together=False,
    ),
    Plant(
        "rls-forced-one-way",
        "11",
        "RLS forced compared one way: forced where the contract has it not forced is not reported (rls.forced)",
        (
            Edit(
                "checks/policies.py",
                "    if rls.forced is not None and rls.forced != actual.rls_forced:",
                "    if rls.forced and not actual.rls_forced:  # planted",
            ),
        ),
        (SCHEMA_RULE.format("rls forced where the contract has it not forced"),),
    ),
    Plant(
        "rls-not-forced-one-way",
        "11",
        "RLS forced compared the other way: not forced where the contract forces it is not reported (rls.not_forced)",
        (
            Edit(
                "checks/policies.py",
                "    if rls.forced is not None and rls.forced != actual.rls_forced:",
                "    if rls.forced is False and actual.rls_forced:  # planted",
            ),
        ),
        ("project_tests/test_policies.py",),
        together=False,
    ),
    Plant(
        "function-security",
        "12",
        "a function's SECURITY DEFINER/INVOKER change is ignored",
        (_never("checks/functions.py", "    if definer != found.security_definer:"),),
        (FUNCTION_CHANGE,),
    ),
    Plant(
        "function-search-path",
        "12",
        "a function's search_path change is ignored",
        (
            _never(
                "checks/functions.py",
                "    if spec.search_path is not None and _path(spec.search_path) != _path(found.search_path):",
            ),
        ),
        (FUNCTION_CHANGE,),
    ),
    Plant(
        "query-per-table",
        "13",
        "one extra catalog query per table",
        (
            Edit(
                "catalog/snapshot.py",
                "                rows[name] = cur.fetchall()\n        reading =",
                "                rows[name] = cur.fetchall()\n"
                '            for _table in rows["tables"]:  # planted\n'
                '                cur.execute(b"SELECT 1")\n'
                "        reading =",
            ),
        ),
        ("project_tests/test_smoke.py::test_a_check_sends_the_same_statements_for_two_tables_as_for_forty",),
    ),
)


def apply(src: Path, edits: Iterable[Edit], plant: str) -> None:
    """Make ``edits`` in the package under ``src`` (a copy's ``src/pgcontract``); stop if one rotted."""
    for edit in edits:
        path = src / edit.file
        if not path.is_file():
            raise Rotted(f"plant {plant}: {edit.file} does not exist under src/pgcontract")
        text = path.read_text(encoding="utf-8")
        found = text.count(edit.old)
        if found != 1:
            where = "is no longer" if found == 0 else f"occurs {found} times"
            raise Rotted(f"plant {plant}: the text to replace {where} in src/pgcontract/{edit.file}:\n{edit.old}")
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def make_copy(into: Path) -> Path:
    into.mkdir(parents=True)
    for name in COPY:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, into / name, ignore=IGNORE, symlinks=True)
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, into / name)
    for name in COPY_FILES:
        shutil.copy2(ROOT / name, into / name)
    return into


@dataclass
class Run:
    failed: list[str] = field(default_factory=list)  # node ids of tests that failed (their own assertions)
    errors: list[str] = field(default_factory=list)  # node ids (or collection) that errored
    passed: int = 0
    code: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    tail: str = ""


def _node_id(copy: Path, classname: str, name: str) -> str:
    """pytest's junit classname (``project_tests.test_x`` or ``project_tests.test_x.Class``) back to a node id."""
    parts = classname.split(".") if classname else []
    for cut in range(len(parts), 0, -1):
        path = "/".join(parts[:cut]) + ".py"
        if (copy / path).is_file():
            return "::".join([path, *parts[cut:], name])
    return f"{classname}::{name}" if classname else name


def run_tests(copy: Path, tests: Sequence[str]) -> Run:
    report = copy / f"junit-{time.monotonic_ns()}.xml"
    command = [sys.executable, "-m", "pytest", "-p", "bench.mutate_plugin", "-p", "no:randomly", "-x", "-q"]
    command += ["--junitxml", str(report), "-o", "junit_family=xunit1", *tests]
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    started = time.perf_counter()
    result = Run()
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        result.code, result.tail = done.returncode, "\n".join((done.stdout + done.stderr).splitlines()[-15:])
    except subprocess.TimeoutExpired:
        result.timed_out, result.code = True, -1
    result.seconds = time.perf_counter() - started
    if report.exists():
        for case in ET.parse(report).iter("testcase"):
            node = _node_id(copy, case.get("classname", ""), case.get("name", ""))
            if case.find("failure") is not None:
                result.failed.append(node)
            elif case.find("error") is not None:
                result.errors.append(node)
            elif case.find("skipped") is None:
                result.passed += 1
    return result


def check_all(plants: Sequence[Plant]) -> None:
    """Every plant applies, alone and (those marked so) together, to a copy of today's source."""
    with tempfile.TemporaryDirectory(prefix="pgcontract-replant-") as tmp:
        pristine = Path(tmp) / "src"
        shutil.copytree(ROOT / "src", pristine, ignore=IGNORE)
        for plant in plants:
            alone = Path(tmp) / plant.id
            shutil.copytree(pristine, alone)
            apply(alone / "pgcontract", plant.edits, plant.id)
            compile_all(alone / "pgcontract", {e.file for e in plant.edits})
        together = Path(tmp) / "together"
        shutil.copytree(pristine, together)
        for plant in plants:
            if plant.together:
                apply(together / "pgcontract", plant.edits, plant.id)
        compile_all(together / "pgcontract", {e.file for p in plants if p.together for e in p.edits})


def uncollected(plants: Sequence[Plant]) -> str:
    """pytest's complaint when a plant's test file or node id no longer exists (a renamed case), else ''."""
    tests = list(dict.fromkeys(t for p in plants for t in p.tests))
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *tests]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return "" if done.returncode == 0 else (done.stdout + done.stderr).strip()


def compile_all(package: Path, files: Iterable[str]) -> None:
    """A plant that breaks the syntax would be an import error, never a failing test: said here, at once."""
    for name in files:
        path = package / name
        try:
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
        except SyntaxError as exc:
            raise Rotted(f"a plant leaves src/pgcontract/{name} unreadable to Python: {exc}") from None


def uses_our_copy(copy: Path) -> None:
    """The copy's package is the one imported (PYTHONPATH ahead of the editable install)."""
    env = dict(os.environ, PYTHONPATH=str(copy / "src"))
    shown = subprocess.run(
        [sys.executable, "-c", "import pgcontract; print(pgcontract.__file__)"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(shown).resolve().is_relative_to(copy.resolve()):
        raise SystemExit(f"replant: the tests would import {shown}, not the copy in {copy}")


def line(status: str, name: str, seconds: float, detail: str) -> str:
    return f"{status:<9} {name:<26} {seconds:6.1f} s  {detail}"


def describe(run: Run) -> str:
    if run.failed:
        return ", ".join(run.failed)
    if run.timed_out:
        return f"no result within {RUN_TIMEOUT} s"
    if run.errors:
        return "errors only (not a failing test): " + ", ".join(run.errors)
    return f"{run.passed} passed"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plants", nargs="*", help="plant ids (default: every plant, then all at once)")
    parser.add_argument("--list", action="store_true", help="print the plants and exit")
    parser.add_argument("--check", action="store_true", help="check that every edit applies, run no test")
    args = parser.parse_args(argv)
    known = {p.id: p for p in PLANTS}
    unknown = [name for name in args.plants if name not in known]
    if unknown:
        parser.error(f"unknown plant {', '.join(unknown)}; known: {', '.join(known)}")
    chosen = [known[name] for name in args.plants] if args.plants else list(PLANTS)
    if args.list:
        for plant in chosen:
            files = ", ".join(dict.fromkeys(e.file for e in plant.edits))
            print(f"{plant.id:<26} ({plant.item}) {plant.what}\n{'':<27}edits {files}; tests {' '.join(plant.tests)}")
        return 0
    try:
        check_all(chosen)
    except Rotted as exc:
        print(f"replant: {exc}", file=sys.stderr)
        return 2
    if args.check:
        missing = uncollected(chosen)
        if missing:
            print(f"replant: a plant names tests pytest does not find:\n{missing}", file=sys.stderr)
            return 2
        print(f"replant: the {len(chosen)} plants apply to today's source, alone and together; their tests exist")
        return 0

    started = time.perf_counter()
    ok = True
    kills: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="pgcontract-replant-") as tmp:
        pristine = make_copy(Path(tmp) / "pristine")
        uses_our_copy(pristine)
        print(f"replant: {len(chosen)} plants, each on its own copy of {ROOT}", flush=True)
        for plant in chosen:
            copy = Path(tmp) / plant.id
            shutil.copytree(pristine, copy, symlinks=True)
            apply(copy / "src" / "pgcontract", plant.edits, plant.id)
            run = run_tests(copy, plant.tests)
            killed = bool(run.failed)
            ok &= killed
            if killed:
                kills[plant.id] = run.failed
            print(line("killed" if killed else "SURVIVED", plant.id, run.seconds, describe(run)), flush=True)
            if not killed and run.tail:
                print("          " + run.tail.replace("\n", "\n          "), flush=True)
            shutil.rmtree(copy, ignore_errors=True)

        # The tests that killed a plant pass on the source as it is: the failure came from the plant.
        control_ids = list(dict.fromkeys(node for nodes in kills.values() for node in nodes))
        if control_ids:
            control = run_tests(pristine, control_ids)
            clean = not control.failed and not control.errors and not control.timed_out and control.code == 0
            ok &= clean
            detail = f"{control.passed} killing tests pass unplanted" if clean else describe(control)
            print(line("control" if clean else "CONTROL!", "(no plant)", control.seconds, detail), flush=True)
            if not clean and control.tail:
                print("          " + control.tail.replace("\n", "\n          "), flush=True)

        if not args.plants:
            together = [p for p in chosen if p.together]
            copy = Path(tmp) / "together"
            shutil.copytree(pristine, copy, symlinks=True)
            for plant in together:
                apply(copy / "src" / "pgcontract", plant.edits, plant.id)
            tests = list(dict.fromkeys(t for p in together for t in p.tests))
            run = run_tests(copy, tests)
            failed = bool(run.failed)
            ok &= failed
            left_out = [p.id for p in chosen if not p.together]
            name = f"all {len(together)} at once"
            print(line("killed" if failed else "SURVIVED", name, run.seconds, describe(run)), flush=True)
            if left_out:
                print(f"          (left out, they edit the same line as another plant: {', '.join(left_out)})")
    total = time.perf_counter() - started
    killed_count = sum(1 for p in chosen if p.id in kills)
    print(f"replant: {killed_count} of {len(chosen)} plants killed in {total:.0f} s ({total / 60:.1f} min)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
