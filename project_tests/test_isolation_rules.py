"""Every isolation probe has a leak that only it catches (issue 15): each case plants, in a real throwaway
database, a policy (or key, trigger, view, grant) that is wrong for exactly one command or path, and asserts by
rule id that this probe fires, at its level, and that no other probe reports an error. A dead probe then
shows: no other probe covers for it. The schemas are those of the other RLS tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.helpers import CHAT_SQL, SCHEMAS, isolation
from project_tests.rule_check import assert_only_rule
from project_tests.test_rls_delete_refused_by_key import LEAKY_DELETE
from project_tests.test_rls_delete_refused_by_key import SCHEMA as PROFILES_SQL
from project_tests.test_rls_principals import CASES_CONTRACT, CASES_SQL, SETTING_SQL, WRITES_OPEN_ON_NULL
from project_tests.test_rls_views import BOARD, FEED, GRANT
from project_tests.test_rls_views import CONTRACT as NOTES_CONTRACT
from project_tests.test_rls_views import SCHEMA as NOTES_SQL

THREADS = "public.sam_conversation_threads"
OWN = "auth.uid() = user_id"
CHAT = CHAT_SQL.read_text(encoding="utf-8")
# The chat schema's one FOR ALL policy, split per command: each case replaces exactly one of them.
SPLIT = CHAT + (
    f'DROP POLICY "Users access own threads" ON {THREADS};'
    f" CREATE POLICY t_select ON {THREADS} FOR SELECT TO authenticated USING ({OWN});"
    f" CREATE POLICY t_insert ON {THREADS} FOR INSERT TO authenticated WITH CHECK ({OWN});"
    f" CREATE POLICY t_update ON {THREADS} FOR UPDATE TO authenticated USING ({OWN}) WITH CHECK ({OWN});"
    f" CREATE POLICY t_delete ON {THREADS} FOR DELETE TO authenticated USING ({OWN});"
)


def replace(policy: str, definition: str) -> str:
    return f"DROP POLICY {policy} ON {THREADS}; CREATE POLICY {policy} ON {THREADS} {definition}"


def supabase(table: str, isolation_: str) -> str:
    return f"version: 1\nauth: {{mode: supabase}}\ntables:\n  {table}:\n    isolation: {isolation_}\n"


THREADS_CONTRACT = supabase(THREADS, "{owner: user_id}")
# Threads everyone reads, guests included, and a pinned thread (no owner) that no one may change or delete: a
# statement without WHERE reaches it and fails as a whole, one naming a row does not.
PUBLIC_THREADS = CHAT + (
    f"CREATE POLICY everyone_reads ON {THREADS} FOR SELECT TO anon, authenticated USING (true);"
    f" INSERT INTO {THREADS} (title, thread_type) VALUES ('Welcome', 'pinned');"
    " CREATE FUNCTION public.keep_pinned() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN IF OLD.thread_type = 'pinned' THEN RAISE EXCEPTION 'the pinned thread stays'; END IF;"
    " RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END; END $$;"
    f" CREATE TRIGGER keep_pinned BEFORE UPDATE OR DELETE ON {THREADS}"
    " FOR EACH ROW EXECUTE FUNCTION public.keep_pinned();"
)
PUBLIC_THREADS_CONTRACT = supabase(THREADS, "{owner: user_id, read: anon}")
PROFILES = "public.profiles"
# Profiles every signed-in user reads (delete_refused_by_key's schema); without the welcome post, a profile has
# no child row, so the DELETE of one is refused by nothing but the policies and triggers.
NO_WELCOME = "DROP TRIGGER welcome ON public.profiles;"
# Deleting one's own profile goes through the account's erasure, not the API: refused by a trigger.
KEEP_OWN = """
CREATE FUNCTION public.keep_own_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.id = (SELECT auth.uid()) AND current_user = 'authenticated' THEN
    RAISE EXCEPTION 'delete your account to delete your profile';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER keep_own BEFORE DELETE ON public.profiles FOR EACH ROW EXECUTE FUNCTION public.keep_own_profile();
