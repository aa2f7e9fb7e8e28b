"""The PostGIS values the seeder writes (``rls/spatial.py``), checked by PostGIS itself: for every shape a
typed column can hold, in every dimension, the value is one the column takes, of that shape, dimension
and SRID, and valid; rows of a UNIQUE column are placed apart; an untyped ``geometry`` gets a point in
SRID 0, an untyped ``geography`` one in 4326; the candidates tried against a CHECK are every shape in
SRID 4326, the column's own, 0 and 3857, each valid."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from psycopg import sql

from pgcontract.rls.spatial import spatial_candidates, spatial_value
from pgcontract.sqlnorm import parse_type

SHAPES = (
    "Point",
    "LineString",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
    "CircularString",
    "Triangle",
)
# geography holds no curves and no triangles.
GEOGRAPHY_SHAPES = SHAPES[:7]
DIMS = {"": 2, "Z": 3, "M": 3, "ZM": 4}


@pytest.fixture
def postgis(run_sql: Callable[[str], None]) -> None:
    run_sql("CREATE EXTENSION IF NOT EXISTS postgis")


def described(pg: psycopg.Connection[tuple[object, ...]], value: str, cast: str) -> tuple[object, ...]:
    """What PostGIS reads in ``value`` cast to ``cast``: shape, SRID, dimensions, validity, EWKT."""
    row = pg.execute(
        sql.SQL(
            "SELECT geometrytype(g), st_srid(g), st_ndims(g), st_isvalid(g), st_asewkt(g)"
            " FROM (SELECT {}::{}::geometry AS g) AS t"
        ).format(sql.Literal(value), sql.SQL(cast))
    ).fetchone()
    assert row is not None
    return row


@pytest.mark.usefixtures("postgis")
@pytest.mark.parametrize("dims", list(DIMS), ids=lambda d: d or "XY")
def test_a_typed_column_gets_a_valid_value_of_its_shape_dimensions_and_srid(
    pg: psycopg.Connection[tuple[object, ...]], dims: str
) -> None:
    for base, shapes, srid in (("geometry", SHAPES, 3857), ("geography", GEOGRAPHY_SHAPES, 4326)):
        for shape in shapes:
            column = f"{base}({shape}{dims},{srid})"
            kind = parse_type(column)
            for n in (0, 1, 171):
                value = spatial_value(kind, n)
                assert value is not None, column
                # The column's own type refuses another shape, dimension or SRID.
                kept = described(pg, value, column)
                assert kept[:4] == (shape.upper() + ("M" if dims == "M" else ""), srid, DIMS[dims], True), (
                    column,
                    value,
                )


@pytest.mark.usefixtures("postgis")
def test_rows_are_placed_apart_and_inside_longitude_and_latitude(pg: psycopg.Connection[tuple[object, ...]]) -> None:
    kind = parse_type("geography(Point,4326)")
    points = {
        n: described(pg, spatial_value(kind, n) or "", "geography(Point,4326)")[4] for n in (0, 1, 170, 171, 13_599)
    }
    assert points == {
        0: "SRID=4326;POINT(0 0)",
        1: "SRID=4326;POINT(1 0)",
        170: "SRID=4326;POINT(0 1)",
        171: "SRID=4326;POINT(1 1)",
        13_599: "SRID=4326;POINT(169 79)",
    }
    square = spatial_value(parse_type("geometry(PolygonZ,0)"), 171) or ""
    assert described(pg, square, "geometry")[4] == "POLYGON((1 1 0,2 1 0,2 2 0,1 2 0,1 1 0))"


@pytest.mark.usefixtures("postgis")
@pytest.mark.parametrize(
    ("column", "want"),
    [
        ("geometry", "POINT(0 0)"),
        ("geography", "SRID=4326;POINT(0 0)"),
        ("geometry(Point)", "POINT(0 0)"),
        ("geography(PointZM)", "SRID=4326;POINT(0 0 0 0)"),
        ("geometry(Geometry,4326)", "SRID=4326;POINT(0 0)"),
        ("geometry(GeometryZ,4326)", "SRID=4326;POINT(0 0 0)"),
        ("geometry(Polygon,-1)", "POLYGON((0 0,1 0,1 1,0 1,0 0))"),
    ],
)
def test_a_column_with_less_said_gets_a_point_in_the_default_srid(
    pg: psycopg.Connection[tuple[object, ...]], column: str, want: str
) -> None:
    value = spatial_value(parse_type(column), 0)
    assert value is not None
    assert described(pg, value, column)[4] == want


def test_a_shape_the_seeder_cannot_draw_gives_none() -> None:
    assert spatial_value(parse_type("geometry(PolyhedralSurfaceZ,4326)"), 0) is None
    assert spatial_value(parse_type("geometry(Tin)"), 0) is None
    # Its candidates are still the plain two-dimensional shapes (the column's type refuses them all, and
    # the CHECK-fitting that tries them then says what to give).
    assert spatial_candidates(parse_type("geometry(Tin,4326)"), 0) == spatial_candidates(
        parse_type("geometry(Point,4326)"), 0
    )


@pytest.mark.usefixtures("postgis")
@pytest.mark.parametrize(
    ("column", "srids", "dims"),
    [("geometry", (4326, 0, 3857), 2), ("geometry(PointZ,2154)", (4326, 2154, 0, 3857), 3)],
)
def test_the_candidates_are_every_shape_in_the_common_srids_each_valid(
    pg: psycopg.Connection[tuple[object, ...]], column: str, srids: tuple[int, ...], dims: int
) -> None:
    tried = spatial_candidates(parse_type(column), 5)
    seen = [described(pg, value, "geometry") for value in tried]
    assert [(shape, srid) for shape, srid, *_ in seen] == [(s.upper(), srid) for srid in srids for s in SHAPES]
    assert {(ndims, valid) for _, _, ndims, valid, _ in seen} == {(dims, True)}
