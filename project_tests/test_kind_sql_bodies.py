"""Functions and procedures with SQL-standard bodies (PostgreSQL 14+): ``RETURN expression`` and
``BEGIN ATOMIC ... END``, which PostgreSQL stores parsed (its ``prosrc`` is empty) and resolves when the
function is created. The database checked against its own snapshot passes; a body change fails naming the
function; the snapshot's SQL writes the bodies as SQL (a function whose body reads a table after the table)
and loads into an empty database; repair re-creates a changed or dropped one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.findings import Hazard, Kind
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file
from project_tests.kind_support import (
    assert_repaired,
    assert_sql_round_trips,
    fresh_database,
    repair,
)

SCHEMA = """
CREATE FUNCTION public.with_tax(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN round(amount * (1 + rate), 2);
CREATE TABLE public.invoices (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer text NOT NULL,
  net numeric(12,2) NOT NULL,
  gross numeric(12,2) NOT NULL DEFAULT 0
);
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.invoices FROM anon, authenticated;
CREATE FUNCTION public.open_total(who text) RETURNS numeric
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce(sum(gross), 0) FROM public.invoices WHERE customer = who;
END;
CREATE PROCEDURE public.restate(who text)
  LANGUAGE sql
BEGIN ATOMIC
  UPDATE public.invoices SET gross = public.with_tax(net) WHERE customer = who;
END;
-- Bodies calling what the contract creates later: an aggregate (a RETURN body and a BEGIN ATOMIC one reading a
-- table), and a function calling the latter (its key sorts first in the contract).
CREATE FUNCTION public.add_gross(total numeric, value numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE RETURN total + value;
CREATE AGGREGATE public.gross_sum(numeric) (SFUNC = public.add_gross, STYPE = numeric, INITCOND = '0');
CREATE FUNCTION public.sum_of(amounts numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE RETURN (SELECT public.gross_sum(a) FROM unnest(amounts) AS a);
CREATE FUNCTION public.gross_of(who text) RETURNS numeric
  LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT public.gross_sum(gross) FROM public.invoices WHERE customer = who;
END;
CREATE FUNCTION public.a_total_with_tax(who text) RETURNS numeric
  LANGUAGE sql STABLE RETURN public.with_tax(public.gross_of(who));
INSERT INTO public.invoices (customer, net, gross) VALUES ('ada', 10, 12), ('bob', 20, 24);
"""

SIGNATURES = {
    "public.sum_of(amounts numeric[])",
    "public.gross_of(who text)",
    "public.a_total_with_tax(who text)",
    "public.with_tax(amount numeric, rate numeric)",
    "public.open_total(who text)",
    "public.restate(who text)",
}


@pytest.fixture
def db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(db: Target, tmp_path: Path) -> None:
    path = snapshot_file(db, tmp_path)
    functions = load_contract(path).functions
    assert set(functions) >= SIGNATURES
    assert (functions["public.with_tax(amount numeric, rate numeric)"].body or "").startswith("RETURN round(")
    body = functions["public.open_total(who text)"].body or ""
    assert body.startswith("BEGIN ATOMIC")
    assert "FROM public.invoices" in body
    assert body.rstrip().endswith("END")
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


CHANGES = {
    "RETURN body changed": (
        "CREATE OR REPLACE FUNCTION public.with_tax(amount numeric, rate numeric DEFAULT 0.2) RETURNS numeric"
        " LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN round(amount * (1 + rate), 3)",
        "function.body",
        "public.with_tax(amount numeric, rate numeric)",
    ),
    "BEGIN ATOMIC body changed": (
        "CREATE OR REPLACE FUNCTION public.open_total(who text) RETURNS numeric LANGUAGE sql STABLE"
        " BEGIN ATOMIC SELECT coalesce(sum(net), 0) FROM public.invoices WHERE customer = who; END",
        "function.body",
        "public.open_total(who text)",
    ),
    "procedure body changed": (
        "CREATE OR REPLACE PROCEDURE public.restate(who text) LANGUAGE sql"
        " BEGIN ATOMIC UPDATE public.invoices SET gross = net WHERE customer = who; END",
        "function.body",
        "public.restate(who text)",
    ),
    "string body instead": (
        "CREATE OR REPLACE FUNCTION public.open_total(who text) RETURNS numeric LANGUAGE sql STABLE"
        " AS $$ SELECT coalesce(sum(gross), 0) FROM public.invoices WHERE customer = who $$",
        "function.body",
        "public.open_total(who text)",
    ),
    "dropped": ("DROP FUNCTION public.open_total(text)", "function.missing", "public.open_total(who text)"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_function_and_repair_restores_it(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj = CHANGES[change]
    path = own_contract(db, tmp_path)
    contract = load_contract(path)
    run_sql(statement)
    found = [f for f in check(db, contract).findings if f.kind is Kind.FUNCTIONS]
    assert [(f.rule, f.object) for f in found] == [(rule, obj)]
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert obj in result.stdout
    assert_repaired(db, contract, found[0], None)


def test_the_same_text_as_a_string_body_is_no_sql_standard_body(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """With check_function_bodies off, ``AS $$ RETURN ... $$`` is created, but never parsed: calling it fails."""
    contract = load_contract(own_contract(db, tmp_path))
    body = contract.functions["public.with_tax(amount numeric, rate numeric)"].body or ""
    run_sql(
        "SET check_function_bodies = off; CREATE OR REPLACE FUNCTION public.with_tax(amount numeric,"
        f" rate numeric DEFAULT 0.2) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $x${body}$x$"
    )
    found = [f for f in check(db, contract).findings if f.kind is Kind.FUNCTIONS]
    assert [(f.rule, f.message) for f in found] == [
        ("function.body", "function body is a string body (AS $$ ... $$), not a SQL-standard body")
    ]
    assert_repaired(db, contract, found[0], None)


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_and_again_changes_nothing(
    db: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    path = own_contract(db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert "RETURN round(" in text
    assert "BEGIN ATOMIC" in text
    # The default calls nothing here, but a body naming a table is resolved at creation: after the table.
    table = text.index('CREATE TABLE IF NOT EXISTS "public"."invoices"')
    assert table < text.index('FUNCTION "public"."open_total"')
    assert table < text.index('PROCEDURE "public"."restate"')
    # A body calling an aggregate or function is resolved at creation too: after what it calls, by name.
    aggregate = text.index('AGGREGATE "public"."gross_sum"')
    assert aggregate < text.index('FUNCTION "public"."sum_of"')
    assert aggregate < text.index('FUNCTION "public"."gross_of"')
    assert text.index('FUNCTION "public"."gross_of"') < text.index('FUNCTION "public"."a_total_with_tax"')
    with fresh_database(pg) as fresh:
        assert_sql_round_trips(fresh, text, path)


@pytest.mark.parametrize(
    "body",
    [
        "RETURN 1; DROP TABLE public.invoices",
        "BEGIN ATOMIC SELECT 1; END; DROP TABLE public.invoices",
        "RETURN 1 LANGUAGE plpgsql",
        "BEGIN ATOMIC SELECT 1;",
    ],
)
def test_a_sql_standard_body_must_be_exactly_one_body(body: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"functions:\n  public.f():\n    returns: integer\n    body: {body!r}\n".replace("'", '"'), encoding="utf-8"
    )
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2, result.stdout
    assert "SQL-standard function body" in result.stderr


def test_a_body_calling_an_aggregate_and_the_aggregate_both_dropped_are_repaired_in_order(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Repair creates the aggregate first: the function's body is resolved when it is created."""
    contract = load_contract(own_contract(db, tmp_path))
    run_sql("DROP FUNCTION public.a_total_with_tax(text); DROP FUNCTION public.gross_of(text);")
    run_sql("DROP FUNCTION public.sum_of(numeric[])")
    run_sql("DROP AGGREGATE public.gross_sum(numeric); DROP FUNCTION public.add_gross(numeric, numeric)")
    missing = {f.object for f in check(db, contract).findings if f.rule.endswith(".missing")}
    assert missing == {
        "public.a_total_with_tax(who text)",
        "public.gross_of(who text)",
        "public.sum_of(amounts numeric[])",
        "public.gross_sum(numeric)",
        "public.add_gross(total numeric, value numeric)",
    }
    repair(db, contract, None)
    assert errors(check(db, contract)) == []


def test_the_aggregate_a_body_calls_is_held_back_when_changed(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """PostgreSQL records the call in pg_depend: dropping the aggregate to re-create it would fail."""
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(
        "CREATE OR REPLACE AGGREGATE public.gross_sum(numeric) (SFUNC = public.add_gross, STYPE = numeric,"
        " INITCOND = '1')"
    )
    (finding,) = [f for f in check(db, contract).findings if f.kind is Kind.AGGREGATES]
    assert finding.rule == "aggregate.initcond"
    assert finding.fix is not None
    assert "function public.gross_of(text)" in finding.fix.note
    assert "function public.sum_of(numeric[])" in finding.fix.note
    assert_repaired(db, contract, finding, Hazard.MANUAL)
