"""The isolation session (``IsolationSession`` of rls/matrix.py) on small real throwaway databases: that it needs
the contract's auth section, how it begins its transaction whatever the connection was doing, what it prepares
for the users (the platform's auth.users rows, the test roles), what a table's failed run leaves of it, the
tables it says drew from sequences, and ``check_seed_role`` when the catalog shows no row for ``current_user``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.names import QualifiedName
from pgcontract.rls.identity import RoleImpersonation
from pgcontract.rls.matrix import IsolationSession, check_seed_role
from pgcontract.rls.values import SeedError
from project_tests.test_rls_matrix import NOTES, NOTES_CONTRACT, NOTES_SQL, OWN, contract_of, session_on

INTRANS = psycopg.pq.TransactionStatus.INTRANS


def test_check_seed_role_names_no_role_when_pg_roles_has_no_row_for_current_user(target: Target) -> None:
    """A temporary view is found before pg_catalog's: pg_roles then has no row for current_user."""
    with psycopg.connect(target.dsn) as conn:
        conn.execute("CREATE TEMPORARY VIEW pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE false")
        with pytest.raises(SeedError) as caught:
            check_seed_role(conn.cursor())
    assert str(caught.value) == (
        "role ? does not bypass row level security, so it cannot create test rows for two users: "
        "connect as a role with BYPASSRLS, or name one under auth.seed_role"
    )


def test_a_session_needs_the_contracts_auth_section(target: Target, tmp_path: Path) -> None:
    contract = contract_of(tmp_path, "  public.notes:\n    columns: {id: {type: bigint}}\n", auth="")
    assert contract.auth is None
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        with pytest.raises(SeedError) as caught:
            IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
    assert str(caught.value) == "the contract has no 'auth' section: it says how to impersonate users"


