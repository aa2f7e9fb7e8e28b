"""The erasure proof (issue 14): a user and rows of that user in every table holding personal data,
deleted as Supabase deletes it (``DELETE FROM auth.users``), in a transaction always rolled back; and the
static ``erasure_foreign_keys`` lint. The seed's chat schema passes; a broken cascade, an undeclared or
blocking SET NULL, a missing foreign key and a row a trigger keeps each fail, naming table and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, ContractError, load_contract
from pgcontract.findings import Finding, Level
from pgcontract.lints import run_lints
from pgcontract.rls.erasure import ErasureOutcome, ErasureProof, run_erasure
from pgcontract.rls.matrix import IsolationSession
from pgcontract.rls.personal import scope_of
from pgcontract.targetrun import erasure_findings
from project_tests.helpers import CHAT_CONTRACT, CHAT_SQL, run_cli
from project_tests.rule_check import assert_only_rule

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"
MESSAGES_FK = "sam_conversation_messages_thread_id_fkey"
CASCADE_TO_THREADS = "references: public.sam_conversation_threads(id), on_delete: cascade"

AUDIT_SQL = """
CREATE TABLE public.audit_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor_id uuid CONSTRAINT audit_events_actor_id_fkey REFERENCES auth.users (id) ON DELETE {action},
  action text NOT NULL
);
CREATE INDEX audit_events_actor_id_idx ON public.audit_events (actor_id);
REVOKE ALL ON public.audit_events FROM anon, authenticated;
"""
AUDIT_CONTRACT = """
  public.audit_events:
    columns:
      id:       {{type: uuid, nullable: false, default: gen_random_uuid()}}
      actor_id: {{type: uuid, nullable: true}}
      action:   {{type: text, nullable: false}}
    primary_key: [id]
    foreign_keys:
      - {{columns: [actor_id], references: auth.users(id), on_delete: {action}}}
    indexes:
      audit_events_actor_id_idx: {{columns: [actor_id]}}
    grants: {{anon: [], authenticated: []}}
{erasure}"""


def chat_contract(tmp_path: Path, *replacements: tuple[str, str], extra: str = "") -> Contract:
    text = CHAT_CONTRACT.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "tables.yaml"
    path.write_text(text + extra, encoding="utf-8")
    return load_contract(path)


def prove(target: Target, contract: Contract) -> tuple[ErasureOutcome, list[Finding]]:
    """The erasure proof, and every error the schema checks and lints report besides it."""
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        outcome = run_erasure(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
    assert outcome is not None
    others = [f for f in run_checks(contract, snapshot).findings if f.level is Level.ERROR]
    others += [f for f in run_lints(snapshot, contract) if f.level is Level.ERROR]
    return outcome, others


def proof_findings(outcome: ErasureOutcome) -> list[tuple[str, str, Level]]:
    return [(f.rule, f.owner, f.level) for f in erasure_findings(outcome)]


def counts(target: Target) -> tuple[object, ...]:
    with psycopg.connect(target.dsn) as conn:
        row = conn.execute(
            f"SELECT (SELECT count(*) FROM auth.users), (SELECT count(*) FROM {THREADS}),"
            f" (SELECT count(*) FROM {MESSAGES})"
        ).fetchone()
        assert row is not None
        return tuple(row)


def test_the_chat_schema_passes_and_leaves_nothing_behind(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """A real user with a thread and a message stays; the test's user, threads and messages are gone."""
    run_sql(
        "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-0000000000aa', 'real@example.invalid');"
        f"INSERT INTO {THREADS} (id, user_id, title, thread_type) VALUES"
        " ('00000000-0000-0000-0000-0000000000bb', '00000000-0000-0000-0000-0000000000aa', 't', 'sales');"
        f"INSERT INTO {MESSAGES} (thread_id, role, content) VALUES"
        " ('00000000-0000-0000-0000-0000000000bb', 'user', 'hello');"
    )
    before = counts(chat_db)
    outcome, others = prove(chat_db, load_contract(CHAT_CONTRACT))
    assert [str(t) for t in outcome.tables] == [THREADS, MESSAGES]
    assert proof_findings(outcome) == []
    assert others == []
    assert counts(chat_db) == before == (1, 1, 1)


