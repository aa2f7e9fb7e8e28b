"""The values the isolation matrix writes into columns it has no value for (``rls/values.py``), on a real
PostgreSQL: every generated literal is one the column's type takes; a UNIQUE column gets a different value
for each row the seeder makes (including past 256 rows, and when the type modifier cuts the text short);
a CHECK ... IN list, an enum, and the key columns are read from the catalog; the candidates tried when a
CHECK refuses the first value are each taken by the column, and between them meet the CHECKs schemas
commonly hold; a type with no generator asks for ``isolation.values``."""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

from pgcontract.catalog.snapshot import Column, Snapshot, Table
from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.values import SeedError, candidates, generate, unique_columns
from project_tests.helpers import snapshot_of

EVERYTHING = QualifiedName("public", "everything")
SCHEMA = """
CREATE TYPE public.mood AS ENUM ('calm', 'glad', 'cross');
CREATE TABLE public.everything (
  a_uuid uuid UNIQUE, a_text text UNIQUE, a_short varchar(5) UNIQUE, a_char character(3) UNIQUE,
  a_name name UNIQUE, a_int2 int2 UNIQUE, a_int4 int4 UNIQUE, a_int8 int8 UNIQUE, a_numeric numeric UNIQUE,
  a_float4 real UNIQUE, a_float8 double precision UNIQUE, a_bool boolean, a_tstz timestamptz UNIQUE,
  a_ts timestamp UNIQUE, a_date date UNIQUE, a_time time UNIQUE, a_timetz timetz UNIQUE, a_json json,
  a_jsonb jsonb UNIQUE, a_bytea bytea UNIQUE, a_interval interval UNIQUE, a_inet inet UNIQUE, a_cidr cidr UNIQUE,
  a_ints int4[] UNIQUE, a_numerics numeric[] UNIQUE, a_texts text[], a_mood public.mood,
  a_level int CHECK (a_level IN (0, 5, 9)), a_kind text CHECK (a_kind IN ('x', 'y')),
  a_ratio numeric CHECK (a_ratio = ANY (ARRAY[0.5, 1.5])), a_state varchar(8) CHECK (a_state IN ('on', 'off')),
  a_code text CHECK (a_code = ANY ('{p,q}'::text[])),
  a_point point, a_words tsvector
);
"""
# Rows the seeder numbers 0, 1, 2, ...; 255-257 and 65 793 (= 65 536 + 256 + 1) cross the bytes of an
# address and of a bytea.
ROW_NUMBERS = (0, 1, 2, 255, 256, 257, 65_793)
NO_GENERATOR = {"a_point", "a_words"}
# What a column gets when its rows need not differ: fixed, so a CHECK the first row met holds for all.
FIXED = {
    "a_numeric": "1",
    "a_float4": "1.5",
    "a_float8": "1.5",
    "a_bool": "false",
    "a_tstz": "now",
    "a_ts": "now",
    "a_date": "today",
    "a_time": "now",
    "a_timetz": "now",
    "a_json": "{}",
    "a_jsonb": "{}",
    "a_bytea": "\\x00",
    "a_interval": "1 day",
    "a_inet": "127.0.0.1",
    "a_cidr": "127.0.0.1",
    "a_ints": "{}",
    "a_numerics": "{}",
    "a_texts": "{}",
    "a_mood": "calm",
    "a_level": "0",
    "a_kind": "x",
    "a_ratio": "0.5",
    "a_state": "on",
}


@pytest.fixture
def everything(run_sql: Callable[[str], None], target: Target) -> tuple[Table, Snapshot]:
    run_sql(SCHEMA)
    snapshot = snapshot_of(target)
    return snapshot.tables[EVERYTHING], snapshot


def insert(pg: psycopg.Connection[tuple[object, ...]], values: dict[str, str]) -> None:
    """One row of ``values`` as untyped literals: PostgreSQL casts each to its column's type, as seeding does."""
    pg.execute(
        sql.SQL("INSERT INTO public.everything ({}) VALUES ({})").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in values),
            sql.SQL(", ").join(sql.Literal(v) for v in values.values()),
        )
    )


