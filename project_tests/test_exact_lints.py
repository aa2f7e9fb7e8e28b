"""Each lint's findings pinned whole, on a real database: the defect built on purpose, every finding of
the rule compared exactly (object, owner, kind, level, message with title and remediation, expected,
actual, fix SQL), the rule alone at its level; then the defect corrected (by the finding's own fix where
it has one) and the rule silent. Mutation testing of ``lints.py`` (docs/mutation.md) showed that the
probes (``test_rule_probes.py``), which only see a rule fire, leave its texts, its fix, its sorting and
most of its conditions free to change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.contract.loader import load_contract
from pgcontract.findings import Finding, Fix, Kind, Level
from pgcontract.lints import Hit, api_roles, lint_rules, run_lints, validate_lint_names
from project_tests.helpers import run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

# The template database grants the API roles everything on new tables (Supabase's default privileges),
# and PUBLIC may execute new functions: taken back first, so a case holds only the grants it makes.
QUIET = (
    "ALTER DEFAULT PRIVILEGES REVOKE ALL ON TABLES FROM anon, authenticated;"
    " ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon, authenticated;"
    " ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC, anon, authenticated;"
    " ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE EXECUTE ON FUNCTIONS FROM anon, authenticated;"
)
# Each rule's title and remediation, as a finding's message shows them around the hit's own text.
SHOWN = {
    "rls_disabled_in_public": (
        "RLS disabled on a table the API roles can reach",
        "ALTER TABLE ... ENABLE ROW LEVEL SECURITY and add policies",
    ),
    "policy_exists_rls_disabled": ("Policies exist but RLS is disabled", "ALTER TABLE ... ENABLE ROW LEVEL SECURITY"),
    "rls_enabled_no_policy": (
        "RLS enabled with no policy",
        "add the policies that grant access, or document that only the owner may read",
    ),
    "security_definer_view": (
        "View without security_invoker exposes RLS tables",
        "ALTER VIEW ... SET (security_invoker = true), or revoke SELECT from the API roles",
    ),
    "security_definer_search_path": (
        "SECURITY DEFINER function without a fixed search_path",
        "ALTER FUNCTION ... SET search_path = '' and qualify every name in its body",
    ),
    "auth_rls_initplan": (
        "auth.uid() or current_setting() evaluated per row in a policy",
        "wrap the call in a sub-select: (select auth.uid()) is evaluated once per statement",
    ),
    "multiple_permissive_policies": (
        "Several permissive policies for one role and command",
        "merge them into one policy (permissive policies are OR-ed; each one costs)",
    ),
    "permissive_true_write": (
        "USING (true) or WITH CHECK (true) on a policy that writes",
        "restrict the policy to the rows the caller owns",
    ),
    "rls_bypass_privileges": (
        "A role RLS applies to holds privileges RLS does not restrict",
        "REVOKE TRUNCATE, REFERENCES, TRIGGER ON the table FROM the role: TRUNCATE empties the table whatever"
        " the policies, REFERENCES probes for keys through foreign-key errors, TRIGGER runs the role's code on"
        " every write",
    ),
    "unindexed_foreign_keys": ("Foreign key without a covering index", "CREATE INDEX on the foreign key's columns"),
    "erasure_foreign_keys": (
        "Deleting a user keeps or blocks rows of personal data",
        "ON DELETE CASCADE on foreign keys to the users table and along owner chains; ON DELETE SET NULL only"
        " on columns declared under the table's erasure.set_null",
    ),
}
LEVEL = {
    "rls_disabled_in_public": Level.ERROR,
    "policy_exists_rls_disabled": Level.ERROR,
    "rls_enabled_no_policy": Level.INFO,
    "security_definer_view": Level.ERROR,
    "security_definer_search_path": Level.WARNING,
    "auth_rls_initplan": Level.WARNING,
    "multiple_permissive_policies": Level.WARNING,
    "permissive_true_write": Level.WARNING,
    "rls_bypass_privileges": Level.ERROR,
    "unindexed_foreign_keys": Level.INFO,
    "erasure_foreign_keys": Level.ERROR,
}


@dataclass(frozen=True)
class Case:
    """``defect`` builds what the rule must report, exactly ``hits`` (in this order); the hits' fixes and
    then ``correct`` make the rule silent."""

    defect: str
    rule: str
    hits: tuple[Hit, ...]
    correct: str = ""
    contract: dict[str, Any] | None = None
    level: Level | None = None  # default: the rule's own


def finding(rule: str, hit: Hit, level: Level) -> Finding:
    title, remediation = SHOWN[rule]
    return Finding(
        rule=f"lint.{rule}",
        kind=Kind.LINTS,
        owner=rule,
        object=hit.object,
        message=f"{title}: {hit.message}. Remediation: {remediation}",
        expected=hit.expected,
        actual=hit.actual,
        fix=Fix(hit.fix_sql) if hit.fix_sql is not None else None,
        level=level,
    )


def lints_of(target: Target, contract: Contract | None) -> list[Finding]:
    return run_lints(snapshot_of(target, contract), contract)


ROLE = "pgc_lint_role"
ROLES = (ROLE, f"{ROLE}_owner", f"{ROLE}_bypass", f"{ROLE}_super")
ROLES_SQL = (
    f"CREATE ROLE {ROLE} NOLOGIN; CREATE ROLE {ROLE}_owner NOLOGIN; CREATE ROLE {ROLE}_bypass NOLOGIN BYPASSRLS;"
    f" CREATE ROLE {ROLE}_super NOLOGIN SUPERUSER;"
)
T = "CREATE TABLE public.{0} (id int PRIMARY KEY, owner uuid NOT NULL);"
OWN = "owner = (select auth.uid())"
RLS = "ALTER TABLE public.{0} ENABLE ROW LEVEL SECURITY;"
LONG = "l" * 58  # its index name, LONG_x_y_idx, cut at 63 characters: LONG_x_y_
STAYS = "the row stays, tied to nothing (declare the columns under erasure.set_null if it may stay)"


def refined(table: str, key: str, columns: str, wanted: str, refs: str = "id", deferral: str = "") -> str:
    """The fix of erasure_foreign_keys: the key to public.app_users again, with the wanted ON DELETE."""
    quoted = ", ".join(f'"{c}"' for c in columns.split(", "))
    targets = ", ".join(f'"{c}"' for c in refs.split(", "))
    return (
        f'ALTER TABLE "public"."{table}" DROP CONSTRAINT "{key}", ADD CONSTRAINT "{key}" FOREIGN KEY ({quoted})'
        f' REFERENCES "public"."app_users" ({targets}) ON DELETE {wanted}{deferral} NOT VALID;\n'
        f'ALTER TABLE "public"."{table}" VALIDATE CONSTRAINT "{key}";'
    )


USERS = "CREATE TABLE public.app_users (id int PRIMARY KEY, org int NOT NULL, UNIQUE (id, org));"
ERASURE = {"erasure": {"users": "public.app_users"}}
CASES: dict[str, Case] = {
    # Tables the API roles reach: by table privileges (one by a quoted name), by a column privilege alone;
    # RLS on, a platform schema, no API grant: silent.
    "rls_disabled_in_public": Case(
        T.format("a")
        + " GRANT SELECT ON public.a TO authenticated; GRANT INSERT ON public.a TO anon;"
        + ' CREATE TABLE public."Mixed Case" (id int); GRANT SELECT ON public."Mixed Case" TO anon;'
        + T.format("guarded")
        + RLS.format("guarded")
        + f" CREATE POLICY p ON public.guarded USING ({OWN}); GRANT SELECT ON public.guarded TO anon;"
        + " CREATE SCHEMA storage; CREATE TABLE storage.plain (id int); GRANT SELECT ON storage.plain TO anon;"
        + " CREATE TABLE public.inner_only (id int);"
        + " CREATE TABLE public.cols (id int, email text); GRANT SELECT (email) ON public.cols TO anon;",
        "rls_disabled_in_public",
        (
            Hit(
                "public.Mixed Case",
                "RLS is disabled on a table anon can reach",
                "RLS enabled",
                "RLS disabled",
                'ALTER TABLE "public"."Mixed Case" ENABLE ROW LEVEL SECURITY;',
            ),
            Hit(
                "public.a",
                "RLS is disabled on a table anon, authenticated can reach",
                "RLS enabled",
                "RLS disabled",
                'ALTER TABLE "public"."a" ENABLE ROW LEVEL SECURITY;',
            ),
            Hit(
                "public.cols",
                "RLS is disabled on a table anon can reach",
                "RLS enabled",
                "RLS disabled",
                'ALTER TABLE "public"."cols" ENABLE ROW LEVEL SECURITY;',
            ),
        ),
    ),
    # Policies q and p (named out of order); a table with a policy and RLS on, one with neither: silent.
    "policy_exists_rls_disabled": Case(
        T.format("t")
        + f" CREATE POLICY q ON public.t USING ({OWN}); CREATE POLICY p ON public.t USING (id > 0);"
        + T.format("on")
        + RLS.format("on")
        + f" CREATE POLICY p ON public.on USING ({OWN});"
        + " CREATE TABLE public.bare (id int);",
        "policy_exists_rls_disabled",
        (
            Hit(
                "public.t",
                "policies (p, q) exist but RLS is disabled: they do nothing",
                "RLS enabled",
                "RLS disabled",
                'ALTER TABLE "public"."t" ENABLE ROW LEVEL SECURITY;',
            ),
        ),
    ),
    # A table with a policy, one without RLS, one in a platform schema: silent.
    "rls_enabled_no_policy": Case(
        T.format("t")
        + RLS.format("t")
        + T.format("ok")
        + RLS.format("ok")
        + f" CREATE POLICY p ON public.ok USING ({OWN});"
        " CREATE TABLE public.bare (id int);"
        " CREATE SCHEMA storage; CREATE TABLE storage.x (id int); ALTER TABLE storage.x ENABLE ROW LEVEL SECURITY;",
        "rls_enabled_no_policy",
        (
            Hit(
                "public.t",
                "RLS is enabled but no policy exists: no role but the owner sees a row",
                "at least one policy",
                "no policy",
            ),
        ),
        correct=f"CREATE POLICY p ON public.t USING ({OWN});",
    ),
    # A schema the contract does not read: its tables are known by name only (their policies unread), so
    # not linted.
    "rls_enabled_no_policy, outside the contract's schemas": Case(
        T.format("t")
        + RLS.format("t")
        + " CREATE SCHEMA other; CREATE TABLE other.x (id int); ALTER TABLE other.x ENABLE ROW LEVEL SECURITY;"
        + " CREATE POLICY p ON other.x USING (true);",
        "rls_enabled_no_policy",
        (
            Hit(
                "public.t",
                "RLS is enabled but no policy exists: no role but the owner sees a row",
                "at least one policy",
                "no policy",
            ),
        ),
        correct=f"CREATE POLICY p ON public.t USING ({OWN});",
        contract=ERASURE,
    ),
    # A view over two RLS tables read by both API roles; an invoker view, a view of a table without RLS,
    # a view no API role reads, a view in a platform schema: silent.
    "security_definer_view": Case(
        T.format("a")
        + RLS.format("a")
        + f" CREATE POLICY p ON public.a USING ({OWN});"
        + T.format("b")
        + RLS.format("b")
        + f" CREATE POLICY p ON public.b USING ({OWN});"
        + " CREATE TABLE public.plain (id int);"
        + " CREATE VIEW public.v AS SELECT a.id FROM public.b JOIN public.a USING (id);"
        + " GRANT SELECT ON public.v TO authenticated, anon;"
        + " CREATE VIEW public.invoker WITH (security_invoker = true) AS SELECT id FROM public.a;"
        + " GRANT SELECT ON public.invoker TO anon;"
        + " CREATE VIEW public.of_plain AS SELECT id FROM public.plain; GRANT SELECT ON public.of_plain TO anon;"
        + " CREATE VIEW public.unread AS SELECT id FROM public.a;"
        + " CREATE SCHEMA storage; CREATE VIEW storage.v AS SELECT id FROM public.a;"
        + " GRANT SELECT ON storage.v TO anon;",
        "security_definer_view",
        (
            Hit(
                "public.v",
                "view runs with its owner's rights and exposes RLS tables (public.a, public.b) to anon, authenticated",
                "security_invoker = true",
                "security_invoker = false",
                'ALTER VIEW "public"."v" SET (security_invoker = true);',
            ),
        ),
    ),
    # A function with arguments and a procedure; with search_path set, SECURITY INVOKER, executable by no
    # API role, in a platform schema: silent.
    "security_definer_search_path": Case(
        "CREATE FUNCTION public.f(a int, b text) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT a';"
        " GRANT EXECUTE ON FUNCTION public.f(int, text) TO authenticated, anon;"
        " CREATE PROCEDURE public.p(a int) LANGUAGE sql SECURITY DEFINER AS 'SELECT a';"
        " GRANT EXECUTE ON PROCEDURE public.p(int) TO authenticated;"
        " CREATE FUNCTION public.fixed() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 1';"
        " GRANT EXECUTE ON FUNCTION public.fixed() TO anon;"
        " CREATE FUNCTION public.invoker() RETURNS int LANGUAGE sql AS 'SELECT 1';"
        " GRANT EXECUTE ON FUNCTION public.invoker() TO anon;"
        " CREATE FUNCTION public.inner_only() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';"
        " CREATE SCHEMA storage; CREATE FUNCTION storage.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';"
        " GRANT EXECUTE ON FUNCTION storage.f() TO anon;",
        "security_definer_search_path",
        (
            Hit(
                "public.f(a integer, b text)",
                "SECURITY DEFINER function without a fixed search_path, executable by anon, authenticated",
                "SET search_path = ...",
                "search_path taken from the caller",
                'ALTER FUNCTION "public"."f"(integer, text) SET search_path = \'\';',
            ),
            Hit(
                "public.p(a integer)",
                "SECURITY DEFINER function without a fixed search_path, executable by authenticated",
                "SET search_path = ...",
                "search_path taken from the caller",
                'ALTER PROCEDURE "public"."p"(integer) SET search_path = \'\';',
            ),
        ),
    ),
    # Calls per row in USING and WITH CHECK (one qualified with pg_catalog), a quoted policy name; calls in
    # sub-selects and a function of the same name in another schema: silent.
    "auth_rls_initplan": Case(
        T.format("t")
        + RLS.format("t")
        + " CREATE POLICY \"Owner.Only\" ON public.t USING (owner = auth.uid() OR (auth.jwt() ->> 'role') = 'admin')"
        + " WITH CHECK (pg_catalog.current_setting('app.x') = 'y' AND owner = (select auth.uid()));"
        + " CREATE FUNCTION public.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid';"
        + " CREATE POLICY sub ON public.t USING (owner = (select auth.uid()) AND owner = public.uid());",
        "auth_rls_initplan",
        (
            Hit(
                'public.t."Owner.Only"',
                "auth.jwt(), auth.uid(), current_setting() is evaluated for every row",
                "(select auth.jwt())",
                "auth.jwt()",
            ),
        ),
        correct='DROP POLICY "Owner.Only" ON public.t;',
    ),
    # FOR ALL to two roles beside a policy per command to one: four pairs; restrictive policies (named to
    # come first) and the other role's single policy: not counted.
    "multiple_permissive_policies": Case(
        T.format("t")
        + RLS.format("t")
        + f" CREATE POLICY a ON public.t TO anon, authenticated USING ({OWN});"
        + f" CREATE POLICY c ON public.t FOR SELECT TO authenticated USING ({OWN});"
        + f" CREATE POLICY b ON public.t FOR UPDATE TO authenticated USING ({OWN});"
        + f" CREATE POLICY d ON public.t FOR INSERT TO authenticated WITH CHECK ({OWN});"
        + f" CREATE POLICY e ON public.t FOR DELETE TO authenticated USING ({OWN});"
        + f" CREATE POLICY _r ON public.t AS RESTRICTIVE FOR SELECT TO authenticated USING ({OWN});"
        + f" CREATE POLICY _s ON public.t AS RESTRICTIVE FOR SELECT TO anon USING ({OWN});",
        "multiple_permissive_policies",
        (
            Hit(
                "public.t (authenticated, delete)",
                "2 permissive policies for authenticated on delete: a, e (each is evaluated; any one grants access)",
                "one permissive policy",
                "2 policies",
            ),
            Hit(
                "public.t (authenticated, insert)",
                "2 permissive policies for authenticated on insert: a, d (each is evaluated; any one grants access)",
                "one permissive policy",
                "2 policies",
            ),
            Hit(
                "public.t (authenticated, select)",
                "2 permissive policies for authenticated on select: a, c (each is evaluated; any one grants access)",
                "one permissive policy",
                "2 policies",
            ),
            Hit(
                "public.t (authenticated, update)",
                "2 permissive policies for authenticated on update: a, b (each is evaluated; any one grants access)",
                "one permissive policy",
                "2 policies",
            ),
        ),
        correct="DROP POLICY b ON public.t; DROP POLICY c ON public.t; DROP POLICY d ON public.t;"
        " DROP POLICY e ON public.t;",
    ),
    # true in both clauses, in WITH CHECK alone (insert, update); true for SELECT, on a restrictive
    # policy (both named to come first), or only next to a condition: silent.
    "permissive_true_write": Case(
        T.format("t")
        + RLS.format("t")
        + " CREATE POLICY a ON public.t USING (true) WITH CHECK (true);"
        + " CREATE POLICY b ON public.t FOR INSERT WITH CHECK (true);"
        + f" CREATE POLICY c ON public.t FOR UPDATE USING ({OWN}) WITH CHECK (true);"
        + " CREATE POLICY _read ON public.t FOR SELECT USING (true);"
        + " CREATE POLICY _strict ON public.t AS RESTRICTIVE FOR UPDATE USING (true);"
        + f" CREATE POLICY f ON public.t FOR DELETE USING ({OWN} OR true = false);",
        "permissive_true_write",
        (
            Hit(
                "public.t.a",
                "USING and WITH CHECK (true) on a policy that allows all",
                "a condition on the row",
                "true",
            ),
            Hit("public.t.b", "WITH CHECK (true) on a policy that allows insert", "a condition on the row", "true"),
            Hit("public.t.c", "WITH CHECK (true) on a policy that allows update", "a condition on the row", "true"),
        ),
        correct="DROP POLICY a ON public.t; DROP POLICY b ON public.t; DROP POLICY c ON public.t;",
    ),
    # A role the policies name, an API role they do not name, any role under a policy for PUBLIC: each
    # reported with what it holds; the owner, a BYPASSRLS role, a superuser, a role neither named nor an
    # API role, an API role holding none of the three (before the role reported on that table), a table
    # without RLS: silent.
    "rls_bypass_privileges": Case(
        ROLES_SQL
        + T.format("t")
        + RLS.format("t")
        + f" CREATE POLICY p ON public.t TO authenticated USING ({OWN});"
        + " GRANT TRUNCATE, REFERENCES, TRIGGER, SELECT ON public.t TO authenticated;"
        + f" GRANT TRUNCATE, SELECT ON public.t TO anon; GRANT TRUNCATE ON public.t TO {ROLE};"
        + T.format("pub")
        + RLS.format("pub")
        + f" CREATE POLICY p ON public.pub USING ({OWN}); ALTER TABLE public.pub OWNER TO {ROLE}_owner;"
        + f" GRANT TRIGGER ON public.pub TO {ROLE}; GRANT TRUNCATE ON public.pub TO {ROLE}_bypass, {ROLE}_super;"
        + T.format("named")
        + RLS.format("named")
        + f" CREATE POLICY p ON public.named TO {ROLE} USING ({OWN}); GRANT REFERENCES ON public.named TO {ROLE};"
        + " GRANT SELECT ON public.named TO anon;"
        + f" CREATE TABLE public.off (id int); GRANT TRUNCATE ON public.off TO {ROLE};",
        "rls_bypass_privileges",
        (
            Hit(
                "public.named (pgc_lint_role)",
                "pgc_lint_role holds REFERENCES on a table whose rows RLS guards",
                "none of TRUNCATE, REFERENCES, TRIGGER",
                "references",
                'REVOKE REFERENCES ON "public"."named" FROM "pgc_lint_role";',
            ),
            Hit(
                "public.pub (pgc_lint_role)",
                "pgc_lint_role holds TRIGGER on a table whose rows RLS guards",
                "none of TRUNCATE, REFERENCES, TRIGGER",
                "trigger",
                'REVOKE TRIGGER ON "public"."pub" FROM "pgc_lint_role";',
            ),
            Hit(
                "public.t (anon)",
                "anon holds TRUNCATE on a table whose rows RLS guards",
                "none of TRUNCATE, REFERENCES, TRIGGER",
                "truncate",
                'REVOKE TRUNCATE ON "public"."t" FROM "anon";',
            ),
            Hit(
                "public.t (authenticated)",
                "authenticated holds REFERENCES, TRIGGER, TRUNCATE on a table whose rows RLS guards",
                "none of TRUNCATE, REFERENCES, TRIGGER",
                "references, trigger, truncate",
                'REVOKE REFERENCES, TRIGGER, TRUNCATE ON "public"."t" FROM "authenticated";',
            ),
        ),
    ),
    # Composite key: covered by an index of its columns in another order, or of more columns; not by a
    # shorter index, nor by one with another column between, nor (the key after a covered one) by an index
    # whose first column is another; a long table name cuts the index name at 63 characters.
    "unindexed_foreign_keys": Case(
        "CREATE TABLE public.p (a int, b int, PRIMARY KEY (a, b));"
        " CREATE TABLE public.single (id int PRIMARY KEY);"
        " CREATE TABLE public.covered (x int, y int, z int, CONSTRAINT a_key FOREIGN KEY (x, y) REFERENCES public.p,"
        " CONSTRAINT b_key FOREIGN KEY (z) REFERENCES public.single);"
        " CREATE INDEX ON public.covered (y, x);"
        " CREATE TABLE public.wide (x int, y int, z int, FOREIGN KEY (x, y) REFERENCES public.p);"
        " CREATE INDEX ON public.wide (y, x, z);"
        " CREATE TABLE public.short (x int, y int, CONSTRAINT short_key FOREIGN KEY (x, y) REFERENCES public.p);"
        " CREATE INDEX ON public.short (x);"
        ' CREATE TABLE public.gap (x int, y int, z int, CONSTRAINT "Gap.Key" FOREIGN KEY (x, y) REFERENCES public.p);'
        " CREATE INDEX ON public.gap (x, z, y);"
        f" CREATE TABLE public.{LONG} (x int, y int, CONSTRAINT long_key FOREIGN KEY (x, y) REFERENCES public.p);",
        "unindexed_foreign_keys",
        (
            Hit(
                "public.covered.b_key",
                "foreign key (z) has no covering index: deletes of the parent scan this table",
                "an index on the key columns",
                "none",
                'CREATE INDEX IF NOT EXISTS "covered_z_idx" ON "public"."covered" USING "btree" ("z");',
            ),
            Hit(
                'public.gap."Gap.Key"',
                "foreign key (x, y) has no covering index: deletes of the parent scan this table",
                "an index on the key columns",
                "none",
                'CREATE INDEX IF NOT EXISTS "gap_x_y_idx" ON "public"."gap" USING "btree" ("x", "y");',
            ),
            Hit(
                f"public.{LONG}.long_key",
                "foreign key (x, y) has no covering index: deletes of the parent scan this table",
                "an index on the key columns",
                "none",
                f'CREATE INDEX IF NOT EXISTS "{LONG}_x_y_" ON "public"."{LONG}" USING "btree" ("x", "y");',
            ),
            Hit(
                "public.short.short_key",
                "foreign key (x, y) has no covering index: deletes of the parent scan this table",
                "an index on the key columns",
                "none",
                'CREATE INDEX IF NOT EXISTS "short_x_y_idx" ON "public"."short" USING "btree" ("x", "y");',
            ),
        ),
    ),
    # Each wrong ON DELETE once: NO ACTION, SET DEFAULT, SET NULL undeclared (CASCADE wanted), RESTRICT on
    # a column declared cleared (SET NULL wanted); deferrable keys (immediate and deferred, composite,
    # quoted) keep their deferral in the fix; a declared column without a key. CASCADE, a declared SET
    # NULL, a table the contract retains, a key to another table: silent.
    "erasure_foreign_keys": Case(
        USERS
        + " CREATE TABLE public.cats (id int PRIMARY KEY);"
        + " CREATE TABLE public.notes (id int, owner_id int REFERENCES public.app_users,"
        + " cat int REFERENCES public.cats);"
        + " CREATE TABLE public.logs (id int, user_id int DEFAULT 0 REFERENCES public.app_users ON DELETE SET DEFAULT);"
        + " CREATE TABLE public.drafts (id int, user_id int REFERENCES public.app_users ON DELETE SET NULL);"
        + " CREATE TABLE public.posts (id int, author_id int REFERENCES public.app_users ON DELETE RESTRICT);"
        + ' CREATE TABLE public.members (user_id int, org int, CONSTRAINT "Member.Key" FOREIGN KEY (user_id, org)'
        + " REFERENCES public.app_users (id, org) DEFERRABLE INITIALLY DEFERRED);"
        + " CREATE TABLE public.pins (user_id int REFERENCES public.app_users DEFERRABLE);"
        + " CREATE TABLE public.tags (id int, author int);"
        + " CREATE TABLE public.ok (user_id int PRIMARY KEY REFERENCES public.app_users ON DELETE CASCADE);"
        + " CREATE TABLE public.cleared (editor int REFERENCES public.app_users ON DELETE SET NULL);"
        + " CREATE TABLE public.invoices (user_id int REFERENCES public.app_users);"
        + " CREATE TABLE public.other (p int REFERENCES public.ok (user_id));",
        "erasure_foreign_keys",
        (
            Hit(
                "public.drafts.drafts_user_id_fkey",
                "foreign key (user_id) to public.app_users is ON DELETE SET NULL: " + STAYS,
                "ON DELETE CASCADE",
                "ON DELETE SET NULL",
                refined("drafts", "drafts_user_id_fkey", "user_id", "CASCADE"),
            ),
            Hit(
                "public.logs.logs_user_id_fkey",
                "foreign key (user_id) to public.app_users is ON DELETE SET DEFAULT: " + STAYS,
                "ON DELETE CASCADE",
                "ON DELETE SET DEFAULT",
                refined("logs", "logs_user_id_fkey", "user_id", "CASCADE"),
            ),
            Hit(
                'public.members."Member.Key"',
                "foreign key (user_id, org) to public.app_users is ON DELETE NO ACTION: deleting the user fails on it",
                "ON DELETE CASCADE",
                "ON DELETE NO ACTION",
                refined(
                    "members",
                    "Member.Key",
                    "user_id, org",
                    "CASCADE",
                    refs="id, org",
                    deferral=" DEFERRABLE INITIALLY DEFERRED",
                ),
            ),
            Hit(
                "public.notes.notes_owner_id_fkey",
                "foreign key (owner_id) to public.app_users is ON DELETE NO ACTION: deleting the user fails on it",
                "ON DELETE CASCADE",
                "ON DELETE NO ACTION",
                refined("notes", "notes_owner_id_fkey", "owner_id", "CASCADE"),
            ),
            Hit(
                "public.pins.pins_user_id_fkey",
                "foreign key (user_id) to public.app_users is ON DELETE NO ACTION: deleting the user fails on it",
                "ON DELETE CASCADE",
                "ON DELETE NO ACTION",
                refined("pins", "pins_user_id_fkey", "user_id", "CASCADE", deferral=" DEFERRABLE"),
            ),
            Hit(
                "public.posts.posts_author_id_fkey",
                "foreign key (author_id) to public.app_users is ON DELETE RESTRICT: deleting the user fails on it",
                "ON DELETE SET NULL",
                "ON DELETE RESTRICT",
                refined("posts", "posts_author_id_fkey", "author_id", "SET NULL"),
            ),
            Hit(
                "public.tags (author)",
                "column author holds the user but has no foreign key to public.app_users: when the user is deleted,"
                " nothing clears it",
                "a foreign key to public.app_users",
                "none",
            ),
        ),
        correct="ALTER TABLE public.tags ADD FOREIGN KEY (author) REFERENCES public.app_users ON DELETE SET NULL;",
        contract={
            **ERASURE,
            "tables": {
                "public.posts": {"erasure": {"set_null": ["author_id"]}},
                "public.cleared": {"erasure": {"set_null": ["editor"]}},
                "public.tags": {"erasure": {"set_null": ["author"]}},
                "public.invoices": {"erasure": {"retain": "kept for accounting"}},
            },
        },
    ),
    # Under supabase auth an owner column alone holds the user (auth.uid()): without a key, nothing
    # deletes its rows.
    "erasure_foreign_keys, an owner column without a key": Case(
        "CREATE TABLE public.t (id int, user_id uuid);",
        "erasure_foreign_keys",
        (
            Hit(
                "public.t (user_id)",
                "column user_id holds the user but has no foreign key to auth.users: when the user is deleted,"
                " nothing deletes its rows",
                "a foreign key to auth.users",
                "none",
            ),
        ),
        correct="ALTER TABLE public.t ADD FOREIGN KEY (user_id) REFERENCES auth.users ON DELETE CASCADE;",
        contract={
            "auth": {"mode": "supabase"},
            "erasure": {},
            "tables": {"public.t": {"isolation": {"owner": "user_id"}}},
        },
    ),
}


def drop_roles(target: Target) -> None:
    """Roles belong to the server, not to the test's database: dropped whatever the test did."""
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        for role in ROLES:
            if conn.execute("SELECT FROM pg_roles WHERE rolname = %s", [role]).fetchone() is not None:
                conn.execute(sql.SQL("DROP OWNED BY {0}; DROP ROLE {0}").format(sql.Identifier(role)))


