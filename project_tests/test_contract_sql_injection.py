"""SQL from the contract (issue 9, item 3): every field that becomes SQL is exactly one node of its kind
(a type, an expression, a result type, an argument list), or the contract is invalid (exit 2, file:line,
field, expectation); every generated script parses back as exactly the statements intended; repair does
not evaluate a CHECK that calls a volatile function, whose effects a rollback would not undo."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgcontract.checks.base import fix
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.ddl import Phase
from pgcontract.findings import Hazard
from pgcontract.repair import RepairPlan, Statement, evaluated_check_calls, render_plan, volatile_in
from pgcontract.sqlsafe import GeneratedSqlError, parsed, render_checked, statement, verify
from project_tests.helpers import run_cli
from project_tests.test_server import ADMIN, served, settings_for

# field -> (YAML with {v} where the fragment goes, the field's path as reported, its line)
FIELDS = {
    "default": (
        "tables:\n  t:\n    columns:\n      a: {{type: text, default: {v}}}\n",
        "tables.t.columns.a.default",
        4,
    ),
    "generated": (
        "tables:\n  t:\n    columns:\n      a: {{type: text}}\n      g: {{type: text, generated: {v}}}\n",
        "tables.t.columns.g.generated",
        5,
    ),
    "check": ("tables:\n  t:\n    columns: {{a: {{type: text}}}}\n    checks:\n      - {v}\n", "tables.t.checks[0]", 5),
    "index-where": (
        "tables:\n  t:\n    columns: {{a: {{type: text}}}}\n    indexes:\n      i: {{columns: [a], where: {v}}}\n",
        "tables.t.indexes.i.where",
        5,
    ),
    "index-expression": (
        "tables:\n  t:\n    columns: {{a: {{type: text}}}}\n    indexes:\n"
        "      i: {{columns: [{{expression: {v}}}]}}\n",
        "tables.t.indexes.i.columns[0]",
        5,
    ),
    "policy-using": (
        "tables:\n  t:\n    columns: {{a: {{type: text}}}}\n    rls:\n      policies:\n        p: {{using: {v}}}\n",
        "tables.t.rls.policies.p.using",
        6,
    ),
    "policy-with-check": (
        "tables:\n  t:\n    columns: {{a: {{type: text}}}}\n    rls:\n      policies:\n"
        "        p: {{command: insert, with_check: {v}}}\n",
        "tables.t.rls.policies.p.with_check",
        6,
    ),
}
# Each is a valid expression up to the trick, which would hide or end the SQL around it once pasted.
EXPRESSION_TRICKS = {
    "line-comment": "a IS NULL --",
    "block-comment": "a IS NULL /* ) */",
    "semicolon": "a IS NULL; DROP TABLE public.t",
    # One string under standard_conforming_strings = on; under off it ends at \' and the rest is SQL.
    "backslash-string": "a <> 'x\\' || a || '; DROP TABLE public.t; --'",
}
EXPRESSION_CASES = {f"{field}-{trick}": (field, text) for field in FIELDS for trick, text in EXPRESSION_TRICKS.items()}

TYPE_TRICKS = {
    "type-line-comment": "integer --",
    "type-block-comment": "integer /* x */",
    "type-semicolon": "integer; DROP TABLE public.t",
    # A type modifier that is a string holding ';' (E'\x3b'): modifiers reach DDL as text.
    "type-modifier-string": "public.geom(E'1) \\x3b DROP TABLE public.t \\x3b SELECT (1')",
}
HOSTILE_RETURNS = (
    "boolean LANGUAGE sql AS 'SELECT true'; DROP TABLE public.x; CREATE FUNCTION public.g() RETURNS boolean"
)
RETURNS_ACCEPTED = ["boolean", "setof uuid", "trigger", 'table (id integer, "note;--" text)', "public.mood[]"]
RETURNS_TRICKS = {
    "returns-issue": HOSTILE_RETURNS,
    "returns-comment": "boolean --",
    "returns-extra-option": "boolean SECURITY DEFINER",
    "returns-extra-language": "setof uuid LANGUAGE plpgsql",
}


def _validate(tmp_path: Path, text: str) -> tuple[int, str, Path]:
    path = tmp_path / "contract.yaml"
    path.write_text("version: 1\n" + text, encoding="utf-8")
    result = run_cli("validate", "--contract", str(path))
    return result.returncode, result.stdout + result.stderr, path


@pytest.mark.parametrize("case", list(EXPRESSION_CASES), ids=str)
def test_an_expression_field_with_a_comment_semicolon_or_ambiguous_string_is_a_contract_error(
    case: str, tmp_path: Path
) -> None:
    field, fragment = EXPRESSION_CASES[case]
    template, where, line = FIELDS[field]
    code, output, path = _validate(tmp_path, template.format(v=json.dumps(fragment)))
    assert code == 2, output
    assert f"{path}:{line + 1}:" in output
    assert f"{where}" in output
    assert "expected a single SQL expression" in output


@pytest.mark.parametrize("case", list(TYPE_TRICKS), ids=str)
def test_a_column_type_that_is_more_than_a_type_is_a_contract_error(case: str, tmp_path: Path) -> None:
    text = f"tables:\n  t:\n    columns:\n      a: {{type: {json.dumps(TYPE_TRICKS[case])}}}\n"
    code, output, path = _validate(tmp_path, text)
    assert code == 2, output
    assert f"{path}:5:" in output
    assert "tables.t.columns.a.type: not a valid PostgreSQL type" in output
    assert "expected a single SQL type" in output


@pytest.mark.parametrize("case", list(RETURNS_TRICKS), ids=str)
def test_returns_that_is_more_than_a_result_type_is_a_contract_error(case: str, tmp_path: Path) -> None:
    text = f"functions:\n  public.f():\n    returns: {json.dumps(RETURNS_TRICKS[case])}\n    body: SELECT true\n"
    code, output, path = _validate(tmp_path, text)
    assert code == 2, output
    assert f"{path}:4:" in output
    assert "functions['public.f()'].returns: not a valid result type" in output
    assert "expected a single type as RETURNS takes it" in output


def test_result_types_as_returns_takes_them_are_valid(tmp_path: Path) -> None:
    text = "functions:\n" + "".join(
        f"  public.f{i}():\n    returns: {json.dumps(returns)}\n" for i, returns in enumerate(RETURNS_ACCEPTED)
    )
    code, output, _ = _validate(tmp_path, text)
    assert code == 0, output


@pytest.mark.parametrize("signature", ["public.f(a uuid /* x */)", "public.f(a--\n uuid)"], ids=["block", "line"])
def test_a_signature_whose_arguments_hide_sql_is_a_contract_error(signature: str, tmp_path: Path) -> None:
    text = f"functions:\n  {json.dumps(signature)}:\n    returns: boolean\n    body: SELECT true\n"
    code, output, path = _validate(tmp_path, text)
    assert code == 2, output
    assert f"{path}:3:" in output
    assert "expected schema.name(argument types); not an argument list" in output


def test_sql_refuses_the_hostile_contract_and_prints_no_sql(tmp_path: Path) -> None:
    """The issue's contract: `pgcontract sql` printed three statements (DROP TABLE among them)."""
    path = tmp_path / "contract.yaml"
    text = f"version: 1\nfunctions:\n  public.f():\n    returns: {json.dumps(HOSTILE_RETURNS)}\n    body: SELECT true\n"
    path.write_text(text, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert "functions['public.f()'].returns" in result.stderr


# Valid contract SQL that looks like what must be refused: comment and ';' characters inside strings,
# dollar quotes, a backslash in an E'' string, a body holding the dollar tag and a comment.
TRICKY = """\
version: 1
tables:
  public.notes:
    columns:
      id: {type: integer, nullable: false}
      note: {type: text, default: "'-- not a comment; /* nor this */'"}
      tag: {type: "varchar(20)", default: "E'back\\\\slash'"}
    primary_key: [id]
    checks:
      - "note <> 'x; DROP TABLE public.notes; --'"
    indexes:
      notes_note_idx: {columns: [{expression: "lower(note || $q$--$q$)"}], where: "note <> '/*'"}
    rls:
      policies:
        p: {using: "note IS DISTINCT FROM $$;--$$"}
    grants: {anon: [], authenticated: []}  # not TRUNCATE, which RLS does not restrict (the shim grants ALL)
functions:
  public.notes_of(who text):
    returns: setof text
    language: sql
    volatility: stable
    body: "SELECT note FROM public.notes WHERE note <> '$body$' || who -- a comment is fine in a body"
"""
TRICKY_INTENDED = [
    ("DoStmt", None),  # schema public
    ("VariableSetStmt", None),  # check_function_bodies = off
    ("CreateFunctionStmt", "public.notes_of"),
    ("CreateStmt", "public.notes"),
    ("IndexStmt", "public.notes"),
    ("DoStmt", None),  # the check, unless it exists
    ("AlterTableStmt", "public.notes"),  # enable RLS
    ("DropStmt", None),  # the policy, dropped and re-created
    ("CreatePolicyStmt", "public.notes"),
    ("GrantStmt", None),  # REVOKE ALL ... FROM anon
    ("GrantStmt", None),  # REVOKE ALL ... FROM authenticated
]
# A valid type name that is no built-in: emitted as a quoted name, never as its text.
ODD_TYPE = """\
version: 1
tables:
  public.victim:
    columns:
      a: {type: 'pg_catalog.U&"int4\\003b DROP TABLE public.victim\\003b --"'}
"""


def test_sql_output_holds_exactly_the_intended_statements_and_applies(tmp_path: Path, target: Target) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(TRICKY, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 0, result.stderr
    assert parsed(result.stdout) == TRICKY_INTENDED
    with psycopg.connect(target.dsn) as conn:
        conn.execute(result.stdout.encode())
    checked = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    assert checked.returncode == 0, checked.stdout


def test_a_non_builtin_type_name_reaches_the_ddl_quoted(tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(ODD_TYPE, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 0, result.stderr
    assert parsed(result.stdout) == [("DoStmt", None), ("CreateStmt", "public.victim")]
    assert '"pg_catalog"."int4; DROP TABLE public.victim; --"' in result.stdout


def test_setup_sql_endpoint_holds_exactly_the_intended_statements(chat_db: Target, tmp_path: Path) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(ODD_TYPE, encoding="utf-8")
    with served(settings_for(chat_db, contract=load_contract(path))) as client:
        response = client.get("/api/admin/setup-sql", headers=ADMIN)
    assert response.status_code == 200
    assert parsed(response.text) == [("DoStmt", None), ("CreateStmt", "public.victim")]


def test_verify_refuses_generated_sql_that_is_not_the_intended_statements() -> None:
    create = 'CREATE TABLE "public"."t" ();'
    assert render_checked(statement("CreateStmt", "public.t", sql.SQL(create))) == create
    for wrong in (
        'CREATE TABLE "public"."t" (); DROP TABLE "public"."u";',  # one statement more
        'CREATE TABLE "public"."u" ();',  # another target
        'DROP TABLE "public"."t";',  # another kind
        'CREATE TABLE "public"."t" ( -- );',  # does not parse
    ):
        with pytest.raises(GeneratedSqlError):
            render_checked(statement("CreateStmt", "public.t", sql.SQL(wrong)))
    with pytest.raises(GeneratedSqlError):
        verify("-- a section\nCREATE TABLE t (); -- note\nCREATE INDEX i ON t (a);", [("CreateStmt", None)])


def test_a_fix_that_is_not_what_it_declares_is_manual_and_does_not_stop_the_check() -> None:
    wrong = fix(statement("CreateStmt", "public.t", sql.SQL('CREATE TABLE "public"."t" (); DROP TABLE "public"."u";')))
    assert wrong.hazards == (Hazard.MANUAL,)
    assert "internal error" in wrong.note
    right = fix(statement("CreateStmt", "public.t", sql.SQL('CREATE TABLE "public"."t" ();')), Hazard.LONG_LOCK)
    assert right.hazards == (Hazard.LONG_LOCK,)


# --- repair does not evaluate a CHECK calling a volatile function ------------------------------------

SEQUENCE_SQL = """
CREATE SEQUENCE public.counter;
SELECT setval('public.counter', 10);
CREATE TABLE public.items (id integer PRIMARY KEY, name text NOT NULL);
INSERT INTO public.items VALUES (1, 'a'), (2, 'b');
"""
SEQUENCE_CONTRACT = """\
version: 1
tables:
  public.items:
    columns:
      id: {type: integer, nullable: false}
      name: {type: text, nullable: false}
    primary_key: [id]
    checks:
      - {name: items_counter_check, expression: "setval('public.counter', 1000) < 0"}
      - {name: items_name_check, expression: "char_length(name) > 0"}
"""


def test_repair_apply_holds_back_a_check_calling_setval_and_the_sequence_is_unchanged(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(SEQUENCE_SQL)
    path = tmp_path / "contract.yaml"
    path.write_text(SEQUENCE_CONTRACT, encoding="utf-8")
    result = run_cli("repair", "--dsn", target.dsn, "--contract", str(path), "--apply")
    assert result.returncode == 1, result.stdout + result.stderr
    held = result.stdout.split("-- WARNING: not applied: side effects:", 1)[1]
    assert "calls setval" in held.split("\n-- would fix")[0].replace("\n-- ", " ")
    assert "would fix check.missing:public.items.items_counter_check" in held.replace("\n-- ", " ")
    assert "rolled back" not in result.stderr
    with psycopg.connect(target.dsn) as conn:
        assert conn.execute("SELECT last_value FROM public.counter").fetchone() == (10,)
        constraints = conn.execute(
            "SELECT array_agg(conname ORDER BY conname) FROM pg_constraint WHERE conrelid = 'public.items'::regclass"
            " AND contype = 'c'"
        ).fetchone()
    assert constraints == (["items_name_check"],)  # the immutable CHECK was applied


def test_volatility_comes_from_the_database_and_unknown_functions_count_as_volatile(target: Target) -> None:
    calls = evaluated_check_calls(
        "ALTER TABLE t ADD CONSTRAINT c CHECK (setval('s', 1) > char_length(x) AND pg_catalog.now() IS NOT NULL"
        " AND public.nosuch(x)) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c;\n"
        "ALTER TABLE t ADD CONSTRAINT d CHECK (random() > 0) NOT VALID;"  # never validated: not evaluated
    )
    assert calls == {(None, "setval"), (None, "char_length"), ("pg_catalog", "now"), ("public", "nosuch")}
    with connect(target) as conn:
        assert volatile_in(conn, DEFAULT_LIMITS)(calls) == {(None, "setval"), ("public", "nosuch")}


def test_repair_script_refuses_a_statement_that_would_run_as_two() -> None:
    plan = RepairPlan(statements=[Statement(Phase.INDEXES, 'CREATE INDEX i ON t (a); DROP TABLE "public"."t";', ["x"])])
    with pytest.raises(GeneratedSqlError):
        render_plan(plan, DEFAULT_LIMITS)
    plan = RepairPlan(statements=[Statement(Phase.INDEXES, "CREATE INDEX i ON t (a);", ["x"])])
    assert parsed(render_plan(plan, DEFAULT_LIMITS))[3] == ("IndexStmt", "t")
