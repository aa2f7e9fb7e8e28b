"""Functions and procedures as real schemas hold them: OUT, INOUT and VARIADIC parameters, defaults,
SETOF and TABLE results, overloads, procedures, a SECURITY DEFINER helper with a default that policies call,
a function a column default calls. A database checked against its own snapshot passes; the snapshot's DDL
loads into an empty database; each single change fails naming the function and repair restores it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.ddl import contract_ddl
from pgcontract.findings import Hazard
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TYPE public.app_role AS ENUM ('admin', 'member');
CREATE FUNCTION public.gen_code() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT md5(random()::text) $$;
CREATE TABLE public.items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  code text NOT NULL DEFAULT public.gen_code(),
  owner uuid,
  role public.app_role,
  CHECK (code <> '' AND (owner IS NOT NULL OR role IS NOT NULL)),
  CHECK (role IS NULL OR owner IS NOT NULL),
  CHECK (length(code) < 100)
);
CREATE FUNCTION public.has_role(uid uuid, role public.app_role DEFAULT NULL) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''
  AS $$ SELECT uid IS NOT NULL AND (role IS NULL OR role = 'admin'::public.app_role) $$;
REVOKE EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) TO authenticated;
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_read ON public.items FOR SELECT TO authenticated USING (public.has_role(owner));
CREATE POLICY items_admin ON public.items FOR UPDATE TO authenticated USING (public.has_role(owner, 'admin'));
REVOKE ALL ON public.items FROM anon, authenticated;
GRANT SELECT, UPDATE ON public.items TO authenticated;
CREATE FUNCTION public.split_sum(a integer, OUT total integer, b integer DEFAULT 3)
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT a + b $$;
CREATE FUNCTION public.twice(INOUT x integer, OUT doubled integer)
  LANGUAGE sql IMMUTABLE AS $$ SELECT x, x * 2 $$;
CREATE FUNCTION public.concat_all(sep text, VARIADIC parts text[] DEFAULT '{}')
  RETURNS text LANGUAGE sql IMMUTABLE LEAKPROOF AS $$ SELECT array_to_string(parts, sep) $$;
CREATE FUNCTION public.items_of(u uuid) RETURNS SETOF public.items
  LANGUAGE sql STABLE AS $$ SELECT * FROM public.items WHERE owner = u $$;
CREATE FUNCTION public.item_codes(n integer DEFAULT 10) RETURNS TABLE (id bigint, code text)
  LANGUAGE sql STABLE SET statement_timeout = '5s' AS $$ SELECT i.id, i.code FROM public.items i LIMIT n $$;
CREATE FUNCTION public.pick(a integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT a $$;
CREATE FUNCTION public.pick(a text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT length(a) $$;
CREATE PROCEDURE public.touch(IN item bigint, INOUT touched integer DEFAULT 0)
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
  AS $$ BEGIN touched := touched + 1; END $$;
"""

HAS_ROLE = "public.has_role(uid uuid, role public.app_role)"
SPLIT_SUM = "public.split_sum(a integer, b integer)"
CONCAT_ALL = "public.concat_all(sep text, VARIADIC parts text[])"
ITEM_CODES = "public.item_codes(n integer)"
PICK_TEXT = "public.pick(a text)"
TOUCH = "public.touch(item bigint, INOUT touched integer)"


