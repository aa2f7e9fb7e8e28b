"""What the isolation probes read from a table's policies (``rls/inforce.py``), on policies PostgreSQL
itself printed (``pg_get_expr``): the columns a policy compares with the caller, in every spelling the
catalog gives (column or caller first, ``(SELECT auth.uid())``, ``CURRENT_USER``, ``SESSION_USER``,
``current_setting(...)`` with or without ``true`` and a cast, ``NULLIF``, quoted names) and not the
columns compared with anything else, a keyword, or another table's column; and the policies in force
for a command and a role, as a failure names them."""

from __future__ import annotations

from collections.abc import Callable

from pgcontract.catalog.snapshot import Table
from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.inforce import caller_columns, policies_in_force
from project_tests.helpers import snapshot_of

SCHEMA = '''
DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'inforce_editor')
  THEN CREATE ROLE inforce_editor NOLOGIN; END IF; END $$;
CREATE TABLE public.members (user_id uuid, team int);
CREATE TABLE public.docs (
  id int PRIMARY KEY,
  author_id uuid, editor_id uuid, owner text, reviewer text, "Odd ""Name""" text, tenant text,
  team int, status text, approver text, signer text, "Checker" text
);
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_own ON public.docs FOR SELECT TO authenticated
  USING (author_id = (SELECT auth.uid()) OR auth.uid() = editor_id);
CREATE POLICY write_own ON public.docs FOR INSERT TO authenticated WITH CHECK (owner = CURRENT_USER);
CREATE POLICY review ON public.docs FOR UPDATE TO inforce_editor
  USING (SESSION_USER = reviewer) WITH CHECK ("Odd ""Name""" = current_setting('app.user'));
CREATE POLICY by_tenant ON public.docs AS RESTRICTIVE FOR ALL
  USING (tenant = NULLIF(current_setting('app.tenant', true), '')::text);
CREATE POLICY by_team ON public.docs FOR DELETE TO authenticated
  USING (EXISTS (SELECT 1 FROM public.members m WHERE m.user_id = auth.uid() AND m.team = docs.team));
CREATE POLICY not_the_caller ON public.docs FOR SELECT TO anon USING (status = 'open' AND true);
CREATE POLICY sign ON public.docs FOR UPDATE TO authenticated
  USING (current_setting('app.user'::text, true) = approver) WITH CHECK (current_user = signer);
-- A quoted name without an escaped quote in it: the quotes alone come off.
CREATE POLICY checked ON public.docs FOR DELETE TO inforce_editor USING ("Checker" = CURRENT_USER);
CREATE TABLE public.plain (id int);
CREATE POLICY unused ON public.plain USING (true);
'''
DOCS = QualifiedName("public", "docs")


def docs(run_sql: Callable[[str], None], target: Target) -> Table:
    run_sql(SCHEMA)
    return snapshot_of(target).tables[DOCS]


def test_the_columns_compared_with_the_caller_in_every_spelling(run_sql: Callable[[str], None], target: Target) -> None:
    table = docs(run_sql, target)
    # team and m.user_id compare with the caller only in another table (members has user_id, docs not);
    # status with a constant.
    assert caller_columns(table) == {
        "author_id",
        "editor_id",
        "owner",
        "reviewer",
        'Odd "Name"',
        "tenant",
        "approver",
        "signer",
        "Checker",
    }


def test_the_policies_in_force_for_a_command_and_a_role(run_sql: Callable[[str], None], target: Target) -> None:
    table = docs(run_sql, target)
    policy = table.policies
    tenant = f"USING {policy['by_tenant'].using}"
    assert policies_in_force(table, "select", {"authenticated"}) == (
        f'"by_tenant" (restrictive) {tenant}; "read_own" USING {policy["read_own"].using}'
    )
    # An INSERT has no USING; only INSERT and UPDATE have WITH CHECK.
    assert policies_in_force(table, "insert", {"authenticated"}) == (
        f'"by_tenant" (restrictive); "write_own" WITH CHECK {policy["write_own"].with_check}'
    )
    assert policies_in_force(table, "update", {"inforce_editor"}) == (
        f'"by_tenant" (restrictive) {tenant}; '
        f'"review" USING {policy["review"].using} WITH CHECK {policy["review"].with_check}'
    )
    assert policies_in_force(table, "delete", {"anon"}) == f'"by_tenant" (restrictive) {tenant}'
    # None: whatever the role (the members of several roles are not known).
    assert policies_in_force(table, "select", None).count('"') == 2 * 3
    assert policies_in_force(table, "select", {"nobody"}) == f'"by_tenant" (restrictive) {tenant}'
    plain = snapshot_of(target).tables[QualifiedName("public", "plain")]
    assert policies_in_force(plain, "select", None) == "row level security disabled"


def test_a_command_no_policy_allows_is_said_so_and_a_bare_expression_is_bracketed(
    run_sql: Callable[[str], None], target: Target
) -> None:
    run_sql(
        "CREATE TABLE public.open (id int); ALTER TABLE public.open ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY everyone ON public.open FOR SELECT TO public USING (true);"
        "CREATE POLICY adds ON public.open FOR INSERT TO authenticated WITH CHECK (true);"
    )
    table = snapshot_of(target).tables[QualifiedName("public", "open")]
    assert table.policies["everyone"].using == "true"
    assert policies_in_force(table, "select", {"anon"}) == '"everyone" USING (true)'
    assert policies_in_force(table, "insert", {"authenticated"}) == '"adds" WITH CHECK (true)'
    assert policies_in_force(table, "update", {"authenticated"}) == "no UPDATE policy for this role"
    assert policies_in_force(table, "insert", {"anon"}) == "no INSERT policy for this role"
    assert caller_columns(table) == frozenset()


def test_a_keyword_is_no_column_but_a_column_named_like_one_is(run_sql: Callable[[str], None], target: Target) -> None:
    # Columns named like the keywords the policies use: a keyword read as a column name would be found.
    run_sql(
        'CREATE TABLE public.worded (id int, author_id uuid, "true" boolean, "CURRENT_USER" text,'
        ' "current_user" text, "null" uuid);'
        "ALTER TABLE public.worded ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY signed_in ON public.worded FOR SELECT"
        "  USING (author_id = auth.uid() OR (auth.uid() IS NOT NULL) = true);"
        "CREATE POLICY not_switched ON public.worded FOR UPDATE USING (CURRENT_USER = SESSION_USER);"
        'CREATE POLICY own_name ON public.worded FOR INSERT WITH CHECK ("current_user" = CURRENT_USER);'
        'CREATE POLICY held ON public.worded FOR DELETE USING ("null" = auth.uid());'
    )
    table = snapshot_of(target).tables[QualifiedName("public", "worded")]
    # The keywords stand where a column could: after "= ", before " = CURRENT_USER" / " = SESSION_USER".
    assert table.policies["signed_in"].using == "((author_id = auth.uid()) OR ((auth.uid() IS NOT NULL) = true))"
    assert table.policies["not_switched"].using == "(CURRENT_USER = SESSION_USER)"
    assert table.policies["own_name"].with_check == '("current_user" = CURRENT_USER)'
    assert caller_columns(table) == {"author_id", "current_user", "null"}
