"""Helpers shared by the project's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import psycopg

from pgcontract.adopt import contract_from_snapshot, dump_contract
from pgcontract.catalog import Snapshot, read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Finding, FindingIndex, Level
from pgcontract.rls.matrix import Outcome, isolation_tables, run_matrix

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHAT_SQL = ROOT / "sql" / "010_chat_schema.sql"
CHAT_CONTRACT = ROOT / "contracts" / "tables.yaml"


def snapshot_of(target: Target, contract: Contract | None = None) -> Snapshot:
    with connect(target) as conn:
        return read_snapshot(conn, contract.schemas if contract is not None else None)


def own_contract(target: Target, directory: Path) -> Path:
    """``pgcontract snapshot`` of the database, in process, written where the loader reads it."""
    path = directory / "contract.yaml"
    path.write_text(dump_contract(contract_from_snapshot(snapshot_of(target))), encoding="utf-8")
    return path


def snapshot_file(target: Target, directory: Path) -> Path:
    """``pgcontract snapshot`` of the database, run as a user runs it, written to a contract file."""
    done = run_cli("snapshot", "--dsn", target.dsn)
    assert done.returncode == 0, done.stderr
    path = directory / "contract.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def check(target: Target, contract: Contract | Path) -> FindingIndex:
    loaded = load_contract(contract) if isinstance(contract, Path) else contract
    return run_checks(loaded, snapshot_of(target, loaded))


def errors(index: FindingIndex) -> list[Finding]:
    return [f for f in index.findings if f.level is Level.ERROR]


def by_rule(index: FindingIndex, rule: str) -> list[Finding]:
    return [f for f in index.findings if f.rule == rule]


KITCHEN_SQL = FIXTURES / "kitchen.sql"
KITCHEN_CONTRACT = FIXTURES / "kitchen.yaml"
EXAMPLES = ROOT / "examples"
SCHEMAS = {
    "chat": (CHAT_SQL, CHAT_CONTRACT),
    "kitchen": (KITCHEN_SQL, KITCHEN_CONTRACT),
    "workspace": (EXAMPLES / "workspace" / "sql" / "010_workspace.sql", EXAMPLES / "workspace" / "contracts"),
    "ledger": (EXAMPLES / "ledger" / "sql" / "010_ledger.sql", EXAMPLES / "ledger" / "contracts"),
}


def isolation(target: Target, contract_path: Path) -> dict[str, Outcome]:
    """The isolation matrix of every table with ``isolation`` in the contract (as a throwaway target)."""
    contract = load_contract(contract_path)
    with connect(target) as conn:
        snapshot = read_snapshot(conn, contract.schemas)
        return {
            str(name): run_matrix(conn, contract, snapshot, name, throwaway=True, limits=DEFAULT_LIMITS)
            for name in isolation_tables(contract)
        }


def violations(outcomes: dict[str, Outcome]) -> list[str]:
    return [v.message for outcome in outcomes.values() for v in outcome.violations]


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CompletedProcess[str]:
    """Run the installed ``pgcontract`` command as a user would, capturing its output."""
    command = [str(Path(sys.executable).parent / "pgcontract"), *args]
    full_env = {k: v for k, v in os.environ.items() if k not in ("PGCONTRACT_DSN", "DATABASE_URL")}
    full_env.update(env or {})
    return subprocess.run(command, cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=300)


def fingerprint(target: Target) -> tuple[object, ...]:
    """Counts that any write would change: databases, relations, rows written, roles."""
    with psycopg.connect(target.dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM pg_database), (SELECT count(*) FROM pg_class),"
            " (SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) FROM pg_stat_user_tables),"
            " (SELECT count(*) FROM pg_roles)"
        ).fetchone()
        assert row is not None
        return tuple(row)
