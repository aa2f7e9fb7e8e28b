"""Canonical types and expressions (pure: PostgreSQL's parser through pglast, no database needed)."""

from __future__ import annotations

import pytest

from pgcontract.names import QualifiedName
from pgcontract.sqlnorm import InvalidSql, normalize_expr, parse_type

SAME_TYPES = [
    ("timestamptz", "timestamp with time zone"),
    ("int", "integer"),
    ("int4", "integer"),
    ("varchar(50)", "character varying(50)"),
    ("bool", "boolean"),
    ("float8", "double precision"),
    ("decimal(10,2)", "numeric(10,2)"),
    ("char(3)", "character(3)"),
    ("text[]", "text[]"),
    ("timestamptz(3)", "timestamp(3) with time zone"),
    ("serial", "integer"),
    ("member_role", "public.member_role"),
    ("citext", "extensions.citext"),
]
DIFFERENT_TYPES = [
    ("numeric(14,2)", "numeric(14,4)"),
    ("varchar(50)", "varchar(60)"),
    ("integer", "bigint"),
    ("text", "text[]"),
    ("public.member_role", "other.member_role"),
    ("timestamp", "timestamptz"),
]


@pytest.mark.parametrize(("expected", "actual"), SAME_TYPES)
def test_type_aliases_match(expected: str, actual: str) -> None:
    assert parse_type(expected).matches(parse_type(actual))


@pytest.mark.parametrize(("expected", "actual"), DIFFERENT_TYPES)
def test_different_types_do_not_match(expected: str, actual: str) -> None:
    assert not parse_type(expected).matches(parse_type(actual))


def test_types_print_as_postgresql_does() -> None:
    assert str(parse_type("timestamptz")) == "timestamp with time zone"
    assert str(parse_type("varchar(50)")) == "character varying(50)"
    assert parse_type("character varying(50)").short == "varchar(50)"


T = QualifiedName("public", "messages")
COLUMNS = {
    QualifiedName("public", "threads"): frozenset({"id", "user_id"}),
    QualifiedName("public", "messages"): frozenset({"id", "thread_id", "role"}),
    QualifiedName("public", "memberships"): frozenset({"org_id", "user_id"}),
}


def norm(text: str, table: QualifiedName = T) -> str:
    return normalize_expr(text, table, COLUMNS.get)


SAME_EXPRESSIONS = [
    ("'active'", "'active'::text"),
    ("role IN ('user', 'assistant')", "(role = ANY (ARRAY['user'::text, 'assistant'::text]))"),
    ("role NOT IN ('x')", "(role <> ALL (ARRAY['x'::text]))"),
    ("auth.uid() = thread_id", "(auth.uid() = thread_id)"),
    ("-1", "'-1'::integer"),
    ("nextval('t_id_seq'::regclass)", "nextval('public.t_id_seq'::regclass)"),
    ("(select auth.uid()) = thread_id", "(( SELECT auth.uid() AS uid) = thread_id)"),
    ("lower(role)", "pg_catalog.lower(role)"),
    ("role LIKE 'a%'", "(role ~~ 'a%'::text)"),
    ("a AND b AND c", "((a AND b) AND c)"),
    (
        "thread_id IN (SELECT id FROM threads WHERE user_id = auth.uid())",
        "(thread_id IN ( SELECT threads.id FROM public.threads WHERE (threads.user_id = auth.uid())))",
    ),
    (
        "EXISTS (SELECT 1 FROM threads t WHERE t.id = thread_id)",
        "(EXISTS ( SELECT 1 FROM public.threads t WHERE (t.id = messages.thread_id)))",
    ),
]
DIFFERENT_EXPRESSIONS = [
    ("'active'", "'archived'::text"),
    ("auth.uid() = thread_id", "true"),
    ("role IN ('user', 'assistant')", "role IN ('user', 'assistant', 'tool')"),
    (
        "EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = messages.id)",
        "EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = m.org_id)",
    ),
    ("now()", "clock_timestamp()"),
]


@pytest.mark.parametrize(("expected", "actual"), SAME_EXPRESSIONS)
def test_equivalent_expressions_match(expected: str, actual: str) -> None:
    assert norm(expected) == norm(actual)


@pytest.mark.parametrize(("expected", "actual"), DIFFERENT_EXPRESSIONS)
def test_different_expressions_differ(expected: str, actual: str) -> None:
    assert norm(expected) != norm(actual)


@pytest.mark.parametrize("text", ["now(", "1; DROP TABLE x", "", "SELECT 1 FROM t"])
def test_invalid_expressions_are_rejected(text: str) -> None:
    with pytest.raises(InvalidSql):
        normalize_expr(text)
