"""Every function finding pinned whole (project_tests/exact.py): each attribute both ways, the fixes that
ALTER, replace in place, or must drop and create again (held as manual), and EXECUTE each way."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from pglast import parser

from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.findings import Hazard
from project_tests.exact import QUIET, Exact, assert_exact
from project_tests.helpers import check, errors
from project_tests.rule_check import assert_only_rule

SETUP = (
    "CREATE TABLE public.t (id int PRIMARY KEY);"
    " CREATE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE"
    " AS $$ SELECT a + b $$;"
    " CREATE FUNCTION public.g(x text) RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = ''"
    " SET statement_timeout = '5s' AS $$ BEGIN RETURN x; END $$;"
    " CREATE FUNCTION public.s(x int) RETURNS int LANGUAGE sql IMMUTABLE LEAKPROOF RETURN x * 2;"
    " REVOKE EXECUTE ON FUNCTION public.g(text) FROM PUBLIC, anon;"
    " GRANT EXECUTE ON FUNCTION public.g(text) TO authenticated;"
)
F, G, S = "public.f(a integer, b integer)", "public.g(x text)", "public.s(x integer)"
F_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."f"(a integer, b integer DEFAULT 1) RETURNS integer\n'
    '  LANGUAGE "sql" IMMUTABLE STRICT PARALLEL SAFE\n  SECURITY INVOKER\n  AS $body$\nSELECT a + b\n$body$;'
)


def grants_of(function: str, types: str) -> str:
    """EXECUTE granted again to each role the contract expects, after the function is made again."""
    return "".join(
        f'\nGRANT EXECUTE ON FUNCTION "public"."{function}"({types}) TO {role};'
        for role in ('"anon"', '"authenticated"', "PUBLIC", '"service_role"')
    )


F_GRANTS = grants_of("f", "integer, integer")
G_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."g"(x text) RETURNS text\n  LANGUAGE "plpgsql" STABLE\n  SECURITY DEFINER\n'
    "  SET search_path = ''\n  SET \"statement_timeout\" = '5s'\n  AS $body$\nBEGIN RETURN x; END\n$body$;"
)
S_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."s"(x integer) RETURNS integer\n  LANGUAGE "sql" IMMUTABLE'
    " LEAKPROOF\n  SECURITY INVOKER\n  RETURN (x * 2)\n;"
)
DROP_NOTE = (
    "{}: the function must be dropped and created again, which fails while policies, column defaults or other "
    "functions depend on it (DROP ... CASCADE would drop them too); do it in a migration"
)
MANUAL = (Hazard.MANUAL,)
RETURNS_NOTE = DROP_NOTE.format("CREATE OR REPLACE cannot change the result type")
F_AGAIN = 'DROP FUNCTION "public"."f"(integer, integer);\n' + F_CREATE + F_GRANTS
F_DEF = "CREATE FUNCTION public.f(a int, {}) RETURNS {} LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ {} $$"


def f_again(second: str = "b int DEFAULT 1", returns: str = "int", body: str = "SELECT a + b") -> str:
    return "DROP FUNCTION public.f(int, int); " + F_DEF.format(second, returns, body)


def alter(signature: str, rule: str, message: str, expected: str, actual: str, defect: str, sql: str) -> Exact:
    return Exact(SETUP, defect, rule, signature, message, expected, actual, sql, owner=signature)


G_BY_HAND = {
    "returns": "text",
    "language": "plpgsql",
    "volatility": "stable",
    "security": "definer",
    "search_path": "''",
    "body": "BEGIN RETURN x; END",
}
F_BY_HAND = {
    "returns": "integer",
    "volatility": "immutable",
    "strict": True,
    "parallel": "safe",
    "search_path": "$user, public",
}
LISTS = "FUNCTION public.l(a int) RETURNS boolean LANGUAGE sql {} AS $$ {} $$;"
KF, OF = "public.k(a integer, b integer)", "public.o(a integer)"
K_DEF = "FUNCTION public.k({}, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a $$;"
O_DEF = "FUNCTION public.o(a int, OUT total int, OUT {}) LANGUAGE sql IMMUTABLE AS $$ SELECT a, 1 $$;"
K_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."k"(a integer, b integer DEFAULT 1) RETURNS integer\n'
    '  LANGUAGE "sql" IMMUTABLE\n  SECURITY INVOKER\n  AS $body$\nSELECT a\n$body$;'
)
O_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."o"(a integer, OUT total integer, OUT n integer) RETURNS record\n'
    '  LANGUAGE "sql" IMMUTABLE\n  SECURITY INVOKER\n  AS $body$\nSELECT a, 1\n$body$;'
)
S_BY_HAND = {"returns": "integer", "volatility": "immutable", "leakproof": True, "body": "return x*2 -- doubled"}
F_NO_BODY = {k: v for k, v in F_BY_HAND.items() if k != "search_path"}
F_BODY_BY_HAND = F_NO_BODY | {"body": "SELECT a + b"}
NF = "public.n(x integer)"
N_DEF = "FUNCTION public.n(x int) RETURNS int LANGUAGE sql IMMUTABLE SET app.note = E'a\\nb' RETURN x * {};"
N_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."n"(x integer) RETURNS integer\n  LANGUAGE "sql" IMMUTABLE\n'
    '  SECURITY INVOKER\n  SET "app"."note" = \'a\nb\'\n  RETURN (x * 2)\n;'
)
PF = "public.p(INOUT a integer)"
P_DEF = "FUNCTION public.p(INOUT a int, OUT n int) LANGUAGE sql IMMUTABLE AS $$ SELECT a, {} $$;"
P_CREATE = (
    'CREATE OR REPLACE FUNCTION "public"."p"(INOUT a integer, OUT n integer) RETURNS record\n'
    '  LANGUAGE "sql" IMMUTABLE\n  SECURITY INVOKER\n  AS $body$\nSELECT a, 1\n$body$;'
)
G_EXECUTE = (
    '\nREVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM "anon";'
    '\nREVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM PUBLIC;'
    '\nGRANT EXECUTE ON FUNCTION "public"."g"(text) TO "authenticated";'
    '\nGRANT EXECUTE ON FUNCTION "public"."g"(text) TO "service_role";'
)
G_AGAIN = (
    "DROP FUNCTION public.g(text); CREATE FUNCTION public.g(x text) RETURNS varchar LANGUAGE plpgsql STABLE"
    " SECURITY DEFINER SET search_path = '' SET statement_timeout = '5s' AS $$ BEGIN RETURN x; END $$;"
    " REVOKE EXECUTE ON FUNCTION public.g(text) FROM PUBLIC, anon;"
    " GRANT EXECUTE ON FUNCTION public.g(text) TO authenticated;"
)


def _tree(node: object) -> object:
    """A parse tree without its offsets, as the check compares SQL bodies."""
    if isinstance(node, dict):
        return {k: _tree(v) for k, v in node.items() if k not in ("location", "stmt_location", "stmt_len")}
    return [_tree(v) for v in node] if isinstance(node, list) else node


TREE_TEXT = json.dumps(_tree(json.loads(parser.parse_sql_json("SELECT a + b"))), sort_keys=True)
ALTER_F = 'ALTER FUNCTION "public"."f"(integer, integer) '
ALTER_G = 'ALTER FUNCTION "public"."g"(text) '
CASES = {
    "missing": Exact(
        SETUP,
        "DROP FUNCTION public.f(int, int)",
        "function.missing",
        F,
        "function is missing",
        F,
        "absent",
        F_CREATE + F_GRANTS,
        owner=F,
    ),
    "made a procedure": Exact(
        SETUP,
        "DROP FUNCTION public.f(int, int);"
        " CREATE PROCEDURE public.f(a int, b int DEFAULT 1) LANGUAGE sql AS $$ SELECT a + b $$",
        "function.kind",
        F,
        "kind differs",
        "function",
        "procedure",
        'DROP PROCEDURE "public"."f"(integer, integer);\n' + F_CREATE + F_GRANTS,
        MANUAL,
        DROP_NOTE.format("a procedure cannot become a function"),
        owner=F,
        repairs=False,
    ),
    "result type": Exact(
        SETUP,
        f_again(returns="bigint", body="SELECT a + b"),
        "function.returns",
        F,
        "result type differs",
        "integer",
        "bigint",
        F_AGAIN,
        MANUAL,
        RETURNS_NOTE,
        owner=F,
        repairs=False,
    ),
    "an argument renamed": Exact(
        SETUP,
        f_again("c int DEFAULT 1", body="SELECT a + c"),
        "function.arguments",
        F,
        "argument list differs",
        "a integer, b integer DEFAULT 1",
        "a integer, c integer DEFAULT 1",
        F_AGAIN,
        MANUAL,
        DROP_NOTE.format("CREATE OR REPLACE cannot rename the input parameter 'c'"),
        owner=F,
        also=("function.body",),
        repairs=False,
    ),
    "a default changed": Exact(
        SETUP,
        f_again("b int DEFAULT 2"),
        "function.arguments",
        F,
        "argument list differs",
        "a integer, b integer DEFAULT 1",
        "a integer, b integer DEFAULT 2",
        F_CREATE,
        owner=F,
    ),
    "language": Exact(
        SETUP,
        "SET check_function_bodies = off; CREATE OR REPLACE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int"
        " LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT a + b $$",
        "function.language",
        F,
        "language differs",
        "sql",
        "plpgsql",
        F_CREATE,
        owner=F,
        also=("function.body",),
    ),
    "volatility": alter(
        F,
        "function.volatility",
        "volatility differs",
        "immutable",
        "stable",
        "ALTER FUNCTION public.f(int, int) STABLE",
        ALTER_F + "IMMUTABLE;",
    ),
    "strict lost": alter(
        F,
        "function.strict",
        "strict differs",
        "STRICT",
        "CALLED ON NULL INPUT",
        "ALTER FUNCTION public.f(int, int) CALLED ON NULL INPUT",
        ALTER_F + "STRICT;",
    ),
    "strict set": alter(
        S,
        "function.strict",
        "strict differs",
        "CALLED ON NULL INPUT",
        "STRICT",
        "ALTER FUNCTION public.s(int) STRICT",
        'ALTER FUNCTION "public"."s"(integer) CALLED ON NULL INPUT;',
    ),
    "leakproof lost": alter(
        S,
        "function.leakproof",
        "leakproof differs",
        "LEAKPROOF",
        "NOT LEAKPROOF",
        "ALTER FUNCTION public.s(int) NOT LEAKPROOF",
        'ALTER FUNCTION "public"."s"(integer) LEAKPROOF;',
    ),
    "leakproof set": alter(
        F,
        "function.leakproof",
        "leakproof differs",
        "NOT LEAKPROOF",
        "LEAKPROOF",
        "ALTER FUNCTION public.f(int, int) LEAKPROOF",
        ALTER_F + "NOT LEAKPROOF;",
    ),
    "parallel": alter(
        F,
        "function.parallel",
        "parallel safety differs",
        "parallel safe",
        "parallel unsafe",
        "ALTER FUNCTION public.f(int, int) PARALLEL UNSAFE",
        ALTER_F + "PARALLEL SAFE;",
    ),
    "security invoker": alter(
        G,
        "function.security",
        "SECURITY differs",
        "security definer",
        "security invoker",
        "ALTER FUNCTION public.g(text) SECURITY INVOKER",
        ALTER_G + "SECURITY DEFINER;",
    ),
    "security definer": alter(
        F,
        "function.security",
        "SECURITY differs",
        "security invoker",
        "security definer",
        "ALTER FUNCTION public.f(int, int) SECURITY DEFINER",
        ALTER_F + "SECURITY INVOKER;",
    ),
    "search_path changed": alter(
        G,
        "function.search_path",
        "search_path differs",
        '""',
        "public",
        "ALTER FUNCTION public.g(text) SET search_path = public",
        ALTER_G + "SET search_path = '';",
    ),
    "search_path reset": alter(
        G,
        "function.search_path",
        "search_path differs",
        '""',
        "(not fixed)",
        "ALTER FUNCTION public.g(text) RESET search_path",
        ALTER_G + "SET search_path = '';",
    ),
    # Written by hand: '' (as SET search_path = '' reads) and a quoted "$user" mean what the catalog says;
    # settings and EXECUTE left out are not checked.
    "search_path written by hand": Exact(
        SETUP + ' ALTER FUNCTION public.f(int, int) SET search_path = "$user", public;',
        "ALTER FUNCTION public.g(text) SET search_path = public",
        "function.search_path",
        G,
        "search_path differs",
        "''",
        "public",
        ALTER_G + "SET search_path = '';",
        owner=G,
        contract={"functions": {G: G_BY_HAND, F: F_BY_HAND}},
    ),
    "a setting changed": alter(
        G,
        "function.settings",
        "settings differ",
        "[statement_timeout=5s]",
        "[statement_timeout=6s]",
        "ALTER FUNCTION public.g(text) SET statement_timeout = '6s'",
        ALTER_G + "SET \"statement_timeout\" = '5s';",
    ),
    "a setting reset": alter(
        G,
        "function.settings",
        "settings differ",
        "[statement_timeout=5s]",
        "[]",
        "ALTER FUNCTION public.g(text) RESET statement_timeout",
        ALTER_G + "SET \"statement_timeout\" = '5s';",
    ),
    "a setting added": alter(
        G,
        "function.settings",
        "settings differ",
        "[statement_timeout=5s]",
        "[statement_timeout=5s, work_mem=8MB]",
        "ALTER FUNCTION public.g(text) SET work_mem = '8MB'",
        ALTER_G + 'RESET "work_mem";',
    ),
    "sql body": alter(
        F,
        "function.body",
        "function body differs",
        "SELECT a + b",
        "SELECT a - b",
        "CREATE OR REPLACE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE"
        " STRICT PARALLEL SAFE AS $$ SELECT a - b $$",
        F_CREATE,
    ),
    "sql body laid out otherwise": alter(
        F,
        "function.volatility",
        "volatility differs",
        "immutable",
        "stable",
        "CREATE OR REPLACE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql STABLE"
        " STRICT PARALLEL SAFE AS $$ select   a+b -- sum\n $$",
        ALTER_F + "IMMUTABLE;",
    ),
    # Offsets the parser records (statements, ARRAY[...], IN (...)) move with the layout: not compared.
    "sql body with lists laid out otherwise": Exact(
        SETUP + " CREATE " + LISTS.format("IMMUTABLE", "SELECT 1; SELECT a = ANY (ARRAY[1, 2]) AND a IN (1, 2)"),
        "CREATE OR REPLACE " + LISTS.format("STABLE", "SELECT 1 ;\n  SELECT a = ANY(ARRAY[ 1,2 ])  AND a IN(1,2)"),
        "function.volatility",
        "public.l(a integer)",
        "volatility differs",
        "immutable",
        "stable",
        'ALTER FUNCTION "public"."l"(integer) IMMUTABLE;',
        owner="public.l(a integer)",
    ),
    "plpgsql body": alter(
        G,
        "function.body",
        "function body differs",
        "BEGIN RETURN x; END",
        "BEGIN RETURN x || ''; END",
        "CREATE OR REPLACE FUNCTION public.g(x text) RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER"
        " SET search_path = '' SET statement_timeout = '5s' AS $$ BEGIN RETURN x || ''; END $$",
        G_CREATE,
    ),
    "plpgsql body laid out otherwise": alter(
        G,
        "function.volatility",
        "volatility differs",
        "stable",
        "volatile",
        "CREATE OR REPLACE FUNCTION public.g(x text) RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER"
        " SET search_path = '' SET statement_timeout = '5s' AS $$\n  BEGIN\n RETURN   x;  END\n$$",
        ALTER_G + "STABLE;",
    ),
    "standard body made a string": alter(
        S,
        "function.body",
        "function body differs",
        "RETURN (x * 2)",
        "SELECT x * 2",
        "CREATE OR REPLACE FUNCTION public.s(x int) RETURNS int LANGUAGE sql IMMUTABLE LEAKPROOF AS $$ SELECT x * 2 $$",
        S_CREATE,
    ),
    # The same text as a string: PostgreSQL keeps it unparsed (check_function_bodies off), calling it fails.
    "standard body as the same text in a string": alter(
        S,
        "function.body",
        "function body is a string body (AS $$ ... $$), not a SQL-standard body",
        "RETURN (x * 2)",
        "AS $$ RETURN (x * 2) $$",
        "SET check_function_bodies = off; CREATE OR REPLACE FUNCTION public.s(x int) RETURNS int LANGUAGE sql"
        " IMMUTABLE LEAKPROOF AS $$ RETURN (x * 2) $$",
        S_CREATE,
    ),
    # The contract leaves out search_path and settings: the function made again keeps those it has.
    "plpgsql body, search_path and settings left out": Exact(
        SETUP,
        "CREATE OR REPLACE FUNCTION public.g(x text) RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER"
        " SET search_path = '' SET statement_timeout = '5s' AS $$ BEGIN RETURN x || ''; END $$",
        "function.body",
        G,
        "function body differs",
        "BEGIN RETURN x; END",
        "BEGIN RETURN x || ''; END",
        G_CREATE,
        owner=G,
        contract={"functions": {G: {k: v for k, v in G_BY_HAND.items() if k != "search_path"}}},
    ),
    # A custom setting's name is two identifiers: RESET "app"."flag".
    "a dotted setting added": alter(
        G,
        "function.settings",
        "settings differ",
        "[statement_timeout=5s]",
        "[app.flag=on, statement_timeout=5s]",
        "ALTER FUNCTION public.g(text) SET app.flag = 'on'",
        ALTER_G + 'RESET "app"."flag";',
    ),
    "a default added": Exact(
        SETUP + " CREATE " + K_DEF.format("a int"),
        "CREATE OR REPLACE " + K_DEF.format("a int DEFAULT 0"),
        "function.arguments",
        KF,
        "argument list differs",
        "a integer, b integer DEFAULT 1",
        "a integer DEFAULT 0, b integer DEFAULT 1",
        'DROP FUNCTION "public"."k"(integer, integer);\n' + K_CREATE + grants_of("k", "integer, integer"),
        MANUAL,
        DROP_NOTE.format("CREATE OR REPLACE cannot remove parameter defaults"),
        owner=KF,
        repairs=False,
    ),
    "an OUT parameter changed": Exact(
        SETUP + " CREATE " + O_DEF.format("n int"),
        "DROP FUNCTION public.o(int); CREATE " + O_DEF.format("m int"),
        "function.arguments",
        OF,
        "argument list differs",
        "a integer, OUT total integer, OUT n integer",
        "a integer, OUT total integer, OUT m integer",
        'DROP FUNCTION "public"."o"(integer);\n' + O_CREATE + grants_of("o", "integer"),
        MANUAL,
        DROP_NOTE.format("CREATE OR REPLACE cannot change the OUT parameters (they make the result type)"),
        owner=OF,
        repairs=False,
    ),
    "execute granted": alter(
        G,
        "function.execute",
        "other roles may execute it (anon)",
        "[authenticated, service_role]",
        "[anon, authenticated, service_role]",
        "GRANT EXECUTE ON FUNCTION public.g(text) TO anon",
        'REVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM "anon";',
    ),
    "execute revoked": alter(
        G,
        "function.execute",
        "roles lack EXECUTE (authenticated)",
        "[authenticated, service_role]",
        "[service_role]",
        "REVOKE EXECUTE ON FUNCTION public.g(text) FROM authenticated",
        'GRANT EXECUTE ON FUNCTION "public"."g"(text) TO "authenticated";',
    ),
    "execute both ways": alter(
        G,
        "function.execute",
        "other roles may execute it (anon); roles lack EXECUTE (authenticated)",
        "[authenticated, service_role]",
        "[anon, service_role]",
        "REVOKE EXECUTE ON FUNCTION public.g(text) FROM authenticated;"
        " GRANT EXECUTE ON FUNCTION public.g(text) TO anon",
        'REVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM "anon";\n'
        'GRANT EXECUTE ON FUNCTION "public"."g"(text) TO "authenticated";',
    ),
    # Below: what the mutation run of checks/functions (docs/mutation.md) left unpinned.
    # A SQL-standard body is compared as a parse tree: the contract's layout and parentheses are not the catalog's.
    "standard body written by hand": Exact(
        SETUP,
        "ALTER FUNCTION public.s(int) STABLE",
        "function.volatility",
        S,
        "volatility differs",
        "immutable",
        "stable",
        'ALTER FUNCTION "public"."s"(integer) IMMUTABLE;',
        owner=S,
        contract={"functions": {S: S_BY_HAND}},
    ),
    # A value that spans lines in the header pg_get_functiondef prints does not start the body.
    "standard body after a setting that spans lines": Exact(
        SETUP + " CREATE " + N_DEF.format("2"),
        "CREATE OR REPLACE " + N_DEF.format("3"),
        "function.body",
        NF,
        "function body differs",
        "RETURN (x * 2)",
        "RETURN (x * 3)",
        N_CREATE,
        owner=NF,
    ),
    # A body that is the text of the other's parse tree is no match for it (it was, as the same JSON text).
    "string body that is the text of the contract's tree": alter(
        F,
        "function.body",
        "function body differs",
        "SELECT a + b",
        TREE_TEXT,
        "SET check_function_bodies = off; CREATE OR REPLACE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int"
        f" LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ {TREE_TEXT} $$",
        F_CREATE,
    ),
    # OUT and INOUT parameters kept as they are: CREATE OR REPLACE, no drop.
    "body of a function with OUT and INOUT parameters": Exact(
        SETUP + " CREATE " + P_DEF.format("1"),
        "CREATE OR REPLACE " + P_DEF.format("2"),
        "function.body",
        PF,
        "function body differs",
        "SELECT a, 1",
        "SELECT a, 2",
        P_CREATE,
        owner=PF,
    ),
    # The body made again with the contract's search_path and settings, not those the defect left.
    "body, search_path and settings changed": Exact(
        SETUP,
        "CREATE OR REPLACE FUNCTION public.g(x text) RETURNS text LANGUAGE plpgsql STABLE SECURITY DEFINER"
        " SET search_path = public SET statement_timeout = '6s' AS $$ BEGIN RETURN x || ''; END $$",
        "function.body",
        G,
        "function body differs",
        "BEGIN RETURN x; END",
        "BEGIN RETURN x || ''; END",
        G_CREATE,
        owner=G,
        also=("function.search_path", "function.settings"),
    ),
    # The contract leaves out the argument list: the function made again keeps its defaults.
    "body changed, arguments left out": Exact(
        SETUP,
        "CREATE OR REPLACE FUNCTION public.f(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE"
        " STRICT PARALLEL SAFE AS $$ SELECT a - b $$",
        "function.body",
        F,
        "function body differs",
        "SELECT a + b",
        "SELECT a - b",
        F_CREATE,
        owner=F,
        contract={"functions": {F: F_BODY_BY_HAND}},
    ),
    # Created again, EXECUTE is revoked from PUBLIC and from each role the contract does not list.
    "missing, executed by some roles": Exact(
        SETUP,
        "DROP FUNCTION public.g(text)",
        "function.missing",
        G,
        "function is missing",
        G,
        "absent",
        G_CREATE + G_EXECUTE,
        owner=G,
    ),
    "result type, executed by some roles": Exact(
        SETUP,
        G_AGAIN,
        "function.returns",
        G,
        "result type differs",
        "text",
        "character varying",
        'DROP FUNCTION "public"."g"(text);\n' + G_CREATE + G_EXECUTE,
        MANUAL,
        RETURNS_NOTE,
        owner=G,
    ),
    "a setting reset, another changed": alter(
        G,
        "function.settings",
        "settings differ",
        "[statement_timeout=5s]",
        "[statement_timeout=6s, work_mem=8MB]",
        "ALTER FUNCTION public.g(text) SET statement_timeout = '6s' SET work_mem = '8MB'",
        ALTER_G + 'RESET "work_mem" SET "statement_timeout" = \'5s\';',
    ),
    # Only the quotes around a schema are dropped before comparing, not the letters.
    "search_path of a schema named X": alter(
        G,
        "function.search_path",
        "search_path differs",
        '""',
        '"X"',
        'ALTER FUNCTION public.g(text) SET search_path = "X"',
        ALTER_G + "SET search_path = '';",
    ),
    "execute both ways, two roles each": alter(
        G,
        "function.execute",
        "other roles may execute it (anon, public); roles lack EXECUTE (authenticated, service_role)",
        "[authenticated, service_role]",
        "[anon, public]",
        "REVOKE EXECUTE ON FUNCTION public.g(text) FROM authenticated, service_role;"
        " GRANT EXECUTE ON FUNCTION public.g(text) TO anon, PUBLIC",
        'REVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM "anon";\n'
        'REVOKE EXECUTE ON FUNCTION "public"."g"(text) FROM PUBLIC;\n'
        'GRANT EXECUTE ON FUNCTION "public"."g"(text) TO "authenticated";\n'
        'GRANT EXECUTE ON FUNCTION "public"."g"(text) TO "service_role";',
    ),
    "execute of a procedure": Exact(
        SETUP + " CREATE PROCEDURE public.pr(a int) LANGUAGE sql AS $$ SELECT a $$;"
        " REVOKE EXECUTE ON PROCEDURE public.pr(int) FROM PUBLIC, anon;",
        "GRANT EXECUTE ON PROCEDURE public.pr(int) TO anon",
        "function.execute",
        "public.pr(a integer)",
        "other roles may execute it (anon)",
        "[authenticated, service_role]",
        "[anon, authenticated, service_role]",
        'REVOKE EXECUTE ON PROCEDURE "public"."pr"(integer) FROM "anon";',
        owner="public.pr(a integer)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_function_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


def test_a_function_missing_whose_body_the_contract_leaves_out_has_no_fix(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    """No body to create it from: the finding comes without SQL (not a CREATE with an empty body)."""
    run_sql(QUIET + SETUP)
    contract = Contract.model_validate({"functions": {F: F_NO_BODY}})
    assert errors(check(target, contract)) == []
    run_sql("DROP FUNCTION public.f(int, int)")
    found = assert_only_rule(check(target, contract), "function.missing", obj=F)
    assert (found.message, found.expected, found.actual, found.fix) == ("function is missing", F, "absent", None)