def test_a_session_begins_its_own_read_write_transaction_whatever_the_connection_did(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A connection in a transaction of its own, on a session whose transactions are read-only by default:
    the session rolls that transaction back and begins a read-write one (its test rows are inserted)."""
    run_sql(NOTES_SQL)
    contract = contract_of(tmp_path, NOTES_CONTRACT)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        conn.rollback()
        conn.read_only = None
        conn.execute("SET default_transaction_read_only = on")
        conn.commit()
        conn.execute("SELECT 1")
        assert conn.info.transaction_status == INTRANS
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        try:
            row = session.seeder.row(NOTES, session.a)
            assert session.cur.execute("SELECT current_setting('transaction_read_only')").fetchone() == ("off",)
            assert session.cur.execute("SELECT user_id::text FROM public.notes").fetchall() == [
                (row.values["user_id"],)
            ]
        finally:
            assert session.finish() == []


def test_a_session_raises_the_recursion_limit_to_20_000(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Seeding follows parents of parents recursively: the session lets Python go 20,000 frames deep (never
    lowering a higher limit)."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(1_000)
        with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
            session.cur  # noqa: B018 - begins the transaction
            assert sys.getrecursionlimit() == 20_000
            session.finish()
            sys.setrecursionlimit(30_000)
            session.cur  # noqa: B018 - begins it again
            assert sys.getrecursionlimit() == 30_000
    finally:
        sys.setrecursionlimit(limit)


def test_role_mode_creates_a_role_per_user_and_for_the_anonymous_caller(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    auth = "auth: {mode: role, member_of: [anon, authenticated]}"
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT, auth) as session:
        impersonation = session.impersonation
        assert isinstance(impersonation, RoleImpersonation)
        session.cur.execute(
            "SELECT r.rolname::text, r.rolcanlogin, array_agg(g.rolname::text ORDER BY g.rolname)"
            " FROM pg_roles r JOIN pg_auth_members m ON m.member = r.oid JOIN pg_roles g ON g.oid = m.roleid"
            " WHERE r.rolname = ANY (%s) GROUP BY r.rolname, r.rolcanlogin",
            [[session.a.identity, session.b.identity, impersonation.nobody.identity]],
        )
        created = {name: (login, member_of) for name, login, member_of in session.cur.fetchall()}
        assert created == {
            session.a.identity: (False, ["anon", "authenticated"]),
            session.b.identity: (False, ["anon", "authenticated"]),
            impersonation.nobody.identity: (False, ["anon", "authenticated"]),
        }
        assert session.a.identity == f"pgcontract_a_{impersonation.suffix}"
        assert session.b.identity == f"pgcontract_b_{impersonation.suffix}"


SUPABASE_USERS = """
ALTER TABLE auth.users ADD COLUMN aud varchar(255), ADD COLUMN email_confirmed_at timestamptz;
ALTER TABLE auth.users ALTER COLUMN role DROP DEFAULT, ALTER COLUMN raw_app_meta_data DROP DEFAULT,
  ALTER COLUMN raw_user_meta_data DROP DEFAULT;
"""
USERS_ROW = (
    "SELECT email, aud, role, raw_app_meta_data, raw_user_meta_data, email_confirmed_at = now() FROM auth.users"
    " WHERE id = %s"
)


def test_each_user_is_an_auth_users_row_as_supabase_auth_makes_it(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """An e-mail sign-up, confirmed: audience, role, the metadata of both kinds, confirmed in this transaction."""
    auth = "auth: {mode: supabase, user_role: s23_member, claims: {app_metadata: {tier: gold}}}"
    with session_on(target, run_sql, tmp_path, NOTES_SQL + SUPABASE_USERS, NOTES_CONTRACT, auth) as session:
        for user in (session.a, session.b):
            email = user.extra["email"]
            assert session.cur.execute(USERS_ROW, [user.identity]).fetchall() == [
                (
                    email,
                    "authenticated",
                    "s23_member",
                    {"provider": "email", "providers": ["email"], "tier": "gold"},
                    {"sub": user.identity, "email": email, "email_verified": True, "phone_verified": False},
                    True,
                )
            ]


GENERATED_USERS = """
ALTER TABLE auth.users ADD COLUMN aud text GENERATED ALWAYS AS ('aud of ' || email) STORED,
  ADD COLUMN email_confirmed_at text;
"""


def test_a_generated_column_of_auth_users_is_left_to_postgresql(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """aud computed by PostgreSQL is not written; a text email_confirmed_at holds the value as given."""
    with session_on(target, run_sql, tmp_path, NOTES_SQL + GENERATED_USERS, NOTES_CONTRACT) as session:
        for user in (session.a, session.b):
            statement = "SELECT aud, email_confirmed_at FROM auth.users WHERE id = %s"
            email = user.extra["email"]
            assert session.cur.execute(statement, [user.identity]).fetchall() == [(f"aud of {email}", "now")]


REFUSED = QualifiedName("public", "refused")
REFUSED_SQL = (
    NOTES_SQL
    + """
CREATE TABLE public.refused (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id uuid NOT NULL);
CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'no test rows here';
END
$$;
CREATE TRIGGER refuse BEFORE INSERT ON public.refused FOR EACH ROW EXECUTE FUNCTION public.refuse();
"""
)
REFUSED_CONTRACT = NOTES_CONTRACT + "  public.refused:\n    isolation: {owner: user_id}\n"


def test_a_table_whose_rows_cannot_be_made_leaves_the_session_going(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The failed seeding is undone to its savepoint: the transaction is healthy, so it goes on with the users
    and rows made before (the same seeder), and the next table's run reuses them."""
    with session_on(target, run_sql, tmp_path, REFUSED_SQL, REFUSED_CONTRACT) as session:
        session.run(NOTES)
        seeder = session.seeder
        rows = {k: list(v) for k, v in seeder.rows.items()}
        with pytest.raises(SeedError) as caught:
            session.run(REFUSED)
        assert str(caught.value) == (
            "cannot create a test row in public.refused: no test rows here, in trigger refuse on public.refused"
            " (function public.refuse)"
        )
        assert session.conn.info.transaction_status == INTRANS
        assert session.seeder is seeder
        assert seeder.rows == rows
        assert session.cur.execute("SELECT count(*) FROM public.notes").fetchone() == (2,)
        session.run(NOTES)
        assert session.seeder is seeder
        assert seeder.rows == rows


PROFILES = QualifiedName("public", "profiles")
PROFILES_SQL = f"""
CREATE TABLE public.profiles (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id uuid NOT NULL UNIQUE REFERENCES auth.users,
  name text
);
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.profiles FOR ALL TO authenticated USING ({OWN}) WITH CHECK ({OWN});
CREATE FUNCTION public.new_profile() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.profiles (user_id) VALUES (new.id);
  RETURN new;
END
$$;
CREATE TRIGGER new_profile AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.new_profile();
"""


def test_a_table_run_whose_rows_a_trigger_made_drew_from_its_sequence(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The signup trigger made each user's profile (the seeder adopted them, it inserted none): the run's table
    is still named, its probes' INSERTs and the trigger's drew from the identity's sequence."""
    contract = "  public.profiles:\n    isolation: {owner: user_id}\n"
    with session_on(target, run_sql, tmp_path, PROFILES_SQL, contract) as session:
        outcome = session.run(PROFILES)
        assert outcome.violations == []
        assert PROFILES not in session.seeder.inserted_into
        assert session.sequence_columns() == ["public.profiles.id"]


NO_USER_B = "ALTER TABLE auth.users ADD CONSTRAINT no_b CHECK (email NOT LIKE 'pgcontract-b-%');"


def test_finish_proves_what_a_session_that_failed_to_begin_left(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """User B's auth.users row fails while the session begins (user A's was made): the run raises, and the
    proof that nothing was left, when the session finishes, still covers the tables counted as it began
    (here a row another connection committed meanwhile)."""
    with session_on(target, run_sql, tmp_path, NOTES_SQL + NO_USER_B, NOTES_CONTRACT) as session:
        with pytest.raises(SeedError) as caught:
            session.run(NOTES)
        assert str(caught.value).startswith(
            "cannot create user B in auth.users: CHECK no_b ((email !~~ 'pgcontract-b-%'::text)) refused the row;"
        )
        with psycopg.connect(target.dsn) as other:
            other.execute("INSERT INTO public.notes (user_id, title) VALUES (gen_random_uuid(), 'meanwhile')")
        assert session.finish() == ["public.notes holds 1 rows, 0 before the test"]
