"""Which tables hold a user's personal data, and how each row is tied to the user (rls/personal.py), read
whole from real databases: each case builds one way of tying a row to the user (or of leaving a table out)
and pins the scope exactly: its tables in order, each table's links (kind, columns, table pointed at, key)
and its declared set_null columns. Then the foreign keys the erasure lint reports, and their ON DELETE text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.names import QualifiedName
from pgcontract.rls.personal import Scope, action, erasure_foreign_keys, scope_of
from project_tests.helpers import snapshot_of

SUPABASE = "auth: {mode: supabase}\nerasure: {users: auth.users}\ntables:\n"
ROLE = "auth: {mode: role}\nerasure: {users: public.app_users}\ntables:\n"
APP_USERS = "CREATE TABLE public.app_users (id int PRIMARY KEY, tenant int, UNIQUE (id, tenant));\n"

# (kind, columns, table pointed at, foreign key's name)
LinkRow = tuple[str, tuple[str, ...], str | None, str | None]
# (table, its links in order, its declared set_null columns)
TableRow = tuple[str, list[LinkRow], list[str]]


def picture(scope: Scope | None) -> tuple[str, list[TableRow]] | None:
    if scope is None:
        return None
    rows: list[TableRow] = []
    for name, table in scope.tables.items():
        assert table.name == name
        links: list[LinkRow] = [
            (
                link.kind,
                link.columns,
                None if link.ref_table is None else str(link.ref_table),
                None if link.fk is None else link.fk.name,
            )
            for link in table.links
        ]
        rows.append((str(name), links, sorted(table.set_null)))
    return str(scope.users), rows


def build(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path, sql: str, contract_text: str
) -> tuple[Contract, Snapshot]:
    run_sql(sql)
    path = tmp_path / "contract.yaml"
    path.write_text(contract_text, encoding="utf-8")
    contract = load_contract(path)
    return contract, snapshot_of(target, contract)


CASES: dict[str, tuple[str, str, list[TableRow]]] = {
    # --- owner ---
    "owner column with a key to the users table": (
        "CREATE TABLE public.threads (id int PRIMARY KEY,"
        " user_id uuid CONSTRAINT threads_owner REFERENCES auth.users (id) ON DELETE CASCADE);",
        SUPABASE + "  public.threads: {isolation: {owner: user_id}}\n",
        [("public.threads", [("owner", ("user_id",), "auth.users", "threads_owner")], [])],
    ),
    "owner column without a key, under supabase auth (auth.uid())": (
        "CREATE TABLE public.notes (id int PRIMARY KEY, owner_id uuid);",
        SUPABASE + "  public.notes: {isolation: {owner: owner_id}}\n",
        [("public.notes", [("owner", ("owner_id",), None, None)], [])],
    ),
    "owner column without a key, outside supabase auth: nothing ties it": (
        APP_USERS + "CREATE TABLE public.drafts (id int PRIMARY KEY, author_id int);",
        ROLE + "  public.drafts: {isolation: {owner: author_id}}\n",
        [],
    ),
    "owner column the database lacks, under supabase auth": (
        "CREATE TABLE public.notes (id int PRIMARY KEY);",
        SUPABASE + "  public.notes: {isolation: {owner: owner_id}}\n",
        [],
    ),
    "owner column with a key to a table that is not personal": (
        "CREATE TABLE public.teams (id int PRIMARY KEY);"
        "CREATE TABLE public.boards (id int PRIMARY KEY, team_id int CONSTRAINT boards_team REFERENCES public.teams);",
        SUPABASE + "  public.boards: {isolation: {owner: team_id}}\n",
        [],
    ),
    "owner column with a key to a personal table: owned through it": (
        APP_USERS + "CREATE TABLE public.profiles (id int PRIMARY KEY,"
        " user_id int CONSTRAINT profiles_user REFERENCES public.app_users ON DELETE CASCADE);"
        "CREATE TABLE public.posts (id int PRIMARY KEY,"
        " profile_id int CONSTRAINT posts_profile REFERENCES public.profiles ON DELETE CASCADE);",
        ROLE + "  public.profiles: {isolation: {owner: user_id}}\n  public.posts: {isolation: {owner: profile_id}}\n",
        [
            ("public.profiles", [("owner", ("user_id",), "public.app_users", "profiles_user")], []),
            ("public.posts", [("owner", ("profile_id",), "public.profiles", "posts_profile")], []),
        ],
    ),
    # --- via ---
    "via chain three deep": (
        "CREATE TABLE public.threads (id int PRIMARY KEY,"
        " user_id uuid CONSTRAINT threads_owner REFERENCES auth.users (id) ON DELETE CASCADE);"
        "CREATE TABLE public.messages (id int PRIMARY KEY,"
        " thread_id int CONSTRAINT messages_thread REFERENCES public.threads ON DELETE CASCADE);"
        "CREATE TABLE public.attachments (id int PRIMARY KEY,"
        " message_id int CONSTRAINT attachments_message REFERENCES public.messages ON DELETE CASCADE);",
        SUPABASE + "  public.threads: {isolation: {owner: user_id}}\n"
        "  public.messages:\n"
        "    columns: {id: {type: int}, thread_id: {type: int}}\n"
        "    foreign_keys: [{columns: [thread_id], references: public.threads(id)}]\n"
        "    isolation: {via: thread_id}\n"
        "  public.attachments:\n"
        "    columns: {id: {type: int}, message_id: {type: int}}\n"
        "    foreign_keys: [{columns: [message_id], references: public.messages(id)}]\n"
        "    isolation: {via: message_id}\n",
        [
            ("public.threads", [("owner", ("user_id",), "auth.users", "threads_owner")], []),
            ("public.messages", [("via", ("thread_id",), "public.threads", "messages_thread")], []),
            ("public.attachments", [("via", ("message_id",), "public.messages", "attachments_message")], []),
        ],
    ),
    "via on a composite key": (
        "CREATE TABLE public.threads (id int, user_id uuid"
        " CONSTRAINT threads_owner REFERENCES auth.users (id) ON DELETE CASCADE, PRIMARY KEY (id, user_id));"
        "CREATE TABLE public.messages (id int PRIMARY KEY, thread_id int, thread_user uuid,"
        " CONSTRAINT messages_thread FOREIGN KEY (thread_id, thread_user) REFERENCES public.threads);",
        SUPABASE + "  public.threads: {isolation: {owner: user_id}}\n"
        "  public.messages:\n"
        "    columns: {id: {type: int}, thread_id: {type: int}, thread_user: {type: uuid}}\n"
        "    foreign_keys: [{columns: [thread_id, thread_user], references: 'public.threads(id, user_id)'}]\n"
        "    isolation: {via: [thread_id, thread_user]}\n",
        [
            ("public.threads", [("owner", ("user_id",), "auth.users", "threads_owner")], []),
            ("public.messages", [("via", ("thread_id", "thread_user"), "public.threads", "messages_thread")], []),
        ],
    ),
    "via whose key the database lacks": (
        "CREATE TABLE public.threads (id int PRIMARY KEY,"
        " user_id uuid CONSTRAINT threads_owner REFERENCES auth.users (id) ON DELETE CASCADE);"
        "CREATE TABLE public.messages (id int PRIMARY KEY, thread_id int);",
        SUPABASE + "  public.threads: {isolation: {owner: user_id}}\n"
        "  public.messages:\n"
        "    columns: {id: {type: int}, thread_id: {type: int}}\n"
        "    foreign_keys: [{columns: [thread_id], references: public.threads(id)}]\n"
        "    isolation: {via: thread_id}\n",
        [("public.threads", [("owner", ("user_id",), "auth.users", "threads_owner")], [])],
    ),
    "via to a parent tied only by cleared columns: the child outlives the user": (
        APP_USERS + "CREATE TABLE public.team_posts (id int PRIMARY KEY,"
        " author_id int CONSTRAINT posts_author REFERENCES public.app_users ON DELETE SET NULL);"
        "CREATE TABLE public.reactions (id int PRIMARY KEY,"
        " post_id int CONSTRAINT reactions_post REFERENCES public.team_posts ON DELETE CASCADE);",
        ROLE + "  public.team_posts:\n"
        "    columns: {id: {type: int}, author_id: {type: int}}\n"
        "    isolation: {read: authenticated}\n"
        "    erasure: {set_null: [author_id]}\n"
        "  public.reactions:\n"
        "    columns: {id: {type: int}, post_id: {type: int}}\n"
        "    foreign_keys: [{columns: [post_id], references: public.team_posts(id)}]\n"
        "    isolation: {via: post_id}\n",
        [("public.team_posts", [("set_null", ("author_id",), "public.app_users", "posts_author")], ["author_id"])],
    ),
    # --- membership ---
    "membership table: its user column, a tenant's table is not personal": (
        APP_USERS + "CREATE TABLE public.orgs (id int PRIMARY KEY);"
        "CREATE TABLE public.members (org_id int CONSTRAINT members_org REFERENCES public.orgs ON DELETE CASCADE,"
        " user_id int CONSTRAINT members_user REFERENCES public.app_users ON DELETE CASCADE);"
        "CREATE TABLE public.projects (id int PRIMARY KEY,"
        " org_id int CONSTRAINT projects_org REFERENCES public.orgs ON DELETE CASCADE);",
        ROLE + "  public.projects:\n"
        "    isolation: {owner: org_id, membership: {table: public.members, tenant: org_id, user: user_id}}\n",
        [("public.members", [("membership", ("user_id",), "public.app_users", "members_user")], [])],
    ),
    "a tenant held by a personal table does not make its tenant-owned rows personal": (
        APP_USERS + "CREATE TABLE public.orgs (id int PRIMARY KEY,"
        " created_by int CONSTRAINT orgs_creator REFERENCES public.app_users ON DELETE CASCADE);"
        "CREATE TABLE public.members (org_id int, user_id int);"
        "CREATE TABLE public.projects (id int PRIMARY KEY,"
        " org_id int CONSTRAINT projects_org REFERENCES public.orgs ON DELETE CASCADE);",
        ROLE + "  public.projects:\n"
        "    isolation: {owner: org_id, membership: {table: public.members, tenant: org_id, user: user_id}}\n",
        [("public.orgs", [("users", ("created_by",), "public.app_users", "orgs_creator")], [])],
    ),
    "membership user column without a key, under supabase auth": (
        "CREATE TABLE public.members (org_id int, user_id uuid);CREATE TABLE public.projects (id int, org_id int);",
        SUPABASE + "  public.projects:\n"
        "    isolation: {owner: org_id, membership: {table: public.members, tenant: org_id, user: user_id}}\n",
        [("public.members", [("membership", ("user_id",), None, None)], [])],
    ),
    # --- any key to the users table, and set_null ---
    "a key to the users table (created_by) of a table the contract leaves out": (
        "CREATE TABLE public.logs (id int, created_by uuid CONSTRAINT logs_creator REFERENCES auth.users (id));",
        SUPABASE + "  public.other: {}\n",
        [("public.logs", [("users", ("created_by",), "auth.users", "logs_creator")], [])],
    ),
    "set_null columns: a key to the users table, no key, a key elsewhere, one the database lacks": (
        APP_USERS + "CREATE TABLE public.teams (id int PRIMARY KEY);"
        "CREATE TABLE public.audit (id int, editor_id int,"
        " actor_id int CONSTRAINT audit_actor REFERENCES public.app_users ON DELETE SET NULL,"
        " team_id int CONSTRAINT audit_team REFERENCES public.teams ON DELETE SET NULL);",
        ROLE + "  public.audit: {erasure: {set_null: [team_id, removed_by, editor_id, actor_id]}}\n",
        [
            (
                "public.audit",
                [
                    ("set_null", ("actor_id",), "public.app_users", "audit_actor"),
                    ("set_null", ("editor_id",), None, None),
                    ("set_null", ("team_id",), "public.teams", "audit_team"),
                ],
                ["actor_id", "editor_id", "removed_by", "team_id"],
            )
        ],
    ),
    "composite keys to the users table: cleared only when every column is declared": (
        APP_USERS + "CREATE TABLE public.shares (a int, b int, c int, d int,"
        " CONSTRAINT shares_ab FOREIGN KEY (a, b) REFERENCES public.app_users (id, tenant) ON DELETE SET NULL,"
        " CONSTRAINT shares_cd FOREIGN KEY (c, d) REFERENCES public.app_users (id, tenant) ON DELETE SET NULL);",
        ROLE + "  public.shares: {erasure: {set_null: [a, c, d]}}\n",
        [
            (
                "public.shares",
                [
                    ("users", ("a", "b"), "public.app_users", "shares_ab"),
                    ("set_null", ("c", "d"), "public.app_users", "shares_cd"),
                    ("set_null", ("a",), None, None),
                    ("set_null", ("c",), None, None),
                    ("set_null", ("d",), None, None),
                ],
                ["a", "c", "d"],
            )
        ],
    ),
    "a key inherited by a partition ties the partition too": (
        APP_USERS + "CREATE TABLE public.events (kind text, user_id int"
        " CONSTRAINT events_user REFERENCES public.app_users ON DELETE CASCADE) PARTITION BY LIST (kind);"
        "CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES IN ('a');",
        ROLE + "  public.events: {}\n",
        [
            ("public.events", [("users", ("user_id",), "public.app_users", "events_user")], []),
            ("public.events_a", [("users", ("user_id",), "public.app_users", "events_user")], []),
        ],
    ),
    # --- left out ---
    "a table whose rows are retained on purpose": (
        "CREATE TABLE public.invoices (id int, customer uuid CONSTRAINT invoices_customer REFERENCES auth.users (id));",
        SUPABASE + "  public.invoices: {erasure: {retain: kept ten years for accounting}}\n",
        [],
    ),
    "the users table itself, though it points at itself": (
        "CREATE TABLE public.app_users (id int PRIMARY KEY,"
        " invited_by int CONSTRAINT invited REFERENCES public.app_users ON DELETE SET NULL);",
        ROLE + "  public.app_users: {}\n",
        [],
    ),
    "a platform table outside the contract": (
        "CREATE TABLE auth.sessions (id int, user_id uuid CONSTRAINT sessions_user REFERENCES auth.users (id));",
        SUPABASE + "  public.other: {}\n",
        [],
    ),
    "a platform table the contract declares": (
        "CREATE SCHEMA storage; CREATE TABLE storage.objects (id int,"
        " owner uuid CONSTRAINT objects_owner REFERENCES auth.users (id) ON DELETE CASCADE);",
        SUPABASE + "  storage.objects: {isolation: {owner: owner}}\n",
        [("storage.objects", [("owner", ("owner",), "auth.users", "objects_owner")], [])],
    ),
    "a table of a schema the contract does not read": (
        "CREATE SCHEMA billing; CREATE TABLE billing.accounts (id int,"
        " user_id uuid CONSTRAINT accounts_user REFERENCES auth.users (id));",
        SUPABASE + "  public.other: {}\n",
        [],
    ),
    "a table an extension owns": (
        "CREATE TABLE public.ext_cache (id int, user_id uuid CONSTRAINT cache_user REFERENCES auth.users (id));"
        "ALTER EXTENSION plpgsql ADD TABLE public.ext_cache;",
        SUPABASE + "  public.other: {}\n",
        [],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scope_of(case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    sql, contract_text, expected = CASES[case]
    contract, snapshot = build(target, run_sql, tmp_path, sql, contract_text)
    users = contract.erasure_users
    assert users is not None
    assert picture(scope_of(contract, snapshot)) == (str(users), expected)


def test_a_contract_without_erasure_has_no_scope(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract, snapshot = build(
        target,
        run_sql,
        tmp_path,
        "CREATE TABLE public.threads (id int, user_id uuid REFERENCES auth.users (id));",
        "auth: {mode: supabase}\ntables:\n  public.threads: {isolation: {owner: user_id}}\n",
    )
    assert scope_of(contract, snapshot) is None


KEYS_SQL = (
    APP_USERS
    + """
