"""The isolation matrix (rls/matrix.py) driven directly on small real throwaway databases, its results pinned
whole: the module's helpers (``allowed_commands``, ``_keys``, ``_rows_condition``, ``_s``, ``check_seed_role``,
``leftovers``, ``not_testable``, ``isolation_tables``), what a Matrix derives from the table (key, touched and
plain columns, one row per user, the membership its chain ends at, who A is tried as), its plumbing (``where``,
``visible``, ``versions``, ``changed_by_current``, ``batch``), the values its probes write (side, attach, move,
protected), ``as_member``, ``sequence_columns``, and the exact text of the violations and notes a run makes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.names import QualifiedName
from pgcontract.rls.matrix import (
    ALL_COMMANDS,
    Attempt,
    IsolationSession,
    Matrix,
    NeverSet,
    Outcome,
    Violation,
    _keys,
    _NotTried,
    _rows_condition,
    _s,
    allowed_commands,
    check_seed_role,
    isolation_tables,
    leftovers,
    not_testable,
)
from pgcontract.rls.seed import Seeder
from pgcontract.rls.values import SeedError

SUPABASE = "auth: {mode: supabase}"
NOTES = QualifiedName("public", "notes")
OWN = "user_id = auth.uid()"
NOTES_SQL = f"""
CREATE TABLE public.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  title text NOT NULL,
  body text
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.notes FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN});
"""
NOTES_CONTRACT = "  public.notes:\n    isolation: {owner: user_id}\n"


def contract_of(tmp_path: Path, tables: str, auth: str = SUPABASE) -> Contract:
    path = tmp_path / "contract.yaml"
    path.write_text(f"version: 1\n{auth}\ntables:\n{tables}", encoding="utf-8")
    return load_contract(path)


@contextmanager
def session_on(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, schema: str, tables: str, auth: str = SUPABASE
) -> Iterator[IsolationSession]:
    """An isolation session as ``run_matrix`` builds one; everything rolled back at the end."""
    run_sql(schema)
    contract = contract_of(tmp_path, tables, auth)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        try:
            yield session
        finally:
            assert session.finish() == []


Found = tuple[str, str, str, str, str]


def found(outcome: Outcome) -> list[Found]:
    return [(v.rule, v.message, v.expected, v.actual, v.through) for v in outcome.violations]


def run_on(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, schema: str, tables: str, name: QualifiedName
) -> Outcome:
    with session_on(target, run_sql, tmp_path, schema, tables) as session:
        return session.run(name)


# --- module helpers without a database --------------------------------------------------------------------


def test_plural_suffix() -> None:
    assert [_s(n) for n in (0, 1, 2, 3)] == ["s", "", "s", "s"]


def test_a_violation_names_what_it_went_through_when_given() -> None:
    with_through = Violation("isolation.read_other", "user A read 1 row", "0 rows", "1", "SELECT; policies: none")
    assert with_through.text == "user A read 1 row (SELECT; policies: none)"
    assert Violation("isolation.read_other", "m", "e", "a").text == "m"
    assert Violation("isolation.read_other", "m", "e", "a").through == ""
    with pytest.raises(Exception, match="isolation.no_such_rule"):
        Violation("isolation.no_such_rule", "m", "e", "a")


def test_an_outcome_collects_violations_in_order() -> None:
    outcome = Outcome(NOTES)
    assert (outcome.violations, outcome.notes, outcome.left_behind) == ([], [], [])
    outcome.add("isolation.read_own", "m1", "e1", "a1")
    outcome.add("isolation.protected", "m2", "e2", "a2", "UPDATE")
    assert outcome.violations == [
        Violation("isolation.read_own", "m1", "e1", "a1", ""),
        Violation("isolation.protected", "m2", "e2", "a2", "UPDATE"),
    ]
    assert Outcome(NOTES).violations is not Outcome(NOTES).violations


def test_never_set_defaults() -> None:
    seen = NeverSet(1, False, 2, 3)
    assert (seen.read, seen.inserted, seen.updated, seen.deleted) == (1, False, 2, 3)
    assert (seen.delete_refusal, seen.notes) == (None, ())


ALLOW_CONTRACT = """
  public.listed:
    isolation: {owner: o, allow: [select, update]}
  public.per_role:
    isolation:
      owner: o
      membership: {table: public.m, tenant: t, user: u, role: r}
      allow: {owner: [select, delete], member: [select]}
  public.unstated:
    isolation: {owner: o}
  public.policies:
    rls:
      policies:
        reads: {command: select, using: "true"}
        writes: {command: insert, as: permissive, with_check: "true"}
        limits: {command: delete, as: restrictive, using: "true"}
    isolation: {owner: o}
  public.every:
    rls:
      policies:
        everything: {using: "true"}
    isolation: {owner: o}
  public.restricted:
    rls:
      policies:
        limits: {command: update, as: restrictive, using: "true"}
    isolation: {owner: o}
  public.none:
    rls: {policies: {}}
    isolation: {owner: o}
  public.plain:
    columns: {o: {type: int}}
