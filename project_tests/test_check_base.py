"""What every check shares (checks/base.py), pinned exactly: how a finding shows its values, how a fix is
rendered (and held back when its SQL is not what it declares), a member's display name, and expressions
compared by their normal form, per table when they name columns. Pure functions: no database."""

from __future__ import annotations

from psycopg import sql

from pgcontract.catalog.snapshot import Snapshot, Table
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract import Contract
from pgcontract.findings import Finding, Fix, Hazard, Kind, Level
from pgcontract.names import QualifiedName
from pgcontract.sqlsafe import statement

T, U = QualifiedName("public", "t"), QualifiedName("public", "u")
CREATE_T = 'CREATE TABLE "public"."t" ();'


def context() -> Context:
    tables = {
        name: Table(name, "r", False, False, "postgres", True, columns={column: None})  # type: ignore[dict-item]
        for name, column in ((T, "a"), (U, "b"))
    }
    snapshot = Snapshot("15.0", 150000, "db", "postgres", True, None, tables, {})
    return Context(Contract.model_validate({"enums": {"public.e": ["x"]}}), snapshot)


def test_a_finding_holds_what_it_is_given_its_values_shown_as_text() -> None:
    repair = Fix("SELECT 1;")
    made = finding("enum.values", Kind.ENUMS, T, "public.t.x", "differs", ["a", "b"], ("c",), repair)
    assert made == Finding(
        rule="enum.values",
        kind=Kind.ENUMS,
        owner="public.t",
        object="public.t.x",
        message="differs",
        expected="[a, b]",
        actual="[c]",
        fix=repair,
        level=Level.ERROR,
    )
    warned = finding("policy.extra", Kind.POLICIES, "o", "obj", "m", None, 3, level=Level.WARNING)
    assert (warned.owner, warned.expected, warned.actual, warned.fix, warned.level) == (
        "o",
        "(none)",
        "3",
        None,
        Level.WARNING,
    )


def test_sets_are_shown_sorted_lists_and_tuples_in_their_order() -> None:
    shown = [
        finding("enum.values", Kind.ENUMS, "o", "o", "m", value, "x").expected
        for value in (
            {"b", "c", "a"},
            frozenset({"z", "y"}),
            ["b", "a"],
            ("b", "a"),
            [],
            "text",
            "",
        )
    ]
    assert shown == ["[a, b, c]", "[y, z]", "[b, a]", "[b, a]", "[]", "text", ""]
    # Small integers iterate in hash-table order, whatever the hash seed: {10, 2, 33} as 33, 10, 2.
    assert finding("enum.values", Kind.ENUMS, "o", "o", "m", {10, 2, 33}, "x").expected == "[2, 10, 33]"


def test_a_fix_renders_its_statements_one_a_line() -> None:
    one = fix(statement("CreateStmt", "public.t", sql.SQL(CREATE_T)), Hazard.LONG_LOCK, Hazard.DATA_LOSS, note="n")
    assert one == Fix(CREATE_T, (Hazard.LONG_LOCK, Hazard.DATA_LOSS), "n")
    plain = fix(sql.SQL("SELECT {};").format(sql.Literal(1)))
    assert plain == Fix("SELECT 1;", (), "")
    two = fix([statement("CreateStmt", "public.t", sql.SQL(CREATE_T)), sql.SQL("SELECT 2;")])
    assert two == Fix(CREATE_T + "\nSELECT 2;", (), "")


def test_a_fix_that_is_not_what_it_declares_is_held_back_as_manual_with_the_reason() -> None:
    wrong = 'CREATE TABLE "public"."u" ();'
    held = fix([sql.SQL("SELECT 1;"), statement("CreateStmt", "public.t", sql.SQL(wrong))], Hazard.LONG_LOCK, note="n")
    assert (held.sql, held.hazards) == ("SELECT 1;\n" + wrong, (Hazard.MANUAL,))
    assert held.note.startswith("internal error"), held.note
    assert "public.u" in held.note


def test_a_members_name_is_quoted_when_it_must_be() -> None:
    assert member(T, "plain_name") == "public.t.plain_name"
    assert member(T, "a.b") == 'public.t."a.b"'


def test_expressions_compare_by_their_normal_form() -> None:
    ctx = context()
    assert ctx.same_expr(None, None, T)
    assert not ctx.same_expr("a > 0", None, T)
    assert not ctx.same_expr(None, "a > 0", T)
    assert ctx.same_expr("a > 0", "a > 0", T)
    assert ctx.same_expr("a>0", "(t.a > 0)", T)
    assert not ctx.same_expr("a > 0", "a >= 0", T)
    # Unparsable text: equal when equal but for spacing, never equal to what parses.
    assert ctx.same_expr("a >>> ", " a  >>>", T)
    assert not ctx.same_expr("a >>>", "a >>", T)
    assert not ctx.same_expr("a >>>", "a > 0", T)


def test_an_expression_naming_columns_is_normalised_per_table() -> None:
    ctx = context()
    on_t = ctx.normal("a > 0", T)
    assert ctx.normal("a > 0", U) != on_t  # the column of another table
    assert ctx.normal("t.a > 0", T) == on_t
    assert ctx.normal("a > 0", T) == on_t
    assert ctx.normal("t.a > 0", U) != on_t
    assert ctx.normal("1 > 0", T) == ctx.normal("1 > 0", U) == ctx.normal("1 > 0", None)
    assert ctx.normal("a >>>", T) == "\x00unparsable:a >>>"
    # In a sub-select, a name that is no column of its table is the outer table's: the snapshot says which.
    assert ctx.same_expr("(SELECT max(a) FROM public.u) > 0", "(SELECT max(t.a) FROM public.u) > 0", T)
