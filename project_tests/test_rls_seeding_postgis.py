"""Seeding PostGIS columns with no hand-written values: a typed column gets a valid shape of its kind,
dimensions and SRID (geometry and geography); an untyped geometry held to its SRID, shape and validity by
CHECKs gets one that meets them; a UNIQUE geometry column a shape per row. A shape the seeder cannot draw
asks for EWKT under ``isolation.values``, which then serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.names import QualifiedName
from pgcontract.rls.spatial import spatial_value
from pgcontract.rls.values import SeedError, generate
from pgcontract.sqlnorm import parse_type
from project_tests.helpers import isolation, snapshot_of
from project_tests.test_rls_seeding import rows, seeded

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA extensions;
CREATE TABLE public.spots (
  id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner_id uuid NOT NULL REFERENCES auth.users (id),
  label    text NOT NULL,
  spot     extensions.geometry(Point, 4326) NOT NULL,
  area     extensions.geography(MultiPolygonZ, 4326) NOT NULL,
  pin      extensions.geometry(Point, 3857) NOT NULL UNIQUE,
  route    extensions.geometry NOT NULL,
  CONSTRAINT spots_route_srid CHECK (extensions.st_srid(route) = 4326),
  CONSTRAINT spots_route_line CHECK (extensions.geometrytype(route) = 'LINESTRING'),
  CONSTRAINT spots_route_valid CHECK (extensions.st_isvalid(route))
);
ALTER TABLE public.spots ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.spots FOR ALL TO authenticated
  USING (owner_id = (SELECT auth.uid())) WITH CHECK (owner_id = (SELECT auth.uid()));
GRANT USAGE ON SCHEMA extensions TO authenticated, anon;
"""
CONTRACT = "version: 1\nauth: {mode: supabase}\ntables:\n  public.spots:\n    isolation: {owner: owner_id}\n"
# What each column holds, read back from the rows the matrix made (as the seeding role).
SHAPES = """
SELECT extensions.st_srid(spot), extensions.geometrytype(spot),
       extensions.st_srid(area), extensions.geometrytype(area::extensions.geometry),
       extensions.st_ndims(area::extensions.geometry),
       extensions.st_srid(route), extensions.geometrytype(route), extensions.st_isvalid(route),
       extensions.st_srid(pin)
FROM public.spots
"""


@pytest.fixture
def spots(run_sql: Callable[[str], None], target: Target, tmp_path: Path) -> tuple[Target, Path]:
    run_sql(SCHEMA)
    contract = tmp_path / "contract.yaml"
    contract.write_text(CONTRACT, encoding="utf-8")
    return target, contract


def test_postgis_columns_are_seeded_without_values(spots: tuple[Target, Path]) -> None:
    target, contract = spots
    with seeded(target, contract) as session:  # the matrix passes: no violation, no SeedError
        ids = [row.values["id"] for label in ("A", "B") for row in rows(session, "public.spots", label)]
        session.cur.execute("SELECT current_user")
        assert session.cur.fetchone() == ("postgres",)  # the seeding superuser reads every test row
        session.cur.execute(SHAPES + " WHERE id = ANY (%s::bigint[])", [ids])
        found = session.cur.fetchall()
        session.cur.execute("SELECT count(DISTINCT pin) FROM public.spots WHERE id = ANY (%s::bigint[])", [ids])
        distinct_pins = session.cur.fetchone()
    assert len(found) == len(ids) >= 2
    assert set(found) == {(4326, "POINT", 4326, "MULTIPOLYGON", 3, 4326, "LINESTRING", True, 3857)}
    assert distinct_pins == (len(ids),)


def test_a_shape_the_seeder_cannot_draw_asks_for_ewkt_values(
    spots: tuple[Target, Path], run_sql: Callable[[str], None]
) -> None:
    target, contract = spots
    run_sql("ALTER TABLE public.spots ADD COLUMN curve extensions.geometry(CompoundCurve, 4326) NOT NULL")
    with pytest.raises(SeedError) as raised:
        isolation(target, contract)
    assert str(raised.value) == (
        "cannot make a value for public.spots.curve of type extensions.geometry(CompoundCurve,4326): give one under"
        " isolation.values (EWKT text, e.g. 'SRID=4326;POINT(0 0)', or a template)"
    )
    contract.write_text(
        CONTRACT.replace(
            "{owner: owner_id}", "{owner: owner_id, values: {curve: 'SRID=4326;COMPOUNDCURVE((0 0, 1 1))'}}"
        ),
        encoding="utf-8",
    )
    assert isolation(target, contract)["public.spots"].violations == []


def test_a_spatial_column_gets_one_shape_unless_its_rows_must_differ(spots: tuple[Target, Path]) -> None:
    """``generate`` on a real PostGIS catalog: the first shape for every row of a column without UNIQUE (a
    CHECK the first row met holds for all), the row's own shape for a UNIQUE one."""
    target, _ = spots
    snapshot = snapshot_of(target)
    table = snapshot.tables[QualifiedName("public", "spots")]
    spot, pin = table.columns["spot"], table.columns["pin"]
    first = spatial_value(parse_type(spot.type), 0)
    assert first is not None
    assert [generate(spot, table, snapshot, n=n) for n in (0, 3)] == [first, first]
    third = spatial_value(parse_type(pin.type), 3)
    assert third is not None
    assert third != spatial_value(parse_type(pin.type), 0)
    assert generate(pin, table, snapshot, n=3, distinct=True) == third
