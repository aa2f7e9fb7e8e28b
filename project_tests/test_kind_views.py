"""Views and materialized views as real schemas hold them: a security_invoker view over an RLS table, a view
reading that view (named so that it sorts before it), a security_barrier view, one WITH CASCADED CHECK
OPTION, a view in a schema holding only views (``api``), a materialized view with a unique index, and the
API roles' grants. A database checked against its own snapshot passes; the snapshot's DDL loads into an
emptied database in dependency order and applies twice unchanged; each single change fails naming the view,
expected against actual, and repair restores it or holds the fix back saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.adopt import contract_from_snapshot, dump_contract
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import contract_ddl
from pgcontract.findings import Hazard, Kind
from pgcontract.lints import run_lints
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TABLE public.projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner uuid NOT NULL,
  name text NOT NULL,
  archived boolean NOT NULL DEFAULT false
);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY projects_own ON public.projects FOR ALL TO authenticated
  USING (owner = (SELECT auth.uid())) WITH CHECK (owner = (SELECT auth.uid()));
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.projects FROM anon, authenticated;
CREATE VIEW public.active_projects WITH (security_invoker = true) AS
  SELECT id, owner, name FROM public.projects WHERE NOT archived;
CREATE VIEW public.a_project_names WITH (security_invoker = true, security_barrier = true) AS
  SELECT p.id, upper(p.name) AS name FROM public.active_projects p;
CREATE VIEW public.my_projects WITH (security_invoker = true) AS
  SELECT id, owner, name, archived FROM public.projects WHERE owner = (SELECT auth.uid())
  WITH CASCADED CHECK OPTION;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO authenticated;
CREATE VIEW api.projects WITH (security_invoker = true) AS SELECT id, name FROM public.projects;
CREATE MATERIALIZED VIEW public.project_counts AS
  SELECT owner, count(*) AS projects FROM public.projects GROUP BY owner;
CREATE UNIQUE INDEX project_counts_owner ON public.project_counts (owner);
REVOKE ALL ON public.active_projects, public.a_project_names, public.my_projects, api.projects,
  public.project_counts FROM anon, authenticated;
GRANT SELECT ON public.active_projects, public.a_project_names, api.projects TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.my_projects TO authenticated;
GRANT SELECT ON public.project_counts TO service_role;
"""

VIEWS = {
    "api.projects",
    "public.a_project_names",
    "public.active_projects",
    "public.my_projects",
    "public.project_counts",
}


