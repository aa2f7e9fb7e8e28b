"""The chat schema of this repository passes its own contract, read in one READ ONLY transaction."""

from __future__ import annotations

from pgcontract.catalog.snapshot import QUERY_FILES
from pgcontract.connect import Target
from pgcontract.contract import load_contract
from project_tests.helpers import CHAT_CONTRACT, check, errors, snapshot_of


def test_chat_schema_passes_its_contract(chat_db: Target) -> None:
    assert errors(check(chat_db, CHAT_CONTRACT)) == []


def test_snapshot_reads_in_read_only_transaction(chat_db: Target) -> None:
    snapshot = snapshot_of(chat_db, load_contract(CHAT_CONTRACT))
    assert snapshot.read_only
    assert snapshot.query_count == len(QUERY_FILES) == 20
