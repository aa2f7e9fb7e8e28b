"""Every aggregate finding pinned whole: its message, expected and actual for each attribute (all of them
changed at once: one finding each, the same fix), the fix's SQL (dropped and created again, held back with
the reason when a view depends on it), and the rules checks/aggregates compares in its own way (argument
shape, HYPOTHETICAL, state types, sort operator, MFINALFUNC_MODIFY without a moving implementation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Finding, Fix, Hazard, Kind
from project_tests.helpers import check, own_contract

FUNCTIONS = "CREATE TABLE public.t (id int PRIMARY KEY);" + "".join(
    f"CREATE FUNCTION public.{name}({args}) RETURNS {returns} LANGUAGE sql IMMUTABLE AS $$ SELECT {body} $$;"
    for name, args, returns, body in (
        ("st", "s bigint[], v integer", "bigint[]", "s"),
        ("st2", "s bigint[], v integer", "bigint[]", "s"),
        ("inv", "s bigint[], v integer", "bigint[]", "s"),
        ("inv2", "s bigint[], v integer", "bigint[]", "s"),
        ("fin", "s bigint[]", "bigint", "s[1]"),
        ("fin_x", "s bigint[], v integer", "bigint", "s[1]"),
        ("comb", "a bigint[], b bigint[]", "bigint[]", "a"),
        ("comb2", "a bigint[], b bigint[]", "bigint[]", "b"),
    )
)
FULL = (
    "SFUNC = public.st, STYPE = bigint[], SSPACE = 8, FINALFUNC = public.fin, COMBINEFUNC = public.comb,"
    " INITCOND = '{0}', MSFUNC = public.st, MINVFUNC = public.inv, MSTYPE = bigint[], MSSPACE = 8,"
    " MFINALFUNC = public.fin, MINITCOND = '{0}', PARALLEL = SAFE"
)
CHANGED = (
    "SFUNC = public.st2, STYPE = bigint[], SSPACE = 16, FINALFUNC = public.fin_x, FINALFUNC_EXTRA,"
    " FINALFUNC_MODIFY = READ_WRITE, COMBINEFUNC = public.comb2, INITCOND = '{1}', MSFUNC = public.st2,"
    " MINVFUNC = public.inv2, MSTYPE = bigint[], MSSPACE = 16, MFINALFUNC = public.fin_x, MFINALFUNC_EXTRA,"
    " MFINALFUNC_MODIFY = READ_WRITE, MINITCOND = '{1}', PARALLEL = RESTRICTED"
)
SIGNATURE = "public.agg(integer)"
AGG = '"public"."agg"(integer)'
AGAIN = "DROP AGGREGATE public.agg(integer); CREATE AGGREGATE public.agg(integer) ({})"
CREATE = (
    'CREATE AGGREGATE "public"."agg"(integer) (\n  SFUNC = "public"."st",\n  STYPE = bigint[],\n  SSPACE = 8,\n'
    '  FINALFUNC = "public"."fin",\n  COMBINEFUNC = "public"."comb",\n  INITCOND = \'{0}\',\n'
    '  MSFUNC = "public"."st",\n  MINVFUNC = "public"."inv",\n  MSTYPE = bigint[],\n  MSSPACE = 8,\n'
    '  MFINALFUNC = "public"."fin",\n  MINITCOND = \'{0}\',\n  PARALLEL = SAFE\n);'
)


def findings_of(target: Target, contract: Contract) -> list[Finding]:
    return [f for f in check(target, contract).findings if f.kind is Kind.AGGREGATES]


def rows(found: list[Finding]) -> list[tuple[str, str, str, str, str, str]]:
    return [(f.rule, f.owner, f.object, f.message, f.expected, f.actual) for f in found]


def aggregate_findings(target: Target, contract: Contract) -> list[tuple[str, str, str, str, str, str]]:
    return rows(findings_of(target, contract))


def passing_contract(setup: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> Contract:
    """The database ``setup`` makes, and its own contract, which it passes."""
    run_sql(setup)
    contract = load_contract(own_contract(target, tmp_path))
    assert aggregate_findings(target, contract) == []
    return contract


def assert_repaired(
    found: list[Finding], name: str, create: str, target: Target, contract: Contract, run_sql: Callable[[str], None]
) -> None:
    """Every finding has the one fix, the aggregate ``name`` dropped and created again by ``create``; run, it
    leaves the contract clean."""
    fix = Fix(f"DROP AGGREGATE {name};\n" + create, (), "")
    assert {f.fix for f in found} == {fix}
    run_sql(fix.sql)
    assert aggregate_findings(target, contract) == []


def test_every_attribute_changed_at_once_one_finding_each_one_fix(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(
        FUNCTIONS + f"CREATE AGGREGATE public.agg(integer) ({FULL});", target, run_sql, tmp_path
    )
    run_sql(AGAIN.format(CHANGED))
    found = findings_of(target, contract)
    differences = [(f.rule, f.message, f.expected, f.actual) for f in found]
    assert differences == [
        ("aggregate.sfunc", "sfunc differs", "public.st", "public.st2"),
        ("aggregate.finalfunc", "finalfunc differs", "public.fin", "public.fin_x"),
        ("aggregate.combinefunc", "combinefunc differs", "public.comb", "public.comb2"),
        ("aggregate.msfunc", "msfunc differs", "public.st", "public.st2"),
        ("aggregate.minvfunc", "minvfunc differs", "public.inv", "public.inv2"),
        ("aggregate.mfinalfunc", "mfinalfunc differs", "public.fin", "public.fin_x"),
        ("aggregate.finalfunc_extra", "finalfunc_extra differs", "False", "True"),
        ("aggregate.initcond", "initcond differs", "{0}", "{1}"),
        ("aggregate.parallel", "parallel differs", "safe", "restricted"),
        ("aggregate.sspace", "sspace differs", "8", "16"),
        ("aggregate.msspace", "msspace differs", "8", "16"),
        ("aggregate.mfinalfunc_extra", "mfinalfunc_extra differs", "False", "True"),
        ("aggregate.minitcond", "minitcond differs", "{0}", "{1}"),
        ("aggregate.finalfunc_modify", "finalfunc_modify differs", "read_only", "read_write"),
        ("aggregate.mfinalfunc_modify", "mfinalfunc_modify differs", "read_only", "read_write"),
    ]
    assert {(f.owner, f.object) for f in found} == {(SIGNATURE, SIGNATURE)}
    assert_repaired(found, AGG, CREATE, target, contract, run_sql)


def test_a_missing_aggregate_and_one_a_view_depends_on(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(
        FUNCTIONS + f"CREATE AGGREGATE public.agg(integer) ({FULL});"
        " CREATE AGGREGATE public.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '0');"
        " CREATE VIEW public.v WITH (security_invoker = true) AS SELECT public.total(n) FROM generate_series(1, 3) n;"
        " CREATE VIEW public.w WITH (security_invoker = true) AS SELECT public.total(n) FROM generate_series(1, 2) n;",
        target,
        run_sql,
        tmp_path,
    )
    run_sql(
        "DROP AGGREGATE public.agg(integer);"
        " CREATE OR REPLACE AGGREGATE public.total(integer) (SFUNC = int4pl, STYPE = integer, INITCOND = '1')"
    )
    found = {f.rule: f for f in check(target, contract).findings if f.kind is Kind.AGGREGATES}
    missing, changed = found["aggregate.missing"], found["aggregate.initcond"]
    assert (missing.owner, missing.object, missing.message, missing.expected, missing.actual) == (
        SIGNATURE,
        SIGNATURE,
        "aggregate is missing",
        SIGNATURE,
        "absent",
    )
    assert missing.fix == Fix(CREATE, (), "")
    assert (changed.object, changed.message, changed.expected, changed.actual) == (
        "public.total(integer)",
        "initcond differs",
        "0",
        "1",
    )
    assert changed.fix is not None
    assert changed.fix.hazards == (Hazard.MANUAL,)
    assert changed.fix.note == (
        "rule _RETURN on view public.v, rule _RETURN on view public.w depend on the aggregate: DROP AGGREGATE"
        " fails while they exist (CASCADE would drop them); re-create them with it in a migration, or use CREATE"
        " OR REPLACE AGGREGATE when the result type is unchanged"
    )
    assert len(found) == 2


OWN_KINDS = (
    "CREATE TABLE public.t (id int PRIMARY KEY);"
    " CREATE FUNCTION public.pct_state(state double precision[], value double precision)"
    " RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$ SELECT state || value $$;"
    "CREATE FUNCTION public.pct_state(state double precision[], a double precision, b double precision)"
    " RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$ SELECT state || b $$;"
    " CREATE FUNCTION public.pct_state2(state double precision[], a double precision, b double precision)"
    " RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$ SELECT state || a $$;"
    " CREATE FUNCTION public.pct_final(state double precision[], a double precision, b double precision)"
    " RETURNS double precision LANGUAGE sql IMMUTABLE AS $$ SELECT state[1] $$;"
    " CREATE AGGREGATE public.pct(frac double precision ORDER BY value double precision) ("
    " SFUNC = public.pct_state, STYPE = double precision[], FINALFUNC = public.pct_final, FINALFUNC_EXTRA,"
    " INITCOND = '{}');"
    " CREATE AGGREGATE public.latest(timestamp with time zone) (SFUNC = timestamptz_larger,"
    " STYPE = timestamp with time zone, SORTOP = >);"
    ' CREATE AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any") ('
    " SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA, HYPOTHETICAL);"
    " CREATE AGGREGATE public.biggest(bigint) (SFUNC = int8larger, STYPE = bigint, FINALFUNC_MODIFY = READ_WRITE);"
)


def test_the_shape_hypothetical_types_and_sort_operator_differ_each_with_its_message(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(OWN_KINDS, target, run_sql, tmp_path)
    run_sql(
        "DROP AGGREGATE public.latest(timestamp with time zone);"
        " CREATE AGGREGATE public.latest(timestamp with time zone) (SFUNC = timestamptz_smaller,"
        " STYPE = timestamp with time zone, SORTOP = <);"
        ' DROP AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any");'
        ' CREATE AGGREGATE public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any") ('
        " SFUNC = ordered_set_transition_multi, STYPE = internal, FINALFUNC = rank_final, FINALFUNC_EXTRA);"
        " DROP AGGREGATE public.pct(double precision ORDER BY double precision);"
        " CREATE AGGREGATE public.pct(double precision, double precision) (SFUNC = public.pct_state,"
        " STYPE = double precision[], FINALFUNC = public.pct_final, FINALFUNC_EXTRA, INITCOND = '{}');"
    )
    pct = "public.pct(frac double precision ORDER BY value double precision)"
    latest = "public.latest(timestamp with time zone)"
    assert sorted(aggregate_findings(target, contract)) == sorted(
        [
            ("aggregate.sfunc", latest, latest, "sfunc differs", "timestamptz_larger", "timestamptz_smaller"),
            ("aggregate.sortop", latest, latest, "sort operator differs", ">", "<"),
            (
                "aggregate.hypothetical",
                'public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any")',
                'public.rank_of(VARIADIC "any" ORDER BY VARIADIC "any")',
                "HYPOTHETICAL differs",
                "True",
                "False",
            ),
            (
                "aggregate.arguments",
                pct,
                pct,
                "direct and aggregated arguments differ (ORDER BY)",
                "double precision ORDER BY double precision",
                "double precision, double precision (a normal aggregate)",
            ),
            # An ordered-set aggregate's final function is READ_WRITE unless said, a normal one's READ_ONLY.
            ("aggregate.finalfunc_modify", pct, pct, "finalfunc_modify differs", "read_write", "read_only"),
        ]
    )


def test_a_state_type_and_a_moving_state_type_differ_each_with_its_message(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(
        "CREATE TABLE public.t (id int PRIMARY KEY);"
        " CREATE FUNCTION public.st_n(s numeric[], v integer) RETURNS numeric[] LANGUAGE sql IMMUTABLE"
        " AS $$ SELECT s $$;"
        " CREATE FUNCTION public.st_b(s bigint[], v integer) RETURNS bigint[] LANGUAGE sql IMMUTABLE"
        " AS $$ SELECT s $$;"
        " CREATE AGGREGATE public.agg(integer) (SFUNC = public.st_b, STYPE = bigint[], MSFUNC = public.st_b,"
        " MINVFUNC = public.st_b, MSTYPE = bigint[])",
        target,
        run_sql,
        tmp_path,
    )
    run_sql(
        AGAIN.format(
            "SFUNC = public.st_n, STYPE = numeric[], MSFUNC = public.st_n, MINVFUNC = public.st_n, MSTYPE = numeric[]"
        )
    )
    assert [(r, m, e, a) for r, _, _, m, e, a in aggregate_findings(target, contract)] == [
        ("aggregate.sfunc", "sfunc differs", "public.st_b", "public.st_n"),
        ("aggregate.msfunc", "msfunc differs", "public.st_b", "public.st_n"),
        ("aggregate.minvfunc", "minvfunc differs", "public.st_b", "public.st_n"),
        ("aggregate.stype", "state type differs", "bigint[]", "numeric[]"),
        ("aggregate.mstype", "moving state type differs", "bigint[]", "numeric[]"),
    ]


def test_mfinalfunc_modify_without_a_moving_implementation_means_nothing(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(OWN_KINDS, target, run_sql, tmp_path)
    run_sql(
        "DROP AGGREGATE public.biggest(bigint);"
        " CREATE AGGREGATE public.biggest(bigint) (SFUNC = int8larger, STYPE = bigint, FINALFUNC_MODIFY = READ_WRITE,"
        " MFINALFUNC_MODIFY = SHAREABLE)"
    )
    assert aggregate_findings(target, contract) == []


def test_a_moving_implementation_the_database_lacks_each_option_reported(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The moving state type on one side only differs (not "both absent"); MFINALFUNC_MODIFY is compared
    since the contract declares a moving implementation, though the database has none."""
    moving = "SFUNC = public.st, STYPE = bigint[], MSFUNC = public.st, MINVFUNC = public.inv, MSTYPE = bigint[]"
    contract = passing_contract(
        FUNCTIONS + f"CREATE AGGREGATE public.agg(integer) ({moving}, MFINALFUNC_MODIFY = READ_WRITE);",
        target,
        run_sql,
        tmp_path,
    )
    run_sql(AGAIN.format("SFUNC = public.st, STYPE = bigint[]"))
    found = findings_of(target, contract)
    assert rows(found) == [
        ("aggregate.msfunc", SIGNATURE, SIGNATURE, "msfunc differs", "public.st", "(none)"),
        ("aggregate.minvfunc", SIGNATURE, SIGNATURE, "minvfunc differs", "public.inv", "(none)"),
        ("aggregate.mstype", SIGNATURE, SIGNATURE, "moving state type differs", "bigint[]", "(none)"),
        ("aggregate.mfinalfunc_modify", SIGNATURE, SIGNATURE, "mfinalfunc_modify differs", "read_write", "read_only"),
    ]
    create = (
        'CREATE AGGREGATE "public"."agg"(integer) (\n  SFUNC = "public"."st",\n  STYPE = bigint[],\n'
        '  MSFUNC = "public"."st",\n  MINVFUNC = "public"."inv",\n  MSTYPE = bigint[],\n'
        "  MFINALFUNC_MODIFY = READ_WRITE\n);"
    )
    assert_repaired(found, AGG, create, target, contract, run_sql)


