"""The identity a Supabase-mode test user carries (``rls/identity.py``): the full claim set Supabase's
API sends (sub, role, aud, email, aal, amr, session_id, is_anonymous, app_metadata, user_metadata), with
``auth.claims`` over it (metadata merged key by key); in effect both while the user's rows are created
(a default reading ``request.jwt.claims`` records it) and while the user acts (a policy reading
``auth.jwt()`` lets them through); the anonymous caller carries none."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from project_tests.helpers import isolation
from project_tests.test_rls_seeding import rows, seeded

SCHEMA = """
CREATE TABLE public.stamps (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES auth.users (id),
  claims   jsonb DEFAULT nullif(current_setting('request.jwt.claims', true), '')::jsonb
);
ALTER TABLE public.stamps ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.stamps TO authenticated;
"""
# What a user must show to reach its rows: each claim as Supabase's API sends it for a password sign-in.
STRICT = """
CREATE POLICY own ON public.stamps FOR ALL TO authenticated
  USING (owner_id = (SELECT auth.uid())
         AND auth.jwt() ->> 'aud' = 'authenticated' AND auth.jwt() ->> 'role' = 'authenticated'
         AND auth.jwt() ->> 'aal' = 'aal1' AND NOT (auth.jwt() ->> 'is_anonymous')::boolean
         AND auth.jwt() -> 'amr' -> 0 ->> 'method' = 'password'
         AND auth.jwt() -> 'app_metadata' ->> 'provider' = 'email'
         AND (auth.jwt() -> 'user_metadata' ->> 'email_verified')::boolean
         AND auth.jwt() ->> 'email' LIKE 'pgcontract-%@example.invalid')
  WITH CHECK (owner_id = (SELECT auth.uid()));
"""
CONTRACT = "version: 1\nauth: {mode: supabase%s}\ntables:\n  public.stamps:\n    isolation: {owner: owner_id}\n"
CLAIMS = (
    ", claims: {aal: aal2, tier: gold, app_metadata: {tenant: t1}, user_metadata: {plan: pro, email_verified: false}}"
)


def contract(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "contract.yaml"
    path.write_text(CONTRACT % extra, encoding="utf-8")
    return path


@pytest.mark.parametrize("extra", ["", CLAIMS], ids=["default-claims", "auth-claims"])
def test_a_users_rows_are_created_with_its_full_claim_set_in_effect(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path, extra: str
) -> None:
    run_sql(SCHEMA + "CREATE POLICY own ON public.stamps FOR ALL TO authenticated USING (owner_id = auth.uid());")
    with seeded(target, contract(tmp_path, extra)) as session:
        for principal in (session.a, session.b):
            seen = []
            for row in rows(session, "public.stamps", principal.label):
                session.cur.execute("SELECT claims FROM public.stamps WHERE id = %s", (row.values["id"],))
                found = session.cur.fetchone()
                assert found is not None
                seen.append(found[0])
            assert seen
            email = principal.extra["email"]
            assert re.fullmatch(rf"pgcontract-{principal.label.lower()}-[0-9a-f]{{8}}@example\.invalid", email)
            for claims in seen:
                want: dict[str, Any] = {
                    "sub": principal.identity,
                    "role": "authenticated",
                    "aud": "authenticated",
                    "email": email,
                    "aal": "aal1",
                    "amr": [{"method": "password", "timestamp": 0}],
                    "session_id": claims["session_id"],
                    "is_anonymous": False,
                    "app_metadata": {"provider": "email", "providers": ["email"]},
                    "user_metadata": {
                        "sub": principal.identity,
                        "email": email,
                        "email_verified": True,
                        "phone_verified": False,
                    },
                }
                if extra:
                    want |= {"aal": "aal2", "tier": "gold"}
                    want["app_metadata"]["tenant"] = "t1"
                    want["user_metadata"] |= {"plan": "pro", "email_verified": False}
                assert claims == want
                assert re.fullmatch(r"[0-9a-f-]{36}", claims["session_id"])


@pytest.mark.parametrize("extra", ["", CLAIMS], ids=["default-claims", "auth-claims"])
def test_a_policy_reading_every_claim_lets_the_user_through(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path, extra: str
) -> None:
    """Were a claim missing or different, user A could not read, change or delete its own rows: the
    own-row probes would fail."""
    run_sql(SCHEMA + STRICT)
    if extra:
        # What auth.claims adds and overrides (aal2, the address not verified), each required.
        run_sql(
            "ALTER POLICY own ON public.stamps USING (owner_id = (SELECT auth.uid())"
            " AND auth.jwt() ->> 'tier' = 'gold' AND auth.jwt() -> 'app_metadata' ->> 'tenant' = 't1'"
            " AND auth.jwt() -> 'user_metadata' ->> 'plan' = 'pro' AND auth.jwt() ->> 'aal' = 'aal2'"
            " AND NOT (auth.jwt() -> 'user_metadata' ->> 'email_verified')::boolean)"
        )
    outcome = isolation(target, contract(tmp_path, extra))["public.stamps"]
    assert outcome.violations == []


def test_the_anonymous_caller_carries_no_claims(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> None:
    """A read policy for anon that would show every row to a caller with any claims: none must be set."""
    run_sql(
        SCHEMA + "CREATE POLICY own ON public.stamps FOR ALL TO authenticated USING (owner_id = auth.uid());"
        "GRANT SELECT ON public.stamps TO anon;"
        "CREATE POLICY claimed ON public.stamps FOR SELECT TO anon"
        " USING (nullif(current_setting('request.jwt.claims', true), '') IS NOT NULL);"
    )
    outcome = isolation(target, contract(tmp_path))["public.stamps"]
    assert outcome.violations == []
