"""A DELETE of user B's row that the policies let through but a foreign key refuses is still a leak
(``isolation.delete_other``): the key is checked after the policies, so only B's child rows saved the row,
and B's row without children would be gone. Profiles every signed-in user reads, each with a welcome post
made by a trigger (so B's profile always has a child), and posts referencing profiles without a cascade.
The same for a DELETE without WHERE (``isolation.delete_unfiltered``), which escapes the SELECT policies,
and for the fresh session's caller of setting mode (``isolation.never_set_write``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.helpers import isolation
from project_tests.test_rls_principals import (
    NEVER_SET,
    SETTING_CONTRACT,
    SETTING_SQL,
    WRITES_OPEN_ON_NULL,
    outcomes,
    texts,
)

SCHEMA = """
CREATE TABLE public.profiles (
  id   uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  name text NOT NULL DEFAULT 'someone'
);
CREATE TABLE public.posts (
  id         serial PRIMARY KEY,
  profile_id uuid NOT NULL REFERENCES public.profiles (id),
  body       text NOT NULL
);
CREATE FUNCTION public.welcome_post() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$ BEGIN INSERT INTO public.posts (profile_id, body) VALUES (NEW.id, 'hello'); RETURN NEW; END $$;
CREATE TRIGGER welcome AFTER INSERT ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.welcome_post();
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_all ON public.profiles FOR SELECT TO authenticated USING (true);
CREATE POLICY insert_own ON public.profiles FOR INSERT TO authenticated WITH CHECK (id = (SELECT auth.uid()));
CREATE POLICY update_own ON public.profiles FOR UPDATE TO authenticated
  USING (id = (SELECT auth.uid())) WITH CHECK (id = (SELECT auth.uid()));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.profiles TO authenticated;
"""
CONTRACT = """
version: 1
auth: {mode: supabase}
tables:
  public.profiles:
    isolation: {owner: id, read: authenticated, allow: [select, insert, update]}
