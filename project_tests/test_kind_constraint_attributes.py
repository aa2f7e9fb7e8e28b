"""Constraint attributes and column collation as real schemas hold them: a booking table with an exclusion
constraint (EXCLUDE USING gist (room_id WITH =, during WITH &&), through btree_gist), a deferrable one on a
range alone, deferrable foreign keys and unique constraints, a NOT VALID check, NULLS NOT DISTINCT on a
unique constraint and a unique index, a column with COLLATE "C". A database checked against its own
snapshot passes; each single change fails naming the constraint, expected and actual; the snapshot's DDL
loads into an empty database, twice; repair restores what is safe and holds the rest back, saying why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.findings import Hazard
from pgcontract.repair import apply_plan, check_now, plan_repair
from project_tests.helpers import check, errors, own_contract, run_cli, snapshot_file
from project_tests.rule_check import assert_only_rule

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA extensions;
CREATE SCHEMA app;
CREATE TABLE app.rooms (
  id integer PRIMARY KEY,
  code text NOT NULL COLLATE "C",
  name text NOT NULL,
  CONSTRAINT rooms_code_check CHECK (code <> '')
);
CREATE UNIQUE INDEX rooms_name_idx ON app.rooms (lower(name)) NULLS NOT DISTINCT;
CREATE TABLE app.bookings (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  room_id integer NOT NULL REFERENCES app.rooms (id) DEFERRABLE INITIALLY DEFERRED,
  during tstzrange NOT NULL,
  guest_email text,
  CONSTRAINT bookings_no_overlap EXCLUDE USING gist (room_id WITH =, during WITH &&)
);
CREATE TABLE app.closures (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  during tstzrange NOT NULL,
  CONSTRAINT closures_no_overlap EXCLUDE USING gist (during WITH &&) DEFERRABLE INITIALLY DEFERRED
);
CREATE TABLE app.seats (
  room_id integer NOT NULL REFERENCES app.rooms (id),
  position integer NOT NULL,
  label text,
  CONSTRAINT seats_position_key UNIQUE (room_id, position) DEFERRABLE INITIALLY IMMEDIATE,
  CONSTRAINT seats_label_key UNIQUE NULLS NOT DISTINCT (room_id, label)
);
INSERT INTO app.rooms VALUES (1, 'A', 'Alpha'), (2, 'B', 'Beta');
INSERT INTO app.bookings (room_id, during, guest_email) VALUES (1, '[2024-01-01, 2024-01-02)', 'no-at-sign');
INSERT INTO app.seats VALUES (1, 1, NULL), (1, 2, 'window');
SET CONSTRAINTS ALL IMMEDIATE;  -- the deferred foreign key's check, before ALTER TABLE
-- Added after a row that breaks it: NOT VALID leaves stored rows unchecked.
ALTER TABLE app.bookings ADD CONSTRAINT bookings_email_check CHECK (guest_email LIKE '%@%') NOT VALID;
"""