CREATE TABLE public.teams (id int PRIMARY KEY);
CREATE TABLE public.notes (id int PRIMARY KEY,
  owner_id int CONSTRAINT notes_owner REFERENCES public.app_users ON DELETE CASCADE);
CREATE TABLE public.tags (id int, note_id int CONSTRAINT tags_note REFERENCES public.notes);
CREATE TABLE public.audit (id int,
  a int CONSTRAINT audit_a REFERENCES public.app_users ON DELETE SET NULL,
  b int CONSTRAINT audit_b REFERENCES public.app_users ON DELETE SET NULL,
  c int CONSTRAINT audit_c REFERENCES public.app_users ON DELETE RESTRICT,
  d int DEFAULT 0 CONSTRAINT audit_d REFERENCES public.app_users ON DELETE SET DEFAULT,
  e int CONSTRAINT audit_e REFERENCES public.teams);
CREATE TABLE public.events (kind text, user_id int CONSTRAINT events_user REFERENCES public.app_users)
  PARTITION BY LIST (kind);
CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES IN ('a');
ALTER TABLE public.events_a ADD CONSTRAINT events_zz FOREIGN KEY (user_id) REFERENCES public.app_users
  ON DELETE RESTRICT;
"""
)
KEYS_CONTRACT = (
    ROLE
    + """  public.notes: {isolation: {owner: owner_id}}
  public.tags:
    columns: {id: {type: int}, note_id: {type: int}}
    foreign_keys: [{columns: [note_id], references: public.notes(id)}]
    isolation: {via: note_id}
  public.audit: {erasure: {set_null: [a]}}
