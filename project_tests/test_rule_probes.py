"""Rules no other test builds alone: the proof that isolation left nothing behind, shown to fail when a row
is left behind on purpose; each lint shown to fire on its defect and to stay silent on the correct variant."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.lints import run_lints
from pgcontract.names import QualifiedName
from pgcontract.rls.matrix import IsolationSession
from pgcontract.targetrun import isolation_findings
from project_tests.helpers import CHAT_CONTRACT, check, errors, own_contract, snapshot_of
from project_tests.rule_check import assert_only_rule

THREADS = QualifiedName("public", "sam_conversation_threads")


@pytest.mark.rule("isolation.left_behind")
def test_a_row_left_behind_after_the_rollback_is_reported(chat_db: Target) -> None:
    """Another session commits a row while the matrix runs: after the rollback the table holds one row
    more than before, which the proof must say (the matrix itself passes)."""
    contract = load_contract(CHAT_CONTRACT)
    with connect(chat_db) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        outcome = session.run(THREADS)
        with psycopg.connect(chat_db.dsn, autocommit=True) as other:
            user = other.execute("INSERT INTO auth.users (id) VALUES (gen_random_uuid()) RETURNING id").fetchone()
            assert user is not None
            other.execute(
                "INSERT INTO public.sam_conversation_threads (user_id, title, thread_type) VALUES (%s, 'x', 'chat')",
                [user[0]],
            )
        outcome.left_behind = session.finish()
    assert_only_rule(isolation_findings(outcome), "isolation.left_behind")
    assert f"{THREADS} holds 1 rows, 0 before the test" in outcome.left_behind


def test_the_same_run_without_the_extra_row_leaves_nothing_behind(chat_db: Target) -> None:
    contract = load_contract(CHAT_CONTRACT)
    with connect(chat_db) as conn:
        session = IsolationSession(
            conn, contract, read_snapshot(conn, contract.schemas), throwaway=True, limits=DEFAULT_LIMITS
        )
        outcome = session.run(THREADS)
        outcome.left_behind = session.finish()
    assert isolation_findings(outcome) == []


# Each lint: the SQL that makes its defect on a fresh database, and the correct variant of the same thing.
T = "CREATE TABLE public.t (id int PRIMARY KEY, owner uuid NOT NULL);"
OWN = "owner = (select auth.uid())"
FK = "CREATE TABLE public.p (id int PRIMARY KEY); CREATE TABLE public.c (id int PRIMARY KEY, p int REFERENCES public.p)"
LINTS = {
    "rls_disabled_in_public": (
        f"{T} GRANT SELECT ON public.t TO anon;",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});"
        " GRANT SELECT ON public.t TO anon;",
    ),
    "policy_exists_rls_disabled": (
        f"{T} CREATE POLICY p ON public.t USING ({OWN});",
        f"{T} CREATE POLICY p ON public.t USING ({OWN}); ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;",
    ),
    "rls_enabled_no_policy": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});",
    ),
    "security_definer_view": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});"
        " CREATE VIEW public.v AS SELECT * FROM public.t; GRANT SELECT ON public.v TO authenticated;",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});"
        " CREATE VIEW public.v WITH (security_invoker = true) AS SELECT * FROM public.t;"
        " GRANT SELECT ON public.v TO authenticated;",
    ),
    "security_definer_search_path": (
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';"
        " GRANT EXECUTE ON FUNCTION public.f() TO authenticated;",
        "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';"
        " GRANT EXECUTE ON FUNCTION public.f() TO authenticated;",
    ),
    "auth_rls_initplan": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING (owner = auth.uid());",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});",
    ),
    "multiple_permissive_policies": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t FOR SELECT"
        f" TO authenticated USING ({OWN}); CREATE POLICY q ON public.t FOR SELECT TO authenticated USING (id > 0);",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t FOR SELECT"
        f" TO authenticated USING ({OWN} OR id > 0);",
    ),
    "permissive_true_write": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t FOR UPDATE USING (true);",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t FOR UPDATE USING ({OWN});",
    ),
    "rls_bypass_privileges": (
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});"
        " GRANT TRUNCATE ON public.t TO authenticated;",
        f"{T} ALTER TABLE public.t ENABLE ROW LEVEL SECURITY; CREATE POLICY p ON public.t USING ({OWN});"
        " GRANT SELECT ON public.t TO authenticated;",
    ),
    "unindexed_foreign_keys": (
        f"{FK};",
        f"{FK}; CREATE INDEX ON public.c (p);",
    ),
}
# The template database grants the API roles everything on new tables (Supabase's default privileges):
# taken back first, so each case holds only the grants it makes.
QUIET = (
    "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM anon, authenticated;"
    " ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated;"
)


@pytest.mark.rule(*(f"lint.{rule}" for rule in LINTS))
@pytest.mark.parametrize("rule", list(LINTS))
def test_the_lint_fires_on_its_defect(rule: str, target: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(QUIET + LINTS[rule][0])
    findings = run_lints(snapshot_of(target))
    assert_only_rule(findings, f"lint.{rule}")
    assert [f.rule for f in findings if f.rule == f"lint.{rule}"], findings


@pytest.mark.parametrize("rule", list(LINTS))
def test_the_lint_is_silent_on_the_correct_variant(rule: str, target: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(QUIET + LINTS[rule][1])
    assert [f.render() for f in run_lints(snapshot_of(target)) if f.rule == f"lint.{rule}"] == []


# Schema rules the defect list does not make: (SQL before the snapshot, the defect, the rule, its object),
# checked against the chat schema's own snapshot (which states enabled: false where RLS is off, forced: false).
PLAIN = "CREATE TABLE public.plain (id int PRIMARY KEY); REVOKE ALL ON public.plain FROM anon, authenticated"
SCHEMA_DEFECTS = {
    "index made invalid": (
        "",
        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'public.idx_sam_threads_user_id'::regclass",
        "index.invalid",
        f"{THREADS}.idx_sam_threads_user_id",
    ),
    "index moved to another table": (
        "",
        "DROP INDEX public.idx_sam_threads_user_id;"
        " CREATE INDEX idx_sam_threads_user_id ON public.sam_conversation_messages (thread_id)",
        "index.table",
        f"{THREADS}.idx_sam_threads_user_id",
    ),
    "rls enabled where the contract has it off": (
        PLAIN,
        "ALTER TABLE public.plain ENABLE ROW LEVEL SECURITY",
        "rls.enabled",
        "public.plain",
    ),
    "rls forced where the contract has it not forced": (
        "",
        f"ALTER TABLE {THREADS} FORCE ROW LEVEL SECURITY",
        "rls.forced",
        str(THREADS),
    ),
    "function dropped": (
        "CREATE FUNCTION public.f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a'",
        "DROP FUNCTION public.f(int)",
        "function.missing",
        "public.f(a integer)",
    ),
    # A function returning void made a procedure of the same name, arguments and body.
    "function made a procedure": (
        "CREATE FUNCTION public.f(a int) RETURNS void LANGUAGE sql AS 'SELECT 1'",
        "DROP FUNCTION public.f(int); CREATE PROCEDURE public.f(a int) LANGUAGE sql AS 'SELECT 1'",
        "function.kind",
        "public.f(a integer)",
    ),
    # The same body text in another language; the body is compared in its language's terms, so a body of
    # another language is never the same body (function.body comes with it).
    "function language": (
        "CREATE FUNCTION public.f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a'",
        "SET check_function_bodies = off;"
        " CREATE OR REPLACE FUNCTION public.f(a int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'SELECT a'",
        "function.language",
        "public.f(a integer)",
    ),
    "function result type": (
        "CREATE FUNCTION public.f(a int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a'",
        "DROP FUNCTION public.f(int); SET check_function_bodies = off;"
        " CREATE FUNCTION public.f(a int) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT a'",
        "function.returns",
        "public.f(a integer)",
    ),
    # AS bigint alone would move the maximum with it (sequence.max): the maximum is kept.
    "sequence type": (
        "CREATE SEQUENCE public.s AS integer",
        "ALTER SEQUENCE public.s AS bigint MAXVALUE 2147483647",
        "sequence.type",
        "public.s",
    ),
    "view made a materialized view": (
        "CREATE VIEW public.v WITH (security_invoker = true) AS SELECT 1 AS a",
        "DROP VIEW public.v; CREATE MATERIALIZED VIEW public.v AS SELECT 1 AS a",
        "view.kind",
        "public.v",
    ),
    "publication made for all tables": (
        f"CREATE PUBLICATION p FOR TABLE {THREADS}",
        "DROP PUBLICATION p; CREATE PUBLICATION p FOR ALL TABLES",
        "publication.all_tables",
        "p",
    ),
    # A snapshot states deferral only where the key is deferrable: a deferrable key made immediate.
    "primary key no longer deferrable": (
        PLAIN.replace("PRIMARY KEY", "PRIMARY KEY DEFERRABLE INITIALLY DEFERRED"),
        "ALTER TABLE public.plain DROP CONSTRAINT plain_pkey, ADD CONSTRAINT plain_pkey PRIMARY KEY (id)",
        "primary_key.deferrable",
        "public.plain.plain_pkey",
    ),
}


@pytest.mark.rule(*(case[2] for case in SCHEMA_DEFECTS.values()))
@pytest.mark.parametrize("defect", list(SCHEMA_DEFECTS))
def test_the_schema_rule_fires_alone(
    defect: str, chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    before, statement, rule, obj = SCHEMA_DEFECTS[defect]
    also = ("function.body",) if rule == "function.language" else ()
    if before:
        run_sql(before)
    contract = load_contract(own_contract(chat_db, tmp_path))
    assert errors(check(chat_db, contract)) == []
    run_sql(statement)
    finding = assert_only_rule(check(chat_db, contract), rule, obj=obj, also=also)
    assert finding.expected != finding.actual


# Rules of hand-written contracts (a snapshot writes no roles, no schema without its grants, and always a
# view's definition with its columns): (SQL making the defect, the contract, the rule, its object, clean-up).
ROLE = "pgc_probe_role"
HAND_DEFECTS: dict[str, tuple[str, dict[str, object], str, str, str]] = {
    "role missing": ("", {"roles": {ROLE: {}}}, "role.missing", ROLE, ""),
    "role cannot log in": (
        f"CREATE ROLE {ROLE} NOLOGIN",
        {"roles": {ROLE: {"login": True}}},
        "role.login",
        ROLE,
        f"DROP ROLE {ROLE}",
    ),
    "role bypasses RLS": (
        f"CREATE ROLE {ROLE} NOLOGIN BYPASSRLS",
        {"roles": {ROLE: {"bypassrls": False}}},
        "role.bypassrls",
        ROLE,
        f"DROP ROLE {ROLE}",
    ),
    "role not granted a role": (
        f"CREATE ROLE {ROLE} NOLOGIN",
        {"roles": {ROLE: {"member_of": ["pg_monitor"]}}},
        "role.member_of",
        ROLE,
        f"DROP ROLE {ROLE}",
    ),
    "schema of schema grants missing": (
        "",
        {"privileges": {"schemas": {"reports": {"public": ["usage"]}}}},
        "schema_grant.schema_missing",
        "schema reports",
        "",
    ),
    # Columns without a definition: another definition with other columns is the columns' defect alone.
    "view columns": (
        "CREATE VIEW public.v WITH (security_invoker = true) AS SELECT 1 AS a, 'x'::text AS b",
        {"views": {"public.v": {"security_invoker": True, "columns": {"a": "integer"}}}},
        "view.columns",
        "public.v",
        "",
    ),
}


@pytest.mark.rule(*(case[2] for case in HAND_DEFECTS.values()))
@pytest.mark.parametrize("defect", list(HAND_DEFECTS))
def test_the_rule_of_a_hand_written_contract_fires_alone(
    defect: str, target: Target, run_sql: Callable[[str], None]
) -> None:
    statement, spec, rule, obj, cleanup = HAND_DEFECTS[defect]
    if statement:
        run_sql(statement)
    try:
        finding = assert_only_rule(check(target, Contract.model_validate(spec)), rule, obj=obj)
    finally:
        if cleanup:
            run_sql(cleanup)  # roles belong to the server, not to the test's database
    assert finding.expected != finding.actual
