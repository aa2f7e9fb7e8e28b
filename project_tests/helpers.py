"""Helpers shared by the project's own tests."""

from __future__ import annotations

from pathlib import Path

from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Finding, FindingIndex, Level

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHAT_SQL = ROOT / "sql" / "010_chat_schema.sql"
CHAT_CONTRACT = ROOT / "contracts" / "tables.yaml"


def snapshot_of(target: Target, contract: Contract | None = None) -> Snapshot:
    with connect(target) as conn:
        return read_snapshot(conn, contract.schemas if contract is not None else None)


def check(target: Target, contract: Contract | Path) -> FindingIndex:
    loaded = load_contract(contract) if isinstance(contract, Path) else contract
    return run_checks(loaded, snapshot_of(target, loaded))


def errors(index: FindingIndex) -> list[Finding]:
    return [f for f in index.findings if f.level is Level.ERROR]


def by_rule(index: FindingIndex, rule: str) -> list[Finding]:
    return [f for f in index.findings if f.rule == rule]
