"""Views the API roles can read (issue 11): user A or the anonymous caller reading user B's rows through a
view is a failure of its own rule, ``isolation.view_read``, naming who read whose rows through which view
and the fix. Views that
keep to the caller's rows pass: ``security_invoker``, an owner that row level security applies to (a plain
role, or the tables' owner under FORCE), a view that filters by ``auth.uid()``, one the API cannot read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.rls.views import views_reading
from project_tests.helpers import isolation, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE TABLE public.notes (
  id      serial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  body    text NOT NULL
);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON public.notes USING (user_id = (SELECT auth.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO authenticated;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO authenticated;
"""
CONTRACT = """
version: 1
auth: {mode: supabase}
tables:
  public.notes:
    isolation: {owner: user_id}
"""
GRANT = "GRANT SELECT ON {} TO authenticated, anon;"
REVOKE = "REVOKE ALL ON {} FROM authenticated, anon;"
FEED = "CREATE VIEW public.feed AS SELECT id, body FROM public.notes;"

LEAKS = {
    # A plain view owned by the superuser that created it: it reads every row, whoever asks.
    "definer-view": (
        FEED + GRANT.format("public.feed"),
        "view public.feed (no security_invoker: it reads as its owner postgres); "
        'fix: ALTER VIEW "public"."feed" SET (security_invoker = on), '
        'or REVOKE SELECT ON "public"."feed" FROM "authenticated"',
    ),
    # Through a view of a view: only the outer one is granted, and it names the table only through the inner
    # one. (An inner security_invoker view would not leak: it always reads as the caller of the query.)
    "view-of-a-view": (
        "CREATE VIEW public.inner_feed AS SELECT id, body FROM public.notes;"
        "CREATE VIEW public.outer_feed AS SELECT body FROM public.inner_feed;"
        + REVOKE.format("public.inner_feed")
        + GRANT.format("public.outer_feed"),
        "view public.outer_feed (no security_invoker: it reads as its owner postgres)",
    ),
    # Counts per user: no row of B is shown, but what A reads still changes with B's rows.
    "aggregate-view": (
        "CREATE VIEW public.note_counts AS SELECT user_id, count(*) AS n FROM public.notes GROUP BY user_id;"
        + GRANT.format("public.note_counts"),
        "view public.note_counts (no security_invoker",
    ),
    # The table reached through the last of several paths, after a view met twice (v2 reads v1, and so
    # does the outer view): the walk through what a view reads goes on past a relation it has seen.
    "view-met-twice-before-the-table": (
        "CREATE VIEW public.a_inner AS SELECT id, body FROM public.notes;"
        "CREATE VIEW public.v1 AS SELECT 1 AS one; CREATE VIEW public.v2 AS SELECT one FROM public.v1;"
        "CREATE VIEW public.combo AS SELECT a.body FROM public.a_inner AS a, public.v1, public.v2;"
        + REVOKE.format("public.a_inner, public.v1, public.v2")
        + GRANT.format("public.combo"),
        "view public.combo (no security_invoker: it reads as its owner postgres)",
    ),
    "materialized-view": (
        "CREATE MATERIALIZED VIEW public.note_copy AS SELECT id, body FROM public.notes;"
        + GRANT.format("public.note_copy"),
        "materialized view public.note_copy (a copy of the rows its owner postgres read at its last refresh); "
        'fix: REVOKE SELECT ON "public"."note_copy" FROM "authenticated" '
        "(row level security never applies to a materialized view)",
    ),
}

CORRECT = {
    # Under a definer view too: an invoker view reads as the caller of the query, whoever owns the outer one.
    "security-invoker-under-a-definer-view": "CREATE VIEW public.inner_feed WITH (security_invoker = on) AS"
    " SELECT id, body FROM public.notes; CREATE VIEW public.outer_feed AS SELECT body FROM public.inner_feed;"
    + GRANT.format("public.inner_feed, public.outer_feed"),
    "security-invoker": "CREATE VIEW public.feed WITH (security_invoker = on) AS SELECT id, body FROM public.notes;"
    + GRANT.format("public.feed"),
    # Owned by a role RLS applies to: the policy (for every role) filters by the caller's claims.
    "owner-subject-to-rls": "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reporting')"
    " THEN CREATE ROLE reporting NOLOGIN; END IF; END $$;"
    "GRANT SELECT ON public.notes TO reporting; GRANT USAGE ON SCHEMA auth TO reporting;"
    "GRANT EXECUTE ON FUNCTION auth.uid() TO reporting;"
    + FEED
    + "ALTER VIEW public.feed OWNER TO reporting;"
    + GRANT.format("public.feed"),
    # The tables' owner under FORCE ROW LEVEL SECURITY is subject to its policies too.
    "table-owner-under-force": "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'notes_owner')"
    " THEN CREATE ROLE notes_owner NOLOGIN; END IF; END $$;"
    "GRANT USAGE ON SCHEMA auth TO notes_owner; GRANT EXECUTE ON FUNCTION auth.uid() TO notes_owner;"
    "ALTER TABLE public.notes OWNER TO notes_owner; ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;"
    + FEED
    + "ALTER VIEW public.feed OWNER TO notes_owner;"
    + GRANT.format("public.feed"),
    "filters-by-auth-uid": "CREATE VIEW public.feed AS SELECT id, body FROM public.notes WHERE user_id = auth.uid();"
    + GRANT.format("public.feed"),
    # Leaky, but the API roles cannot read it (Supabase's default privileges grant every new view: revoked).
    "not-granted": FEED + REVOKE.format("public.feed"),
}


