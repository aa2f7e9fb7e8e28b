"""Probes that think like an attacker, on the SaaS starter (project_tests/realworld/saas_starter) with a
contract that says exactly who may do what: each class of leak planted in a throwaway database is caught
by its rule, with a message saying who did what to whose row, through which command and which policies
were in force; the same schema written correctly passes, including forms that look suspicious (initplan
``(select auth.uid())``, EXISTS, a subquery that inherits the parent's RLS, a side check with the
membership check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import ValidationError

from pgcontract.connect import Target
from pgcontract.contract import ContractError, load_contract
from pgcontract.contract.model import Isolation
from pgcontract.rls.matrix import Violation
from project_tests.helpers import ROOT, isolation
from project_tests.rule_check import assert_only_rule

STARTER_SQL = ROOT / "project_tests" / "realworld" / "saas_starter" / "sql" / "010_saas_starter.sql"

# What the starter needs besides its own SQL to match the contract below: owners may rename an account but
# not hand it over (a column grant), a plans table any signed-in user reads, a roles table users read.
EXTRA_SQL = """
REVOKE UPDATE ON public.accounts FROM authenticated;
GRANT UPDATE (name) ON public.accounts TO authenticated;

CREATE TABLE public.plans (id serial PRIMARY KEY, name text NOT NULL);
ALTER TABLE public.plans ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Signed-in users read plans" ON public.plans FOR SELECT TO authenticated USING (true);

CREATE TYPE public.app_role AS ENUM ('user', 'admin');
CREATE TABLE public.user_roles (
  user_id uuid PRIMARY KEY REFERENCES auth.users (id) ON DELETE CASCADE,
  role    public.app_role NOT NULL DEFAULT 'user'
);
ALTER TABLE public.user_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users read their role" ON public.user_roles
  FOR SELECT TO authenticated USING (user_id = (SELECT auth.uid()));
"""

MEMBERSHIP = "{table: public.account_members, tenant: account_id, user: user_id}"
CONTRACT = f"""
version: 1
auth: {{mode: supabase}}
tables:
  public.profiles:
    isolation: {{owner: id, allow: [select, update]}}
  public.accounts:
    isolation:
      owner: id
      membership: {{table: public.account_members, tenant: account_id, user: user_id, role: role}}
      allow: {{owner: [select, update], member: [select]}}
      protected: [primary_owner, is_personal]
  public.account_members:
    isolation: {{owner: account_id, membership: {MEMBERSHIP}, allow: [select]}}
  public.projects:
    isolation: {{owner: account_id, membership: {MEMBERSHIP}}}
  public.tasks:
    columns: {{project_id: {{type: uuid}}}}
    foreign_keys:
      - {{columns: [project_id], references: public.projects(id)}}
    isolation: {{via: project_id}}
  public.plans:
    isolation: {{read: authenticated, allow: [select], values: {{name: {{A: alpha, B: beta}}}}}}
  public.user_roles:
    isolation: {{owner: user_id, allow: [select], protected: [role]}}
