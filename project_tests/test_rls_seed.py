"""The Seeder (rls/seed.py) driven directly on real throwaway databases, its effects pinned exactly: which
columns it counts as made up (``chosen``), the rows it remembers per (table, principal) and their whole
values (owner and tenant ids, parents made for the same principal, ``isolation.values`` rendered per row),
the identity in effect while it inserts, rows adopted from a trigger (made in this transaction) rather than
inserted, which row a unique collision adopts (UNIQUE constraint, unique index, another table's key, a NULL
key value) and that a failed insert leaves the transaction usable only under a savepoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.contract.model import Membership
from pgcontract.names import QualifiedName
from pgcontract.rls.identity import Principal, impersonation_for
from pgcontract.rls.seed import SeededRow, Seeder, Values
from pgcontract.rls.values import SeedError
from project_tests.helpers import snapshot_of

PROJECTS = QualifiedName("public", "projects")
TASKS = QualifiedName("public", "tasks")
CATEGORIES = QualifiedName("public", "categories")
AUTH_USERS = QualifiedName("auth", "users")  # the test server's Supabase stand-in

# A BEFORE trigger writes down who inserted the row: the role and the claims' subject in effect.
WITNESS = """
CREATE FUNCTION public.witness() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  new.seen_sub := nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub';
  new.seen_role := current_user;
  RETURN new;
END $$;
"""

GRAPH = (
    WITNESS
    + """
CREATE TABLE public.categories (id int PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.projects (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  name     text NOT NULL,
  label    text NOT NULL,
  code     text NOT NULL,
  note     text
);
CREATE TABLE public.tasks (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  project_id  bigint NOT NULL REFERENCES public.projects (id),
  category_id int REFERENCES public.categories (id),
  title       text NOT NULL,
  done        boolean NOT NULL DEFAULT false,
  seen_sub    text,
  seen_role   text
);
CREATE TRIGGER witness BEFORE INSERT ON public.tasks FOR EACH ROW EXECUTE FUNCTION public.witness();
"""
)
GRAPH_CONTRACT = """
  public.projects:
    isolation: {owner: owner_id, values: {name: {A: Alpha, B: Beta}, label: "${user}-${n}", code: "c-${id}"}}
  public.tasks:
    columns: {project_id: {type: bigint}}
    foreign_keys: [{columns: [project_id], references: public.projects(id)}]
    isolation: {via: project_id, values: {title: "task ${user} ${n}"}}
"""


@dataclass
class Seeding:
    seeder: Seeder
    a: Principal
    b: Principal
    cur: psycopg.Cursor[Any]

    def query(self, text: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        self.cur.execute(text, params)
        return self.cur.fetchall()

    def role(self) -> str:
        ((role,),) = self.query("SELECT current_user::text")
        return str(role)

    def stored(self, table: str) -> list[SeededRow]:
        """The table's rows as the seeder reads them back (tableoid, ctid, every column as text)."""
        name = QualifiedName.parse(table)
        columns = list(self.seeder.table(name).columns)
        statement = sql.SQL("SELECT tableoid::text, ctid::text, {} FROM {} ORDER BY ctid").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns),
            sql.Identifier(name.schema, name.name),
        )
        self.cur.execute(statement)
        return [SeededRow(name, dict(zip(columns, r[2:], strict=True)), r[0], r[1]) for r in self.cur.fetchall()]


@contextmanager
def seeder_on(
    target: Target,
    run_sql: Callable[[str], None],
    tmp_path: Path,
    schema: str,
    tables: str,
    *,
    auth: str = "auth: {mode: supabase}",
    committed: Callable[[Principal, Principal], str] | None = None,
) -> Iterator[Seeding]:
    """A Seeder as the isolation session builds one, in an open transaction rolled back at the end;
    ``committed``: SQL committed before the transaction begins (rows this transaction did not make)."""
    run_sql(schema)
    path = tmp_path / "contract.yaml"
    path.write_text(f"version: 1\n{auth}\ntables:\n{tables}", encoding="utf-8")
    contract = load_contract(path)
    snapshot = snapshot_of(target, contract)
    assert contract.auth is not None
    impersonation = impersonation_for(contract.auth)
    a, b = impersonation.new_principal("A"), impersonation.new_principal("B")
    if committed is not None:
        run_sql(committed(a, b))
    with psycopg.connect(target.dsn) as conn:
        cur = conn.cursor()
        seeder = Seeder(cur, contract, snapshot, impersonation, count_rows=True)
        seeder.start()
        try:
            yield Seeding(seeder, a, b, cur)
        finally:
            conn.rollback()


# --- chosen ---------------------------------------------------------------------------------------------


