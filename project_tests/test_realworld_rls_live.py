"""The real-world corpus (project_tests/realworld) against its intent contracts with ``--rls-live``, as a
user runs it against a database of their own (a DSN, not the embedded server): the schema as written
passes; a policy loosened fails, naming who did what to whose rows.

Which corpus schemas have an intent contract:
- saas_starter: yes (contracts/tables.yaml: who owns each row, membership, allowed commands; no policy).
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
from project_tests.helpers import ROOT, run_cli

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
