"""Schema checks, one test per table (or enum) and object kind, generated from the contract.

Each test shows every mismatch of its table and kind at once, expected against actual, with fix SQL.
"""

from __future__ import annotations

import pytest

from pgcontract.findings import Kind
from pgcontract.pytest_plugin import assert_clean
from pgcontract.targetrun import TargetRun

__all__ = [
    "test_table",
    "test_columns",
    "test_constraints",
    "test_indexes",
    "test_grants",
    "test_enums",
    "test_functions",
    "test_aggregates",
    "test_roles",
    "test_partitions",
    "test_domains",
    "test_composite_types",
    "test_sequences",
    "test_views",
    "test_triggers",
    "test_privileges",
    "test_extensions",
    "test_publications",
    "test_operations",
]


@pytest.mark.pgcontract(Kind.TABLE)
def test_table(subject: str, run: TargetRun) -> None:
    """The table exists, in the schema the contract names."""
    assert_clean(run.findings(), subject, Kind.TABLE)


@pytest.mark.pgcontract(Kind.COLUMNS)
def test_columns(subject: str, run: TargetRun) -> None:
    """Every column: type (canonical), nullability, default, identity, generation."""
    assert_clean(run.findings(), subject, Kind.COLUMNS)


@pytest.mark.pgcontract(Kind.CONSTRAINTS)
def test_constraints(subject: str, run: TargetRun) -> None:
    """Primary key, foreign keys with their actions, unique and check constraints."""
    assert_clean(run.findings(), subject, Kind.CONSTRAINTS)


@pytest.mark.pgcontract(Kind.INDEXES)
def test_indexes(subject: str, run: TargetRun) -> None:
    """Every index: keys, uniqueness, method, predicate, INCLUDE columns."""
    assert_clean(run.findings(), subject, Kind.INDEXES)


@pytest.mark.pgcontract(Kind.GRANTS)
def test_grants(subject: str, run: TargetRun) -> None:
    """Each listed role has exactly the listed table privileges."""
    assert_clean(run.findings(), subject, Kind.GRANTS)


@pytest.mark.pgcontract(Kind.ENUMS)
def test_enums(subject: str, run: TargetRun) -> None:
    """Each enum type exists with exactly its values, in order."""
    assert_clean(run.findings(), subject, Kind.ENUMS)


@pytest.mark.pgcontract(Kind.FUNCTIONS)
def test_functions(subject: str, run: TargetRun) -> None:
    """Each function the schema relies on: result, language, volatility, SECURITY, search_path, body, EXECUTE."""
    assert_clean(run.findings(), subject, Kind.FUNCTIONS)


@pytest.mark.pgcontract(Kind.AGGREGATES)
def test_aggregates(subject: str, run: TargetRun) -> None:
    """Each aggregate: kind, state function and type, final, combine, serial, moving functions, sort operator..."""
    assert_clean(run.findings(), subject, Kind.AGGREGATES)


@pytest.mark.pgcontract(Kind.ROLES)
def test_roles(subject: str, run: TargetRun) -> None:
    """Each role the database must have, with its login, BYPASSRLS and memberships."""
    assert_clean(run.findings(), subject, Kind.ROLES)


@pytest.mark.pgcontract(Kind.PARTITIONS)
def test_partitions(subject: str, run: TargetRun) -> None:
    """A partitioned table's key and partitions (attached, with their bounds); a table's inheritance parents."""
    assert_clean(run.findings(), subject, Kind.PARTITIONS)


@pytest.mark.pgcontract(Kind.DOMAINS)
def test_domains(subject: str, run: TargetRun) -> None:
    """Each domain: base type, NOT NULL, default, exactly its named CHECK constraints."""
    assert_clean(run.findings(), subject, Kind.DOMAINS)


@pytest.mark.pgcontract(Kind.COMPOSITE_TYPES)
def test_composite_types(subject: str, run: TargetRun) -> None:
    """Each composite type: exactly its attributes, in order, with their types and collations."""
    assert_clean(run.findings(), subject, Kind.COMPOSITE_TYPES)


@pytest.mark.pgcontract(Kind.SEQUENCES)
def test_sequences(subject: str, run: TargetRun) -> None:
    """Each sequence: type, start, increment, min, max, cycle, cache, owning column (never its current value)."""
    assert_clean(run.findings(), subject, Kind.SEQUENCES)


@pytest.mark.pgcontract(Kind.VIEWS)
def test_views(subject: str, run: TargetRun) -> None:
    """Each view or materialized view: query, columns, security_invoker, security_barrier, check option,
    grants, a materialized view's indexes."""
    assert_clean(run.findings(), subject, Kind.VIEWS)


@pytest.mark.pgcontract(Kind.TRIGGERS)
def test_triggers(subject: str, run: TargetRun) -> None:
    """Each trigger on the table: timing, events, columns, FOR EACH, WHEN, function and arguments, state."""
    assert_clean(run.findings(), subject, Kind.TRIGGERS)


@pytest.mark.pgcontract(Kind.PRIVILEGES)
def test_privileges(subject: str, run: TargetRun) -> None:
    """Schema privileges (USAGE, CREATE) and default privileges: exactly as listed, per listed role."""
    assert_clean(run.findings(), subject, Kind.PRIVILEGES)


@pytest.mark.pgcontract(Kind.EXTENSIONS)
def test_extensions(subject: str, run: TargetRun) -> None:
    """Each extension is installed, in its schema, at least at its version."""
    assert_clean(run.findings(), subject, Kind.EXTENSIONS)


@pytest.mark.pgcontract(Kind.PUBLICATIONS)
def test_publications(subject: str, run: TargetRun) -> None:
    """Each publication: FOR ALL TABLES, operations, exactly its tables with their columns and row filters."""
    assert_clean(run.findings(), subject, Kind.PUBLICATIONS)


@pytest.mark.pgcontract(Kind.OPERATIONS)
def test_operations(subject: str, run: TargetRun) -> None:
    """The running database within this budget (contract section operations:): each session, table, slot
    or statement past its error threshold fails, past its warning threshold warns."""
    assert_clean(run.findings(), subject, Kind.OPERATIONS)
