"""The isolation matrix (rls/matrix.py) driven directly on small real throwaway databases, its results pinned
whole: the module's helpers (``allowed_commands``, ``_keys``, ``_rows_condition``, ``_s``, ``check_seed_role``,
``leftovers``, ``not_testable``, ``isolation_tables``), what a Matrix derives from the table (key, touched and
plain columns, one row per user, the membership its chain ends at, who A is tried as), its plumbing (``where``,
``visible``, ``versions``, ``changed_by_current``, ``batch``), the values its probes write (side, attach, move,
protected), ``as_member``, ``sequence_columns``, and the exact text of the violations and notes a run makes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
    ImpersonationFailed,
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
    run_matrix,
)
from pgcontract.rls.seed import SeededRow, Seeder, Values
from pgcontract.rls.values import SeedError
from project_tests.test_rls_principals import NEVER_SET, SETTING_SQL, TENANT, WRITES_OPEN_ON_NULL

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


ReadsSeen = tuple[str, bool, list[Found], list[str]]


def probed_reads(
    session: IsolationSession,
    tried: Iterable[tuple[str, str | None]],
    before: Callable[[str, SeededRow], None] | None = None,
) -> dict[tuple[str, str | None], ReadsSeen]:
    """For each (table in public, principal): user A, as that principal, probes the reads of its own row and
    user B's (``Matrix.probe_reads``); what the matrix then holds: who must read, the returned flag, the
    findings and the notes. ``before(table, B's row)`` runs first, as the seeding role."""
    seen: dict[tuple[str, str | None], ReadsSeen] = {}
    for table, principal in tried:
        name = QualifiedName("public", table)
        matrix = Matrix(session, name)
        row_a, row_b = session.seeder.row(name, session.a), session.seeder.row(name, session.b)
        if before is not None:
            before(table, row_b)
        matrix.use_principal(principal)
        with matrix.savepoint():
            matrix.become(session.a)
            clean = matrix.probe_reads(row_a, row_b)
        seen[table, principal] = (matrix.readers, clean, found(matrix.outcome), matrix.outcome.notes)
        matrix.use_principal(None)
    return seen


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
    with pytest.raises(Exception, match=r"isolation\.no_such_rule"):
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
      allow: {owner: [select, delete], member: [select], XXXX: [update]}
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
    assert allowed("per_role") == set()  # no role: nothing, whatever the roles are called
    assert allowed("per_role", "XXXX") == {"update"}
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
        assert (
            condition.as_string(conn) == f"(tableoid::text, ctid) IN (('{oid}', '(0,1)'::tid), ('{oid}', '(0,3)'::tid))"
        )
        statement = sql.SQL("SELECT array_agg(x ORDER BY x) FROM public.r WHERE {}")
        assert conn.execute(statement.format(condition)).fetchone() == ([1, 3],)
        assert conn.execute(statement.format(empty)).fetchone() == (None,)


ROLES_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'h20_plain') THEN CREATE ROLE h20_plain NOLOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'h20_bypass') THEN
    CREATE ROLE h20_bypass NOLOGIN BYPASSRLS;
  END IF;
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
        session_on(
            target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT, "auth: {mode: supabase, seed_role: h20_plain}"
        ) as session,
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
    run_sql(
        NOT_TESTABLE_SQL
        + "CREATE TABLE public.orphans (id int, other int); CREATE TABLE public.strays (id int, other int);"
    )
    contract = contract_of(tmp_path, NOT_TESTABLE_CONTRACT)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
    reasons = {str(n): not_testable(contract, snapshot, n) for n in contract.table_map}
    assert reasons == {
        "public.owners": None,
        "public.ownerless": (
            "public.ownerless has no owner column 'user_id' (reported by test_columns[public.ownerless])"
        ),
        "public.children": None,
        "public.orphans": (
            "public.orphans has no ownership foreign key (other) (reported by test_constraints[public.orphans])"
        ),
        "public.strays": (
            "public.strays has no ownership foreign key (other, id) (reported by test_constraints[public.strays])"
        ),
        "public.bare": None,
        "public.missing": "table public.missing is missing (reported by test_table[public.missing])",
    }


SEQUENCES_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.a_serials (id serial PRIMARY KEY, user_id uuid NOT NULL, n int NOT NULL DEFAULT 5);
CREATE TABLE public.z_plain (k uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id uuid NOT NULL);
CREATE TABLE public.m_ids (user_id uuid NOT NULL, id bigint GENERATED BY DEFAULT AS IDENTITY);
"""
)
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


# --- what a Matrix reads from the table ----------------------------------------------------------------------

SHAPES_SQL = """
CREATE TABLE public.parents (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.shapes (
  g int GENERATED ALWAYS AS (2) STORED,
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  k bigint GENERATED BY DEFAULT AS IDENTITY UNIQUE,
  owner_id uuid NOT NULL,
  parent_id int REFERENCES public.parents,
  role text NOT NULL DEFAULT 'member',
  name text NOT NULL,
  body text
);
CREATE TABLE public.solo (owner_id uuid NOT NULL UNIQUE, name text NOT NULL);
CREATE TABLE public.pairs (owner_id uuid NOT NULL, name text NOT NULL, UNIQUE (owner_id, name));
CREATE TABLE public.fixed (id int PRIMARY KEY, owner_id uuid NOT NULL REFERENCES auth.users);
CREATE TABLE public.computed (g int GENERATED ALWAYS AS (1) STORED, id int GENERATED ALWAYS AS IDENTITY, owner_id uuid);
"""
SHAPES_CONTRACT = """
  public.parents:
    isolation: {owner: user_id}
  public.shapes:
    isolation: {owner: owner_id, protected: [role]}
  public.solo:
    isolation: {owner: owner_id}
  public.pairs:
    isolation: {owner: owner_id}
  public.fixed:
    isolation: {owner: owner_id}
  public.computed:
    isolation: {owner: owner_id}
"""


def test_the_columns_a_matrix_touches(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, SHAPES_SQL, SHAPES_CONTRACT) as session:
        matrices = {n.name: Matrix(session, n) for n in isolation_tables(session.contract)}
        picked = {n: (m.key_columns, m.touch_column, m.plain_column, m.owner_is_key) for n, m in matrices.items()}
    assert picked == {
        "parents": (("id",), "id", "id", False),
        "shapes": (("id",), "k", "name", False),
        "solo": ((), "owner_id", "name", True),
        "pairs": ((), "owner_id", "owner_id", False),
        "fixed": (("id",), "id", "id", False),
        "computed": ((), "owner_id", "owner_id", False),
    }


MEMBERS_SQL = """
CREATE TABLE public.orgs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL);
CREATE TABLE public.members (
  org_id uuid NOT NULL REFERENCES public.orgs,
  user_id uuid NOT NULL,
  role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'member')),
  PRIMARY KEY (org_id, user_id)
);
CREATE TABLE public.docs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org_id uuid NOT NULL UNIQUE REFERENCES public.orgs,
  title text NOT NULL
);
CREATE TABLE public.parts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, doc_id bigint NOT NULL REFERENCES public.docs, body text
);
CREATE TABLE public.pages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, part_id bigint NOT NULL REFERENCES public.parts, body text
);
CREATE TABLE public.loose (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.leaves (id int PRIMARY KEY, loose_id int NOT NULL REFERENCES public.loose);
CREATE TABLE public.plain (id bigint PRIMARY KEY);
CREATE TABLE public.unisolated (id bigint PRIMARY KEY);
CREATE TABLE public.strays (id int PRIMARY KEY, doc_id bigint NOT NULL REFERENCES public.plain);
CREATE TABLE public.bare (id int PRIMARY KEY, doc_id bigint NOT NULL REFERENCES public.unisolated);
CREATE TABLE public.loops (id bigint PRIMARY KEY, doc_id bigint REFERENCES public.loops);
CREATE TABLE public.lacking (id int PRIMARY KEY, doc_id bigint NOT NULL);
CREATE TABLE public.roleless (id uuid PRIMARY KEY, org_id uuid NOT NULL REFERENCES public.orgs);
"""
MEMBERSHIP = "{table: public.members, tenant: org_id, user: user_id, role: role}"
# The database's keys of strays, bare, loops and lacking are not the contract's (a drifted database).
TO_DOCS = """
    columns: {doc_id: {type: bigint}}
    foreign_keys: [{columns: [doc_id], references: public.docs(id)}]
    isolation: {via: doc_id}"""
MEMBERS_CONTRACT = f"""
  public.docs:
    isolation:
      owner: org_id
      membership: {MEMBERSHIP}
      allow: {{owner: [select, insert, update, delete], member: [select]}}
  public.parts:
    columns: {{id: {{type: bigint}}, doc_id: {{type: bigint}}}}
    foreign_keys: [{{columns: [doc_id], references: public.docs(id)}}]
    isolation: {{via: doc_id, allow: {{member: [select, update]}}}}
  public.pages:
    columns: {{part_id: {{type: bigint}}}}
    foreign_keys: [{{columns: [part_id], references: public.parts(id)}}]
    isolation: {{via: part_id}}
  public.loose:
    isolation: {{owner: user_id}}
  public.leaves:
    columns: {{loose_id: {{type: integer}}}}
    foreign_keys: [{{columns: [loose_id], references: public.loose(id)}}]
    isolation: {{via: loose_id}}
  public.unisolated:
    columns: {{id: {{type: bigint}}}}
  public.strays:{TO_DOCS}
  public.bare:{TO_DOCS}
  public.loops:{TO_DOCS}
  public.lacking:{TO_DOCS}
  public.roleless:
    isolation: {{owner: org_id, membership: {{table: public.members, tenant: org_id, user: user_id}}}}
"""
DOCS = QualifiedName("public", "docs")


def test_the_membership_a_chain_of_via_ends_at(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, MEMBERS_SQL, MEMBERS_CONTRACT) as session:
        ends = {n.name: Matrix(session, n).membership for n in isolation_tables(session.contract)}
        owner_is_key = Matrix(session, DOCS).owner_is_key
    docs = session.contract.table_map[DOCS].isolation
    assert docs is not None
    assert ends == {
        "docs": docs.membership,
        "parts": docs.membership,
        "pages": docs.membership,
        "loose": None,
        "leaves": None,
        "strays": None,
        "bare": None,
        "loops": None,
        "lacking": None,
        "roleless": session.contract.table_map[QualifiedName("public", "roleless")].isolation.membership,  # type: ignore[union-attr]
    }
    assert ends["docs"] is not None
    assert ends["docs"].role == "role"
    assert owner_is_key is False  # the tenant column is a key, but many users share a tenant


def test_as_member_gives_user_a_the_role(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, MEMBERS_SQL, MEMBERS_CONTRACT) as session:
        docs = Matrix(session, DOCS)
        with pytest.raises(SeedError) as caught:
            docs.as_member("owner")
        assert str(caught.value) == "user A has no membership in public.members to give the role 'owner'"
        session.seeder.row(DOCS, session.a)
        session.seeder.row(DOCS, session.b)
        tenant = session.seeder.tenants[("public.members", "A")]
        parts = Matrix(session, QualifiedName("public", "parts"))
        assert (parts.member_role, parts.allowed) == (None, set())  # no role yet: nothing
        assert parts.who == "user A"
        parts.as_member("member")
        assert (parts.member_role, parts.allowed) == ("member", {"select", "update"})
        assert parts.who == "user A (as member)"
        roles = "SELECT user_id::text, role FROM public.members ORDER BY role"
        assert session.cur.execute(roles).fetchall() == [(session.b.identity, "member"), (session.a.identity, "member")]
        docs.as_member("owner")
        assert (docs.member_role, docs.allowed) == ("owner", set(ALL_COMMANDS))
        owners = "SELECT org_id::text, role FROM public.members WHERE user_id = %s"
        assert session.cur.execute(owners, [session.a.identity]).fetchall() == [(str(tenant), "owner")]
        with docs.savepoint(), pytest.raises(SeedError) as caught:
            docs.as_member("boss")
        assert str(caught.value) == (
            "cannot make user A a 'boss' in public.members: new row for relation \"members\" violates check "
            'constraint "members_role_check"'
        )
        session.cur.execute("DELETE FROM public.members WHERE user_id = %s", [session.a.identity])
        with pytest.raises(SeedError) as caught:
            docs.as_member("owner")
        assert str(caught.value) == "user A's membership row in public.members was not found to give it role 'owner'"
        assert docs.member_role == "owner"
        for table in ("leaves", "roleless"):
            name = QualifiedName("public", table)
            with pytest.raises(SeedError) as caught:
                Matrix(session, name).as_member("owner")
            assert str(caught.value) == (
                f"'allow' per role on {name}: its ownership chain ('via') ends at no table with 'membership' and "
                "'role', so there is no role to give user A"
            )


PRINCIPALS = "auth: {mode: supabase, principals: {admin: {claims: {app_metadata: {role: admin}}}, auditor: {}}}"
READ_BY_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.shared (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.reports (id int PRIMARY KEY, body text);
CREATE TABLE public.drops (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.open (id int PRIMARY KEY, user_id uuid NOT NULL);
"""
)
READ_BY_CONTRACT = (
    NOTES_CONTRACT
    + """
  public.shared:
    isolation: {owner: user_id, read: [admin], write: {admin: [update, delete]}}
  public.reports:
    isolation: {read: [auditor]}
  public.drops:
    isolation: {owner: user_id, write: {admin: [insert]}}
  public.open:
    isolation: {owner: user_id, read: authenticated}
"""
)