@pytest.mark.rule("lint.erasure_foreign_keys")
@pytest.mark.parametrize("deferred", [False, True], ids=["immediate", "deferred"])
def test_a_message_key_without_cascade_fails_naming_table_and_key(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path, deferred: bool
) -> None:
    """A deferred key would only refuse at COMMIT, which the proof never reaches: it is checked at once."""
    deferral = " DEFERRABLE INITIALLY DEFERRED" if deferred else ""
    run_sql(
        f"ALTER TABLE {MESSAGES} DROP CONSTRAINT {MESSAGES_FK},"
        f" ADD CONSTRAINT {MESSAGES_FK} FOREIGN KEY (thread_id) REFERENCES {THREADS} (id){deferral}"
    )
    no_action = CASCADE_TO_THREADS.replace("cascade", "no action") + (", initially: deferred" if deferred else "")
    contract = chat_contract(tmp_path, (CASCADE_TO_THREADS, no_action))
    before = counts(chat_db)
    outcome, others = prove(chat_db, contract)
    assert proof_findings(outcome) == [("erasure.rows_remain", MESSAGES, Level.ERROR)]
    message = outcome.violations[0].message
    assert message.startswith(f"{MESSAGES}: 1 row of the deleted user would remain: foreign key {MESSAGES_FK}")
    assert f"to {THREADS} is ON DELETE NO ACTION" in message
    assert [(f.rule, f.object, f.level) for f in others] == [
        ("lint.erasure_foreign_keys", f"{MESSAGES}.{MESSAGES_FK}", Level.ERROR)
    ]
    # The static run (schema checks and lints) finds the key alone; the proof is a run of its own (--rls-live).
    assert_only_rule(others, "lint.erasure_foreign_keys", obj=f"{MESSAGES}.{MESSAGES_FK}")
    assert_only_rule(erasure_findings(outcome), "erasure.rows_remain", obj=MESSAGES)
    assert others[0].fix is not None
    assert "ON DELETE CASCADE" in others[0].fix.sql
    assert counts(chat_db) == before


@pytest.mark.parametrize(
    ("action", "declared", "expected"),
    [
        ("set null", True, []),
        ("no action", True, [("erasure.not_cleared", "public.audit_events", Level.ERROR)]),
        ("restrict", True, [("erasure.not_cleared", "public.audit_events", Level.ERROR)]),
        ("set null", False, [("erasure.rows_remain", "public.audit_events", Level.ERROR)]),
    ],
    ids=["set-null-declared", "no-action-declared", "restrict-declared", "set-null-undeclared"],
)
@pytest.mark.rule("erasure.not_cleared")
def test_a_column_declared_for_clearing(
    chat_db: Target,
    run_sql: Callable[[str], None],
    tmp_path: Path,
    action: str,
    declared: bool,
    expected: list[tuple[str, str, Level]],
) -> None:
    """An audit row outlives its actor with actor_id cleared: only ON DELETE SET NULL on a column declared
    under erasure.set_null does it; NO ACTION / RESTRICT block the delete; an undeclared SET NULL keeps a
    row the contract never said may stay."""
    run_sql(AUDIT_SQL.format(action=action.upper()))
    erasure = "    erasure: {set_null: [actor_id]}\n" if declared else ""
    contract = chat_contract(tmp_path, extra=AUDIT_CONTRACT.format(action=action, erasure=erasure))
    outcome, others = prove(chat_db, contract)
    assert "public.audit_events" in [str(t) for t in outcome.tables]
    assert proof_findings(outcome) == expected
    if expected:
        message = outcome.violations[0].message
        assert "audit_events_actor_id_fkey to auth.users" in message
        assert f"ON DELETE {action.upper()}" in message
        assert [(f.rule, f.object) for f in others] == [
            ("lint.erasure_foreign_keys", "public.audit_events.audit_events_actor_id_fkey")
        ]
        # The key that leaves a declared column uncleared (or keeps the row) is the static lint's defect too:
        # the same key is both, so the lint comes with it.
        assert_only_rule(
            erasure_findings(outcome) + others,
            expected[0][0],
            obj="public.audit_events",
            also=["lint.erasure_foreign_keys"],
        )
    else:
        assert others == []