"""


def test_allowed_commands(tmp_path: Path) -> None:
    tables = contract_of(tmp_path, ALLOW_CONTRACT).table_map

    def allowed(name: str, role: str | None = None) -> set[str]:
        return allowed_commands(tables[QualifiedName("public", name)], role)

    assert allowed("listed") == {"select", "update"}
    assert allowed("listed", "owner") == {"select", "update"}
    assert allowed("per_role", "owner") == {"select", "delete"}
    assert allowed("per_role", "member") == {"select"}
    assert allowed("per_role", "guest") == set()
    assert allowed("per_role") == set()
    assert allowed("unstated") == set(ALL_COMMANDS)
    assert allowed("policies") == {"select", "insert"}
    assert allowed("every") == set(ALL_COMMANDS)
    assert allowed("restricted") == set()
    assert allowed("none") == set(ALL_COMMANDS)
    assert allowed("plain") == set(ALL_COMMANDS)
    assert ALL_COMMANDS == ("select", "insert", "update", "delete")


def test_isolation_tables_in_contract_order(tmp_path: Path) -> None:
    contract = contract_of(tmp_path, ALLOW_CONTRACT)
    assert [str(n) for n in isolation_tables(contract)] == [
        "public.listed",
        "public.per_role",
        "public.unstated",
        "public.policies",
        "public.every",
        "public.restricted",
        "public.none",
    ]


# --- module helpers on a database -------------------------------------------------------------------------

KEYS_SQL = """
CREATE TABLE public.keyed (
  id int PRIMARY KEY,
  a int, b int, c int, d int, e int,
  UNIQUE (a, b)
);
CREATE UNIQUE INDEX keyed_c ON public.keyed (c);
CREATE UNIQUE INDEX keyed_d_partial ON public.keyed (d) WHERE d > 0;
CREATE UNIQUE INDEX keyed_expression ON public.keyed (e, lower(c::text));
CREATE INDEX keyed_plain ON public.keyed (e);
CREATE TABLE public.unkeyed (x int);
"""


def test_keys_are_the_primary_unique_and_plain_unique_index_columns(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(KEYS_SQL)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, None)
    keys = _keys(snapshot.tables[QualifiedName("public", "keyed")])
    assert sorted(map(sorted, keys)) == [["a", "b"], ["a", "b"], ["c"], ["id"], ["id"]]
    assert sorted(map(sorted, keys[:2])) == [["a", "b"], ["id"]]  # the constraints first
    assert _keys(snapshot.tables[QualifiedName("public", "unkeyed")]) == []


def test_rows_condition_selects_the_rows_at_their_versions(target: Target, run_sql: Callable[[str], None]) -> None:
    run_sql("CREATE TABLE public.r (x int); INSERT INTO public.r VALUES (1), (2), (3);")
    with psycopg.connect(target.dsn) as conn:
        versions = [(str(o), str(c)) for o, c in conn.execute("SELECT tableoid::text, ctid::text FROM public.r")]
        empty = _rows_condition([])
        assert empty.as_string(conn) == "false"
        condition = _rows_condition([versions[0], versions[2]])
        oid = versions[0][0]
        assert condition.as_string(conn) == f"(tableoid::text, ctid) IN (('{oid}', '(0,1)'::tid), ('{oid}', '(0,3)'::tid))"
        statement = sql.SQL("SELECT array_agg(x ORDER BY x) FROM public.r WHERE {}")
        assert conn.execute(statement.format(condition)).fetchone() == ([1, 3],)
        assert conn.execute(statement.format(empty)).fetchone() == (None,)


ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'h20_plain') THEN CREATE ROLE h20_plain NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'h20_bypass') THEN CREATE ROLE h20_bypass NOLOGIN BYPASSRLS; END IF;
END $$;
GRANT h20_plain, h20_bypass TO CURRENT_USER;
"""
NOT_BYPASSING = (
    "role h20_plain does not bypass row level security, so it cannot create test rows for two users: "
    "connect as a role with BYPASSRLS, or name one under auth.seed_role"
)


def test_the_seed_role_must_bypass_rls(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    run_sql(ROLES_SQL)
    with psycopg.connect(target.dsn) as conn:
        cur = conn.cursor()
        superuser = conn.execute("SELECT current_user::text").fetchone()
        assert superuser is not None
        assert check_seed_role(cur) == superuser[0]
        cur.execute("SET ROLE h20_bypass")
        assert check_seed_role(cur) == "h20_bypass"
        cur.execute("SET ROLE h20_plain")
        with pytest.raises(SeedError) as caught:
            check_seed_role(cur)
        assert str(caught.value) == NOT_BYPASSING
    with (
        session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT, "auth: {mode: supabase, seed_role: h20_plain}")
        as session,
        pytest.raises(SeedError) as caught,
    ):
        session.run(NOTES)
    assert str(caught.value) == NOT_BYPASSING