def test_who_user_a_is_tried_as(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, READ_BY_SQL, READ_BY_CONTRACT, PRINCIPALS) as session:
        matrices = {n.name: Matrix(session, n) for n in isolation_tables(session.contract)}
        assert {n: m.tried_as() for n, m in matrices.items()} == {
            "notes": [None],
            "shared": [None, "admin", "auditor"],
            "reports": [None, "admin", "auditor"],
            "drops": [None, "admin", "auditor"],
            "open": [None],
        }

        def state(m: Matrix) -> tuple[str | None, str, set[str], dict[str, object], str]:
            return m.principal, m.readers, m.writes, m.a.claims, m.who

        shared, reports, open_ = matrices["shared"], matrices["reports"], matrices["open"]
        assert state(shared) == (None, "members", set(), {}, "user A")
        shared.use_principal("admin")
        admin_claims = {"app_metadata": {"role": "admin"}}
        assert state(shared) == ("admin", "authenticated", {"update", "delete"}, admin_claims, "user A (admin)")
        shared.member_role = "owner"
        assert shared.who == "user A (admin, as owner)"
        shared.member_role = None
        shared.use_principal("auditor")
        assert state(shared) == ("auditor", "members", set(), {}, "user A (auditor)")
        shared.use_principal(None)
        assert state(shared) == (None, "members", set(), {}, "user A")
        assert reports.readers == "members"
        reports.use_principal("admin")
        assert state(reports) == ("admin", "none", set(), admin_claims, "user A (admin)")
        reports.use_principal("auditor")
        assert state(reports) == ("auditor", "authenticated", set(), {}, "user A (auditor)")
        open_.use_principal(None)
        assert state(open_) == (None, "authenticated", set(), {}, "user A")
        matrices["drops"].use_principal("admin")
        assert matrices["drops"].writes == {"insert"}
        assert matrices["drops"].readers == "members"
        session.a.claims = {}


# --- plumbing -------------------------------------------------------------------------------------------------

PLUMBING_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.heap (user_id uuid NOT NULL, title text NOT NULL);
ALTER TABLE public.heap ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.heap FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
REVOKE ALL ON public.heap FROM anon;
"""
)
PLUMBING_SQL += "CREATE TABLE public.codes (id int, code text, user_id uuid NOT NULL, PRIMARY KEY (id, code));"
PLUMBING_CONTRACT = (
    NOTES_CONTRACT
    + "  public.heap:\n    isolation: {owner: user_id}\n  public.codes:\n    isolation: {owner: user_id}\n"
)
HEAP = QualifiedName("public", "heap")


def test_where_names_the_key_or_the_physical_row(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, PLUMBING_SQL, PLUMBING_CONTRACT) as session:
        notes, heap = Matrix(session, NOTES), Matrix(session, HEAP)
        row = session.seeder.row(NOTES, session.a)
        condition, params = notes.where(row)
        assert (condition.as_string(session.cur), params) == ('"id" = %s', [row.values["id"]])
        codes = Matrix(session, QualifiedName("public", "codes"))
        coded = session.seeder.row(QualifiedName("public", "codes"), session.a)
        condition, params = codes.where(coded)
        assert (condition.as_string(session.cur), params) == (
            '"id" = %s AND "code" = %s',
            [coded.values["id"], coded.values["code"]],
        )
        loose = session.seeder.row(HEAP, session.a)
        condition, params = heap.where(loose)
        assert (condition.as_string(session.cur), params) == (
            "tableoid = %s::oid AND ctid = %s::tid",
            [loose.tableoid, loose.ctid],
        )


def test_visible_counts_each_row_or_says_why_not(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, PLUMBING_SQL, PLUMBING_CONTRACT) as session:
        notes, heap = Matrix(session, NOTES), Matrix(session, HEAP)
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        assert notes.visible([a, b, a]) == [1, 1, 1]
        heap_a, heap_b = session.seeder.row(HEAP, session.a), session.seeder.row(HEAP, session.b)
        assert heap.visible([heap_b, heap_a]) == [1, 1]
        with heap.savepoint():
            heap.become(session.a)
            assert heap.acting_role == "authenticated"
            assert heap.visible([heap_a, heap_b]) == [1, 0]
            assert notes.visible([b, a]) == [0, 1]
            heap.become(None)
            assert heap.acting_role == "anon"
            refused = heap.visible([heap_a])
            assert refused == Attempt(False, 0, "permission denied for table heap", "42501", None)
            assert notes.visible([a]) == [0]  # the transaction is still usable


# --- whole runs: every violation and note, exactly -----------------------------------------------------------

OWN_ALL = '"own" USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid())'
OPEN_SQL = (
    NOTES_SQL
    + "CREATE POLICY peek ON public.notes FOR SELECT TO authenticated USING (true);"
    + "CREATE POLICY anyone_updates ON public.notes FOR UPDATE TO authenticated, anon USING (true);"
)
UPDATES = f'UPDATE as authenticated; policies: "anyone_updates" USING (true); {OWN_ALL}'


def test_a_run_reports_reads_moves_and_updates_of_others(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, OPEN_SQL, NOTES_CONTRACT, NOTES)
    assert found(outcome) == [
        (
            "isolation.read_other",
            "user A read 1 row of user B in public.notes",
            "0 rows of user B",
            "1 row",
            'SELECT as authenticated; policies: "own" USING (user_id = auth.uid()); "peek" USING (true)',
        ),
        (
            "isolation.move_to_other",
            "user A moved own row of public.notes to user B (UPDATE ... WHERE)",
            "refused",
            "1 row moved",
            UPDATES,
        ),
        (
            "isolation.update_other",
            "user A updated 1 row of user B in public.notes (UPDATE ... WHERE)",
            "0 rows",
            "1",
            UPDATES,
        ),
        (
            "isolation.update_unfiltered",
            "user A changed 1 row of user B in public.notes with an UPDATE of title without WHERE",
            "0 rows of user B",
            "1",
            UPDATES,
        ),
        (
            "isolation.update_unfiltered",
            "the anonymous caller changed 1 row of user A in public.notes with an UPDATE of title without WHERE",
            "0 rows of user A",
            "1",
            'UPDATE as anon; policies: "anyone_updates" USING (true)',
        ),
    ]
    assert (outcome.notes, outcome.left_behind) == ([], [])


COMMENTS = QualifiedName("public", "comments")
CHILD_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.comments (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note_id bigint NOT NULL REFERENCES public.notes,
  user_id uuid NOT NULL,
  body text NOT NULL
);
ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.comments FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY anyone_deletes ON public.notes FOR DELETE TO authenticated, anon USING (true);
CREATE POLICY everyone_reads ON public.notes FOR SELECT TO authenticated USING (true);
"""
)
CHILD_CONTRACT = """
  public.notes:
    isolation: {owner: user_id, read: authenticated}
  public.comments:
    isolation: {owner: user_id, cross_owner: [note_id]}
"""
# A note and its comment committed before the test: no row the test made holds them.
COMMITTED = """
INSERT INTO public.notes (user_id, title) VALUES (gen_random_uuid(), 'old');
INSERT INTO public.comments (note_id, user_id, body) SELECT id, user_id, 'kept' FROM public.notes;
"""
# Comments only their author's API session may delete: the seeding role cannot clear them.
STUCK = """
CREATE FUNCTION public.stuck() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF current_user <> 'authenticated' THEN RAISE EXCEPTION 'comments stay'; END IF; RETURN OLD; END $$;
CREATE TRIGGER stuck BEFORE DELETE ON public.comments FOR EACH ROW EXECUTE FUNCTION public.stuck();
"""
FK_ERROR = (
    'update or delete on table "notes" violates foreign key constraint "comments_note_id_fkey" on table "comments"'
)
FK_DETAIL = f'{FK_ERROR} DETAIL: Key is still referenced from table "comments".'
DELETES = 'DELETE as authenticated; policies: "anyone_deletes" USING (true); "own" USING (user_id = auth.uid())'
DELETE_OTHER = (
    "isolation.delete_other",
    "user A could delete the row of user B in public.notes (DELETE ... WHERE): the policies let it through and "
    f"only a foreign key refused it ({FK_DETAIL})",
    "0 rows",
    "row matched, refused by a foreign key",
    DELETES,
)
DELETE_OWN = (
    "isolation.delete_own",
    f"user A cannot delete own row in public.notes: {FK_DETAIL}",
    "1 row",
    FK_DETAIL,
    DELETES,
)


def unfiltered_refused(actor: str, whose: str, through: str) -> Found:
    return (
        "isolation.delete_unfiltered",
        f"{actor} could delete 1 row of {whose} in public.notes with a DELETE without WHERE: the policies let it "
        f"through and only a foreign key refused it ({FK_ERROR})",
        f"0 rows of {whose}",
        "1 row matched, refused by a foreign key",
        through,
    )


def not_judged(actor: str, why: str) -> str:
    return f"{actor}'s DELETE without WHERE on public.notes not judged: a foreign key refused it ({FK_ERROR}), {why}"


