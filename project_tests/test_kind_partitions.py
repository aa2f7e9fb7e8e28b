"""Partitioned tables and inheritance as real schemas hold them (in schema app): events partitioned by
range on a timestamptz (monthly partitions, a default partition with an index of its own), orders
partitioned by list, an audit table inheriting another. A database checked against its own snapshot
passes; the snapshot lists partitions on their parent, once; each single change fails naming the table
(and the partition); a defect of the partitioned table is reported once, not once per partition; the
snapshot's DDL loads into an empty database, twice; repair restores what is safe and holds the rest back,
saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.adopt import contract_from_snapshot
from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import Contract, load_contract
from pgcontract.findings import Finding, Hazard
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file, snapshot_of
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE SCHEMA app;
CREATE TABLE app.devices (id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE app.events (
  id bigint GENERATED ALWAYS AS IDENTITY,
  device_id bigint NOT NULL REFERENCES app.devices (id),
  created_at timestamptz NOT NULL,
  payload jsonb,
  PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX events_device_idx ON app.events (device_id, created_at);
CREATE TABLE app.events_2024_01 PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
CREATE TABLE app.events_2024_02 PARTITION OF app.events FOR VALUES FROM ('2024-02-01') TO ('2024-03-01');
CREATE TABLE app.events_2024_03 PARTITION OF app.events FOR VALUES FROM ('2024-03-01') TO ('2024-04-01');
CREATE TABLE app.events_default PARTITION OF app.events DEFAULT;
CREATE INDEX events_default_payload_idx ON app.events_default USING gin (payload);
CREATE TABLE app.orders (
  id bigint NOT NULL,
  region text NOT NULL,
  total numeric(12,2),
  PRIMARY KEY (id, region)
) PARTITION BY LIST (region);
CREATE TABLE app.orders_eu PARTITION OF app.orders FOR VALUES IN ('de', 'fr', 'it');
CREATE TABLE app.orders_us PARTITION OF app.orders FOR VALUES IN ('us');
CREATE TABLE app.orders_other PARTITION OF app.orders FOR VALUES IN (E'x\\\\y');  -- a backslash: E'...' in the contract
CREATE TABLE app.records (id bigint PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), CHECK (id > 0));
CREATE TABLE app.audit_records (actor text NOT NULL) INHERITS (app.records);
INSERT INTO app.devices VALUES (1, 'sensor');
INSERT INTO app.events (device_id, created_at) VALUES (1, '2024-01-15'), (1, '2024-02-15'), (1, '2025-06-01');
"""

EVENTS, ORDERS, AUDIT = "app.events", "app.orders", "app.audit_records"
MONTHS = ["app.events_2024_01", "app.events_2024_02", "app.events_2024_03", "app.events_default"]


