"""Callers the matrix tries besides A and B (issue 11): in setting mode the no-identity caller both as a
fresh session sees it (the setting never set: NULL) and with the setting empty; under Supabase, principals
with claims of their own, so that a role-based policy is tested both ways."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import yaml
from pydantic import ValidationError

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.contract.model import RoleAuth, SettingAuth, SupabaseAuth
from pgcontract.names import QualifiedName
from pgcontract.rls.identity import Principal, RoleImpersonation, SettingImpersonation, SupabaseImpersonation
from pgcontract.rls.matrix import IsolationSession, Outcome, isolation_tables

NEVER_SET = "the application role with the setting never set (NULL)"
EMPTY = "the application role with the setting unset"


def outcomes(target: Target, contract_path: Path) -> dict[str, Outcome]:
    """Every table's matrix in one session on one connection, as ``pgcontract check`` runs them."""
    contract = load_contract(contract_path)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        try:
            found = {str(name): session.run(name) for name in isolation_tables(contract)}
        finally:
            left = session.finish()
    assert left == []
    return found


def texts(found: dict[str, Outcome]) -> list[str]:
    return [v.text for outcome in found.values() for v in outcome.violations]


def database_with(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path, schema: str, contract: str
) -> tuple[Target, Path]:
    """The test's database holding ``schema``, and a contract file of ``contract``."""
    run_sql(schema)
    path = tmp_path / "contract.yaml"
    path.write_text(contract, encoding="utf-8")
    return target, path


def owned_table(table: str, policy: str) -> str:
    """A table of users' rows, each user working on their own (``policy``), open to signed-in users only."""
    return f"""
CREATE TABLE public.{table} (
  id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id),
  body    text NOT NULL
);
ALTER TABLE public.{table} ENABLE ROW LEVEL SECURITY;
CREATE POLICY "{policy}" ON public.{table} FOR ALL TO authenticated
  USING (user_id = (SELECT auth.uid())) WITH CHECK (user_id = (SELECT auth.uid()));
REVOKE ALL ON public.{table} FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.{table} TO authenticated;
"""


# --- setting mode: NULL and '' ---------------------------------------------------------------------------

TENANT = "nullif(current_setting('app.tenant_id', true), '')::uuid"
SETTING_SQL = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'docs_app') THEN CREATE ROLE docs_app NOLOGIN; END IF;
END $$;
CREATE TABLE public.folders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, name text);
CREATE TABLE public.docs (id serial PRIMARY KEY, tenant_id uuid NOT NULL, body text NOT NULL);
ALTER TABLE public.folders ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_folders ON public.folders TO docs_app USING (tenant_id = {TENANT});
CREATE POLICY tenant_docs ON public.docs TO docs_app USING (tenant_id = {TENANT});
GRANT SELECT, INSERT, UPDATE, DELETE ON public.folders, public.docs TO docs_app;
GRANT USAGE ON SEQUENCE public.docs_id_seq TO docs_app;
"""
SETTING_CONTRACT = """
version: 1
auth: {mode: setting, role: docs_app, setting: app.tenant_id}
tables:
  public.folders:
    isolation: {owner: tenant_id}
  public.docs:
    isolation: {owner: tenant_id}