"""

MEMBER_CHECK = (
    "EXISTS (SELECT 1 FROM public.projects p WHERE p.id = project_id AND public.is_account_member(p.account_id))"
)
TASKS_POLICY = '"Members work on their tasks" ON public.tasks'


@dataclass(frozen=True)
class Leak:
    id: str
    sql: str
    rule: str
    message: str  # the violation's message, exactly
    through: str | None = None  # its command and policies, exactly, when the test pins them
    also: tuple[str, ...] = ()  # other probes the same leak necessarily trips

    def __str__(self) -> str:
        return self.id


LEAKS = [
    Leak(
        "allowed-update-refused-on-own-rows",
        f"DROP POLICY {TASKS_POLICY}; CREATE POLICY {TASKS_POLICY} FOR SELECT TO authenticated USING ({MEMBER_CHECK});"
        ' CREATE POLICY "Members add tasks" ON public.tasks FOR INSERT TO authenticated'
        f" WITH CHECK ({MEMBER_CHECK});"
        ' CREATE POLICY "Members remove tasks" ON public.tasks FOR DELETE TO authenticated'
        f" USING ({MEMBER_CHECK})",
        "isolation.update_own",
        "user A cannot update own row in public.tasks: 0 rows updated",
    ),
    Leak(
        "allowed-delete-refused-on-own-rows",
        f"DROP POLICY {TASKS_POLICY}; CREATE POLICY {TASKS_POLICY} FOR SELECT TO authenticated USING ({MEMBER_CHECK});"
        ' CREATE POLICY "Members add tasks" ON public.tasks FOR INSERT TO authenticated'
        f" WITH CHECK ({MEMBER_CHECK});"
        ' CREATE POLICY "Members edit tasks" ON public.tasks FOR UPDATE TO authenticated'
        f" USING ({MEMBER_CHECK})",
        "isolation.delete_own",
        "user A cannot delete own row in public.tasks: 0 rows deleted",
    ),
    Leak(
        "update-using-true-renames-b-without-where",
        'DROP POLICY "Owners rename their accounts" ON public.accounts;'
        ' CREATE POLICY "Owners rename their accounts" ON public.accounts FOR UPDATE TO authenticated USING (true)',
        "isolation.update_unfiltered",
        "user A (as owner) changed 1 row of user B in public.accounts with an UPDATE of name without WHERE",
        'UPDATE as authenticated; policies: "Owners rename their accounts" USING (true)',
        also=("isolation.not_allowed",),
    ),
    Leak(
        "delete-using-true-without-where",
        "CREATE POLICY sweep ON public.projects FOR DELETE TO authenticated USING (true)",
        "isolation.delete_unfiltered",
        "user A deleted 1 row of user B in public.projects with a DELETE without WHERE",
        'DELETE as authenticated; policies: "Members work on their projects" USING (public.is_account_member'
        '(account_id)); "sweep" USING (true)',
    ),
    Leak(
        "member-deletes-team-account",
        'CREATE POLICY "Members close accounts" ON public.accounts FOR DELETE TO authenticated'
        " USING (public.is_account_member(id))",
        "isolation.not_allowed",
        "user A (as member) deleted own row in public.accounts, but 'allow' leaves out delete for member",
    ),
    Leak(
        "member-renames-account",
        'DROP POLICY "Owners rename their accounts" ON public.accounts;'
        ' CREATE POLICY "Owners rename their accounts" ON public.accounts FOR UPDATE TO authenticated'
        " USING (public.is_account_member(id)) WITH CHECK (public.is_account_member(id))",
        "isolation.not_allowed",
        "user A (as member) updated own row in public.accounts, but 'allow' leaves out update for member",
    ),
    Leak(
        "member-deletes-membership-rows",
        "CREATE POLICY leave ON public.account_members FOR DELETE TO authenticated"
        " USING (public.is_account_member(account_id))",
        "isolation.not_allowed",
        "user A deleted own row in public.account_members, but 'allow' leaves out delete",
    ),
    Leak(
        "user-grants-self-a-role-row",
        'CREATE POLICY "Users manage their role" ON public.user_roles FOR ALL TO authenticated'
        " USING (user_id = (SELECT auth.uid()))",
        "isolation.not_allowed",
        "user A inserted own row into public.user_roles, but 'allow' leaves out insert",
        also=("isolation.protected",),
    ),
    Leak(
        "user-makes-self-admin",
        'CREATE POLICY "Users manage their role" ON public.user_roles FOR UPDATE TO authenticated'
        " USING (user_id = (SELECT auth.uid()))",
        "isolation.protected",
        "user A changed protected column role of own row in public.user_roles from 'user' to 'admin'"
        " (UPDATE ... WHERE)",
        also=("isolation.not_allowed",),
    ),
    Leak(
        "owner-hands-account-over",
        "GRANT UPDATE ON public.accounts TO authenticated",
        "isolation.protected",
        "user A (as owner) changed protected column is_personal of own row in public.accounts from 'true' to"
        " 'false' (UPDATE ... WHERE)",
    ),
    Leak(
        "side-column-check-lets-a-write-under-b",
        f"DROP POLICY {TASKS_POLICY}; CREATE POLICY {TASKS_POLICY} FOR ALL TO authenticated"
        f" USING ({MEMBER_CHECK}) WITH CHECK (created_by = (SELECT auth.uid()))",
        "isolation.insert_other",
        "user A inserted a row owned by user B into public.tasks",
        also=("isolation.move_to_other",),
    ),
    Leak(
        "authenticated-only-read-open-to-anon",
        'DROP POLICY "Signed-in users read plans" ON public.plans;'
        ' CREATE POLICY "Signed-in users read plans" ON public.plans FOR SELECT TO anon, authenticated USING (true)',
        "isolation.anonymous_read",
        "the anonymous caller read 1 row of user A in public.plans",
        'SELECT as anon; policies: "Signed-in users read plans" USING (true)',
    ),
    Leak(
        "authenticated-read-too-strict",
        'DROP POLICY "Signed-in users read plans" ON public.plans;'
        ' CREATE POLICY "Signed-in users read plans" ON public.plans FOR SELECT TO authenticated'
        " USING (name <> 'beta')",
        "isolation.read_declared",
        "user A cannot read the row of user B in public.plans, which 'read: authenticated' opens to every"
        " signed-in user",
    ),
]


@pytest.fixture
def starter(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    run_sql(STARTER_SQL.read_text(encoding="utf-8") + EXTRA_SQL)
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    return target, contract


def found(target: Target, contract: Path) -> list[Violation]:
    return [v for outcome in isolation(target, contract).values() for v in outcome.violations]


def test_the_starter_written_correctly_passes(starter: tuple[Target, Path]) -> None:
    target, contract = starter
    outcomes = isolation(target, contract)
    assert len(outcomes) == 7
    for outcome in outcomes.values():
        assert outcome.violations == []
        assert outcome.left_behind == []


@pytest.mark.rule(*dict.fromkeys(leak.rule for leak in LEAKS))
@pytest.mark.parametrize("leak", LEAKS, ids=str)
def test_leak_is_caught(leak: Leak, starter: tuple[Target, Path], run_sql: Callable[[str], None]) -> None:
    """Caught by its rule alone: a probe that another one covers for would not show missing."""
    target, contract = starter
    run_sql(leak.sql)
    outcomes = isolation(target, contract)
    assert_only_rule(outcomes, leak.rule, also=leak.also)
    violations = [v for outcome in outcomes.values() for v in outcome.violations]
    matching = [v for v in violations if v.message == leak.message]
    assert matching, "\n".join(v.text for v in violations)
    assert matching[0].rule == leak.rule
    if leak.through is not None:
        assert matching[0].through == leak.through
        assert matching[0].text == f"{leak.message} ({leak.through})"


SUSPICIOUS_BUT_CORRECT = {
    "subquery-inherits-projects-rls": f"DROP POLICY {TASKS_POLICY}; CREATE POLICY {TASKS_POLICY} FOR ALL"
    " TO authenticated USING (project_id IN (SELECT id FROM public.projects))"
    " WITH CHECK (project_id IN (SELECT id FROM public.projects) AND created_by = (SELECT auth.uid()))",
    "side-check-with-membership-check": f"DROP POLICY {TASKS_POLICY}; CREATE POLICY {TASKS_POLICY} FOR ALL"
    f" TO authenticated USING ({MEMBER_CHECK}) WITH CHECK ({MEMBER_CHECK} AND created_by = auth.uid())",
    "update-policy-reaching-own-rows-only": 'CREATE POLICY "Members rename projects" ON public.projects'
    " FOR UPDATE TO authenticated USING (EXISTS (SELECT 1 FROM public.account_members m"
    " WHERE m.account_id = projects.account_id AND m.user_id = (SELECT auth.uid())))",
}


@pytest.mark.parametrize("case", list(SUSPICIOUS_BUT_CORRECT), ids=str)
def test_suspicious_but_correct_passes(case: str, starter: tuple[Target, Path], run_sql: Callable[[str], None]) -> None:
    target, contract = starter
    run_sql(SUSPICIOUS_BUT_CORRECT[case])
    assert [v.text for v in found(target, contract)] == []


def test_public_read_is_read_anon(starter: tuple[Target, Path], run_sql: Callable[[str], None], tmp_path: Path) -> None:
    """The old spelling keeps working: everyone, anonymous callers included, reads the table."""
    target, _ = starter
    run_sql(next(leak.sql for leak in LEAKS if leak.id == "authenticated-only-read-open-to-anon"))
    old = tmp_path / "old.yaml"
    old.write_text(CONTRACT.replace("read: authenticated", "public_read: true"), encoding="utf-8")
    assert [v.text for v in found(target, old)] == []
    assert Isolation.model_validate({"public_read": True}).readers == "anon"


@pytest.mark.parametrize(
    ("isolation", "error"),
    [
        ({"public_read": True, "read": "authenticated"}, "'public_read: true' means 'read: anon'"),
        ({"owner": "org_id", "allow": {"owner": ["select"]}}, "'allow' per role needs 'membership' with 'role'"),
        ({"read": "members"}, r"give 'owner' \(a column\) or 'via'"),
    ],
)
def test_contract_errors(isolation: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Isolation.model_validate(isolation)


# --- 'allow' per membership role on a table reached through 'via' ---------------------------------------

# Billing rows of an account: every member reads them, only the account's owners delete them.
INVOICES_SQL = """
CREATE TABLE public.invoices (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id   uuid NOT NULL REFERENCES public.accounts (id) ON DELETE CASCADE,
  amount_cents integer NOT NULL CHECK (amount_cents >= 0)
);
ALTER TABLE public.invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Members read invoices" ON public.invoices
  FOR SELECT TO authenticated USING (public.is_account_member(account_id));
