"""Triggers as real schemas hold them: the signup trigger on auth.users (a platform table the contract does
not own, running the application's SECURITY DEFINER function), a BEFORE UPDATE OF ... WHEN trigger, a
statement trigger with a transition table and an argument, a disabled one, one on a partitioned table (its
clones on the partitions are not the application's). A database checked against its own snapshot passes;
the snapshot's DDL loads into an emptied database and applies twice unchanged; each single change fails
naming the trigger, expected against actual, and repair restores it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.adopt import contract_from_snapshot, dump_contract
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.findings import Kind
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TABLE public.profiles (
  id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  email text,
  display_name text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_name text NOT NULL,
  op text NOT NULL,
  row_count bigint
);
CREATE FUNCTION public.handle_new_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
  AS $$ BEGIN INSERT INTO public.profiles (id, email) VALUES (new.id, new.email); RETURN new; END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
CREATE FUNCTION public.touch_updated_at() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN new.updated_at := now(); RETURN new; END $$;
CREATE TRIGGER profiles_touch BEFORE UPDATE OF email, display_name ON public.profiles
  FOR EACH ROW WHEN (old.email IS DISTINCT FROM new.email OR old.display_name IS DISTINCT FROM new.display_name)
  EXECUTE FUNCTION public.touch_updated_at();
CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    INSERT INTO public.audit_log (table_name, op, row_count)
      VALUES (TG_ARGV[0], TG_OP, (SELECT count(*) FROM new_rows));
    RETURN NULL;
  END $$;
CREATE TRIGGER profiles_audit AFTER INSERT ON public.profiles REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION public.audit('profiles');
CREATE FUNCTION public.forbid() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'read only: %', TG_ARGV[0]; END $$;
CREATE TRIGGER audit_log_frozen BEFORE UPDATE OR DELETE ON public.audit_log
  FOR EACH ROW EXECUTE FUNCTION public.forbid('audit_log');
ALTER TABLE public.audit_log DISABLE TRIGGER audit_log_frozen;
CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TRIGGER events_no_delete BEFORE DELETE ON public.events
  FOR EACH ROW EXECUTE FUNCTION public.forbid('events');
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY profiles_own ON public.profiles FOR SELECT TO authenticated USING (id = (SELECT auth.uid()));
REVOKE ALL ON public.audit_log, public.events, public.events_2025 FROM anon, authenticated;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.profiles FROM anon, authenticated;
"""

SIGNUP = "auth.users.on_auth_user_created"
TOUCH = "public.profiles.profiles_touch"
AUDIT = "public.profiles.profiles_audit"
FROZEN = "public.audit_log.audit_log_frozen"