"""


def docs_policy(using: str) -> str:
    return (
        f"DROP POLICY tenant_docs ON public.docs; CREATE POLICY tenant_docs ON public.docs TO docs_app USING ({using})"
    )


@pytest.fixture
def setting_db(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    return database_with(run_sql, target, tmp_path, SETTING_SQL, SETTING_CONTRACT)


def test_setting_mode_written_correctly_passes_and_tries_the_fresh_session(setting_db: tuple[Target, Path]) -> None:
    found = outcomes(*setting_db)
    assert texts(found) == []
    assert [note for outcome in found.values() for note in outcome.notes] == []


@pytest.mark.parametrize(
    ("using", "caller"),
    [
        # Opens on NULL only: a fresh session's caller (the setting never set) reads every row; '' does not.
        (f"current_setting('app.tenant_id', true) IS NULL OR tenant_id = {TENANT}", NEVER_SET),
        # Opens on '' only: the caller of a session that has used the setting reads every row; NULL does not.
        (f"current_setting('app.tenant_id', true) = '' OR tenant_id = {TENANT}", EMPTY),
    ],
    ids=["opens-on-null", "opens-on-empty"],
)
def test_no_identity_caller_is_tried_with_the_setting_null_and_empty(
    using: str, caller: str, setting_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    # The table run second: the fresh session's probe covers every table, not only the first one run.
    run_sql(docs_policy(using))
    found = outcomes(*setting_db)
    assert found["public.folders"].violations == []
    # Opening on '' also lets that caller update and delete (USING serves every command); the read is the rule here.
    (violation,) = [v for v in found["public.docs"].violations if v.rule == "isolation.anonymous_read"]
    assert violation.message == f"{caller} read 1 row of user A in public.docs"
    assert violation.through.startswith('SELECT as docs_app; policies: "tenant_docs" USING ')


# Writes open on NULL only (reads are right): the caller of a fresh session writes A's rows; with '' the
# comparison fails, so the caller of a session that has used the setting cannot, and only this probe sees it.
OPENS_ON_NULL = "coalesce(current_setting('app.tenant_id', true), tenant_id::text) = tenant_id::text"
WRITES_OPEN_ON_NULL = f"""
DROP POLICY tenant_docs ON public.docs;
CREATE POLICY docs_read ON public.docs FOR SELECT TO docs_app USING (tenant_id = {TENANT});
CREATE POLICY docs_insert ON public.docs FOR INSERT TO docs_app WITH CHECK ({OPENS_ON_NULL});
CREATE POLICY docs_update ON public.docs FOR UPDATE TO docs_app USING ({OPENS_ON_NULL});
CREATE POLICY docs_delete ON public.docs FOR DELETE TO docs_app USING ({OPENS_ON_NULL});
"""


def test_fresh_session_caller_cannot_write_users_rows(
    setting_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    run_sql(WRITES_OPEN_ON_NULL)
    found = outcomes(*setting_db)
    assert found["public.folders"].violations == []
    docs = found["public.docs"].violations
    assert {v.rule for v in docs} == {"isolation.never_set_write"}
    assert [(v.message, v.through.split(";")[0]) for v in docs] == [
        (f"{NEVER_SET} inserted a row owned by user A into public.docs", "INSERT as docs_app"),
        (f"{NEVER_SET} changed 1 row of user A in public.docs with UPDATE without WHERE", "UPDATE as docs_app"),
        (f"{NEVER_SET} deleted 1 row of user A in public.docs with DELETE without WHERE", "DELETE as docs_app"),
    ]
    assert '"docs_update" USING (COALESCE(current_setting(' in docs[1].through


def test_missing_ok_setting_with_coalesce_passes(
    setting_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """A ``missing_ok`` setting whose NULL and '' both fall back to a tenant nobody has: nothing opens."""
    nobody = "coalesce(nullif(current_setting('app.tenant_id', true), ''), '00000000-0000-0000-0000-000000000000')"
    run_sql(docs_policy(f"tenant_id = {nobody}::uuid"))
    found = outcomes(*setting_db)
    assert texts(found) == []
    assert [note for outcome in found.values() for note in outcome.notes] == []


def test_fresh_session_probe_not_tried_when_seeding_needs_the_setting(
    setting_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """A row that cannot be made without the setting (a default stamping it, NOT NULL) cannot be probed by
    a fresh session: the test says so rather than pass silently, and the rest of the matrix still runs."""
    run_sql(f"ALTER TABLE public.docs ADD COLUMN written_in uuid NOT NULL DEFAULT {TENANT}")
    found = outcomes(*setting_db)
    assert texts(found) == []
    (note,) = found["public.docs"].notes
    assert note.startswith(f"{NEVER_SET} not tried on public.docs: A's row could not be made without the setting")
    assert found["public.folders"].notes == []


def test_fresh_session_probe_needs_the_setting_unused(setting_db: tuple[Target, Path]) -> None:
    """A session that has set the name already cannot show NULL again (it reads '' even after a rollback):
    the probe is reported as not tried instead of being run with ''."""
    target, contract_path = setting_db
    contract = load_contract(contract_path)
    with connect(target) as conn:
        conn.execute("SELECT set_config('app.tenant_id', '', false)")
        snapshot = read_snapshot(conn, contract.schemas)
        session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
        try:
            outcome = session.run(QualifiedName("public", "docs"))
        finally:
            session.finish()
    assert outcome.notes == [f"{NEVER_SET} not tried: the session had used app.tenant_id before"]


# --- principals with claims of their own ----------------------------------------------------------------

IS_ADMIN = "(SELECT auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'"
# The provider comes from the claims every user has: a principal's app_metadata adds to them, not replaces.
ADMIN_POLICY = f"(SELECT auth.jwt() -> 'app_metadata' ->> 'provider') = 'email' AND {IS_ADMIN}"
PRINCIPALS_SQL = f"""
CREATE TABLE public.audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, action text NOT NULL);
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Admins read the log" ON public.audit_log FOR SELECT TO authenticated USING ({ADMIN_POLICY});
REVOKE ALL ON public.audit_log FROM anon, authenticated;
GRANT SELECT ON public.audit_log TO authenticated;