ANONYMOUS = "the anonymous caller"
AGAIN = "also with the child rows of the test's rows removed (rows the test did not make hold the key)"
STAYS = "and the child rows of the test's rows could not be removed to try again: comments stay"
DELETE_CASES = {
    "children-of-test-rows": (
        "",
        [
            DELETE_OTHER,
            unfiltered_refused("user A", "user B", DELETES),
            DELETE_OWN,
            unfiltered_refused(ANONYMOUS, "user A", 'DELETE as anon; policies: "anyone_deletes" USING (true)'),
        ],
        [],
    ),
    "children-of-other-rows": (
        COMMITTED,
        [DELETE_OTHER, DELETE_OWN],
        [not_judged("user A", AGAIN), not_judged(ANONYMOUS, AGAIN)],
    ),
    "children-that-stay": (
        STUCK,
        [DELETE_OTHER, DELETE_OWN],
        [not_judged("user A", STAYS), not_judged(ANONYMOUS, STAYS)],
    ),
}


@pytest.mark.parametrize("case", list(DELETE_CASES))
def test_a_delete_only_a_foreign_key_refused(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, case: str
) -> None:
    extra, violations, notes = DELETE_CASES[case]
    with session_on(target, run_sql, tmp_path, CHILD_SQL + extra, CHILD_CONTRACT) as session:
        assert session.run(COMMENTS).violations == []
        outcome = session.run(NOTES)
    assert found(outcome) == violations
    assert outcome.notes == notes


TASKS_SQL = """
CREATE TYPE public.task_role AS ENUM ('member', 'admin');
CREATE TABLE public.projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL, name text NOT NULL
);
ALTER TABLE public.projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.projects FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE TABLE public.tasks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES public.projects,
  user_id uuid NOT NULL,
  role public.task_role NOT NULL DEFAULT 'member',
  title text NOT NULL
);
ALTER TABLE public.tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY reads ON public.tasks FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY adds ON public.tasks FOR INSERT TO authenticated WITH CHECK (true);
CREATE POLICY edits ON public.tasks FOR UPDATE TO authenticated USING (user_id = auth.uid());
"""
TASKS_CONTRACT = """
  public.projects:
    isolation: {owner: user_id}
  public.tasks:
    isolation: {owner: user_id, protected: [role], allow: [select, insert]}
"""
TASKS = QualifiedName("public", "tasks")
INSERTS = 'INSERT as authenticated; policies: "adds" WITH CHECK (true)'
EDITS = 'UPDATE as authenticated; policies: "edits" USING (user_id = auth.uid())'


def test_a_run_reports_planted_rows_commands_left_out_and_protected_columns(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, TASKS_SQL, TASKS_CONTRACT, TASKS)
    assert found(outcome) == [
        (
            "isolation.insert_other",
            "user A inserted a row owned by user B into public.tasks",
            "refused",
            "inserted",
            INSERTS,
        ),
        (
            "isolation.attach_other",
            "user A attached a row in public.tasks to public.projects of user B (through project_id)",
            "refused",
            "inserted",
            INSERTS,
        ),
        (
            "isolation.not_allowed",
            "user A updated own row in public.tasks, but 'allow' leaves out update",
            "0 rows",
            "1",
            EDITS,
        ),
        (
            "isolation.protected",
            "user A changed protected column role of own row in public.tasks from 'member' to 'admin'"
            " (UPDATE ... WHERE)",
            "refused",
            "1 row changed",
            EDITS,
        ),
    ]
    assert outcome.notes == []


def test_versions_read_the_rows_current_physical_versions(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, PLUMBING_SQL, PLUMBING_CONTRACT) as session:
        notes, heap = Matrix(session, NOTES), Matrix(session, HEAP)
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        assert notes.versions([a, b]) == [(a.tableoid, a.ctid), (b.tableoid, b.ctid)]
        assert notes.versions([b]) == [(b.tableoid, b.ctid)]
        session.cur.execute("UPDATE public.notes SET body = 'moved' WHERE id = %s", [a.values["id"]])
        assert notes.versions([a]) == [(a.tableoid, "(0,3)")]
        session.cur.execute("DELETE FROM public.notes WHERE id = %s", [b.values["id"]])
        assert notes.versions([a, b]) == [(a.tableoid, "(0,3)")]
        loose = session.seeder.row(HEAP, session.a)
        session.cur.execute("UPDATE public.heap SET title = 'moved'")
        assert heap.versions([loose]) == [(loose.tableoid, loose.ctid)]  # without a key: as the row was made
        assert heap.versions([]) == []


