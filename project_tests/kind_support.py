"""What the acceptance tests of an object kind share (besides helpers.own_contract): a fresh empty database,
applying a repair, and a comparable picture of a schema (to see that SQL applied again changes nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from pgcontract.adopt import contract_from_snapshot, dump_contract
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract
from pgcontract.findings import Finding, Hazard, Level
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, run_cli, snapshot_of


def schema_picture(target: Target) -> str:
    """The whole schema as a snapshot contract, plus each sequence's state: equal before and after means
    nothing changed."""
    with psycopg.connect(target.dsn) as conn:
        states = conn.execute("SELECT schemaname, sequencename, last_value FROM pg_sequences ORDER BY 1, 2").fetchall()
    return dump_contract(contract_from_snapshot(snapshot_of(target))) + repr(states)


@contextmanager
def fresh_database(pg: psycopg.Connection[tuple[object, ...]]) -> Iterator[Target]:
    """A new, empty database on the test server (dropped afterwards)."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    info = pg.info
    admin = psycopg.conninfo.make_conninfo(host=info.host, port=info.port, user=info.user, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    try:
        dsn = psycopg.conninfo.make_conninfo(host=info.host, port=info.port, user=info.user, dbname=name)
        yield Target(name="fresh", dsn=dsn, throwaway=True)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
            )


def run_script(target: Target, text: str) -> None:
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(text.encode())


def assert_sql_round_trips(fresh: Target, script: str, contract_path: Path) -> None:
    """``script`` (the contract's SQL) applied to ``fresh``: ``check`` then passes, and the script applied again
    changes nothing."""
    run_script(fresh, script)
    result = run_cli("check", "--dsn", fresh.dsn, "--contract", str(contract_path))
    assert result.returncode == 0, result.stdout + result.stderr
    before = schema_picture(fresh)
    run_script(fresh, script)
    assert schema_picture(fresh) == before


def repair(target: Target, contract: Contract, held: Hazard | None) -> list[str]:
    """Plan and apply the repair; ``held``: the hazard the one held fix must declare (None: nothing held).
    Returns the reasons of the held fixes."""
    with connect(target) as conn:
        found = check_now(conn, contract, DEFAULT_LIMITS).findings
        # A repair round trip that found nothing to repair would pass whatever repair does.
        assert [f for f in found if f.level is Level.ERROR], "no defect found before the repair"
        plan = plan_repair(found)
        reasons = [h.reason for h in plan.held]
        if held is None:
            assert not plan.held, reasons
        else:
            assert plan.held, "nothing held"
            assert all(held in reason for reason in reasons), reasons
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures, result.failures
    return reasons


def assert_repaired(target: Target, contract: Contract, finding: Finding, held: Hazard | None) -> None:
    """Repair, then check again: clean when nothing is held; else only ``finding`` of its kind is left,
    and a held fix gives the hazard as its reason."""
    reasons = repair(target, contract, held)
    left = errors(check(target, contract))
    if held is None:
        assert left == []
    else:
        assert [f.id for f in left if f.kind is finding.kind] == [finding.id]
        assert any(reason.startswith(f"{held}") for reason in reasons)
