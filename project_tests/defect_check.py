"""The assertion every per-kind defect test makes: exactly this defect is reported, and nothing else."""

from __future__ import annotations

from collections.abc import Callable

from pgcontract.connect import Target
from project_tests.defects import Defect
from project_tests.helpers import SCHEMAS, check, errors


def assert_defect_reported(defect: Defect, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db(defect.schema)
    contract = SCHEMAS[defect.schema][1]
    assert errors(check(target, contract)) == [], "the fixture schema must pass before the defect"
    run_sql(defect.sql)
    found = check(target, contract).findings
    matching = [f for f in found if f.rule == defect.rule and f.object == defect.obj]
    assert matching, f"no {defect.rule} on {defect.obj}; found:\n" + "\n".join(f.render() for f in found)
    finding = matching[0]
    assert defect.expected in finding.expected, finding.render()
    assert defect.actual in finding.actual, finding.render()
    assert finding.fix is not None, finding.render()
    assert finding.fix.sql, finding.render()