def assert_case(case: Case, target: Target, run_sql: Callable[[str], None]) -> None:
    contract = Contract.model_validate(case.contract) if case.contract is not None else None
    run_sql(QUIET + case.defect)
    found = lints_of(target, contract)
    level = case.level if case.level is not None else LEVEL[case.rule]
    assert_only_rule(found, f"lint.{case.rule}", level=level)
    got = [f for f in found if f.rule == f"lint.{case.rule}"]
    assert got == [finding(case.rule, hit, level) for hit in case.hits], "\n".join(repr(f) for f in got)
    run_sql("\n".join([hit.fix_sql for hit in case.hits if hit.fix_sql is not None] + [case.correct]))
    assert [f.render() for f in lints_of(target, contract) if f.rule == f"lint.{case.rule}"] == []


@pytest.mark.parametrize("name", list(CASES))
def test_the_lint_reports_exactly_and_is_silent_once_corrected(
    name: str, target: Target, run_sql: Callable[[str], None]
) -> None:
    try:
        assert_case(CASES[name], target, run_sql)
    finally:
        if name == "rls_bypass_privileges":
            drop_roles(target)


def test_a_contract_sets_levels_and_ignores_objects(target: Target, run_sql: Callable[[str], None]) -> None:
    """A level replaces the rule's own; ``ignore`` drops the rule; an object ignored by its name, or by
    its table for an object named ``table (role, command)`` (a table's name may hold " ("); a setting
    without a level keeps the rule's.
    The roles the contract's auth makes its users members of are held to the API roles' rules."""
    run_sql(
        QUIET
        + T.format("a")
        + T.format("b")
        + T.format("c")
        + " GRANT SELECT ON public.a, public.b TO anon; GRANT SELECT ON public.c TO pg_monitor;"
        + "".join(
            T.format(name)
            + RLS.format(name)
            + f" CREATE POLICY p ON public.{name} FOR SELECT USING ({OWN});"
            + f" CREATE POLICY q ON public.{name} FOR SELECT USING (id > 0);"
            for name in ("m", "n", '"Mixed (Case"')
        )
        + T.format("bare")
        + RLS.format("bare")
        + T.format("k")
        + f" CREATE POLICY p ON public.k USING ({OWN});"
        + " CREATE TABLE public.kid (id int, k int REFERENCES public.k);"
    )
    contract = Contract.model_validate(
        {
            "auth": {"mode": "role", "member_of": ["pg_monitor"]},
            "lints": {
                "rls_disabled_in_public": {"level": "warning", "ignore": ["public.a"]},
                "multiple_permissive_policies": {"level": "info", "ignore": ["public.m", 'public."Mixed (Case"']},
                "rls_enabled_no_policy": "ignore",
                "policy_exists_rls_disabled": {"ignore": ["public.other"]},
                "unindexed_foreign_keys": "error",
            },
        }
    )
    found = run_lints(snapshot_of(target), contract)
    assert [(f.rule, f.object, f.level) for f in found] == [
        ("lint.rls_disabled_in_public", "public.b", Level.WARNING),
        ("lint.rls_disabled_in_public", "public.c", Level.WARNING),
        ("lint.policy_exists_rls_disabled", "public.k", Level.ERROR),
        ("lint.multiple_permissive_policies", "public.n (public, select)", Level.INFO),
        ("lint.unindexed_foreign_keys", "public.kid.kid_k_fkey", Level.ERROR),
    ]
    # Without the contract: every hit at the rules' own levels, pg_monitor no API role.
    assert [(f.rule, f.object, f.level) for f in run_lints(snapshot_of(target))] == [
        ("lint.rls_disabled_in_public", "public.a", Level.ERROR),
        ("lint.rls_disabled_in_public", "public.b", Level.ERROR),
        ("lint.policy_exists_rls_disabled", "public.k", Level.ERROR),
        ("lint.rls_enabled_no_policy", "public.bare", Level.INFO),
        ("lint.multiple_permissive_policies", 'public."Mixed (Case" (public, select)', Level.WARNING),
        ("lint.multiple_permissive_policies", "public.m (public, select)", Level.WARNING),
        ("lint.multiple_permissive_policies", "public.n (public, select)", Level.WARNING),
        ("lint.unindexed_foreign_keys", "public.kid.kid_k_fkey", Level.INFO),
    ]


