"""`pgcontract sql`: complete, idempotent DDL. Applied to an empty database (the fixtures' fresh database
holds only the Supabase auth shim) every example contract passes; applied again, nothing changes and
nothing fails; applied to a database that already holds the schema, nothing changes either."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.catalog import Snapshot
from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import Phase, contract_ddl
from project_tests.helpers import KITCHEN_CONTRACT, SCHEMAS, check, errors, run_cli, snapshot_of

EXAMPLES = sorted(SCHEMAS)


def apply(target: Target, text: str) -> None:
    with psycopg.connect(target.dsn) as conn:
        conn.execute(text.encode())


def schema_state(target: Target) -> tuple[object, ...]:
    snapshot: Snapshot = snapshot_of(target)
    return snapshot.tables, snapshot.enums


@pytest.mark.parametrize("schema", EXAMPLES)
def test_ddl_on_an_empty_database_passes_and_applies_twice(schema: str, target: Target) -> None:
    contract = load_contract(SCHEMAS[schema][1])
    ddl = contract_ddl(contract)
    apply(target, ddl)
    assert check(target, contract).findings == []
    before = schema_state(target)
    apply(target, ddl)
    assert schema_state(target) == before
    assert check(target, contract).findings == []


@pytest.mark.parametrize("schema", EXAMPLES)
def test_ddl_on_a_database_holding_the_schema_changes_nothing(schema: str, make_db: Callable[[str], Target]) -> None:
    target = make_db(schema)
    before = schema_state(target)
    apply(target, contract_ddl(load_contract(SCHEMAS[schema][1])))
    assert schema_state(target) == before


def test_ddl_sections_follow_dependency_order() -> None:
    ddl = contract_ddl(load_contract(KITCHEN_CONTRACT))
    order = [phase.title for phase in Phase]
    sections = [line[3:] for line in ddl.splitlines() if line[3:] in order]
    assert sections == sorted(sections, key=order.index)
    assert {"schemas", "enum types", "tables", "indexes", "foreign keys", "policies", "grants"} <= set(sections)


def test_guards_take_names_as_literals_whatever_they_hold(target: Target) -> None:
    """Names holding quotes, a semicolon, a comment and the DO block's own dollar quote."""
    schema, table = "s'; --", 'x$pgcontract$"y'
    contract = Contract.model_validate(
        {
            "enums": {f'"{schema}".e$pgcontract$': ["a'b", "c$pgcontract$"]},
            "tables": {
                f'"{schema}"."{table.replace(chr(34), chr(34) * 2)}"': {
                    "columns": {"a$pgcontract$": {"type": "integer", "nullable": False}, "b": {"type": "text"}},
                    "primary_key": ["a$pgcontract$"],
                    "unique": [{"name": "u'; $pgcontract1$", "columns": ["b"]}],
                    "checks": [{"name": "c$pgcontract$", "expression": "\"a$pgcontract$\" > 0 AND b <> '$x$'"}],
                }
            },
        }
    )
    ddl = contract_ddl(contract)
    assert "$pgcontract2$" in ddl  # the body holds $pgcontract$ and $pgcontract1$
    apply(target, ddl)
    apply(target, ddl)
    assert check(target, contract).findings == []


def test_sql_command_prints_ddl_that_passes(target: Target) -> None:
    result = run_cli("sql", "--contract", str(KITCHEN_CONTRACT))
    assert result.returncode == 0, result.stderr
    apply(target, result.stdout)
    assert errors(check(target, KITCHEN_CONTRACT)) == []


def test_sql_command_with_an_invalid_contract_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntables:\n  t:\n    columns:\n      a: {tpye: int}\n", encoding="utf-8")
    result = run_cli("sql", "--contract", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "unknown field 'tpye'" in result.stderr
