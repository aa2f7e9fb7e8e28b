"""The assertion every per-kind defect test makes: exactly this defect is reported, at its rule's level,
and no other error-level finding."""

from __future__ import annotations

from collections.abc import Callable

from pgcontract.connect import Target
from project_tests.defects import Defect
from project_tests.helpers import SCHEMAS, check, errors
from project_tests.rule_check import assert_only_rule


def assert_defect_reported(defect: Defect, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db(defect.schema)
    contract = SCHEMAS[defect.schema][1]
    assert errors(check(target, contract)) == [], "the fixture schema must pass before the defect"
    run_sql(defect.sql)
    finding = assert_only_rule(check(target, contract), defect.rule, obj=defect.obj, also=defect.also)
    assert defect.expected in finding.expected, finding.render()
    assert defect.actual in finding.actual, finding.render()
    assert finding.fix is not None, finding.render()
    assert finding.fix.sql, finding.render()
