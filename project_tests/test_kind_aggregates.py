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
from project_tests.helpers import check, own_contract, run_cli, snapshot_file
from project_tests.kind_support import (
    assert_repaired,
    assert_sql_round_trips,
    fresh_database,
)
from project_tests.rule_check import assert_only_rule

# An ordered-set aggregate (a direct argument, the fraction; an aggregated one after ORDER BY), whose state and
# final functions a normal aggregate of the same types could use too; a hypothetical-set one on PostgreSQL's
# own support functions (like rank); a moving aggregate (its own state functions, inverse, type, final
# function, initial condition and sizes, for window frames); a max-like aggregate with its sort operator.
ORDERED_AND_MOVING = """
CREATE FUNCTION public.pct_state(state double precision[], value double precision) RETURNS double precision[]
  LANGUAGE sql IMMUTABLE AS $$ SELECT state || value $$;
CREATE FUNCTION public.pct_state(state double precision[], a double precision, b double precision)
  RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$ SELECT state || b $$;
CREATE FUNCTION public.pct_final(state double precision[], frac double precision, value double precision)
  RETURNS double precision LANGUAGE sql IMMUTABLE
  AS $$ SELECT percentile_disc(frac) WITHIN GROUP (ORDER BY v) FROM unnest(state) AS v $$;
CREATE AGGREGATE public.pct(frac double precision ORDER BY value double precision) (
  SFUNC = public.pct_state, STYPE = double precision[], FINALFUNC = public.pct_final, FINALFUNC_EXTRA,
  INITCOND = '{}'
);
CREATE AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any") (
  SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA, HYPOTHETICAL
);
CREATE FUNCTION public.ms_add(state bigint[], value integer) RETURNS bigint[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] + 1, state[2] + value] $$;
CREATE FUNCTION public.ms_add_checked(state bigint[], value integer) RETURNS bigint[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] + 1, state[2] + value] $$;
CREATE FUNCTION public.ms_sub(state bigint[], value integer) RETURNS bigint[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] - 1, state[2] - value] $$;
CREATE FUNCTION public.ms_sub_checked(state bigint[], value integer) RETURNS bigint[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] - 1, state[2] - value] $$;
CREATE FUNCTION public.ms_final(state bigint[]) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN state[1] > 0 THEN state[2] END $$;
CREATE FUNCTION public.ms_final(state bigint[], value integer) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN state[1] > 0 THEN state[2] END $$;
CREATE FUNCTION public.ms_final_checked(state bigint[]) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN state[1] > 0 THEN state[2] END $$;
CREATE FUNCTION public.ms_add(state numeric[], value integer) RETURNS numeric[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] + 1, state[2] + value] $$;
CREATE FUNCTION public.ms_sub(state numeric[], value integer) RETURNS numeric[]
  LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT ARRAY[state[1] - 1, state[2] - value] $$;
CREATE FUNCTION public.ms_final(state numeric[]) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN state[1] > 0 THEN state[2]::bigint END $$;
CREATE AGGREGATE public.running_total(integer) (
  SFUNC = int4_sum, STYPE = bigint, SSPACE = 8, MSFUNC = public.ms_add, MINVFUNC = public.ms_sub,
  MSTYPE = bigint[], MSSPACE = 16, MFINALFUNC = public.ms_final, MINITCOND = '{0,0}'
);
CREATE AGGREGATE public.latest(timestamp with time zone) (
  SFUNC = timestamptz_larger, STYPE = timestamp with time zone, SORTOP = >, PARALLEL = SAFE
);
"""


