"""Repair plans: every defect of the contract engine is repaired (round trip) unless its fix is hazardous,
in which case the fix is printed commented out under a warning and none of it runs; no uncommented
destructive statement is ever printed or run; fixes are deduplicated and ordered by dependency."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgcontract.connect import DEFAULT_LIMITS, SessionLimits, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import Phase
from pgcontract.findings import Finding, Fix, Hazard, Kind, Level
from pgcontract.repair import (
    RepairPlan,
    Statement,
    apply_plan,
    check_now,
    comment,
    parse_statements,
    plan_repair,
    render_plan,
)
from project_tests.defects import DEFECTS, Defect
from project_tests.helpers import SCHEMAS, check, errors

# Defects whose fix is hazardous: printed commented out, never run, so they remain after a repair.
HAZARDOUS = {
    "column-retyped",  # ALTER COLUMN ... TYPE: rewrites the table under an exclusive lock; values may not convert
    "column-numeric-scale",  # the same (the dropped policy of this defect is re-created)
    "column-varchar-length",  # the same
    "not-null-lost",  # SET NOT NULL: scans the table under an exclusive lock; fails on stored NULLs
    "generated-changed",  # the column is dropped and added again
    "pk-dropped",  # builds a unique index under an exclusive lock; fails on duplicates
    "pk-changed",  # the same, and drops the key other tables' foreign keys may use
    "unique-dropped",  # builds a unique index blocking writes; fails on duplicates
    "enum-value-added",  # PostgreSQL cannot drop an enum value: replace the type, rewrite its columns
    "enum-dropped",  # the type is created again (safe), but the column left as text needs a type change
}

# What no uncommented statement of a repair may be (checked on PostgreSQL's parse of the printed script).
DESTRUCTIVE_KINDS = {"TruncateStmt", "DeleteStmt", "UpdateStmt", "RenameStmt", "DropdbStmt", "DropRoleStmt"}
DESTRUCTIVE_ALTERS = {"AT_DropColumn", "AT_AlterColumnType", "AT_SetNotNull"}


def destructive(script: str) -> list[str]:
    found = []
    for statement, node in parse_statements(script):
        ((kind, body),) = node.items()
        alters = {cmd["AlterTableCmd"]["subtype"] for cmd in body.get("cmds", [])}
        if (
            kind in DESTRUCTIVE_KINDS
            or (kind == "DropStmt" and body["removeType"] not in ("OBJECT_INDEX", "OBJECT_POLICY"))
            or (kind == "AlterTableStmt" and alters & DESTRUCTIVE_ALTERS)
            or body.get("behavior") == "DROP_CASCADE"
        ):
            found.append(statement)
    return found


def repair(target: Target, contract: Contract, mode: str = "apply") -> tuple[RepairPlan, str, list[Finding]]:
    """Plan and run a repair (``apply``: as --apply does; ``script``: the printed SQL, as psql would)."""
    with connect(target) as conn:
        found = check_now(conn, contract, DEFAULT_LIMITS).findings
        # A round trip that found nothing to repair proves nothing.
        assert found, "no defect found before the repair"
        plan = plan_repair(found)
        script = render_plan(plan, DEFAULT_LIMITS)
        if mode == "apply":
            apply_plan(conn, plan, DEFAULT_LIMITS)
    if mode == "script":
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute(script.encode())
    return plan, script, errors(check(target, contract))


def held_ids(plan: RepairPlan) -> set[str]:
    return {finding_id for held in plan.held for finding_id in held.serves}


# The printed script runs the same statements as --apply, wrapped in BEGIN/SET LOCAL/COMMIT and comments:
# run as printed for a sample covering every kind of statement a fix holds.
SCRIPT_SAMPLE = {
    "table-renamed",
    "odd-column-dropped",
    "identity-lost",
    "fk-action-changed",
    "check-changed",
    "index-unique-lost",
    "enum-dropped",
    "rls-force-removed",
    "policy-added",
    "policy-with-check-changed",
    "grant-added",
}
ROUND_TRIPS = [pytest.param(d, "apply", id=f"{d}-apply") for d in DEFECTS] + [
    pytest.param(d, "script", id=f"{d}-script") for d in DEFECTS if d.id in SCRIPT_SAMPLE
]


@pytest.mark.parametrize(("defect", "mode"), ROUND_TRIPS)
def test_repair_round_trip(
    defect: Defect, mode: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db(defect.schema)
    run_sql(defect.sql)
    contract = load_contract(SCHEMAS[defect.schema][1])
    assert [f for f in check(target, contract).findings if (f.rule, f.object) == (defect.rule, defect.obj)]
    plan, script, left = repair(target, contract, mode)
    assert destructive(script) == []
    # Everything safe was repaired; everything held back is still there, so none of it ran.
    assert {f.id for f in left} == held_ids(plan), script
    assert bool(plan.held) == (defect.id in HAZARDOUS), script
    for held in plan.held:
        assert comment(held.sql) in script
        assert comment(f"WARNING: not applied: {held.reason}") in script
        assert any(hazard in held.reason for hazard in Hazard)


def test_findings_sharing_a_fix_give_one_re_create(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("kitchen")
    run_sql(
        "DROP INDEX organizations_name_lower_idx;"
        " CREATE INDEX organizations_name_lower_idx ON organizations USING hash (upper(name))"
    )
    plan, script, left = repair(target, load_contract(SCHEMAS["kitchen"][1]))
    assert left == []
    index = [s for s in plan.statements if "organizations_name_lower_idx" in s.sql]
    assert [s.sql.split(" ")[:3] for s in index] == [["DROP", "INDEX", "IF"], ["CREATE", "UNIQUE", "INDEX"]]
    assert {rule.split(":")[0] for rule in index[1].serves} == {
        "index.columns",
        "index.unique",
        "index.method",
        "index.predicate",
    }
    assert script.count("CREATE UNIQUE INDEX") == 1


@pytest.mark.parametrize(
    ("schema", "drift", "first", "then"),
    [
        ("chat", "DROP TABLE sam_conversation_messages, sam_conversation_threads", "", ""),
        (
            "kitchen",
            'DROP SCHEMA "Odd Schema" CASCADE; DROP TABLE memberships, organizations; DROP TYPE member_role',
            "",
            "",
        ),
        # organizations comes first in the contract, but its policies read memberships.
        (
            "kitchen",
            "ALTER TABLE memberships DROP COLUMN role CASCADE",
            "policy.missing:public.organizations.Owners change their organizations",
            "column.missing:public.memberships.role",
        ),
        (
            "kitchen",
            "DROP TABLE memberships CASCADE",
            "policy.missing:public.organizations.Members read their organizations",
            "table.missing:public.memberships",
        ),
    ],
    ids=["chat-everything", "kitchen-everything", "column-a-policy-reads", "table-a-policy-reads"],
)
def test_fixes_run_in_dependency_order(
    schema: str, drift: str, first: str, then: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db(schema)
    run_sql(drift)
    contract = load_contract(SCHEMAS[schema][1])
    if first:
        ids = [f.id for f in check(target, contract).findings]
        assert ids.index(first) < ids.index(then), "the findings come in the wrong order for this test"
    plan, script, left = repair(target, contract, "script")
    assert left == [], script
    assert plan.held == []


def test_a_warning_is_left_alone(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(
        "CREATE POLICY \"Narrow\" ON public.sam_conversation_threads AS RESTRICTIVE FOR SELECT USING (status <> 'x')"
    )
    plan, _script, left = repair(chat_db, load_contract(SCHEMAS["chat"][1]))
    assert left == []
    assert plan.statements == []
    assert "a warning, not a violation" in plan.held[0].reason
    assert [f.level for f in check(chat_db, SCHEMAS["chat"][1]).findings] == [Level.WARNING]


def _finding(sql: str, *hazards: Hazard, obj: str = "public.t.i") -> Finding:
    fix = Fix(sql=sql, hazards=hazards, note="why" if hazards else "")
    return Finding("index.missing", Kind.INDEXES, "public.t", obj, "index is missing", "(a)", "absent", fix)


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE t;",
        "ALTER TABLE t DROP COLUMN a;",
        "ALTER TABLE t ALTER COLUMN a TYPE bigint;",
        "ALTER TABLE t ALTER COLUMN a SET NOT NULL;",
        "DROP TYPE e;",
        "DROP SCHEMA s;",
        "TRUNCATE t;",
        "DELETE FROM t;",
        "UPDATE t SET a = 1;",
        "ALTER TABLE t RENAME TO u;",
        "DROP INDEX i CASCADE;",
        "ALTER TABLE t DROP CONSTRAINT c CASCADE;",
        "SELECT pg_terminate_backend(1);",
        "ALTER TYPE e RENAME VALUE 'a' TO 'b';",
    ],
)
def test_a_destructive_statement_is_held_even_without_a_declared_hazard(statement: str) -> None:
    plan = plan_repair([_finding("CREATE INDEX i ON t (a);\n" + statement)])
    assert plan.statements == []
    assert plan.held[0].reason.startswith("not a statement repair runs")
    assert destructive(render_plan(plan, DEFAULT_LIMITS)) == []


def test_nothing_in_a_name_can_end_a_comment() -> None:
    """A held fix is commented out line by line; a carriage return ends an SQL comment as a newline does."""
    evil = 'ALTER TABLE "a\rDROP TABLE users; --\nb" ALTER COLUMN x TYPE int;'
    plan = plan_repair([_finding(evil, Hazard.DATA_LOSS, obj="public.a\rDROP TABLE users;\u2028x")])
    script = render_plan(plan, DEFAULT_LIMITS, ["header\rDROP TABLE users;"])
    assert parse_statements(script) == []


def test_statements_are_sorted_and_annotated() -> None:
    findings = [
        _finding("CREATE POLICY p ON t USING (a > 0);\n-- x\nDROP POLICY IF EXISTS q ON t;"),
        _finding("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int;", obj="public.t.a"),
        _finding("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;"),
    ]
    plan = plan_repair(findings)
    assert [s.sql.split(" ")[0:3] for s in plan.statements] == [
        ["ALTER", "TABLE", "t"],
        ["ALTER", "TABLE", "t"],
        ["ALTER", "TABLE", "t"],
        ["CREATE", "POLICY", "p"],
        ["DROP", "POLICY", "IF"],
    ]
    assert "VALIDATE" in plan.statements[2].sql
    script = render_plan(plan, DEFAULT_LIMITS)
    assert script.index("-- columns") < script.index("-- check constraints") < script.index("-- policies")
    assert "-- fixes index.missing:public.t.a" in script


def _statement_kinds(script: str) -> list[Any]:
    return [next(iter(node)) for _, node in parse_statements(script)]


def test_the_safe_part_is_one_transaction_with_limits() -> None:
    plan = plan_repair([_finding("CREATE INDEX i ON t (a);")])
    script = render_plan(plan, DEFAULT_LIMITS)
    assert _statement_kinds(script) == [
        "TransactionStmt",
        "VariableSetStmt",
        "VariableSetStmt",
        "IndexStmt",
        "TransactionStmt",
    ]
    assert "SET LOCAL lock_timeout = '2s';" in script
    assert "SET LOCAL statement_timeout = '30s';" in script


def test_apply_sets_the_limits_for_its_transaction_only(chat_db: Target) -> None:
    probe = (
        "CREATE TABLE public.probe AS SELECT current_setting('lock_timeout') AS lock_timeout,"
        " current_setting('statement_timeout') AS statement_timeout, now() = statement_timestamp() AS first"
    )
    plan = RepairPlan(statements=[Statement(Phase.TABLES, "SELECT 1;", []), Statement(Phase.TABLES, probe, [])])
    limits = SessionLimits(statement_timeout="7s", lock_timeout="3s")
    with connect(chat_db) as conn:
        conn.autocommit = True  # apply_plan must not run under autocommit, where the limits would do nothing
        assert len(apply_plan(conn, plan, limits).applied) == 2
        assert conn.execute("SELECT * FROM public.probe").fetchone() == ("3s", "7s", False)
        conn.rollback()
        assert conn.execute("SHOW lock_timeout").fetchone() == ("0",)
