"""The real-world corpus (project_tests/realworld) and the examples (examples/) against their intent
contracts with ``--rls-live``, as a user runs them against a database of their own (a DSN, not the embedded
server): the schema as written passes; a policy loosened fails, naming who did what to whose rows.

Which corpus schemas have an intent contract:
- saas_starter: yes (contracts/tables.yaml: who owns each row, membership, allowed commands; no policy).
- gis_app: yes (contracts/tables.yaml: owners, reference data everyone reads, append-only check-ins with
  protected columns; no policy, no values for its PostGIS columns).
- sample_store: no per-user data to isolate. Customers and orders are rows of a back office; no role acts
  as a customer and no table has row level security, so there is nothing for an isolation matrix to try.
- plain_saas: tenant data (rooms, bookings, invoices carry tenant_id), but no row level security: the
  application filters by tenant itself and its role ``saas_app`` reads every tenant's rows by design. An
  intent contract would fail on every table as the schema stands, so there is none to pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.helpers import ROOT, SCHEMAS, run_cli

REALWORLD = ROOT / "project_tests" / "realworld"


@dataclass(frozen=True)
class Corpus:
    name: str
    sql: Path
    contract: Path
    leak: str  # SQL that loosens one policy
    failure: str  # the line the isolation test prints for it

    def __str__(self) -> str:
        return self.name


CORPUS = [
    Corpus(
        "saas_starter",
        REALWORLD / "saas_starter" / "sql" / "010_saas_starter.sql",
        REALWORLD / "saas_starter" / "contracts" / "tables.yaml",
        'DROP POLICY "Members work on their projects" ON public.projects;'
        ' CREATE POLICY "Members work on their projects" ON public.projects FOR ALL TO authenticated'
        " USING (true) WITH CHECK (public.is_account_member(account_id))",
        "user A read 1 row of user B in public.projects (SELECT as authenticated; "
        'policies: "Members work on their projects" USING (true))',
    ),
    Corpus(
        "gis_app",
        REALWORLD / "gis_app" / "schema.sql",
        REALWORLD / "gis_app" / "contracts" / "tables.yaml",
        'DROP POLICY "Owners manage their tracks" ON public.tracks;'
        ' CREATE POLICY "Owners manage their tracks" ON public.tracks FOR ALL TO authenticated'
        " USING (true) WITH CHECK (owner_id = (SELECT auth.uid()))",
        "user A read 1 row of user B in public.tracks (SELECT as authenticated; "
        'policies: "Owners manage their tracks" USING (true))',
    ),
]


@pytest.mark.parametrize("corpus", CORPUS, ids=str)
def test_corpus_passes_its_intent_contract_live(corpus: Corpus, target: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(corpus.sql.read_text(encoding="utf-8"))
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(corpus.contract), "--rls-live", "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_isolation[" in result.stdout
    assert " FAILED" not in result.stdout
    assert " SKIPPED" not in result.stdout


@pytest.mark.parametrize("corpus", CORPUS, ids=str)
def test_corpus_with_a_loosened_policy_fails_live(
    corpus: Corpus, target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(corpus.sql.read_text(encoding="utf-8"))
    run_sql(corpus.leak)
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(corpus.contract), "--rls-live")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"  - {corpus.failure}\n" in result.stdout


GIS = CORPUS[1]
# Leaks only the PostGIS app's seeded rows can reveal (its places, check-ins): each fails naming who did what.
GIS_LEAKS = {
    "private place read": (
        'DROP POLICY "Public places are visible" ON public.places;'
        " CREATE POLICY places_read ON public.places FOR SELECT TO anon, authenticated USING (true)",
        'user A read 1 row of user B in public.places (SELECT as authenticated; policies: "places_read" USING (true))',
    ),
    "check-in at another user's private place": (
        'DROP POLICY "Users check in at visible places" ON public.check_ins;'
        " CREATE POLICY check_in ON public.check_ins FOR INSERT TO authenticated"
        " WITH CHECK (user_id = (SELECT auth.uid()))",
        "user A attached a row in public.check_ins to public.places of user B (through place_id) (INSERT as "
        'authenticated; policies: "check_in" WITH CHECK (user_id = ( SELECT auth.uid() AS uid)))',
    ),
    "check-in moved after the fact": (
        "CREATE POLICY fix_check_in ON public.check_ins FOR UPDATE TO authenticated"
        " USING (user_id = (SELECT auth.uid()))",
        "user A changed protected column position of own row in public.check_ins from '0101000020E6100000",
    ),
}


@pytest.mark.parametrize("leak", GIS_LEAKS)
def test_gis_app_leaks_fail_live(leak: str, target: Target, run_sql: Callable[[str], None]) -> None:
    statement, failure = GIS_LEAKS[leak]
    run_sql(GIS.sql.read_text(encoding="utf-8"))
    run_sql(statement)
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(GIS.contract), "--rls-live")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"  - {failure}" in result.stdout, result.stdout


@pytest.mark.parametrize("example", ["workspace", "ledger"])
def test_example_passes_its_contract_live(example: str, make_db: Callable[[str], Target]) -> None:
    """The examples as a user runs them against their own database (a DSN, so only with ``--rls-live``);
    test_rls_leaks.py runs them on the embedded server, where the isolation tests need no flag."""
    target = make_db(example)
    result = run_cli("check", "--dsn", target.dsn, "--contract", str(SCHEMAS[example][1]), "--rls-live", "--", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_isolation[public." in result.stdout
    assert " FAILED" not in result.stdout
    assert " SKIPPED" not in result.stdout