@pytest.fixture
def app(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_the_snapshot_holds_every_view_and_the_database_passes_against_it(app: Target, tmp_path: Path) -> None:
    path = snapshot_file(app, tmp_path)
    contract = load_contract(path)
    assert set(contract.views) == VIEWS  # api holds only views, and is in
    names = contract.views["public.a_project_names"]
    assert (names.security_invoker, names.security_barrier, names.columns) == (
        True,
        True,
        {"id": "bigint", "name": "text"},
    )
    assert contract.views["public.my_projects"].check_option == "cascaded"
    grants = contract.views["public.my_projects"].grants
    assert grants is not None
    assert (grants["authenticated"], grants["anon"], grants["public"]) == (["insert", "select", "update"], [], [])
    counts = contract.views["public.project_counts"]
    assert counts.materialized
    assert list(counts.indexes) == ["project_counts_owner"]
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_dropped_view_fails_check_naming_it(app: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    path = own_contract(app, tmp_path)
    run_sql("DROP VIEW api.projects")
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_views[api.projects]" in result.stdout
    assert "[view.missing] api.projects: view is missing" in result.stdout


def test_the_snapshots_sql_loads_into_an_emptied_database_and_applies_twice_unchanged(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """a_project_names reads active_projects: created after it although its name sorts first."""
    path = own_contract(app, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert text.index('VIEW "public"."active_projects"') < text.index('VIEW "public"."a_project_names"')
    assert text.index("-- tables") < text.index("-- views and materialized views")
    run_sql("DROP SCHEMA api CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    assert {f.rule for f in errors(check(app, load_contract(path))) if f.kind is Kind.VIEWS} == {"view.missing"}
    run_sql(text)
    result = run_cli("check", "--dsn", app.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    before = dump_contract(contract_from_snapshot(snapshot_of(app)))
    run_sql(text)
    assert dump_contract(contract_from_snapshot(snapshot_of(app))) == before


REDEFINED = (
    "CREATE OR REPLACE VIEW public.active_projects WITH (security_invoker = true) AS"
    " SELECT id, owner, name FROM public.projects"
)

# One change each: (statement, the view, the rules that must fire).
CHANGES = {
    "view dropped": ("DROP VIEW api.projects", "api.projects", ["view.missing"]),
    "a view and the view reading it dropped": (
        "DROP VIEW public.active_projects CASCADE",
        None,
        ["view.missing", "view.missing"],
    ),
    "definition": (REDEFINED, "public.active_projects", ["view.definition"]),
    "security_invoker": (
        "ALTER VIEW public.active_projects RESET (security_invoker)",
        "public.active_projects",
        ["view.security_invoker"],
    ),
    "security_barrier": (
        "ALTER VIEW public.a_project_names SET (security_barrier = false)",
        "public.a_project_names",
        ["view.security_barrier"],
    ),
    "check option": ("ALTER VIEW public.my_projects RESET (check_option)", "public.my_projects", ["view.check_option"]),
    "check option local": (
        "ALTER VIEW public.my_projects SET (check_option = local)",
        "public.my_projects",
        ["view.check_option"],
    ),
    "grant revoked": ("REVOKE SELECT ON api.projects FROM authenticated", "api.projects", ["view.grants"]),
    "grant given": ("GRANT SELECT ON api.projects TO anon", "api.projects", ["view.grants"]),
    "materialized view index dropped": (
        "DROP INDEX public.project_counts_owner",
        "public.project_counts",
        ["index.missing"],
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[2][0] for c in CHANGES.values() if len(c[2]) == 1))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_view_and_repair_restores_it(
    change: str, app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, view, rules = CHANGES[change]
    contract = load_contract(own_contract(app, tmp_path))
    run_sql(statement)
    index = check(app, contract)
    if len(rules) == 1:
        assert_only_rule(index, rules[0])
    found = errors(index)
    assert sorted(f.rule for f in found) == rules
    assert {f.kind for f in found} == {Kind.VIEWS}
    if view is not None:
        assert {f.owner for f in found} == {view}
    assert all(f.expected != f.actual for f in found)
    with connect(app) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(app, contract)) == []


def test_a_view_that_lost_its_security_invoker_names_expected_and_actual(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(app, tmp_path))
    run_sql("ALTER VIEW public.active_projects RESET (security_invoker)")
    (finding,) = errors(check(app, contract))
    assert (finding.object, finding.expected, finding.actual) == (
        "public.active_projects",
        "security_invoker=True",
        "security_invoker=False",
    )
    assert finding.fix is not None
    assert finding.fix.sql == 'ALTER VIEW "public"."active_projects" SET ("security_invoker" = true);'


def test_a_hand_written_definition_matches_postgresqls_own_text(app: Target) -> None:
    """Layout, qualification of columns and casts of constants do not count; a different condition does."""
    spec = {"definition": "select id, owner, name from projects where not archived", "security_invoker": True}
    contract = Contract.model_validate({"views": {"public.active_projects": spec}})
    assert errors(check(app, contract)) == []
    spec["definition"] = "select id, owner, name from projects where archived"
    contract = Contract.model_validate({"views": {"public.active_projects": spec}})
    assert [f.rule for f in errors(check(app, contract))] == ["view.definition"]


def test_columns_that_create_or_replace_cannot_change_are_held_back(
    app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A column added in the middle: CREATE OR REPLACE VIEW cannot take it out again (it keeps every column in
    place); the fix (drop and create) is held back, saying why."""
    contract = load_contract(own_contract(app, tmp_path))
    run_sql(
        "DROP VIEW api.projects;"
        " CREATE VIEW api.projects WITH (security_invoker = true) AS SELECT id, owner, name FROM public.projects;"
        " GRANT SELECT ON api.projects TO authenticated"
    )
    found = errors(check(app, contract))
    assert sorted(f.rule for f in found) == ["view.columns", "view.definition"]
    with connect(app) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
    (held,) = plan.held
    assert Hazard.MANUAL in held.reason
    assert "CREATE OR REPLACE VIEW cannot drop columns" in held.reason
    assert held.sql.startswith('DROP VIEW "api"."projects";')
    assert plan.statements == []


@pytest.mark.parametrize(
    "statement",
    [
        "DROP MATERIALIZED VIEW public.project_counts",
        "DROP MATERIALIZED VIEW public.project_counts;"
        " CREATE MATERIALIZED VIEW public.project_counts AS SELECT owner, count(*) AS projects"
        " FROM public.projects WHERE NOT archived GROUP BY owner;"
        " CREATE UNIQUE INDEX project_counts_owner ON public.project_counts (owner);"
        " REVOKE ALL ON public.project_counts FROM anon, authenticated",
    ],
    ids=["dropped", "redefined"],
)
def test_a_materialized_view_is_not_repopulated_by_repair(
    statement: str, app: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Creating a materialized view runs its query inside the repair's transaction: held back as long-lock."""
    contract = load_contract(own_contract(app, tmp_path))
    run_sql(statement)
    found = errors(check(app, contract))
    assert [(f.rule, f.object) for f in found] in (
        [("view.missing", "public.project_counts")],
        [("view.definition", "public.project_counts")],
    )
    with connect(app) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
    (held,) = plan.held
    assert Hazard.LONG_LOCK in held.reason
    assert "CREATE MATERIALIZED VIEW" in held.sql
    assert plan.statements == []


def test_the_security_invoker_lint_still_reads_views(app: Target, run_sql: Callable[[str], None]) -> None:
    run_sql("ALTER VIEW api.projects RESET (security_invoker)")
    contract = Contract.model_validate({"auth": {"mode": "supabase"}, "views": {"api.projects": {}}})
    hits = [f for f in run_lints(snapshot_of(app, contract), contract) if f.object == "api.projects"]
    assert [f.rule for f in hits] == ["lint.security_definer_view"]


@pytest.mark.parametrize(
    "definition",
    ["SELECT 1; DROP TABLE public.t", "DROP TABLE public.t", "SELECT 1 AS a -- WITH LOCAL CHECK OPTION"],
)
def test_a_definition_that_is_not_one_query_is_a_contract_error(definition: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"views:\n  public.v:\n    definition: {definition}\n", encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert "not a single query" in result.stderr


def test_sql_puts_the_definition_on_lines_of_its_own() -> None:
    contract = Contract.model_validate(
        {"views": {"public.v": {"definition": "SELECT 1 AS a;", "check_option": "local"}}}
    )
    assert '"public"."v" AS\nSELECT 1 AS a\nWITH LOCAL CHECK OPTION;' in contract_ddl(contract)


def test_a_contract_directory_merges_views_and_rejects_one_defined_twice(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("views:\n  public.a: {definition: SELECT 1 AS x}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("views:\n  api.b: {definition: SELECT 2 AS y}\n", encoding="utf-8")
    assert set(load_contract(tmp_path).views) == {"public.a", "api.b"}
    (tmp_path / "c.yaml").write_text("views:\n  public.a: {definition: SELECT 3 AS z}\n", encoding="utf-8")
    result = run_cli("validate", "--contract", str(tmp_path))
    assert result.returncode == 2
    assert "view public.a is also defined in" in result.stderr
