"""Objects an extension owns (PostGIS' public.spatial_ref_sys, its functions and types) belong to the
extension, not to the application: the snapshot, the checks, the lints and repair all leave them out, so
they agree. Made without PostGIS: ``ALTER EXTENSION ... ADD`` gives an extension a table, a function and a
type of ``public``, the catalog state PostGIS leaves (a ``pg_depend`` row with ``deptype = 'e'``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.adopt import contract_from_snapshot
from pgcontract.connect import Target
from pgcontract.lints import run_lints
from project_tests.helpers import run_cli, snapshot_of

# A table the API roles can reach with RLS off (rls_disabled_in_public), a SECURITY DEFINER function
# without a fixed search_path (security_definer_search_path), an enum type: each lint fires on them while
# the application owns them.
OBJECTS = """
CREATE EXTENSION IF NOT EXISTS citext;
CREATE TABLE public.spatial_like (srid integer PRIMARY KEY, auth_name text);
GRANT SELECT ON public.spatial_like TO anon, authenticated;
CREATE FUNCTION public.ext_helper() RETURNS integer LANGUAGE sql SECURITY DEFINER AS $$ SELECT 1 $$;
CREATE TYPE public.ext_kind AS ENUM ('a', 'b');
CREATE TABLE public.notes (id integer PRIMARY KEY, body text);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY notes_read ON public.notes FOR SELECT TO authenticated USING (true);
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.notes FROM anon, authenticated;
"""
GIVE_TO_EXTENSION = """
ALTER EXTENSION citext ADD TABLE public.spatial_like;
ALTER EXTENSION citext ADD FUNCTION public.ext_helper();
ALTER EXTENSION citext ADD TYPE public.ext_kind;
"""


@pytest.fixture
def objects(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(OBJECTS)
    return target


def test_while_the_application_owns_them_the_lints_and_snapshot_see_them(objects: Target) -> None:
    """The control: the same objects, not the extension's, are flagged and snapshotted."""
    snapshot = snapshot_of(objects)
    flagged = {(f.owner, f.object) for f in run_lints(snapshot)}
    assert ("rls_disabled_in_public", "public.spatial_like") in flagged
    assert ("security_definer_search_path", "public.ext_helper()") in flagged
    contract = contract_from_snapshot(snapshot)
    assert "public.spatial_like" in contract["tables"]
    assert "public.ext_helper()" in contract["functions"]
    assert "public.ext_kind" in contract["enums"]


def test_extension_owned_objects_are_out_of_the_snapshot_and_the_lints(
    objects: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(GIVE_TO_EXTENSION)
    snapshot = snapshot_of(objects)
    assert "public.spatial_like" not in {str(t) for t in snapshot.tables}
    assert "public.notes" in {str(t) for t in snapshot.tables}
    assert [str(f.name) for f in snapshot.functions if f.name.schema == "public"] == []
    assert "public.ext_kind" not in {str(e) for e in snapshot.enums}
    assert [f.object for f in run_lints(snapshot) if "spatial_like" in f.object or "ext_helper" in f.object] == []
    contract = contract_from_snapshot(snapshot)
    assert list(contract["tables"]) == ["public.notes"]
    assert "functions" not in contract
    assert "enums" not in contract


def test_check_repair_and_snapshot_agree_on_a_database_with_extension_tables(
    objects: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(GIVE_TO_EXTENSION)
    contract = tmp_path / "contract.yaml"
    snapshot = run_cli("snapshot", "--dsn", objects.dsn)
    assert snapshot.returncode == 0, snapshot.stderr
    assert "spatial_like" not in snapshot.stdout
    contract.write_text(snapshot.stdout, encoding="utf-8")
    checked = run_cli("check", "--dsn", objects.dsn, "--contract", str(contract))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    repaired = run_cli("repair", "--dsn", objects.dsn, "--contract", str(contract))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "errors: 0, warnings: 0" in repaired.stdout


def test_an_extension_owned_view_is_not_linted(objects: Target, run_sql: Callable[[str], None]) -> None:
    """A view that reads an RLS table as its owner, readable by anon: flagged while the application owns
    it, left out once the extension does."""
    run_sql("CREATE VIEW public.ext_view AS SELECT id FROM public.notes; GRANT SELECT ON public.ext_view TO anon")
    assert [f.object for f in run_lints(snapshot_of(objects)) if f.owner == "security_definer_view"] == [
        "public.ext_view"
    ]
    run_sql("ALTER EXTENSION citext ADD VIEW public.ext_view")
    assert [f.object for f in run_lints(snapshot_of(objects)) if f.owner == "security_definer_view"] == []
