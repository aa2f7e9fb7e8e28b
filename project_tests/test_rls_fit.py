"""Fitting a seeded test row to its table's CHECK constraints (``rls/fit.py``), on a real PostgreSQL: which
``column = expression`` equalities come out of CHECK texts as the catalog prints them; the row a check is
evaluated on (given values, JSON documents, usable defaults); which checks a row breaks (a check that raises
counts, the transaction stays usable); the first option that passes, in one statement when none raises;
and ``fit_checks``: an equality is preferred to candidate values, only chosen or unset columns change, at
most ``ROUNDS`` repairs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Self

import psycopg
import pytest
from psycopg import sql

from pgcontract.catalog.snapshot import Table
from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.fit import ROUNDS, CheckShape, Fitter, _equalities, _is_json, fit_checks, shapes
from project_tests.helpers import snapshot_of

Conn = psycopg.Connection[tuple[object, ...]]
Values = dict[str, str | None]
SAVEPOINT = "SAVEPOINT pgcontract_fit"
RELEASE = "RELEASE SAVEPOINT pgcontract_fit"
ROLLBACK = "ROLLBACK TO SAVEPOINT pgcontract_fit"
CANDIDATE = re.compile(r"pgcontract-[0-9a-f]{8}")


class Recording(psycopg.Cursor[Any]):
    """A real cursor that keeps the text of every statement it runs (to count the fitter's queries)."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        super().__init__(connection)
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None, **options: Any) -> Self:
        text = query.as_string(self) if isinstance(query, sql.Composable) else str(query)
        self.statements.append(text)
        return super().execute(query, params, **options)

    def queries(self) -> list[str]:
        """The statements other than the savepoint's own."""
        return [s for s in self.statements if s not in (SAVEPOINT, RELEASE, ROLLBACK)]


def table_of(run_sql: Callable[[str], None], target: Target, ddl: str, name: str = "t") -> Table:
    run_sql(ddl)
    return snapshot_of(target).tables[QualifiedName("public", name)]


def shape(table: Table, name: str) -> CheckShape:
    return next(s for s in shapes(table) if s.constraint.name == name)


# --- equalities ---------------------------------------------------------------------------------------


