"""Seeding the isolation matrix on a real Supabase application (project_tests/realworld/saas_starter): a
signup trigger makes the profile, personal account and owner membership, which are adopted instead of
colliding; rows are created with their owner's identity in effect (a BEFORE trigger and a default read
auth.uid(), a setting-mode default reads the setting); UNIQUE columns get a value per row, fitted to a
CHECK that ties slug to name; ``isolation.values`` takes templates and values per user; a failure names
what refused and suggests only what helps. The fix must not hide leaks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import ContractError, load_contract
from pgcontract.names import QualifiedName
from pgcontract.rls.matrix import IsolationSession, isolation_tables
from pgcontract.rls.seed import SeededRow
from pgcontract.rls.values import SeedError
from project_tests.helpers import ROOT, isolation, run_cli, violations

STARTER = ROOT / "project_tests" / "realworld" / "saas_starter"
STARTER_SQL = STARTER / "sql" / "010_saas_starter.sql"
STARTER_CONTRACT = STARTER / "contracts" / "tables.yaml"
TABLES = ["public.profiles", "public.accounts", "public.account_members", "public.projects", "public.tasks"]
PROJECTS = QualifiedName("public", "projects")
MEMBERSHIP = "membership: {table: public.account_members, tenant: account_id, user: user_id}"


@pytest.fixture
def starter(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(STARTER_SQL.read_text(encoding="utf-8"))
    return target


def contract_with(tmp_path: Path, old: str, new: str) -> Path:
    """The starter's contract with one text replaced."""
    text = STARTER_CONTRACT.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "tables.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def projects_with_values(tmp_path: Path, values: str) -> Path:
    """The starter's contract with ``values`` on public.projects."""
    end = f"      {MEMBERSHIP}\n\n  public.tasks"
    return contract_with(tmp_path, end, end.replace("\n\n", f"\n      {values}\n\n"))


@contextmanager
def seeded(target: Target, contract_path: Path) -> Iterator[IsolationSession]:
    """Every table's matrix run in one session, kept open (its rows readable) until the block ends."""
    contract = load_contract(contract_path)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        try:
            for name in isolation_tables(contract):
                assert session.run(name).violations == []
            yield session
        finally:
            assert session.finish() == []


def rows(session: IsolationSession, table: str, label: str) -> list[SeededRow]:
    return session.seeder.rows[(QualifiedName.parse(table), label)]


def test_the_starter_passes_the_isolation_matrix(starter: Target) -> None:
    outcomes = isolation(starter, STARTER_CONTRACT)
    assert sorted(outcomes) == sorted(TABLES)
    for outcome in outcomes.values():
        assert outcome.violations == []
        assert outcome.left_behind == []


LEAKS = {
    # the profiles and personal accounts the signup trigger made are the rows probed
    "profiles": ("CREATE POLICY peek ON public.profiles FOR SELECT TO authenticated USING (true)", "public.profiles"),
    "personal-accounts": (
        "CREATE POLICY peek ON public.accounts FOR SELECT TO authenticated USING (is_personal)",
        "public.accounts",
    ),
    "projects": ("CREATE POLICY peek ON public.projects FOR SELECT TO authenticated USING (true)", "public.projects"),
}


@pytest.mark.parametrize("leak", list(LEAKS), ids=str)
def test_a_planted_leak_is_still_caught(leak: str, starter: Target, run_sql: Callable[[str], None]) -> None:
    statement, table = LEAKS[leak]
    run_sql(statement)
    outcomes = isolation(starter, STARTER_CONTRACT)
    assert violations(outcomes) == [f"user A read 1 row of user B in {table}"]


def test_rows_the_signup_trigger_made_are_adopted(starter: Target) -> None:
    with seeded(starter, STARTER_CONTRACT) as session:
        for principal in (session.a, session.b):
            email = principal.extra["email"]
            (profile,) = rows(session, "public.profiles", principal.label)
            assert profile.values["id"] == principal.identity
            assert profile.values["display_name"] == email.split("@")[0]  # as the trigger wrote it
            (account,) = rows(session, "public.accounts", principal.label)
            assert account.values["is_personal"] == "true"
            assert account.values["primary_owner"] == principal.identity
            (project,) = rows(session, "public.projects", principal.label)
            assert project.values["account_id"] == account.values["id"]
            session.cur.execute(
                "SELECT (SELECT count(*) FROM public.profiles WHERE id = %(u)s),"
                " (SELECT count(*) FROM public.accounts WHERE primary_owner = %(u)s),"
                " (SELECT count(*) FROM public.account_members WHERE user_id = %(u)s)",
                {"u": principal.identity},
            )
            assert session.cur.fetchone() == (1, 1, 1), "the test made no second profile, account or membership"