SCHEMA = (
    """
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
    + ORDERED_AND_MOVING
)


@pytest.fixture
def db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(db: Target, tmp_path: Path) -> None:
    path = snapshot_file(db, tmp_path)
    aggregates = load_contract(path).aggregates
    assert set(aggregates) == {
        "public.median(numeric)",
        "public.product(double precision)",
        "public.tag_list(text)",
        "public.pct(frac double precision ORDER BY value double precision)",
        'public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any")',
        "public.running_total(integer)",
        "public.latest(timestamp with time zone)",
    }
    pct = aggregates["public.pct(frac double precision ORDER BY value double precision)"]
    assert (pct.finalfunc, pct.finalfunc_extra, pct.finalfunc_modify, pct.hypothetical) == (
        "public.pct_final",
        True,
        None,  # READ_WRITE, an ordered-set aggregate's default
        False,
    )
    assert aggregates['public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any")'].hypothetical
    moving = aggregates["public.running_total(integer)"]
    assert (moving.msfunc, moving.minvfunc, moving.mstype, moving.mfinalfunc, moving.minitcond) == (
        "public.ms_add",
        "public.ms_sub",
        "bigint[]",
        "public.ms_final",
        "{0,0}",
    )
    assert (moving.sspace, moving.msspace) == (8, 16)
    assert aggregates["public.latest(timestamp with time zone)"].sortop == ">"
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
        assert_sql_round_trips(fresh, text, path)


def refused_sql(tmp_path: Path, contract: str) -> str:
    """``pgcontract sql`` of this contract text, refused as a contract error (exit 2): its stderr."""
    path = tmp_path / "c.yaml"
    path.write_text(contract, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2, result.stdout
    return result.stderr


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
    assert message in refused_sql(tmp_path, contract)


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


_PCT = "public.pct(frac double precision ORDER BY value double precision)"
_RANK = 'public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any")'
_MOVING = "public.running_total(integer)"
_RUNNING = (
    "SFUNC = int4_sum, STYPE = bigint, SSPACE = 8, MSFUNC = public.ms_add, MINVFUNC = public.ms_sub,"
    " MSTYPE = bigint[], MSSPACE = 16, MFINALFUNC = public.ms_final, MINITCOND = '{0,0}'"
)
_RUNNING_AGAIN = "DROP AGGREGATE public.running_total(integer); CREATE AGGREGATE public.running_total(integer) "
_LATEST_AGAIN = (
    "DROP AGGREGATE public.latest(timestamptz); CREATE AGGREGATE public.latest(timestamptz)"
    " (SFUNC = timestamptz_larger, STYPE = timestamptz, PARALLEL = SAFE"
)
_RANK_OPTIONS = "SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA"


def _running(old: str, new: str) -> str:
    assert old in _RUNNING
    return _RUNNING_AGAIN + f"({_RUNNING.replace(old, new)})"


# One change each of an ordered-set, hypothetical-set or moving aggregate: (statement, rule, aggregate, the
# other rules the change cannot come without).
SHAPE_CHANGES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "ordered-set made normal": (
        "DROP AGGREGATE public.pct(double precision ORDER BY double precision);"
        " CREATE AGGREGATE public.pct(double precision, double precision) (SFUNC = public.pct_state,"
        " STYPE = double precision[], FINALFUNC = public.pct_final, FINALFUNC_EXTRA,"
        " FINALFUNC_MODIFY = READ_WRITE, INITCOND = '{}')",
        "aggregate.arguments",
        _PCT,
        (),
    ),
    "ordered-set final function made read only": (
        "DROP AGGREGATE public.pct(double precision ORDER BY double precision);"
        " CREATE AGGREGATE public.pct(frac double precision ORDER BY value double precision)"
        " (SFUNC = public.pct_state, STYPE = double precision[], FINALFUNC = public.pct_final, FINALFUNC_EXTRA,"
        " FINALFUNC_MODIFY = READ_ONLY, INITCOND = '{}')",
        "aggregate.finalfunc_modify",
        _PCT,
        (),
    ),
    "hypothetical-set made plain ordered-set": (
        'DROP AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any");'
        f' CREATE AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any") ({_RANK_OPTIONS})',
        "aggregate.hypothetical",
        _RANK,
        (),
    ),
    "state size": (_running("SSPACE = 8", "SSPACE = 64"), "aggregate.sspace", _MOVING, ()),
    "moving state function": (
        _running("MSFUNC = public.ms_add", "MSFUNC = public.ms_add_checked"),
        "aggregate.msfunc",
        _MOVING,
        (),
    ),
    "moving inverse function": (
        _running("MINVFUNC = public.ms_sub", "MINVFUNC = public.ms_sub_checked"),
        "aggregate.minvfunc",
        _MOVING,
        (),
    ),
    "moving state type": (_running("MSTYPE = bigint[]", "MSTYPE = numeric[]"), "aggregate.mstype", _MOVING, ()),
    "moving state size": (_running(", MSSPACE = 16", ""), "aggregate.msspace", _MOVING, ()),
    "moving final function": (
        _running("MFINALFUNC = public.ms_final", "MFINALFUNC = public.ms_final_checked"),
        "aggregate.mfinalfunc",
        _MOVING,
        (),
    ),
    "moving final function extra": (
        _running("MFINALFUNC = public.ms_final", "MFINALFUNC = public.ms_final, MFINALFUNC_EXTRA"),
        "aggregate.mfinalfunc_extra",
        _MOVING,
        (),
    ),
    "moving final function modify": (
        _running("MFINALFUNC = public.ms_final", "MFINALFUNC = public.ms_final, MFINALFUNC_MODIFY = SHAREABLE"),
        "aggregate.mfinalfunc_modify",
        _MOVING,
        (),
    ),
    "moving initial condition": (
        _running("MINITCOND = '{0,0}'", "MINITCOND = '{0,1}'"),
        "aggregate.minitcond",
        _MOVING,
        (),
    ),
    "moving implementation dropped": (
        _RUNNING_AGAIN + "(SFUNC = int4_sum, STYPE = bigint, SSPACE = 8)",
        "aggregate.msfunc",
        _MOVING,
        (
            "aggregate.minvfunc",
            "aggregate.mstype",
            "aggregate.msspace",
            "aggregate.mfinalfunc",
            "aggregate.minitcond",
        ),
    ),
    "sort operator dropped": (_LATEST_AGAIN + ")", "aggregate.sortop", "public.latest(timestamp with time zone)", ()),
    "sort operator changed": (
        _LATEST_AGAIN + ", SORTOP = <)",
        "aggregate.sortop",
        "public.latest(timestamp with time zone)",
        (),
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in SHAPE_CHANGES.values()))
@pytest.mark.parametrize("change", list(SHAPE_CHANGES))
def test_each_change_of_an_ordered_set_or_moving_aggregate_fails_naming_it_and_repair_restores_it(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj, also = SHAPE_CHANGES[change]
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(statement)
    index = check(db, contract)
    finding = assert_only_rule(index, rule, obj=obj, also=also)
    assert finding.expected != finding.actual
    assert {f.object for f in index.findings if f.kind is Kind.AGGREGATES} == {obj}
    assert_repaired(db, contract, finding, None)


def test_an_ordered_set_aggregate_made_normal_shows_where_order_by_was(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(SHAPE_CHANGES["ordered-set made normal"][0])
    finding = assert_only_rule(check(db, contract), "aggregate.arguments", obj=_PCT)
    assert (finding.expected, finding.actual) == (
        "double precision ORDER BY double precision",
        "double precision, double precision (a normal aggregate)",
    )


def test_the_ordered_set_and_moving_options_reach_sql_as_written(db: Target, tmp_path: Path) -> None:
    ddl = run_cli("sql", "--contract", str(own_contract(db, tmp_path)))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert 'AGGREGATE "public"."pct"(frac double precision ORDER BY value double precision)' in text
    assert 'AGGREGATE "public"."rank_of"(VARIADIC "any" ORDER BY VARIADIC "any")' in text
    assert "HYPOTHETICAL" in text
    assert 'SORTOP = OPERATOR("pg_catalog".>)' in text
    assert 'MSFUNC = "public"."ms_add"' in text
    assert "FINALFUNC_MODIFY" not in text  # every one at its kind's default


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{sfunc: int4larger, stype: int, sortop: '>; DROP TABLE x'}", "expected an operator"),
        ("{sfunc: int4larger, stype: int, sortop: 'a.b.>'}", "expected an operator"),
        ("{sfunc: int4larger, stype: int, mstype: 'int; DROP TABLE x'}", "not a valid PostgreSQL type"),
        ("{sfunc: int4larger, stype: int, msfunc: a.b.c}", "expected a function name"),
    ],
)
def test_sql_in_an_aggregates_moving_and_sort_options_must_be_one_node(spec: str, message: str, tmp_path: Path) -> None:
    assert message in refused_sql(tmp_path, f"aggregates:\n  public.a(int): {spec}\n")


def test_an_ordered_set_signature_must_be_one_argument_list(tmp_path: Path) -> None:
    contract = "aggregates:\n  'public.a(int ORDER BY int ORDER BY int)': {sfunc: int4larger, stype: int}\n"
    assert "ORDER BY twice" in refused_sql(tmp_path, contract)