{owned_table("tickets", "Users work on their tickets")}
CREATE POLICY "Admins read every ticket" ON public.tickets FOR SELECT TO authenticated USING ({ADMIN_POLICY});
"""
# Two principals with claims of their own, an admin and another role.
PRINCIPALS_AUTH = """
version: 1
auth:
  mode: supabase
  principals:
    admin: {claims: {app_metadata: {role: admin}}}
    support: {claims: {app_metadata: {role: support}}}
"""
PRINCIPALS_CONTRACT = (
    PRINCIPALS_AUTH
    + """tables:
  public.audit_log:
    isolation: {read: [admin], allow: [select]}
  public.tickets:
    isolation: {owner: user_id, read: [admin]}
"""
)


@pytest.fixture
def principals_db(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    return database_with(run_sql, target, tmp_path, PRINCIPALS_SQL, PRINCIPALS_CONTRACT)


def messages(found: dict[str, Outcome]) -> list[str]:
    return [v.message for outcome in found.values() for v in outcome.violations]


def test_role_based_policies_written_correctly_pass(principals_db: tuple[Target, Path]) -> None:
    assert texts(outcomes(*principals_db)) == []


def replace(table: str, policy: str, using: str) -> str:
    return (
        f'DROP POLICY "{policy}" ON public.{table};'
        f' CREATE POLICY "{policy}" ON public.{table} FOR SELECT TO authenticated USING ({using})'
    )


ROLE_LEAKS = {
    # The admin-only log opened to every signed-in user: the plain user and a principal of another role read it.
    "log-forgets-the-role-check": (
        replace("audit_log", "Admins read the log", "true"),
        [
            "user A read 2 rows in public.audit_log, which 'read' opens only to admin",
            "user A (support) read 2 rows in public.audit_log, which 'read' opens only to admin",
        ],
    ),
    # Another role than the one 'read' names: support reads, admin does not.
    "log-checks-the-wrong-role": (
        replace("audit_log", "Admins read the log", IS_ADMIN.replace("'admin'", "'support'")),
        [
            "user A (admin) cannot read the row of user B in public.audit_log, which 'read: [admin]' opens to admin",
            "user A (admin) cannot read own row in public.audit_log (policy too strict or grant missing)",
            "user A (support) read 2 rows in public.audit_log, which 'read' opens only to admin",
        ],
    ),
    # The role looked up at the JWT's top level (where Supabase puts the database role): admins read nothing.
    "log-reads-the-top-level-role": (
        replace("audit_log", "Admins read the log", "(SELECT auth.jwt() ->> 'role') = 'admin'"),
        [
            "user A (admin) cannot read the row of user B in public.audit_log, which 'read: [admin]' opens to admin",
            "user A (admin) cannot read own row in public.audit_log (policy too strict or grant missing)",
        ],
    ),
    # Tickets: the admins' policy without its check lets every user read every ticket.
    "tickets-forget-the-role-check": (
        replace("tickets", "Admins read every ticket", "true"),
        [
            "user A read 1 row of user B in public.tickets",
            "user A (support) read 1 row of user B in public.tickets",
        ],
    ),
}


@pytest.mark.parametrize("leak", list(ROLE_LEAKS), ids=str)
def test_role_based_policy_is_tried_both_ways(
    leak: str, principals_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    statement, expected = ROLE_LEAKS[leak]
    run_sql(statement)
    assert sorted(messages(outcomes(*principals_db))) == sorted(expected)


def test_a_principal_inherits_the_contracts_claims(principals_db: tuple[Target, Path], tmp_path: Path) -> None:
    """auth.claims hold for every principal; a principal's own claims are merged over them."""
    target, _ = principals_db
    shared = tmp_path / "shared.yaml"
    everyone = "  mode: supabase\n  claims: {app_metadata: {provider: sso}}\n"
    shared.write_text(PRINCIPALS_CONTRACT.replace("  mode: supabase\n", everyone), encoding="utf-8")
    # The policies want provider 'email': with 'sso' for everyone, the admin reads nothing.
    assert "user A (admin) cannot read own row in public.audit_log (policy too strict or grant missing)" in messages(
        outcomes(target, shared)
    )