def test_the_key_columns_are_those_of_the_primary_key_unique_constraints_and_unique_indexes(
    run_sql: Callable[[str], None], target: Target
) -> None:
    run_sql(
        """
        CREATE TABLE public.keyed (
          id int PRIMARY KEY, code text UNIQUE, a int, b int, plain int, lowered text, UNIQUE (a, b)
        );
        CREATE UNIQUE INDEX keyed_lowered ON public.keyed (lower(lowered), plain);
        CREATE INDEX keyed_plain ON public.keyed (plain, a);
        CREATE TABLE public.loose (id int, note text);
        CREATE INDEX loose_note ON public.loose (note);
        """
    )
    tables = snapshot_of(target).tables
    # keyed_lowered's expression is no column (the snapshot keeps it as None); plain is its column.
    assert unique_columns(tables[QualifiedName("public", "keyed")]) == {"id", "code", "a", "b", "plain"}
    assert unique_columns(tables[QualifiedName("public", "loose")]) == frozenset()


def test_every_generated_value_is_taken_by_its_column_and_each_row_of_a_unique_column_gets_its_own(
    pg: psycopg.Connection[tuple[object, ...]], everything: tuple[Table, Snapshot]
) -> None:
    table, snapshot = everything
    unique = unique_columns(table)
    assert unique == {c.name for c in table.columns.values()} - {
        "a_bool",
        "a_json",
        "a_texts",
        "a_mood",
        "a_level",
        "a_kind",
        "a_ratio",
        "a_state",
        "a_code",
        *NO_GENERATOR,
    }
    # a_code's generated value does not meet its CHECK (the fitter's candidates are tried then).
    generated = [c for c in table.columns.values() if c.name not in {*NO_GENERATOR, "a_code"}]
    for n in ROW_NUMBERS:
        insert(pg, {c.name: generate(c, table, snapshot, n=n, distinct=c.name in unique) for c in generated})
    for column in sorted(unique):
        count = pg.execute(
            sql.SQL("SELECT count(DISTINCT {}) FROM public.everything").format(sql.Identifier(column))
        ).fetchone()
        assert count == (len(ROW_NUMBERS),), column
    pg.rollback()


def test_a_column_whose_rows_need_not_differ_gets_one_fixed_value(
    pg: psycopg.Connection[tuple[object, ...]], everything: tuple[Table, Snapshot]
) -> None:
    table, snapshot = everything
    columns = [c for c in table.columns.values() if c.name not in NO_GENERATOR]
    for n in (0, 3):
        values = {c.name: generate(c, table, snapshot, n=n) for c in columns}
        assert {k: v for k, v in values.items() if k in FIXED} == FIXED
        assert re.fullmatch(r"pgcontract-[0-9a-f]{12}", values["a_text"]), values["a_text"]
        assert values["a_short"] == "pgcon"
        assert values["a_char"] == "pgc"
        # A list written as one array constant is not read (a CHECK candidate may still meet it).
        assert values["a_code"].startswith("pgcontract-")
        for name, bits in (("a_int2", 15), ("a_int4", 31), ("a_int8", 63)):
            assert 1 <= int(values[name]) < 2**bits, (name, values[name])
    insert(pg, {k: v for k, v in values.items() if k != "a_code"})
    pg.rollback()


