"""Privileges as a kind: table and column grants, schema USAGE/CREATE and default privileges. A database
checked against its own snapshot passes; each grant widened or narrowed fails naming the object, expected
and actual; the snapshot's SQL loads into an empty database and passes, twice; repair restores each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.adopt import contract_from_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import contract_ddl
from pgcontract.names import QualifiedName
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.empty_db import empty_database, own_contract, run_in
from project_tests.helpers import check, errors, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

# Roles are the server's: created once, whichever test comes first.
SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_reader') THEN CREATE ROLE notes_reader NOLOGIN; END IF;
END $$;
CREATE SCHEMA app;
ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO notes_reader;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE TABLE app.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner text NOT NULL,
  body text NOT NULL,
  secret text
);
ALTER TABLE app.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON app.notes TO authenticated USING (owner = current_setting('app.user', true));
CREATE POLICY readers ON app.notes FOR SELECT TO notes_reader USING (true);
REVOKE ALL ON app.notes FROM notes_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON app.notes TO authenticated;
GRANT SELECT (id, body) ON app.notes TO notes_reader;
GRANT USAGE ON SCHEMA app TO authenticated, notes_reader;
"""
NOTES = "app.notes"


@pytest.fixture
def notes(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(notes: Target, tmp_path: Path) -> None:
    path = snapshot_file(notes, tmp_path)
    contract = load_contract(path)
    table = contract.table_map[next(n for n in contract.table_map if str(n) == NOTES)]
    assert table.grants is not None
    assert table.grants["authenticated"] == ["delete", "insert", "select", "update"]
    assert table.grants["anon"] == []
    assert table.grants["public"] == []
    assert table.grants["notes_reader"] == []
    assert table.column_grants == {"notes_reader": {"body": ["select"], "id": ["select"]}}
    assert contract.privileges is not None
    assert contract.privileges.schemas["app"]["notes_reader"] == ["usage"]
    result = run_cli("check", "--dsn", notes.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_widened_grant_fails_the_check(notes: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    """Issue 10: GRANT INSERT ... TO a role left `check` at exit 0."""
    path = own_contract(notes, tmp_path)
    run_sql("GRANT INSERT ON app.notes TO notes_reader")
    result = run_cli("check", "--dsn", notes.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout
    assert "[grant.extra] app.notes.grants to notes_reader" in result.stdout


def test_grants_all_writes_every_grantee(notes: Target, run_sql: Callable[[str], None]) -> None:
    run_sql("CREATE ROLE notes_auditor_x NOLOGIN; GRANT SELECT ON app.notes TO notes_auditor_x")
    try:
        default = contract_from_snapshot(snapshot_of(notes))["tables"][NOTES]["grants"]
        every = contract_from_snapshot(snapshot_of(notes), grants="all")["tables"][NOTES]["grants"]
        none = contract_from_snapshot(snapshot_of(notes), grants="none")["tables"][NOTES]
    finally:
        run_sql("DROP OWNED BY notes_auditor_x; DROP ROLE notes_auditor_x")
    assert "notes_auditor_x" not in default
    assert every["notes_auditor_x"] == ["select"]
    assert "anon" not in every  # all: the grantees found, none invented
    assert "grants" not in none
    assert "column_grants" not in none


# One change each: (statement, rule, the finding's object, expected, actual).
CHANGES = {
    "table grant widened": (
        "GRANT INSERT ON app.notes TO anon",
        "grant.extra",
        "app.notes.grants to anon",
        "[]",
        "[insert]",
    ),
    "table grant narrowed": (
        "REVOKE DELETE ON app.notes FROM authenticated",
        "grant.missing",
        "app.notes.grants to authenticated",
        "[delete, insert, select, update]",
        "[insert, select, update]",
    ),
    "granted to PUBLIC": (
        "GRANT SELECT ON app.notes TO PUBLIC",
        "grant.extra",
        "app.notes.grants to public",
        "[]",
        "[select]",
    ),
    "column grant widened": (
        "GRANT SELECT (secret) ON app.notes TO notes_reader",
        "grant.column_extra",
        "app.notes.secret grants to notes_reader",
        "[]",
        "[select]",
    ),
    "column grant narrowed": (
        "REVOKE SELECT (body) ON app.notes FROM notes_reader",
        "grant.column_missing",
        "app.notes.body grants to notes_reader",
        "[select]",
        "[]",
    ),
    "schema usage to anon": (
        "GRANT USAGE ON SCHEMA app TO anon",
        "schema_grant.extra",
        "schema app grants to anon",
        "[]",
        "[usage]",
    ),
    "schema create": (
        "GRANT CREATE ON SCHEMA app TO authenticated",
        "schema_grant.extra",
        "schema app grants to authenticated",
        "[usage]",
        "[create, usage]",
    ),
    "schema usage revoked": (
        "REVOKE USAGE ON SCHEMA app FROM notes_reader",
        "schema_grant.missing",
        "schema app grants to notes_reader",
        "[usage]",
        "[]",
    ),
    "default privileges widened": (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT INSERT ON TABLES TO notes_reader",
        "default_privilege.extra",
        "defaults of postgres in app on tables grants to notes_reader",
        "[select]",
        "[insert, select]",
    ),
    "default privileges narrowed": (
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE SELECT ON TABLES FROM notes_reader",
        "default_privilege.missing",
        "defaults of postgres in app on tables grants to notes_reader",
        "[select]",
        "[]",
    ),
    "built-in default restored": (
        "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
        "default_privilege.extra",
        "defaults of postgres on functions grants to public",
        "[]",
        "[execute]",
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_object_and_repair_restores_it(
    change: str, notes: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj, expected, actual = CHANGES[change]
    contract = load_contract(own_contract(notes, tmp_path))
    run_sql(statement)
    index = check(notes, contract)
    assert_only_rule(index, rule, obj=obj)
    found = index.findings
    assert [(f.rule, f.object, f.expected, f.actual) for f in found] == [(rule, obj, expected, actual)]
    with connect(notes) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        assert not plan.unfixable
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(notes, contract)) == []


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_twice(notes: Target, tmp_path: Path) -> None:
    path = own_contract(notes, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "app" GRANT SELECT ON TABLES TO "notes_reader";' in (
        ddl.stdout
    )
    assert 'GRANT SELECT ("body"), SELECT ("id")' not in ddl.stdout
    assert 'GRANT SELECT ("body", "id") ON "app"."notes" TO "notes_reader";' in ddl.stdout
    with empty_database(notes) as empty:
        run_in(empty, ddl.stdout)
        first = run_cli("check", "--dsn", empty.dsn, "--contract", str(path))
        assert first.returncode == 0, first.stdout + first.stderr
        before = contract_from_snapshot(snapshot_of(empty), grants="all")
        run_in(empty, ddl.stdout)
        assert contract_from_snapshot(snapshot_of(empty), grants="all") == before


def test_a_partition_sql_creates_gets_its_parents_grants_not_the_default_privileges(notes: Target) -> None:
    """Default privileges (here: anon may do anything with new tables in app) must not open a partition the
    contract declares only under its parent: read directly, it gives no more than the parent."""
    contract = Contract.model_validate(
        {
            "privileges": {
                "defaults": [{"role": "postgres", "schema": "app", "objects": "tables", "grants": {"anon": ["select"]}}]
            },
            "tables": {
                "app.events": {
                    "columns": {"at": {"type": "date"}},
                    "partition_by": "RANGE (at)",
                    "partitions": {"app.events_2025": "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"},
                    "grants": {"anon": [], "authenticated": ["select"]},
                }
            },
        }
    )
    with empty_database(notes) as empty:
        run_in(empty, contract_ddl(contract))
        tables = snapshot_of(empty).tables
    for name in ("events", "events_2025"):
        table = tables[QualifiedName("app", name)]
        assert (name, table.grants.get("anon"), table.grants.get("authenticated")) == (
            name,
            None,
            frozenset({"select"}),
        )
