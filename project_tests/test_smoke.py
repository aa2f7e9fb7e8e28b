"""The chat schema of this repository passes its own contract, read in one READ ONLY transaction, in the
same number of statements whatever the number of tables (counted as they are sent, not taken from the code)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import psycopg

from pgcontract.catalog import read_snapshot
from pgcontract.catalog.snapshot import QUERY_FILES, query_text
from pgcontract.checks import run_checks
from pgcontract.connect import Target, connect
from pgcontract.contract import load_contract
from project_tests.helpers import CHAT_CONTRACT, check, errors, snapshot_of


def test_chat_schema_passes_its_contract(chat_db: Target) -> None:
    assert errors(check(chat_db, CHAT_CONTRACT)) == []


def test_snapshot_reads_in_read_only_transaction(chat_db: Target) -> None:
    snapshot = snapshot_of(chat_db, load_contract(CHAT_CONTRACT))
    assert snapshot.read_only


def statements_of_a_check(target: Target) -> list[str]:
    """Every statement a check sends (the catalog read and the checks), counted on its connection."""
    sent: list[str] = []

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **options: Any) -> Self:
            sent.append(query.decode() if isinstance(query, bytes) else str(query))
            return super().execute(query, params, **options)

    contract = load_contract(CHAT_CONTRACT)
    with connect(target) as conn:
        conn.cursor_factory = Counting
        run_checks(contract, read_snapshot(conn, contract.schemas))
    return sent


def test_a_check_sends_the_same_statements_for_two_tables_as_for_forty(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    few = statements_of_a_check(chat_db)
    texts = {query_text(name) for name in QUERY_FILES}
    catalog = [q for q in few if q in texts]
    assert len(catalog) == len(QUERY_FILES), few
    assert len(few) <= len(QUERY_FILES) + 5, few  # and the transaction's settings
    run_sql("".join(f"CREATE TABLE public.extra_{i} (id int PRIMARY KEY, note text);" for i in range(40)))
    assert statements_of_a_check(chat_db) == few
