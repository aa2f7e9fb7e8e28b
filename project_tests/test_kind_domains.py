"""Domains as applications use them: an email domain with a named CHECK used by a column, an amount over
numeric with NOT NULL and a default, a domain whose CHECK calls a function, a domain over an enum, and one
only a function takes. The database checked against its own snapshot passes; each single change fails
naming the domain; the snapshot's SQL loads into an empty database in dependency order; repair restores
what is safe and holds back what scans the tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import contract_ddl
from pgcontract.findings import Hazard, Kind
from project_tests.helpers import check, own_contract, run_cli
from project_tests.kind_support import (
    assert_repaired,
    assert_sql_round_trips,
    fresh_database,
)
from project_tests.rule_check import assert_only_rule

SCHEMA = r"""
CREATE TYPE public.plan AS ENUM ('free', 'pro', 'team');
CREATE FUNCTION public.is_slug(text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT $1 ~ '^[a-z0-9]+(-[a-z0-9]+)*$' $$;
CREATE DOMAIN public.email AS text CONSTRAINT email_format CHECK (VALUE ~ '^[^@\s]+@[^@\s]+$');
CREATE DOMAIN public.amount AS numeric(12,2) NOT NULL DEFAULT 0 CONSTRAINT amount_not_negative CHECK (VALUE >= 0);
CREATE DOMAIN public.slug AS text CONSTRAINT slug_valid CHECK (public.is_slug(VALUE));
CREATE DOMAIN public.paid_plan AS public.plan CONSTRAINT paid_only CHECK (VALUE <> 'free');
CREATE DOMAIN public.percent AS integer CONSTRAINT percent_range CHECK (VALUE BETWEEN 0 AND 100);
CREATE TABLE public.accounts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email public.email NOT NULL,
  handle public.slug UNIQUE,
  balance public.amount,
  plan public.paid_plan
);
CREATE FUNCTION public.discounted(price numeric, off public.percent) RETURNS numeric LANGUAGE sql IMMUTABLE
  AS $$ SELECT price * (100 - off) / 100 $$;
