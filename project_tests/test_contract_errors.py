"""A bad contract gets file:line:column, the field's path and what was expected; exit 2; no test runs;
nothing connects."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pgcontract.contract import ContractError, load_contract
from project_tests.helpers import ROOT, run_cli

UNREACHABLE = "postgresql://nobody:s3cret-pw@127.0.0.1:1/none"

CASES: dict[str, tuple[str, str, int, int]] = {
    # name: (yaml, message fragment, line, column)
    "unknown-key": (
        "version: 1\ntables:\n  t:\n    columns:\n      id: {type: uuid, nullabel: false}\n",
        "tables.t.columns.id.nullabel: unknown field 'nullabel'; expected one of: type, nullable, default",
        5,
        24,
    ),
    "wrong-type": (
        "version: 1\ntables:\n  t:\n    critical: sometimes\n",
        "tables.t.critical: Input should be a valid boolean",
        4,
        15,
    ),
    "duplicate-key": (
        "version: 1\ntables:\n  t:\n    columns:\n      id: {type: uuid}\n      id: {type: text}\n",
        "tables.t.columns.id: duplicate key 'id' (first defined on line 5)",
        6,
        7,
    ),
    "duplicate-table-spelling": (
        "version: 1\ntables:\n  t: {}\n  public.t: {}\n",
        "same table as 't'",
        4,
        3,
    ),
    "undeclared-pk-column": (
        "version: 1\ntables:\n  t:\n    columns: {id: {type: uuid}}\n    primary_key: [idd]\n",
        "tables.t.primary_key[0]: primary_key names column 'idd', which is not declared",
        5,
        19,
    ),
    "undeclared-index-column": (
        "version: 1\ntables:\n  t:\n    columns: {id: {type: uuid}}\n    indexes:\n      i: {columns: [nope]}\n",
        "tables.t.indexes.i.columns[0]: index names undeclared column 'nope'",
        6,
        21,
    ),
    "fk-to-undeclared-column": (
        "version: 1\ntables:\n  t:\n    columns: {id: {type: uuid}}\n    foreign_keys:\n"
        "      - {columns: [id], references: u(zz)}\n  u:\n    columns: {id: {type: uuid}}\n",
        "references column 'zz', which public.u does not declare",
        6,
        37,
    ),
    "bad-sql-expression": (
        "version: 1\ntables:\n  t:\n    columns:\n      d: {type: text, default: 'now('}\n",
        "tables.t.columns.d.default: not a valid SQL expression: 'now('",
        5,
        32,
    ),
    "bad-type": (
        "version: 1\ntables:\n  t:\n    columns:\n      d: {type: 'varchar(('}\n",
        "tables.t.columns.d.type: not a valid PostgreSQL type",
        5,
        17,
    ),
    "policy-clause-for-command": (
        "version: 1\ntables:\n  t:\n    rls:\n      policies:\n        p: {command: insert, using: 'true'}\n",
        "tables.t.rls.policies.p: an insert policy has no 'using' clause",
        6,
        12,
    ),
    "index-name-used-twice-in-schema": (
        "version: 1\ntables:\n  t:\n    columns: {a: {type: int}}\n    indexes:\n      i: {columns: [a]}\n"
        "  u:\n    columns: {a: {type: int}}\n    indexes:\n      i: {columns: [a]}\n",
        "index name 'i' is also used by 't'",
        10,
        7,
    ),
    "isolation-owner-and-via": (
        "version: 1\ntables:\n  t:\n    isolation: {owner: a, via: b}\n",
        "tables.t.isolation: give either 'owner' or 'via', not both",
        4,
        16,
    ),
    "isolation-via-without-foreign-key": (
        "version: 1\ntables:\n  t:\n    columns: {p: {type: uuid}}\n    isolation: {via: p}\n",
        "tables.t.isolation.via: no foreign key of this table has the columns ['p']",
        5,
        22,
    ),
    "isolation-parent-without-isolation": (
        "version: 1\ntables:\n  u: {columns: {id: {type: uuid}}}\n  t:\n    columns: {p: {type: uuid}}\n"
        "    foreign_keys: [{columns: [p], references: u(id)}]\n    isolation: {via: p}\n",
        "parent public.u must be in the contract, with isolation",
        7,
        22,
    ),
    "unknown-lint": (
        "version: 1\nlints:\n  no_such_rule: ignore\n",
        "unknown lint rule 'no_such_rule'; expected one of: rls_disabled_in_public",
        3,
        3,
    ),
    "yaml-syntax": ("version: 1\ntables:\n  t:\n    columns: [\n", "YAML syntax error", 4, 14),
    "wrong-version": ("version: 2\n", "version: Input should be 1", 1, 10),
    "not-a-mapping": ("- a\n- b\n", "a contract file is a mapping", 1, 1),
}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_bad_contract_reports_position_path_and_expectation(case: str, tmp_path: Path) -> None:
    text, fragment, line, column = CASES[case]
    path = tmp_path / "contract.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError) as caught:
        load_contract(path)
    rendered = caught.value.render()
    assert fragment in rendered
    assert f"{path}:{line}:{column}:" in rendered


def test_duplicate_table_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\ntables:\n  t: {}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("version: 1\ntables:\n  public.t: {}\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"b\.yaml:3:3: tables\['public\.t'\]: table public\.t is also defined"):
        load_contract(tmp_path)


def test_directory_contracts_merge(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\nauth: {mode: supabase}\ntables:\n  t: {}\n", encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.yml").write_text("tables:\n  u: {}\nenums:\n  e: [x]\n", encoding="utf-8")
    contract = load_contract(tmp_path)
    assert sorted(contract.tables) == ["t", "u"]
    assert contract.auth is not None
    assert list(contract.enums) == ["e"]


def test_directory_contracts_merge_roles_and_functions(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\ntables:\n  t: {}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        "roles:\n  app_user: {}\nfunctions:\n  public.f(integer):\n    returns: integer\n", encoding="utf-8"
    )
    contract = load_contract(tmp_path)
    assert list(contract.roles) == ["app_user"]
    assert list(contract.functions) == ["public.f(integer)"]


def test_duplicate_function_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("functions:\n  public.f(integer):\n    returns: integer\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("functions:\n  public.f(n int4):\n    returns: integer\n", encoding="utf-8")
    with pytest.raises(ContractError, match=r"b\.yaml:2:3: .*function public\.f\(n int4\) is also defined in"):
        load_contract(tmp_path)


def test_missing_contract_path(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such file or directory"):
        load_contract(tmp_path / "absent")


def test_cli_exits_2_before_connecting_and_runs_no_test(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(CASES["unknown-key"][0], encoding="utf-8")
    result = run_cli("check", "--dsn", UNREACHABLE, "--contract", str(path))
    assert result.returncode == 2
    assert f"{path}:5:24:" in result.stderr
    assert "passed" not in result.stdout
    assert "failed" not in result.stdout
    assert "cannot connect" not in result.stderr


def test_plain_pytest_exits_2_on_bad_contract(tmp_path: Path) -> None:
    """The suite run by plain pytest (as in a user's repository) stops at collection too."""
    path = tmp_path / "contract.yaml"
    path.write_text(CASES["duplicate-key"][0], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "--contract", str(path), "--dsn", UNREACHABLE, "-q"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "duplicate key 'id'" in result.stdout + result.stderr
    assert not re.search(r"\d+ passed", result.stdout)


def test_json_schema_command() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "tables" in schema["properties"]
    assert schema["additionalProperties"] is False
