"""Defects of kind 'table', each made in a fresh throwaway database, are reported (see defects.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgcontract.connect import Target
from project_tests.defect_check import assert_defect_reported
from project_tests.defects import Defect, of_kind, rules_of

KIND = "table"


@pytest.mark.rule(*rules_of(of_kind(KIND)))
@pytest.mark.parametrize("defect", of_kind(KIND), ids=str)
def test_defect_is_reported(defect: Defect, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    assert_defect_reported(defect, make_db, run_sql)