SNAPSHOT_RULES = [
    "rls_disabled_in_public",
    "policy_exists_rls_disabled",
    "rls_enabled_no_policy",
    "security_definer_view",
    "security_definer_search_path",
    "auth_rls_initplan",
    "multiple_permissive_policies",
    "permissive_true_write",
    "rls_bypass_privileges",
    "unindexed_foreign_keys",
]


def test_the_rules_a_contract_leaves_on() -> None:
    """One suite test per rule left on: the erasure rule only with ``erasure``; an ignored rule left out,
    a rule given another level kept."""
    assert lint_rules(Contract()) == SNAPSHOT_RULES
    assert lint_rules(Contract.model_validate(ERASURE)) == [*SNAPSHOT_RULES, "erasure_foreign_keys"]
    tuned = {"lints": {"unindexed_foreign_keys": "ignore", "rls_enabled_no_policy": "warning"}}
    assert lint_rules(Contract.model_validate({**ERASURE, **tuned})) == [*SNAPSHOT_RULES[:-1], "erasure_foreign_keys"]
    ignored = {"lints": {"erasure_foreign_keys": "ignore", "auth_rls_initplan": "ignore"}}
    assert lint_rules(Contract.model_validate({**ERASURE, **ignored})) == [
        r for r in SNAPSHOT_RULES if r != "auth_rls_initplan"
    ]


