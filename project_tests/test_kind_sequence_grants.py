"""Privileges on sequences and on partitions, for the API roles: a ticket counter the signed-in role draws
from (USAGE, SELECT), and an events table partitioned by year whose partitions are tables of their own,
reachable directly (a GRANT on the parent does not cover them). The database checked against its own
snapshot passes; a sequence grant widened or narrowed, or a partition granting more than its parent, fails
naming the object; the snapshot's SQL grants exactly; repair restores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.findings import Kind
from project_tests.helpers import check, errors, own_contract, run_cli
from project_tests.kind_support import (
    assert_repaired,
    assert_sql_round_trips,
    fresh_database,
    run_script,
)
from project_tests.rule_check import assert_only_rule

SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reporting') THEN CREATE ROLE reporting NOLOGIN; END IF;
END $$;
CREATE SEQUENCE public.ticket_no START WITH 1000;
REVOKE ALL ON SEQUENCE public.ticket_no FROM PUBLIC, anon, authenticated, service_role;
GRANT USAGE, SELECT ON SEQUENCE public.ticket_no TO authenticated;
CREATE TABLE public.tickets (
  ticket bigint PRIMARY KEY DEFAULT nextval('public.ticket_no'),
  title text NOT NULL
);
CREATE SCHEMA analytics;
CREATE TABLE analytics.events (
  at timestamptz NOT NULL,
  kind text NOT NULL
) PARTITION BY RANGE (at);
CREATE TABLE analytics.events_2026 PARTITION OF analytics.events
  FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2027-01-01 00:00:00+00');
ALTER TABLE public.tickets ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics.events ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.tickets, analytics.events, analytics.events_2026 FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT ON public.tickets TO authenticated;
GRANT SELECT ON analytics.events TO authenticated, reporting;
"""


@pytest.fixture
def db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(db: Target, tmp_path: Path) -> None:
    path = own_contract(db, tmp_path)
    contract = load_contract(path)
    assert contract.sequences["public.ticket_no"].grants == {
        "anon": [],
        "authenticated": ["select", "usage"],
        "public": [],
        "service_role": [],
    }
    assert "analytics.events_2026" not in contract.tables  # its parent describes it: no grant beyond the parent's
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def every_grant(target: Target, directory: Path) -> Path:
    """``pgcontract snapshot --grants all``: every role's privileges (the reporting role is no API role)."""
    done = run_cli("snapshot", "--dsn", target.dsn, "--grants", "all")
    assert done.returncode == 0, done.stderr
    path = directory / "all.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def test_a_partition_granting_more_than_its_parent_is_snapshotted_with_its_own_grants(
    db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = every_grant(db, tmp_path)
    assert "analytics.events_2026" not in load_contract(path).tables
    run_sql("GRANT SELECT, DELETE ON analytics.events_2026 TO reporting")
    path = every_grant(db, tmp_path)
    assert load_contract(path).tables["analytics.events_2026"].grants == {"reporting": ["delete", "select"]}
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# One change each: (statement, rule, object, expected, actual).
CHANGES: dict[str, tuple[str, str, str, str, str]] = {
    "sequence grant widened": (
        "GRANT UPDATE ON SEQUENCE public.ticket_no TO authenticated",
        "sequence.grants",
        "public.ticket_no grants to authenticated",
        "[select, usage]",
        "[select, update, usage]",
    ),
    "sequence grant revoked": (
        "REVOKE USAGE ON SEQUENCE public.ticket_no FROM authenticated",
        "sequence.grants",
        "public.ticket_no grants to authenticated",
        "[select, usage]",
        "[select]",
    ),
    "sequence granted to anon": (
        "GRANT USAGE ON SEQUENCE public.ticket_no TO anon",
        "sequence.grants",
        "public.ticket_no grants to anon",
        "[]",
        "[usage]",
    ),
    "partition granted more than its parent": (
        "GRANT SELECT, DELETE ON analytics.events_2026 TO reporting",
        "grant.partition_extra",
        "analytics.events_2026.grants to reporting",
        "[select]",
        "[delete, select]",
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[1] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_object_and_repair_restores_it(
    change: str, db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, rule, obj, expected, actual = CHANGES[change]
    path = every_grant(db, tmp_path) if rule == "grant.partition_extra" else own_contract(db, tmp_path)
    contract = load_contract(path)
    run_sql(statement)
    index = check(db, contract)
    assert_only_rule(index, rule, obj=obj)
    found = errors(index)
    assert [(f.rule, f.object) for f in found] == [(rule, obj)]
    assert (found[0].expected, found[0].actual) == (expected, actual)
    assert found[0].kind in (Kind.SEQUENCES, Kind.GRANTS)
    result = run_cli("check", "--dsn", db.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert obj in result.stdout
    assert_repaired(db, contract, found[0], None)


def test_the_snapshots_sql_grants_exactly_and_again_changes_nothing(
    db: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    path = own_contract(db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert 'GRANT SELECT, USAGE ON SEQUENCE "public"."ticket_no" TO "authenticated";' in ddl.stdout
    with fresh_database(pg) as fresh:
        # Default privileges of the fresh database could grant the sequence to others: the SQL revokes them.
        run_script(fresh, "GRANT USAGE ON SCHEMA public TO anon")
        assert_sql_round_trips(fresh, ddl.stdout, path)