@pytest.mark.parametrize(
    ("contract", "error"),
    [
        (
            "auth: {mode: supabase}\ntables:\n  public.t:\n    isolation: {read: [admin]}\n",
            r"tables: public.t: isolation.read names 'admin', not among auth.principals",
        ),
        (
            "auth: {mode: setting, role: app, setting: app.tenant_id}\ntables:\n  public.t:\n"
            "    isolation: {owner: tenant_id, read: [admin]}\n",
            r"isolation.read names 'admin', not among auth.principals",
        ),
        (
            "auth: {mode: role, principals: {admin: {}}}\n",
            r"principals",
        ),
        (
            "auth: {mode: supabase, principals: {admin: {}}}\ntables:\n  public.t:\n    isolation: {read: []}\n",
            r"read",
        ),
    ],
    ids=["unknown-principal", "setting-mode-has-no-principals", "role-mode-has-no-principals", "empty-list"],
)
def test_principal_contract_errors(contract: str, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        Contract.model_validate(yaml.safe_load("version: 1\n" + contract))


# --- principals that write every row (isolation.write) -------------------------------------------------

CASES_SQL = f"""
{owned_table("cases", "Users work on their cases")}
CREATE POLICY "Admins read every case" ON public.cases FOR SELECT TO authenticated USING ({IS_ADMIN});
CREATE POLICY "Admins file cases" ON public.cases FOR INSERT TO authenticated WITH CHECK ({IS_ADMIN});
CREATE POLICY "Admins edit every case" ON public.cases FOR UPDATE TO authenticated
  USING ({IS_ADMIN}) WITH CHECK ({IS_ADMIN});
CREATE POLICY "Admins close every case" ON public.cases FOR DELETE TO authenticated USING ({IS_ADMIN});

-- Every signed-in user reads the announcements, only admins write them.
CREATE TABLE public.announcements (id serial PRIMARY KEY, body text NOT NULL);
ALTER TABLE public.announcements ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Everyone reads announcements" ON public.announcements FOR SELECT TO authenticated USING (true);
CREATE POLICY "Admins write announcements" ON public.announcements FOR ALL TO authenticated
  USING ({IS_ADMIN}) WITH CHECK ({IS_ADMIN});
REVOKE ALL ON public.announcements FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.announcements TO authenticated;
GRANT USAGE ON SEQUENCE public.announcements_id_seq TO authenticated;
"""
CASES_CONTRACT = (
    PRINCIPALS_AUTH
    + """tables:
  public.cases:
    isolation: {owner: user_id, read: [admin], write: {admin: [insert, update, delete]}}
  public.announcements:
    isolation: {read: authenticated, allow: [select], write: {admin: [insert, update, delete]}}
"""
)
ADMIN_POLICIES = ("Admins file cases", "Admins edit every case", "Admins close every case")


@pytest.fixture
def cases_db(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    return database_with(run_sql, target, tmp_path, CASES_SQL, CASES_CONTRACT)


CASES_CORRECT = {
    "a-policy-per-command": "",
    # One policy for everything, the admin's check OR'ed with the owner's: the same rights.
    "one-policy-with-or": "".join(
        f'DROP POLICY "{p}" ON public.cases;' for p in (*ADMIN_POLICIES, "Admins read every case")
    )
    + 'DROP POLICY "Users work on their cases" ON public.cases;'
    + 'CREATE POLICY "Owners and admins" ON public.cases FOR ALL TO authenticated'
    + f" USING (user_id = (SELECT auth.uid()) OR {IS_ADMIN}) WITH CHECK (user_id = (SELECT auth.uid()) OR {IS_ADMIN})",
}


@pytest.mark.parametrize("case", list(CASES_CORRECT), ids=str)
def test_principal_writes_written_correctly_pass(
    case: str, cases_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    if CASES_CORRECT[case]:
        run_sql(CASES_CORRECT[case])
    assert texts(outcomes(*cases_db)) == []


def test_writes_open_to_everyone_fail_naming_the_plain_users(
    cases_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """The admins' UPDATE and DELETE policies without their check: every user changes B's rows. The plain
    user and the principal 'write' leaves out are caught; the admin, who may, is not."""
    run_sql(
        'DROP POLICY "Admins edit every case" ON public.cases; DROP POLICY "Admins close every case" ON public.cases;'
        'CREATE POLICY "Admins edit every case" ON public.cases FOR UPDATE TO authenticated USING (true);'
        'CREATE POLICY "Admins close every case" ON public.cases FOR DELETE TO authenticated USING (true)'
    )
    violations = outcomes(*cases_db)["public.cases"].violations
    by_rule = {(v.rule, v.message.split(" changed ")[0].split(" deleted ")[0]) for v in violations}
    for who in ("user A", "user A (support)"):
        assert ("isolation.update_unfiltered", who) in by_rule
        assert ("isolation.delete_unfiltered", who) in by_rule
    assert not [v for v in violations if v.message.startswith("user A (admin)")]
    (deleted,) = [v for v in violations if v.rule == "isolation.delete_unfiltered" and "(support)" in v.message]
    assert deleted.message == "user A (support) deleted 1 row of user B in public.cases with a DELETE without WHERE"
    assert '"Admins close every case" USING (true)' in deleted.through


def test_policies_that_forget_the_admin_fail(cases_db: tuple[Target, Path], run_sql: Callable[[str], None]) -> None:
    run_sql("".join(f'DROP POLICY "{p}" ON public.cases;' for p in ADMIN_POLICIES))
    violations = outcomes(*cases_db)["public.cases"].violations
    assert {v.rule for v in violations} == {"isolation.write_declared"}
    assert [v.message for v in violations] == [
        "user A (admin) cannot insert a row owned by user B into public.cases, which 'write' allows admin: "
        'new row violates row-level security policy for table "cases"',
        "user A (admin) cannot update the row of user B in public.cases, which 'write' allows admin: 0 rows updated",
        "user A (admin) cannot delete the row of user B in public.cases, which 'write' allows admin: 0 rows deleted",
    ]
    assert [v.through.split(";")[0] for v in violations] == [
        "INSERT as authenticated",
        "UPDATE as authenticated",
        "DELETE as authenticated",
    ]
    assert violations[1].through.endswith(
        '"Users work on their cases" USING (user_id = ( SELECT auth.uid() AS uid))'
        " WITH CHECK (user_id = ( SELECT auth.uid() AS uid))"
    )


@pytest.mark.parametrize(
    ("isolation", "error"),
    [
        ("{read: authenticated, write: {root: [update]}}", r"isolation.write names 'root', not among"),
        ("{owner: user_id, write: {admin: [delete]}}", r"'write' lets 'admin' update or delete every row, which needs"),
        ("{owner: user_id, read: [admin], write: {admin: [select]}}", r"write"),
    ],
    ids=["unknown-principal", "writes-without-reading", "select-is-read"],
)
def test_principal_write_contract_errors(isolation: str, error: str) -> None:
    contract = (
        f"auth: {{mode: supabase, principals: {{admin: {{}}}}}}\ntables:\n  public.t:\n    isolation: {isolation}\n"
    )
    with pytest.raises(ValidationError, match=error):
        Contract.model_validate(yaml.safe_load("version: 1\n" + contract))


def test_principal_writes_on_a_table_every_user_reads(
    cases_db: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    """'write' alone makes the matrix try the principals ('read' names none here): the admin must write,
    the others must not."""
    run_sql(
        'DROP POLICY "Admins write announcements" ON public.announcements;'
        'CREATE POLICY "Admins write announcements" ON public.announcements FOR ALL TO authenticated'
        " USING (false) WITH CHECK (false)"
    )
    violations = outcomes(*cases_db)["public.announcements"].violations
    assert [(v.rule, v.message.split(",")[0]) for v in violations] == [
        ("isolation.write_declared", "user A (admin) cannot insert a row owned by user B into public.announcements"),
        ("isolation.write_declared", "user A (admin) cannot update the row of user B in public.announcements"),
        ("isolation.write_declared", "user A (admin) cannot delete the row of user B in public.announcements"),
        (
            "isolation.insert_own",
            "user A (admin) cannot insert own row into public.announcements: new row violates"
            ' row-level security policy for table "announcements"',
        ),
        ("isolation.update_own", "user A (admin) cannot update own row in public.announcements: 0 rows updated"),
        ("isolation.delete_own", "user A (admin) cannot delete own row in public.announcements: 0 rows deleted"),
    ]


def test_role_mode_names_its_roles_per_run_in_lower_case() -> None:
    # Two runs against one database must not collide on a role name; lower case, so a name copied out of a
    # message works in SQL without quotes.
    first, second = (RoleImpersonation(RoleAuth(mode="role")) for _ in range(2))
    a = first.new_principal("A").identity or ""
    assert re.fullmatch(r"pgcontract_a_[0-9a-f]{8}", a)
    assert first.nobody.identity == f"pgcontract_nobody_{a.rsplit('_', 1)[1]}"
    assert second.new_principal("A").identity != a


def test_setting_mode_seeds_with_the_setting_and_a_caller_without_an_id_has_it_empty() -> None:
    # Seeding puts the row's owner in the setting from the start: only the never-set probe leaves it alone.
    setting = SettingImpersonation(SettingAuth(mode="setting", role="app", setting="app.user_id"))
    assert setting.seeding_settings(Principal("A", identity="7")) == {"app.user_id": "7"}
    # Rows made for nobody (or for a user not given an id yet): the setting empty, never a made-up id.
    assert setting.seeding_settings(None) == setting.seeding_settings(Principal("B")) == {"app.user_id": ""}
    # A caller no owner column gave an id has none: the setting empty, never a made-up id.
    assert setting.switch(Principal("B")) == ("app", {"app.user_id": ""})


def test_a_principals_own_claims_are_sent_beside_its_merged_metadata() -> None:
    supabase = SupabaseImpersonation(SupabaseAuth(mode="supabase", claims={"tier": "free"}))
    principal = Principal(
        "A", identity="u1", claims={"user_role": "admin", "app_metadata": {"org": "o1"}, "user_metadata": {"nick": "a"}}
    )
    sent = json.loads(supabase.claims(principal))
    assert (sent["user_role"], sent["tier"], sent["sub"]) == ("admin", "free", "u1")
    assert sent["app_metadata"] == {"provider": "email", "providers": ["email"], "org": "o1"}
    assert (sent["user_metadata"]["nick"], sent["user_metadata"]["sub"]) == ("a", "u1")


def test_the_caller_without_identity_never_keeps_the_last_users_id(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    # The probes switch callers in one transaction: after user A, the anonymous caller must not still be A.
    role = str(pg.execute("SELECT current_user").fetchone()[0])  # type: ignore[index]
    setting = SettingImpersonation(SettingAuth(mode="setting", role=role, setting="app.user_id"))
    with pg.transaction(), pg.cursor() as cur:
        setting.become(cur, Principal("A", identity="7"))
        assert cur.execute("SELECT current_setting('app.user_id')").fetchone() == ("7",)
        setting.become_anonymous(cur)
        assert cur.execute("SELECT current_setting('app.user_id')").fetchone() == ("",)
    supabase = SupabaseImpersonation(SupabaseAuth(mode="supabase"))
    assert supabase.switch_anonymous() == ("anon", {"request.jwt.claims": ""})
    assert supabase.seeding_settings(None) == {"request.jwt.claims": ""}
