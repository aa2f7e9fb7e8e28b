"""PostGIS installed in ``public``, as most non-Supabase applications have it: its table
(``spatial_ref_sys``, RLS off, readable by the API roles), its views (``geometry_columns``,
``geography_columns``), its hundreds of functions, its types and operators all live next to the
application's, and all belong to the extension: the snapshot, the checks, the lints and repair leave them
out alike, while the application's PostGIS columns, indexes, view and function are kept. (The corpus'
gis_app has PostGIS in ``extensions``, as Supabase installs it.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pgcontract.connect import DEFAULT_LIMITS, Target, connect
from pgcontract.contract import load_contract
from pgcontract.lints import run_lints
from pgcontract.repair import check_now, plan_repair
from project_tests.helpers import check, errors, run_cli, snapshot_of
from project_tests.kind_support import fresh_database, run_script, schema_picture

SCHEMA = """
CREATE EXTENSION postgis;
CREATE TABLE public.stops (
  id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name     text NOT NULL,
  location geometry(Point, 4326) NOT NULL CHECK (ST_IsValid(location))
);
CREATE INDEX stops_location_idx ON public.stops USING gist (location);
CREATE VIEW public.stop_pins WITH (security_invoker = true) AS
  SELECT id, name, ST_AsGeoJSON(location)::jsonb AS geojson FROM public.stops
  WHERE location && ST_MakeEnvelope(-180, -90, 180, 90, 4326);
CREATE FUNCTION public.stops_near(here geometry, metres float8 DEFAULT 500) RETURNS SETOF public.stops
  LANGUAGE sql STABLE AS $$
    SELECT s.* FROM public.stops s WHERE ST_DWithin(s.location::geography, here::geography, metres)
    ORDER BY s.location <-> here
  $$;
ALTER TABLE public.stops ENABLE ROW LEVEL SECURITY;
CREATE POLICY stops_read ON public.stops FOR SELECT TO anon, authenticated USING (true);
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.stops FROM anon, authenticated;
REVOKE ALL ON public.stop_pins FROM anon, authenticated;
GRANT SELECT ON public.stop_pins TO anon, authenticated;
"""


@pytest.fixture
def stops(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def contract_file(target: Target, tmp_path: Path) -> Path:
    done = run_cli("snapshot", "--dsn", target.dsn)
    assert done.returncode == 0, done.stderr
    path = tmp_path / "contract.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    return path


def test_the_snapshot_keeps_the_applications_objects_and_none_of_the_extensions(stops: Target, tmp_path: Path) -> None:
    contract = load_contract(contract_file(stops, tmp_path))
    assert list(contract.tables) == ["public.stops"]  # not spatial_ref_sys
    assert list(contract.views) == ["public.stop_pins"]  # not geometry_columns, geography_columns
    assert list(contract.functions) == ["public.stops_near(here public.geometry, metres double precision)"]
    assert contract.tables["public.stops"].columns["location"].type == "public.geometry(point,4326)"
    assert list(contract.extensions) == ["postgis"]


def test_a_database_checked_against_its_own_snapshot_passes_and_repair_finds_nothing(
    stops: Target, tmp_path: Path
) -> None:
    path = contract_file(stops, tmp_path)
    done = run_cli("check", "--dsn", stops.dsn, "--contract", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [f for f in run_lints(snapshot_of(stops)) if "spatial_ref_sys" in f.object]
    with connect(stops) as conn:
        plan = plan_repair(check_now(conn, load_contract(path), DEFAULT_LIMITS).findings)
    assert (plan.statements, plan.held) == ([], [])


def test_the_snapshots_sql_loads_into_an_empty_database_and_passes_and_again_changes_nothing(
    stops: Target, pg: psycopg.Connection[tuple[object, ...]], tmp_path: Path
) -> None:
    path = contract_file(stops, tmp_path)
    ddl = run_cli("sql", "--contract", str(path))
    assert ddl.returncode == 0, ddl.stderr
    with fresh_database(pg) as fresh:
        run_script(fresh, ddl.stdout)
        assert errors(check(fresh, load_contract(path))) == []
        before = schema_picture(fresh)
        run_script(fresh, ddl.stdout)
        assert schema_picture(fresh) == before


def test_a_dropped_gist_index_fails_naming_it(stops: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    path = contract_file(stops, tmp_path)
    run_sql("DROP INDEX public.stops_location_idx")
    assert [(f.rule, f.object) for f in errors(check(stops, load_contract(path)))] == [
        ("index.missing", "public.stops.stops_location_idx")
    ]