def test_changed_by_current_counts_what_each_statement_changed(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, OPEN_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        session.seeder.row(NOTES, session.a, {"title": "second"})
        versions = notes.versions([a, b])
        statements = [
            sql.Composed([sql.SQL("UPDATE public.notes SET body = 'x'")]),
            sql.Composed([sql.SQL("DELETE FROM public.notes")]),
            sql.Composed([sql.SQL("UPDATE public.notes SET id = 7")]),
            sql.SQL("UPDATE public.notes SET body = 'y' WHERE user_id = {}").format(sql.Literal(session.b.identity)),
        ]
        errors: list[psycopg.Error | None] = []
        with notes.savepoint():
            notes.become(session.a)
            assert notes.changed_by_current(statements, versions, errors) == [2, 1, 0, 1]
            assert [type(e).__name__ for e in errors] == ["NoneType", "NoneType", "GeneratedAlways", "NoneType"]
            assert notes.changed_by_current(statements[:2], versions) == [2, 1]
            assert notes.changed_by_current(statements[:2], [versions[1]]) == [1, 0]
            none: list[psycopg.Error | None] = []
            assert notes.changed_by_current(statements[:2], [], none) == [0, 0]
            assert none == [None, None]
            assert notes.changed_by_current(statements[:2], []) == [0, 0]
            assert session.cur.execute("SELECT current_user::text, count(*) FROM public.notes").fetchall() == [
                ("authenticated", 3)
            ]
        assert notes.versions([a, b]) == versions  # every statement undone


def test_batch_returns_every_result_row_in_order(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        rows = notes.batch(
            [sql.SQL("SELECT 1"), sql.SQL("SET LOCAL work_mem = '8MB'"), sql.SQL("SELECT 2, 3 UNION ALL SELECT 4, 5")]
        )
        assert rows == [(1,), (2, 3), (4, 5)]
        assert notes.batch([sql.SQL("SELECT 1 WHERE false")]) == []
        with notes.savepoint(), pytest.raises(_NotTried) as caught:
            notes.batch([sql.SQL("SELECT 1"), sql.SQL("SELECT *\nFROM nowhere")])
        assert str(caught.value) == 'relation "nowhere" does not exist LINE 2: FROM nowhere ^'


# --- the values the probes write ------------------------------------------------------------------------------

ITEMS_SQL = """
CREATE TYPE public.item_role AS ENUM ('member', 'editor', 'admin');
CREATE TYPE public.single AS ENUM ('only');
CREATE TABLE public.projects (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL, name text NOT NULL
);
CREATE TABLE public.categories (id int, code text, user_id uuid NOT NULL, PRIMARY KEY (id, code));
CREATE TABLE public.boards (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.tags (id int PRIMARY KEY);
CREATE TABLE public.items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id bigint NOT NULL REFERENCES public.projects,
  category_id int NOT NULL,
  category_code text NOT NULL,
  shared_id int NOT NULL REFERENCES public.boards,
  optional_id int REFERENCES public.boards,
  tag_id int NOT NULL REFERENCES public.tags,
  parent_item bigint REFERENCES public.items,
  author_id uuid NOT NULL REFERENCES auth.users,
  editor uuid,
  role public.item_role NOT NULL DEFAULT 'member',
  flag boolean NOT NULL DEFAULT false,
  single public.single NOT NULL DEFAULT 'only',
  title text,
  alt_id int NOT NULL DEFAULT 1,
  alt_code text,
  FOREIGN KEY (category_id, category_code) REFERENCES public.categories,
  FOREIGN KEY (alt_id, alt_code) REFERENCES public.categories
);
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
CREATE POLICY edit ON public.items FOR ALL TO authenticated USING (editor = auth.uid());
"""
ITEMS_CONTRACT = """
  public.projects:
    isolation: {owner: user_id}
  public.categories:
    isolation: {owner: user_id}
  public.boards:
    isolation: {owner: user_id}
  public.items:
    columns:
      project_id: {type: bigint}
      shared_id: {type: integer}
      role: {type: public.item_role}
      flag: {type: boolean}
    foreign_keys: [{columns: [project_id], references: public.projects(id)}]
    isolation: {via: project_id, cross_owner: [shared_id], protected: [shared_id, role, flag]}
  public.labels:
    isolation: {read: authenticated}
  public.singles:
    isolation: {owner: user_id, protected: [single]}
  public.drifted:
    isolation: {owner: user_id, protected: [gone]}
"""
ITEMS = QualifiedName("public", "items")
PROJECTS = QualifiedName("public", "projects")
EXTRA_ITEMS_SQL = """
CREATE TABLE public.singles (id int PRIMARY KEY, user_id uuid NOT NULL, single public.single NOT NULL DEFAULT 'only');
CREATE TABLE public.drifted (id int PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE public.labels (id int PRIMARY KEY);
"""


def test_the_values_a_probe_writes(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, ITEMS_SQL + EXTRA_ITEMS_SQL, ITEMS_CONTRACT) as session:
        a, b, seeder = session.a, session.b, session.seeder
        items, notes_like = Matrix(session, ITEMS), Matrix(session, PROJECTS)
        side = items.side_values(a)
        assert side == {"author_id": a.identity, "editor": a.identity}
        assert notes_like.side_values(a) == {}
        some: Values = {"project_id": "1", "author_id": "2", "category_id": "3", "title": "4"}
        assert items.without_ownership(some, ("category_id",)) == {"author_id": "2", "title": "4"}
        assert items.without_ownership(some, ()) == {"author_id": "2", "category_id": "3", "title": "4"}
        assert notes_like.without_ownership({"user_id": "1", "name": None}, ()) == {"name": None}
        variants = items.attach_variants(a, b)
        assert [(what, columns) for what, columns, _ in variants] == [
            ("public.categories of user B (through category_id, category_code)", ("category_id", "category_code"))
        ]
        category_b = seeder.row(QualifiedName("public", "categories"), b).values
        values = variants[0][2]
        assert (values["category_id"], values["category_code"]) == (category_b["id"], category_b["code"])
        assert values["project_id"] == seeder.row(PROJECTS, a).values["id"]
        assert items.move_assignments(b) == {"project_id": seeder.row(PROJECTS, b).values["id"]}
        assert notes_like.move_assignments(b) == {"user_id": b.identity}
        assert Matrix(session, QualifiedName("public", "labels")).move_assignments(b) == {}
        row_a = seeder.row(ITEMS, a)
        board_b = seeder.row(QualifiedName("public", "boards"), b).values["id"]
        assert items.protected_values(row_a, b) == {"shared_id": board_b, "role": "admin", "flag": "true"}
        with pytest.raises(SeedError) as caught:
            Matrix(session, QualifiedName("public", "singles")).protected_values(
                seeder.row(QualifiedName("public", "singles"), a), b
            )
        assert str(caught.value) == "cannot find a value for public.singles.single other than 'only' (protected)"
        with pytest.raises(SeedError) as caught:
            Matrix(session, QualifiedName("public", "drifted")).protected_values(row_a, b)
        assert str(caught.value) == "public.drifted has no column 'gone' (isolation.protected)"


VIEWS_SQL = (
    NOTES_SQL
    + """
CREATE VIEW public.feed AS SELECT id, title FROM public.notes;
CREATE VIEW public.open_feed AS SELECT id, title FROM public.notes;
CREATE VIEW public.safe_feed WITH (security_invoker = on) AS SELECT id, title FROM public.notes;
CREATE MATERIALIZED VIEW public.snap AS SELECT id, title FROM public.notes;
GRANT SELECT ON public.feed, public.open_feed, public.safe_feed, public.snap TO authenticated, anon;
CREATE VIEW public.hidden AS SELECT id FROM public.notes;
REVOKE ALL ON public.hidden FROM authenticated, anon;
"""
)
VIEWS_CONTRACT = NOTES_CONTRACT + "views:\n  public.open_feed: {read: authenticated}\n"
OWN_READ = 'SELECT as authenticated; policies: "own" USING (user_id = auth.uid())'
ANON_READ = "SELECT as anon; policies: no SELECT policy for this role"
ADDED = "3 rows instead of 2 once a row of user B was added"
FEED = "view public.feed (no security_invoker: it reads as its owner postgres)"
SNAP = "materialized view public.snap (a copy of the rows its owner postgres read at its last refresh)"
COPY = "it can read its copy of every user's rows"
NEVER = "(row level security never applies to a materialized view)"
# What definer view public.feed (granted to authenticated and anon) shows of user B's rows, in run order.
FEED_FINDINGS = [
    (
        "isolation.view_read",
        f'user A read rows of user B in public.notes through {FEED}; fix: ALTER VIEW "public"."feed" SET '
        '(security_invoker = on), or REVOKE SELECT ON "public"."feed" FROM "authenticated"',
        "no row of user B",
        ADDED,
        OWN_READ,
    ),
    (
        "isolation.view_read",
        f"the anonymous caller read rows of user B in public.notes through {FEED}; fix: ALTER VIEW "
        '"public"."feed" SET (security_invoker = on), or REVOKE SELECT ON "public"."feed" FROM "anon"',
        "no row of user B",
        ADDED,
        ANON_READ,
    ),
]


def test_a_run_reports_the_views_that_show_rows_of_user_b(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, VIEWS_SQL, VIEWS_CONTRACT) as session:
        outcome = session.run(NOTES)
        readers = session.view_readers(QualifiedName("public", "hidden"), {"anon"})
    assert readers == frozenset()
    assert found(outcome) == [
        *FEED_FINDINGS,
        (
            "isolation.view_anonymous_read",
            "the anonymous caller read rows of user B in public.notes through view public.open_feed (no "
            "security_invoker: it reads as its owner postgres), which the view's 'read: authenticated' opens to "
            'signed-in users only; fix: REVOKE SELECT ON "public"."open_feed" FROM "anon"',
            "no row of user B",
            ADDED,
            ANON_READ,
        ),
        (
            "isolation.view_read",
            f'user A read rows of user B in public.notes through {SNAP}; fix: REVOKE SELECT ON "public"."snap" FROM '
            f'"authenticated" {NEVER}',
            "no row of user B",
            COPY,
            OWN_READ,
        ),
        (
            "isolation.view_read",
            f"the anonymous caller read rows of user B in public.notes through {SNAP}; fix: REVOKE SELECT ON "
            f'"public"."snap" FROM "anon" {NEVER}',
            "no row of user B",
            COPY,
            ANON_READ,
        ),
    ]
    assert outcome.notes == []


SHARED_SQL = """
CREATE TABLE public.shared (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.shared ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.shared FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE TABLE public.reports (id int PRIMARY KEY, body text);
ALTER TABLE public.reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY all_read ON public.reports FOR SELECT TO authenticated USING (true);
CREATE TABLE public.board (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.board ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.board FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY anyone ON public.board FOR SELECT TO anon USING (true);
"""
SHARED_CONTRACT = """
  public.shared:
    isolation: {owner: user_id, read: [admin], write: {admin: [update, delete]}}
  public.reports:
    isolation: {read: [auditor], allow: [select]}
  public.board:
    isolation: {owner: user_id, read: anon}
"""
SHARED_UPDATE = f"UPDATE as authenticated; policies: {OWN_ALL}"
REPORTS_READ = 'SELECT as authenticated; policies: "all_read" USING (true)'


def test_a_run_reports_what_read_and_write_declare(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, SHARED_SQL, SHARED_CONTRACT, PRINCIPALS) as session:
        outcomes = {t: session.run(QualifiedName("public", t)) for t in ("shared", "reports", "board")}
    assert {t: found(o) for t, o in outcomes.items()} == {
        "shared": [
            (
                "isolation.read_declared",
                "user A (admin) cannot read the row of user B in public.shared, which 'read: [admin]' opens to admin",
                "1 row of user B",
                "0 rows",
                OWN_READ,
            ),
            (
                "isolation.write_declared",
                "user A (admin) cannot update the row of user B in public.shared, which 'write' allows admin: 0 rows "
                "updated",
                "allowed",
                "0 rows updated",
                SHARED_UPDATE,
            ),
            (
                "isolation.write_declared",
                "user A (admin) cannot delete the row of user B in public.shared, which 'write' allows admin: 0 rows "
                "deleted",
                "allowed",
                "0 rows deleted",
                'DELETE as authenticated; policies: "own" USING (user_id = auth.uid())',
            ),
        ],
        "reports": [
            (
                "isolation.read_other",
                "user A read 2 rows in public.reports, which 'read' opens only to auditor",
                "0 rows",
                "2",
                REPORTS_READ,
            ),
            (
                "isolation.read_other",
                "user A (admin) read 2 rows in public.reports, which 'read' opens only to auditor",
                "0 rows",
                "2",
                REPORTS_READ,
            ),
        ],
        "board": [
            (
                "isolation.read_declared",
                "user A cannot read the row of user B in public.board, which 'read: anon' opens to every signed-in "
                "user",
                "1 row of user B",
                "0 rows",
                OWN_READ,
            ),
        ],
    }
    assert [o.notes for o in outcomes.values()] == [[], [], []]


ORG_SQL = MEMBERS_SQL.replace("org_id uuid NOT NULL UNIQUE", "org_id uuid NOT NULL") + (
    "ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;"
    " CREATE POLICY m ON public.docs FOR ALL TO authenticated"
    " USING (org_id IN (SELECT org_id FROM public.members WHERE user_id = auth.uid()));"
)
MEMBER_OF = "USING (org_id IN ( SELECT members.org_id\n   FROM public.members\n  WHERE (members.user_id = auth.uid())))"


def test_a_run_tries_each_role_allow_names(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, ORG_SQL, MEMBERS_CONTRACT) as session:
        outcome = session.run(DOCS)
        roles = session.cur.execute("SELECT role FROM public.members ORDER BY role").fetchall()
    assert found(outcome) == [
        (
            "isolation.not_allowed",
            "user A (as member) inserted own row into public.docs, but 'allow' leaves out insert for member",
            "refused",
            "inserted",
            'INSERT as authenticated; policies: "m"',
        ),
        (
            "isolation.not_allowed",
            "user A (as member) updated own row in public.docs, but 'allow' leaves out update for member",
            "0 rows",
            "1",
            f'UPDATE as authenticated; policies: "m" {MEMBER_OF}',
        ),
        (
            "isolation.not_allowed",
            "user A (as member) deleted own row in public.docs, but 'allow' leaves out delete for member",
            "0 rows",
            "1",
            f'DELETE as authenticated; policies: "m" {MEMBER_OF}',
        ),
    ]
    assert roles == [("member",), ("member",)]  # each role given under a savepoint, then taken back


SETTING = "auth: {mode: setting, role: docs_app, setting: app.tenant_id}"
PAGES_SQL = f"""
CREATE TABLE public.pages (id serial PRIMARY KEY, tenant_id uuid NOT NULL, doc_id int NOT NULL REFERENCES public.docs);
ALTER TABLE public.pages ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_pages ON public.pages TO docs_app USING (tenant_id = {TENANT});
GRANT SELECT, INSERT, UPDATE, DELETE ON public.pages TO docs_app;
"""
SETTING_TABLES = """
  public.folders:
    isolation: {owner: tenant_id}
  public.docs:
    isolation: {owner: tenant_id}
"""
PAGES_TABLES = """
  public.pages:
    columns: {tenant_id: {type: uuid}, doc_id: {type: integer}}
    isolation: {owner: tenant_id, cross_owner: [doc_id]}
"""
DOCS_POLICY = "COALESCE(current_setting('app.tenant_id'::text, true), (tenant_id)::text) = (tenant_id)::text"
PAGES_KEY = 'update or delete on table "docs" violates foreign key constraint "pages_doc_id_fkey" on table "pages"'


@pytest.mark.parametrize("children", [False, True])
def test_the_caller_with_the_setting_never_set(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, children: bool
) -> None:
    schema = SETTING_SQL + WRITES_OPEN_ON_NULL + (PAGES_SQL if children else "")
    tables = (PAGES_TABLES if children else "") + SETTING_TABLES
    with session_on(target, run_sql, tmp_path, schema, tables, SETTING) as session:
        assert session.never_set is None  # measured when the transaction begins
        session.cur  # noqa: B018 - begins it
        never_set = session.never_set
        outcome = session.run(QualifiedName("public", "docs"))
    refusal = PAGES_KEY if children else None
    assert never_set is not None
    assert {str(n): seen for n, seen in never_set.items()} == {
        **({"public.pages": NeverSet(0, False, 0, 0)} if children else {}),
        "public.folders": NeverSet(0, False, 0, 0, None, ()),
        "public.docs": NeverSet(0, True, 1, 1, refusal, ()),
    }
    inserted = (
        "isolation.never_set_write",
        f"{NEVER_SET} inserted a row owned by user A into public.docs",
        "refused",
        "inserted",
        f'INSERT as docs_app; policies: "docs_insert" WITH CHECK ({DOCS_POLICY})',
    )
    changed = (
        "isolation.never_set_write",
        f"{NEVER_SET} changed 1 row of user A in public.docs with UPDATE without WHERE",
        "0 rows of user A",
        "1",
        f'UPDATE as docs_app; policies: "docs_update" USING ({DOCS_POLICY})',
    )
    delete = f'DELETE as docs_app; policies: "docs_delete" USING ({DOCS_POLICY})'
    deleted = (
        (
            "isolation.never_set_write",
            f"{NEVER_SET} could delete 1 row of user A in public.docs with DELETE without WHERE: the policies let it "
            f"through and only a foreign key refused it ({PAGES_KEY})",
            "0 rows of user A",
            "1 row matched, refused by a foreign key",
            delete,
        )
        if children
        else (
            "isolation.never_set_write",
            f"{NEVER_SET} deleted 1 row of user A in public.docs with DELETE without WHERE",
            "0 rows of user A",
            "1",
            delete,
        )
    )
    expected = [inserted, deleted, changed] if children else [inserted, changed, deleted]
    assert found(outcome) == expected
    assert outcome.notes == []


GUESTS_SQL = (
    NOTES_SQL
    + """
CREATE POLICY guests ON public.notes FOR ALL TO anon USING (true) WITH CHECK (true);
CREATE TABLE public.wall (id int PRIMARY KEY, user_id uuid NOT NULL);
ALTER TABLE public.wall ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.wall FOR ALL TO authenticated USING (true) WITH CHECK (user_id = auth.uid());
"""
)
GUESTS_CONTRACT = NOTES_CONTRACT + "  public.wall:\n    isolation: {owner: user_id, read: anon}\n"
GUESTS = '"guests" USING (true)'


def test_a_run_reports_what_the_anonymous_caller_did(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, GUESTS_SQL, GUESTS_CONTRACT) as session:
        notes, wall = session.run(NOTES), session.run(QualifiedName("public", "wall"))
    anon = "the anonymous caller"
    assert found(notes) == [
        (
            "isolation.anonymous_read",
            f"{anon} read 1 row of user A in public.notes",
            "0 rows",
            "1",
            f"SELECT as anon; policies: {GUESTS}",
        ),
        (
            "isolation.anonymous_write",
            f"{anon} inserted a row owned by user A into public.notes",
            "refused",
            "inserted",
            'INSERT as anon; policies: "guests" WITH CHECK (true)',
        ),
        (
            "isolation.anonymous_write",
            f"{anon} updated a row of user A in public.notes",
            "0 rows",
            "1",
            f"UPDATE as anon; policies: {GUESTS} WITH CHECK (true)",
        ),
        (
            "isolation.anonymous_write",
            f"{anon} deleted a row of user A in public.notes",
            "0 rows",
            "1",
            f"DELETE as anon; policies: {GUESTS}",
        ),
        (
            "isolation.update_unfiltered",
            f"{anon} changed 1 row of user A in public.notes with an UPDATE of title without WHERE",
            "0 rows of user A",
            "1",
            f"UPDATE as anon; policies: {GUESTS} WITH CHECK (true)",
        ),
        (
            "isolation.delete_unfiltered",
            f"{anon} deleted 1 row of user A in public.notes with a DELETE without WHERE",
            "0 rows of user A",
            "1",
            f"DELETE as anon; policies: {GUESTS}",
        ),
    ]
    wall_delete = 'DELETE as authenticated; policies: "own" USING (true)'
    assert found(wall) == [
        (
            "isolation.delete_other",
            "user A deleted 1 row of user B in public.wall (DELETE ... WHERE)",
            "0 rows",
            "1",
            wall_delete,
        ),
        (
            "isolation.delete_unfiltered",
            "user A deleted 1 row of user B in public.wall with a DELETE without WHERE",
            "0 rows of user B",
            "1",
            wall_delete,
        ),
        (
            "isolation.read_declared",
            f"{anon} cannot read the row of user A in public.wall, which 'read: anon' opens to everyone: 0 rows",
            "1 row of user A",
            "0 rows",
            "SELECT as anon; policies: no SELECT policy for this role",
        ),
    ]
    assert (notes.notes, wall.notes) == ([], [])


# --- remove_children, attempt, fail, as_seeder (h20-matrix-a) -------------------------------------------------

# Rows of public.r: 1 (the one removed), 2 (a child of 1 in r itself), 3 (left alone). public.x shares r's ids.
FAMILY_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.r (id int PRIMARY KEY, code text NOT NULL, parent int REFERENCES public.r, UNIQUE (id, code));
CREATE TABLE public.x (id int PRIMARY KEY);
INSERT INTO public.r VALUES (1, 'one', NULL), (2, 'two', 1), (3, 'three', NULL);
INSERT INTO public.x VALUES (1), (2), (3);
CREATE TABLE public.kid (id int PRIMARY KEY, r_id int NOT NULL REFERENCES public.r);
CREATE TABLE public.grandkid (id int PRIMARY KEY, kid_id int NOT NULL REFERENCES public.kid);
CREATE TABLE public.pair (
  id int PRIMARY KEY, r_id int, r_code text, FOREIGN KEY (r_id, r_code) REFERENCES public.r (id, code)
);
CREATE TABLE public.nulled (id int PRIMARY KEY, r_id int REFERENCES public.r ON DELETE SET NULL);
CREATE TABLE public.defaulted (id int PRIMARY KEY, r_id int REFERENCES public.r ON DELETE SET DEFAULT);
CREATE TABLE public.two (
  id int PRIMARY KEY,
  x_id int NOT NULL, CONSTRAINT a_to_x FOREIGN KEY (x_id) REFERENCES public.x,
  r_id int NOT NULL, CONSTRAINT b_to_r FOREIGN KEY (r_id) REFERENCES public.r
);
CREATE TABLE public.of_x (id int PRIMARY KEY, x_id int NOT NULL REFERENCES public.x);
INSERT INTO public.kid VALUES (10, 1), (12, 2), (13, 3);
INSERT INTO public.grandkid VALUES (100, 10), (120, 12), (130, 13);
INSERT INTO public.pair VALUES (10, 1, 'one'), (13, 3, 'three');
INSERT INTO public.nulled VALUES (10, 1);
INSERT INTO public.defaulted VALUES (10, 1);
INSERT INTO public.two VALUES (10, 3, 1), (13, 1, 3);
INSERT INTO public.of_x VALUES (10, 1);
"""
)
FAMILY = ("r", "kid", "grandkid", "pair", "nulled", "defaulted", "two", "of_x")


def test_remove_children_deletes_what_references_the_rows_and_nothing_else(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, FAMILY_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        notes.remove_children(QualifiedName("public", "r"), sql.SQL("id = 1"))
        left = {
            t: session.cur.execute(
                sql.SQL("SELECT array_agg(id ORDER BY id) FROM {}").format(sql.Identifier(t))
            ).fetchall()[0][0]
            for t in FAMILY
        }
    assert left == {
        "r": [1, 2, 3],  # r's rows themselves are the caller's to delete
        "kid": [12, 13],  # 2 references 1 within r: a table's references to itself are left
        "grandkid": [120, 130],  # theirs first
        "pair": [13],  # both columns of the key
        "nulled": [10],  # a key that sets NULL refuses nothing
        "defaulted": [10],  # nor one that sets the default
        "two": [13],  # its second key references r, after one that does not
        "of_x": [10],  # x shares r's ids, but of_x references x
    }


# A chain d0 <- d1 <- ... <- d7, one row each, each referencing the one before.
CHAIN_SQL = (
    NOTES_SQL
    + "CREATE TABLE public.d0 (id int PRIMARY KEY); INSERT INTO public.d0 VALUES (1);"
    + "".join(
        f"CREATE TABLE public.d{n} (id int PRIMARY KEY, up int NOT NULL REFERENCES public.d{n - 1});"
        f"INSERT INTO public.d{n} VALUES (1, 1);"
        for n in range(1, 8)
    )
)
TOO_DEEP = 'update or delete on table "d6" violates foreign key constraint "d7_up_fkey" on table "d7"'


def test_remove_children_goes_six_tables_deep(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, CHAIN_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        d0 = QualifiedName("public", "d0")
        with notes.savepoint(), pytest.raises(psycopg.errors.ForeignKeyViolation) as caught:
            notes.remove_children(d0, sql.SQL("id = 1"))
        assert caught.value.diag.message_primary == TOO_DEEP
        session.cur.execute("DELETE FROM public.d7")
        notes.remove_children(d0, sql.SQL("id = 1"))
        counts = session.cur.execute(
            "SELECT " + ", ".join(f"(SELECT count(*) FROM public.d{n})" for n in range(8))
        ).fetchall()
    assert counts == [(1, 0, 0, 0, 0, 0, 0, 0)]


def test_attempt_runs_a_statement_under_a_savepoint(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        a = session.seeder.row(NOTES, session.a)
        session.seeder.row(NOTES, session.b)
        twice = sql.Composed(
            [sql.SQL("INSERT INTO public.notes (id, user_id, title) OVERRIDING SYSTEM VALUE")],
        ) + sql.SQL(" VALUES (%s, gen_random_uuid(), 'x')")
        refused = notes.attempt(twice, [a.values["id"]])
        done = notes.attempt(sql.Composed([sql.SQL("UPDATE public.notes SET body = 'changed'")]))
        bodies = session.cur.execute("SELECT DISTINCT body FROM public.notes").fetchall()
    duplicate = (
        f'duplicate key value violates unique constraint "notes_pkey" DETAIL: Key (id)=({a.values["id"]}) already '
        "exists."
    )
    assert refused == Attempt(False, 0, duplicate, "23505", "notes_pkey")
    assert done == Attempt(True, 2)
    assert bodies == [(None,)]  # rolled back to the savepoint


def test_a_violation_names_the_role_it_was_found_as(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        notes.fail("isolation.read_own", "before any switch", "e", "a", "select")
        with notes.savepoint():
            notes.become(session.a)
            notes.fail("isolation.read_other", "as user A", "e", "a", "delete")
    own = '"own" USING (user_id = auth.uid())'
    assert found(notes.outcome) == [
        ("isolation.read_own", "before any switch", "e", "a", f"SELECT; policies: {own}"),  # every policy
        ("isolation.read_other", "as user A", "e", "a", f"DELETE as authenticated; policies: {own}"),
    ]


SEEDER_SQL = (
    NOTES_SQL
    + """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'h20a_seeder') THEN
    CREATE ROLE h20a_seeder NOLOGIN BYPASSRLS;
  END IF;
END $$;
GRANT h20a_seeder TO CURRENT_USER;
GRANT USAGE ON SCHEMA auth TO h20a_seeder;
GRANT ALL ON ALL TABLES IN SCHEMA public, auth TO h20a_seeder;
"""
)


def test_as_seeder_goes_back_to_the_seed_role(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    auth = "auth: {mode: supabase, seed_role: h20a_seeder}"
    with session_on(target, run_sql, tmp_path, SEEDER_SQL, NOTES_CONTRACT, auth) as session:
        notes = Matrix(session, NOTES)
        with notes.savepoint():
            notes.become(session.a)
            notes.as_seeder()
            roles = session.cur.execute("SELECT current_user::text, session_user = current_user").fetchall()
    assert roles == [("h20a_seeder", False)]


def test_update_sets_every_column_given(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        a = session.seeder.row(NOTES, session.a)
        session.seeder.row(NOTES, session.b)
        both: Values = {"title": "new", "body": "new"}
        assert notes.update(both, a) == Attempt(True, 1)
        assert notes.update(both, None) == Attempt(True, 2)
        refused = notes.update({"body": "new", "title": None}, a)
    null = 'null value in column "title" of relation "notes" violates not-null constraint'
    assert (refused.ok, refused.rows, refused.sqlstate) == (False, 0, "23502")
    assert (refused.error or "").startswith(null)  # the second column was set too


def test_a_run_counts_every_row_the_users_hold(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, OPEN_SQL, NOTES_CONTRACT) as session:
        for principal in (session.a, session.b):
            session.seeder.row(NOTES, principal)
            session.seeder.row(NOTES, principal, {"title": "second"})
        outcome = session.run(NOTES)
    unfiltered = [v for v in found(outcome) if v[0] == "isolation.update_unfiltered"]
    assert unfiltered == [
        (
            "isolation.update_unfiltered",
            "user A changed 2 rows of user B in public.notes with an UPDATE of title without WHERE",
            "0 rows of user B",
            "2",
            UPDATES,
        ),
        (
            "isolation.update_unfiltered",
            "the anonymous caller changed 2 rows of user A in public.notes with an UPDATE of title without WHERE",
            "0 rows of user A",
            "2",
            'UPDATE as anon; policies: "anyone_updates" USING (true)',
        ),
    ]


# --- h20-matrix-b: the session's never-set probe, view readers, a change of B, read_as, view_leak ------------

STAMPED_SQL = f"""
CREATE TABLE public.stamped (id serial PRIMARY KEY, tenant_id uuid NOT NULL, written_in uuid NOT NULL DEFAULT {TENANT});
GRANT SELECT, INSERT, UPDATE, DELETE ON public.stamped TO docs_app;
REVOKE SELECT ON public.folders FROM docs_app;
INSERT INTO public.docs (tenant_id, body) VALUES ('11111111-1111-1111-1111-111111111111', 'theirs');
INSERT INTO public.pages (tenant_id, doc_id) VALUES ('11111111-1111-1111-1111-111111111111', currval('docs_id_seq'));
"""
STAMP = (
    "cannot create a test row in public.stamped: public.stamped.written_in is NOT NULL and got NULL; give a value for"
    " written_in under isolation.values (its default (NULLIF(current_setting('app.tenant_id'::text, true),"
    " ''::text))::uuid gave NULL)"
)
NEVER_SET_TABLES = (
    """
  public.gone:
    isolation: {owner: tenant_id}
  public.stamped:
    isolation: {owner: tenant_id}
"""
    + SETTING_TABLES
)


def test_the_never_set_probe_goes_on_past_tables_it_cannot_try(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A table missing from the database, then one whose row needs the setting, come first: every table after
    them is still measured; a SELECT refused reads as 0 rows; the notes of a DELETE not judged are kept."""
    schema = SETTING_SQL + WRITES_OPEN_ON_NULL + PAGES_SQL + STAMPED_SQL
    with session_on(target, run_sql, tmp_path, schema, NEVER_SET_TABLES, SETTING) as session:
        session.cur  # noqa: B018 - begins the transaction, which measures the caller with the setting never set
        never_set = session.never_set
    assert never_set is not None
    again = (
        f"{NEVER_SET}'s DELETE without WHERE on public.docs not judged: a foreign key refused it ({PAGES_KEY}), also"
        " with the child rows of the test's rows removed (rows the test did not make hold the key)"
    )
    assert {str(n): seen for n, seen in never_set.items()} == {
        "public.stamped": f"A's row could not be made without the setting: {STAMP}",
        "public.folders": NeverSet(0, False, 0, 0, None, ()),
        "public.docs": NeverSet(0, True, 1, 0, None, (again,)),
    }


KEYLESS_SQL = """
CREATE TABLE public.bare (user_id uuid NOT NULL, title text);
CREATE TABLE public.pairs (a int, b text, user_id uuid NOT NULL, PRIMARY KEY (a, b));
"""
KEYLESS_CONTRACT = """
  public.bare:
    isolation: {owner: user_id}
  public.pairs:
    isolation: {owner: user_id}
"""


def test_the_change_of_b_removes_b_s_row_by_key_or_physical_row(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, KEYLESS_SQL, KEYLESS_CONTRACT) as session:
        cur, seeder = session.cur, session.seeder
        for name in ("bare", "pairs"):
            table = QualifiedName("public", name)
            row_a, row_b = seeder.row(table, session.a), seeder.row(table, session.b)
            change = Matrix(session, table).change_of_b(row_b, None)
            if name == "bare":
                oid = cur.execute("SELECT 'public.bare'::regclass::oid::text").fetchall()[0][0]
                assert (row_b.tableoid, row_b.ctid) == (oid, "(0,2)")
                condition = f"\"tableoid\" = '{oid}' AND \"ctid\" = '(0,2)'"
            else:
                condition = f"\"a\" = '{row_b.values['a']}' AND \"b\" = '{row_b.values['b']}'"
            assert change.as_string(cur) == f'DELETE FROM "public"."{name}" WHERE {condition}'
            cur.execute("SAVEPOINT change")
            cur.execute(change)
            assert cur.rowcount == 1
            left = cur.execute(sql.SQL("SELECT user_id::text FROM {}").format(sql.Identifier("public", name)))
            assert left.fetchall() == [(row_a.values["user_id"],)]
            cur.execute("ROLLBACK TO SAVEPOINT change")


def test_read_as_names_the_role_a_switch_ended_in(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        switches: list[tuple[str, dict[str, str]]] = [("postgres", {}), ("authenticated", {})]
        rows: list[tuple[object, ...]] = [("",), ("postgres",), ("",), ("authenticated",), (3, 7)]
        assert notes.read_as(rows, switches, first_reads=False) == [(3, 7)]
        assert notes.read_as([("",), ("postgres",), (1, 2), *rows[2:]], switches) == [(1, 2), (3, 7)]
        with pytest.raises(ImpersonationFailed) as caught:
            notes.read_as([*rows[:3], ("anon",), (3, 7)], switches, first_reads=False)
        assert str(caught.value) == "switched to role 'authenticated' but current_user is 'anon'"


LEAK_SQL = (
    VIEWS_SQL + "CREATE POLICY reads ON public.notes FOR SELECT USING (user_id = auth.uid());"
    " CREATE TABLE public.other (id int PRIMARY KEY); CREATE VIEW public.unrelated AS SELECT id FROM public.other;"
)
READS = '"reads" USING (user_id = auth.uid())'


def test_a_view_leak_names_the_select_policies_in_force(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A policy FOR SELECT (to every role) is named in force for each caller a view let through; the readers of
    a view that reads no isolated table, or of a role that does not exist, are none."""
    with session_on(target, run_sql, tmp_path, LEAK_SQL, VIEWS_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        views = {str(v.name): v for v in session.snapshot.views}
        notes.view_leak(views["public.feed"], "A", "2 rows instead of 1", "members")
        notes.view_leak(views["public.open_feed"], None, "3 rows instead of 2", "authenticated")
        feed = QualifiedName("public", "feed")
        assert session.view_readers(feed, {"no_such_role"}) == frozenset()
        assert session.view_readers(QualifiedName("public", "unrelated"), {"no_such_role"}) == frozenset()
        assert session.view_readers(QualifiedName("public", "nowhere"), {"no_such_role"}) == frozenset()
    assert found(notes.outcome) == [
        (
            "isolation.view_read",
            f'user A read rows of user B in public.notes through {FEED}; fix: ALTER VIEW "public"."feed" SET '
            '(security_invoker = on), or REVOKE SELECT ON "public"."feed" FROM "authenticated"',
            "no row of user B",
            "2 rows instead of 1",
            f'SELECT as authenticated; policies: "own" USING (user_id = auth.uid()); {READS}',
        ),
        (
            "isolation.view_anonymous_read",
            "the anonymous caller read rows of user B in public.notes through view public.open_feed (no "
            "security_invoker: it reads as its owner postgres), which the view's 'read: authenticated' opens to "
            'signed-in users only; fix: REVOKE SELECT ON "public"."open_feed" FROM "anon"',
            "no row of user B",
            "3 rows instead of 2",
            f"SELECT as anon; policies: {READS}",
        ),
    ]


SCHEMAS_SQL = """
CREATE SCHEMA app;
CREATE SCHEMA "app-x";
CREATE TABLE app.t (id serial PRIMARY KEY, user_id uuid NOT NULL);
CREATE TABLE "app-x".t (id serial PRIMARY KEY, user_id uuid NOT NULL);
"""
SCHEMAS_CONTRACT = """
  app.t:
    isolation: {owner: user_id}
  app-x.t:
    isolation: {owner: user_id}
  public.gone:
    isolation: {owner: user_id}
"""


def test_sequence_columns_in_the_order_of_their_names(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """By the names as written ('app-x.t' before 'app.t'), and a table the database lacks names none."""
    with session_on(target, run_sql, tmp_path, SCHEMAS_SQL, SCHEMAS_CONTRACT) as session:
        for schema in ("app", "app-x"):
            session.seeder.row(QualifiedName(schema, "t"), session.a)
        with pytest.raises(KeyError):
            session.run(QualifiedName("public", "gone"))
        assert session.sequence_columns() == ["app-x.t.id", "app.t.id"]


# A row written by another connection (dblink) outlives the rollback: only the row counts of a throwaway
# target's tables show it.
OUTLIVES_SQL = """
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE TABLE public.audit (id int PRIMARY KEY);
CREATE FUNCTION public.outlive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM dblink_exec({dsn}, 'INSERT INTO public.audit VALUES (1) ON CONFLICT DO NOTHING');
  RETURN NEW;
END $$;
CREATE TRIGGER outlive AFTER INSERT ON public.notes FOR EACH ROW EXECUTE FUNCTION public.outlive();
"""


@pytest.mark.parametrize("throwaway", [True, False])
def test_run_matrix_counts_the_rows_of_a_throwaway_target(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, throwaway: bool
) -> None:
    run_sql(NOTES_SQL + sql.SQL(OUTLIVES_SQL).format(dsn=sql.Literal(target.dsn)).as_string(None))
    contract = contract_of(tmp_path, NOTES_CONTRACT)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        outcome = run_matrix(conn, contract, snapshot, NOTES, throwaway=throwaway, limits=DEFAULT_LIMITS)
    assert outcome.left_behind == (["public.audit holds 1 rows, 0 before the test"] if throwaway else [])


# --- s22-matrix-a: probe_user's insert of B's row and 'write' allowing insert, run's moves per role ----------

# One row per user (the owner column is the key): the INSERT of B's row is made after B's row is removed, and by
# user A, not by the anonymous caller (who may not insert here at all).
PROFILES_SQL = """
CREATE TABLE public.profiles (user_id uuid PRIMARY KEY, name text);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY reads ON public.profiles FOR SELECT TO authenticated USING (user_id = auth.uid());
CREATE POLICY adds ON public.profiles FOR INSERT TO authenticated WITH CHECK (true);
CREATE POLICY edits ON public.profiles FOR UPDATE TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY drops ON public.profiles FOR DELETE TO authenticated USING (user_id = auth.uid());
"""
PROFILES_CONTRACT = "  public.profiles:\n    isolation: {owner: user_id}\n"
PROFILES = QualifiedName("public", "profiles")


def test_user_a_inserts_the_row_of_b_one_row_per_user(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, PROFILES_SQL, PROFILES_CONTRACT) as session:
        assert Matrix(session, PROFILES).owner_is_key
        outcome = session.run(PROFILES)
    assert found(outcome) == [
        (
            "isolation.insert_other",
            "user A inserted a row owned by user B into public.profiles",
            "refused",
            "inserted",
            'INSERT as authenticated; policies: "adds" WITH CHECK (true)',
        )
    ]
    assert outcome.notes == []


# comments hang from notes (isolated, NOT NULL key, not the ownership): a row of A under B's note is an attach.
# 'write' lets admin insert rows of others: its attach is not probed, and the INSERT of B's row that the
# policy refuses is reported for the INSERT (no USING of the FOR ALL policy, which an INSERT does not use).
COMMENTS_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.comments (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL,
  note_id bigint NOT NULL REFERENCES public.notes,
  body text
);
ALTER TABLE public.comments ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.comments FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
"""
)
COMMENTS_CONTRACT = NOTES_CONTRACT + "  public.comments:\n    isolation: {owner: user_id, write: {admin: [insert]}}\n"
COMMENT_INSERT = 'INSERT as authenticated; policies: "own" WITH CHECK (user_id = auth.uid())'
REFUSED_ROW = 'new row violates row-level security policy for table "comments"'


def test_write_allowing_insert_skips_the_attach_and_names_the_refused_insert(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, COMMENTS_SQL, COMMENTS_CONTRACT, PRINCIPALS) as session:
        outcome = session.run(COMMENTS)

    def attached(who: str) -> Found:
        message = f"{who} attached a row in public.comments to public.notes of user B (through note_id)"
        return ("isolation.attach_other", message, "refused", "inserted", COMMENT_INSERT)

    assert found(outcome) == [
        attached("user A"),
        (
            "isolation.write_declared",
            "user A (admin) cannot insert a row owned by user B into public.comments, which 'write' allows admin: "
            + REFUSED_ROW,
            "allowed",
            REFUSED_ROW,
            COMMENT_INSERT,
        ),
        attached("user A (auditor)"),
    ]
    assert outcome.notes == []


# 'allow' per role: the move of A's own row to B's organisation is tried as each role too. The WITH CHECK
# (true) lets it through without WHERE (with one, the new row must also pass the SELECT policy: refused).
MOVES_SQL = ORG_SQL + (
    " CREATE POLICY moves ON public.docs FOR UPDATE TO authenticated"
    " USING (org_id IN (SELECT org_id FROM public.members WHERE user_id = auth.uid())) WITH CHECK (true);"
)
MOVES_CONTRACT = f"""
  public.docs:
    isolation:
      owner: org_id
      membership: {MEMBERSHIP}
      allow: {{owner: [select, insert, update, delete]}}
"""


def test_a_run_per_role_tries_the_move_to_b(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    with session_on(target, run_sql, tmp_path, MOVES_SQL, MOVES_CONTRACT) as session:
        outcome = session.run(DOCS)
    assert found(outcome) == [
        (
            "isolation.move_to_other",
            "user A (as owner) moved own row of public.docs to user B (UPDATE without WHERE)",
            "refused",
            "1 row moved",
            f'UPDATE as authenticated; policies: "m" {MEMBER_OF}; "moves" {MEMBER_OF} WITH CHECK (true)',
        )
    ]
    assert outcome.notes == []


# --- s22-matrix-b: probe_reads' failed SELECT; write_declared, delete_other and what 'write' skips -------------

# User A may not SELECT at all (no grant): whether that is a finding depends on who may read the table.
UNREADABLE = ("by_anon", "by_users", "mine", "writes_only", "reports")
UNREADABLE_SQL = "".join(
    f"""
CREATE TABLE public.{name} (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.{name} ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.{name} FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN});
REVOKE SELECT ON public.{name} FROM authenticated;
"""
    for name in UNREADABLE
)
UNREADABLE_CONTRACT = """
  public.by_anon:
    isolation: {owner: user_id, read: anon}
  public.by_users:
    isolation: {owner: user_id, read: authenticated}
  public.mine:
    isolation: {owner: user_id}
  public.writes_only:
    isolation: {owner: user_id, allow: [insert, update, delete]}
  public.reports:
    isolation: {read: [auditor]}
"""
OWN_SELECT = f'SELECT as authenticated; policies: "own" USING ({OWN})'


def cannot_read(who: str, table: str) -> Found:
    return (
        "isolation.read_own",
        f"{who} cannot read own rows in public.{table}: permission denied for table {table}",
        "own row visible",
        "SELECT failed",
        OWN_SELECT,
    )


def test_a_failed_select_is_a_finding_only_for_those_who_must_read(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    tried = [(t, None) for t in UNREADABLE] + [("reports", "auditor"), ("reports", "admin")]
    with session_on(target, run_sql, tmp_path, UNREADABLE_SQL, UNREADABLE_CONTRACT, PRINCIPALS) as session:
        seen = probed_reads(session, tried)
    assert seen == {
        ("by_anon", None): ("anon", False, [cannot_read("user A", "by_anon")], []),
        ("by_users", None): ("authenticated", False, [cannot_read("user A", "by_users")], []),
        ("mine", None): ("members", False, [cannot_read("user A", "mine")], []),
        # Own rows only, and 'allow' leaves out select: the refusal is what the contract asks for.
        ("writes_only", None): ("members", False, [], []),
        # 'read: [auditor]' without an owner: the others read no row at all, the auditor every row.
        ("reports", None): ("none", False, [], []),
        ("reports", "auditor"): ("authenticated", False, [cannot_read("user A (auditor)", "reports")], []),
        ("reports", "admin"): ("none", False, [], []),
    }


IS_ADMIN_CLAIM = "(SELECT auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'"
ADMIN_PRINTED = "(( SELECT ((auth.jwt() -> 'app_metadata'::text) ->> 'role'::text)) = 'admin'::text)"
# 'write' lets admin delete every row, but a restrictive DELETE policy keeps it to its own.
BIN_SQL = f"""
CREATE TABLE public.bin (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.bin ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.bin FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN});
CREATE POLICY admins_read ON public.bin FOR SELECT TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY admins_update ON public.bin FOR UPDATE TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY admins_delete ON public.bin FOR DELETE TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY keep_others ON public.bin AS RESTRICTIVE FOR DELETE TO authenticated USING ({OWN});
"""
BIN_CONTRACT = """
  public.bin:
    isolation: {owner: user_id, read: [admin], write: {admin: [update, delete]}}
"""


def test_a_refused_delete_write_allows_names_the_delete_policies(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, BIN_SQL, BIN_CONTRACT, PRINCIPALS) as session:
        outcome = session.run(QualifiedName("public", "bin"))
    assert found(outcome) == [
        (
            "isolation.write_declared",
            "user A (admin) cannot delete the row of user B in public.bin, which 'write' allows admin: 0 rows deleted",
            "allowed",
            "0 rows deleted",
            f'DELETE as authenticated; policies: "admins_delete" USING {ADMIN_PRINTED}; "keep_others" (restrictive)'
            f' USING ({OWN}); "own" USING ({OWN})',
        ),
    ]
    assert outcome.notes == []


# Everyone reads every note and deletes any: the DELETE ... WHERE of B's row goes through a FOR DELETE policy.
DROPS_SQL = (
    NOTES_SQL
    + "CREATE POLICY everyone_reads ON public.notes FOR SELECT TO authenticated USING (true);"
    + "CREATE POLICY anyone_deletes ON public.notes FOR DELETE TO authenticated USING (true);"
)
DROPS_CONTRACT = "  public.notes:\n    isolation: {owner: user_id, read: authenticated}\n"


def test_a_delete_of_b_s_row_names_the_delete_policies(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, DROPS_SQL, DROPS_CONTRACT, NOTES)
    drops = f'DELETE as authenticated; policies: "anyone_deletes" USING (true); "own" USING ({OWN})'
    assert found(outcome) == [
        (
            "isolation.delete_other",
            "user A deleted 1 row of user B in public.notes (DELETE ... WHERE)",
            "0 rows",
            "1",
            drops,
        ),
        (
            "isolation.delete_unfiltered",
            "user A deleted 1 row of user B in public.notes with a DELETE without WHERE",
            "0 rows of user B",
            "1",
            drops,
        ),
    ]
    assert outcome.notes == []


# Admins read, update and delete every entry (not insert); users may not raise their own level. An entry the
# test did not make (-1) has a line, so a DELETE without WHERE that reaches it fails on the key.
LEDGER_SQL = f"""
CREATE TABLE public.ledger (id int PRIMARY KEY, user_id uuid NOT NULL, level text NOT NULL DEFAULT 'basic', body text);
CREATE TABLE public.lines (id int PRIMARY KEY, ledger_id int NOT NULL REFERENCES public.ledger);
ALTER TABLE public.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.ledger FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN} AND level = 'basic');
CREATE POLICY admins_read ON public.ledger FOR SELECT TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY admins_update ON public.ledger FOR UPDATE TO authenticated
  USING ({IS_ADMIN_CLAIM}) WITH CHECK ({IS_ADMIN_CLAIM});
CREATE POLICY admins_delete ON public.ledger FOR DELETE TO authenticated USING ({IS_ADMIN_CLAIM});
INSERT INTO public.ledger VALUES (-1, gen_random_uuid(), 'basic', 'old');
INSERT INTO public.lines VALUES (1, -1);
"""
LEDGER_CONTRACT = """
  public.ledger:
    isolation: {owner: user_id, read: [admin], write: {admin: [%s]}, protected: [level]}
"""
LEDGER_DELETES = f'DELETE as authenticated; policies: "admins_delete" USING {ADMIN_PRINTED}; "own" USING ({OWN})'
LEDGER_KEY = (
    'update or delete on table "ledger" violates foreign key constraint "lines_ledger_id_fkey" on table "lines"'
)
LEDGER_CASES: dict[str, tuple[list[Found], list[str]]] = {
    # Update and delete every row: no UPDATE or DELETE without WHERE is tried (nothing to find), and the
    # protected level is admin's to change.
    "update, delete": ([], []),
    # Update only: the DELETEs are tried, the one without WHERE stopped by the line of the entry -1.
    "update": (
        [
            (
                "isolation.delete_other",
                "user A (admin) deleted 1 row of user B in public.ledger (DELETE ... WHERE)",
                "0 rows",
                "1",
                LEDGER_DELETES,
            ),
        ],
        [
            "user A (admin)'s DELETE without WHERE on public.ledger not judged: a foreign key refused it"
            f" ({LEDGER_KEY}), also with the child rows of the test's rows removed (rows the test did not make hold"
            " the key)"
        ],
    ),
}


@pytest.mark.parametrize("writes", list(LEDGER_CASES))
def test_what_write_lets_a_principal_do_to_every_row_is_not_probed(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, writes: str
) -> None:
    with session_on(target, run_sql, tmp_path, LEDGER_SQL, LEDGER_CONTRACT % writes, PRINCIPALS) as session:
        outcome = session.run(QualifiedName("public", "ledger"))
    assert (found(outcome), outcome.notes) == LEDGER_CASES[writes]


# --- s22-matrix-c: probe_own's refused own INSERT (a duplicate, a row that cannot be removed); probe_unfiltered --

# Every handle is unique, and isolation.values gives each user one handle: user A's second row repeats A's.
HANDLES_SQL = f"""
CREATE TABLE public.handles (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL, handle text UNIQUE
);
ALTER TABLE public.handles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.handles FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN});
"""
HANDLES_CONTRACT = "  public.handles:\n    isolation: {owner: user_id, values: {handle: {A: alpha, B: beta}}}\n"


def test_an_own_insert_refused_as_a_duplicate_says_which_value_repeats(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, HANDLES_SQL, HANDLES_CONTRACT, QualifiedName("public", "handles"))
    assert found(outcome) == [
        (
            "isolation.insert_own",
            "user A cannot insert own row into public.handles: duplicate key value violates unique constraint "
            '"handles_handle_key"; isolation.values.handle gives each user one value, but a user needs several '
            "rows; add ${n}, e.g. 'alpha ${n}'",
            "inserted",
            "refused",
            f'INSERT as authenticated; policies: "own" WITH CHECK ({OWN})',
        )
    ]
    assert outcome.notes == []


# One row per user, and only the user's own API session may delete a profile: the seeding role cannot remove
# A's row to make room for A's new one, so the own INSERT is not tried (and B's is not either, silently).
KEPT_SQL = (
    PROFILES_SQL
    + """
CREATE FUNCTION public.kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF current_user <> 'authenticated' THEN RAISE EXCEPTION 'profiles stay'; END IF; RETURN OLD; END $$;
CREATE TRIGGER kept BEFORE DELETE ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.kept();
"""
)


def test_an_own_insert_is_not_tried_when_the_row_of_a_cannot_be_removed(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, KEPT_SQL, PROFILES_CONTRACT, PROFILES)
    assert found(outcome) == []
    assert outcome.notes == ["own INSERT not tried: the existing row of user A in public.profiles could not be removed"]


# user B's note is public (isolation.values), user A's private. Admins read and delete every note; the anonymous
# caller may delete public ones. With the trigger, a public note gets a tag (a child row the test made).
PUBLIC_SQL = f"""{NOTES_SQL}
CREATE POLICY admins_read ON public.notes FOR SELECT TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY admins_delete ON public.notes FOR DELETE TO authenticated USING ({IS_ADMIN_CLAIM});
CREATE POLICY public_drops ON public.notes FOR DELETE TO anon USING (title = 'public');
CREATE TABLE public.tags (note_id bigint NOT NULL REFERENCES public.notes);
"""
TAGS_SQL = """
CREATE FUNCTION public.tag() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN IF NEW.title = 'public' THEN INSERT INTO public.tags VALUES (NEW.id); END IF; RETURN NEW; END $$;
CREATE TRIGGER tag AFTER INSERT ON public.notes FOR EACH ROW EXECUTE FUNCTION public.tag();
"""
PUBLIC_CONTRACT = """
  public.notes:
    isolation: {owner: user_id, read: [admin], values: {title: {A: private, B: public}}%s}
"""


ADMIN_DELETES = f'DELETE as authenticated; policies: "admins_delete" USING {ADMIN_PRINTED}; "own" USING ({OWN})'
TAGS_KEY = 'update or delete on table "notes" violates foreign key constraint "tags_note_id_fkey" on table "tags"'
# Without 'write', admin's DELETEs of B's note are findings; with 'write: {admin: [delete]}' none (nor a note).
# The anonymous caller's DELETE without WHERE takes B's public note only: with its tag, it fails on the key,
# and is tried again, as the anonymous caller, with the tag removed: still no row of A.
ADMIN_DELETED: dict[bool, list[Found]] = {
    False: [
        (
            "isolation.delete_other",
            "user A (admin) deleted 1 row of user B in public.notes (DELETE ... WHERE)",
            "0 rows",
            "1",
            ADMIN_DELETES,
        ),
        (
            "isolation.delete_unfiltered",
            "user A (admin) deleted 1 row of user B in public.notes with a DELETE without WHERE",
            "0 rows of user B",
            "1",
            ADMIN_DELETES,
        ),
    ],
    True: [
        (
            "isolation.delete_other",
            "user A (admin) could delete the row of user B in public.notes (DELETE ... WHERE): the policies let it"
            f" through and only a foreign key refused it ({TAGS_KEY} DETAIL: Key is still referenced from table"
            ' "tags".)',
            "0 rows",
            "row matched, refused by a foreign key",
            ADMIN_DELETES,
        ),
        (
            "isolation.delete_unfiltered",
            "user A (admin) could delete 1 row of user B in public.notes with a DELETE without WHERE: the policies"
            f" let it through and only a foreign key refused it ({TAGS_KEY})",
            "0 rows of user B",
            "1 row matched, refused by a foreign key",
            ADMIN_DELETES,
        ),
    ],
}


@pytest.mark.parametrize("write", ["delete", "none"])
@pytest.mark.parametrize("tags", [False, True])
def test_unfiltered_deletes_of_admin_and_the_anonymous_caller(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, tags: bool, write: str
) -> None:
    schema = PUBLIC_SQL + (TAGS_SQL if tags else "")
    contract = PUBLIC_CONTRACT % (", write: {admin: [delete]}" if write == "delete" else "")
    with session_on(target, run_sql, tmp_path, schema, contract, PRINCIPALS) as session:
        outcome = session.run(NOTES)
    assert found(outcome) == ([] if write == "delete" else ADMIN_DELETED[tags])
    assert outcome.notes == []


# --- s22-matrix-d: probe_own's protected columns (the two UPDATE forms, each column probed) ----------------

# Users add, change and delete their own cards, and may not change their tier nor vip flag (the UPDATE policy
# does not stop it). An UPDATE with WHERE reads the table, so the SELECT policies apply to it too: without
# one (cards A writes but cannot read back) only the UPDATE without WHERE reaches A's card.
CARDS_SQL = f"""
CREATE TYPE public.tier AS ENUM ('free', 'pro');
CREATE TABLE public.cards (
  id int PRIMARY KEY, user_id uuid NOT NULL, tier public.tier NOT NULL DEFAULT 'free',
  vip boolean NOT NULL DEFAULT false, body text
);
ALTER TABLE public.cards ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_add ON public.cards FOR INSERT TO authenticated WITH CHECK ({OWN});
CREATE POLICY own_edit ON public.cards FOR UPDATE TO authenticated USING ({OWN}) WITH CHECK ({OWN});
CREATE POLICY own_drop ON public.cards FOR DELETE TO authenticated USING ({OWN});
"""
CARDS_READ = f"CREATE POLICY own_read ON public.cards FOR SELECT TO authenticated USING ({OWN});"
CARDS_CONTRACT = """
  public.cards:
    isolation: {owner: user_id, allow: [%s], protected: [tier, vip]}
"""
CARDS = QualifiedName("public", "cards")
CARD_EDITS = f'UPDATE as authenticated; policies: "own_edit" USING ({OWN}) WITH CHECK ({OWN})'
CARDS_CASES: dict[str, tuple[str, str, list[Found]]] = {
    # Nothing read: the UPDATE ... WHERE (and the DELETE, and the touch) find no row; the UPDATE without
    # WHERE changes A's card, for each protected column.
    "write only": (
        "",
        "insert",
        [
            (
                "isolation.protected",
                f"user A changed protected column {column} of own row in public.cards from {old!r} to {new!r}"
                " (UPDATE without WHERE)",
                "refused",
                "1 row changed",
                CARD_EDITS,
            )
            for column, old, new in (("tier", "free", "pro"), ("vip", "false", "true"))
        ],
    ),
    # A reads its card: the UPDATE ... WHERE changes it, for each protected column (the form without WHERE
    # is then not tried).
    "readable": (
        CARDS_READ,
        "select, insert, delete",
        [
            (
                "isolation.not_allowed",
                "user A updated own row in public.cards, but 'allow' leaves out update",
                "0 rows",
                "1",
                CARD_EDITS,
            ),
            *(
                (
                    "isolation.protected",
                    f"user A changed protected column {column} of own row in public.cards from {old!r} to"
                    f" {new!r} (UPDATE ... WHERE)",
                    "refused",
                    "1 row changed",
                    CARD_EDITS,
                )
                for column, old, new in (("tier", "free", "pro"), ("vip", "false", "true"))
            ),
        ],
    ),
}


@pytest.mark.parametrize("case", list(CARDS_CASES))
def test_each_protected_column_is_probed_by_an_update_with_then_without_where(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, case: str
) -> None:
    policy, allow, expected = CARDS_CASES[case]
    outcome = run_on(target, run_sql, tmp_path, CARDS_SQL + policy, CARDS_CONTRACT % allow, CARDS)
    assert found(outcome) == expected
    assert outcome.notes == []


# --- s22-matrix-d: probe_views on a table everyone reads, and on one no view reads -----------------------

OPEN_BOARD_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.board (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.board ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.board FOR ALL TO authenticated
  USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());
CREATE POLICY anyone ON public.board FOR SELECT TO authenticated, anon USING (true);
CREATE VIEW public.board_feed AS SELECT id, body FROM public.board;
GRANT SELECT ON public.board_feed TO authenticated, anon;
"""
)
OPEN_BOARD_CONTRACT = NOTES_CONTRACT + "  public.board:\n    isolation: {owner: user_id, read: anon}\n"


def test_no_view_is_probed_on_a_table_everyone_reads_nor_on_one_no_view_reads(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The view of 'read: anon' board (no security_invoker) shows every row, as the table does to everyone:
    nothing to find. (The early return is a shortcut only: tried, each view would be skipped as opened to
    everyone, and a table no view reads has no view to try; see docs/mutation.md.)"""
    with session_on(target, run_sql, tmp_path, OPEN_BOARD_SQL, OPEN_BOARD_CONTRACT) as session:
        board, notes = Matrix(session, QualifiedName("public", "board")), Matrix(session, NOTES)
        assert ([str(v.name) for v in board.views], board.readers, notes.views) == (["public.board_feed"], "anon", ())
        outcomes = [session.run(QualifiedName("public", "board")), session.run(NOTES)]
    assert [(found(o), o.notes) for o in outcomes] == [([], []), ([], [])]


# --- s22-matrix-e: probe_views goes on past each kind of view it skips, and B's row is added as B ---------

# Read by five views, in this (name) order: one declared 'read: anon' (nothing to measure), a materialized copy
# declared 'read: authenticated' (only the anonymous caller is kept out, and it reads the copy), one whose
# every read fails (not tried: the note), one nobody may read, and a definer view. B's extra row gets its
# created_by from auth.uid(): added as B, it is B's (with no identity the INSERT fails).
PAST_SQL = (
    NOTES_SQL
    + """
ALTER TABLE public.notes ADD COLUMN created_by uuid NOT NULL DEFAULT auth.uid();
CREATE VIEW public.a_open AS SELECT id, title FROM public.notes;
CREATE MATERIALIZED VIEW public.b_copy AS SELECT id, title FROM public.notes;
CREATE VIEW public.c_broken AS SELECT id / 0 AS ratio FROM public.notes;
CREATE VIEW public.d_hidden AS SELECT id FROM public.notes;
CREATE VIEW public.feed AS SELECT id, title FROM public.notes;
GRANT SELECT ON public.a_open, public.b_copy, public.c_broken, public.feed TO authenticated, anon;
REVOKE ALL ON public.d_hidden FROM authenticated, anon;
"""
)
PAST_CONTRACT = NOTES_CONTRACT + "views:\n  public.a_open: {read: anon}\n  public.b_copy: {read: authenticated}\n"
B_COPY = "materialized view public.b_copy (a copy of the rows its owner postgres read at its last refresh)"


def test_probe_views_goes_on_past_each_view_it_skips_or_cannot_try(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    outcome = run_on(target, run_sql, tmp_path, PAST_SQL, PAST_CONTRACT, NOTES)
    assert found(outcome) == [
        (
            "isolation.view_anonymous_read",
            f"the anonymous caller read rows of user B in public.notes through {B_COPY}, which the view's"
            " 'read: authenticated' opens to signed-in users only; fix: "
            'REVOKE SELECT ON "public"."b_copy" FROM "anon"',
            "no row of user B",
            COPY,
            ANON_READ,
        ),
        *FEED_FINDINGS,
    ]
    assert outcome.notes == ["view public.c_broken not tried on public.notes: division by zero"]
