"""Every rule pgcontract can report has a test that builds exactly its defect on a real throwaway database
and asserts that this rule alone fires, at its level (``@pytest.mark.rule`` on a test that calls
``assert_only_rule``); no test names a rule that does not exist. Read from the test modules as imported
(markers and the source of the marked functions), so it does not depend on which tests ran, or where."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pgcontract.findings import Finding, Kind, Level, UnregisteredRule, declare
from pgcontract.rules import registry

HERE = Path(__file__).resolve().parent
ASSERTIONS = ("assert_only_rule(", "assert_defect_reported(")

# Rules with no test of their own yet (no test builds their defect alone): this list only shrinks (the test
# fails when one here gets a test).
UNCOVERED: frozenset[str] = frozenset()


def marked_tests() -> Iterator[tuple[str, Callable[..., object], list[str]]]:
    """(test id, function, the rules its ``rule`` markers name) of every project test that has one."""
    for path in sorted(HERE.glob("test_*.py")):
        module = importlib.import_module(f"project_tests.{path.stem}")
        for name, value in vars(module).items():
            functions = [(name, value)] if name.startswith("test_") and callable(value) else []
            if inspect.isclass(value) and name.startswith("Test"):
                functions = [(f"{name}.{n}", f) for n, f in vars(value).items() if n.startswith("test_")]
            for test_name, function in functions:
                marks = [m for m in getattr(function, "pytestmark", []) if m.name == "rule"]
                if marks:
                    yield f"{path.name}::{test_name}", function, [r for m in marks for r in m.args]


def coverage() -> dict[str, list[str]]:
    covered: dict[str, list[str]] = {}
    for test, _, rules in marked_tests():
        for rule in rules:
            covered.setdefault(rule, []).append(test)
    return covered


def test_every_marked_test_names_registered_rules_and_asserts_them_alone() -> None:
    known = registry()
    problems = []
    for test, function, rules in marked_tests():
        problems += [f"{test} names unknown rule {r!r}" for r in rules if r not in known]
        if not rules:
            problems.append(f"{test}: a rule marker with no rule")
        if not any(call in inspect.getsource(function) for call in ASSERTIONS):
            problems.append(f"{test} is marked but does not call assert_only_rule")
    assert problems == []


def test_every_registered_rule_has_a_test() -> None:
    known, covered = registry(), coverage()
    missing = sorted(set(known) - set(covered) - UNCOVERED)
    print(f"{len(known)} rules, {len(set(known) & set(covered))} with a test, {len(UNCOVERED)} listed as uncovered")
    assert missing == [], f"rules without a test (add one, marked @pytest.mark.rule): {missing}"
    assert sorted(UNCOVERED & set(covered)) == [], "covered now: remove them from UNCOVERED"
    assert sorted(UNCOVERED - set(known)) == [], "not registered: remove them from UNCOVERED"


def test_a_finding_of_an_unregistered_rule_is_refused() -> None:
    with pytest.raises(UnregisteredRule, match="not registered"):
        Finding("table.mising", Kind.TABLE, "public.t", "public.t", "typo", "x", "y")


def test_a_finding_at_an_undeclared_level_is_refused() -> None:
    with pytest.raises(UnregisteredRule, match="declared at"):
        Finding("table.missing", Kind.TABLE, "public.t", "public.t", "m", "x", "y", level=Level.WARNING)


def test_a_lint_may_be_reported_at_the_level_a_contract_sets() -> None:
    finding = Finding("lint.unindexed_foreign_keys", Kind.LINTS, "x", "x", "m", "x", "y", level=Level.ERROR)
    assert finding.level is Level.ERROR


def test_a_rule_declared_twice_differently_is_refused() -> None:
    with pytest.raises(UnregisteredRule, match="declared twice"):
        declare(Kind.TABLE, "table.missing", levels=(Level.WARNING,))


def test_the_registry_lists_each_rule_with_its_kind_and_level() -> None:
    known = registry()
    assert known["table.missing"].kind is Kind.TABLE
    assert known["policy.extra"].levels == (Level.ERROR, Level.WARNING)
    assert known["lint.rls_enabled_no_policy"].level is Level.INFO
    assert known["isolation.update_unfiltered"].kind is Kind.ISOLATION
    assert {spec.kind for spec in known.values()} == set(Kind)