def test_equalities_come_from_both_sides_under_and_or_with_casts_and_qualified_columns(
    run_sql: Callable[[str], None], target: Target
) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE EXTENSION citext;
        CREATE OPERATOR public.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = texteq);
        CREATE TABLE public.t (name text, slug text, code varchar(5), n int, c public.citext, d jsonb,
          CONSTRAINT c01 CHECK (slug = lower(name)),
          CONSTRAINT c02 CHECK (lower(name) = slug),
          CONSTRAINT c03 CHECK (code = 'ab' AND n = 3 OR slug = name),
          CONSTRAINT c04 CHECK (NOT (slug = name)),
          CONSTRAINT c05 CHECK (code = upper(name)),
          CONSTRAINT c06 CHECK (slug <> name AND n >= 2),
          CONSTRAINT c07 CHECK (slug OPERATOR(pg_catalog.=) name),
          CONSTRAINT c08 CHECK (public.t.slug = lower(name)),
          CONSTRAINT c09 CHECK (n::text = name),
          CONSTRAINT c10 CHECK ((d ->> 'k') = name),
          CONSTRAINT c11 CHECK (c = lower(name)::public.citext),
          CONSTRAINT c12 CHECK (name OPERATOR(public.===) slug),
          CONSTRAINT c13 CHECK (slug IS DISTINCT FROM name),
          CONSTRAINT c14 CHECK (slug = ANY (ARRAY['ab', 'cd'])),
          CONSTRAINT c15 CHECK (NULLIF(slug, name) IS NULL),
          CONSTRAINT c16 CHECK (lower(name) = upper(slug))
        );
        """,
    )
    found = {s.constraint.name: (s.constraint.check, sorted(s.columns), s.equalities) for s in shapes(table)}
    assert found == {
        "c01": ("(slug = lower(name))", ["name", "slug"], (("slug", "lower(name)"),)),
        "c02": ("(lower(name) = slug)", ["name", "slug"], (("slug", "lower(name)"),)),
        "c03": (
            "((((code)::text = 'ab'::text) AND (n = 3)) OR (slug = name))",
            ["code", "n", "name", "slug"],
            (("slug", "name"), ("name", "slug"), ("n", "3"), ("code", "CAST('ab' AS text)")),
        ),
        "c04": ("(NOT (slug = name))", ["name", "slug"], ()),
        "c05": ("((code)::text = upper(name))", ["code", "name"], (("code", "upper(name)"),)),
        "c06": ("((slug <> name) AND (n >= 2))", ["n", "name", "slug"], ()),
        # PostgreSQL prints its own operator plainly; the snapshot reads with only pg_catalog visible.
        "c07": ("(slug = name)", ["name", "slug"], (("slug", "name"), ("name", "slug"))),
        "c08": ("(slug = lower(name))", ["name", "slug"], (("slug", "lower(name)"),)),
        "c09": ("((n)::text = name)", ["n", "name"], (("n", "name"), ("name", "CAST(n AS text)"))),
        "c10": ("((d ->> 'k'::text) = name)", ["d", "name"], (("name", "d ->> CAST('k' AS text)"),)),
        # citext's own equality, qualified since its schema is not pg_catalog.
        "c11": (
            "(c OPERATOR(public.=) (lower(name))::public.citext)",
            ["c", "name"],
            (("c", "CAST(lower(name) AS public.citext)"),),
        ),
        "c12": ("(name OPERATOR(public.===) slug)", ["name", "slug"], ()),
        "c13": ("(slug IS DISTINCT FROM name)", ["name", "slug"], ()),
        "c14": ("(slug = ANY (ARRAY['ab'::text, 'cd'::text]))", ["slug"], ()),
        "c15": ("(NULLIF(slug, name) IS NULL)", ["name", "slug"], ()),
        "c16": ("(lower(name) = upper(slug))", ["name", "slug"], ()),
    }


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("slug = ", ()),  # unparsable: no help, no error
        ("", ()),
        ("public.t.slug = 1", (("slug", "1"),)),  # the last field of a qualified reference
        ("t.* = 1", ()),  # a star is no column
        ("OPERATOR(public.=) slug", ()),  # a prefix operator has no other side
        ("slug OPERATOR(public.=) name", (("slug", "name"), ("name", "slug"))),
        ("slug::text::varchar = 'x'", (("slug", "'x'"),)),
        ("NOT (a = 1) AND b = 2", (("b", "2"),)),
        ("(a = 1) IS TRUE", ()),
    ],
)
def test_equalities_of_texts(expression: str, expected: tuple[tuple[str, str], ...]) -> None:
    assert _equalities(expression) == expected


@pytest.mark.parametrize(
    ("type_text", "expected"),
    [
        ("jsonb", True),
        ("json", True),
        ("pg_catalog.jsonb", True),
        ("jsonb[]", False),
        ("text", False),
        ("x y(", False),
        ("public.json", False),
        ("app.jsonb", False),
    ],
)
def test_is_json(type_text: str, expected: bool) -> None:
    assert _is_json(type_text) is expected


# --- the row a check is evaluated on --------------------------------------------------------------------


JSON_TABLE = """
CREATE TABLE public.t (name text, doc jsonb, raw json, docs jsonb[], n int);
"""


def test_record_gives_json_columns_the_document(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    fitter = Fitter(pg.cursor(), table_of(run_sql, target, JSON_TABLE))
    assert fitter.json_columns == {"doc", "raw"}
    record = fitter.record({"name": '{"a": 1}', "doc": '{"a": [1, 2]}', "raw": "not json", "docs": "{}", "n": None})
    assert record == '{"name": "{\\"a\\": 1}", "doc": {"a": [1, 2]}, "raw": "not json", "docs": "{}", "n": null}'
    assert fitter.record({"doc": None}) == '{"doc": null}'
    assert fitter.record({}) == "{}"
    # The document reaches the check as the column's value, not as a JSON string.
    assert fitter.evaluate({"doc": '{"k": "v"}'}, "doc ->> 'k'") == "v"
    assert fitter.evaluate({"raw": '{"k": "w"}'}, "raw ->> 'k'") == "w"


def test_the_row_takes_usable_defaults_only(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (
          id serial, ident int GENERATED ALWAYS AS IDENTITY, n int, twice int GENERATED ALWAYS AS (n * 2) STORED,
          fixed int DEFAULT 7, computed text DEFAULT lower('AB'), plain text
        );
        """,
    )
    fitter = Fitter(pg.cursor(), table)
    row = "format('%s|%s|%s|%s|%s|%s|%s', id, ident, n, twice, fixed, computed, plain)"
    assert fitter.evaluate({}, row) == "||||7|ab|"
    assert fitter.evaluate({"n": "3", "fixed": "1", "computed": None, "plain": "p"}, row) == "||3||1||p"
    # A given value wins even over a column's generation.
    assert fitter.evaluate({"id": "5", "ident": "6", "twice": "8"}, row) == "5|6||8|7|ab|"
    # The serial's sequence was not advanced by a fit.
    assert pg.execute("SELECT is_called FROM public.t_id_seq").fetchone() == (False,)


