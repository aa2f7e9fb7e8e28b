"""The assertion a test of one rule makes: the rule fires, at its level, and no other error-level finding
does. A test that makes it carries ``@pytest.mark.rule("the.rule")``; test_rule_registry.py checks that every
registered rule has such a test and that every marked test makes this assertion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pgcontract.findings import Finding, FindingIndex, Level, registered
from pgcontract.rls.matrix import Outcome
from pgcontract.targetrun import isolation_findings

Found = FindingIndex | Iterable[Finding] | Mapping[str, Outcome]


def as_findings(found: Found) -> list[Finding]:
    if isinstance(found, FindingIndex):
        return list(found.findings)
    if isinstance(found, Mapping):
        return [f for outcome in found.values() for f in isolation_findings(outcome)]
    return list(found)


def assert_only_rule(
    found: Found, rule: str, *, obj: str | None = None, level: Level | None = None, also: Iterable[str] = ()
) -> Finding:
    """``rule`` fires (on ``obj`` when given) at ``level`` (default: the level it is registered at), and
    every error-level finding is one of it (or of ``also``: rules the defect cannot be made without).
    Returns the (first) finding of the rule."""
    findings = as_findings(found)
    want = level if level is not None else registered(rule).level
    shown = "\n".join(f"[{f.level}] {f.render()}" for f in findings) or "(nothing found)"
    matching = [f for f in findings if f.rule == rule and (obj is None or f.object == obj)]
    assert matching, f"no {rule}{f' on {obj}' if obj else ''}; found:\n{shown}"
    assert all(f.level is want for f in matching), f"{rule} not at level {want}:\n{shown}"
    others = [f for f in findings if f.level is Level.ERROR and f not in matching and f.rule not in also]
    assert others == [], f"{rule} is not the only error:\n{shown}"
    return matching[0]
