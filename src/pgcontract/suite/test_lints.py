"""Security lints that need no contract (the contract may tune them): one test per rule.

Error-level hits fail the test; warnings are reported in pytest's warnings summary.
"""

from __future__ import annotations

import pytest

from pgcontract.findings import Kind
from pgcontract.pytest_plugin import assert_clean
from pgcontract.targetrun import TargetRun

__all__ = ["test_lint"]


@pytest.mark.pgcontract(Kind.LINTS)
def test_lint(subject: str, run: TargetRun) -> None:
    """No error-level hit of this lint rule in the contract's schemas."""
    assert_clean(run.lints(), subject, Kind.LINTS)