def test_rows_are_created_with_their_owner_identity_in_effect(starter: Target) -> None:
    """projects.created_by is stamped by a BEFORE INSERT trigger, tasks.created_by is a default; both
    read auth.uid() and are NOT NULL."""
    with seeded(starter, STARTER_CONTRACT) as session:
        for principal in (session.a, session.b):
            for table in ("public.projects", "public.tasks"):
                (row,) = rows(session, table, principal.label)
                assert row.values["created_by"] == principal.identity


def test_generated_values_satisfy_a_check_tying_slug_to_name(starter: Target) -> None:
    with seeded(starter, STARTER_CONTRACT) as session:
        made = [rows(session, "public.projects", label)[0].values for label in ("A", "B")]
        for values in made:
            name = values["name"] or ""
            assert values["slug"] == re.sub("[^A-Za-z0-9]+", "-", name.strip()).lower()
        assert made[0]["slug"] != made[1]["slug"]


def test_a_template_gives_each_row_its_own_value(starter: Target, tmp_path: Path) -> None:
    contract = projects_with_values(tmp_path, 'values: {name: "Site ${user} ${n}"}')
    assert violations(isolation(starter, contract)) == []
    with seeded(starter, contract) as session:
        for label in ("A", "B"):
            (project,) = rows(session, "public.projects", label)
            assert re.fullmatch(rf"Site {label.lower()} \d+", project.values["name"] or "")
            assert project.values["slug"] == (project.values["name"] or "").lower().replace(" ", "-")


def test_values_per_user(starter: Target, tmp_path: Path) -> None:
    contract = contract_with(
        tmp_path,
        "isolation: {via: project_id}",
        "isolation: {via: project_id, values: {title: {A: Groceries, b: Taxes}}}",
    )
    with seeded(starter, contract) as session:
        assert rows(session, "public.tasks", "A")[0].values["title"] == "Groceries"
        assert rows(session, "public.tasks", "B")[0].values["title"] == "Taxes"


def test_one_literal_for_a_unique_column_names_the_key_and_suggests_a_template(starter: Target, tmp_path: Path) -> None:
    """slug is UNIQUE and follows from name (CHECK): one literal name gives A and B the same slug."""
    contract = projects_with_values(tmp_path, "values: {name: Website}")
    with pytest.raises(SeedError) as raised:
        isolation(starter, contract)
    assert str(raised.value) == (
        "cannot create a test row in public.projects: projects_slug_key refused a duplicate (Key (slug)=(website)"
        " already exists.); isolation.values.name gives every test row the same value, and slug follows from it"
        " (CHECK projects_slug_from_name); make it a template with a number of each row's own, e.g. 'Website ${n}'"
    )


def test_one_value_per_user_for_a_unique_column_explains_the_own_insert_failure(
    starter: Target, tmp_path: Path
) -> None:
    contract = projects_with_values(tmp_path, "values: {name: {A: Alpha, B: Beta}}")
    (found,) = violations(isolation(starter, contract))
    assert found == (
        "user A cannot insert own row into public.projects: duplicate key value violates unique constraint"
        ' "projects_slug_key"; isolation.values.name gives each user one value, and slug follows from it'
        " (CHECK projects_slug_from_name), but a user needs several rows; add ${n}, e.g. 'Alpha ${n}'"
    )