def test_an_owner_column_without_a_foreign_key_fails_naming_the_missing_key(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(
        f"ALTER TABLE {THREADS} DROP CONSTRAINT sam_conversation_threads_user_id_fkey;"
        f"ALTER TABLE {MESSAGES} DROP CONSTRAINT {MESSAGES_FK},"
        f" ADD CONSTRAINT {MESSAGES_FK} FOREIGN KEY (thread_id) REFERENCES {THREADS} (id) ON DELETE CASCADE"
    )
    fk = "    foreign_keys:\n      - {columns: [user_id], references: auth.users(id), on_delete: cascade}\n"
    contract = chat_contract(tmp_path, (fk, ""))
    outcome, others = prove(chat_db, contract)
    # The thread stays, so its message does too: both named, each by what kept it.
    assert proof_findings(outcome) == [
        ("erasure.rows_remain", THREADS, Level.ERROR),
        ("erasure.rows_remain", MESSAGES, Level.ERROR),
    ]
    assert "user_id has no foreign key to auth.users" in outcome.violations[0].message
    assert f"{MESSAGES_FK} to {THREADS} is ON DELETE CASCADE, yet the row was not deleted" in (
        outcome.violations[1].message
    )
    assert [(f.rule, f.object) for f in others] == [("lint.erasure_foreign_keys", f"{THREADS} (user_id)")]


@pytest.mark.rule("erasure.rows_remain")
def test_a_row_a_trigger_keeps_makes_the_proof_fail(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """Planted on purpose: a BEFORE DELETE trigger that keeps messages. The cascade is right, so the lint
    is silent; only deleting a user shows that the message survives its thread."""
    run_sql(
        "CREATE FUNCTION public.keep_messages() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
        f"CREATE TRIGGER keep_messages BEFORE DELETE ON {MESSAGES}"
        " FOR EACH ROW EXECUTE FUNCTION public.keep_messages();"
    )
    before = counts(chat_db)
    outcome, others = prove(chat_db, load_contract(CHAT_CONTRACT))
    assert proof_findings(outcome) == [("erasure.rows_remain", MESSAGES, Level.ERROR)]
    assert_only_rule(erasure_findings(outcome) + others, "erasure.rows_remain", obj=MESSAGES)
    assert outcome.violations[0].message == (
        f"{MESSAGES}: 1 row of the deleted user remains: foreign key {MESSAGES_FK} to {THREADS} is ON DELETE "
        "CASCADE, yet the row was not deleted (a trigger or rule kept it)"
    )
    assert others == []
    assert counts(chat_db) == before


@pytest.mark.rule("erasure.user_remains")
def test_a_trigger_that_keeps_the_user_fails(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(
        "CREATE FUNCTION public.keep_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;"
        "CREATE TRIGGER keep_users BEFORE DELETE ON auth.users FOR EACH ROW EXECUTE FUNCTION public.keep_users();"
    )
    outcome, others = prove(chat_db, load_contract(CHAT_CONTRACT))
    assert proof_findings(outcome) == [("erasure.user_remains", "auth.users", Level.ERROR)]
    assert_only_rule(erasure_findings(outcome) + others, "erasure.user_remains", obj="auth.users")
    assert "removed 0 rows: a trigger or rule kept the user" in outcome.violations[0].message


@pytest.mark.rule("erasure.delete_failed")
def test_a_trigger_that_refuses_deleting_the_user_fails(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """Not a foreign key: the delete itself raises; the proof says so and stops (nothing to unblock)."""
    run_sql(
        "CREATE FUNCTION public.refuse_delete() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'users are never deleted here'; END $$;"
        "CREATE TRIGGER refuse_delete BEFORE DELETE ON auth.users"
        " FOR EACH ROW EXECUTE FUNCTION public.refuse_delete();"
    )
    before = counts(chat_db)
    outcome, others = prove(chat_db, load_contract(CHAT_CONTRACT))
    assert_only_rule(erasure_findings(outcome) + others, "erasure.delete_failed", obj="auth.users")
    assert "users are never deleted here" in outcome.violations[0].message
    assert counts(chat_db) == before


@pytest.mark.rule("erasure.left_behind")
def test_a_row_committed_by_another_session_during_the_proof_is_left_behind(chat_db: Target) -> None:
    """The proof itself passes; a row another session commits meanwhile outlives the rollback, and the
    count after it must say so (the same steps as run_erasure, with the row committed before finishing)."""
    contract = load_contract(CHAT_CONTRACT)
    with connect(chat_db) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        scope = scope_of(contract, snapshot)
        assert scope is not None
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        session.never_set = {}
        outcome = ErasureProof(session, scope).run()
        assert outcome.violations == []
        with psycopg.connect(chat_db.dsn, autocommit=True) as other:
            user = other.execute("INSERT INTO auth.users (id) VALUES (gen_random_uuid()) RETURNING id").fetchone()
            assert user is not None
            other.execute(f"INSERT INTO {THREADS} (user_id, title, thread_type) VALUES (%s, 'x', 'chat')", [user[0]])
        outcome.left_behind = session.finish()
    assert_only_rule(erasure_findings(outcome), "erasure.left_behind", obj="auth.users")
    assert any(THREADS in line for line in outcome.left_behind), outcome.left_behind


def test_erasure_needs_a_users_table_outside_supabase(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("auth: {mode: role}\nerasure: {}\ntables: {public.t: {columns: {id: {type: int}}}}\n")
    with pytest.raises(ContractError, match="erasure needs 'users'"):
        load_contract(path)


def test_check_runs_the_proof_only_with_rls_live(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    """Against a DSN: skipped without --rls-live; with it, a broken cascade fails the run naming the key."""
    run_sql(
        f"ALTER TABLE {MESSAGES} DROP CONSTRAINT {MESSAGES_FK},"
        f" ADD CONSTRAINT {MESSAGES_FK} FOREIGN KEY (thread_id) REFERENCES {THREADS} (id)"
    )
    quiet = run_cli("check", "--dsn", chat_db.dsn, "--", "-rs", "-k", "test_erasure")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "pass --rls-live to run it on" in quiet.stdout
    live = run_cli("check", "--dsn", chat_db.dsn, "--rls-live", "--", "-k", "test_erasure")
    assert live.returncode == 1, live.stdout + live.stderr
    assert f"[erasure.rows_remain] {MESSAGES}: 1 row of the deleted user would remain: foreign key {MESSAGES_FK}" in (
        live.stdout
    )


def test_the_embedded_default_runs_the_proof() -> None:
    """``pgcontract check --rls-live`` with no DSN: the seed's chat schema passes the proof."""
    done = run_cli("check", "--rls-live", "--", "-v", "-k", "erasure")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test_erasure[embedded] PASSED" in done.stdout
    assert "test_lint[erasure_foreign_keys] PASSED" in done.stdout
    assert CHAT_SQL.exists()


# --- outside Supabase auth: a plain-PostgreSQL app with its own users table and a setting for the caller ---

PLAIN_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plain_app') THEN CREATE ROLE plain_app NOLOGIN; END IF;
END $$;
GRANT plain_app TO CURRENT_USER;
CREATE TABLE public.app_users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE public.teams (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.team_members (
  team_id bigint NOT NULL REFERENCES public.teams (id) ON DELETE CASCADE,
  user_id bigint NOT NULL CONSTRAINT team_members_user_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user_id_idx ON public.team_members (user_id);
CREATE TABLE public.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id bigint NOT NULL CONSTRAINT notes_owner_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  body text NOT NULL
);
CREATE INDEX notes_owner_id_idx ON public.notes (owner_id);
CREATE TABLE public.note_tags (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note_id bigint NOT NULL CONSTRAINT note_tags_note_id_fkey REFERENCES public.notes (id) ON DELETE CASCADE,
  tag text NOT NULL
);
CREATE INDEX note_tags_note_id_idx ON public.note_tags (note_id);
CREATE TABLE public.team_posts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  team_id bigint NOT NULL REFERENCES public.teams (id) ON DELETE CASCADE,
  author_id bigint CONSTRAINT team_posts_author_id_fkey REFERENCES public.app_users (id) ON DELETE SET NULL,
  body text NOT NULL
);
CREATE INDEX team_posts_team_id_idx ON public.team_posts (team_id);
CREATE INDEX team_posts_author_id_idx ON public.team_posts (author_id);
CREATE TABLE public.post_reactions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  post_id bigint NOT NULL REFERENCES public.team_posts (id) ON DELETE CASCADE,
  emoji text NOT NULL
);
CREATE INDEX post_reactions_post_id_idx ON public.post_reactions (post_id);
GRANT USAGE ON SCHEMA public TO plain_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.teams, public.team_members, public.notes, public.note_tags,
  public.team_posts, public.post_reactions TO plain_app;
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.note_tags ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.team_posts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON public.notes TO plain_app
  USING (owner_id = nullif(current_setting('app.user_id', true), '')::bigint);
CREATE POLICY own_note_tags ON public.note_tags TO plain_app
  USING (EXISTS (SELECT 1 FROM public.notes n WHERE n.id = note_id));
CREATE POLICY member_posts ON public.team_posts TO plain_app
  USING (team_id IN (SELECT m.team_id FROM public.team_members m
                     WHERE m.user_id = nullif(current_setting('app.user_id', true), '')::bigint));
"""
PLAIN_CONTRACT = """
version: 1
auth: {mode: setting, role: plain_app, setting: app.user_id}
erasure: {users: public.app_users}
tables:
  public.notes:
    columns: {id: {type: bigint}, owner_id: {type: bigint}, body: {type: text}}
    foreign_keys: [{columns: [owner_id], references: public.app_users(id), on_delete: cascade}]
    isolation: {owner: owner_id}
  public.note_tags:
    columns: {id: {type: bigint}, note_id: {type: bigint}, tag: {type: text}}
    foreign_keys: [{columns: [note_id], references: public.notes(id), on_delete: cascade}]
    isolation: {via: note_id}
  public.team_posts:
    columns: {id: {type: bigint}, team_id: {type: bigint}, author_id: {type: bigint}, body: {type: text}}
    foreign_keys:
      - {columns: [team_id], references: public.teams(id), on_delete: cascade}
      - {columns: [author_id], references: public.app_users(id), on_delete: set null}
    isolation:
      owner: team_id
      membership: {table: public.team_members, tenant: team_id, user: user_id}
    erasure: {set_null: [author_id]}
  public.post_reactions:
    columns: {id: {type: bigint}, post_id: {type: bigint}, emoji: {type: text}}
    foreign_keys: [{columns: [post_id], references: public.team_posts(id), on_delete: cascade}]
    isolation: {via: post_id}
"""
NOTES = "public.notes"
NOTE_TAGS = "public.note_tags"
MEMBERS = "public.team_members"
POSTS = "public.team_posts"


def plain_app(target: Target, run_sql: Callable[[str], None], tmp_path: Path, *statements: str) -> Contract:
    run_sql(PLAIN_SQL + "".join(statements))
    path = tmp_path / "plain.yaml"
    path.write_text(PLAIN_CONTRACT, encoding="utf-8")
    return load_contract(path)


def plain_counts(target: Target) -> tuple[object, ...]:
    with psycopg.connect(target.dsn) as conn:
        tables = ("public.app_users", "public.teams", MEMBERS, NOTES, NOTE_TAGS, POSTS)
        row = conn.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)).fetchone()
        assert row is not None
        return tuple(row)


def test_a_plain_postgresql_app_passes(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    """Setting auth, its own users table, a membership table, a SET NULL column declared for clearing:
    every personal table is seeded, the user is deleted from public.app_users, nothing of the user stays.
    A reaction to a team post is not the post author's: the post outlives its author (author_id cleared),
    so its reactions are left out of the proof rather than reported as remaining."""
    contract = plain_app(target, run_sql, tmp_path)
    before = plain_counts(target)
    outcome, others = prove(target, contract)
    assert str(outcome.users) == "public.app_users"
    assert sorted(str(t) for t in outcome.tables) == sorted([MEMBERS, NOTES, NOTE_TAGS, POSTS])
    assert proof_findings(outcome) == []
    assert [f for f in others if f.rule.startswith("lint.erasure")] == []
    assert plain_counts(target) == before


@pytest.mark.parametrize(
    ("table", "constraint", "broken", "rule"),
    [
        (NOTES, "notes_owner_id_fkey", "owner_id) REFERENCES public.app_users (id)", "erasure.rows_remain"),
        (MEMBERS, "team_members_user_id_fkey", "user_id) REFERENCES public.app_users (id)", "erasure.rows_remain"),
        (POSTS, "team_posts_author_id_fkey", "author_id) REFERENCES public.app_users (id)", "erasure.not_cleared"),
    ],
    ids=["owner-key", "membership-user-key", "set-null-column-key"],
)
def test_a_plain_postgresql_key_without_its_on_delete_fails_naming_table_and_key(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, table: str, constraint: str, broken: str, rule: str
) -> None:
    """The owner's key, the membership table's user key, the declared-cleared column's key: each without
    its ON DELETE blocks deleting the user from public.app_users; the proof and the lint name table and key."""
    contract = plain_app(
        target,
        run_sql,
        tmp_path,
        f"ALTER TABLE {table} DROP CONSTRAINT {constraint}, ADD CONSTRAINT {constraint} FOREIGN KEY ({broken};",
    )
    before = plain_counts(target)
    outcome, others = prove(target, contract)
    assert proof_findings(outcome) == [(rule, table, Level.ERROR)]
    message = outcome.violations[0].message
    assert message.startswith(f"{table}: ")
    assert f"foreign key {constraint} to public.app_users is ON DELETE NO ACTION" in message
    assert "(deleting the user from public.app_users failed on it)" in message
    assert [(f.rule, f.object) for f in others if f.rule.startswith("lint.erasure")] == [
        ("lint.erasure_foreign_keys", f"{table}.{constraint}")
    ]
    assert plain_counts(target) == before


def test_check_runs_the_plain_postgresql_proof_with_rls_live(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Through the CLI against a DSN: the membership table's broken key fails the run, named."""
    plain_app(
        target,
        run_sql,
        tmp_path,
        f"ALTER TABLE {MEMBERS} DROP CONSTRAINT team_members_user_id_fkey, ADD CONSTRAINT team_members_user_id_fkey"
        " FOREIGN KEY (user_id) REFERENCES public.app_users (id);",
    )
    contract = str(tmp_path / "plain.yaml")
    live = run_cli("check", "--dsn", target.dsn, "--contract", contract, "--rls-live", "--", "-k", "test_erasure")
    assert live.returncode == 1, live.stdout + live.stderr
    assert "deleting a user from public.app_users: 1 erasure failure" in live.stdout
    assert f"[erasure.rows_remain] {MEMBERS}: 1 row of the deleted user would remain: foreign key" in live.stdout
    assert "team_members_user_id_fkey to public.app_users is ON DELETE NO ACTION" in live.stdout