# --- failing / evaluate -----------------------------------------------------------------------------------

CHECKS = """
CREATE TABLE public.t (name text, slug text, n int,
  CONSTRAINT a_positive CHECK (n > 0),
  CONSTRAINT b_slug CHECK (slug = lower(name)),
  CONSTRAINT c_number CHECK (name::int > 0)
);
"""


def test_failing_lists_the_broken_checks_in_order(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(run_sql, target, CHECKS)
    cur = Recording(pg)
    fitter = Fitter(cur, table)
    positive, slug, number = (shape(table, n) for n in ("a_positive", "b_slug", "c_number"))
    checks = [positive, slug, number]
    assert fitter.failing({"n": "1", "name": "7", "slug": "7"}, checks) == []
    assert fitter.failing({"n": "0", "name": "7", "slug": "x"}, checks) == [positive, slug]
    assert fitter.failing({"n": "0", "name": "7", "slug": "x"}, [slug, positive]) == [slug, positive]
    # NULL passes a CHECK.
    assert fitter.failing({"n": None, "name": None, "slug": "x"}, checks) == []
    assert fitter.failing({"n": "2", "name": "9", "slug": "x"}, [number, slug]) == [slug]
    assert len(cur.queries()) == 5  # one statement each when nothing raises


def test_a_check_that_raises_counts_as_failing_and_the_transaction_goes_on(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(run_sql, target, CHECKS)
    cur = Recording(pg)
    fitter = Fitter(cur, table)
    positive, slug, number = (shape(table, n) for n in ("a_positive", "b_slug", "c_number"))
    assert fitter.failing({"n": "1", "name": "Abc", "slug": "abc"}, [positive, slug, number]) == [number]
    # The whole statement, then each check alone.
    assert len(cur.queries()) == 4
    assert fitter.failing({"n": "0", "name": "Abc", "slug": "x"}, [number]) == [number]
    assert fitter.failing({"n": "0", "name": "Abc", "slug": "x"}, [number, positive, slug]) == [number, positive, slug]
    assert pg.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    assert cur.execute("SELECT 1").fetchone() == (1,)


def test_evaluate_gives_the_expression_as_text_or_none(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(run_sql, target, CHECKS)
    cur = pg.cursor()
    fitter = Fitter(cur, table)
    assert fitter.evaluate({"name": "Mixed Case"}, "lower(name)") == "mixed case"
    assert fitter.evaluate({"n": "41"}, "n + 1") == "42"
    assert fitter.evaluate({"n": "41"}, "n > 1") == "true"
    assert fitter.evaluate({}, "lower(name)") is None
    assert fitter.evaluate({"name": "x"}, "name::int") is None  # raises
    assert cur.execute("SELECT 2").fetchone() == (2,)


# --- first_passing -------------------------------------------------------------------------------------------

OPTIONS = """
CREATE TABLE public.t (code text, n int, CONSTRAINT big CHECK (code::int > n));
"""


def test_first_passing_is_the_first_option_that_holds_in_one_statement(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(run_sql, target, OPTIONS)
    cur = Recording(pg)
    fitter = Fitter(cur, table)
    big = shape(table, "big")
    assert fitter.first_passing({"n": "5"}, big, "code", ["1", "9", "5", "7", "20"]) == "9"
    assert cur.statements[0] == SAVEPOINT
    assert cur.statements[-1] == RELEASE
    assert len(cur.queries()) == 1
    assert fitter.first_passing({"n": "5", "code": "100"}, big, "code", ["30", "6"]) == "30"
    assert fitter.first_passing({"n": "50"}, big, "code", ["1", "9"]) is None
    assert fitter.first_passing({"n": "50"}, big, "code", []) is None
    # The other values of the row count: n is read from values.
    assert fitter.first_passing({"code": "1"}, big, "n", ["30", "6", "2"]) is None
    assert fitter.first_passing({"code": "8"}, big, "n", ["30", "6", "2"]) == "6"
    assert len(cur.queries()) == 6


def test_first_passing_falls_back_to_one_by_one_when_an_option_raises(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(run_sql, target, OPTIONS)
    cur = Recording(pg)
    fitter = Fitter(cur, table)
    big = shape(table, "big")
    assert fitter.first_passing({"n": "5"}, big, "code", ["x", "3", "7", "9"]) == "7"
    assert len(cur.queries()) == 4  # the failed statement, then x, 3, 7
    assert fitter.first_passing({"n": "5"}, big, "code", ["3", "7", "x"]) == "7"
    assert fitter.first_passing({"n": "5"}, big, "code", ["x", "1"]) is None
    assert cur.execute("SELECT 3").fetchone() == (3,)


# --- fit_checks ----------------------------------------------------------------------------------------------


class Calls:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_no_check_to_fit_runs_no_query(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (given text CHECK (given = 'x'), later int DEFAULT 5 CHECK (later > 10),
          made int GENERATED ALWAYS AS (length(given)) STORED CHECK (made > 100), free text);
        """,
    )
    cur = Recording(pg)
    calls = Calls()
    values: Values = {"given": "y", "free": "f"}
    assert fit_checks(cur, table, values, ["free"], 1, calls) == {"given": "y", "free": "f"}
    assert (calls.count, cur.statements) == (0, [])


def test_checks_that_hold_leave_the_row_alone(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(run_sql, target, "CREATE TABLE public.t (name text, slug text CHECK (slug = lower(name)));")
    cur = Recording(pg)
    calls = Calls()
    values: Values = {"name": "Ab", "slug": "ab"}
    assert fit_checks(cur, table, values, ["slug"], 1, calls) == {"name": "Ab", "slug": "ab"}
    assert calls.count == 1
    assert len(cur.queries()) == 1


def test_an_equality_is_preferred_to_candidates(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        "CREATE TABLE public.t (name text, slug text CHECK (slug = 'fixed' OR slug LIKE 'pgcontract-%'));",
    )
    values: Values = {"name": "Ab", "slug": "zz"}
    assert fit_checks(pg.cursor(), table, values, ["slug"], 1, Calls()) == {"name": "Ab", "slug": "fixed"}
    assert values == {"name": "Ab", "slug": "zz"}  # a copy is fitted


def test_equality_repair_derives_the_column(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        "CREATE EXTENSION citext;"
        " CREATE TABLE public.t (name text, slug public.citext, CHECK (slug = lower(name)::public.citext));",
    )
    assert fit_checks(pg.cursor(), table, {"name": "Ab C", "slug": "zz"}, ["slug"], 1, Calls()) == {
        "name": "Ab C",
        "slug": "ab c",
    }


def test_only_chosen_or_unset_columns_change(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(run_sql, target, "CREATE TABLE public.t (slug text, name text, CHECK (slug = name));")
    # (slug, name) comes first, but slug was given: name follows slug.
    assert fit_checks(pg.cursor(), table, {"slug": "given", "name": "x"}, ["name"], 1, Calls()) == {
        "slug": "given",
        "name": "given",
    }
    # Neither may change: the row stays as it is.
    assert fit_checks(pg.cursor(), table, {"slug": "given", "name": "x"}, [], 1, Calls()) == {
        "slug": "given",
        "name": "x",
    }


def test_an_unset_column_without_default_is_fitted(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql, target, "CREATE TABLE public.t (a text, k int CHECK (k IS NOT NULL AND k > 1000), b text);"
    )
    calls = Calls()
    assert fit_checks(pg.cursor(), table, {"a": "x"}, ["b"], 5000, calls) == {"a": "x", "k": "5000"}
    assert calls.count == 1


def test_candidates_go_to_the_chosen_columns_first(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (x text, a text, b text, c text,
          CHECK ((a IS NOT NULL AND a LIKE 'pgcontract-%') OR b LIKE 'pgcontract-%'));
        """,
    )
    # x comes first but the check does not read it.
    fitted = fit_checks(pg.cursor(), table, {"x": "xx", "b": "zz", "c": "cc"}, ["c", "b", "x"], 1, Calls())
    assert set(fitted) == {"x", "b", "c"}
    assert (fitted["x"], fitted["c"]) == ("xx", "cc")
    assert CANDIDATE.fullmatch(fitted["b"] or "")


def test_a_derived_null_is_no_repair(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (name text, slug text,
          CHECK (slug IS NOT NULL AND slug LIKE 'pgcontract-%' AND slug = NULLIF(name, 'none')));
        """,
    )
    fitted = fit_checks(pg.cursor(), table, {"name": "none", "slug": "zz"}, ["slug"], 1, Calls())
    assert fitted["name"] == "none"
    assert CANDIDATE.fullmatch(fitted["slug"] or "")


def test_repairs_go_on_for_rounds(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (a text, b text, c text, d text,
          CONSTRAINT a_follows_b CHECK (a = b || '1'),
          CONSTRAINT b_follows_c CHECK (b = c || '2'),
          CONSTRAINT c_follows_d CHECK (c = d || '3'));
        """,
    )
    assert [s.constraint.name for s in shapes(table)] == ["a_follows_b", "b_follows_c", "c_follows_d"]
    calls = Calls()
    values: Values = {"a": "a0", "b": "b0", "c": "c0", "d": "d"}
    # One repair a round, the first failing check's: a, b, a, c; then the rounds are out and b is broken.
    assert ROUNDS == 4
    assert fit_checks(pg.cursor(), table, values, ["a", "b", "c"], 1, calls) == {
        "a": "c021",
        "b": "c02",
        "c": "d3",
        "d": "d",
    }
    assert calls.count == 1


def test_a_candidate_repair_goes_on_to_the_next_round(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (name text, slug text,
          CONSTRAINT a_name CHECK (name = slug || '!'),
          CONSTRAINT b_slug CHECK (slug LIKE 'pgcontract-%'));
        """,
    )
    fitted = fit_checks(pg.cursor(), table, {"name": "n", "slug": "zz"}, ["name", "slug"], 1, Calls())
    assert CANDIDATE.fullmatch(fitted["slug"] or "")
    assert fitted == {"name": f"{fitted['slug']}!", "slug": fitted["slug"]}


def test_an_unrepairable_check_does_not_stop_the_next(run_sql: Callable[[str], None], target: Target, pg: Conn) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (n int, name text, slug text,
          CONSTRAINT a_never CHECK (n < 0 AND n > 0),
          CONSTRAINT b_slug CHECK (slug = lower(name)));
        """,
    )
    cur = Recording(pg)
    assert fit_checks(cur, table, {"n": "1", "name": "AB", "slug": "x"}, ["n", "slug"], 1, Calls()) == {
        "n": "1",
        "name": "AB",
        "slug": "ab",
    }
    # Round one: the row, a_never's options for n, the slug, its check; round two: the row, a_never's options.
    assert len(cur.queries()) == 6


def test_before_query_runs_first_and_outside_any_savepoint(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (owner text, n text,
          CONSTRAINT a_owner CHECK (owner = current_setting('app.user', true)),
          CONSTRAINT b_number CHECK (n::int > 0));
        """,
    )
    cur = pg.cursor()
    calls: list[str] = []

    def act() -> None:
        calls.append("act")
        cur.execute("SELECT set_config('app.user', 'alice', true)")

    fitted = fit_checks(cur, table, {"owner": "x", "n": "x"}, ["owner"], 1, act)
    assert fitted == {"owner": "alice", "n": "x"}
    assert calls == ["act"]
    assert cur.execute("SELECT current_setting('app.user', true)").fetchone() == ("alice",)


def test_catalog_text_with_a_percent_sign_is_no_placeholder(
    run_sql: Callable[[str], None], target: Target, pg: Conn
) -> None:
    table = table_of(
        run_sql,
        target,
        """
        CREATE TABLE public.t (email text, label text DEFAULT format('%s-%s', 'a', 'b'),
          CONSTRAINT mail CHECK (email LIKE '%@%'));
        """,
    )
    fitter = Fitter(pg.cursor(), table)
    mail = shape(table, "mail")
    assert fitter.failing({"email": "x"}, [mail]) == [mail]
    assert fitter.failing({"email": "a@b"}, [mail]) == []
    assert fitter.evaluate({}, "label") == "a-b"
    assert fitter.evaluate({"email": "x"}, "format('%s!', email)") == "x!"
    assert fitter.first_passing({}, mail, "email", ["x", "y@z", "a@b"]) == "y@z"
