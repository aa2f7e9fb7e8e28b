"""The erasure proof step by step (rls/erasure.py): which rows ``seed`` makes and with which tie values,
the user's delete as the seeding role (``as_seeder``) with its savepoints and its loop over blocking keys,
``where`` and ``current`` finding a seeded row again, ``judge``'s findings whole, and the rollback that
leaves every table as it was. Real throwaway databases, a plain-PostgreSQL app with setting auth."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.names import QualifiedName
from pgcontract.rls.erasure import ErasureOutcome, ErasureProof, run_erasure
from pgcontract.rls.identity import Principal
from pgcontract.rls.matrix import ImpersonationFailed, IsolationSession
from pgcontract.rls.personal import scope_of
from pgcontract.rls.values import SeedError

SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flow_app') THEN CREATE ROLE flow_app NOLOGIN; END IF;
END $$;
GRANT flow_app TO CURRENT_USER;
CREATE TABLE public.app_users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE public.teams (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
CREATE TABLE public.team_members (
  team_id bigint NOT NULL REFERENCES public.teams (id) ON DELETE CASCADE,
  user_id bigint NOT NULL CONSTRAINT team_members_user_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  PRIMARY KEY (team_id, user_id)
);
CREATE TABLE public.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id bigint NOT NULL CONSTRAINT notes_owner_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  body text NOT NULL
);
CREATE TABLE public.note_tags (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note_id bigint NOT NULL CONSTRAINT note_tags_note_id_fkey REFERENCES public.notes (id) ON DELETE CASCADE,
  tag text NOT NULL
);
CREATE TABLE public.team_posts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  team_id bigint NOT NULL REFERENCES public.teams (id) ON DELETE CASCADE,
  author_id bigint CONSTRAINT team_posts_author_id_fkey REFERENCES public.app_users (id) ON DELETE SET NULL,
  body text NOT NULL
);
CREATE TABLE public.audit (
  actor_id bigint CONSTRAINT audit_actor_id_fkey REFERENCES public.app_users (id) ON DELETE SET NULL,
  action text NOT NULL
);
GRANT USAGE ON SCHEMA public TO flow_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO flow_app;
"""
CONTRACT = """
version: 1
auth: {mode: setting, role: flow_app, setting: app.user_id}
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
  public.audit:
    columns: {actor_id: {type: bigint}, action: {type: text}}
    foreign_keys: [{columns: [actor_id], references: public.app_users(id), on_delete: set null}]
    erasure: {set_null: [actor_id]}
"""
TABLES = (
    "public.app_users",
    "public.teams",
    "public.team_members",
    "public.notes",
    "public.note_tags",
    "public.team_posts",
    "public.audit",
)