"""
LEDGER_SQL = SCHEMAS["ledger"][0].read_text(encoding="utf-8")
SETTING_CONTRACT = "version: 1\nauth: {mode: setting, role: docs_app, setting: app.tenant_id}\ntables:\n"


@dataclass(frozen=True)
class Case:
    id: str
    rule: str
    schema: str  # SQL of the correct schema (the contract passes on it)
    leak: str  # SQL that plants the leak only this probe catches
    contract: str | Path  # YAML text, or a contract file or directory
    table: str

    def __str__(self) -> str:
        return self.id


CASES = [
    # A second SELECT policy for signed-in users that forgets the owner: reads only; writes stay filtered.
    Case(
        "select-open-to-every-signed-in-user",
        "isolation.read_other",
        CHAT,
        f"CREATE POLICY peek ON {THREADS} FOR SELECT TO authenticated USING (true)",
        THREADS_CONTRACT,
        THREADS,
    ),
    # SELECT compares the wrong column (the thread's id): owners lose their threads, but may still add them;
    # updates and deletes are not the API's ('allow'), and stay refused.
    Case(
        "select-on-the-wrong-column",
        "isolation.read_own",
        SPLIT + f"DROP POLICY t_update ON {THREADS}; DROP POLICY t_delete ON {THREADS};",
        replace("t_select", "FOR SELECT TO authenticated USING (auth.uid() = id)"),
        supabase(THREADS, "{owner: user_id, allow: [select, insert]}"),
        THREADS,
    ),
    # Signed-in users may edit others' profiles (never their own: allow leaves update out). An UPDATE without
    # WHERE fails as a whole on the caller's own row, so only the UPDATE ... WHERE of B's row shows it.
    Case(
        "update-of-others-profiles",
        "isolation.update_other",
        PROFILES_SQL + NO_WELCOME + "DROP POLICY update_own ON public.profiles;",
        "CREATE POLICY edit_others ON public.profiles FOR UPDATE TO authenticated"
        " USING (true) WITH CHECK (id <> (SELECT auth.uid()))",
        supabase(PROFILES, "{owner: id, read: authenticated, allow: [select, insert]}"),
        PROFILES,
    ),
    # The DELETE policy forgets the owner; a trigger refuses deleting one's own profile, so the DELETE
    # without WHERE (which reaches the caller's own row too) fails as a whole: only DELETE ... WHERE deletes.
    Case(
        "delete-policy-forgets-the-owner",
        "isolation.delete_other",
        PROFILES_SQL + NO_WELCOME + KEEP_OWN,
        LEAKY_DELETE,
        supabase(PROFILES, "{owner: id, read: authenticated, allow: [select, insert, update]}"),
        PROFILES,
    ),
    # The same policy, where B's welcome post (a key without cascade) is all that kept B's profile. The
    # trigger keeps the DELETE without WHERE from reaching the key (it fails on the caller's own row first):
    # without it, that probe would see the key's refusal too (isolation.delete_unfiltered).
    Case(
        "delete-refused-only-by-a-key",
        "isolation.delete_other",
        PROFILES_SQL + KEEP_OWN,
        LEAKY_DELETE,
        supabase(PROFILES, "{owner: id, read: authenticated, allow: [select, insert, update]}"),
        PROFILES,
    ),
    # An entry's key names the account without the tenant: an entry of A can hang from B's account, and the
    # policy (which checks the entry's own tenant) lets it.
    Case(
        "entry-key-without-the-tenant",
        "isolation.attach_other",
        LEDGER_SQL,
        "ALTER TABLE public.accounts ADD UNIQUE (id);"
        " ALTER TABLE public.entries DROP CONSTRAINT entries_tenant_id_account_id_fkey;"
        " ALTER TABLE public.entries ADD FOREIGN KEY (account_id) REFERENCES public.accounts (id)",
        SCHEMAS["ledger"][1],
        "public.entries",
    ),
    # UPDATE's WITH CHECK accepts any new owner: an UPDATE ... WHERE is still refused (the new row fails the
    # SELECT policy), the one without WHERE hands the row over.
    Case(
        "update-check-accepts-any-owner",
        "isolation.move_to_other",
        SPLIT,
        replace("t_update", f"FOR UPDATE TO authenticated USING ({OWN}) WITH CHECK (true)"),
        THREADS_CONTRACT,
        THREADS,
    ),
    # INSERT closed (a check meant for another table): users cannot start a thread; every other command is
    # right. (A check on the wrong column, auth.uid() = id, would let A plant rows for B: the probe fills
    # every column compared with the caller with A's id.)
    Case(
        "inserts-closed",
        "isolation.insert_own",
        SPLIT,
        replace("t_insert", "FOR INSERT TO authenticated WITH CHECK (false)"),
        THREADS_CONTRACT,
        THREADS,
    ),
    # Guests may start threads, for anyone.
    Case(
        "guests-insert-threads",
        "isolation.anonymous_write",
        CHAT,
        f"CREATE POLICY guest_threads ON {THREADS} FOR INSERT TO anon WITH CHECK (true)",
        THREADS_CONTRACT,
        THREADS,
    ),
    # Guests may edit any thread (threads are public reading: 'read: anon'). The pinned thread's trigger makes
    # an UPDATE of every row fail as a whole, so only the guest's UPDATE ... WHERE of A's thread shows it.
    Case(
        "guests-edit-threads",
        "isolation.anonymous_write",
        PUBLIC_THREADS,
        f"CREATE POLICY guest_edit ON {THREADS} FOR UPDATE TO anon USING (true)",
        PUBLIC_THREADS_CONTRACT,
        THREADS,
    ),
    # Guests may delete any thread; the pinned one's trigger keeps a DELETE without WHERE from going through.
    Case(
        "guests-delete-threads",
        "isolation.anonymous_write",
        PUBLIC_THREADS,
        f"CREATE POLICY guest_delete ON {THREADS} FOR DELETE TO anon USING (true)",
        PUBLIC_THREADS_CONTRACT,
        THREADS,
    ),
    # Writes open on NULL only (reads are right): the fresh session's caller writes A's rows, the caller of a
    # session that has used the setting ('') cannot. Only docs: the probe needs a session that never used it.
    Case(
        "writes-open-on-null",
        "isolation.never_set_write",
        SETTING_SQL,
        WRITES_OPEN_ON_NULL,
        SETTING_CONTRACT + "  public.docs:\n    isolation: {owner: tenant_id}\n",
        "public.docs",
    ),
    # A view owned by the superuser reads every note, whoever asks; the table's policies are right.
    Case(
        "definer-view",
        "isolation.view_read",
        NOTES_SQL,
        FEED + GRANT.format("public.feed"),
        NOTES_CONTRACT,
        "public.notes",
    ),
    # A leaderboard for signed-in users ('read: authenticated'), granted to anon too.
    Case(
        "signed-in-view-granted-to-anon",
        "isolation.view_anonymous_read",
        NOTES_SQL,
        BOARD + "GRANT SELECT ON public.board TO authenticated, anon;",
        NOTES_CONTRACT + "views:\n  public.board: {read: authenticated}\n",
        "public.notes",
    ),
    # The admins' INSERT policy dropped: admins may no longer file cases for users ('write: {admin: [insert]}').
    Case(
        "admin-insert-policy-dropped",
        "isolation.write_declared",
        CASES_SQL,
        'DROP POLICY "Admins file cases" ON public.cases',
        CASES_CONTRACT,
        "public.cases",
    ),
]


def contract_file(case: Case, directory: Path) -> Path:
    if isinstance(case.contract, Path):
        return case.contract
    path = directory / "contract.yaml"
    path.write_text(case.contract, encoding="utf-8")
    return path


@pytest.mark.rule(*dict.fromkeys(case.rule for case in CASES))
@pytest.mark.parametrize("case", CASES, ids=str)
def test_only_this_probe_catches_the_leak(
    case: Case, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(case.schema)
    contract = contract_file(case, tmp_path)
    before = isolation(target, contract)
    assert [v.text for outcome in before.values() for v in outcome.violations] == [], "isolated before the leak"
    run_sql(case.leak)
    outcomes = isolation(target, contract)
    assert_only_rule(outcomes, case.rule, obj=case.table)