def test_a_random_integer_is_from_1_to_a_bound_inside_its_type(
    pg: psycopg.Connection[tuple[object, ...]], everything: tuple[Table, Snapshot], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An integer column without a CHECK list gets a random positive number below a bound its type holds:
    the lowest and the highest draw (randomness pinned to its ends) give 1 and the bound, both taken."""
    table, snapshot = everything
    columns = ("a_int2", "a_int4", "a_int8")
    for draw, wanted in (
        (lambda bound: 0, ("1", "1", "1")),
        (lambda bound: bound - 1, ("32000", "2000000000", "9000000000000000")),
    ):
        monkeypatch.setattr(secrets, "randbelow", draw)
        made = {c: generate(table.columns[c], table, snapshot) for c in columns}
        assert made == dict(zip(columns, wanted, strict=True))
        insert(pg, made)
    pg.rollback()


def test_a_column_without_unique_gets_the_first_allowed_value_on_every_row(everything: tuple[Table, Snapshot]) -> None:
    """An enum and a CHECK ... IN list give each row of a UNIQUE column its own value (below), and every row of
    any other column the first: the row number only matters where rows must differ."""
    table, snapshot = everything
    for column, first in (("a_mood", "calm"), ("a_level", "0"), ("a_kind", "x"), ("a_state", "on")):
        made = [generate(table.columns[column], table, snapshot, n=n) for n in (0, 1, 2, 4)]
        assert made == [first] * 4, column


def test_unique_values_follow_the_row_number_where_the_type_allows(everything: tuple[Table, Snapshot]) -> None:
    table, snapshot = everything

    def of(column: str, n: int) -> str:
        return generate(table.columns[column], table, snapshot, n=n, distinct=True)

    assert [of("a_mood", n) for n in range(4)] == ["calm", "glad", "cross", "calm"]
    assert [of("a_level", n) for n in range(4)] == ["0", "5", "9", "0"]
    assert [of("a_kind", n) for n in range(3)] == ["x", "y", "x"]
    assert [of("a_ratio", n) for n in range(2)] == ["0.5", "1.5"]
    # A varchar column's CHECK: PostgreSQL casts the column and the whole list to text.
    assert [of("a_state", n) for n in range(3)] == ["on", "off", "on"]
    assert [of("a_numeric", n) for n in (0, 7)] == ["0", "7"]
    assert generate(table.columns["a_numeric"], table, snapshot, distinct=True) == "0"  # row 0 unless told
    assert [of("a_float8", n) for n in (0, 7)] == ["0.5", "7.5"]
    assert [of("a_ints", n) for n in (0, 7)] == ["{0}", "{7}"]
    assert [of("a_numerics", n) for n in (0, 7)] == ["{0}", "{7}"]
    assert of("a_texts", 7) == "{}"  # an array of text has no number to vary: an empty array
    assert [of("a_jsonb", n) for n in (0, 7)] == ['{"pgcontract": 0}', '{"pgcontract": 7}']
    assert [of("a_interval", n) for n in (0, 7)] == ["1 days", "8 days"]
    assert [of("a_inet", n) for n in (0, 1, 255, 256, 65_793, 131_071, 16_777_215)] == [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.1.0",
        "127.0.1.1",
        "127.1.1.2",
        "127.2.0.0",
        "127.0.0.0",  # 2^24 rows later the addresses start again
    ]
    assert [of("a_bytea", n) for n in (0, 1, 255, 256)] == ["\\x00", "\\x01", "\\xff", "\\x0100"]
    assert [of("a_short", n)[:2] for n in (0, 7, 12)] == ["0-", "7-", "12"]
    assert of("a_date", 2) > of("a_date", 1)
    assert of("a_tstz", 2)[:19] > of("a_tstz", 1)[:19]


def test_moments_of_unique_columns_are_a_day_and_a_second_apart_per_row(everything: tuple[Table, Snapshot]) -> None:
    """Row n's moment is n days and n seconds after now, in UTC and saying so: a date column takes the date
    alone, a time of day the time alone (a day apart is the same time: the second keeps rows apart)."""
    table, snapshot = everything

    def of(column: str, n: int) -> str:
        return generate(table.columns[column], table, snapshot, n=n, distinct=True)

    def day(n: int) -> str:
        return (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=n)).date().isoformat()

    before, dated, after = day(3), of("a_date", 3), day(3)
    assert dated in {before, after}
    stamped = datetime.datetime.fromisoformat(of("a_tstz", 3))
    assert stamped.utcoffset() == datetime.timedelta(0)
    assert (
        abs(stamped - datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3, seconds=3)).total_seconds() < 60
    )
    for column in ("a_time", "a_timetz"):
        first, second = (
            datetime.datetime.combine(datetime.date.min, datetime.time.fromisoformat(of(column, n))) for n in (0, 1)
        )
        assert 0.5 < (second - first).total_seconds() % 86_400 < 1.5, column


def test_a_type_with_no_generator_asks_for_isolation_values(everything: tuple[Table, Snapshot]) -> None:
    table, snapshot = everything
    for column, shown in (("a_point", "point"), ("a_words", "tsvector")):
        with pytest.raises(SeedError) as raised:
            generate(table.columns[column], table, snapshot)
        assert str(raised.value) == (
            f"cannot make a value for {EVERYTHING}.{column} of type {shown}: give one under isolation.values"
        )
    unreadable = Column("a_broken", "no such type(", False, None, None, None)
    with pytest.raises(SeedError, match=r"^cannot make a value for public.everything.a_broken \(no such type\(\)$"):
        generate(unreadable, table, snapshot)
    assert candidates(unreadable, 0) == []


# CHECKs schemas hold on text and numbers; at least one candidate of each column must meet each.
TEXT_CHECKS = {
    "slug": r"v ~ '^[a-z0-9]+$'",
    "snake": r"v ~ '^[a-z]+_[a-z0-9]+$'",
    "title case": r"v ~ '^[A-Z][a-z]+ '",
    "upper": r"v = upper(v) AND v ~ '[A-Z]'",
    "email": r"v ~ '^[^@ ]+@[^@ ]+\.[a-z]+$'",
    "url": r"v LIKE 'https://%'",
    "short": "length(v) <= 3",
    "digits": r"v ~ '^[0-9]+$' AND v::int >= 10000",
    "hex": r"v ~ '^[0-9a-f]{8}$'",
    "dashed": r"v ~ '^[a-z]+-[0-9a-f]+$'",
}
NUMBER_CHECKS = {
    "positive": "v > 0",
    "not negative": "v >= 0 AND v < 1",
    "negative": "v < 0",
    "percent": "v = 100",
    "a fraction": "v > 0 AND v < 1",
}
INTEGER_CHECKS = {k: c for k, c in NUMBER_CHECKS.items() if k != "a fraction"}


@pytest.mark.parametrize(
    ("column", "checks"),
    [
        ("a_text", TEXT_CHECKS),
        ("a_int4", INTEGER_CHECKS),
        ("a_int2", INTEGER_CHECKS),
        ("a_numeric", NUMBER_CHECKS),
        ("a_float4", NUMBER_CHECKS),
        ("a_float8", NUMBER_CHECKS),
        ("a_bool", {"true": "v", "false": "NOT v"}),
    ],
)
def test_the_candidates_are_taken_by_their_column_and_meet_common_checks(
    pg: psycopg.Connection[tuple[object, ...]],
    everything: tuple[Table, Snapshot],
    column: str,
    checks: dict[str, str],
) -> None:
    table, _ = everything
    declared = table.columns[column]
    tried = candidates(declared, 7)
    assert len(set(tried)) == len(tried) > 1
    for value in tried:
        insert(pg, {column: value})
    for what, check in checks.items():
        met = [
            v
            for v in tried
            if pg.execute(
                sql.SQL("SELECT {} FROM (SELECT {}::{} AS v) AS t").format(
                    sql.SQL(check), sql.Literal(v), sql.SQL(declared.type)
                )
            ).fetchone()
            == (True,)
        ]
        assert met, f"no candidate of {column} meets {what} ({check}): {tried}"
    pg.rollback()


def test_candidates_of_a_short_text_column_fit_it_and_the_row_number_is_one_of_them(
    pg: psycopg.Connection[tuple[object, ...]], everything: tuple[Table, Snapshot]
) -> None:
    table, _ = everything
    short = candidates(table.columns["a_short"], 7)
    assert all(len(v) <= 5 for v in short)
    assert "10007" in short
    assert str(10_007) in candidates(table.columns["a_text"], 7)
    assert "7" in candidates(table.columns["a_int4"], 7)
    assert "7" in candidates(table.columns["a_numeric"], 7)
    # Several are the same once cut to 5 characters and are tried once; a column without UNIQUE takes them
    # all (an explicit cast would cut them silently).
    assert len(set(short)) == len(short)
    pg.execute("CREATE TEMPORARY TABLE shorts (v varchar(5))")
    for value in short:
        pg.execute("INSERT INTO shorts VALUES (%s)", (value,))
    pg.rollback()


@pytest.mark.parametrize("column", ["a_uuid", "a_ints", "a_tstz", "a_jsonb", "a_point"])
def test_types_with_nothing_else_to_try_have_no_candidates(everything: tuple[Table, Snapshot], column: str) -> None:
    table, _ = everything
    assert candidates(table.columns[column], 3) == []


def test_the_random_integer_candidate_is_any_of_1_to_100(everything: tuple[Table, Snapshot]) -> None:
    """A small positive number for a CHECK such as ``BETWEEN 1 AND 100``, a new one per try (a UNIQUE column
    retried gets another): drawn 3,000 times, every value of 1..100 shows beside the fixed 0 and -1, and no
    other (each is missed with a chance of 0.99^3000, about 1e-13)."""
    table, _ = everything
    drawn = {v for _ in range(3000) for v in candidates(table.columns["a_int4"], 7)}
    assert drawn == {str(v) for v in range(-1, 101)}


def test_a_candidate_is_tried_once_when_the_random_one_equals_a_fixed_one(everything: tuple[Table, Snapshot]) -> None:
    """The random candidate of 1..100 is 1, 100 or the row number 7 in 3 draws of 100: drawn 3,000 times,
    each list is without repeats (the failure this pins showed in a CI run: '1' tried twice)."""
    table, _ = everything
    lists = [candidates(table.columns["a_int2"], 7) for _ in range(3000)]
    assert all(len(set(tried)) == len(tried) for tried in lists)
    assert {len(tried) for tried in lists} == {5, 6}
