"""Acceptance: each single defect makes ``pgcontract check --dsn`` exit 1 with a message naming the
object, the expected and the actual state."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgcontract.connect import Target
from project_tests.defects import DEFECTS, Defect
from project_tests.helpers import SCHEMAS, run_cli


@pytest.mark.parametrize("defect", DEFECTS, ids=str)
def test_check_exits_1_naming_object_expected_actual(
    defect: Defect, make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db(defect.schema)
    run_sql(defect.sql)
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(SCHEMAS[defect.schema][1]))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert defect.obj in output
    assert f"expected: {defect.expected}" in output or defect.expected in output
    assert defect.actual in output
