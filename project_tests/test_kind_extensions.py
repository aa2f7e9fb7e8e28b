"""Extensions as a kind: installed, in their schema, at least at a version. A database checked against its
own snapshot passes; each change fails naming the extension, expected and actual; the snapshot's SQL loads
into an empty database and passes, twice; repair holds every extension fix back (pgcontract never
installs, moves or upgrades an extension), saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.adopt import contract_from_snapshot
from pgcontract.checks.extensions import at_least
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.findings import Kind
from pgcontract.repair import check_now, plan_repair
from project_tests.empty_db import empty_database, own_contract, run_in
from project_tests.helpers import check, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE SCHEMA extensions;
CREATE EXTENSION citext WITH SCHEMA extensions;
CREATE EXTENSION pg_trgm WITH SCHEMA extensions;
CREATE TABLE public.members (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email extensions.citext NOT NULL UNIQUE,
  name text NOT NULL
);
CREATE INDEX members_name_trgm ON public.members USING gin (name extensions.gin_trgm_ops);
ALTER TABLE public.members ENABLE ROW LEVEL SECURITY;
CREATE POLICY members_read ON public.members FOR SELECT TO authenticated USING (true);
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.members FROM anon, authenticated;
"""
TRGM_INDEX = "CREATE INDEX members_name_trgm ON public.members USING gin (name extensions.gin_trgm_ops)"


@pytest.fixture
def members(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def installed_trgm(target: Target) -> str:
    return snapshot_of(target).extensions["pg_trgm"].version


def test_a_database_checked_against_its_own_snapshot_passes(members: Target, tmp_path: Path) -> None:
    path = snapshot_file(members, tmp_path)
    contract = load_contract(path)
    assert set(contract.extensions) == {"citext", "pg_trgm"}  # plpgsql, always there, left out
    trgm = contract.extensions["pg_trgm"]
    assert (trgm.in_schema, trgm.min_version) == ("extensions", installed_trgm(members))
    result = run_cli("check", "--dsn", members.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# One change each: (statement, rule, expected, actual); the finding is always on pg_trgm.
CHANGES = {
    "missing": ("DROP EXTENSION pg_trgm CASCADE", "extension.missing", "installed in extensions", "(none)"),
    "other schema": ("ALTER EXTENSION pg_trgm SET SCHEMA public", "extension.schema", "extensions", "public"),
    "too old": (
        f"DROP EXTENSION pg_trgm CASCADE; CREATE EXTENSION pg_trgm WITH SCHEMA extensions VERSION '1.3'; {TRGM_INDEX}",
        "extension.version",
        ">= {installed}",
        "1.3",
    ),
}


# What a change cannot be made without: the trigram index goes (or moves) with its operator class.
CONSEQUENCES = {"missing": ("index.missing",), "other schema": ("index.columns",)}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_extension_and_repair_holds_it_back(
    change: str, members: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, expected, actual = CHANGES[change]
    installed = installed_trgm(members)
    path = own_contract(members, tmp_path)
    run_sql(statement)
    index = check(members, load_contract(path))
    assert_only_rule(index, rule, obj="pg_trgm", also=CONSEQUENCES.get(change, ()))
    found = [f for f in index.findings if f.kind is Kind.EXTENSIONS]
    assert [(f.rule, f.object, f.expected, f.actual) for f in found] == [
        (rule, "pg_trgm", expected.format(installed=installed), actual)
    ]
    result = run_cli("check", "--dsn", members.dsn, "--contract", str(path))
    assert result.returncode == 1
    assert f"[{rule}] pg_trgm" in result.stdout
    with connect(members) as conn:
        plan = plan_repair(check_now(conn, load_contract(path), DEFAULT_LIMITS).findings)
    (held,) = [h for h in plan.held if f"{rule}:pg_trgm" in h.serves]
    assert held.reason.startswith("manual: ")
    assert not [s for s in plan.statements if "EXTENSION" in s.sql]


def test_an_older_version_than_needed_is_the_only_failure_a_newer_one_passes() -> None:
    assert at_least("1.10", "1.9")
    assert at_least("1.6", "1.6")
    assert at_least("3.4.2", "3.4")
    assert not at_least("1.3", "1.6")
    assert not at_least("1.9", "1.10")


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_twice(members: Target, tmp_path: Path) -> None:
    path = own_contract(members, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert 'CREATE EXTENSION IF NOT EXISTS "citext" WITH SCHEMA "extensions";' in ddl.stdout
    # The extension before the table whose column has its type.
    assert ddl.stdout.index('EXTENSION IF NOT EXISTS "citext"') < ddl.stdout.index('"public"."members" (')
    # The index names the extension's operator class with its schema: `extensions` need not be on the
    # search_path of whoever runs the SQL.
    assert 'USING "gin" ("name" "extensions"."gin_trgm_ops")' in ddl.stdout
    ddl_text = ddl.stdout
    with empty_database(members) as empty:
        run_in(empty, ddl_text)
        first = run_cli("check", "--dsn", empty.dsn, "--contract", str(path))
        assert first.returncode == 0, first.stdout + first.stderr
        before = contract_from_snapshot(snapshot_of(empty))
        run_in(empty, ddl_text)
        assert contract_from_snapshot(snapshot_of(empty)) == before


def test_an_unquoted_version_is_a_contract_error(tmp_path: Path) -> None:
    """YAML reads 1.10 as the number 1.1: a version must be text."""
    path = tmp_path / "c.yaml"
    path.write_text("extensions:\n  citext: {min_version: 1.10}\n", encoding="utf-8")
    result = run_cli("validate", "--contract", str(path))
    assert result.returncode == 2
    assert "write the version quoted" in result.stderr
