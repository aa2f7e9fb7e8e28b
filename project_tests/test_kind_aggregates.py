"""Aggregates as applications define them: a median with a state function, an array state, a final and a
combine function and an initial condition, parallel safe; a product over a built-in state function; and a
tag list that a view calls. The database checked against its own snapshot passes; each single change of
each attribute fails naming the aggregate, expected and actual; the snapshot's SQL loads into an empty
database (functions, then aggregates, then the view); repair re-creates a dropped or changed aggregate and
holds back the one a view depends on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.contract.model import DECLARING_SECTIONS
from pgcontract.findings import Hazard, Kind
from project_tests.helpers import check, own_contract, run_cli
from project_tests.kind_support import assert_repaired, fresh_database, run_script, schema_picture
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TABLE public.orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer text NOT NULL,
  total numeric(12,2) NOT NULL,
  discount double precision NOT NULL DEFAULT 1,
  tag text
);
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.orders FROM anon, authenticated;
CREATE FUNCTION public.median_state(state numeric[], value numeric) RETURNS numeric[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT state || value $$;
CREATE FUNCTION public.median_final(state numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v)::numeric FROM unnest(state) AS v $$;
CREATE FUNCTION public.median_state_nonnull(state numeric[], value numeric) RETURNS numeric[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT CASE WHEN value IS NULL THEN state ELSE state || value END $$;
CREATE FUNCTION public.product_numeric(state numeric, value double precision) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT state * value::numeric $$;
CREATE FUNCTION public.add_tag(tags text, tag text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN tags = '' THEN tag ELSE tags || ',' || tag END $$;
CREATE AGGREGATE public.median(numeric) (
  SFUNC = public.median_state, STYPE = numeric[], FINALFUNC = public.median_final,
  COMBINEFUNC = array_cat, INITCOND = '{}', PARALLEL = SAFE
);
CREATE AGGREGATE public.product(double precision) (SFUNC = float8mul, STYPE = double precision, INITCOND = '1');
CREATE AGGREGATE public.tag_list(text) (SFUNC = public.add_tag, STYPE = text, INITCOND = '');
CREATE VIEW public.customer_tags WITH (security_invoker = true) AS
  SELECT customer, public.tag_list(tag) AS tags FROM public.orders GROUP BY customer;
INSERT INTO public.orders (customer, total, tag) VALUES ('ada', 10, 'new'), ('ada', 30, 'vip'), ('bob', 20, NULL);
"""


