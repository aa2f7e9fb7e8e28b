"""Publications as a kind (Supabase Realtime's supabase_realtime): FOR ALL TABLES, the operations, exactly
the published tables with their column lists and row filters. A database checked against its own snapshot
passes; each change fails naming the publication, expected and actual; the snapshot's SQL loads into an
empty database and passes, twice; repair restores each (ADD/DROP TABLE, SET publish), and holds back the
one change PostgreSQL cannot make in place (FOR ALL TABLES)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.adopt import contract_from_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.findings import Kind
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.empty_db import empty_database, own_contract, run_in
from project_tests.helpers import check, errors, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TABLE public.rooms (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL,
  private boolean NOT NULL DEFAULT false
);
ALTER TABLE public.rooms REPLICA IDENTITY FULL;
CREATE TABLE public.messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id bigint NOT NULL REFERENCES public.rooms (id),
  body text NOT NULL,
  internal_note text
);
CREATE TABLE public.audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text NOT NULL);
ALTER TABLE public.rooms ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY rooms_read ON public.rooms FOR SELECT TO authenticated USING (NOT private);
CREATE POLICY messages_read ON public.messages FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.rooms r WHERE r.id = room_id));
CREATE POLICY audit_none ON public.audit_log FOR SELECT TO authenticated USING (false);
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.rooms, public.messages, public.audit_log FROM anon, authenticated;
CREATE PUBLICATION supabase_realtime
  FOR TABLE public.messages (id, room_id, body), public.rooms WHERE (NOT private)
  WITH (publish = 'insert, update, delete');
CREATE PUBLICATION everything FOR ALL TABLES;
"""
REALTIME = "supabase_realtime"


@pytest.fixture
def chat(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(chat: Target, tmp_path: Path) -> None:
    path = snapshot_file(chat, tmp_path)
    contract = load_contract(path)
    realtime = contract.publications[REALTIME]
    assert realtime.operations == ["insert", "update", "delete"]
    assert not realtime.all_tables
    tables = {str(name): spec for name, spec in realtime.table_map.items()}
    assert set(tables) == {"public.messages", "public.rooms"}
    assert tables["public.messages"].columns == ["id", "room_id", "body"]
    assert tables["public.rooms"].where is not None
    assert "private" in tables["public.rooms"].where
    assert contract.publications["everything"].all_tables
    result = run_cli("check", "--dsn", chat.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# One change each: (statement, rule, the finding's object).
CHANGES = {
    "missing": (f"DROP PUBLICATION {REALTIME}", "publication.missing", REALTIME),
    "table added": (
        f"ALTER PUBLICATION {REALTIME} ADD TABLE public.audit_log",
        "publication.table_extra",
        f"{REALTIME} table public.audit_log",
    ),
    "table removed": (
        f"ALTER PUBLICATION {REALTIME} DROP TABLE public.rooms",
        "publication.table_missing",
        f"{REALTIME} table public.rooms",
    ),
    "column list dropped": (
        f"ALTER PUBLICATION {REALTIME} SET TABLE public.messages, public.rooms WHERE (NOT private)",
        "publication.table_columns",
        f"{REALTIME} table public.messages",
    ),
    "row filter dropped": (
        f"ALTER PUBLICATION {REALTIME} DROP TABLE public.rooms; ALTER PUBLICATION {REALTIME} ADD TABLE public.rooms",
        "publication.table_where",
        f"{REALTIME} table public.rooms",
    ),
    "operations": (f"ALTER PUBLICATION {REALTIME} SET (publish = 'insert')", "publication.operations", REALTIME),
}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_publication_and_repair_restores_it(
    change: str, chat: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj = CHANGES[change]
    contract = load_contract(own_contract(chat, tmp_path))
    run_sql(statement)
    index = check(chat, contract)
    assert_only_rule(index, rule, obj=obj)
    found = index.findings
    assert [(f.rule, f.object) for f in found] == [(rule, obj)]
    assert found[0].expected != found[0].actual
    with connect(chat) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        assert not plan.unfixable
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(chat, contract)) == []


def test_for_all_tables_switched_off_fails_and_repair_holds_it_back(
    chat: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(chat, tmp_path)
    run_sql("DROP PUBLICATION everything; CREATE PUBLICATION everything FOR TABLE public.audit_log")
    result = run_cli("check", "--dsn", chat.dsn, "--contract", str(path))
    assert result.returncode == 1
    assert "[publication.all_tables] everything" in result.stdout
    with connect(chat) as conn:
        plan = plan_repair(check_now(conn, load_contract(path), DEFAULT_LIMITS).findings)
    (held,) = plan.held
    assert held.serves == ("publication.all_tables:everything",)
    assert held.reason.startswith("manual: ")


def test_widened_column_list_and_filter_show_expected_and_actual(
    chat: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(chat, tmp_path))
    run_sql(f"ALTER PUBLICATION {REALTIME} SET TABLE public.messages (id, room_id, body, internal_note), public.rooms")
    found = {f.rule: f for f in check(chat, contract).findings if f.kind is Kind.PUBLICATIONS}
    assert set(found) == {"publication.table_columns", "publication.table_where"}
    assert (found["publication.table_columns"].expected, found["publication.table_columns"].actual) == (
        "[id, room_id, body]",
        "[id, room_id, body, internal_note]",
    )
    assert found["publication.table_where"].actual == "(none)"


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_twice(chat: Target, tmp_path: Path) -> None:
    path = own_contract(chat, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert "CREATE PUBLICATION \"everything\" FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');" in (
        ddl.stdout
    )
    with empty_database(chat) as empty:
        run_in(empty, ddl.stdout)
        first = run_cli("check", "--dsn", empty.dsn, "--contract", str(path))
        assert first.returncode == 0, first.stdout + first.stderr
        before = contract_from_snapshot(snapshot_of(empty))
        run_in(empty, ddl.stdout)
        assert contract_from_snapshot(snapshot_of(empty)) == before