LOOSE_SQL = NOTES_SQL + "CREATE TABLE public.loose (user_id uuid NOT NULL, title text NOT NULL);"
LOOSE_CONTRACT = NOTES_CONTRACT + "  public.loose:\n    isolation: {owner: user_id}\n"


@pytest.mark.parametrize("counted", [True, False])
def test_leftovers_name_rows_still_there(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, counted: bool
) -> None:
    run_sql(LOOSE_SQL + "INSERT INTO public.loose VALUES (gen_random_uuid(), 'kept');")
    contract = contract_of(tmp_path, LOOSE_CONTRACT)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        conn.read_only = False
        session = IsolationSession(conn, contract, snapshot, throwaway=counted, limits=DEFAULT_LIMITS)
        assert leftovers(conn, None, DEFAULT_LIMITS) == []
        seeder = Seeder(conn.cursor(), contract, snapshot, session.impersonation, count_rows=counted)
        seeder.start()
        assert leftovers(conn, seeder, DEFAULT_LIMITS) == []  # nothing created yet
        seeder = Seeder(conn.cursor(), contract, snapshot, session.impersonation, count_rows=counted)
        seeder.start()
        for principal in (session.a, session.b):
            seeder.row(QualifiedName("public", "loose"), principal)
            seeder.row(NOTES, principal)
        conn.commit()  # as if the rollback had not undone them
        problems = leftovers(conn, seeder, DEFAULT_LIMITS)
    counts = ["public.loose holds 3 rows, 1 before the test", "public.notes holds 2 rows, 0 before the test"]
    stays = ["a test row of public.notes is still there"] * 2
    assert problems == (counts if counted else []) + stays


NOT_TESTABLE_SQL = """
CREATE TABLE public.owners (id int PRIMARY KEY, user_id uuid);
CREATE TABLE public.ownerless (id int PRIMARY KEY, title text);
CREATE TABLE public.children (id int PRIMARY KEY, owner_ref int REFERENCES public.owners, other int);
CREATE TABLE public.bare (id int PRIMARY KEY);
"""
NOT_TESTABLE_CONTRACT = """
  public.owners:
    isolation: {owner: user_id}
  public.ownerless:
    isolation: {owner: user_id}
  public.children:
    columns: {owner_ref: {type: integer}}
    foreign_keys: [{columns: [owner_ref], references: public.owners(id)}]
    isolation: {via: owner_ref}
  public.orphans:
    columns: {other: {type: integer}}
    foreign_keys: [{columns: [other], references: public.owners(id)}]
    isolation: {via: other}
  public.strays:
    columns: {other: {type: integer}, id: {type: integer}}
    foreign_keys: [{columns: [other, id], references: "public.owners(id, user_id)"}]
    isolation: {via: [other, id]}
  public.bare:
    columns: {id: {type: integer}}
  public.missing:
    isolation: {owner: user_id}
"""


def test_not_testable_names_the_test_that_reports_why(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(NOT_TESTABLE_SQL + "CREATE TABLE public.orphans (id int, other int); CREATE TABLE public.strays (id int, other int);")
    contract = contract_of(tmp_path, NOT_TESTABLE_CONTRACT)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
    reasons = {str(n): not_testable(contract, snapshot, n) for n in contract.table_map}
    assert reasons == {
        "public.owners": None,
        "public.ownerless": "public.ownerless has no owner column 'user_id' (reported by test_columns[public.ownerless])",
        "public.children": None,
        "public.orphans": "public.orphans has no ownership foreign key (other) (reported by test_constraints[public.orphans])",
        "public.strays": "public.strays has no ownership foreign key (other, id) (reported by test_constraints[public.strays])",
        "public.bare": None,
        "public.missing": "table public.missing is missing (reported by test_table[public.missing])",
    }


SEQUENCES_SQL = NOTES_SQL + """
CREATE TABLE public.a_serials (id serial PRIMARY KEY, user_id uuid NOT NULL, n int NOT NULL DEFAULT 5);
CREATE TABLE public.z_plain (k uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid NOT NULL);
CREATE TABLE public.m_ids (user_id uuid NOT NULL, id bigint GENERATED BY DEFAULT AS IDENTITY);
"""
SEQUENCES_CONTRACT = (
    NOTES_CONTRACT
    + "  public.a_serials:\n    isolation: {owner: user_id}\n"
    + "  public.z_plain:\n    isolation: {owner: user_id}\n"
    + "  public.m_ids:\n    isolation: {owner: user_id}\n"
)


def test_sequence_columns_name_the_sequences_test_rows_drew_from(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, SEQUENCES_SQL, SEQUENCES_CONTRACT) as session:
        assert session.sequence_columns() == []
        for table in ("z_plain", "m_ids", "notes"):
            session.seeder.row(QualifiedName("public", table), session.a)
        assert session.sequence_columns() == ["public.m_ids.id", "public.notes.id"]
        session.run(QualifiedName("public", "a_serials"))
        session.finish()
        assert session.sequence_columns() == ["public.a_serials.id", "public.m_ids.id", "public.notes.id"]
