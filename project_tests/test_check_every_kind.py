"""run_checks (checks/__init__.py) runs the check of every kind the contract declares, and nothing of a
missing table but that it is missing: one database holding one object of each kind, one defect of each
made at once, every finding named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from project_tests.helpers import check, own_contract

SETUP = """
CREATE TABLE public.t (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int CONSTRAINT t_a_check CHECK (a > 0), b text
);
CREATE INDEX t_b_idx ON public.t (b);
ALTER TABLE public.t ENABLE ROW LEVEL SECURITY;
CREATE POLICY t_read ON public.t FOR SELECT USING (true);
CREATE TABLE public.gone (id int PRIMARY KEY, c int);
CREATE INDEX gone_c_idx ON public.gone (c);
CREATE TABLE public.parted (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE public.parted_2024 PARTITION OF public.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TYPE public.mood AS ENUM ('sad', 'ok');
CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE AGGREGATE public.agg(int) (SFUNC = int4pl, STYPE = int);
CREATE DOMAIN public.d AS int;
CREATE TYPE public.c AS (x int);
CREATE SEQUENCE public.s;
CREATE VIEW public.v WITH (security_invoker = true) AS SELECT id FROM public.t;
CREATE VIEW public.w WITH (security_invoker = true) AS SELECT id FROM public.v;
CREATE FUNCTION public.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t_touch BEFORE INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION public.trg();
CREATE EXTENSION citext;
CREATE PUBLICATION pub FOR TABLE public.t;
"""
DEFECTS = """
DROP TABLE public.gone;
ALTER TABLE public.t ALTER COLUMN b TYPE varchar(10);
ALTER TABLE public.t ALTER COLUMN id SET INCREMENT BY 2;
ALTER TABLE public.t DROP CONSTRAINT t_a_check;
DROP INDEX public.t_b_idx;
DROP POLICY t_read ON public.t;
REVOKE SELECT ON public.t FROM authenticated;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM anon;
ALTER TABLE public.parted DETACH PARTITION public.parted_2024;
ALTER TYPE public.mood ADD VALUE 'happy';
DROP FUNCTION public.f();
DROP AGGREGATE public.agg(int);
DROP DOMAIN public.d;
DROP TYPE public.c;
ALTER SEQUENCE public.s INCREMENT BY 5;
DROP VIEW public.w; DROP VIEW public.v;
DROP TRIGGER t_touch ON public.t;
REVOKE USAGE ON SCHEMA public FROM anon;
DROP EXTENSION citext;
DROP PUBLICATION pub;
"""

EXPECTED = [
    ("aggregate.missing", "public.agg(integer)"),
    ("check.missing", "public.t.t_a_check"),
    ("column.identity_options", "public.t.id"),
    ("column.type", "public.t.b"),
    ("composite_type.missing", "public.c"),
    ("default_privilege.missing", "defaults of postgres in public on tables grants to anon"),
    ("domain.missing", "public.d"),
    ("enum.values", "public.mood"),
    ("extension.missing", "citext"),
    ("function.missing", "public.f()"),
    ("grant.missing", "public.t.grants to authenticated"),
    ("index.missing", "public.t.t_b_idx"),
    ("partition.detached", "public.parted_2024"),
    ("policy.missing", "public.t.t_read"),
    ("publication.missing", "pub"),
    ("role.login", "anon"),
    ("schema_grant.missing", "schema public grants to anon"),
    ("sequence.increment", "public.s"),
    ("table.missing", "public.gone"),  # and nothing of its columns or its index
    ("trigger.missing", "public.t.t_touch"),
    ("view.missing", "public.v"),
    ("view.missing", "public.w"),
]


def test_every_kind_is_checked_and_a_missing_table_only_as_missing(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(SETUP)
    contract = load_contract(own_contract(target, tmp_path))
    assert [f.render() for f in check(target, contract).findings] == []
    run_sql(DEFECTS)
    # Roles belong to the whole server: the contract asks for what anon lacks instead of changing anon.
    declared = contract.model_dump(by_alias=True, exclude_none=True)
    contract = Contract.model_validate({**declared, "roles": {"anon": {"login": True}}})
    found = sorted((f.rule, f.object) for f in check(target, contract).findings)
    assert found == EXPECTED