@pytest.fixture
def notes_db(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    run_sql(SCHEMA)
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    return target, contract


@pytest.mark.parametrize("case", list(LEAKS), ids=str)
def test_reading_other_users_rows_through_a_view_is_caught(
    case: str, notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    plant, through = LEAKS[case]
    run_sql(plant)
    outcome = isolation(*notes_db)["public.notes"]
    # Only the view probe sees it: the table's own policies are correct. Both callers the view is granted to
    # read B's rows through it.
    assert [v.rule for v in outcome.violations] == ["isolation.view_read", "isolation.view_read"]
    by_a, by_anon = outcome.violations
    assert by_a.message.startswith("user A read rows of user B in public.notes through ")
    assert by_anon.message.startswith("the anonymous caller read rows of user B in public.notes through ")
    assert through in by_a.message
    assert through.replace('"authenticated"', '"anon"') in by_anon.message
    assert by_a.expected == by_anon.expected == "no row of user B"
    assert by_a.through.startswith('SELECT as authenticated; policies: "own_notes" USING ')
    assert by_anon.through.startswith('SELECT as anon; policies: "own_notes" USING ')
    assert outcome.notes == []


def test_an_invoker_view_over_a_definer_view_is_caught_and_said_to_be_one(
    notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """security_invoker on the outer view does not help when the view it reads is a definer's: both leak,
    and the message says which kind each is (the fix is on the inner one)."""
    run_sql(
        "CREATE VIEW public.inner_feed AS SELECT id, body FROM public.notes;"
        "CREATE VIEW public.outer_feed WITH (security_invoker = on) AS SELECT body FROM public.inner_feed;"
        + GRANT.format("public.inner_feed, public.outer_feed")
    )
    outcome = isolation(*notes_db)["public.notes"]
    assert_only_rule({"public.notes": outcome}, "isolation.view_read")
    by_a = sorted(v.message for v in outcome.violations if v.message.startswith("user A "))
    assert [m.split(" through ")[1].split(";")[0] for m in by_a] == [
        "view public.inner_feed (no security_invoker: it reads as its owner postgres)",
        "view public.outer_feed (security_invoker on)",
    ]


def test_a_view_only_the_anonymous_caller_reads_is_caught(
    notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(FEED + REVOKE.format("public.feed") + "GRANT SELECT ON public.feed TO anon;")
    outcome = isolation(*notes_db)["public.notes"]
    assert [v.message.split(" through ")[0] for v in outcome.violations] == [
        "the anonymous caller read rows of user B in public.notes"
    ]
    assert outcome.violations[0].rule == "isolation.view_read"
    assert outcome.violations[0].actual == "3 rows instead of 2 once a row of user B was added"


@pytest.mark.parametrize("case", list(CORRECT), ids=str)
def test_views_that_keep_to_the_callers_rows_pass(
    case: str, notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(CORRECT[case])
    outcome = isolation(*notes_db)["public.notes"]
    assert outcome.violations == []
    assert outcome.notes == []


def test_a_definer_view_is_caught_with_one_row_per_user(
    notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """The owner column is the key (one row per user): a second row of B would collide, so the probe
    removes B's row instead, and still sees the view change."""
    run_sql(
        "CREATE TABLE public.settings (user_id uuid PRIMARY KEY REFERENCES auth.users (id), theme text NOT NULL);"
        "ALTER TABLE public.settings ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY own_settings ON public.settings USING (user_id = (SELECT auth.uid()));"
        "GRANT SELECT, INSERT, UPDATE, DELETE ON public.settings TO authenticated;"
        "CREATE VIEW public.themes AS SELECT theme FROM public.settings;" + GRANT.format("public.themes")
    )
    target, contract = notes_db
    contract.write_text(CONTRACT + "  public.settings:\n    isolation: {owner: user_id}\n", encoding="utf-8")
    outcome = isolation(target, contract)["public.settings"]
    assert [v.rule for v in outcome.violations] == ["isolation.view_read", "isolation.view_read"]
    assert all(v.actual.endswith("once a row of user B was removed") for v in outcome.violations)


# --- views meant to show everyone's data (views: {<view>: {read: ...}}) -----------------------------------

# A leaderboard of every user's note counts, owned by the superuser (it reads past RLS on purpose).
BOARD = "CREATE VIEW public.board AS SELECT user_id, count(*) AS n FROM public.notes GROUP BY user_id;" + REVOKE.format(
    "public.board"
)


def declare_board(contract: Path, read: str) -> None:
    contract.write_text(CONTRACT + f"views:\n  public.board: {{read: {read}}}\n", encoding="utf-8")


@pytest.mark.parametrize(
    ("read", "granted"),
    [("anon", "authenticated, anon"), ("authenticated", "authenticated")],
    ids=["read-anon", "read-authenticated"],
)
def test_a_view_declared_shared_passes(
    read: str, granted: str, notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(BOARD + f"GRANT SELECT ON public.board TO {granted};")
    target, contract = notes_db
    declare_board(contract, read)
    outcome = isolation(target, contract)["public.notes"]
    assert outcome.violations == []
    assert outcome.notes == []


def test_an_undeclared_shared_view_still_fails(notes_db: tuple[Target, Path], run_sql: Callable[[str], None]) -> None:
    run_sql(BOARD + "GRANT SELECT ON public.board TO authenticated, anon;")
    target, contract = notes_db
    declare_board(contract, "members")  # the default, spelled out: nobody sees others' rows through it
    outcome = isolation(target, contract)["public.notes"]
    assert [v.rule for v in outcome.violations] == ["isolation.view_read", "isolation.view_read"]


def test_a_view_for_signed_in_users_that_anon_reads_fails(
    notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """'read: authenticated' opens the view to signed-in users only: the anonymous caller reading B's rows
    through it is its own rule, and the fix is the revoke (invoker's rights would end the sharing)."""
    run_sql(BOARD + "GRANT SELECT ON public.board TO authenticated, anon;")
    target, contract = notes_db
    declare_board(contract, "authenticated")
    outcome = isolation(target, contract)["public.notes"]
    (violation,) = outcome.violations
    assert violation.rule == "isolation.view_anonymous_read"
    assert violation.message == (
        "the anonymous caller read rows of user B in public.notes through view public.board (no security_invoker:"
        " it reads as its owner postgres), which the view's 'read: authenticated' opens to signed-in users only;"
        ' fix: REVOKE SELECT ON "public"."board" FROM "anon"'
    )
    # Still two groups (A and B): the count of B's group changed, which only the hash of the rows shows.
    assert violation.actual == "2 rows instead of 2 once a row of user B was added"
    assert violation.through.startswith('SELECT as anon; policies: "own_notes" USING ')


PLANS = """
CREATE TABLE public.plans (id serial PRIMARY KEY, name text NOT NULL);
ALTER TABLE public.plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Signed-in users read plans" ON public.plans FOR SELECT TO authenticated USING (true);
REVOKE ALL ON public.plans FROM anon, authenticated;
GRANT SELECT ON public.plans TO authenticated;
"""


@pytest.mark.parametrize(
    ("granted", "rules"),
    [("authenticated", []), ("authenticated, anon", ["isolation.view_anonymous_read"])],
    ids=["signed-in-only", "anon-too"],
)
def test_a_view_of_a_table_for_signed_in_users(
    granted: str, rules: list[str], notes_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """A table every signed-in user reads ('read: authenticated'): a view of it may show its rows to them,
    not to the anonymous caller."""
    run_sql(
        PLANS
        + "CREATE VIEW public.plan_names AS SELECT name FROM public.plans;"
        + REVOKE.format("public.plan_names")
        + f"GRANT SELECT ON public.plan_names TO {granted};"
    )
    target, contract = notes_db
    contract.write_text(
        CONTRACT + "  public.plans:\n    isolation: {read: authenticated, allow: [select]}\n", encoding="utf-8"
    )
    outcome = isolation(target, contract)["public.plans"]
    assert [v.rule for v in outcome.violations] == rules
    if rules:
        assert outcome.violations[0].message.startswith(
            "the anonymous caller read rows of user B in public.plans through view public.plan_names (no"
        )
        assert (
            "which public.plans's 'read: authenticated' opens to signed-in users only" in outcome.violations[0].message
        )


def test_the_views_reading_a_table_are_in_the_order_of_their_names_and_a_cycle_of_views_ends(
    run_sql: Callable[[str], None], target: Target
) -> None:
    """``views_reading`` on a real catalog: the views of a table sorted by their shown names (the catalog
    lists schema ``a`` before ``a$b``; the names ``a.v`` and ``a$b.w`` sort the other way), and a cycle of
    views (PostgreSQL accepts one through CREATE OR REPLACE VIEW) neither loops nor makes a view read itself."""
    run_sql(
        'CREATE SCHEMA a; CREATE SCHEMA "a$b"; CREATE TABLE public.notes (id int);'
        'CREATE VIEW a.v AS SELECT id FROM public.notes; CREATE VIEW "a$b".w AS SELECT id FROM public.notes;'
        "CREATE VIEW public.v1 AS SELECT 1 AS x; CREATE VIEW public.v2 AS SELECT x FROM public.v1;"
        "CREATE OR REPLACE VIEW public.v1 AS SELECT x FROM public.v2;"
    )
    views = snapshot_of(target).views
    assert [str(v.name) for v in views] == ["a.v", "a$b.w", "public.v1", "public.v2"]
    reading = {str(name): [str(v.name) for v in found] for name, found in views_reading(views).items()}
    assert reading == {"public.notes": ["a$b.w", "a.v"], "public.v1": ["public.v2"], "public.v2": ["public.v1"]}
