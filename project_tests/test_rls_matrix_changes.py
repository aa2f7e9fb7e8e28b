"""The isolation matrix's counting of changed rows and the probes around it, pinned where the mutation run of
rls/matrix (issue 15) found them loose: ``changed_by_current`` counting as a seed role that is not the
connecting one, and stopping when the switch back to the seeding role did not take; the exact finding of the
caller with the setting never set (and none on a table everyone may read); the value ``protected_values``
writes into a protected column whose type has no labels; ``unfiltered_changes`` naming a key's refusal that
has no message."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.matrix import ImpersonationFailed, Matrix, NeverSet, Outcome
from project_tests.test_rls_matrix import (
    NOTES,
    NOTES_CONTRACT,
    NOTES_SQL,
    SEEDER_SQL,
    SETTING,
    found,
    session_on,
)
from project_tests.test_rls_principals import NEVER_SET, SETTING_SQL, TENANT

UNFILTERED = [
    sql.Composed([sql.SQL("UPDATE public.notes SET body = 'x'")]),
    sql.Composed([sql.SQL("DELETE FROM public.notes")]),
]


def test_changed_by_current_counts_as_the_contracts_seed_role(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The count after each statement switches to ``auth.seed_role`` (not back to the connecting role): the
    rows A's statements changed, counted past RLS, and the role it counted as is that one."""
    auth = "auth: {mode: supabase, seed_role: h20a_seeder}"
    with session_on(target, run_sql, tmp_path, SEEDER_SQL, NOTES_CONTRACT, auth) as session:
        notes = Matrix(session, NOTES)
        assert notes.seeder_role == "h20a_seeder"
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        versions = notes.versions([a, b])
        with notes.savepoint():
            notes.become(session.a)
            assert notes.changed_by_current(UNFILTERED, versions) == [1, 1]
            assert notes.changed_by_current(UNFILTERED, [versions[1]]) == [0, 0]
        assert notes.versions([a, b]) == versions