@pytest.fixture
def partitioned(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(partitioned: Target, tmp_path: Path) -> None:
    path = snapshot_file(partitioned, tmp_path)
    contract = load_contract(path)
    events = contract.tables[EVENTS]
    assert events.partition_by == "RANGE (created_at)"
    assert events.partitions == {
        "app.events_2024_01": "FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')",
        "app.events_2024_02": "FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00')",
        "app.events_2024_03": "FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-04-01 00:00:00+00')",
        "app.events_default": "DEFAULT",
    }
    # Partitions are described by their parent; only the one with an index of its own has an entry, and
    # that entry holds only that index.
    assert not {"app.events_2024_01", "app.events_2024_02", "app.orders_eu"} & set(contract.tables)
    own = contract.tables["app.events_default"]
    assert (set(own.indexes), own.columns, own.primary_key) == ({"events_default_payload_idx"}, {}, None)
    assert contract.tables[ORDERS].partitions == {
        "app.orders_eu": "FOR VALUES IN ('de', 'fr', 'it')",
        "app.orders_us": "FOR VALUES IN ('us')",
        "app.orders_other": "FOR VALUES IN (E'x\\\\y')",
    }
    assert contract.tables[AUDIT].inherits == ["app.records"]
    assert list(contract.tables[AUDIT].columns) == ["actor"]  # the inherited ones are the parent's
    result = run_cli("check", "--dsn", partitioned.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_bounds_do_not_depend_on_the_sessions_time_zone(
    partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(partitioned, tmp_path))
    run_sql("ALTER ROLE CURRENT_USER SET timezone = 'Asia/Kolkata'")
    try:
        assert check(partitioned, contract).findings == []
    finally:
        run_sql("ALTER ROLE CURRENT_USER RESET timezone")


# One change each: (SQL, the table whose test fails, rule, object).
CHANGES = {
    "partition detached": (
        "ALTER TABLE app.events DETACH PARTITION app.events_2024_02",
        EVENTS,
        "partition.detached",
        "app.events_2024_02",
    ),
    "partition dropped": ("DROP TABLE app.orders_us", ORDERS, "partition.missing", "app.orders_us"),
    "partition bound changed": (
        "ALTER TABLE app.orders DETACH PARTITION app.orders_eu;"
        " ALTER TABLE app.orders ATTACH PARTITION app.orders_eu FOR VALUES IN ('de', 'fr')",
        ORDERS,
        "partition.bound",
        "app.orders_eu",
    ),
    "partition moved to another table": (
        "CREATE TABLE app.events_archive (LIKE app.events) PARTITION BY RANGE (created_at);"
        " ALTER TABLE app.events DETACH PARTITION app.events_2024_01;"
        " ALTER TABLE app.events_archive ATTACH PARTITION app.events_2024_01"
        " FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')",
        EVENTS,
        "partition.parent",
        "app.events_2024_01",
    ),
    "partition key changed": (
        "DROP TABLE app.orders; CREATE TABLE app.orders (id bigint NOT NULL, region text NOT NULL,"
        " total numeric(12,2), PRIMARY KEY (id, region)) PARTITION BY HASH (id, region)",
        ORDERS,
        "partition.key",
        ORDERS,
    ),
    "no longer partitioned": (
        "DROP TABLE app.orders; CREATE TABLE app.orders (id bigint NOT NULL, region text NOT NULL,"
        " total numeric(12,2), PRIMARY KEY (id, region))",
        ORDERS,
        "partition.key",
        ORDERS,
    ),
    "no longer inheriting": (
        "ALTER TABLE app.audit_records NO INHERIT app.records",
        AUDIT,
        "inherits.missing",
        AUDIT,
    ),
    "inheriting one more table": (
        "CREATE TABLE app.tagged (tag text); ALTER TABLE app.audit_records ADD COLUMN tag text;"
        " ALTER TABLE app.audit_records INHERIT app.tagged",
        AUDIT,
        "inherits.extra",
        AUDIT,
    ),
    "primary key dropped on the partitioned table": (
        "ALTER TABLE app.events DROP CONSTRAINT events_pkey",
        EVENTS,
        "primary_key.missing",
        "app.events.events_pkey",
    ),
    "index dropped on the partitioned table": (
        "DROP INDEX app.events_device_idx",
        EVENTS,
        "index.missing",
        "app.events.events_device_idx",
    ),
    "column type changed on the partitioned table": (
        "ALTER TABLE app.events ALTER COLUMN device_id TYPE integer",
        EVENTS,
        "column.type",
        "app.events.device_id",
    ),
}


def _only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [f.id for f in findings]
    return findings[0]


@pytest.mark.rule(*dict.fromkeys(c[2] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_once_naming_the_table(
    change: str, partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, table, rule, obj = CHANGES[change]
    contract = load_contract(own_contract(partitioned, tmp_path))
    run_sql(statement)
    index = check(partitioned, contract)
    assert_only_rule(index, rule, obj=obj)
    found = _only(errors(index))
    assert (found.owner, found.rule, found.object) == (table, rule, obj)


@pytest.mark.parametrize(
    "change", ["primary key dropped on the partitioned table", "index dropped on the partitioned table"]
)
def test_a_defect_of_the_partitioned_table_names_its_partitions(
    change: str, partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(partitioned, tmp_path))
    run_sql(CHANGES[change][0])
    found = _only(errors(check(partitioned, contract)))
    assert found.message.endswith(f"concerns its 4 partitions ({', '.join(MONTHS)})")


def test_a_detached_partition_fails_the_check_naming_parent_and_partition(
    partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(partitioned, tmp_path)
    run_sql("ALTER TABLE app.events DETACH PARTITION app.events_2024_02")
    result = run_cli("check", "--dsn", partitioned.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED test_schema.py::test_partitions[app.events]" in result.stdout
    assert "partition app.events_2024_02 of app.events is detached" in result.stdout


def test_partitions_listed_as_tables_still_give_one_finding(
    partitioned: Target, run_sql: Callable[[str], None]
) -> None:
    """A contract written before partitions were folded (each partition a full table with the parent's
    key): the key dropped on the parent is still one finding, on the parent, not one per partition."""
    data = contract_from_snapshot(snapshot_of(partitioned))
    for month in MONTHS:
        data["tables"][month] = {"columns": {"id": {"type": "bigint"}}, "primary_key": ["id", "created_at"]}
        data["tables"][month]["columns"]["created_at"] = {"type": "timestamptz"}
    contract = Contract.model_validate(data)
    assert errors(check(partitioned, contract)) == []
    run_sql("ALTER TABLE app.events DROP CONSTRAINT events_pkey")
    found = _only(errors(check(partitioned, contract)))
    assert (found.owner, found.rule) == (EVENTS, "primary_key.missing")


FINGERPRINT = """
SELECT c.relname, c.relkind::text, pg_get_expr(c.relpartbound, c.oid), pg_get_partkeydef(c.oid),
       ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid ORDER BY 1),
       ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conrelid = c.oid ORDER BY 1)
FROM pg_class c WHERE c.relnamespace = 'app'::regnamespace ORDER BY 1
"""


def test_the_snapshots_sql_loads_into_an_empty_database_twice_and_passes(
    partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Partitions are created right after their parent, the inheriting table after the one it inherits
    from (audit_records sorts before records), the parent's keys and indexes after its partitions."""
    path = own_contract(partitioned, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    text = ddl.stdout
    assert text.index('CREATE TABLE IF NOT EXISTS "app"."records"') < text.index(
        'CREATE TABLE IF NOT EXISTS "app"."audit_records"'
    )
    assert ') INHERITS ("app"."records");' in text
    parent = text.index('CREATE TABLE IF NOT EXISTS "app"."events" (')
    partition = text.index(
        'CREATE TABLE IF NOT EXISTS "app"."events_2024_01" PARTITION OF "app"."events" FOR VALUES FROM'
    )
    assert parent < partition < text.index('CREATE INDEX IF NOT EXISTS "events_device_idx"')
    run_sql("DROP SCHEMA app CASCADE")
    assert errors(check(partitioned, load_contract(path)))
    run_sql(text)
    result = run_cli("check", "--dsn", partitioned.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(partitioned.dsn) as conn:
        before = conn.execute(FINGERPRINT).fetchall()
    run_sql(text)
    with psycopg.connect(partitioned.dsn) as conn:
        assert conn.execute(FINGERPRINT).fetchall() == before


@pytest.mark.parametrize("change", ["partition dropped", "no longer inheriting", "inheriting one more table"])
def test_repair_restores_a_partition_or_inheritance(
    change: str, partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(partitioned, tmp_path))
    run_sql(CHANGES[change][0])
    with connect(partitioned) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert not plan.held
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(partitioned, contract)) == []


HELD = {
    "partition detached": "ATTACH PARTITION",
    "partition bound changed": "DETACH PARTITION",
    "partition moved to another table": "ATTACH PARTITION",
    "primary key dropped on the partitioned table": "PRIMARY KEY",
    "month dropped while a default partition exists": "PARTITION OF",
}


@pytest.mark.parametrize("change", list(HELD))
def test_repair_holds_back_what_scans_or_locks(
    change: str, partitioned: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """ATTACH scans the partition (and the default one), a new range partition scans the default partition,
    a primary key builds its index: each held back, with the reason."""
    contract = load_contract(own_contract(partitioned, tmp_path))
    statement = CHANGES[change][0] if change in CHANGES else "DROP TABLE app.events_2024_03"
    run_sql(statement)
    with connect(partitioned) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
    (held,) = plan.held
    assert held.reason.startswith(Hazard.LONG_LOCK.value)
    assert HELD[change] in held.sql
    assert plan.statements == []


def test_a_partition_key_that_is_not_one_is_a_contract_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "tables:\n  app.t:\n    columns: {a: {type: integer}}\n    partition_by: 'RANGE (a); DROP TABLE app.t'\n",
        encoding="utf-8",
    )
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2
    assert "not a valid partition key" in result.stderr


@pytest.mark.rule("partition.detach_pending")
def test_an_interrupted_concurrent_detach_fails(
    partitioned: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    """DETACH ... CONCURRENTLY marks the partition pending, then waits for older transactions; stopped
    there (here by a timeout), the partition stays half-detached until FINALIZE."""
    contract = load_contract(own_contract(partitioned, tmp_path))
    pg.execute("SELECT count(*) FROM app.orders")  # an open transaction the detach waits for
    with psycopg.connect(partitioned.dsn, autocommit=True) as other:
        other.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled):
            other.execute("ALTER TABLE app.orders DETACH PARTITION app.orders_us CONCURRENTLY")
    pg.rollback()
    index = check(partitioned, contract)
    assert_only_rule(index, "partition.detach_pending", obj="app.orders_us")
    found = _only(errors(index))
    assert (found.owner, found.rule, found.object) == (ORDERS, "partition.detach_pending", "app.orders_us")
    assert "DETACH CONCURRENTLY did not finish" in found.message
