"""`pgcontract sql` and repair in a real dependency order (``depgraph``), for every shape of dependency.

Each schema below is written in an order PostgreSQL accepts; its snapshot is a contract whose statements,
sorted by phase only (``ddl.Phase``, contract order within), fail to load into an empty database, which each
test shows first. The contract's ``sql`` then loads into an empty database, the contract passes, and the
script applied again changes nothing. Repair creates what was dropped in the same order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.adopt import contract_from_snapshot, dump_contract
from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.contract.model import Contract
from pgcontract.ddl import Phase, contract_steps, phase_steps
from pgcontract.depgraph import node_of, order
from pgcontract.sqlgen import render
from project_tests.helpers import check, errors, run_cli, snapshot_of
from project_tests.kind_support import assert_sql_round_trips, fresh_database, repair, run_script

AGGREGATE = """
CREATE FUNCTION public.add_up(total integer, value integer) RETURNS integer
  LANGUAGE sql IMMUTABLE RETURN total + value;
CREATE AGGREGATE public.total_of(integer) (SFUNC = public.add_up, STYPE = integer, INITCOND = '0');
"""

SHAPES: dict[str, str] = {
    # A column default calling a function whose SQL-standard body calls an aggregate (created with the
    # aggregates, after the tables): the table comes after the function.
    "default calls a body calling an aggregate": AGGREGATE
    + """
CREATE FUNCTION public.first_rank() RETURNS integer
  LANGUAGE sql STABLE RETURN (SELECT public.total_of(v) FROM unnest(ARRAY[1, 2]) AS v);
CREATE TABLE public.ranks (id integer PRIMARY KEY, rank integer NOT NULL DEFAULT public.first_rank());
""",
    # A CHECK calling a function whose body reads another table.
    "check calls a body reading a table": """
CREATE TABLE public.limits (name text PRIMARY KEY, cap integer NOT NULL);
CREATE FUNCTION public.within_cap(amount integer) RETURNS boolean
  LANGUAGE sql STABLE RETURN amount <= (SELECT max(cap) FROM public.limits);
CREATE TABLE public.orders (id integer PRIMARY KEY, amount integer NOT NULL,
  CONSTRAINT orders_amount_check CHECK (public.within_cap(amount)));
""",
    # A default calling a function whose body reads the same table: a cycle, broken as pg_dump does (the
    # table created without the default, set once the function exists).
    "default calls a body reading its own table": """
CREATE TABLE public.tickets (id integer PRIMARY KEY, number integer NOT NULL);
CREATE FUNCTION public.next_number() RETURNS integer
  LANGUAGE sql VOLATILE RETURN (SELECT coalesce(max(number), 0) + 1 FROM public.tickets);
ALTER TABLE public.tickets ALTER COLUMN number SET DEFAULT public.next_number();
""",
    # A generated column calling a function whose body reads its own table (a cycle: the column is added
    # once the function exists).
    "generated column calls a body reading its own table": """
CREATE TABLE public.scales (id integer PRIMARY KEY, factor integer NOT NULL);
CREATE FUNCTION public.scale_of(id integer) RETURNS integer
  LANGUAGE sql IMMUTABLE RETURN (SELECT count(*)::integer FROM public.scales) * id;
ALTER TABLE public.scales ADD COLUMN scaled integer GENERATED ALWAYS AS (public.scale_of(id)) STORED;
""",
    # A SQL-standard body reading a view: after the view.
    "body reads a view": """
CREATE TABLE public.items (id integer PRIMARY KEY, price integer NOT NULL);
CREATE VIEW public.cheap_items AS SELECT id, price FROM public.items WHERE price < 10;
CREATE FUNCTION public.cheap_count() RETURNS bigint
  LANGUAGE sql STABLE RETURN (SELECT count(*) FROM public.cheap_items);
""",
    # A view calling a function whose body reads another view: view, function, view.
    "view calls a body reading a view": """
CREATE TABLE public.people (id integer PRIMARY KEY, age integer NOT NULL);
CREATE VIEW public.adults AS SELECT id, age FROM public.people WHERE age >= 18;
CREATE FUNCTION public.adult_count() RETURNS bigint
  LANGUAGE sql STABLE RETURN (SELECT count(*) FROM public.adults);
CREATE VIEW public.a_census AS SELECT public.adult_count() AS adults;
""",
    # A domain whose CHECK calls a function whose body reads a table; a table column of that domain.
    "domain check calls a body reading a table": """
CREATE TABLE public.codes (code text PRIMARY KEY);
CREATE FUNCTION public.known_code(value text) RETURNS boolean
  LANGUAGE sql STABLE RETURN EXISTS (SELECT 1 FROM public.codes WHERE code = value);
CREATE DOMAIN public.code AS text CONSTRAINT code_known CHECK (public.known_code(VALUE));
CREATE TABLE public.uses (id integer PRIMARY KEY, code public.code NOT NULL);
""",
    # A composite type with an attribute of a table's row type, used by a function's signature and a column.
    "composite type of a row type": """