@pytest.fixture
def db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(db: Target, tmp_path: Path) -> None:
    snapshot = run_cli("snapshot", "--dsn", db.dsn)
    assert snapshot.returncode == 0, snapshot.stderr
    path = tmp_path / "contract.yaml"
    path.write_text(snapshot.stdout, encoding="utf-8")
    aggregates = load_contract(path).aggregates
    assert set(aggregates) == {"public.median(numeric)", "public.product(double precision)", "public.tag_list(text)"}
    median = aggregates["public.median(numeric)"]
    assert (median.sfunc, median.stype, median.finalfunc, median.combinefunc) == (
        "public.median_state",
        "numeric[]",
        "public.median_final",
        "array_cat",
    )
    assert (median.initcond, median.parallel) == ("{}", "safe")
    assert aggregates["public.product(double precision)"].initcond == "1"
    assert aggregates["public.tag_list(text)"].initcond == ""
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_dropped_aggregate_fails_the_check_command_naming_it(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(db, tmp_path)
    run_sql("DROP AGGREGATE public.product(double precision)")
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_aggregates[public.product(double precision)]" in result.stdout
    assert "aggregate.missing" in result.stdout


def _median(options: str) -> str:
    return f"DROP AGGREGATE public.median(numeric); CREATE AGGREGATE public.median(numeric) ({options})"


_MEDIAN = "SFUNC = public.median_state, STYPE = numeric[], FINALFUNC = public.median_final, INITCOND = '{}'"
_PRODUCT = "DROP AGGREGATE public.product(double precision); CREATE AGGREGATE public.product(double precision) "

# One change each: (statement, rule, aggregate, expected, actual, the hazard repair holds it back for).
CHANGES: dict[str, tuple[str, str, str, str, str, Hazard | None]] = {
    "missing": (
        "DROP AGGREGATE public.product(double precision)",
        "aggregate.missing",
        "public.product(double precision)",
        "public.product(double precision)",
        "absent",
        None,
    ),
    "state function": (
        _median(_MEDIAN.replace("median_state", "median_state_nonnull") + ", COMBINEFUNC = array_cat, PARALLEL = SAFE"),
        "aggregate.sfunc",
        "public.median(numeric)",
        "public.median_state",
        "public.median_state_nonnull",
        None,
    ),
    "state type": (
        _PRODUCT + "(SFUNC = public.product_numeric, STYPE = numeric, INITCOND = '1')",
        "aggregate.stype",
        "public.product(double precision)",
        "double precision",
        "numeric",
        None,
    ),
    "final function dropped": (
        _median(
            _MEDIAN.replace(", FINALFUNC = public.median_final", "") + ", COMBINEFUNC = array_cat, PARALLEL = SAFE"
        ),
        "aggregate.finalfunc",
        "public.median(numeric)",
        "public.median_final",
        "(none)",
        None,
    ),
    "final function modify": (
        _median(_MEDIAN + ", FINALFUNC_MODIFY = READ_WRITE, COMBINEFUNC = array_cat, PARALLEL = SAFE"),
        "aggregate.finalfunc_modify",
        "public.median(numeric)",
        "read_only",
        "read_write",
        None,
    ),
    "initial condition": (
        _PRODUCT + "(SFUNC = float8mul, STYPE = double precision, INITCOND = '2')",
        "aggregate.initcond",
        "public.product(double precision)",
        "1",
        "2",
        None,
    ),
    "combine function dropped": (
        _median(_MEDIAN + ", PARALLEL = SAFE"),
        "aggregate.combinefunc",
        "public.median(numeric)",
        "array_cat",
        "(none)",
        None,
    ),
    "parallel": (
        _PRODUCT + "(SFUNC = float8mul, STYPE = double precision, INITCOND = '1', PARALLEL = SAFE)",
        "aggregate.parallel",
        "public.product(double precision)",
        "unsafe",
        "safe",
        None,
    ),
    "an aggregate a view calls": (
        "CREATE OR REPLACE AGGREGATE public.tag_list(text) (SFUNC = public.add_tag, STYPE = text, INITCOND = '-')",
        "aggregate.initcond",
        "public.tag_list(text)",
        "",
        "-",
        Hazard.MANUAL,
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_aggregate_and_repair_restores_it(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj, expected, actual, held = CHANGES[change]
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(statement)
    index = check(db, contract)
    # Another state type needs another state function: the one change cannot be made alone.
    assert_only_rule(index, rule, obj=obj, also=("aggregate.sfunc",) if rule == "aggregate.stype" else ())
    found = [f for f in index.findings if f.kind is Kind.AGGREGATES]
    mine = [f for f in found if f.rule == rule]
    assert [(f.rule, f.object) for f in mine] == [(rule, obj)], [(f.rule, f.object) for f in found]
    assert {f.object for f in found} == {obj}
    assert (mine[0].expected, mine[0].actual) == (expected, actual)
    if held is None:
        assert_repaired(db, contract, mine[0], held)
    else:
        assert found == mine
        assert mine[0].fix is not None
        assert "view public.customer_tags" in mine[0].fix.note
        assert_repaired(db, contract, mine[0], held)


def test_a_changed_aggregate_is_dropped_and_created_again_in_one_fix(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(CHANGES["initial condition"][0])
    (finding,) = [f for f in check(db, contract).findings if f.kind is Kind.AGGREGATES]
    assert finding.fix is not None
    assert finding.fix.hazards == ()
    text = finding.fix.sql
    assert text.index('DROP AGGREGATE "public"."product"(double precision);') < text.index(
        'CREATE AGGREGATE "public"."product"(double precision)'
    )


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_and_again_changes_nothing(
    db: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    path = own_contract(db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert text.index('FUNCTION "public"."median_final"') < text.index('AGGREGATE "public"."median"')
    assert text.index('AGGREGATE "public"."tag_list"') < text.index('VIEW "public"."customer_tags"')
    with fresh_database(pg) as fresh:
        run_script(fresh, text)
        result = run_cli("check", "--dsn", fresh.dsn, "--contract", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        before = schema_picture(fresh)
        run_script(fresh, text)
        assert schema_picture(fresh) == before


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        ("aggregates:\n  public.a(int): {sfunc: a.b.c, stype: int}\n", "expected a function name"),
        ("aggregates:\n  public.a(int): {sfunc: int4pl, stype: 'int; DROP TABLE x'}\n", "not a valid PostgreSQL type"),
        ("aggregates:\n  'public.a(int; DROP TABLE x)': {sfunc: int4pl, stype: int}\n", "argument"),
        ("aggregates:\n  public.a(int): {sfunc: int4pl}\n", "stype"),
    ],
)
def test_sql_in_an_aggregate_must_be_one_node_of_its_kind(contract: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(contract, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert message in result.stderr


def test_an_initial_condition_reaches_sql_as_a_literal(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        'aggregates:\n  public.a(text): {sfunc: textcat, stype: text, initcond: "x\'); DROP TABLE t; --"}\n',
        encoding="utf-8",
    )
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 0, result.stderr
    assert "INITCOND = 'x''); DROP TABLE t; --'" in result.stdout


def test_a_contract_declaring_nothing_is_refused_with_every_section_it_could_declare(tmp_path: Path) -> None:
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n", encoding="utf-8")
    result = run_cli("validate", "--contract", str(empty))
    assert result.returncode == 2
    for section in ("tables", "functions", "aggregates", "domains", "composite types", "sequences", "views"):
        assert section in result.stderr
    for section in DECLARING_SECTIONS:
        assert section.replace("_", " ") in result.stderr
    only = tmp_path / "only.yaml"
    only.write_text("aggregates:\n  public.a(text): {sfunc: textcat, stype: text}\n", encoding="utf-8")
    assert run_cli("validate", "--contract", str(only)).returncode == 0


# An internal state (built-in numeric average functions) has serial and deserial functions; a final function
# that takes the aggregate's arguments too (FINALFUNC_EXTRA). Each changed alone, the rest as it was.
_AVG = (
    "SFUNC = numeric_avg_accum, STYPE = internal, FINALFUNC = numeric_avg, COMBINEFUNC = numeric_avg_combine,"
    " SERIALFUNC = numeric_avg_serialize, DESERIALFUNC = numeric_avg_deserialize, PARALLEL = SAFE"
)
_LAST = "SFUNC = public.median_state, STYPE = numeric[], FINALFUNC = public.last_of, INITCOND = '{}'"
MORE = f"""
CREATE AGGREGATE public.avg_of(numeric) ({_AVG});
CREATE FUNCTION public.last_of(state numeric[]) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT state[cardinality(state)] $$;
CREATE FUNCTION public.last_of(state numeric[], value numeric) RETURNS numeric
  LANGUAGE sql IMMUTABLE AS $$ SELECT state[cardinality(state)] $$;
CREATE AGGREGATE public.last_value(numeric) ({_LAST});
"""
_AVG_AGAIN = "DROP AGGREGATE public.avg_of(numeric); CREATE AGGREGATE public.avg_of(numeric) "
MORE_CHANGES: dict[str, tuple[str, str, str]] = {
    "serial function": (
        _AVG_AGAIN + f"({_AVG.replace('numeric_avg_serialize', 'numeric_serialize')})",
        "aggregate.serialfunc",
        "public.avg_of(numeric)",
    ),
    "deserial function": (
        _AVG_AGAIN + f"({_AVG.replace('numeric_avg_deserialize', 'numeric_deserialize')})",
        "aggregate.deserialfunc",
        "public.avg_of(numeric)",
    ),
    "final function extra": (
        "DROP AGGREGATE public.last_value(numeric);"
        f" CREATE AGGREGATE public.last_value(numeric) ({_LAST}, FINALFUNC_EXTRA)",
        "aggregate.finalfunc_extra",
        "public.last_value(numeric)",
    ),
}


@pytest.mark.rule(*(c[1] for c in MORE_CHANGES.values()))
@pytest.mark.parametrize("change", list(MORE_CHANGES))
def test_each_change_of_serial_and_final_extra_fails_alone(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj = MORE_CHANGES[change]
    run_sql(MORE)
    contract = load_contract(own_contract(db, tmp_path))
    assert [f.render() for f in check(db, contract).findings if f.kind is Kind.AGGREGATES] == []
    run_sql(statement)
    finding = assert_only_rule(check(db, contract), rule, obj=obj)
    assert finding.expected != finding.actual