@pytest.fixture
def booking_db(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_a_database_checked_against_its_own_snapshot_passes(booking_db: Target, tmp_path: Path) -> None:
    path = snapshot_file(booking_db, tmp_path)
    contract = load_contract(path)
    bookings, seats, rooms = (contract.tables[f"app.{t}"] for t in ("bookings", "seats", "rooms"))
    assert [(e.name, e.definition) for e in bookings.exclusions] == [
        ("bookings_no_overlap", "EXCLUDE USING gist (room_id WITH =, during WITH &&)")
    ]
    assert [(f.deferrable, f.initially) for f in bookings.foreign_keys] == [(True, "deferred")]
    assert [(c.name, c.validated) for c in bookings.checks] == [("bookings_email_check", False)]
    assert [(u.columns, u.deferrable, u.initially, u.nulls_not_distinct) for u in seats.unique] == [
        (["room_id", "label"], False, None, True),
        (["room_id", "position"], True, "immediate", None),
    ]
    assert rooms.indexes["rooms_name_idx"].nulls_not_distinct
    assert (rooms.columns["code"].collation, rooms.columns["name"].collation) == ('"C"', None)
    result = run_cli("check", "--dsn", booking_db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_validating_a_check_the_contract_allows_not_valid_still_passes(
    booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(booking_db, tmp_path))
    run_sql(
        "UPDATE app.bookings SET guest_email = 'a@b'; ALTER TABLE app.bookings VALIDATE CONSTRAINT bookings_email_check"
    )
    assert errors(check(booking_db, contract)) == []


def _replace(table: str, name: str, definition: str) -> str:
    return f"ALTER TABLE app.{table} DROP CONSTRAINT {name}; ALTER TABLE app.{table} ADD CONSTRAINT {name} {definition}"


# One change each: (SQL, table, rule, object, expected, actual).
CHANGES = {
    "exclusion dropped": (
        "ALTER TABLE app.bookings DROP CONSTRAINT bookings_no_overlap",
        "app.bookings",
        "exclusion.missing",
        "app.bookings.bookings_no_overlap",
        "EXCLUDE USING gist (room_id WITH =, during WITH &&)",
        "absent",
    ),
    "exclusion loses an element": (
        _replace("bookings", "bookings_no_overlap", "EXCLUDE USING gist (during WITH &&)"),
        "app.bookings",
        "exclusion.definition",
        "app.bookings.bookings_no_overlap",
        "EXCLUDE USING gist (room_id WITH =, during WITH &&)",
        "EXCLUDE USING gist (during WITH &&)",
    ),
    "exclusion made non-deferrable": (
        _replace("closures", "closures_no_overlap", "EXCLUDE USING gist (during WITH &&)"),
        "app.closures",
        "exclusion.deferrable",
        "app.closures.closures_no_overlap",
        "EXCLUDE USING gist (during WITH &&) DEFERRABLE INITIALLY DEFERRED",
        "EXCLUDE USING gist (during WITH &&)",
    ),
    "unique made non-deferrable": (
        _replace("seats", "seats_position_key", "UNIQUE (room_id, position)"),
        "app.seats",
        "unique.deferrable",
        "app.seats.seats_position_key",
        "DEFERRABLE INITIALLY IMMEDIATE",
        "NOT DEFERRABLE",
    ),
    "unique made initially deferred": (
        _replace("seats", "seats_position_key", "UNIQUE (room_id, position) DEFERRABLE INITIALLY DEFERRED"),
        "app.seats",
        "unique.deferrable",
        "app.seats.seats_position_key",
        "DEFERRABLE INITIALLY IMMEDIATE",
        "DEFERRABLE INITIALLY DEFERRED",
    ),
    "unique loses NULLS NOT DISTINCT": (
        _replace("seats", "seats_label_key", "UNIQUE (room_id, label)"),
        "app.seats",
        "unique.nulls_not_distinct",
        "app.seats.seats_label_key",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
    ),
    "unique index loses NULLS NOT DISTINCT": (
        "DROP INDEX app.rooms_name_idx; CREATE UNIQUE INDEX rooms_name_idx ON app.rooms (lower(name))",
        "app.rooms",
        "index.nulls_not_distinct",
        "app.rooms.rooms_name_idx",
        "NULLS NOT DISTINCT",
        "NULLS DISTINCT",
    ),
    "foreign key made non-deferrable": (
        "ALTER TABLE app.bookings ALTER CONSTRAINT bookings_room_id_fkey NOT DEFERRABLE",
        "app.bookings",
        "foreign_key.deferrable",
        "app.bookings.bookings_room_id_fkey",
        "DEFERRABLE INITIALLY DEFERRED",
        "NOT DEFERRABLE",
    ),
    "foreign key initially immediate": (
        "ALTER TABLE app.bookings ALTER CONSTRAINT bookings_room_id_fkey DEFERRABLE INITIALLY IMMEDIATE",
        "app.bookings",
        "foreign_key.deferrable",
        "app.bookings.bookings_room_id_fkey",
        "DEFERRABLE INITIALLY DEFERRED",
        "DEFERRABLE INITIALLY IMMEDIATE",
    ),
    "foreign key NOT VALID": (
        _replace("seats", "seats_room_id_fkey", "FOREIGN KEY (room_id) REFERENCES app.rooms (id) NOT VALID"),
        "app.seats",
        "foreign_key.not_valid",
        "app.seats.seats_room_id_fkey",
        "validated",
        "NOT VALID",
    ),
    "check NOT VALID": (
        _replace("rooms", "rooms_code_check", "CHECK (code <> '') NOT VALID"),
        "app.rooms",
        "check.not_valid",
        "app.rooms.rooms_code_check",
        "validated",
        "NOT VALID",
    ),
    "collation changed": (
        'ALTER TABLE app.rooms ALTER COLUMN code TYPE text COLLATE "default"',
        "app.rooms",
        "column.collation",
        "app.rooms.code",
        "C",
        "the type's default",
    ),
}


@pytest.mark.rule(*dict.fromkeys(c[2] for c in CHANGES.values()))
@pytest.mark.parametrize("change", list(CHANGES))
def test_each_change_fails_naming_the_constraint(
    change: str, booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    statement, table, rule, obj, expected, actual = CHANGES[change]
    contract = load_contract(own_contract(booking_db, tmp_path))
    run_sql(statement)
    index = check(booking_db, contract)
    assert_only_rule(index, rule, obj=obj)
    found = errors(index)
    assert [(f.owner, f.rule, f.object, f.expected, f.actual) for f in found] == [(table, rule, obj, expected, actual)]


def test_a_failed_check_names_the_exclusion_constraint(
    booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    path = own_contract(booking_db, tmp_path)
    run_sql(CHANGES["exclusion dropped"][0])
    result = run_cli("check", "--dsn", booking_db.dsn, "--contract", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED test_schema.py::test_constraints[app.bookings]" in result.stdout
    assert "[exclusion.missing] app.bookings.bookings_no_overlap: exclusion constraint is missing" in result.stdout


FINGERPRINT = """
SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid), c.convalidated
FROM pg_constraint c WHERE c.connamespace = 'app'::regnamespace
UNION ALL
SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), true
FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid WHERE t.relnamespace = 'app'::regnamespace
UNION ALL
SELECT attrelid::regclass::text, attname, coalesce(attcollation::regcollation::text, ''), true
FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid
WHERE t.relnamespace = 'app'::regnamespace AND a.attnum > 0 AND t.relkind = 'r'
ORDER BY 1, 2
"""


def test_the_snapshots_sql_loads_into_an_empty_database_twice_and_passes(
    booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The extension the exclusion needs (btree_gist) must exist, as tables the contract does not declare."""
    path = own_contract(booking_db, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    assert (
        'ADD CONSTRAINT "closures_no_overlap" EXCLUDE USING gist (during WITH &&) DEFERRABLE INITIALLY DEFERRED;'
        in ddl.stdout
    )
    assert '"code" text COLLATE "C" NOT NULL' in ddl.stdout
    run_sql("DROP SCHEMA app CASCADE")
    run_sql(ddl.stdout)
    result = run_cli("check", "--dsn", booking_db.dsn, "--contract", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(booking_db.dsn) as conn:
        before = conn.execute(FINGERPRINT).fetchall()
    run_sql(ddl.stdout)
    with psycopg.connect(booking_db.dsn) as conn:
        assert conn.execute(FINGERPRINT).fetchall() == before


@pytest.mark.parametrize("change", ["foreign key made non-deferrable", "foreign key initially immediate"])
def test_repair_alters_a_foreign_keys_deferrability_in_place(
    change: str, booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    contract = load_contract(own_contract(booking_db, tmp_path))
    run_sql(CHANGES[change][0])
    with connect(booking_db) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
        assert [s.sql for s in plan.statements] == [
            'ALTER TABLE "app"."bookings" ALTER CONSTRAINT "bookings_room_id_fkey" DEFERRABLE INITIALLY DEFERRED;'
        ]
        assert not plan.held
        result = apply_plan(conn, plan, DEFAULT_LIMITS)
    assert not result.failures
    assert errors(check(booking_db, contract)) == []


HELD = {
    "exclusion dropped": "EXCLUDE USING gist",
    "exclusion made non-deferrable": "DROP CONSTRAINT",
    "unique made non-deferrable": "DEFERRABLE INITIALLY IMMEDIATE",
    "unique loses NULLS NOT DISTINCT": "UNIQUE NULLS NOT DISTINCT",
    "foreign key NOT VALID": "VALIDATE CONSTRAINT",
    "check NOT VALID": "VALIDATE CONSTRAINT",
    "collation changed": 'COLLATE "C"',
}


@pytest.mark.parametrize("change", list(HELD))
def test_repair_holds_back_what_builds_an_index_scans_or_rewrites(
    change: str, booking_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """An exclusion or unique constraint added again builds its index (PostgreSQL cannot ALTER their
    deferrability), VALIDATE scans the table, a collation change rebuilds indexes: held, with the reason."""
    contract = load_contract(own_contract(booking_db, tmp_path))
    run_sql(CHANGES[change][0])
    with connect(booking_db) as conn:
        plan = plan_repair(check_now(conn, contract, DEFAULT_LIMITS).findings)
    (held,) = plan.held
    assert held.reason.startswith(Hazard.LONG_LOCK.value)
    assert HELD[change] in held.sql
    assert plan.statements == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("exclusions: ['EXCLUDE USING gist (during WITH &&); DROP TABLE app.rooms']", "not a valid exclusion"),
        ("exclusions: ['CHECK (true)']", "not a valid exclusion"),
        ("exclusions: ['EXCLUDE USING gist (during WITH &&);']", "a ';' would end the statement"),
        ("exclusions: ['EXCLUDE USING gist (during WITH &&) --']", "a comment (--) would hide the SQL after it"),
        ("unique: [{columns: [a], deferrable: false, initially: deferred}]", "needs a deferrable constraint"),
        ("columns: {a: {type: text, collation: 'a.b.c'}}", "not a valid collation"),
    ],
)
def test_an_attribute_that_is_not_one_is_a_contract_error(entry: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    columns = "" if entry.startswith("columns") else "    columns: {a: {type: text}}\n"
    path.write_text(f"tables:\n  app.t:\n{columns}    {entry}\n", encoding="utf-8")
    result = run_cli("sql", "--contract", str(path))
    assert result.returncode == 2, result.stdout
    assert message in result.stderr