def test_chosen_leaves_out_foreign_keys_the_owner_and_given_values(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        every: Values = {c: "x" for c in ("id", "owner_id", "name", "label", "code", "note")}
        assert s.seeder.chosen(PROJECTS, every) == frozenset({"id", "note"})
        task: Values = {c: "x" for c in ("id", "project_id", "category_id", "title", "done", "seen_sub", "seen_role")}
        assert s.seeder.chosen(TASKS, task) == frozenset({"id", "done", "seen_sub", "seen_role"})
        # no isolation: only foreign keys would be fixed, and categories has none
        assert s.seeder.chosen(CATEGORIES, {"id": "1", "title": "t"}) == frozenset({"id", "title"})
        assert s.seeder.chosen(PROJECTS, {}) == frozenset()


# --- rows, values, identity -------------------------------------------------------------------------------


def test_rows_through_the_foreign_key_graph_are_remembered_per_table_and_principal(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        seeder, a, b = s.seeder, s.a, s.b
        role = s.role()
        task_a = seeder.row(TASKS, a)
        task_b = seeder.row(TASKS, b)
        projects = s.stored("public.projects")
        tasks = s.stored("public.tasks")
        assert [p.values for p in projects] == [
            {
                "id": "1",
                "owner_id": a.identity,
                "name": "Alpha",
                "label": "a-1",
                "code": f"c-{a.identity}",
                "note": None,
            },
            {
                "id": "2",
                "owner_id": b.identity,
                "name": "Beta",
                "label": "b-3",
                "code": f"c-{b.identity}",
                "note": None,
            },
        ]
        assert [t.values for t in tasks] == [
            {
                "id": "1",
                "project_id": "1",
                "category_id": None,
                "title": "task a 2",
                "done": "false",
                "seen_sub": a.identity,
                "seen_role": role,
            },
            {
                "id": "2",
                "project_id": "2",
                "category_id": None,
                "title": "task b 4",
                "done": "false",
                "seen_sub": b.identity,
                "seen_role": role,
            },
        ]
        assert (task_a, task_b) == (tasks[0], tasks[1])
        assert seeder.rows == {
            (PROJECTS, "A"): [projects[0]],
            (TASKS, "A"): [tasks[0]],
            (PROJECTS, "B"): [projects[1]],
            (TASKS, "B"): [tasks[1]],
        }
        assert seeder.created == [projects[0], tasks[0], projects[1], tasks[1]]
        assert seeder.inserted_into == {PROJECTS, TASKS}
        assert seeder.adopting is True  # tasks has an INSERT trigger: rows may exist the seeder did not insert
        # asked again: the rows remembered, nothing inserted
        assert seeder.row(TASKS, a) == tasks[0]
        assert seeder.row(PROJECTS, b) == projects[1]
        assert seeder.row(TASKS, a, {"project_id": "1"}) == tasks[0]
        assert (seeder.count(PROJECTS), seeder.count(TASKS), seeder.count(CATEGORIES)) == (2, 2, 0)
        assert seeder.counts_before == {AUTH_USERS: 0, PROJECTS: 0, TASKS: 0, CATEGORIES: 0}


def test_a_row_for_another_parent_is_a_second_row_of_the_same_principal(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        seeder, a = s.seeder, s.a
        first = seeder.row(TASKS, a)
        other = seeder.row(PROJECTS, a, {"name": "Other"})
        second = seeder.row(TASKS, a, {"project_id": other.values["id"]})
        assert other.values == {
            "id": "2",
            "owner_id": a.identity,
            "name": "Other",
            "label": "a-3",
            "code": f"c-{a.identity}",
            "note": None,
        }
        assert (second.values["id"], second.values["project_id"], second.values["title"]) == ("2", "2", "task a 4")
        assert seeder.rows[(TASKS, "A")] == [first, second]
        assert [p.values["id"] for p in seeder.rows[(PROJECTS, "A")]] == ["1", "2"]


def test_the_identity_in_effect_follows_the_principal_and_is_none_for_the_platform(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        seeder, a, b = s.seeder, s.a, s.b
        project = seeder.row(PROJECTS, a)
        as_platform = seeder.create_user(TASKS, b, {"project_id": project.values["id"], "title": "p"})
        assert (as_platform.values["seen_sub"], as_platform.values["seen_role"]) == (None, s.role())
        after = seeder.insert(TASKS, b, {"project_id": project.values["id"], "title": "q"}, {})
        assert after.values["seen_sub"] == b.identity
        # a restore forgets which identity is in effect: the next insert sets it again
        state = seeder.checkpoint()
        s.cur.execute("SELECT set_config('request.jwt.claims', '', true)")
        seeder.restore(state)
        again = seeder.insert(TASKS, b, {"project_id": project.values["id"], "title": "r"}, {})
        assert again.values["seen_sub"] == b.identity
        # B's claims are in effect, but after a restore the seeder cannot know it: the platform's insert
        # clears them again rather than taking "no identity" for granted
        seeder.restore(seeder.checkpoint())
        cleared = seeder.create_user(TASKS, b, {"project_id": project.values["id"], "title": "s"})
        assert cleared.values["seen_sub"] is None


def test_a_template_with_id_before_the_principal_has_one_is_refused(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        isolation = s.seeder.isolation(PROJECTS)
        nobody = Principal("C")
        with pytest.raises(SeedError) as raised:
            s.seeder.given_values(isolation, nobody, 7)
        assert str(raised.value) == "isolation.values.code uses ${id} before user C has an id"
        assert s.seeder.given_values(isolation, s.a, 7) == {
            "name": "Alpha",
            "label": "a-7",
            "code": f"c-{s.a.identity}",
        }
        assert s.seeder.given_values(None, s.a, 7) == {}
        # a per-user value without this user's key gives nothing
        assert s.seeder.given_values(isolation, Principal("C", identity="i"), 1) == {"label": "c-1", "code": "c-i"}
        # an empty identity (a value a CHECK ... IN list may give in setting mode) is rendered as it is
        assert s.seeder.given_values(isolation, Principal("C", identity=""), 1) == {"label": "c-1", "code": "c-"}


MEMBERSHIP = """
CREATE TABLE public.orgs (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text NOT NULL DEFAULT 'org');
CREATE TABLE public.members (
  org_id  uuid NOT NULL REFERENCES public.orgs (id),
  user_id uuid NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE TABLE public.docs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_id uuid NOT NULL, body text);
"""
MEMBERSHIP_CONTRACT = """
  public.docs:
    isolation: {owner: org_id, membership: {table: public.members, tenant: org_id, user: user_id}}
"""


def test_a_tenant_is_made_once_per_principal_with_its_membership(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    docs, orgs, members = (QualifiedName("public", t) for t in ("docs", "orgs", "members"))
    with seeder_on(target, run_sql, tmp_path, MEMBERSHIP, MEMBERSHIP_CONTRACT) as s:
        seeder, a, b = s.seeder, s.a, s.b
        doc_a, doc_b = seeder.row(docs, a), seeder.row(docs, b)
        assert seeder.row(docs, a) == doc_a
        org_rows = s.stored("public.orgs")
        org_a, org_b = (r.values["id"] for r in org_rows)
        assert seeder.tenants == {("public.members", "A"): org_a, ("public.members", "B"): org_b}
        assert [r.values for r in s.stored("public.members")] == [
            {"org_id": org_a, "user_id": a.identity},
            {"org_id": org_b, "user_id": b.identity},
        ]
        assert [r.values for r in s.stored("public.docs")] == [
            {"id": "1", "org_id": org_a, "body": None},
            {"id": "2", "org_id": org_b, "body": None},
        ]
        member_rows, doc_rows = s.stored("public.members"), s.stored("public.docs")
        assert (doc_a, doc_b) == (doc_rows[0], doc_rows[1])
        assert seeder.rows == {
            (orgs, "A"): [org_rows[0]],
            (members, "A"): [member_rows[0]],
            (docs, "A"): [doc_rows[0]],
            (orgs, "B"): [org_rows[1]],
            (members, "B"): [member_rows[1]],
            (docs, "B"): [doc_rows[1]],
        }


def test_a_membership_row_made_in_this_transaction_gives_the_principals_tenant(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A's personal org and membership made in this transaction (as a signup trigger would) are adopted:
    A's tenant is that org and nothing is inserted for it; B has none: a new org and membership."""
    docs, orgs, members = (QualifiedName("public", t) for t in ("docs", "orgs", "members"))
    with seeder_on(target, run_sql, tmp_path, MEMBERSHIP, MEMBERSHIP_CONTRACT) as s:
        personal = "00000000-0000-4000-8000-00000000000a"
        s.cur.execute("INSERT INTO public.orgs (id, name) VALUES (%s, 'personal')", [personal])
        s.cur.execute("INSERT INTO public.members (org_id, user_id) VALUES (%s, %s)", [personal, s.a.identity])
        s.seeder.adopting = True
        doc_a = s.seeder.row(docs, s.a)
        doc_b = s.seeder.row(docs, s.b)
        org_rows, member_rows = s.stored("public.orgs"), s.stored("public.members")
        org_b = org_rows[1].values["id"]
        assert [r.values for r in org_rows] == [{"id": personal, "name": "personal"}, {"id": org_b, "name": "org"}]
        assert [r.values for r in member_rows] == [
            {"org_id": personal, "user_id": s.a.identity},
            {"org_id": org_b, "user_id": s.b.identity},
        ]
        assert s.seeder.tenants == {("public.members", "A"): personal, ("public.members", "B"): org_b}
        assert (doc_a.values, doc_b.values) == (
            {"id": "1", "org_id": personal, "body": None},
            {"id": "2", "org_id": org_b, "body": None},
        )
        assert s.seeder.rows == {
            (members, "A"): [member_rows[0]],
            (docs, "A"): [doc_a],
            (orgs, "B"): [org_rows[1]],
            (members, "B"): [member_rows[1]],
            (docs, "B"): [doc_b],
        }
        assert s.seeder.created == [member_rows[0], doc_a, org_rows[1], member_rows[1], doc_b]


NULL_TENANT_KEY = """
CREATE TABLE public.orgs (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE public.members (
  org_code text NOT NULL REFERENCES public.orgs (code),
  user_id  uuid NOT NULL,
  PRIMARY KEY (org_code, user_id)
);
CREATE TABLE public.docs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_code text NOT NULL);
"""


def test_a_tenant_row_without_the_referenced_key_is_refused(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """members.org_code references orgs.code, a nullable UNIQUE column the seeder leaves NULL."""
    contract = (
        "  public.docs:\n"
        "    isolation: {owner: org_code, membership: {table: public.members, tenant: org_code, user: user_id}}\n"
    )
    with seeder_on(target, run_sql, tmp_path, NULL_TENANT_KEY, contract) as s:
        with pytest.raises(SeedError) as raised:
            s.seeder.row(QualifiedName("public", "docs"), s.a)
        assert str(raised.value) == "the tenant row of public.orgs has no code"
        assert s.seeder.tenants == {}


# --- rows a trigger made: adopted, not inserted ------------------------------------------------------------

SIGNUP = """
CREATE TABLE public.members (id uuid PRIMARY KEY, email text NOT NULL);
CREATE TABLE public.profiles (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  member_id uuid NOT NULL UNIQUE REFERENCES public.members (id),
  bio       text NOT NULL,
  seen_sub  text
);
CREATE FUNCTION public.on_member() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.profiles (member_id, bio, seen_sub)
    VALUES (new.id, 'by trigger', nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub');
  RETURN new;
END $$;
CREATE TRIGGER on_member AFTER INSERT ON public.members FOR EACH ROW EXECUTE FUNCTION public.on_member();
CREATE TABLE public.notes (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner_id uuid NOT NULL, body text);
"""
SIGNUP_CONTRACT = """
  public.profiles:
    isolation: {owner: member_id}
  public.notes:
    isolation: {owner: owner_id}
"""
MEMBERS, PROFILES, NOTES = (QualifiedName("public", t) for t in ("members", "profiles", "notes"))


def test_rows_a_trigger_made_in_this_transaction_are_adopted(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A's member is created as the platform does (its trigger makes the profile, no claims in effect);
    B's member is a parent of B's profile: the profile insert collides on member_id (UNIQUE) with the one
    the trigger just made, which is adopted. A note committed before the transaction is not adopted."""

    def committed(a: Principal, b: Principal) -> str:
        return f"INSERT INTO public.notes (owner_id, body) VALUES ('{a.identity}', 'committed earlier')"

    with seeder_on(target, run_sql, tmp_path, SIGNUP, SIGNUP_CONTRACT, committed=committed) as s:
        seeder, a, b = s.seeder, s.a, s.b
        member_a = seeder.create_user(MEMBERS, a, {"id": a.identity, "email": "a@example.invalid"})
        assert seeder.adopting is True
        profile_a = seeder.row(PROFILES, a)
        profile_b = seeder.row(PROFILES, b)
        members, profiles = s.stored("public.members"), s.stored("public.profiles")
        assert member_a == members[0]
        assert [p.values for p in profiles] == [
            {"id": "1", "member_id": a.identity, "bio": "by trigger", "seen_sub": None},
            {"id": "2", "member_id": b.identity, "bio": "by trigger", "seen_sub": b.identity},
        ]
        assert (profile_a, profile_b) == (profiles[0], profiles[1])
        assert members[1].values["id"] == b.identity
        note = seeder.row(NOTES, a)
        assert note.values == {"id": "2", "owner_id": a.identity, "body": None}
        assert seeder.rows == {
            (MEMBERS, "A"): [members[0]],
            (PROFILES, "A"): [profiles[0]],
            (MEMBERS, "B"): [members[1]],
            (PROFILES, "B"): [profiles[1]],
            (NOTES, "A"): [note],
        }
        assert seeder.created == [members[0], profiles[0], members[1], profiles[1], note]
        assert seeder.inserted_into == {MEMBERS, PROFILES, NOTES}
        assert (seeder.count(PROFILES), seeder.count(NOTES)) == (2, 2)
        assert seeder.counts_before == {AUTH_USERS: 0, MEMBERS: 0, PROFILES: 0, NOTES: 1}
        # the transaction goes on after the collision the savepoint caught
        assert s.query("SELECT count(*) FROM public.members") == [(2,)]


COLLISIONS = """
CREATE TABLE public.handles (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  handle   text NOT NULL,
  tag      text,
  CONSTRAINT handles_tag UNIQUE NULLS NOT DISTINCT (owner_id, tag)
);
CREATE UNIQUE INDEX handles_one_per_owner ON public.handles (owner_id, lower(handle));
CREATE TABLE public.slugs (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  slug     text NOT NULL CONSTRAINT slugs_slug_key UNIQUE
);
CREATE TABLE public.accounts (id uuid NOT NULL, email text NOT NULL CONSTRAINT accounts_email_key UNIQUE);
CREATE SCHEMA other;
CREATE TABLE other.log (slug text CONSTRAINT dup_key UNIQUE);
CREATE TABLE public.posts (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  slug     text NOT NULL CONSTRAINT dup_key CHECK (slug <> '')
);
CREATE FUNCTION public.log_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO other.log (slug) VALUES (new.slug); RETURN new; END $$;
CREATE TRIGGER log_post AFTER INSERT ON public.posts FOR EACH ROW EXECUTE FUNCTION public.log_post();
"""
COLLISIONS_CONTRACT = """
  public.handles:
    isolation: {owner: owner_id}
  public.slugs:
    isolation: {owner: owner_id}
  public.posts:
    isolation: {owner: owner_id}
"""
HANDLES, SLUGS, POSTS, ACCOUNTS = (QualifiedName("public", t) for t in ("handles", "slugs", "posts", "accounts"))


@contextmanager
def collisions(target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> Iterator[Seeding]:
    """Rows made in this transaction (as a trigger would), then inserts guarded as after a trigger ran."""
    with seeder_on(target, run_sql, tmp_path, COLLISIONS, COLLISIONS_CONTRACT) as s:
        for statement in (
            "INSERT INTO public.handles (owner_id, handle, tag) VALUES (%(a)s, 'Neo', NULL), (%(b)s, 'Trin', 'x')",
            "INSERT INTO public.slugs (owner_id, slug) VALUES (%(a)s, 'alpha'), (%(b)s, 'beta')",
            "INSERT INTO public.posts (owner_id, slug) VALUES (%(a)s, 'hello')",
            "INSERT INTO public.accounts (id, email) VALUES (%(a)s, 'a@example.invalid'), (%(b)s, 'b@example.invalid')",
        ):
            s.cur.execute(statement, {"a": s.a.identity, "b": s.b.identity})
        s.seeder.adopting = True
        yield s


def test_a_collision_on_a_unique_constraint_adopts_the_principals_row(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with collisions(target, run_sql, tmp_path) as s:
        wanted = {"owner_id": s.a.identity}
        adopted = s.seeder.insert(SLUGS, s.a, {"owner_id": s.a.identity, "slug": "alpha"}, wanted)
        (alpha, beta) = s.stored("public.slugs")
        assert adopted == alpha
        assert alpha.values == {"id": "1", "owner_id": s.a.identity, "slug": "alpha"}
        assert s.seeder.rows == {(SLUGS, "A"): [alpha]}
        assert s.seeder.created == [alpha]
        # B's slug is not A's row: the collision is reported, and the transaction goes on
        with pytest.raises(SeedError) as raised:
            s.seeder.insert(SLUGS, s.a, {"owner_id": s.a.identity, "slug": "beta"}, wanted)
        assert str(raised.value) == (
            "cannot create a test row in public.slugs: slugs_slug_key refused a duplicate"
            " (Key (slug)=(beta) already exists.)"
        )
        assert s.stored("public.slugs") == [alpha, beta]
        assert s.seeder.rows == {(SLUGS, "A"): [alpha]}


def test_a_collision_on_a_unique_index_adopts_by_its_key_columns(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """handles_one_per_owner is an index, not a constraint, with an expression key: adopted by owner_id."""
    with collisions(target, run_sql, tmp_path) as s:
        values = {"owner_id": s.a.identity, "handle": "NEO", "tag": "y"}
        adopted = s.seeder.insert(HANDLES, s.a, values, {"owner_id": s.a.identity})
        neo = s.stored("public.handles")[0]
        assert adopted == neo
        assert neo.values == {"id": "1", "owner_id": s.a.identity, "handle": "Neo", "tag": None}
        assert s.seeder.rows == {(HANDLES, "A"): [neo]}


def test_a_collision_on_a_null_key_value_is_not_adopted(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """handles_tag treats NULLs as equal: (A, NULL) collides, but a NULL names no row to adopt."""
    with collisions(target, run_sql, tmp_path) as s:
        values = {"owner_id": s.a.identity, "handle": "Other", "tag": None}
        with pytest.raises(SeedError) as raised:
            s.seeder.insert(HANDLES, s.a, values, {"owner_id": s.a.identity})
        assert str(raised.value).startswith(
            "cannot create a test row in public.handles: handles_tag refused a duplicate"
        )
        assert s.seeder.rows == {}
        assert s.seeder.count(HANDLES) == 2


def test_a_users_row_colliding_on_another_key_is_adopted_by_its_id(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """create_user's insert collides on email (id has no key): A's account, of A's id, is adopted; the
    email of B's account, another id, is not adopted but reported."""
    with collisions(target, run_sql, tmp_path) as s:
        adopted = s.seeder.create_user(ACCOUNTS, s.a, {"id": s.a.identity, "email": "a@example.invalid"})
        (account_a, account_b) = s.stored("public.accounts")
        assert adopted == account_a
        assert account_a.values == {"id": s.a.identity, "email": "a@example.invalid"}
        assert s.seeder.rows == {(ACCOUNTS, "A"): [account_a]}
        with pytest.raises(SeedError) as raised:
            s.seeder.create_user(ACCOUNTS, s.a, {"id": s.a.identity, "email": "b@example.invalid"})
        assert str(raised.value) == (
            "cannot create user A in public.accounts: accounts_email_key refused a duplicate"
            " (Key (email)=(b@example.invalid) already exists.)"
        )
        assert s.stored("public.accounts") == [account_a, account_b]
        assert s.seeder.rows == {(ACCOUNTS, "A"): [account_a]}


def test_a_null_wanted_value_is_matched_by_is_null(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with collisions(target, run_sql, tmp_path) as s:
        neo = s.stored("public.handles")[0]
        assert s.seeder.adopt(HANDLES, s.a, {"owner_id": s.a.identity, "tag": None}) == neo
        assert s.seeder.adopt(HANDLES, s.b, {"owner_id": s.b.identity, "tag": None}) is None
        assert s.seeder.rows == {(HANDLES, "A"): [neo]}
        # found again: remembered and listed as created once
        assert s.seeder.adopt(HANDLES, s.a, {"owner_id": s.a.identity}) == neo
        assert s.seeder.rows == {(HANDLES, "A"): [neo]}
        assert s.seeder.created == [neo]


def test_a_collision_in_another_table_is_not_adopted(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The trigger's insert into other.log collides on other.log's dup_key; public.posts has a CHECK of the
    same name, and A's post with that slug exists: still nothing is adopted."""
    with collisions(target, run_sql, tmp_path) as s:
        with pytest.raises(SeedError) as raised:
            s.seeder.insert(POSTS, s.a, {"owner_id": s.a.identity, "slug": "hello"}, {"owner_id": s.a.identity})
        assert str(raised.value) == (
            "cannot create a test row in public.posts: dup_key of other.log refused a duplicate"
            " (Key (slug)=(hello) already exists.), in trigger log_post on public.posts (function public.log_post)"
        )
        assert s.seeder.rows == {}
        assert s.seeder.count(POSTS) == 1


def test_a_failed_insert_leaves_the_transaction_usable_only_under_a_savepoint(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, COLLISIONS, COLLISIONS_CONTRACT) as s:
        s.cur.execute("INSERT INTO public.slugs (owner_id, slug) VALUES (%s, 'alpha')", [s.a.identity])
        s.seeder.adopting = True
        made = s.seeder.insert(SLUGS, s.b, {"owner_id": s.b.identity, "slug": "gamma"}, {})
        assert made.values == {"id": "2", "owner_id": s.b.identity, "slug": "gamma"}
        with pytest.raises(errors.InvalidSavepointSpecification):
            s.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_insert")  # released after the insert
        s.cur.connection.rollback()
    with seeder_on(target, run_sql, tmp_path, "", COLLISIONS_CONTRACT) as s:
        s.cur.execute("INSERT INTO public.slugs (owner_id, slug) VALUES (%s, 'alpha')", [s.a.identity])
        assert s.seeder.adopting is False
        with pytest.raises(SeedError):
            s.seeder.insert(SLUGS, s.a, {"owner_id": s.a.identity, "slug": "alpha"}, {"owner_id": s.a.identity})
        with pytest.raises(errors.InFailedSqlTransaction):
            s.cur.execute("SELECT 1")


CYCLE = """
CREATE TABLE public.eggs (id int PRIMARY KEY, hen_id int NOT NULL);
CREATE TABLE public.hens (id int PRIMARY KEY, egg_id int NOT NULL REFERENCES public.eggs (id), owner_id uuid NOT NULL);
ALTER TABLE public.eggs ADD FOREIGN KEY (hen_id) REFERENCES public.hens (id);
"""


def test_a_cycle_of_required_keys_and_a_missing_table_are_explained(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, CYCLE, "  public.eggs: {}\n") as s:
        with pytest.raises(SeedError) as raised:
            s.seeder.row(QualifiedName("public", "eggs"), s.a)
        assert str(raised.value) == "cannot create rows of public.eggs: its NOT NULL foreign keys form a cycle"
        assert s.seeder.rows == {}
        with pytest.raises(SeedError) as missing:
            s.seeder.table(QualifiedName("public", "nests"))
        assert str(missing.value) == "table public.nests is missing: cannot create test rows in it"
    via_hen = (
        "  public.eggs:\n"
        "    columns: {hen_id: {type: integer}}\n"
        "    foreign_keys: [{columns: [hen_id], references: public.hens(id)}]\n"
        "    isolation: {via: hen_id}\n"
        "  public.hens:\n"
        "    isolation: {owner: owner_id}\n"
    )
    with seeder_on(target, run_sql, tmp_path, "", via_hen) as s:
        # eggs' parent (its ownership path) is a hen, whose NOT NULL key needs an egg
        with pytest.raises(SeedError) as raised:
            s.seeder.row(QualifiedName("public", "eggs"), s.a)
        assert str(raised.value) == "cannot create rows of public.eggs: its NOT NULL foreign keys form a cycle"


SETTING = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_app') THEN CREATE ROLE notes_app NOLOGIN; END IF;
END $$;
CREATE TABLE public.notes (
  id         int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id  uuid NOT NULL,
  written_in uuid NOT NULL DEFAULT nullif(current_setting('app.tenant_id', true), '')::uuid
);
"""


def test_setting_mode_chooses_an_identity_of_the_owner_columns_type_and_puts_it_in_effect(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    auth = "auth: {mode: setting, role: notes_app, setting: app.tenant_id}"
    contract = "  public.notes:\n    isolation: {owner: tenant_id}\n"
    with seeder_on(target, run_sql, tmp_path, SETTING, contract, auth=auth) as s:
        assert (s.a.identity, s.b.identity) == (None, None)
        note_a, note_b = s.seeder.row(NOTES, s.a), s.seeder.row(NOTES, s.b)
        # chosen as the owner column's type makes one: a fresh uuid per principal
        assert [uuid.UUID(p.identity or "").version for p in (s.a, s.b)] == [4, 4]
        assert s.a.identity != s.b.identity
        assert [n.values for n in (note_a, note_b)] == [
            {"id": "1", "tenant_id": s.a.identity, "written_in": s.a.identity},
            {"id": "2", "tenant_id": s.b.identity, "written_in": s.b.identity},
        ]
        assert s.stored("public.notes") == [note_a, note_b]
        nobody = Principal("C")
        with pytest.raises(SeedError) as raised:
            s.seeder.identity(nobody, NOTES, "nope")
        assert str(raised.value) == "public.notes has no column 'nope' (isolation)"
        assert nobody.identity is None


SETTING_MEMBERSHIP = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_app') THEN CREATE ROLE notes_app NOLOGIN; END IF;
END $$;
CREATE TABLE public.orgs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
CREATE TABLE public.org_members (
  org_id  bigint NOT NULL REFERENCES public.orgs (id),
  user_id int NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE TABLE public.docs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, org_id bigint NOT NULL);
"""


def test_setting_mode_with_membership_takes_the_identity_from_the_user_column_and_the_tenant_from_its_table(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The identity is chosen of org_members.user_id's type (int), the tenant is a new orgs row (its
    identity: the foreign key's referenced column, never a made-up value, which GENERATED ALWAYS refuses),
    and with adoption on (a trigger ran) and no membership row to adopt, the tenant is still made."""
    auth = "auth: {mode: setting, role: notes_app, setting: app.user_id}"
    contract = (
        "  public.docs:\n"
        "    isolation: {owner: org_id, membership: {table: public.org_members, tenant: org_id, user: user_id}}\n"
    )
    docs, orgs, org_members = (QualifiedName("public", t) for t in ("docs", "orgs", "org_members"))
    with seeder_on(target, run_sql, tmp_path, SETTING_MEMBERSHIP, contract, auth=auth) as s:
        doc_a = s.seeder.row(docs, s.a)
        s.seeder.adopting = True
        doc_b = s.seeder.row(docs, s.b)
        assert all(int(p.identity or "") > 0 for p in (s.a, s.b))
        assert s.seeder.tenants == {("public.org_members", "A"): "1", ("public.org_members", "B"): "2"}
        org_rows, member_rows = s.stored("public.orgs"), s.stored("public.org_members")
        assert [r.values for r in org_rows] == [{"id": "1"}, {"id": "2"}]
        assert [r.values for r in member_rows] == [
            {"org_id": "1", "user_id": s.a.identity},
            {"org_id": "2", "user_id": s.b.identity},
        ]
        assert (doc_a.values, doc_b.values) == ({"id": "1", "org_id": "1"}, {"id": "2", "org_id": "2"})
        assert s.seeder.rows == {
            (orgs, "A"): [org_rows[0]],
            (org_members, "A"): [member_rows[0]],
            (docs, "A"): [doc_a],
            (orgs, "B"): [org_rows[1]],
            (org_members, "B"): [member_rows[1]],
            (docs, "B"): [doc_b],
        }


def test_a_via_row_is_the_one_under_the_principals_first_parent(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A's task under A's second project is not A's task under the parent the ownership path picks (the
    first): a new one is made there."""
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        seeder, a = s.seeder, s.a
        seeder.row(PROJECTS, a)
        other = seeder.row(PROJECTS, a, {"name": "Other"})
        under_other = seeder.row(TASKS, a, {"project_id": other.values["id"]})
        task = seeder.row(TASKS, a)
        assert (under_other.values["project_id"], task.values["project_id"]) == ("2", "1")
        assert seeder.rows[(TASKS, "A")] == s.stored("public.tasks") == [under_other, task]


LOOSE_MEMBERSHIP = """
CREATE TABLE public.team_members (team_id uuid NOT NULL, user_id uuid NOT NULL, PRIMARY KEY (team_id, user_id));
CREATE TABLE public.docs (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, team_id uuid NOT NULL);
"""


def test_a_tenant_without_a_tenant_table_is_chosen_once_per_principal(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """team_id has no foreign key: the tenant id is made up, once, and one membership row names it."""
    contract = (
        "  public.docs:\n"
        "    isolation: {owner: team_id, membership: {table: public.team_members, tenant: team_id, user: user_id}}\n"
    )
    docs = QualifiedName("public", "docs")
    with seeder_on(target, run_sql, tmp_path, LOOSE_MEMBERSHIP, contract) as s:
        doc = s.seeder.row(docs, s.a)
        team = s.seeder.tenants[("public.team_members", "A")]
        assert uuid.UUID(team).version == 4
        assert [r.values for r in s.stored("public.team_members")] == [{"team_id": team, "user_id": s.a.identity}]
        assert doc.values == {"id": "1", "team_id": team}


ENUM_MEMBERSHIP = """
CREATE TYPE public.region AS ENUM ('north', 'south');
CREATE TABLE public.region_members (
  region  public.region NOT NULL,
  user_id uuid NOT NULL,
  PRIMARY KEY (region, user_id)
);
CREATE TABLE public.reports (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, region public.region NOT NULL);
"""


def test_a_tenant_without_a_tenant_table_takes_a_value_of_its_columns_type(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """region is an enum (its labels read from the snapshot): the first label; a tenant column the
    membership table lacks is refused by name."""
    contract = (
        "  public.reports:\n"
        "    isolation:\n"
        "      owner: region\n"
        "      membership: {table: public.region_members, tenant: region, user: user_id}\n"
    )
    with seeder_on(target, run_sql, tmp_path, ENUM_MEMBERSHIP, contract) as s:
        report = s.seeder.row(QualifiedName("public", "reports"), s.a)
        assert s.seeder.tenants == {("public.region_members", "A"): "north"}
        assert [r.values for r in s.stored("public.region_members")] == [{"region": "north", "user_id": s.a.identity}]
        assert report.values == {"id": "1", "region": "north"}
        wrong = Membership(table="public.region_members", tenant="zone", user="user_id")
        with pytest.raises(SeedError) as raised:
            s.seeder.tenant(wrong, s.b)
        assert str(raised.value) == "public.region_members has no column 'zone' (membership.tenant)"
    # setting mode: the identity is of the owner column's type, an enum here (the first label)
    setting = "auth: {mode: setting, role: notes_app, setting: app.region}"
    role = (
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_app')"
        " THEN CREATE ROLE notes_app; END IF; END $$"
    )
    with seeder_on(
        target, run_sql, tmp_path, role, "  public.reports:\n    isolation: {owner: region}\n", auth=setting
    ) as s:
        report = s.seeder.row(QualifiedName("public", "reports"), s.a)
        assert (s.a.identity, report.values) == ("north", {"id": "2", "region": "north"})


SHELVES = (
    WITNESS.replace("new.seen_role := current_user;", "")
    + """
CREATE TABLE public.kinds (id int PRIMARY KEY, label text NOT NULL);
CREATE TABLE public.shelves (
  site     text NOT NULL,
  num      int NOT NULL,
  owner_id uuid NOT NULL,
  PRIMARY KEY (site, num)
);
CREATE TABLE public.books (
  id      int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  site    text NOT NULL,
  num     int NOT NULL,
  hint_id int,
  kind_id int NOT NULL,
  CONSTRAINT a_hint FOREIGN KEY (hint_id) REFERENCES public.kinds (id),
  CONSTRAINT b_kind FOREIGN KEY (kind_id) REFERENCES public.kinds (id),
  CONSTRAINT c_shelf FOREIGN KEY (site, num) REFERENCES public.shelves (site, num)
);
CREATE TABLE public.notices (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL);
CREATE TABLE public.loose (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, shelf int NOT NULL CHECK (shelf IN (7)));
CREATE TABLE public.stamped (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  body     text NOT NULL
);
CREATE FUNCTION public.blank() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN new.body := NULL; RETURN new; END $$;
CREATE TRIGGER blank BEFORE INSERT ON public.stamped FOR EACH ROW EXECUTE FUNCTION public.blank();
CREATE TABLE public.strict (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  body     text NOT NULL CONSTRAINT long_body CHECK (length(body) > 500)
);
CREATE TABLE public.pads (
  id       int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL,
  seen_sub text DEFAULT nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub',
  code     text NOT NULL CONSTRAINT code_of_sub CHECK (code = 'c-' || seen_sub)
);
"""
)
SHELVES_CONTRACT = """
  public.shelves:
    isolation: {owner: owner_id, values: {site: "s-${user}", num: "${n}"}}
  public.books:
    columns: {site: {type: text}, num: {type: integer}}
    foreign_keys: [{columns: [site, num], references: "public.shelves(site, num)"}]
    isolation: {via: [site, num]}
  public.loose:
    columns: {shelf: {type: integer}}
    foreign_keys: [{columns: [shelf], references: public.shelves(num)}]
    isolation: {via: shelf}
  public.pads:
    isolation: {owner: owner_id}
  public.notices:
    isolation: {read: anon}
  public.stamped:
    isolation: {owner: owner_id}
  public.strict:
    isolation: {owner: owner_id}
"""
KINDS, SHELVES_T, BOOKS, LOOSE, PADS, NOTICES, STAMPED, STRICT = (
    QualifiedName("public", t) for t in ("kinds", "shelves", "books", "loose", "pads", "notices", "stamped", "strict")
)


def test_a_composite_ownership_path_pins_its_given_part_and_skips_no_required_key(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """books reaches its owner through (site, num): a site given picks the parent shelf with that site; an
    optional key (a_hint, first) is skipped without skipping the required kind_id after it."""
    with seeder_on(target, run_sql, tmp_path, SHELVES, SHELVES_CONTRACT) as s:
        a, b = s.a, s.b
        east = s.seeder.row(BOOKS, a, {"site": "east"})
        (shelf_east,) = s.stored("public.shelves")
        assert shelf_east.values == {"site": "east", "num": "1", "owner_id": a.identity}
        (kind,) = s.stored("public.kinds")
        assert east.values == {"id": "1", "site": "east", "num": "1", "hint_id": None, "kind_id": kind.values["id"]}
        shelf_b = s.seeder.row(SHELVES_T, b)
        assert shelf_b.values == {"site": "s-b", "num": "4", "owner_id": b.identity}
        assert s.stored("public.shelves") == [shelf_east, shelf_b]
        assert s.seeder.rows == {
            (SHELVES_T, "A"): [shelf_east],
            (KINDS, "A"): [kind],
            (BOOKS, "A"): [east],
            (SHELVES_T, "B"): [shelf_b],
        }
        # a table read by anyone (neither owner nor path): nothing is added to what is asked for
        notice = s.seeder.row(NOTICES, a, {"body": "hello"})
        assert notice.values == {"id": "1", "body": "hello"}


def test_a_path_without_its_foreign_key_in_the_database_makes_no_parent(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """loose declares via: shelf, but the database has no such key: the column is filled like any other."""
    with seeder_on(target, run_sql, tmp_path, SHELVES, SHELVES_CONTRACT) as s:
        row = s.seeder.row(LOOSE, s.a)
        assert row.values == {"id": "1", "shelf": "7"}
        assert s.stored("public.shelves") == []
        assert s.seeder.rows == {(LOOSE, "A"): [row]}


def test_rows_of_a_table_without_isolation_are_not_shared_before_any_trigger_ran(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with seeder_on(target, run_sql, tmp_path, SHELVES, SHELVES_CONTRACT) as s:
        kind_a = s.seeder.row(KINDS, s.a, {"label": "shared"})
        kind_b = s.seeder.row(KINDS, s.b, {"label": "shared"})
        assert s.stored("public.kinds") == [kind_a, kind_b]
        assert s.seeder.rows == {(KINDS, "A"): [kind_a], (KINDS, "B"): [kind_b]}
        assert s.seeder.adopting is False  # kinds has no INSERT trigger


def test_checks_are_fitted_with_the_principals_identity_in_effect(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """code must be 'c-' and the default of seen_sub (the claims' subject): fitted to A's, then to B's."""
    with seeder_on(target, run_sql, tmp_path, SHELVES, SHELVES_CONTRACT) as s:
        pad_a = s.seeder.row(PADS, s.a)
        pad_b = s.seeder.row(PADS, s.b)
        assert [p.values for p in s.stored("public.pads")] == [
            {"id": "1", "owner_id": s.a.identity, "seen_sub": s.a.identity, "code": f"c-{s.a.identity}"},
            {"id": "2", "owner_id": s.b.identity, "seen_sub": s.b.identity, "code": f"c-{s.b.identity}"},
        ]
        assert s.stored("public.pads") == [pad_a, pad_b]


def test_a_refused_insert_is_explained_by_the_before_trigger_and_the_made_up_columns(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """blank (a BEFORE INSERT trigger read at start) empties body; long_body refuses the body the seeder made up."""
    with seeder_on(target, run_sql, tmp_path, SHELVES, SHELVES_CONTRACT) as s:
        s.seeder.adopting = True  # under the savepoint: the transaction goes on after each refusal
        with pytest.raises(SeedError) as blanked:
            s.seeder.row(STAMPED, s.a)
        assert str(blanked.value) == (
            "cannot create a test row in public.stamped: public.stamped.body is NOT NULL and got NULL;"
            " a BEFORE INSERT trigger (blank) set it to NULL"
        )
        with pytest.raises(SeedError) as refused:
            s.seeder.row(STRICT, s.a)
        assert str(refused.value) == (
            "cannot create a test row in public.strict: CHECK long_body ((length(body) > 500)) refused the row;"
            " give values for body that satisfy it under isolation.values"
            " (a template such as 'name-${n}' keeps UNIQUE columns distinct)"
        )


def test_a_new_seeder_counts_nothing_unless_asked_and_sets_no_identity_at_first(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Claims already in effect before the seeder's first insert (the platform's: none) are not trusted."""
    with seeder_on(target, run_sql, tmp_path, GRAPH, GRAPH_CONTRACT) as s:
        old = s.seeder
        seeder = Seeder(s.cur, old.contract, old.snapshot, old.impersonation, count_rows=False)
        seeder.start()
        assert seeder.counts_before == {}
        assert seeder.checkpoint() == ({}, {}, {}, 0, False)
        ((project,),) = s.query(
            "INSERT INTO public.projects (owner_id, name, label, code) VALUES (%s, 'p', 'l', 'c') RETURNING id",
            [s.a.identity],
        )
        s.cur.execute("SELECT set_config('request.jwt.claims', %s, true)", ['{"sub": "stale"}'])
        made = seeder.create_user(TASKS, s.b, {"project_id": str(project), "title": "t"})
        assert made.values["seen_sub"] is None
