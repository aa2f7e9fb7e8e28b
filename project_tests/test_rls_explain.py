"""Why a test row could not be made (``rls/explain.py``), on real refusals: each kind of error PostgreSQL
raises while the matrix seeds a row (a CHECK, NOT NULL, a foreign key, a duplicate, a missing privilege,
an error raised in a function or a trigger, in the table or in another one it writes) gives a message that
names what refused, and only the advice that can help."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.explain import Attempt, explain
from pgcontract.rls.values import SeedError
from project_tests.helpers import isolation, snapshot_of

TABLE = """
CREATE TABLE public.parents (id int PRIMARY KEY);
CREATE TABLE public.items (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES auth.users (id),
  label    text NOT NULL{columns}
);
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.items FOR ALL TO authenticated USING (owner_id = (SELECT auth.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.items TO authenticated;
"""
# Called by a CHECK: it must exist before the table.
VALID_CODE = (
    "CREATE FUNCTION public.valid_code(text) RETURNS boolean LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'codes come from the registry'; END $$;"
    "CREATE DOMAIN public.required_text AS text NOT NULL;"
    'CREATE DOMAIN public."required;text" AS text NOT NULL;'
    "CREATE DOMAIN public.short_code AS text CONSTRAINT short_code_shape CHECK (VALUE ~ '^zz');"
    "CREATE SCHEMA extra_types; CREATE DOMAIN extra_types.required_text AS text;"
)
NO_ROW = "cannot create a test row in public.items: "
CASES = {
    # A CHECK no generated value meets: values under isolation.values can.
    "check-on-a-made-up-value": (
        ",\n  code text NOT NULL CONSTRAINT code_shape CHECK (code ~ '^zz-[0-9]{3}$')",
        "",
        "",
        NO_ROW + "CHECK code_shape ((code ~ '^zz-[0-9]{3}$'::text)) refused the row; give values for code that"
        " satisfy it under isolation.values (a template such as 'name-${n}' keeps UNIQUE columns distinct)",
    ),
    "check-on-a-given-value": (
        ",\n  code text NOT NULL CONSTRAINT code_shape CHECK (code ~ '^zz-[0-9]{3}$')",
        "",
        ", values: {code: nope}",
        NO_ROW + "CHECK code_shape ((code ~ '^zz-[0-9]{3}$'::text)) refused the row; the values given under"
        " isolation.values (code) do not satisfy it",
    ),
    # The CHECK reads only the owner column, which the test sets itself: no advice.
    "check-on-the-owner": (
        ",\n  CONSTRAINT nobody CHECK (owner_id = '00000000-0000-0000-0000-000000000000')",
        "",
        "",
        NO_ROW + "CHECK nobody ((owner_id = '00000000-0000-0000-0000-000000000000'::uuid)) refused the row",
    ),
    # A generated column: no value to give, its expression is what gave NULL.
    "not-null-generated": (
        ",\n  shown text GENERATED ALWAYS AS (nullif(label, label)) STORED NOT NULL",
        "",
        "",
        NO_ROW
        + "public.items.shown is NOT NULL and got NULL; it is generated (NULLIF(label, label)) and that gave NULL",
    ),
    # A BEFORE trigger that leaves the column alone: the default is what gave NULL.
    "not-null-default": (
        ",\n  note text NOT NULL DEFAULT nullif('x', 'x')",
        "CREATE FUNCTION public.keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
        "CREATE TRIGGER items_keep BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.keep();",
        "",
        NO_ROW + "public.items.note is NOT NULL and got NULL; give a value for note under isolation.values"
        " (its default NULLIF('x'::text, 'x'::text) gave NULL)",
    ),
    "not-null-by-a-trigger": (
        "",
        "CREATE FUNCTION public.blank() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN new.label := NULL; RETURN new; END $$;"
        "CREATE TRIGGER items_blank BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.blank();",
        "",
        NO_ROW + "public.items.label is NOT NULL and got NULL; a BEFORE INSERT trigger (items_blank) set it to NULL",
    ),
    "foreign-key-given": (
        # Nullable: the seeder makes no parent row for it (it would for a required key).
        ",\n  parent_id int REFERENCES public.parents (id)",
        "",
        ", values: {parent_id: '424242'}",
        NO_ROW + "foreign key items_parent_id_fkey refused the row (Key (parent_id)=(424242) is not present in table"
        ' "parents".); isolation.values.parent_id points at a row that does not exist',
    ),
    # A parent row the seeder makes for a required key, refused by the parent's CHECK: the parent table has
    # no isolation section (the attempt carries none).
    "check-on-a-parent-row": (
        ",\n  parent_id int NOT NULL REFERENCES public.parents (id)",
        "ALTER TABLE public.parents ADD CONSTRAINT parent_shape CHECK (id % 1000 = 777);",
        "",
        "cannot create a test row in public.parents: CHECK parent_shape (((id % 1000) = 777)) refused the row;"
        " public.parents has no isolation section, so isolation.values cannot reach this row; give the foreign key"
        " that needed it a value under isolation.values, pointing at an existing row",
    ),
    "raised-in-a-function": (
        ",\n  code text NOT NULL CHECK (public.valid_code(code))",
        "",
        "",
        NO_ROW + "codes come from the registry, in function valid_code",
    ),
    "duplicate-in-another-table": (
        "",
        "CREATE TABLE public.audit (what text CONSTRAINT audit_once UNIQUE);"
        "CREATE FUNCTION public.audit_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO public.audit VALUES ('item'); RETURN new; END $$;"
        "CREATE TRIGGER items_audit AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.audit_items();",
        "",
        NO_ROW + "audit_once of public.audit refused a duplicate (Key (what)=(item) already exists.), in trigger"
        " items_audit on public.items (function public.audit_items)",
    ),
    # The same, the duplicate made of a value given for the row: the row's values are not the other table's,
    # whatever the column's name (no advice about a template).
    "duplicate-in-another-table-of-a-given-value": (
        ",\n  what text NOT NULL",
        "CREATE TABLE public.audit (what text CONSTRAINT audit_once UNIQUE);"
        "CREATE FUNCTION public.audit_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO public.audit VALUES (new.what); RETURN new; END $$;"
        "CREATE TRIGGER items_audit AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.audit_items();",
        ", values: {what: item}",
        NO_ROW + "audit_once of public.audit refused a duplicate (Key (what)=(item) already exists.), in trigger"
        " items_audit on public.items (function public.audit_items)",
    ),
    "duplicate-by-a-literal-under-a-unique-index": (
        ",\n  code text NOT NULL",
        "CREATE UNIQUE INDEX items_code ON public.items (code);",
        ", values: {code: same}",
        NO_ROW + "items_code refused a duplicate (Key (code)=(same) already exists.); isolation.values.code gives"
        " every test row the same value; make it a template with a number of each row's own, e.g. 'same ${n}'",
    ),
    # The CHECK of the row itself, broken by an AFTER trigger's update: values cannot help, no advice.
    "check-broken-by-a-trigger": (
        ",\n  code text NOT NULL DEFAULT 'ok' CONSTRAINT code_ok CHECK (code <> 'bad')",
        "CREATE FUNCTION public.spoil() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN UPDATE public.items SET code = 'bad' WHERE id = new.id; RETURN new; END $$;"
        "CREATE TRIGGER items_spoil AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.spoil();",
        "",
        NO_ROW + "CHECK code_ok ((code <> 'bad'::text)) refused the row, in trigger items_spoil on public.items"
        " (function public.spoil)",
    ),
    # A CHECK of a table a trigger writes: advice about this row's values cannot help.
    "check-in-another-table": (
        "",
        "CREATE TABLE public.audit (what text CONSTRAINT audit_what CHECK (what <> 'item'));"
        "CREATE FUNCTION public.audit_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO public.audit VALUES ('item'); RETURN new; END $$;"
        "CREATE TRIGGER items_audit AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.audit_items();",
        "",
        NO_ROW + "CHECK audit_what of public.audit ((what <> 'item'::text)) refused the row, in trigger"
        " items_audit on public.items (function public.audit_items)",
    ),
    # The row's own NOT NULL column, emptied by an AFTER trigger: no advice about values.
    "not-null-by-an-after-trigger": (
        "",
        "CREATE FUNCTION public.blank_later() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN UPDATE public.items SET label = NULL WHERE id = new.id; RETURN new; END $$;"
        "CREATE TRIGGER items_blank_later AFTER INSERT ON public.items"
        " FOR EACH ROW EXECUTE FUNCTION public.blank_later();",
        "",
        NO_ROW + "public.items.label is NOT NULL and got NULL, in trigger items_blank_later on public.items"
        " (function public.blank_later)",
    ),
    # A domain's NOT NULL names no column: the columns of that domain the row left out (no value given, no
    # default) are named instead.
    "not-null-of-a-domain": (
        ",\n  nick public.required_text, alias public.required_text, handle public.required_text,"
        " kept public.required_text DEFAULT 'k'",
        "",
        ", values: {handle: h}",
        NO_ROW + "domain required_text does not allow null values; give a value for nick, alias under isolation.values",
    ),
    # The error names the domain without its schema (its schema comes apart): a column of a domain of the
    # same name in another schema, which allows NULL, is not named.
    "not-null-of-a-domain-beside-its-namesake": (
        ",\n  nick public.required_text, spare extra_types.required_text",
        "",
        "",
        NO_ROW + "domain required_text does not allow null values; give a value for nick under isolation.values",
    ),
    # A domain named with a ";" (the type parser refuses the name; its quoted parts are read): still named.
    "not-null-of-a-domain-named-with-a-semicolon": (
        ',\n  tag public."required;text"',
        "",
        "",
        NO_ROW + 'domain "required;text" does not allow null values; give a value for tag under isolation.values',
    ),
    # A column the test leaves to its default: values can still help.
    "check-on-a-default": (
        ",\n  status text NOT NULL DEFAULT 'new' CONSTRAINT status_set CHECK (status <> 'new')",
        "",
        "",
        NO_ROW + "CHECK status_set ((status <> 'new'::text)) refused the row; give values for status that"
        " satisfy it under isolation.values (a template such as 'name-${n}' keeps UNIQUE columns distinct)",
    ),
    "check-on-two-made-up-values": (
        ",\n  lo text NOT NULL, hi text NOT NULL, CONSTRAINT lo_hi CHECK (lo = 'a' AND hi = 'b' AND lo > hi)",
        "",
        "",
        NO_ROW + "CHECK lo_hi (((lo = 'a'::text) AND (hi = 'b'::text) AND (lo > hi))) refused the row; give values"
        " for lo, hi that satisfy it under isolation.values (a template such as 'name-${n}' keeps UNIQUE columns"
        " distinct)",
    ),
    "check-on-two-given-values": (
        ",\n  lo text NOT NULL, hi text NOT NULL, CONSTRAINT lo_hi CHECK (lo > hi)",
        "",
        ", values: {lo: a, hi: b}",
        NO_ROW + "CHECK lo_hi ((lo > hi)) refused the row; the values given under isolation.values (lo, hi)"
        " do not satisfy it",
    ),
    # A given value a trigger copies into another table's key: the advice is for keys of this table only.
    "foreign-key-in-another-table": (
        ",\n  parent_id int",
        "CREATE TABLE public.links (parent_id int REFERENCES public.parents (id));"
        "CREATE FUNCTION public.link_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO public.links VALUES (new.parent_id); RETURN new; END $$;"
        "CREATE TRIGGER items_link AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.link_items();",
        ", values: {parent_id: '424242'}",
        NO_ROW + "foreign key links_parent_id_fkey of public.links refused the row (Key (parent_id)=(424242)"
        ' is not present in table "parents".), in trigger items_link on public.items (function public.link_items)',
    ),
    # ... and into a table of an extension, which the snapshot leaves out.
    "foreign-key-outside-the-contract": (
        ",\n  parent_id int",
        "CREATE SCHEMA audit; CREATE TABLE audit.links (parent_id int REFERENCES public.parents (id));"
        "ALTER EXTENSION plpgsql ADD TABLE audit.links;"
        "CREATE FUNCTION public.link_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO audit.links VALUES (new.parent_id); RETURN new; END $$;"
        "CREATE TRIGGER items_link AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.link_items();",
        ", values: {parent_id: '424242'}",
        NO_ROW + "foreign key links_parent_id_fkey of audit.links refused the row (Key (parent_id)=(424242)"
        ' is not present in table "parents".), in trigger items_link on public.items (function public.link_items)',
    ),
    # The error names a function on the search path unqualified: found by its name.
    "raised-in-a-trigger-found-by-search-path": (
        "",
        "CREATE SCHEMA private;"
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, private', current_database());"
        " END $$;"
        "CREATE FUNCTION private.stamp() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'items are stamped by the API'; END $$;"
        "CREATE TRIGGER items_stamp BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION private.stamp();",
        "",
        NO_ROW + "items are stamped by the API, in trigger items_stamp on public.items (function private.stamp)",
    ),
    # Named qualified: only the function of that schema, not its namesake in public.
    "raised-in-a-trigger-named-like-another": (
        "",
        "CREATE SCHEMA app;"
        "CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
        "CREATE FUNCTION app.stamp() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'items are stamped by the API'; END $$;"
        "CREATE TRIGGER items_a BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.stamp();"
        "CREATE TRIGGER items_b BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION app.stamp();",
        "",
        NO_ROW + "items are stamped by the API, in trigger items_b on public.items (function app.stamp)",
    ),
    # One function behind two triggers: both are named.
    "raised-in-a-function-of-two-triggers": (
        "",
        "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'closed'; END $$;"
        "CREATE TRIGGER parents_refuse BEFORE INSERT ON public.parents FOR EACH ROW EXECUTE FUNCTION public.refuse();"
        "CREATE TRIGGER items_refuse BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.refuse();",
        "",
        NO_ROW + "closed, in trigger items_refuse on public.items, parents_refuse on public.parents"
        " (function public.refuse)",
    ),
    # Only BEFORE INSERT triggers of the table can have set the column to NULL.
    "not-null-by-two-before-triggers": (
        "",
        "CREATE FUNCTION public.blank() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN new.label := NULL; RETURN new; END $$;"
        "CREATE FUNCTION public.keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN new; END $$;"
        "CREATE TRIGGER items_blank BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.blank();"
        "CREATE TRIGGER items_keep BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.keep();"
        "CREATE TRIGGER items_after AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.keep();"
        "CREATE TRIGGER parents_keep BEFORE INSERT ON public.parents FOR EACH ROW EXECUTE FUNCTION public.keep();",
        "",
        NO_ROW + "public.items.label is NOT NULL and got NULL; a BEFORE INSERT trigger (items_blank, items_keep)"
        " set it to NULL",
    ),
    # A rule writes another table without a function: that table's NOT NULL, no advice for this one.
    "not-null-in-another-table-by-a-rule": (
        "",
        "CREATE TABLE public.audit (what text NOT NULL);"
        "CREATE RULE items_log AS ON INSERT TO public.items DO ALSO INSERT INTO public.audit VALUES (NULL);",
        "",
        NO_ROW + "public.audit.what is NOT NULL and got NULL",
    ),
    # A domain's CHECK: no CHECK of the table to show, nor advice about it.
    "check-of-a-domain": (
        ",\n  code public.short_code",
        "",
        ", values: {code: nope}",
        NO_ROW + "CHECK short_code_shape refused the row",
    ),
    # A CHECK of a table of an extension (which the snapshot leaves out), written by a trigger.
    "check-outside-the-contract": (
        "",
        "CREATE SCHEMA audit; CREATE TABLE audit.log (what text CONSTRAINT log_what CHECK (what <> 'item'));"
        "ALTER EXTENSION plpgsql ADD TABLE audit.log;"
        "CREATE FUNCTION public.log_items() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN INSERT INTO audit.log VALUES ('item'); RETURN new; END $$;"
        "CREATE TRIGGER items_log AFTER INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public.log_items();",
        "",
        NO_ROW + "CHECK log_what of audit.log refused the row, in trigger items_log on public.items"
        " (function public.log_items)",
    ),
    # A domain's NOT NULL met by a cast in a CHECK: no column of that domain to name.
    "not-null-of-a-domain-in-a-check": (
        ",\n  code text NOT NULL CONSTRAINT code_kept CHECK ((nullif(code, code))::public.required_text IS NOT NULL)",
        "",
        "",
        NO_ROW + "domain required_text does not allow null values",
    ),
    # The failing signup function is named with its schema: its namesake in public, which reads the
    # metadata, is not the one that failed.
    "signup-trigger-named-like-another": (
        "",
        "CREATE FUNCTION public.on_signup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " PERFORM new.raw_user_meta_data ->> 'name'; RETURN new; END $$;"
        "CREATE FUNCTION auth.on_signup() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN RAISE EXCEPTION 'signups are closed'; END $$;"
        "CREATE TRIGGER on_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.on_signup();",
        "",
        "cannot create user A in auth.users: signups are closed, in trigger on_signup on auth.users"
        " (function auth.on_signup)",
    ),
    # A function whose quoted name holds a space and a parenthesis is still named.
    "raised-in-a-function-with-an-odd-name": (
        "",
        'CREATE FUNCTION public."stamp (it)"() RETURNS trigger LANGUAGE plpgsql AS $$'
        " BEGIN RAISE EXCEPTION 'items are stamped by the API'; END $$;"
        'CREATE TRIGGER items_stamp BEFORE INSERT ON public.items FOR EACH ROW EXECUTE FUNCTION public."stamp (it)"();',
        "",
        NO_ROW + 'items are stamped by the API, in trigger items_stamp on public.items (function public."stamp (it)")',
    ),
    # The signup trigger's function, in auth (read with the snapshot), is found by its name alone: the error
    # names it unqualified, auth being on the search path.
    "signup-trigger-found-by-search-path": (
        "",
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, auth', current_database());"
        " END $$;"
        "CREATE TABLE public.profiles (id uuid PRIMARY KEY, name text NOT NULL);"
        "CREATE FUNCTION auth.on_signup() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO public.profiles VALUES (new.id, new.raw_user_meta_data ->> 'name'); RETURN new; END $$;"
        "CREATE TRIGGER on_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION auth.on_signup();",
        "",
        "cannot create user A in auth.users: public.profiles.name is NOT NULL and got NULL, in trigger on_signup on"
        " auth.users (function auth.on_signup); the trigger reads the new user's metadata: give it under"
        " auth.claims.user_metadata",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_a_row_that_cannot_be_made_is_explained(
    case: str, run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    columns, extra_sql, isolation_extra, message = CASES[case]
    run_sql(VALID_CODE + TABLE.replace("{columns}", columns) + extra_sql)
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        "version: 1\nauth: {mode: supabase}\ntables:\n  public.items:\n"
        f"    isolation: {{owner: owner_id{isolation_extra}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as raised:
        isolation(target, contract)
    assert str(raised.value) == message


def test_a_seeding_role_without_the_privilege_is_told_what_to_do(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    run_sql(
        TABLE.replace("{columns}", "")
        + "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'explain_seeder')"
        " THEN CREATE ROLE explain_seeder NOLOGIN BYPASSRLS; END IF; END $$;"
        "GRANT USAGE ON SCHEMA auth TO explain_seeder; GRANT INSERT, SELECT ON auth.users TO explain_seeder;"
    )
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        "version: 1\nauth: {mode: supabase, seed_role: explain_seeder}\ntables:\n"
        "  public.items:\n    isolation: {owner: owner_id}\n",
        encoding="utf-8",
    )
    with pytest.raises(SeedError) as raised:
        isolation(target, contract)
    assert str(raised.value) == (
        NO_ROW + "permission denied for table items; the role creating test rows needs the privilege"
        " (or name another under auth.seed_role)"
    )


def test_an_error_the_client_raised_is_explained_by_its_text(run_sql: Callable[[str], None], target: Target) -> None:
    """An error with no server diagnostics (the connection lost during the INSERT: libpq's own text, over
    several lines) is shown on one line; a duplicate without a constraint's name says "a constraint"."""
    run_sql(TABLE.replace("{columns}", ""))
    snapshot = snapshot_of(target)
    items = QualifiedName("public", "items")
    attempt = Attempt(items, {"label": "x"}, frozenset({"label"}), None)
    lost = psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means the server")
    assert explain(lost, attempt, snapshot, []) == (
        "cannot create a test row in public.items: server closed the connection unexpectedly This probably means"
        " the server"
    )
    duplicate = errors.UniqueViolation("duplicate key value")
    assert explain(duplicate, attempt, snapshot, []) == (
        "cannot create a test row in public.items: a constraint refused a duplicate"
    )