@pytest.fixture
def realworld(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(realworld: Target, tmp_path: Path) -> None:
    contract = snapshot_file(realworld, tmp_path)
    loaded = load_contract(contract)
    assert {HAS_ROLE, SPLIT_SUM, CONCAT_ALL, ITEM_CODES, PICK_TEXT, TOUCH, "public.pick(a integer)"} <= set(
        loaded.functions
    )
    assert loaded.functions[SPLIT_SUM].arguments == "a integer, OUT total integer, b integer DEFAULT 3"
    assert loaded.functions[TOUCH].kind == "procedure"
    result = run_cli("check", "--dsn", realworld.dsn, "--contract", str(contract))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A function a column default calls is created before the table; has_role keeps its default, so the
    policy calling has_role(owner) is created; EXECUTE is granted to authenticated, which exists."""
    contract = own_contract(realworld, tmp_path)
    ddl = run_cli("sql", "--contract", str(contract))
    assert ddl.returncode == 0, ddl.stderr
    run_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    assert errors(check(realworld, contract))  # emptied: the contract fails
    run_sql(ddl.stdout)
    result = run_cli("check", "--dsn", realworld.dsn, "--contract", str(contract))
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(realworld.dsn) as conn:
        executors = conn.execute(
            "SELECT grantee::regrole::text FROM pg_proc, aclexplode(proacl) WHERE oid = 'public.has_role'::regproc"
        ).fetchall()
    assert ("authenticated",) in executors


def test_sql_creates_execute_grants_for_roles_that_exist() -> None:
    contract = Contract.model_validate(
        {
            "auth": {"mode": "supabase"},
            "functions": {"public.f()": {"returns": "integer", "body": "SELECT 1", "execute": ["authenticated"]}},
        }
    )
    ddl = contract_ddl(contract)
    assert 'GRANT EXECUTE ON FUNCTION "public"."f"() TO "authenticated";' in ddl
    assert 'REVOKE EXECUTE ON FUNCTION "public"."f"() FROM "anon";' in ddl
    assert 'REVOKE EXECUTE ON FUNCTION "public"."f"() FROM PUBLIC;' in ddl


# One change each: (what is changed, the function, the rule that must fail).
CHANGES = {
    "default removed": (
        "DROP POLICY items_read ON public.items; DROP POLICY items_admin ON public.items;"
        " DROP FUNCTION public.has_role(uuid, public.app_role);"
        " CREATE FUNCTION public.has_role(uid uuid, role public.app_role) RETURNS boolean"
        " LANGUAGE sql STABLE SECURITY DEFINER SET search_path = ''"
        " AS $$ SELECT uid IS NOT NULL AND (role IS NULL OR role = 'admin'::public.app_role) $$;"
        " REVOKE EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) FROM PUBLIC, anon;"
        " GRANT EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) TO authenticated;"
        " CREATE POLICY items_read ON public.items FOR SELECT TO authenticated USING (public.has_role(owner, NULL));"
        " CREATE POLICY items_admin ON public.items FOR UPDATE TO authenticated"
        " USING (public.has_role(owner, 'admin'))",
        HAS_ROLE,
        "function.arguments",
    ),
    "volatility": ("ALTER FUNCTION public.has_role(uuid, public.app_role) VOLATILE", HAS_ROLE, "function.volatility"),
    "security definer": (
        "ALTER FUNCTION public.has_role(uuid, public.app_role) SECURITY INVOKER",
        HAS_ROLE,
        "function.security",
    ),
    "search_path": (
        "ALTER FUNCTION public.has_role(uuid, public.app_role) SET search_path = public",
        HAS_ROLE,
        "function.search_path",
    ),
    "body of the definer helper": (
        "CREATE OR REPLACE FUNCTION public.has_role(uid uuid, role public.app_role DEFAULT NULL) RETURNS boolean"
        " LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$ SELECT true $$",
        HAS_ROLE,
        "function.body",
    ),
    "strict": ("ALTER FUNCTION public.split_sum(integer, integer) CALLED ON NULL INPUT", SPLIT_SUM, "function.strict"),
    "leakproof": ("ALTER FUNCTION public.concat_all(text, text[]) NOT LEAKPROOF", CONCAT_ALL, "function.leakproof"),
    "parallel": ("ALTER FUNCTION public.split_sum(integer, integer) PARALLEL UNSAFE", SPLIT_SUM, "function.parallel"),
    "other setting": (
        "ALTER FUNCTION public.item_codes(integer) RESET statement_timeout",
        ITEM_CODES,
        "function.settings",
    ),
    "execute given": (
        "GRANT EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) TO anon",
        HAS_ROLE,
        "function.execute",
    ),
    "execute revoked": (
        "REVOKE EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) FROM authenticated",
        HAS_ROLE,
        "function.execute",
    ),
    "one overload's body": (
        "CREATE OR REPLACE FUNCTION public.pick(a text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 0 $$",
        PICK_TEXT,
        "function.body",
    ),
    "procedure security": (
        "ALTER PROCEDURE public.touch(bigint, integer) SECURITY INVOKER",
        TOUCH,
        "function.security",
    ),
}


# What a change cannot be made without: the policy calling the function is written out without the default.
CONSEQUENCES = {"default removed": ("policy.using",)}


@pytest.mark.rule(*dict.fromkeys(c[2] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_function_and_repair_restores_it(
    change: str, realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, signature, rule = CHANGES[change]
    contract = load_contract(own_contract(realworld, tmp_path))
    run_sql(statement)
    found = check(realworld, contract)
    assert_only_rule(found, rule, obj=signature, also=CONSEQUENCES.get(change, ()))
    function_findings = [f for f in found.findings if f.owner == signature]
    assert [f.rule for f in function_findings] == [rule]
    assert function_findings[0].object == signature
    assert not [f for f in found.findings if f.kind == "functions" and f.owner != signature]
    with connect(realworld) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(realworld, contract)) == []


def test_the_execute_finding_says_which_roles_lack_it(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(realworld, tmp_path))
    run_sql("REVOKE EXECUTE ON FUNCTION public.has_role(uuid, public.app_role) FROM authenticated")
    (finding,) = check(realworld, contract).findings
    assert finding.message == "roles lack EXECUTE (authenticated)"


def test_a_key_may_list_out_parameters(realworld: Target) -> None:
    """A hand-written key in pg_get_function_identity_arguments' form (OUT included) names the same function."""
    contract = Contract.model_validate(
        {
            "functions": {
                "public.split_sum(a integer, OUT total integer, b integer)": {
                    "returns": "integer",
                    "volatility": "immutable",
                    "strict": True,
                    "parallel": "safe",
                }
            }
        }
    )
    assert check(realworld, contract).findings == []


@pytest.mark.parametrize(
    ("contract", "message"),
    [
        (
            "functions:\n  \"public.f(a int) RETURNS int LANGUAGE sql AS '' --)\": {returns: integer}\n",
            "not an argument list",
        ),
        (
            "functions:\n  public.f(a int):\n    arguments: \"a int) RETURNS int LANGUAGE sql AS 'x' --\"\n"
            "    returns: integer\n",
            "not an argument list",
        ),
        (
            "functions:\n  public.f(a integer):\n    arguments: a text, OUT b integer\n    returns: integer\n",
            "'arguments' has other input types than the key",
        ),
    ],
)
def test_an_argument_list_that_is_not_one_is_a_contract_error(contract: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(contract, encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert message in result.stderr


def test_removing_a_default_is_held_back_and_the_rest_applied(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """CREATE OR REPLACE cannot remove a parameter default: the fix is held (the drop it needs would fail on
    the policies that call has_role), with the reason; the other fix applies."""
    path = own_contract(realworld, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "role public.app_role DEFAULT NULL::public.app_role" in text
    path.write_text(text.replace(" DEFAULT NULL::public.app_role", ""), encoding="utf-8")
    contract = load_contract(path)
    run_sql("ALTER FUNCTION public.split_sum(integer, integer) PARALLEL UNSAFE")
    with connect(realworld) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        (held,) = plan.held
        assert held.serves == (f"function.arguments:{HAS_ROLE}",)
        assert Hazard.MANUAL in held.reason
        assert "cannot remove parameter defaults" in held.reason
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    left = errors(check(realworld, contract))
    assert [f.id for f in left] == [f"function.arguments:{HAS_ROLE}"]


def test_a_failing_fix_does_not_discard_the_others(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """GRANT to a role that does not exist fails; the volatility fix and the check constraint still apply,
    and the output names the failed statement and what it leaves."""
    path = own_contract(realworld, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert "execute: [authenticated, service_role]" in text
    path.write_text(
        text.replace(
            "execute: [authenticated, service_role]", "execute: [authenticated, h10_no_such_role, service_role]"
        ),
        "utf-8",
    )
    run_sql(
        "ALTER FUNCTION public.split_sum(integer, integer) PARALLEL UNSAFE;"
        " ALTER TABLE public.items DROP CONSTRAINT items_check1"
    )
    result = run_cli("repair", "--dsn", realworld.dsn, "--contract", str(path), "--apply")
    assert result.returncode == 1, result.stderr
    assert "a fix failed and was rolled back alone" in result.stderr
    assert 'role "h10_no_such_role" does not exist' in result.stderr
    assert 'the statement: GRANT EXECUTE ON FUNCTION "public"."has_role"(uuid, public.app_role)' in result.stderr
    assert f"left unfixed: function.execute:{HAS_ROLE}" in result.stderr
    left = errors(check(realworld, load_contract(path)))
    assert [f.id for f in left] == [f"function.execute:{HAS_ROLE}"]


def test_a_fix_that_fails_half_way_is_rolled_back_whole(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A check added NOT VALID, then VALIDATE failing on a row: the check is not left half-made (NOT
    VALID), and the other fix applies."""
    contract = load_contract(own_contract(realworld, tmp_path))
    run_sql(
        "ALTER TABLE public.items DROP CONSTRAINT items_code_check;"
        " INSERT INTO public.items (code, owner) VALUES (repeat('x', 200), gen_random_uuid());"
        " ALTER FUNCTION public.split_sum(integer, integer) PARALLEL UNSAFE"
    )
    with connect(realworld) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    (failure,) = result.failures
    assert failure.statement.startswith('ALTER TABLE "public"."items" VALIDATE CONSTRAINT "items_code_check"')
    assert [s.sql for s in result.skipped] == [
        'ALTER TABLE "public"."items" ADD CONSTRAINT "items_code_check" CHECK ((length(code) < 100)) NOT VALID;',
        'ALTER TABLE "public"."items" VALIDATE CONSTRAINT "items_code_check";',
    ]
    assert [s.sql for s in result.applied] == ['ALTER FUNCTION "public"."split_sum"(integer, integer) PARALLEL SAFE;']
    with psycopg.connect(realworld.dsn) as conn:
        assert conn.execute("SELECT 1 FROM pg_constraint WHERE conname = 'items_code_check'").fetchall() == []
    assert [f.rule for f in errors(check(realworld, contract))] == ["check.missing"]


def test_an_unnamed_check_is_recreated_under_its_own_name(
    realworld: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(realworld, tmp_path))
    query = "SELECT conname FROM pg_constraint WHERE conrelid = 'public.items'::regclass AND contype = 'c' ORDER BY 1"
    with psycopg.connect(realworld.dsn) as conn:
        before = conn.execute(query).fetchall()
    assert ("items_check1",) in before
    run_sql("ALTER TABLE public.items DROP CONSTRAINT items_check1")
    with connect(realworld) as conn:
        apply_plan(conn, plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings), DEFAULT_LIMITS)
    with psycopg.connect(realworld.dsn) as conn:
        assert conn.execute(query).fetchall() == before


def test_an_attribute_is_repaired_in_place_when_the_contract_has_no_body(
    realworld: Target, run_sql: Callable[[str], None]
) -> None:
    """A hand-written contract naming only what matters (SECURITY DEFINER, a fixed search_path): the
    repair is an ALTER FUNCTION, which needs neither the body nor the defaults."""
    contract = Contract.model_validate(
        {
            "functions": {
                "public.has_role(uuid, public.app_role)": {
                    "returns": "boolean",
                    "volatility": "stable",
                    "security": "definer",
                    "search_path": "''",
                }
            }
        }
    )
    run_sql("ALTER FUNCTION public.has_role(uuid, public.app_role) SECURITY INVOKER RESET search_path")
    assert sorted(f.rule for f in errors(check(realworld, contract))) == ["function.search_path", "function.security"]
    with connect(realworld) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert [s.sql for s in plan.statements] == [
            'ALTER FUNCTION "public"."has_role"(uuid, public.app_role) SECURITY DEFINER;',
            """ALTER FUNCTION "public"."has_role"(uuid, public.app_role) SET search_path = '';""",
        ]
        apply_plan(conn, plan, DEFAULT_LIMITS)
    assert errors(check(realworld, contract)) == []