def test_unknown_lint_names_are_named() -> None:
    """Every rule id is known, the contract-only erasure rule included; anything else is named."""
    lints = {rule: "info" for rule in [*SNAPSHOT_RULES, "erasure_foreign_keys"]} | {
        "nope": "ignore",
        "rls_off": "error",
    }
    assert validate_lint_names(Contract.model_validate({"lints": lints})) == ["nope", "rls_off"]
    assert validate_lint_names(Contract()) == []


@pytest.mark.parametrize(
    ("auth", "extra"),
    [
        (None, set()),
        ({"mode": "supabase"}, set()),
        ({"mode": "supabase", "user_role": "member", "anon_role": "guest"}, {"member", "guest"}),
        ({"mode": "setting", "role": "app", "setting": "app.user_id"}, {"app"}),
        ({"mode": "role", "member_of": ["readers", "writers"]}, {"readers", "writers"}),
        ({"mode": "role"}, set()),
    ],
    ids=["no-auth", "supabase", "supabase-roles", "setting", "role", "role-alone"],
)
def test_the_roles_the_lints_hold_to_the_api_roles(auth: dict[str, Any] | None, extra: set[str]) -> None:
    contract = Contract.model_validate({"auth": auth} if auth is not None else {})
    assert api_roles(contract) == frozenset({"anon", "authenticated", "public"} | extra)
    assert api_roles(None) == frozenset({"anon", "authenticated", "public"})


def test_a_database_passes_its_own_snapshot_whatever_lints_it_fails_and_a_new_hit_still_fails(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    """``pgcontract snapshot`` writes the error-level hits it finds as ignored objects of their rule (and
    says so in the header): the database passes its own snapshot; the same defect on another table fails."""
    run_sql(
        QUIET + " CREATE TABLE public.open (id int); GRANT SELECT ON public.open TO anon;"
        " CREATE TABLE public.cols (id int, email text); GRANT SELECT (email) ON public.cols TO PUBLIC;"
    )
    path = snapshot_file(target, tmp_path)
    assert "# 2 error-level lint hit(s) found in the database are ignored under `lints:`" in path.read_text()
    contract = load_contract(path)
    assert {rule: setting.ignore for rule, setting in contract.lints.items()} == {
        "rls_disabled_in_public": ["public.cols", "public.open"]
    }
    done = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    run_sql("CREATE TABLE public.later (id int, name text); GRANT SELECT (name) ON public.later TO authenticated;")
    found = run_lints(snapshot_of(target, contract), contract)
    assert [(f.rule, f.object) for f in found if f.level is Level.ERROR] == [
        ("lint.rls_disabled_in_public", "public.later")
    ]
    done = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "public.later" in done.stdout