CREATE TABLE public.products (id integer PRIMARY KEY, title text NOT NULL);
CREATE TYPE public.bundle AS (main public.products, quantity integer);
CREATE FUNCTION public.bundle_size(b public.bundle) RETURNS integer
  LANGUAGE sql IMMUTABLE RETURN b.quantity;
CREATE TABLE public.offers (id integer PRIMARY KEY, offered public.bundle);
""",
    # An index expression calling a function whose body reads another table (a foreign key on the table
    # referencing a unique index comes after it).
    "index expression calls a body reading a table": """
CREATE TABLE public.weights (name text PRIMARY KEY, weight integer NOT NULL);
CREATE FUNCTION public.weight_of(label text) RETURNS integer
  LANGUAGE sql IMMUTABLE RETURN (SELECT weight FROM public.weights WHERE name = label);
CREATE TABLE public.boxes (id integer PRIMARY KEY, label text NOT NULL);
CREATE INDEX boxes_weight ON public.boxes (public.weight_of(label));
""",
    # A partition of a partition declared earlier in the contract than its parent's parent.
    "partition of a partition declared before its parent": """
CREATE TABLE public.z_events (at date NOT NULL, kind text NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE public.a_events_2024 PARTITION OF public.z_events
  FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (kind);
CREATE TABLE public.a_events_2024_click PARTITION OF public.a_events_2024 FOR VALUES IN ('click');
""",
    # An aggregate whose support function is a SQL-standard body reading a view.
    "aggregate support function reads a view": """
CREATE TABLE public.bonuses (id integer PRIMARY KEY, amount integer NOT NULL);
CREATE VIEW public.bonus_total AS SELECT coalesce(sum(amount), 0)::integer AS total FROM public.bonuses;
CREATE FUNCTION public.add_bonus(total integer, value integer) RETURNS integer
  LANGUAGE sql STABLE RETURN total + value + (SELECT total FROM public.bonus_total);
CREATE AGGREGATE public.with_bonus(integer) (SFUNC = public.add_bonus, STYPE = integer, INITCOND = '0');
""",
    # A column typed by the row type of a table declared later in the contract.
    "column of another table's row type": """
CREATE TABLE public.z_addresses (id integer PRIMARY KEY, city text NOT NULL);
CREATE TABLE public.a_customers (id integer PRIMARY KEY, home public.z_addresses);
""",
    # A table inheriting from a table declared later in the contract.
    "table inheriting from a later table": """
CREATE TABLE public.z_base (id integer NOT NULL, created date NOT NULL DEFAULT '2024-01-01');
CREATE TABLE public.a_child (extra text) INHERITS (public.z_base);
""",
}

# Shapes the phases already order (kept so that the graph is shown not to disturb them).
IN_PHASE_ORDER: dict[str, str] = {
    # A policy calling a function whose body reads another table (policies come after everything).
    "policy calls a body reading another table": """
CREATE TABLE public.members (user_name text PRIMARY KEY);
CREATE FUNCTION public.is_member() RETURNS boolean
  LANGUAGE sql STABLE RETURN EXISTS (SELECT 1 FROM public.members WHERE user_name = current_user);
CREATE TABLE public.notes (id integer PRIMARY KEY, body text NOT NULL);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_members ON public.notes USING (public.is_member());
""",
    # A trigger's function (a string body) and its table.
    "trigger and its function": """
CREATE TABLE public.audited (id integer PRIMARY KEY, touched timestamptz);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.touched := now(); RETURN NEW; END $$;
CREATE TRIGGER audited_touch BEFORE UPDATE ON public.audited FOR EACH ROW EXECUTE FUNCTION public.touch();
""",
}


def contract_of(target: Target, directory: Path) -> Path:
    """The database's snapshot as a contract file; RLS is not the subject here (the API roles a fresh
    database grants on new tables, and the superuser reading a policy's table, would fail its lints)."""
    data = contract_from_snapshot(snapshot_of(target))
    data["lints"] = {"rls_disabled_in_public": "ignore", "rls_bypass_privileges": "ignore"}
    path = directory / "contract.yaml"
    path.write_text(dump_contract(data), encoding="utf-8")
    return path


def naive_sql(contract: Contract) -> str:
    """The contract's statements sorted by phase only, contract order within: what the graph replaces."""
    steps = sorted(phase_steps(contract, {}), key=lambda step: step[0])
    return "\n".join(render(statement) for _, statement in steps)


def loads(pg: psycopg.Connection[tuple[object, ...]], text: str) -> str | None:
    """None when ``text`` loads into an empty database, else PostgreSQL's error."""
    with fresh_database(pg) as fresh:
        try:
            run_script(fresh, text)
        except psycopg.Error as exc:
            return str(exc)
    return None


def round_trip(pg: psycopg.Connection[tuple[object, ...]], path: Path) -> str:
    """``pgcontract sql`` of the contract loaded into an empty database: the contract passes there, and the
    script applied again changes nothing. Returns the script."""
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    with fresh_database(pg) as fresh:
        assert_sql_round_trips(fresh, ddl.stdout, path)
    return ddl.stdout


@pytest.fixture
def shape_contract(
    request: pytest.FixtureRequest, run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> Path:
    """The contract of the test's database once a shape's SQL (the indirect parameter) has made it."""
    run_sql(str(request.param))
    return contract_of(target, tmp_path)


@pytest.mark.parametrize("shape_contract", SHAPES.values(), ids=list(SHAPES), indirect=True)
def test_sql_of_each_dependency_shape_loads_where_phase_order_fails(
    shape_contract: Path, pg: psycopg.Connection[tuple[object, ...]]
) -> None:
    assert loads(pg, naive_sql(load_contract(shape_contract))) is not None, "phase order alone loads this shape"
    round_trip(pg, shape_contract)


@pytest.mark.parametrize("shape_contract", IN_PHASE_ORDER.values(), ids=list(IN_PHASE_ORDER), indirect=True)
def test_sql_of_shapes_the_phases_order_still_loads(
    shape_contract: Path, pg: psycopg.Connection[tuple[object, ...]]
) -> None:
    naive = [render(s) for _, s in sorted(phase_steps(load_contract(shape_contract), {}), key=lambda step: step[0])]
    assert [render(s) for _, s in contract_steps(load_contract(shape_contract))] == naive  # no needless change
    round_trip(pg, shape_contract)


def test_a_cycle_sets_the_default_after_the_function_as_pg_dump_does(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    run_sql(SHAPES["default calls a body reading its own table"])
    text = "\n".join(render(s) for _, s in contract_steps(load_contract(contract_of(target, tmp_path))))
    create = text.index('CREATE TABLE IF NOT EXISTS "public"."tickets"')
    function = text.index('FUNCTION "public"."next_number"')
    default = text.index('ALTER TABLE "public"."tickets" ALTER COLUMN "number" SET DEFAULT')
    assert create < function < default
    assert "next_number" not in text[create:function]  # the table is created without the default


def test_repair_creates_what_was_dropped_in_dependency_order(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    """The aggregate, the function calling it, the table whose default calls the function, the function
    reading a view and the view: dropped, repaired in one plan, in an order PostgreSQL accepts."""
    run_sql(SHAPES["default calls a body calling an aggregate"] + SHAPES["body reads a view"])
    contract = load_contract(contract_of(target, tmp_path))
    run_sql(
        "DROP TABLE public.ranks; DROP FUNCTION public.first_rank(); DROP AGGREGATE public.total_of(integer);"
        " DROP FUNCTION public.cheap_count(); DROP VIEW public.cheap_items;"
    )
    missing = {f.object for f in check(target, contract).findings if f.rule.endswith(".missing")}
    assert {"public.ranks", "public.first_rank()", "public.total_of(integer)", "public.cheap_items"} <= missing
    repair(target, contract, None)
    assert errors(check(target, contract)) == []


def test_names_resolve_as_the_script_runs_them() -> None:
    """Unqualified: public's (never another schema's); in a function's body, its search_path's too."""
    in_app = node_of('CREATE TABLE "app"."t" (id integer);')
    in_public = node_of('CREATE TABLE "public"."t" (id integer);')
    reader = node_of("CREATE FUNCTION public.f() RETURNS bigint LANGUAGE sql RETURN (SELECT count(*) FROM t);")
    pathed = node_of(
        "CREATE FUNCTION public.g() RETURNS bigint LANGUAGE sql SET search_path = app RETURN (SELECT count(*) FROM t);"
    )
    phases = [Phase.FUNCTIONS, Phase.TABLES]
    assert order(phases, [reader, in_public], Phase) == [(Phase.TABLES, 1), (Phase.TABLES, 0)]
    assert order(phases, [reader, in_app], Phase) == [(Phase.FUNCTIONS, 0), (Phase.TABLES, 1)]
    assert order(phases, [pathed, in_app], Phase) == [(Phase.TABLES, 1), (Phase.TABLES, 0)]


def test_the_phase_order_stands_but_where_a_statement_needs_a_later_one() -> None:
    texts = [
        'CREATE TABLE "public"."a" (id integer) INHERITS ("public"."b");',
        'CREATE TABLE "public"."b" (id integer);',
        'CREATE TABLE "public"."c" (id integer);',
        'CREATE INDEX IF NOT EXISTS "c_i" ON "public"."c" USING "btree" ("id");',
        'ALTER TABLE "public"."c" ADD CONSTRAINT "c_b" FOREIGN KEY ("id") REFERENCES "public"."b" ("id");',
    ]
    phases = [Phase.TABLES, Phase.TABLES, Phase.TABLES, Phase.INDEXES, Phase.FOREIGN_KEYS]
    placed = [i for _, i in order(phases, [node_of(t) for t in texts], Phase)]
    assert placed == [1, 0, 2, 3, 4]