def test_a_trigger_that_refuses_is_named_without_advice_that_cannot_help(
    starter: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(
        "CREATE FUNCTION public.projects_only_by_rpc() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'projects are created by create_project()'; END $$;"
        " CREATE TRIGGER projects_only_by_rpc BEFORE INSERT ON public.projects"
        " FOR EACH ROW EXECUTE FUNCTION public.projects_only_by_rpc()"
    )
    with pytest.raises(SeedError) as raised:
        isolation(starter, STARTER_CONTRACT)
    assert str(raised.value) == (
        "cannot create a test row in public.projects: projects are created by create_project(),"
        " in trigger projects_only_by_rpc on public.projects (function public.projects_only_by_rpc)"
    )


REQUIRE_FULL_NAME = """
CREATE OR REPLACE FUNCTION public.handle_new_user() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$
DECLARE
  personal uuid;
BEGIN
  INSERT INTO public.profiles (id, display_name) VALUES (new.id, new.raw_user_meta_data ->> 'full_name');
  INSERT INTO public.accounts (name, is_personal, primary_owner)
    VALUES (new.raw_user_meta_data ->> 'full_name', true, new.id) RETURNING id INTO personal;
  INSERT INTO public.account_members (account_id, user_id, role) VALUES (personal, new.id, 'owner');
  RETURN new;
END
$$;
"""


def test_a_signup_trigger_reading_metadata_is_pointed_at_user_metadata(
    starter: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(REQUIRE_FULL_NAME)
    with pytest.raises(SeedError) as raised:
        isolation(starter, STARTER_CONTRACT)
    assert str(raised.value) == (
        "cannot create user A in auth.users: public.profiles.display_name is NOT NULL and got NULL,"
        " in trigger on_auth_user_created on auth.users (function public.handle_new_user);"
        " the trigger reads the new user's metadata: give it under auth.claims.user_metadata"
    )
    contract = contract_with(
        tmp_path, "auth: {mode: supabase}", "auth: {mode: supabase, claims: {user_metadata: {full_name: Tester}}}"
    )
    assert violations(isolation(starter, contract)) == []


def test_unknown_placeholders_are_a_contract_error(tmp_path: Path) -> None:
    contract = projects_with_values(tmp_path, 'values: {name: "Site ${nr}", slug: {A: a, C: c}}')
    with pytest.raises(ContractError) as raised:
        load_contract(contract)
    message = str(raised.value)
    assert "isolation.values.name: unknown placeholder ${nr}: use ${user}, ${id}, ${n}" in message
    assert "isolation.values.slug: values per user take the keys A and B, got ['A', 'C']" in message


UNIQUE_KIND = """
CREATE TABLE public.preferences (
  id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth.users (id),
  kind    text NOT NULL CHECK (kind IN ('theme', 'language', 'timezone')),
  value   text NOT NULL,
  UNIQUE (user_id, kind)
);
ALTER TABLE public.preferences ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.preferences TO authenticated
  USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
GRANT ALL ON public.preferences TO authenticated;
"""


def test_a_unique_column_limited_by_a_check_gets_a_value_per_row(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A's seeded row and A's own-insert probe are two rows of one user: UNIQUE (user_id, kind) needs two
    kinds of the CHECK's list."""
    run_sql(UNIQUE_KIND)
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "version: 1\nauth: {mode: supabase}\ntables:\n  public.preferences:\n    isolation: {owner: user_id}\n",
        encoding="utf-8",
    )
    assert violations(isolation(target, contract)) == []


SETTING_SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_app') THEN CREATE ROLE notes_app NOLOGIN; END IF;
END $$;
CREATE TABLE public.notes (
  id         serial PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  written_in uuid NOT NULL DEFAULT nullif(current_setting('app.tenant_id', true), '')::uuid,
  body       text NOT NULL
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_notes ON public.notes TO notes_app
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO notes_app;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO notes_app;
"""
SETTING_CONTRACT = """
version: 1
auth: {mode: setting, role: notes_app, setting: app.tenant_id}
tables:
  public.notes:
    isolation: {owner: tenant_id}
"""


def test_setting_mode_seeds_with_the_setting_in_effect(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(SETTING_SCHEMA)
    contract = tmp_path / "c.yaml"
    contract.write_text(SETTING_CONTRACT, encoding="utf-8")
    with seeded(target, contract) as session:
        for principal in (session.a, session.b):
            (note,) = rows(session, "public.notes", principal.label)
            assert note.values["written_in"] == note.values["tenant_id"] == principal.identity


def test_the_identity_used_for_seeding_is_gone_before_the_anonymous_probe(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A policy that opens up when the setting is empty: the caller without it must be caught reading
    A's row, which it would not be if user B's tenant (the last one seeded) were still in effect."""
    run_sql(SETTING_SCHEMA)
    run_sql(
        "DROP POLICY tenant_notes ON public.notes;"
        " CREATE POLICY tenant_notes ON public.notes TO notes_app"
        " USING (coalesce(nullif(current_setting('app.tenant_id', true), '')::uuid, tenant_id) = tenant_id)"
    )
    contract = tmp_path / "c.yaml"
    contract.write_text(SETTING_CONTRACT, encoding="utf-8")
    assert "the application role with the setting unset read 1 row of user A in public.notes" in violations(
        isolation(target, contract)
    )


SETTINGS_BY_TRIGGER = """
CREATE TABLE public.notification_settings (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      uuid NOT NULL UNIQUE REFERENCES auth.users (id),
  email_digest boolean NOT NULL DEFAULT true
);
CREATE FUNCTION public.create_notification_settings() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$ BEGIN INSERT INTO public.notification_settings (user_id) VALUES (new.id); RETURN new; END $$;
CREATE TRIGGER on_auth_user_created_settings AFTER INSERT ON auth.users
  FOR EACH ROW EXECUTE FUNCTION public.create_notification_settings();
CREATE TABLE public.digests (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  settings_id bigint NOT NULL REFERENCES public.notification_settings (id),
  owner_id    uuid NOT NULL REFERENCES auth.users (id),
  body        text NOT NULL
);
ALTER TABLE public.digests ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.digests TO authenticated
  USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()));
"""


def test_a_parent_row_the_trigger_made_is_adopted_when_the_insert_collides(
    starter: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """notification_settings has no isolation: the digest's parent is found by the key it collides on
    (user_id UNIQUE), the row the signup trigger made."""
    run_sql(SETTINGS_BY_TRIGGER)
    contract = contract_with(
        tmp_path, "  public.profiles:", "  public.digests:\n    isolation: {owner: owner_id}\n\n  public.profiles:"
    )
    with seeded(starter, contract) as session:
        for principal in (session.a, session.b):
            (settings,) = rows(session, "public.notification_settings", principal.label)
            assert settings.values["user_id"] == principal.identity
            (digest,) = rows(session, "public.digests", principal.label)
            assert digest.values["settings_id"] == settings.values["id"]


def test_the_starter_passes_as_a_user_runs_it() -> None:
    """Static checks, lints, the isolation matrix and the proof that it left nothing, on the embedded server."""
    result = run_cli("check", "--contract", str(STARTER / "contracts"), "--sql", str(STARTER / "sql"), "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    for table in TABLES:
        assert f"test_isolation[{table}] PASSED" in result.stdout
    assert "test_isolation_left_nothing_behind[embedded] PASSED" in result.stdout


TIED_CHECKS = """
CREATE TABLE public.teams (
  id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id uuid NOT NULL REFERENCES auth.users (id),
  personal boolean NOT NULL DEFAULT false,
  slug     text UNIQUE,
  settings jsonb NOT NULL,
  code     text NOT NULL,
  CONSTRAINT slug_unless_personal CHECK ((personal AND slug IS NULL) OR (NOT personal AND slug IS NOT NULL)),
  CONSTRAINT settings_object CHECK (jsonb_typeof(settings) = 'object'),
  CONSTRAINT code_is_a_number CHECK (code::int > 0)
);
ALTER TABLE public.teams ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.teams TO authenticated
  USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()));
"""


def test_generated_values_fit_checks_that_tie_a_default_to_a_nullable_column_or_cast(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A CHECK tying a defaulted flag to a nullable column, one over a JSON document, one that raises on a
    value it cannot cast: the row is fitted to all three before it is inserted."""
    run_sql(TIED_CHECKS)
    contract = tmp_path / "c.yaml"
    contract.write_text(
        "version: 1\nauth: {mode: supabase}\ntables:\n  public.teams:\n    isolation: {owner: owner_id}\n",
        encoding="utf-8",
    )
    with seeded(target, contract) as session:
        for label in ("A", "B"):
            (team,) = rows(session, "public.teams", label)
            assert int(team.values["code"] or "0") > 0
            assert (team.values["personal"] == "true") == (team.values["slug"] is None)
