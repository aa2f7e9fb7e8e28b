"""Why a test row could not be made (``rls/explain.py``), on real refusals: each kind of error PostgreSQL
raises while the matrix seeds a row (a CHECK, NOT NULL, a foreign key, a duplicate, a missing privilege,
an error raised in a function or a trigger, in the table or in another one it writes) gives a message that
names what refused, and only the advice that can help."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.rls.values import SeedError
from project_tests.helpers import isolation

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
    "not-null-default": (
        ",\n  note text NOT NULL DEFAULT nullif('x', 'x')",
        "",
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
    "duplicate-by-a-literal-under-a-unique-index": (
        ",\n  code text NOT NULL",
        "CREATE UNIQUE INDEX items_code ON public.items (code);",
        ", values: {code: same}",
        NO_ROW + "items_code refused a duplicate (Key (code)=(same) already exists.); isolation.values.code gives"
        " every test row the same value; make it a template with a number of each row's own, e.g. 'same ${n}'",
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