"""
)


def test_erasure_foreign_keys_are_the_keys_that_keep_a_deleted_users_rows(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """CASCADE, and SET NULL on a declared column, erase; every other action on a key to the users table or
    to a personal table keeps the row (or blocks the delete). A key to a table that is not personal is not
    the erasure's; a partition's copy of its parent's key is reported once, on the parent."""
    contract, snapshot = build(target, run_sql, tmp_path, KEYS_SQL, KEYS_CONTRACT)
    scope = scope_of(contract, snapshot)
    assert scope is not None
    assert list(map(str, scope.tables)) == [
        "public.audit",
        "public.events",
        "public.events_a",
        "public.notes",
        "public.tags",
    ]
    found = [(str(entry.name), fk.name, action(fk)) for entry, fk in erasure_foreign_keys(scope, snapshot)]
    assert found == [
        ("public.audit", "audit_b", "ON DELETE SET NULL"),
        ("public.audit", "audit_c", "ON DELETE RESTRICT"),
        ("public.audit", "audit_d", "ON DELETE SET DEFAULT"),
        ("public.events", "events_user", "ON DELETE NO ACTION"),
        ("public.events_a", "events_zz", "ON DELETE RESTRICT"),
        ("public.tags", "tags_note", "ON DELETE NO ACTION"),
    ]
    for entry, fk in erasure_foreign_keys(scope, snapshot):
        assert entry is scope.tables[entry.name]
        assert fk in snapshot.tables[entry.name].constraints


