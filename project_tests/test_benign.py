"""Changes the contract allows pass: extra nullable columns, extra indexes and constraints, data,
comments, an extra RESTRICTIVE policy (reported as a warning only)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pgcontract.connect import Target
from pgcontract.findings import Level
from project_tests.helpers import SCHEMAS, by_rule, check, errors

THREADS = "public.sam_conversation_threads"

BENIGN = {
    "extra-nullable-column": f"ALTER TABLE {THREADS} ADD COLUMN archived_at timestamptz",
    "extra-index": f"CREATE INDEX threads_created_idx ON {THREADS} (created_at)",
    "extra-check": f"ALTER TABLE {THREADS} ADD CONSTRAINT title_not_empty CHECK (title <> '')",
    "extra-table": "CREATE TABLE public.unrelated (id int PRIMARY KEY)",
    "comments": f"COMMENT ON TABLE {THREADS} IS 'threads'; COMMENT ON COLUMN {THREADS}.title IS 'the title'",
    "data": (
        "INSERT INTO auth.users (id) VALUES ('00000000-0000-0000-0000-000000000001');"
        f" INSERT INTO {THREADS} (user_id, title, thread_type)"
        " SELECT '00000000-0000-0000-0000-000000000001', 'hello ' || g, 'chat'"
        " FROM generate_series(1, 500) g;"
        " INSERT INTO public.sam_conversation_messages (thread_id, role, content)"
        f" SELECT id, 'user', 'hi' FROM {THREADS}"
    ),
    "analyzed-and-vacuumed": f"ANALYZE {THREADS}",
}


@pytest.mark.parametrize("change", list(BENIGN), ids=str)
def test_benign_change_passes(change: str, make_db: Callable[[str], Target], run_sql: Callable[[str], None]) -> None:
    target = make_db("chat")
    run_sql(BENIGN[change])
    assert errors(check(target, SCHEMAS["chat"][1])) == []


def test_extra_restrictive_policy_is_a_warning_not_a_failure(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None]
) -> None:
    target = make_db("chat")
    run_sql(f"CREATE POLICY no_archived ON {THREADS} AS RESTRICTIVE FOR SELECT USING (status <> 'archived')")
    found = check(target, SCHEMAS["chat"][1])
    assert errors(found) == []
    [warning] = by_rule(found, "policy.extra")
    assert warning.level is Level.WARNING
    assert "RESTRICTIVE" in warning.message


def test_kitchen_schema_with_awkward_identifiers_passes(make_db: Callable[[str], Target]) -> None:
    assert errors(check(make_db("kitchen"), SCHEMAS["kitchen"][1])) == []