CREATE POLICY "Owners delete invoices" ON public.invoices
  FOR DELETE TO authenticated USING (public.is_account_owner(account_id));
REVOKE ALL ON public.invoices FROM anon;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.invoices FROM authenticated;
"""
ACCOUNTS = """
  public.accounts:
    isolation:
      owner: id
      membership: {table: public.account_members, tenant: account_id, user: user_id, role: role}
      allow: {owner: [select, update], member: [select]}
      protected: [primary_owner, is_personal]
"""
INVOICES = """
  public.invoices:
    columns: {account_id: {type: uuid}}
    foreign_keys:
      - {columns: [account_id], references: public.accounts(id)}
    isolation: {via: account_id, allow: {owner: [select, delete], member: [select]}}
"""
BILLING_CONTRACT = "version: 1\nauth: {mode: supabase}\ntables:" + ACCOUNTS + INVOICES


@pytest.fixture
def billing(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    run_sql(STARTER_SQL.read_text(encoding="utf-8") + EXTRA_SQL + INVOICES_SQL)
    contract = tmp_path / "contract.yaml"
    contract.write_text(BILLING_CONTRACT, encoding="utf-8")
    return target, contract


def test_via_table_with_allow_per_role_written_correctly_passes(billing: tuple[Target, Path]) -> None:
    outcomes = isolation(*billing)
    assert [v.text for outcome in outcomes.values() for v in outcome.violations] == []


VIA_ROLE_LEAKS = [
    Leak(
        "member-deletes-billing-rows",
        'DROP POLICY "Owners delete invoices" ON public.invoices; CREATE POLICY "Owners delete invoices"'
        " ON public.invoices FOR DELETE TO authenticated USING (public.is_account_member(account_id))",
        "isolation.not_allowed",
        "user A (as member) deleted own row in public.invoices, but 'allow' leaves out delete for member",
        'DELETE as authenticated; policies: "Owners delete invoices" USING (public.is_account_member(account_id))',
    ),
    Leak(
        "owner-cannot-delete-billing-rows",
        'DROP POLICY "Owners delete invoices" ON public.invoices',
        "isolation.delete_own",
        "user A (as owner) cannot delete own row in public.invoices: 0 rows deleted",
        "DELETE as authenticated; policies: no DELETE policy for this role",
    ),
]


@pytest.mark.parametrize("leak", VIA_ROLE_LEAKS, ids=str)
def test_via_table_allow_per_role_is_tried_for_each_role(
    leak: Leak, billing: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(leak.sql)
    violations = isolation(*billing)["public.invoices"].violations
    assert [(v.rule, v.message, v.through) for v in violations] == [(leak.rule, leak.message, leak.through)]


def test_via_table_allow_per_role_needs_a_role_at_the_end_of_the_chain(tmp_path: Path) -> None:
    no_role = tmp_path / "no_role.yaml"
    no_role.write_text(
        "version: 1\nauth: {mode: supabase}\ntables:\n"
        f"  public.accounts:\n    isolation: {{owner: id, membership: {MEMBERSHIP}}}\n" + INVOICES,
        encoding="utf-8",
    )
    with pytest.raises(
        ContractError,
        match=r"no_role.yaml:\d+:\d+: tables\['public.invoices'\].isolation.allow: "
        r"'allow' per role needs 'membership' with 'role' where the ownership chain ends \(public.accounts\)",
    ):
        load_contract(no_role)
