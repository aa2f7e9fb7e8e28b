"""``Matrix.probe_reads`` (rls/matrix.py) driven directly on a small real throwaway database, each outcome
pinned whole: the exact findings (rule, message, expected, actual, and the SELECT policies in force), and what
it returns (True when user A saw no row of user B). Each table is built so that one branch of probe_reads
fires through a FOR SELECT policy: a finding that named the wrong command would list other policies.

- ``ledger`` (no owner, ``read: [auditor, admin]``): plain user A may read no row at all, yet reads B's row
  alone (a policy opens the rows listed in ``public.picked``; the test lists B's).
- ``cases`` (owned, ``read: [auditor, admin]``): only auditors read every row; admin, whom 'read' names too,
  reads its own row only.
- ``diary`` (owned): a restrictive FOR SELECT policy hides even user A's own row.
- ``drafts`` (owned, ``allow`` leaves out select): user A reads its own row all the same.
- ``sealed`` (owned, SELECT revoked): the SELECT itself fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pgcontract.connect import Target
from pgcontract.rls.seed import SeededRow
from project_tests.test_rls_matrix import OWN, probed_reads, session_on

ROLE_CLAIM = "((auth.jwt() -> 'app_metadata') ->> 'role')"
ROLE_PRINTED = "((auth.jwt() -> 'app_metadata'::text) ->> 'role'::text)"
ROLES = (
    "auth: {mode: supabase, principals: {admin: {claims: {app_metadata: {role: admin}}},"
    " auditor: {claims: {app_metadata: {role: auditor}}}}}"
)
OWN_POLICY = "CREATE POLICY own ON public.{0} FOR ALL TO authenticated USING ({1}) WITH CHECK ({1});"
READS_SQL = (
    """
CREATE TABLE public.picked (id int PRIMARY KEY);
GRANT SELECT ON public.picked TO authenticated;
CREATE TABLE public.ledger (id int PRIMARY KEY, body text);
ALTER TABLE public.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY picked_rows ON public.ledger FOR SELECT TO authenticated
  USING (id IN (SELECT id FROM public.picked));
"""
    + "".join(
        f"""
CREATE TABLE public.{name} (id int PRIMARY KEY, user_id uuid NOT NULL, body text);
ALTER TABLE public.{name} ENABLE ROW LEVEL SECURITY;
{OWN_POLICY.format(name, OWN)}
"""
        for name in ("cases", "diary", "drafts", "sealed")
    )
    + f"""
CREATE POLICY auditors ON public.cases FOR SELECT TO authenticated USING ({ROLE_CLAIM} = 'auditor');
CREATE POLICY archived ON public.diary AS RESTRICTIVE FOR SELECT TO authenticated USING (false);
CREATE POLICY own_read ON public.drafts FOR SELECT TO authenticated USING ({OWN});
CREATE POLICY own_read ON public.sealed FOR SELECT TO authenticated USING ({OWN});
REVOKE SELECT ON public.sealed FROM authenticated;
"""
)
READS_CONTRACT = """
  public.ledger:
    isolation: {read: [auditor, admin]}
  public.cases:
    isolation: {owner: user_id, read: [auditor, admin]}
  public.diary:
    isolation: {owner: user_id}
  public.drafts:
    isolation: {owner: user_id, allow: [insert, update, delete]}
  public.sealed:
    isolation: {owner: user_id}
"""
OWN_READ = f'"own" USING ({OWN})'
PROBED = (
    ("ledger", None),
    ("cases", None),
    ("cases", "admin"),
    ("cases", "auditor"),
    ("diary", None),
    ("drafts", None),
    ("sealed", None),
)


def test_probe_reads_pins_each_finding_and_what_it_returns(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    with session_on(target, run_sql, tmp_path, READS_SQL, READS_CONTRACT, ROLES) as session:

        def pick_b(table: str, row_b: SeededRow) -> None:
            if table == "ledger":  # as the seeding role: B's row is the one the policy opens
                session.cur.execute("INSERT INTO public.picked VALUES (%s)", [row_b.values["id"]])

        seen = probed_reads(session, PROBED, before=pick_b)
    assert seen == {
        # No owner: plain A must read no row, and reads 1 (B's, not its own): a row of B seen, so not clean.
        ("ledger", None): (
            "none",
            False,
            [
                (
                    "isolation.read_other",
                    "user A read 1 row in public.ledger, which 'read' opens only to auditor, admin",
                    "0 rows",
                    "1",
                    'SELECT as authenticated; policies: "picked_rows" USING '
                    "(id IN ( SELECT picked.id\n   FROM public.picked))",
                ),
            ],
            [],
        ),
        ("cases", None): ("members", True, [], []),
        ("cases", "admin"): (
            "authenticated",
            True,
            [
                (
                    "isolation.read_declared",
                    "user A (admin) cannot read the row of user B in public.cases, which 'read: [auditor, admin]' "
                    "opens to admin",
                    "1 row of user B",
                    "0 rows",
                    f"SELECT as authenticated; policies: \"auditors\" USING ({ROLE_PRINTED} = 'auditor'::text); "
                    + OWN_READ,
                ),
            ],
            [],
        ),
        ("cases", "auditor"): ("authenticated", False, [], []),
        ("diary", None): (
            "members",
            True,
            [
                (
                    "isolation.read_own",
                    "user A cannot read own row in public.diary (policy too strict or grant missing)",
                    "1 own row",
                    "0 rows",
                    f'SELECT as authenticated; policies: "archived" (restrictive) USING (false); {OWN_READ}',
                ),
            ],
            [],
        ),
        ("drafts", None): (
            "members",
            True,
            [
                (
                    "isolation.not_allowed",
                    "user A read own row in public.drafts, but 'allow' leaves out select",
                    "0 rows",
                    "1",
                    f'SELECT as authenticated; policies: {OWN_READ}; "own_read" USING ({OWN})',
                ),
            ],
            [],
        ),
        ("sealed", None): (
            "members",
            False,
            [
                (
                    "isolation.read_own",
                    "user A cannot read own rows in public.sealed: permission denied for table sealed",
                    "own row visible",
                    "SELECT failed",
                    f'SELECT as authenticated; policies: {OWN_READ}; "own_read" USING ({OWN})',
                ),
            ],
            [],
        ),
    }
