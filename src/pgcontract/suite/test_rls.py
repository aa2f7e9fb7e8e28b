"""Row level security: static checks (read-only, safe anywhere) and the dynamic isolation matrix.

The isolation tests impersonate two synthetic users and an anonymous caller inside a transaction that
is always rolled back. Against a DSN they run only with ``--rls-live``.
"""

from __future__ import annotations

import pytest

from pgcontract.findings import Kind
from pgcontract.pytest_plugin import assert_clean, assert_erased, assert_isolated
from pgcontract.targetrun import TargetRun

__all__ = ["test_policies", "test_isolation", "test_isolation_left_nothing_behind", "test_erasure"]


@pytest.mark.pgcontract(Kind.POLICIES)
def test_policies(subject: str, run: TargetRun) -> None:
    """RLS enabled (and forced where required), the exact policy set, each policy whole."""
    assert_clean(run.findings(), subject, Kind.POLICIES)


@pytest.mark.pgcontract(Kind.ISOLATION)
def test_isolation(subject: str, run: TargetRun) -> None:
    """Users A and B each see and change only their own rows; a caller with no identity nothing."""
    assert_isolated(run.isolation(subject))


@pytest.mark.pgcontract(Kind.ISOLATION, per_target=True)
def test_isolation_left_nothing_behind(subject: str, run: TargetRun) -> None:
    """After the isolation tests' transaction is rolled back, every touched table holds what it held
    before and no test row exists."""
    left = run.finish_isolation()
    if left is None:
        pytest.skip("no isolation test ran")
    assert left == [], "the isolation tests left rows behind: " + "; ".join(left)


@pytest.mark.pgcontract(Kind.ERASURE, per_target=True)
def test_erasure(subject: str, run: TargetRun) -> None:
    """Deleting a user as the platform does leaves no row of that user: every table holding personal data
    loses the user's rows (or has the declared columns cleared); the transaction is rolled back and proven gone."""
    assert_erased(run.erasure())