def counts(target: Target) -> tuple[object, ...]:
    with psycopg.connect(target.dsn) as conn:
        row = conn.execute("SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES)).fetchone()
        assert row is not None
        return tuple(row)


@contextmanager
def proof(target: Target, tmp_path: Path, contract_text: str = CONTRACT) -> Iterator[ErasureProof]:
    path = tmp_path / "c.yaml"
    path.write_text(contract_text, encoding="utf-8")
    contract = load_contract(path)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        scope = scope_of(contract, snapshot)
        assert scope is not None
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        session.never_set = {}
        try:
            yield ErasureProof(session, scope)
        finally:
            assert session.finish() == []


def seeded(p: ErasureProof) -> dict[str, list[dict[str, object]]]:
    return {str(name): [dict(r.values) for r in rows] for (name, label), rows in p.seeder.rows.items()}


def uid_of(p: ErasureProof) -> str:
    identity = p.session.a.identity
    assert identity is not None
    return identity


def test_seed_ties_the_rows_to_the_user_and_the_delete_clears_them(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(SQL)
    with proof(target, tmp_path) as p:
        user_row = p.seed(p.session.a)
        uid = uid_of(p)
        assert user_row.values["id"] == uid
        rows = seeded(p)
        note, team, post = rows["public.notes"][0], rows["public.teams"][0], rows["public.team_posts"][0]
        assert {
            k: [
                {
                    c: v
                    for c, v in r.items()
                    if c in ("id", "owner_id", "note_id", "user_id", "team_id", "author_id", "actor_id")
                }
                for r in rs
            ]
            for k, rs in rows.items()
        } == {
            "public.app_users": [{"id": uid}],
            "public.audit": [{"actor_id": uid}],
            "public.notes": [{"id": note["id"], "owner_id": uid}],
            "public.teams": [{"id": team["id"]}],
            "public.team_members": [{"team_id": team["id"], "user_id": uid}],
            "public.team_posts": [{"id": post["id"], "team_id": team["id"], "author_id": uid}],
            "public.note_tags": [{"id": rows["public.note_tags"][0]["id"], "note_id": note["id"]}],
        }
        assert [str(t) for t in p.outcome.tables] == [
            "public.audit",
            "public.notes",
            "public.team_members",
            "public.team_posts",
            "public.note_tags",
        ]
        ties = {str(n): p.ties(e, p.session.a, user_row) for n, e in p.scope.tables.items()}
        assert ties == {
            "public.audit": {"actor_id": uid},
            "public.notes": {"owner_id": uid},
            "public.team_members": {"user_id": uid},
            "public.team_posts": {"author_id": uid},
            "public.note_tags": {},
        }
        assert p.delete_user(user_row) is True
        assert p.outcome.violations == []
        assert p.cur.execute("SELECT current_user").fetchone() == (p.session.seeder_role,)
        assert p.cur.execute("SELECT count(*) FROM public.app_users WHERE id = %s", [uid]).fetchone() == (0,)
        found = {}
        for (name, _), seeded_rows in p.seeder.rows.items():
            entry = p.scope.tables.get(name)
            where, params = p.where(name, seeded_rows[0])
            found[str(name)] = (
                where.as_string(p.cur),
                params,
                None if entry is None else p.current(name, entry, seeded_rows[0]),
            )
        same = '"id"::text IS NOT DISTINCT FROM %s'
        assert found == {
            "public.app_users": (same, [uid], None),
            "public.audit": (
                '"action"::text IS NOT DISTINCT FROM %s',
                [rows["public.audit"][0]["action"]],
                {"actor_id": None},
            ),
            "public.notes": (same, [note["id"]], None),
            "public.teams": (same, [team["id"]], None),
            "public.team_members": (
                '"team_id"::text IS NOT DISTINCT FROM %s AND "user_id"::text IS NOT DISTINCT FROM %s',
                [team["id"], uid],
                None,
            ),
            "public.team_posts": (same, [post["id"]], {"author_id": None}),
            "public.note_tags": (same, [rows["public.note_tags"][0]["id"]], None),
        }
        p.judge()
        assert p.outcome.violations == []
    assert counts(target) == (0, 0, 0, 0, 0, 0, 0)


def violations(outcome: ErasureOutcome) -> list[tuple[str, str, str, str, str]]:
    return [(v.rule, v.table, v.message, v.expected, v.actual) for v in outcome.violations]


LOOSE = """
ALTER TABLE public.team_members DROP CONSTRAINT team_members_user_id_fkey;
CREATE TABLE public.memos (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner_id bigint, body text NOT NULL);
CREATE TABLE public.logs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, actor_id bigint, note text NOT NULL);
CREATE TABLE public.bookmarks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  note_id bigint CONSTRAINT bookmarks_note_id_fkey REFERENCES public.notes (id) ON DELETE SET NULL,
  author_id bigint CONSTRAINT bookmarks_author_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  label text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.memos, public.logs, public.bookmarks TO flow_app;
"""
LOOSE_CONTRACT = (
    CONTRACT
    + """  public.memos:
    columns: {id: {type: bigint}, owner_id: {type: bigint}, body: {type: text}}
    isolation: {owner: owner_id}
  public.logs:
    columns: {id: {type: bigint}, actor_id: {type: bigint}, note: {type: text}}
    erasure: {set_null: [actor_id]}
  public.bookmarks:
    columns: {id: {type: bigint}, note_id: {type: bigint}, author_id: {type: bigint}, label: {type: text}}
    erasure: {set_null: [note_id]}
"""
)


def test_ties_without_a_foreign_key_hold_the_identity_and_judge_names_what_stays(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(SQL + LOOSE)
    with proof(target, tmp_path, LOOSE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        uid = uid_of(p)
        # A principal with no identity yet: ties to the users table come from the user's row, the rest are
        # left out. (Bookmarks are left out here: their parent note would be made for B, giving B an identity.)
        nobody = {
            str(n): p.ties(e, Principal("B"), user_row) for n, e in p.scope.tables.items() if n.name != "bookmarks"
        }
        ties = {str(n): (p.ties(e, p.session.a, user_row), nobody.get(str(n))) for n, e in p.scope.tables.items()}
        note_id = seeded(p)["public.notes"][0]["id"]
        assert ties == {
            "public.bookmarks": ({"note_id": note_id, "author_id": uid}, None),
            "public.audit": ({"actor_id": uid}, {"actor_id": uid}),
            "public.notes": ({"owner_id": uid}, {"owner_id": uid}),
            "public.team_posts": ({"author_id": uid}, {"author_id": uid}),
            "public.logs": ({"actor_id": uid}, {}),
            "public.note_tags": ({}, {}),
        }
        assert p.delete_user(user_row) is True
        p.judge()
        assert violations(p.outcome) == [
            (
                "erasure.not_cleared",
                "public.logs",
                "public.logs: actor_id still holds the user's value (actor_id has no foreign key to public.app_users:"
                " nothing removes or clears it) in 1 row of the deleted user",
                "NULL",
                "the user's value",
            ),
        ]


def no_action(table: str, constraint: str, column: str) -> str:
    return (
        f"ALTER TABLE {table} DROP CONSTRAINT {constraint},"
        f" ADD CONSTRAINT {constraint} FOREIGN KEY ({column}) REFERENCES public.app_users (id);"
    )


def because(key: str, table: str = "public.app_users") -> str:
    return f"foreign key {key} to {table} is ON DELETE NO ACTION (deleting the user from public.app_users failed on it)"


def test_delete_user_reports_every_blocking_key_then_goes_through(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Four keys block, one after the other, in five personal tables: each is reported and unblocked (the
    row deleted, or its declared column cleared), then the delete goes through and judge finds nothing."""
    run_sql(
        SQL
        + no_action("public.notes", "notes_owner_id_fkey", "owner_id")
        + no_action("public.team_members", "team_members_user_id_fkey", "user_id")
        + no_action("public.team_posts", "team_posts_author_id_fkey", "author_id")
        + no_action("public.audit", "audit_actor_id_fkey", "actor_id")
    )
    with proof(target, tmp_path) as p:
        user_row = p.seed(p.session.a)
        assert p.delete_user(user_row) is True
        rows = seeded(p)
        assert sorted(violations(p.outcome)) == [
            (
                "erasure.not_cleared",
                "public.audit",
                "public.audit: actor_id of 1 row of the deleted user would not be cleared: "
                + because("audit_actor_id_fkey"),
                "ON DELETE SET NULL",
                "ON DELETE NO ACTION",
            ),
            (
                "erasure.not_cleared",
                "public.team_posts",
                "public.team_posts: author_id of 1 row of the deleted user would not be cleared: "
                + because("team_posts_author_id_fkey"),
                "ON DELETE SET NULL",
                "ON DELETE NO ACTION",
            ),
            (
                "erasure.rows_remain",
                "public.notes",
                "public.notes: 1 row of the deleted user would remain: " + because("notes_owner_id_fkey"),
                "ON DELETE CASCADE or SET NULL on columns declared under erasure.set_null",
                "ON DELETE NO ACTION",
            ),
            (
                "erasure.rows_remain",
                "public.team_members",
                "public.team_members: 1 row of the deleted user would remain: " + because("team_members_user_id_fkey"),
                "ON DELETE CASCADE or SET NULL on columns declared under erasure.set_null",
                "ON DELETE NO ACTION",
            ),
        ]
        post = rows["public.team_posts"][0]
        assert p.cur.execute("SELECT count(*) FROM public.app_users").fetchone() == (0,)
        assert p.cur.execute("SELECT count(*) FROM public.notes").fetchone() == (0,)
        assert p.cur.execute("SELECT id::text, author_id FROM public.team_posts").fetchall() == [(post["id"], None)]
        assert p.cur.execute("SELECT actor_id, action FROM public.audit").fetchall() == [
            (None, rows["public.audit"][0]["action"])
        ]
        p.judge()
        assert len(p.outcome.violations) == 4
    assert counts(target) == (0, 0, 0, 0, 0, 0, 0)


REVIEWS_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flow_app') THEN CREATE ROLE flow_app NOLOGIN; END IF;
END $$;
GRANT flow_app TO CURRENT_USER;
CREATE TABLE public.app_users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE public.notes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id bigint NOT NULL CONSTRAINT notes_owner_id_fkey REFERENCES public.app_users (id) ON DELETE CASCADE,
  body text NOT NULL
);
GRANT USAGE ON SCHEMA public TO flow_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO flow_app;
CREATE TABLE public.reviews (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  author_id bigint CONSTRAINT reviews_author_id_fkey REFERENCES public.app_users (id),
  editor_id bigint CONSTRAINT reviews_editor_id_fkey REFERENCES public.app_users (id),
  checker_id bigint CONSTRAINT reviews_checker_id_fkey REFERENCES public.app_users (id),
  body text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.reviews TO flow_app;
CREATE FUNCTION public.keep_notes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER keep_notes BEFORE DELETE ON public.notes FOR EACH ROW EXECUTE FUNCTION public.keep_notes();
"""
REVIEWS_CONTRACT = """
version: 1
auth: {mode: setting, role: flow_app, setting: app.user_id}
erasure: {users: public.app_users}
tables:
  public.notes:
    columns: {id: {type: bigint}, owner_id: {type: bigint}, body: {type: text}}
    foreign_keys: [{columns: [owner_id], references: public.app_users(id), on_delete: cascade}]
    isolation: {owner: owner_id}
  public.reviews:
    columns: {id: {type: bigint}, author_id: {type: bigint}, editor_id: {type: bigint}, checker_id: {type: bigint},
              body: {type: text}}
    erasure: {set_null: [author_id, editor_id, checker_id]}
"""


def test_more_blocking_keys_than_personal_tables_still_reach_the_judgement(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Three keys of one table block in turn (two personal tables): the delete goes through after the third,
    and judge still runs, naming the note a trigger keeps. (Bounding the loop by the number of personal
    tables stopped it after the second key: the kept note went unreported.)"""
    run_sql(REVIEWS_SQL)
    with proof(target, tmp_path, REVIEWS_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        assert [str(t) for t in p.outcome.tables] == ["public.notes", "public.reviews"]
        assert p.delete_user(user_row) is True
        assert p.cur.execute("SELECT author_id, editor_id, checker_id FROM public.reviews").fetchall() == [
            (None, None, None)
        ]
        p.judge()
        cleared = [
            (
                "erasure.not_cleared",
                "public.reviews",
                f"public.reviews: {column} of 1 row of the deleted user would not be cleared: "
                + because(f"reviews_{column}_fkey"),
                "ON DELETE SET NULL",
                "ON DELETE NO ACTION",
            )
            for column in ("author_id", "checker_id", "editor_id")
        ]
        assert sorted(violations(p.outcome)) == [
            *cleared,
            (
                "erasure.rows_remain",
                "public.notes",
                "public.notes: 1 row of the deleted user remains: foreign key notes_owner_id_fkey to public.app_users"
                " is ON DELETE CASCADE, yet the row was not deleted (a trigger or rule kept it)",
                "no row",
                "1",
            ),
        ]
    with psycopg.connect(target.dsn) as conn:
        assert conn.execute(
            "SELECT (SELECT count(*) FROM public.app_users), (SELECT count(*) FROM public.notes),"
            " (SELECT count(*) FROM public.reviews)"
        ).fetchone() == (0, 0, 0)


BASE_SQL = REVIEWS_SQL.split("CREATE TABLE public.reviews")[0]
BASE_CONTRACT = REVIEWS_CONTRACT.split("  public.reviews:")[0]
TRIGGER = """
CREATE FUNCTION public.on_user() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$;
CREATE TRIGGER on_user AFTER INSERT ON public.app_users FOR EACH ROW EXECUTE FUNCTION public.on_user();
"""


def base_counts(target: Target) -> tuple[object, ...]:
    with psycopg.connect(target.dsn) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM public.app_users), (SELECT count(*) FROM public.notes)")
        return tuple(row.fetchone() or ())


def test_a_delete_the_database_refuses_is_reported_whole_as_the_seeding_role(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The refusal names who deleted: the seeding role with no user identity in effect."""
    run_sql(
        BASE_SQL + "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " RAISE EXCEPTION 'deleted by % as [%]', current_user, coalesce(current_setting('app.user_id', true), '');"
        " END $$;"
        "CREATE TRIGGER refuse BEFORE DELETE ON public.app_users FOR EACH ROW EXECUTE FUNCTION public.refuse();"
    )
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        p.session.seeder.act_as(p.session.a)
        assert p.delete_user(user_row) is False
        role = p.session.seeder_role
        assert violations(p.outcome) == [
            (
                "erasure.delete_failed",
                "public.app_users",
                f"deleting the user from public.app_users failed: deleted by {role} as []"
                " CONTEXT: PL/pgSQL function refuse() line 1 at RAISE",
                "the user deleted",
                "P0001",
            )
        ]
        # The failed delete was rolled back to its savepoint: the transaction goes on, the user is still there.
        assert p.cur.execute("SELECT id::text FROM public.app_users").fetchall() == [(user_row.values["id"],)]
    assert base_counts(target) == (0, 0)


def test_the_delete_runs_as_the_contracts_seed_role(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """With ``auth.seed_role``, the user is deleted as that role, not as the connecting one."""
    run_sql(
        BASE_SQL + "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " RAISE EXCEPTION 'deleted by %', current_user; END $$;"
        "CREATE TRIGGER refuse BEFORE DELETE ON public.app_users FOR EACH ROW EXECUTE FUNCTION public.refuse();"
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'erasure_seeder')"
        " THEN CREATE ROLE erasure_seeder NOLOGIN BYPASSRLS; END IF; END $$;"
        "GRANT USAGE ON SCHEMA public TO erasure_seeder;"
        "GRANT ALL ON ALL TABLES IN SCHEMA public TO erasure_seeder;"
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO erasure_seeder;"
    )
    contract = BASE_CONTRACT.replace("setting: app.user_id}", "setting: app.user_id, seed_role: erasure_seeder}")
    assert contract != BASE_CONTRACT
    with proof(target, tmp_path, contract) as p:
        user_row = p.seed(p.session.a)
        assert p.session.seeder_role == "erasure_seeder"
        assert p.delete_user(user_row) is False
        assert violations(p.outcome) == [
            (
                "erasure.delete_failed",
                "public.app_users",
                "deleting the user from public.app_users failed: deleted by erasure_seeder"
                " CONTEXT: PL/pgSQL function refuse() line 1 at RAISE",
                "the user deleted",
                "P0001",
            )
        ]


def test_a_key_outside_the_snapshot_fails_the_delete_with_its_error(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(
        BASE_SQL
        + "CREATE SCHEMA vault; CREATE TABLE vault.refs (user_id bigint REFERENCES public.app_users (id));"
        + TRIGGER.format(body="INSERT INTO vault.refs VALUES (NEW.id)")
    )
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        assert p.delete_user(user_row) is False
        uid = user_row.values["id"]
        assert violations(p.outcome) == [
            (
                "erasure.delete_failed",
                "public.app_users",
                'deleting the user from public.app_users failed: update or delete on table "app_users" violates'
                f' foreign key constraint "refs_user_id_fkey" on table "refs" DETAIL: Key (id)=({uid}) is still'
                ' referenced from table "refs".',
                "the user deleted",
                "23503",
            )
        ]
    assert base_counts(target) == (0, 0)


def test_a_key_that_blocks_again_after_its_rows_are_removed_fails_the_delete(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Deleting the seeded note makes a trigger write another: the key blocks again and the proof stops."""
    run_sql(
        BASE_SQL
        + no_action("public.notes", "notes_owner_id_fkey", "owner_id")
        + "CREATE FUNCTION public.again() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " INSERT INTO public.notes (owner_id, body) VALUES (OLD.owner_id, 'by trigger'); RETURN NULL; END $$;"
        "CREATE TRIGGER again AFTER DELETE ON public.notes FOR EACH ROW EXECUTE FUNCTION public.again();"
    )
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        assert p.delete_user(user_row) is False
        uid = user_row.values["id"]
        assert violations(p.outcome) == [
            (
                "erasure.rows_remain",
                "public.notes",
                "public.notes: 1 row of the deleted user would remain: " + because("notes_owner_id_fkey"),
                "ON DELETE CASCADE or SET NULL on columns declared under erasure.set_null",
                "ON DELETE NO ACTION",
            ),
            (
                "erasure.delete_failed",
                "public.app_users",
                'deleting the user from public.app_users failed: update or delete on table "app_users" violates'
                f' foreign key constraint "notes_owner_id_fkey" on table "notes" DETAIL: Key (id)=({uid}) is still'
                ' referenced from table "notes".',
                "the user deleted",
                "23503",
            ),
        ]
        assert p.cur.execute("SELECT body FROM public.notes").fetchall() == [("by trigger",)]
    assert base_counts(target) == (0, 0)


def test_a_key_holding_only_rows_the_proof_did_not_make_stops_the_delete(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A retained table's row a trigger made: reported, but nothing the proof made can be removed to go on."""
    run_sql(
        BASE_SQL + "CREATE TABLE public.ledger (user_id bigint CONSTRAINT ledger_user_id_fkey"
        " REFERENCES public.app_users (id), amount int);"
        + TRIGGER.format(body="INSERT INTO public.ledger VALUES (NEW.id, 1)")
    )
    contract = BASE_CONTRACT + (
        "  public.ledger:\n    columns: {user_id: {type: bigint}, amount: {type: int}}\n"
        "    erasure: {retain: bookkeeping}\n"
    )
    with proof(target, tmp_path, contract) as p:
        user_row = p.seed(p.session.a)
        assert p.delete_user(user_row) is False
        assert violations(p.outcome) == [
            (
                "erasure.rows_remain",
                "public.ledger",
                "public.ledger: 1 row of the deleted user would remain: " + because("ledger_user_id_fkey"),
                "ON DELETE CASCADE",
                "ON DELETE NO ACTION",
            )
        ]
        assert p.cur.execute("SELECT count(*) FROM public.app_users").fetchone() == (1,)
    assert base_counts(target) == (0, 0)


def test_as_seeder_fails_when_current_user_is_not_the_seeding_role(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """'none' resets the role to the session user, so current_user is not the role asked for."""
    run_sql(BASE_SQL)
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        p.seed(p.session.a)
        role = p.session.seeder_role
        p.session.seeder_role = "none"
        with pytest.raises(ImpersonationFailed) as raised:
            p.as_seeder()
        assert str(raised.value) == f"switched to role 'none' but current_user is {role!r}"
        p.session.seeder_role = role


@pytest.mark.parametrize(
    ("ddl", "users", "message"),
    [
        ("", "public.ghosts", "the users table public.ghosts is missing (erasure.users)"),
        (
            "CREATE TABLE public.people (id bigint NOT NULL);",
            "public.people",
            "the users table public.people has no primary key: cannot delete one user by it",
        ),
    ],
    ids=["missing", "no-primary-key"],
)
def test_the_users_table_must_exist_with_a_primary_key(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, ddl: str, users: str, message: str
) -> None:
    run_sql(BASE_SQL + ddl)
    path = tmp_path / "c.yaml"
    path.write_text(BASE_CONTRACT.replace("public.app_users}", users + "}"), encoding="utf-8")
    contract = load_contract(path)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        scope = scope_of(contract, snapshot)
        assert scope is not None
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        with pytest.raises(SeedError) as raised:
            ErasureProof(session, scope)
        assert str(raised.value) == message


COMPOSITE_SQL = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flow_app') THEN CREATE ROLE flow_app NOLOGIN; END IF;
END $$;
GRANT flow_app TO CURRENT_USER;
CREATE TABLE public.members (org int NOT NULL, id bigint NOT NULL, email text NOT NULL, PRIMARY KEY (org, id));
CREATE TABLE public.cards (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  org int NOT NULL,
  member_id bigint NOT NULL,
  body text NOT NULL,
  CONSTRAINT cards_member_fkey FOREIGN KEY (org, member_id) REFERENCES public.members (org, id) ON DELETE CASCADE
);
"""
COMPOSITE_CONTRACT = """
version: 1
auth: {mode: setting, role: flow_app, setting: app.user_id}
erasure: {users: public.members}
tables:
  public.cards:
    columns: {id: {type: bigint}, org: {type: int}, member_id: {type: bigint}, body: {type: text}}
"""


def test_a_composite_user_key_ties_both_columns_and_deletes_by_both(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Two users share an id in different orgs: the delete takes the seeded one alone, by both key columns;
    the identity stays unset (no single column holds the user)."""
    run_sql(COMPOSITE_SQL)
    with proof(target, tmp_path, COMPOSITE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        assert p.user_key == ("org", "id")
        assert p.session.a.identity is None
        org, uid = user_row.values["org"], user_row.values["id"]
        card = seeded(p)["public.cards"][0]
        assert (card["org"], card["member_id"]) == (org, uid)
        entry = p.scope.tables[QualifiedName("public", "cards")]
        assert p.ties(entry, p.session.a, user_row) == {"org": org, "member_id": uid}
        other = str(int(str(org)) + 1)
        p.cur.execute("INSERT INTO public.members VALUES (%s, %s, 'same id, other org')", [other, uid])
        assert p.delete_user(user_row) is True
        assert p.cur.execute("SELECT org::text, id::text FROM public.members").fetchall() == [(other, uid)]
        assert p.current(QualifiedName("public", "cards"), entry, p.seeder.rows[(entry.name, "A")][0]) is None
        p.judge()
        assert p.outcome.violations == []
    with psycopg.connect(target.dsn) as conn:
        assert conn.execute(
            "SELECT (SELECT count(*) FROM public.members), (SELECT count(*) FROM public.cards)"
        ).fetchone() == (0, 0)


NOTES = QualifiedName("public", "notes")
KEEP_LATER_NOTES = (
    "CREATE FUNCTION public.keep_notes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " RETURN CASE WHEN OLD.body LIKE '% note' THEN NULL ELSE OLD END; END $$;"
    "CREATE TRIGGER keep_notes BEFORE DELETE ON public.notes FOR EACH ROW EXECUTE FUNCTION public.keep_notes();"
)


def test_judge_counts_every_kept_row_of_a_table_in_one_finding(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The first note goes with the user, the two written after it are kept: judge looks at every row."""
    run_sql(BASE_SQL + KEEP_LATER_NOTES)
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        second = p.seeder.row(NOTES, p.session.a, {"body": "second note"})
        p.seeder.row(NOTES, p.session.a, {"body": "third note"})
        assert [r.values["body"] for r in p.seeder.rows[(NOTES, "A")]][1:] == ["second note", "third note"]
        assert p.delete_user(user_row) is True
        entry = p.scope.tables[NOTES]
        first = p.seeder.rows[(NOTES, "A")][0]
        assert p.current(NOTES, entry, first) is None
        assert p.current(NOTES, entry, second) == {"owner_id": user_row.values["id"]}
        p.judge()
        assert violations(p.outcome) == [
            (
                "erasure.rows_remain",
                "public.notes",
                "public.notes: 2 rows of the deleted user remain: foreign key notes_owner_id_fkey to public.app_users"
                " is ON DELETE CASCADE, yet the row was not deleted (a trigger or rule kept it)",
                "no row",
                "2",
            )
        ]
    assert base_counts(target) == (0, 0)


def test_a_kept_user_is_reported_whole(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    run_sql(
        BASE_SQL + "CREATE FUNCTION public.keep_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL;"
        " END $$; CREATE TRIGGER keep_users BEFORE DELETE ON public.app_users"
        " FOR EACH ROW EXECUTE FUNCTION public.keep_users();"
    )
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        user_row = p.seed(p.session.a)
        assert p.delete_user(user_row) is False
        assert violations(p.outcome) == [
            (
                "erasure.user_remains",
                "public.app_users",
                "deleting the user from public.app_users removed 0 rows: a trigger or rule kept the user",
                "1 row",
                "0",
            )
        ]
    assert base_counts(target) == (0, 0)


def test_a_row_that_cannot_be_seeded_is_rolled_back_and_forgotten(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The failed insert is undone to the seed's savepoint and the seeder forgets it: the transaction goes
    on with the rows made before it."""
    run_sql(
        BASE_SQL + "CREATE TABLE public.refused (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " owner_id bigint REFERENCES public.app_users (id) ON DELETE CASCADE, CHECK (false));"
    )
    with proof(target, tmp_path, BASE_CONTRACT) as p:
        with pytest.raises(SeedError) as raised:
            p.seed(p.session.a)
        assert (
            str(raised.value)
            == "cannot create a test row in public.refused: CHECK refused_check (false) refused the row"
        )
        assert [str(t) for t in p.outcome.tables] == ["public.notes"]
        assert sorted(str(n) for n, _ in p.seeder.rows) == ["public.app_users", "public.notes"]
        assert p.cur.execute("SELECT count(*) FROM public.notes").fetchone() == (1,)
    assert base_counts(target) == (0, 0)


def test_run_erasure_counts_rows_on_a_throwaway_target_and_names_one_another_session_committed(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Another session commits a note while the proof waits on a lock it holds: after the rollback the
    note is still there, and only counting the rows (throwaway targets) finds it; the proof's own rows
    are gone."""
    run_sql(BASE_SQL + "INSERT INTO public.app_users VALUES (1, 'real@example.invalid');")
    path = tmp_path / "c.yaml"
    path.write_text(BASE_CONTRACT, encoding="utf-8")
    contract = load_contract(path)
    with psycopg.connect(target.dsn) as other, connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        proof_pid = conn.info.backend_pid
        other.execute("LOCK TABLE public.notes IN SHARE MODE")
        outcomes: list[ErasureOutcome | None] = []
        worker = threading.Thread(
            target=lambda: outcomes.append(run_erasure(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS))
        )
        worker.start()
        with psycopg.connect(target.dsn, autocommit=True) as watcher:
            waiting = "SELECT count(*) > 0 FROM pg_locks WHERE pid = %s AND NOT granted"
            while watcher.execute(waiting, [proof_pid]).fetchone() != (True,):
                time.sleep(0.01)
        other.execute("INSERT INTO public.notes (owner_id, body) VALUES (1, 'committed meanwhile')")
        other.commit()
        worker.join()
    assert len(outcomes) == 1
    assert outcomes[0] is not None
    assert violations(outcomes[0]) == []
    assert outcomes[0].left_behind == ["public.notes holds 1 rows, 0 before the test"]
    assert base_counts(target) == (1, 1)
