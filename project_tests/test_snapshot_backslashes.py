"""Catalog text with a backslash in a plain string (a regular expression's ``\\S``) survives the snapshot:
contracts refuse a backslash in a plain '...' string (it would end elsewhere under
standard_conforming_strings = off), so the snapshot writes the same value as an E'...' string."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.ddl import contract_ddl
from project_tests.helpers import check, errors, own_contract
from project_tests.kind_support import fresh_database, run_script

SCHEMA = r"""
CREATE TABLE public.people (
  id bigint PRIMARY KEY,
  email text NOT NULL CHECK (email ~ '^\S+@\S+$'),
  handle text DEFAULT 'a\b',
  code text GENERATED ALWAYS AS (regexp_replace(email, '\s', '', 'g')) STORED
);
CREATE INDEX people_handles ON public.people (regexp_replace(handle, '\W', '', 'g')) WHERE handle ~ '\w';
ALTER TABLE public.people ENABLE ROW LEVEL SECURITY;
CREATE POLICY plain_only ON public.people FOR UPDATE USING (handle !~ '\d') WITH CHECK (email ~ '\.org$');
CREATE VIEW public.org_people AS SELECT id, email FROM public.people WHERE email ~ '\.org$';
CREATE FUNCTION public.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER people_noop BEFORE UPDATE ON public.people FOR EACH ROW
  WHEN (NEW.handle ~ '\s') EXECUTE FUNCTION public.noop();
"""


def test_a_snapshot_with_backslashes_loads_back_and_passes(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    run_sql(SCHEMA)
    path = own_contract(target, tmp_path)
    checks = load_contract(path).tables["public.people"].checks
    assert [c.expression for c in checks] == ["(email ~ E'^\\\\S+@\\\\S+$'::text)"]
    assert errors(check(target, path)) == []


def test_the_sql_of_such_a_snapshot_loads_into_an_empty_database_and_passes(
    run_sql: Callable[[str], None],
    target: Target,
    pg: psycopg.Connection[tuple[object, ...]],
    tmp_path: Path,
) -> None:
    run_sql(SCHEMA)
    contract = load_contract(own_contract(target, tmp_path))
    with fresh_database(pg) as empty:
        run_script(empty, contract_ddl(contract))
        assert errors(check(empty, contract)) == []