ALTER TABLE public.accounts ENABLE ROW LEVEL SECURITY;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.accounts FROM anon, authenticated;
INSERT INTO public.accounts (email, handle, balance, plan) VALUES ('ada@example.org', 'ada', 12.50, 'pro');
"""


@pytest.fixture
def db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(db: Target, tmp_path: Path) -> None:
    dsn = db.dsn
    snapshot = run_cli("snapshot", "--dsn", dsn)
    assert snapshot.returncode == 0, snapshot.stderr
    path = tmp_path / "contract.yaml"
    path.write_text(snapshot.stdout, encoding="utf-8")
    domains = load_contract(path).domains
    assert set(domains) == {"public.email", "public.amount", "public.slug", "public.paid_plan", "public.percent"}
    assert domains["public.amount"].nullable is False
    assert domains["public.amount"].default == "0"
    assert domains["public.email"].checks == {"email_format": "(VALUE ~ E'^[^@\\\\s]+@[^@\\\\s]+$'::text)"}
    assert domains["public.paid_plan"].type == "public.plan"
    result = run_cli("check", "--dsn", dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_dropped_check_fails_the_check_command_naming_the_domain(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(db, tmp_path)
    run_sql("ALTER DOMAIN public.email DROP CONSTRAINT email_format")
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "test_domains[public.email]" in result.stdout
    assert "domain.check_missing" in result.stdout


# One change each: (statement, rule, object, expected, actual, the hazard repair holds it back for).
CHANGES: dict[str, tuple[str, str, str, str | None, str | None, Hazard | None]] = {
    "check of a used domain dropped": (
        "ALTER DOMAIN public.email DROP CONSTRAINT email_format",
        "domain.check_missing",
        "public.email.email_format",
        "(VALUE ~ E'^[^@\\\\s]+@[^@\\\\s]+$'::text)",  # a backslash: written as an E'...' string
        None,
        Hazard.LONG_LOCK,
    ),
    "check of an unused domain dropped": (
        "ALTER DOMAIN public.percent DROP CONSTRAINT percent_range",
        "domain.check_missing",
        "public.percent.percent_range",
        None,
        "no check constraints",
        None,
    ),
    "check changed": (
        "ALTER DOMAIN public.percent DROP CONSTRAINT percent_range;"
        " ALTER DOMAIN public.percent ADD CONSTRAINT percent_range CHECK (VALUE BETWEEN 0 AND 1000)",
        "domain.check",
        "public.percent.percent_range",
        None,
        "((VALUE >= 0) AND (VALUE <= 1000))",
        None,
    ),
    "check calling a function changed": (
        "ALTER DOMAIN public.slug DROP CONSTRAINT slug_valid;"
        " ALTER DOMAIN public.slug ADD CONSTRAINT slug_valid CHECK (length(VALUE) > 0)",
        "domain.check",
        "public.slug.slug_valid",
        "public.is_slug(VALUE)",
        "(length(VALUE) > 0)",
        Hazard.LONG_LOCK,
    ),
    "extra check": (
        "ALTER DOMAIN public.amount ADD CONSTRAINT amount_small CHECK (VALUE < 1000000)",
        "domain.check_extra",
        "public.amount.amount_small",
        "absent",
        "(VALUE < (1000000)::numeric)",
        None,
    ),
    "NOT NULL dropped": (
        "ALTER DOMAIN public.amount DROP NOT NULL",
        "domain.nullable",
        "public.amount",
        "NOT NULL",
        "nullable",
        Hazard.LONG_LOCK,
    ),
    "NOT NULL added": (
        "ALTER DOMAIN public.email SET NOT NULL",
        "domain.nullable",
        "public.email",
        "nullable",
        "NOT NULL",
        None,
    ),
    "default changed": (
        "ALTER DOMAIN public.amount SET DEFAULT 1",
        "domain.default",
        "public.amount",
        "0",
        "1",
        None,
    ),
    "default added": (
        "ALTER DOMAIN public.percent SET DEFAULT 10",
        "domain.default",
        "public.percent",
        "(none)",
        "10",
        None,
    ),
    "base type changed": (
        "DROP FUNCTION public.discounted(numeric, public.percent); DROP DOMAIN public.percent;"
        " CREATE DOMAIN public.percent AS smallint CONSTRAINT percent_range CHECK (VALUE BETWEEN 0 AND 100);"
        " CREATE FUNCTION public.discounted(price numeric, off public.percent) RETURNS numeric LANGUAGE sql IMMUTABLE"
        " AS $$ SELECT price * (100 - off) / 100 $$",
        "domain.type",
        "public.percent",
        "integer",
        "smallint",
        Hazard.MANUAL,
    ),
    "missing": (
        "DROP FUNCTION public.discounted(numeric, public.percent); DROP DOMAIN public.percent",
        "domain.missing",
        "public.percent",
        "integer",
        "absent",
        None,
    ),
}


# What a change cannot be made without: a function whose argument has the domain goes with it.
CONSEQUENCES = {"missing": ("function.missing",)}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_domain_and_repair_restores_it(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj, expected, actual, held = CHANGES[change]
    contract = load_contract(own_contract(db, tmp_path))
    run_sql(statement)
    index = check(db, contract)
    assert_only_rule(index, rule, obj=obj, also=CONSEQUENCES.get(change, ()))
    found = [f for f in index.findings if f.kind is Kind.DOMAINS]
    assert [(f.rule, f.object) for f in found] == [(rule, obj)]
    if expected is not None:
        assert found[0].expected == expected
    if actual is not None:
        assert found[0].actual == actual
    assert_repaired(db, contract, found[0], held)


def test_a_check_on_a_used_domain_is_held_because_validate_scans_its_columns(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(db, tmp_path))
    run_sql("ALTER DOMAIN public.email DROP CONSTRAINT email_format")
    (finding,) = [f for f in check(db, contract).findings if f.kind is Kind.DOMAINS]
    assert finding.fix is not None
    assert "public.accounts.email" in finding.fix.note
    assert "NOT VALID" in finding.fix.sql
    assert "VALIDATE CONSTRAINT" in finding.fix.sql


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_and_again_changes_nothing(
    db: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    """The domain over the enum after the enum, the domain whose CHECK calls is_slug after is_slug, the
    function taking percent after percent, the table using the domains after them."""
    path = own_contract(db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert text.index('CREATE TYPE "public"."plan"') < text.index('CREATE DOMAIN "public"."paid_plan"')
    assert text.index('FUNCTION "public"."is_slug"') < text.index('CREATE DOMAIN "public"."slug"')
    assert text.index('CREATE DOMAIN "public"."percent"') < text.index('FUNCTION "public"."discounted"')
    assert text.index('CREATE DOMAIN "public"."email"') < text.index('CREATE TABLE IF NOT EXISTS "public"."accounts"')
    with fresh_database(pg) as fresh:
        assert_sql_round_trips(fresh, text, path)


def test_a_domain_calling_a_function_is_created_after_it_and_functions_taking_it_after_it() -> None:
    contract = Contract.model_validate(
        {
            "functions": {
                "public.ok(text)": {"returns": "boolean", "body": "SELECT true"},
                "public.use(v public.checked)": {"returns": "integer", "body": "SELECT 1"},
            },
            "domains": {"public.checked": {"type": "text", "checks": {"checked_ok": "public.ok(VALUE)"}}},
        }
    )
    text = contract_ddl(contract)
    assert text.index('FUNCTION "public"."ok"') < text.index('CREATE DOMAIN "public"."checked"')
    assert text.index('CREATE DOMAIN "public"."checked"') < text.index('FUNCTION "public"."use"')


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        ("domains:\n  public.d: {type: text, checks: {c: \"VALUE <> '') OR (true\"}}\n", "not a valid SQL expression"),
        ("domains:\n  public.d: {type: 'text; DROP TABLE x'}\n", "not a valid PostgreSQL type"),
        ("domains:\n  public.d: {type: text, default: '1; DROP TABLE x'}\n", "not a valid SQL expression"),
        ("sequences:\n  public.s: {type: numeric}\n", "a sequence is smallint, integer or bigint"),
        ("sequences:\n  public.s: {owned_by: public.t}\n", "expected schema.table.column"),
        ("composite_types:\n  public.t: {attributes: {a: {type: text, collation: a.b.c}}}\n", "expected collation"),
    ],
)
def test_sql_in_a_type_section_must_be_one_node_of_its_kind(contract: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(contract, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert message in result.stderr