@pytest.mark.parametrize(
    ("clause", "text"),
    [
        ("ON DELETE CASCADE", "ON DELETE CASCADE"),
        ("ON DELETE SET NULL", "ON DELETE SET NULL"),
        ("ON DELETE SET DEFAULT", "ON DELETE SET DEFAULT"),
        ("ON DELETE RESTRICT", "ON DELETE RESTRICT"),
        ("ON DELETE NO ACTION", "ON DELETE NO ACTION"),
        ("", "ON DELETE NO ACTION"),
    ],
)
def test_action_names_the_keys_on_delete(
    clause: str, text: str, target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(f"CREATE TABLE public.p (id int PRIMARY KEY); CREATE TABLE public.c (p int REFERENCES public.p {clause});")
    (fk,) = snapshot_of(target).tables[QualifiedName("public", "c")].constraints_of("f")
    assert action(fk) == text


def test_action_of_a_constraint_without_on_delete_is_no_action(target: Target, run_sql: Callable[[str], None]) -> None:
    """Only a foreign key has an ON DELETE; anything else reads as the default, NO ACTION."""
    run_sql("CREATE TABLE public.p (id int PRIMARY KEY);")
    (key,) = snapshot_of(target).tables[QualifiedName("public", "p")].constraints
    assert key.on_delete is None
    assert action(key) == "ON DELETE NO ACTION"
