"""Callers the matrix tries besides A and B (issue 11): in setting mode the no-identity caller both as a
fresh session sees it (the setting never set: NULL) and with the setting empty; under Supabase, principals
with claims of their own, so that a role-based policy is tested both ways."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.names import QualifiedName
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
    run_sql(SETTING_SQL)
    contract = tmp_path / "contract.yaml"
    contract.write_text(SETTING_CONTRACT, encoding="utf-8")
    return target, contract


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
