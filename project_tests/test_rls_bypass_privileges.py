"""Privileges row level security does not restrict (TRUNCATE, REFERENCES, TRIGGER), held by a role the
policies apply to: an error-level lint (lint.rls_bypass_privileges) with its REVOKE. The leak is real:
TRUNCATE as `authenticated` empties a table whose policy lets it see none of the rows. No false alarm on
the examples, the owner, a BYPASSRLS role, or a role no policy applies to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Level
from pgcontract.lints import run_lints
from project_tests.helpers import CHAT_CONTRACT, SCHEMAS, run_cli, snapshot_of

RULE = "lint.rls_bypass_privileges"
THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"


def hits(target: Target, contract: Contract | None = None) -> list[tuple[str, str, Level, str | None]]:
    found = run_lints(snapshot_of(target), contract)
    return [(f.object, f.actual, f.level, f.fix.sql if f.fix else None) for f in found if f.rule == RULE]


@pytest.mark.parametrize("schema", ["chat", "workspace", "ledger", "kitchen"])
def test_the_examples_hold_none(schema: str, make_db: Callable[[str], Target]) -> None:
    assert hits(make_db(schema)) == []


@pytest.mark.parametrize("privilege", ["truncate", "references", "trigger"])
def test_a_privilege_granted_to_authenticated_is_an_error_with_its_revoke(
    privilege: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("chat")
    run_sql(f"GRANT {privilege.upper()} ON {THREADS} TO authenticated")
    revoke = f'REVOKE {privilege.upper()} ON "public"."sam_conversation_threads" FROM "authenticated";'
    assert hits(target) == [(f"{THREADS} (authenticated)", privilege, Level.ERROR, revoke)]
    run_sql(revoke)
    assert hits(target) == []


def test_truncate_really_ignores_rls(make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    """Why the lint is an error: authenticated sees no message (no identity set) and still empties them all."""
    target = make_db("chat")
    run_sql(
        "INSERT INTO auth.users (id) VALUES (gen_random_uuid());"
        f" INSERT INTO {THREADS} (user_id, title, thread_type) SELECT id, 't', 'chat' FROM auth.users;"
        f" INSERT INTO {MESSAGES} (thread_id, role, content) SELECT id, 'user', 'hi' FROM {THREADS};"
        f" GRANT TRUNCATE ON {MESSAGES} TO authenticated"
    )
    with psycopg.connect(target.dsn) as conn:
        conn.execute("SET ROLE authenticated")
        assert conn.execute(f"SELECT count(*) FROM {MESSAGES}").fetchone() == (0,)
        conn.execute(f"TRUNCATE {MESSAGES}")
        conn.execute("RESET ROLE")
        assert conn.execute(f"SELECT count(*) FROM {MESSAGES}").fetchone() == (0,)
        conn.rollback()
        assert conn.execute(f"SELECT count(*) FROM {MESSAGES}").fetchone() == (1,)


NO_FALSE_ALARM = {
    "bypassrls role": f"GRANT TRUNCATE ON {THREADS} TO service_role",
    "owner": f"ALTER TABLE {THREADS} OWNER TO authenticated",
    "table without rls": "CREATE TABLE public.scratch (id int); GRANT TRUNCATE ON public.scratch TO authenticated",
}


@pytest.mark.parametrize("case", list(NO_FALSE_ALARM))
def test_no_false_alarm(case: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db("chat")
    run_sql(NO_FALSE_ALARM[case])
    assert hits(target) == []


def test_a_role_no_policy_applies_to_is_not_flagged_one_a_policy_names_is(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    """Workspace's policies are for authenticated only; a maintenance role is outside them, ledger_app
    (named by the ledger's policies) would not be."""
    target = make_db("workspace")
    run_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'maintenance') THEN"
        " CREATE ROLE maintenance NOLOGIN; END IF; END $$;"
        " GRANT TRUNCATE ON public.projects TO maintenance;"
        " CREATE POLICY maintenance_reads ON public.documents FOR SELECT TO maintenance USING (true);"
        " GRANT TRIGGER ON public.documents TO maintenance"
    )
    assert [h[0] for h in hits(target)] == ["public.documents (maintenance)"]


def test_the_level_is_tunable_and_the_check_fails_on_it(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    target = make_db("chat")
    run_sql(f"GRANT TRUNCATE ON {THREADS} TO authenticated")
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(SCHEMAS["chat"][1]))
    assert result.returncode == 1
    assert f"[{RULE}] {THREADS} (authenticated)" in result.stdout
    assert f"[grant.extra] {THREADS}.grants to authenticated" in result.stdout
    tuned = tmp_path / "contract.yaml"
    tuned.write_text(
        CHAT_CONTRACT.read_text(encoding="utf-8") + "\nlints:\n  rls_bypass_privileges: warning\n", encoding="utf-8"
    )
    assert [h[2] for h in hits(target, load_contract(tuned))] == [Level.WARNING]
    # (The chat contract pins its grants too: test_grants fails on the TRUNCATE on its own.)
    lints_only = run_cli("check", "--dsn", target.dsn, "--contract", str(tuned), "--", "-k", "test_lint")
    assert lints_only.returncode == 0, lints_only.stdout