def test_a_state_type_the_parser_cannot_read_differs_by_its_text(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A state type named with a ";" (no contract can name one): the parser reads it, quoted, and it differs.
    (format_type prints a state type without modifiers, so none is ever compared as text.)"""
    contract = passing_contract(
        "CREATE TABLE public.t (id int PRIMARY KEY);"
        " CREATE AGGREGATE public.agg(integer) (SFUNC = int4pl, STYPE = integer)",
        target,
        run_sql,
        tmp_path,
    )
    run_sql(
        'CREATE DOMAIN public."a;b" AS integer;'
        ' CREATE FUNCTION public.st_ab(s public."a;b", v integer) RETURNS public."a;b" LANGUAGE sql IMMUTABLE'
        " AS $$ SELECT s $$;" + AGAIN.format('SFUNC = public.st_ab, STYPE = public."a;b"')
    )
    found = findings_of(target, contract)
    assert rows(found) == [
        ("aggregate.sfunc", SIGNATURE, SIGNATURE, "sfunc differs", "int4pl", "public.st_ab"),
        ("aggregate.stype", SIGNATURE, SIGNATURE, "state type differs", "integer", 'public."a;b"'),
    ]
    create = 'CREATE AGGREGATE "public"."agg"(integer) (\n  SFUNC = "pg_catalog"."int4pl",\n  STYPE = integer\n);'
    assert_repaired(found, AGG, create, target, contract, run_sql)


def test_two_direct_arguments_are_shown_comma_separated(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = passing_contract(
        "CREATE TABLE public.t (id int PRIMARY KEY);"
        " CREATE FUNCTION public.os_state(s double precision[], v double precision) RETURNS double precision[]"
        " LANGUAGE sql IMMUTABLE AS $$ SELECT s || v $$;"
        " CREATE FUNCTION public.n_state(s double precision[], lo double precision, hi double precision,"
        " v double precision) RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$ SELECT s || v $$;"
        " CREATE FUNCTION public.band_final(s double precision[], lo double precision, hi double precision,"
        " v double precision) RETURNS double precision LANGUAGE sql IMMUTABLE AS $$ SELECT s[1] $$;"
        " CREATE AGGREGATE public.band(lo double precision, hi double precision ORDER BY v double precision) ("
        " SFUNC = public.os_state, STYPE = double precision[], FINALFUNC = public.band_final, FINALFUNC_EXTRA,"
        " INITCOND = '{}')",
        target,
        run_sql,
        tmp_path,
    )
    run_sql(
        "DROP AGGREGATE public.band(double precision, double precision ORDER BY double precision);"
        " CREATE AGGREGATE public.band(double precision, double precision, double precision) ("
        " SFUNC = public.n_state, STYPE = double precision[], FINALFUNC = public.band_final, FINALFUNC_EXTRA,"
        " INITCOND = '{}')"
    )
    band = "public.band(lo double precision, hi double precision ORDER BY v double precision)"
    assert aggregate_findings(target, contract) == [
        (
            "aggregate.arguments",
            band,
            band,
            "direct and aggregated arguments differ (ORDER BY)",
            "double precision, double precision ORDER BY double precision",
            "double precision, double precision, double precision (a normal aggregate)",
        ),
        ("aggregate.sfunc", band, band, "sfunc differs", "public.os_state", "public.n_state"),
        ("aggregate.finalfunc_modify", band, band, "finalfunc_modify differs", "read_write", "read_only"),
    ]


def test_a_sort_operator_in_a_schema_whose_name_needs_quotes(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The catalog prints such an operator ``"Ops".>``: the snapshot's contract loads and passes (it once
    failed to load: the operator's schema was read unquoted only), and a changed one is reported."""
    contract = passing_contract(
        'CREATE TABLE public.t (id int PRIMARY KEY); CREATE SCHEMA "Ops";'
        ' CREATE OPERATOR "Ops".> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4gt);'
        ' CREATE AGGREGATE public.top(integer) (SFUNC = int4larger, STYPE = integer, SORTOP = OPERATOR("Ops".>))',
        target,
        run_sql,
        tmp_path,
    )
    run_sql(
        "DROP AGGREGATE public.top(integer);"
        " CREATE AGGREGATE public.top(integer) (SFUNC = int4larger, STYPE = integer, SORTOP = >)"
    )
    top = "public.top(integer)"
    found = findings_of(target, contract)
    assert rows(found) == [("aggregate.sortop", top, top, "sort operator differs", '"Ops".>', ">")]
    create = (
        'CREATE AGGREGATE "public"."top"(integer) (\n  SFUNC = "pg_catalog"."int4larger",\n  STYPE = integer,\n'
        '  SORTOP = OPERATOR("Ops".>)\n);'
    )
    assert_repaired(found, '"public"."top"(integer)', create, target, contract, run_sql)