def test_changed_by_current_stops_when_the_seed_role_did_not_take(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """After the statement, the count switches to the seeding role and reads ``current_user`` back: a switch
    that ended in another role stops the run, naming both. 'none' is the one name set_config('role') takes
    without ending in a role of that name (it goes back to the session's user), so it stands for a switch
    that did not take."""
    with session_on(target, run_sql, tmp_path, NOTES_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        (user,) = session.cur.execute("SELECT session_user::text").fetchone() or ("?",)
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        versions = notes.versions([a, b])
        notes.seeder_role = "none"
        with notes.savepoint():
            notes.become(session.a)
            with pytest.raises(ImpersonationFailed) as caught:
                notes.changed_by_current(UNFILTERED, versions)
        assert str(caught.value) == f"switched to role 'none' but current_user is {user!r}"


OPENS_ON_NULL = "current_setting('app.tenant_id', true) IS NULL"
# docs: a SELECT policy that opens on NULL alone, beside the tenant's own policy (FOR ALL). board: every
# caller may read every row (so may the one with the setting never set), its writes are the tenant's.
NEVER_SET_SQL = (
    SETTING_SQL
    + f"""
CREATE POLICY docs_open ON public.docs FOR SELECT TO docs_app USING ({OPENS_ON_NULL});
CREATE TABLE public.board (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text);
ALTER TABLE public.board ENABLE ROW LEVEL SECURITY;
CREATE POLICY board_read ON public.board FOR SELECT TO docs_app USING (true);
CREATE POLICY board_write ON public.board FOR ALL TO docs_app USING (tenant_id = {TENANT})
  WITH CHECK (tenant_id = {TENANT});
GRANT SELECT, INSERT, UPDATE, DELETE ON public.board TO docs_app;
GRANT USAGE ON SEQUENCE public.board_id_seq TO docs_app;
"""
)
NEVER_SET_TABLES = """
  public.docs:
    isolation: {owner: tenant_id}
  public.board:
    isolation: {owner: tenant_id, read: anon}
"""


DOCS_OPEN = "\"docs_open\" USING (current_setting('app.tenant_id'::text, true) IS NULL)"
TENANT_DOCS = (
    "\"tenant_docs\" USING (tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"
)


def run_never_set(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, table: str
) -> tuple[NeverSet | str | None, Outcome]:
    """What the caller with the setting never set did on ``table`` (measured when the session began), and
    the table's outcome."""
    name = QualifiedName("public", table)
    with session_on(target, run_sql, tmp_path, NEVER_SET_SQL, NEVER_SET_TABLES, SETTING) as session:
        outcome = session.run(name)
        assert session.never_set is not None
        return session.never_set[name], outcome


def test_the_never_set_caller_s_read_is_reported_exactly(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """It read A's row through a SELECT policy opening on NULL: the finding says how many rows, expected
    none, and names the SELECT policies in force for its role (the FOR SELECT one too, not only FOR ALL)."""
    seen, docs = run_never_set(target, run_sql, tmp_path, "docs")
    assert seen == NeverSet(1, False, 0, 0)
    assert found(docs) == [
        (
            "isolation.anonymous_read",
            f"{NEVER_SET} read 1 row of user A in public.docs",
            "0 rows",
            "1",
            f"SELECT as docs_app; policies: {DOCS_OPEN}; {TENANT_DOCS}",
        )
    ]
    assert docs.notes == []


def test_the_never_set_caller_may_read_a_table_everyone_reads(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """On a table declared 'read: anon', the caller with the setting never set reading A's row is no finding."""
    seen, board = run_never_set(target, run_sql, tmp_path, "board")
    assert seen == NeverSet(1, False, 0, 0)
    assert found(board) == []
    assert board.notes == []


LEVELS_SQL = (
    NOTES_SQL
    + """
CREATE TYPE public.rank AS ENUM ('r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8');
ALTER TABLE public.notes ADD COLUMN level numeric NOT NULL DEFAULT 1,
  ADD COLUMN rank public.rank NOT NULL DEFAULT 'r1';
"""
)


def test_a_protected_column_without_labels_gets_the_last_of_eight_values(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The options are the first eight values ``generate`` makes (n = 0 to 7), the last other one taken: for
    numeric, whose values never repeat, '7'; for an enum of eight labels, its last label."""
    tables = "  public.notes:\n    isolation: {owner: user_id, protected: [level, rank]}\n"
    with session_on(target, run_sql, tmp_path, LEVELS_SQL, tables) as session:
        notes = Matrix(session, NOTES)
        row_a = session.seeder.row(NOTES, session.a)
        assert (row_a.values["level"], row_a.values["rank"]) == ("1", "r1")
        assert notes.protected_values(row_a, session.b) == {"level": "7", "rank": "r8"}


# A DELETE refused as by a foreign key (the SQLSTATE of one) with no message: a key emulated by a trigger.
EMPTY_REFUSAL_SQL = (
    NOTES_SQL
    + """
CREATE FUNCTION public.refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = '';
END $$;
CREATE TRIGGER refuse_delete BEFORE DELETE ON public.notes FOR EACH STATEMENT EXECUTE FUNCTION public.refuse_delete();
"""
)


def test_a_key_refusal_without_a_message_is_named_by_the_error_s_text(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A refusal with the SQLSTATE of a foreign key but an empty primary message (PostgreSQL sends what the
    RAISE gave) is named by the error's whole text, on one line: here only its CONTEXT. The DELETE is tried
    again with the (no) child rows removed, refused again, so it is not judged."""
    with session_on(target, run_sql, tmp_path, EMPTY_REFUSAL_SQL, NOTES_CONTRACT) as session:
        notes = Matrix(session, NOTES)
        a, b = session.seeder.row(NOTES, session.a), session.seeder.row(NOTES, session.b)
        versions = notes.versions([b])
        with notes.savepoint():
            notes.become(session.a)
            changes = notes.unfiltered_changes(a, [b], versions, lambda: notes.become(session.a), "user A")
    assert changes == (0, 0, None)
    assert notes.outcome.notes == [
        "user A's DELETE without WHERE on public.notes not judged: a foreign key refused it (CONTEXT: PL/pgSQL"
        " function refuse_delete() line 3 at RAISE), also with the child rows of the test's rows removed (rows"
        " the test did not make hold the key)"
    ]