@pytest.fixture
def app(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_the_snapshot_holds_every_trigger_and_the_database_passes_against_it(app: Target, tmp_path: Path) -> None:
    path = snapshot_file(app, tmp_path)
    contract = load_contract(path)
    assert set(contract.triggers) == {"auth.users", "public.profiles", "public.audit_log", "public.events"}
    signup = contract.triggers["auth.users"]["on_auth_user_created"]
    assert (signup.timing, signup.events, signup.for_each, signup.function) == (
        "after",
        ["insert"],
        "row",
        "public.handle_new_user",
    )
    touch = contract.triggers["public.profiles"]["profiles_touch"]
    assert touch.columns == ["email", "display_name"]
    assert touch.when is not None
    assert "IS DISTINCT FROM" in touch.when
    audit = contract.triggers["public.profiles"]["profiles_audit"]
    assert (audit.for_each, audit.new_table, audit.arguments) == ("statement", "new_rows", ["profiles"])
    assert contract.triggers["public.audit_log"]["audit_log_frozen"].enabled is False
    assert "public.events_2025" not in contract.triggers  # the clone of events_no_delete
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_snapshot_of_the_application_schema_holds_the_signup_trigger(app: Target) -> None:
    """``--schema public``: auth.users is not read, but its trigger calling public's function is."""
    snapshot = run_cli("snapshot", "--dsn", app.dsn, "--schema", "public")
    assert snapshot.returncode == 0, snapshot.stderr
    assert "  auth.users:\n    on_auth_user_created:" in snapshot.stdout


def test_a_dropped_signup_trigger_fails_check_naming_it(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(app, tmp_path)
    run_sql("DROP TRIGGER on_auth_user_created ON auth.users")
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_triggers[auth.users]" in result.stdout
    assert "[trigger.missing] auth.users.on_auth_user_created: trigger is missing" in result.stdout


def test_the_snapshots_sql_loads_into_an_emptied_database_and_applies_twice_unchanged(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Trigger functions before the tables' triggers; the signup trigger on auth.users (which the contract
    does not declare) after its function; the disabled trigger created disabled."""
    path = own_contract(app, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert ddl.stdout.index("-- functions") < ddl.stdout.index("-- tables") < ddl.stdout.index("-- triggers")
    run_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")  # the signup trigger goes with its function
    assert {f.rule for f in errors(check(app, load_contract(path))) if f.kind is Kind.TRIGGERS} == {"trigger.missing"}
    run_sql(ddl.stdout)
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    before = dump_contract(contract_from_snapshot(snapshot_of(app)))
    run_sql(ddl.stdout)
    assert dump_contract(contract_from_snapshot(snapshot_of(app))) == before
    run_sql("INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'new@example.com')")
    with psycopg.connect(app.dsn) as conn:
        assert conn.execute("SELECT email FROM public.profiles").fetchall() == [("new@example.com",)]


# One change each: (statement, the trigger, the rule that must fire).
CHANGES = {
    "signup trigger dropped": ("DROP TRIGGER on_auth_user_created ON auth.users", SIGNUP, "trigger.missing"),
    "signup trigger disabled": (
        "ALTER TABLE auth.users DISABLE TRIGGER on_auth_user_created",
        SIGNUP,
        "trigger.enabled",
    ),
    "signup trigger before instead of after": (
        "CREATE OR REPLACE TRIGGER on_auth_user_created BEFORE INSERT ON auth.users"
        " FOR EACH ROW EXECUTE FUNCTION public.handle_new_user()",
        SIGNUP,
        "trigger.timing",
    ),
    "signup trigger calls another function": (
        "CREATE FUNCTION public.other() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
        " CREATE OR REPLACE TRIGGER on_auth_user_created AFTER INSERT ON auth.users"
        " FOR EACH ROW EXECUTE FUNCTION public.other()",
        SIGNUP,
        "trigger.function",
    ),
    "events": (
        "CREATE OR REPLACE TRIGGER on_auth_user_created AFTER INSERT OR UPDATE ON auth.users"
        " FOR EACH ROW EXECUTE FUNCTION public.handle_new_user()",
        SIGNUP,
        "trigger.events",
    ),
    "update of columns": (
        "CREATE OR REPLACE TRIGGER profiles_touch BEFORE UPDATE OF email ON public.profiles FOR EACH ROW"
        " WHEN (old.email IS DISTINCT FROM new.email OR old.display_name IS DISTINCT FROM new.display_name)"
        " EXECUTE FUNCTION public.touch_updated_at()",
        TOUCH,
        "trigger.columns",
    ),
    "when": (
        "CREATE OR REPLACE TRIGGER profiles_touch BEFORE UPDATE OF email, display_name ON public.profiles"
        " FOR EACH ROW WHEN (old.email IS DISTINCT FROM new.email) EXECUTE FUNCTION public.touch_updated_at()",
        TOUCH,
        "trigger.when",
    ),
    "for each": (
        "CREATE OR REPLACE TRIGGER profiles_audit AFTER INSERT ON public.profiles REFERENCING NEW TABLE AS new_rows"
        " FOR EACH ROW EXECUTE FUNCTION public.audit('profiles')",
        AUDIT,
        "trigger.for_each",
    ),
    "arguments": (
        "CREATE OR REPLACE TRIGGER profiles_audit AFTER INSERT ON public.profiles REFERENCING NEW TABLE AS new_rows"
        " FOR EACH STATEMENT EXECUTE FUNCTION public.audit('people')",
        AUDIT,
        "trigger.arguments",
    ),
    "transition table": (
        "CREATE OR REPLACE TRIGGER profiles_audit AFTER INSERT ON public.profiles REFERENCING NEW TABLE AS added"
        " FOR EACH STATEMENT EXECUTE FUNCTION public.audit('profiles')",
        AUDIT,
        "trigger.transition_tables",
    ),
    "disabled trigger enabled": (
        "ALTER TABLE public.audit_log ENABLE TRIGGER audit_log_frozen",
        FROZEN,
        "trigger.enabled",
    ),
    "enabled always": (
        "ALTER TABLE public.audit_log ENABLE ALWAYS TRIGGER audit_log_frozen",
        FROZEN,
        "trigger.enabled",
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[2] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_trigger_and_repair_restores_it(
    change: str, app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, trigger, rule = CHANGES[change]
    contract = load_contract(own_contract(app, tmp_path))
    run_sql(statement)
    index = check(app, contract)
    assert_only_rule(index, rule, obj=trigger)
    found = errors(index)
    assert [(f.rule, f.object, f.kind) for f in found] == [(rule, trigger, Kind.TRIGGERS)]
    assert found[0].expected != found[0].actual
    with connect(app) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(app, contract)) == []


def test_a_finding_shows_expected_against_actual(app: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    contract = load_contract(own_contract(app, tmp_path))
    run_sql("ALTER TABLE auth.users DISABLE TRIGGER on_auth_user_created")
    (finding,) = errors(check(app, contract))
    assert (finding.expected, finding.actual) == ("enabled", "disabled")
    assert finding.fix is not None
    assert finding.fix.sql == 'ALTER TABLE "auth"."users" ENABLE TRIGGER "on_auth_user_created";'


def test_a_repaired_signup_trigger_creates_the_profile(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(app, tmp_path))
    run_sql("DROP TRIGGER on_auth_user_created ON auth.users")
    result = run_cli("repair", "--dsn", app.dsn, "--contract", str(tmp_path / "contract.yaml"), "--apply")
    assert result.returncode == 0, result.stdout + result.stderr
    assert errors(check(app, contract)) == []
    run_sql("INSERT INTO auth.users (id, email) VALUES (gen_random_uuid(), 'a@example.com')")
    with psycopg.connect(app.dsn) as conn:
        assert conn.execute("SELECT email FROM public.profiles").fetchall() == [("a@example.com",)]


def test_a_trigger_the_contract_leaves_out_is_not_checked(app: Target, tmp_path: Path) -> None:
    """What the contract names must exist; an extra trigger on the table is allowed (as extra indexes are)."""
    path = own_contract(app, tmp_path)
    text = path.read_text(encoding="utf-8")
    contract = load_contract(path)
    del_one = contract.model_copy(
        update={"triggers": {k: v for k, v in contract.triggers.items() if k != "public.audit_log"}}
    )
    assert "audit_log_frozen" in text
    assert errors(check(app, del_one)) == []


def test_a_contract_directory_merges_triggers_and_rejects_one_defined_twice(tmp_path: Path) -> None:
    trigger = "{timing: after, events: [insert], for_each: row, function: public.handle_new_user}"
    (tmp_path / "a.yaml").write_text(f"triggers:\n  auth.users:\n    one: {trigger}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text(f"triggers:\n  auth.users:\n    two: {trigger}\n", encoding="utf-8")
    assert set(load_contract(tmp_path).triggers["auth.users"]) == {"one", "two"}
    (tmp_path / "c.yaml").write_text(f"triggers:\n  auth.users:\n    two: {trigger}\n", encoding="utf-8")
    result = run_cli("validate", "--contract", str(tmp_path))
    assert result.returncode == 2
    assert "trigger two on auth.users is also defined in" in result.stderr