"""
# Owners may delete their own profile: a DELETE policy that forgets the owner check.
LEAKY_DELETE = "CREATE POLICY delete_any ON public.profiles FOR DELETE TO authenticated USING (true);"
OWN_DELETE = "CREATE POLICY delete_own ON public.profiles FOR DELETE TO authenticated USING (id = (SELECT auth.uid()));"


@pytest.fixture
def profiles(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> Callable[[str, str], list[str]]:
    run_sql(SCHEMA)

    def run(extra: str, allow: str) -> list[str]:
        run_sql(extra)
        contract = tmp_path / "contract.yaml"
        contract.write_text(CONTRACT.replace("allow: [select, insert, update]", f"allow: [{allow}]"))
        outcome = isolation(target, contract)["public.profiles"]
        return [f"{v.rule}: {v.message}" for v in outcome.violations]

    return run


def test_a_delete_refused_only_by_a_foreign_key_is_a_leak(profiles: Callable[[str, str], list[str]]) -> None:
    found = profiles(LEAKY_DELETE, "select, insert, update")
    other = [m for m in found if m.startswith("isolation.delete_other: ")]
    assert len(other) == 1, found
    assert "user A could delete the row of user B in public.profiles (DELETE ... WHERE)" in other[0]
    assert "only a foreign key refused it" in other[0]


@pytest.mark.parametrize("extra", ["", OWN_DELETE], ids=["no-delete-policy", "delete-own-only"])
def test_deletes_kept_to_own_rows_pass(extra: str, profiles: Callable[[str, str], list[str]]) -> None:
    """No DELETE policy, or one on own rows: B's row is hidden from A's DELETE, and no key is reached."""
    assert profiles(extra, "select, insert, update") == []


# The same profiles, but each user reads only their own: A's DELETE ... WHERE of B's row finds nothing (the
# SELECT policy hides it), so only the DELETE without WHERE, which escapes the SELECT policies, reaches it.
PRIVATE_SCHEMA = SCHEMA.replace(
    "CREATE POLICY read_all ON public.profiles FOR SELECT TO authenticated USING (true);",
    "CREATE POLICY read_own ON public.profiles FOR SELECT TO authenticated USING (id = (SELECT auth.uid()));",
)
PRIVATE_CONTRACT = CONTRACT.replace("read: authenticated, ", "")


@pytest.fixture
def private_profiles(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> Callable[[str], list[str]]:
    run_sql(PRIVATE_SCHEMA)

    def run(extra: str) -> list[str]:
        run_sql(extra)
        contract = tmp_path / "contract.yaml"
        contract.write_text(PRIVATE_CONTRACT)
        outcome = isolation(target, contract)["public.profiles"]
        return [f"{v.rule}: {v.message} ({v.through})" for v in outcome.violations]

    return run


def test_a_where_less_delete_refused_only_by_a_foreign_key_is_a_leak(
    private_profiles: Callable[[str], list[str]],
) -> None:
    """``DELETE FROM profiles`` as A matches B's profile (and A's): the statement fails on the welcome posts'
    key and is rolled back, which must not read as "0 rows of user B"."""
    found = private_profiles(LEAKY_DELETE)
    assert [m.split(":")[0] for m in found] == ["isolation.delete_unfiltered"], found
    assert found[0].startswith(
        "isolation.delete_unfiltered: user A could delete 1 row of user B in public.profiles with a DELETE without"
        " WHERE: the policies let it through and only a foreign key refused it (update or delete on table"
        ' "profiles" violates foreign key constraint "posts_profile_id_fkey" on table "posts")'
    ), found
    assert found[0].endswith('(DELETE as authenticated; policies: "delete_any" USING (true))'), found


@pytest.mark.parametrize("extra", ["", OWN_DELETE], ids=["no-delete-policy", "delete-own-only"])
def test_where_less_deletes_kept_to_own_rows_pass(extra: str, private_profiles: Callable[[str], list[str]]) -> None:
    """With a DELETE policy on own rows the WHERE-less DELETE still fails on the key, but because of A's own
    profile's post: B's row was never the one, and nothing is reported."""
    assert private_profiles(extra) == []


# Setting mode: every doc gets a note (a trigger), which references it with no cascade. The write policies
# open on a NULL setting (as in test_rls_principals): the fresh session's DELETE without WHERE matches A's
# doc, and only the note's key refuses it.
NOTES = """
CREATE TABLE public.doc_notes (id serial PRIMARY KEY, doc_id int NOT NULL REFERENCES public.docs (id));
CREATE FUNCTION public.note_doc() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = ''
AS $$ BEGIN INSERT INTO public.doc_notes (doc_id) VALUES (NEW.id); RETURN NEW; END $$;
CREATE TRIGGER note AFTER INSERT ON public.docs FOR EACH ROW EXECUTE FUNCTION public.note_doc();
"""
# A doc with notes cannot be deleted, not even by its tenant: delete is left out of what users do to own docs.
DOCS_CONTRACT = SETTING_CONTRACT.replace(
    "  public.docs:\n    isolation: {owner: tenant_id}",
    "  public.docs:\n    isolation: {owner: tenant_id, allow: [select, insert, update]}",
)


@pytest.fixture
def docs_db(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    assert DOCS_CONTRACT != SETTING_CONTRACT
    run_sql(SETTING_SQL + NOTES)
    contract = tmp_path / "contract.yaml"
    contract.write_text(DOCS_CONTRACT, encoding="utf-8")
    return target, contract


def test_a_fresh_session_delete_refused_only_by_a_foreign_key_is_a_leak(
    docs_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(WRITES_OPEN_ON_NULL)
    found = outcomes(*docs_db)
    assert found["public.folders"].violations == []
    deletes = [v for v in found["public.docs"].violations if v.through.startswith("DELETE")]
    assert [(v.rule, v.message) for v in deletes] == [
        (
            "isolation.never_set_write",
            f"{NEVER_SET} could delete 1 row of user A in public.docs with DELETE without WHERE: the policies let it"
            ' through and only a foreign key refused it (update or delete on table "docs" violates foreign key'
            ' constraint "doc_notes_doc_id_fkey" on table "doc_notes")',
        )
    ]


def test_a_fresh_session_kept_from_users_rows_passes_with_their_children(
    docs_db: tuple[Target, Path],
) -> None:
    """The same notes, policies written correctly: every DELETE without WHERE fails on a key (A's own doc's
    note, for user A) or finds nothing, and nothing is reported."""
    found = outcomes(*docs_db)
    assert texts(found) == []
    assert [note for outcome in found.values() for note in outcome.notes] == []
