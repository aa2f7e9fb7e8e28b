"""A DELETE of user B's row that the policies let through but a foreign key refuses is still a leak
(``isolation.delete_other``): the key is checked after the policies, so only B's child rows saved the row,
and B's row without children would be gone. Profiles every signed-in user reads, each with a welcome post
made by a trigger (so B's profile always has a child), and posts referencing profiles without a cascade."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.helpers import isolation

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
