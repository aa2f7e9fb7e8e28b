"""Test values for PostGIS columns (``geometry``, ``geography``), as EWKT text their input functions read.

A column's type modifier says what it holds (``geometry(MultiPolygon, 4326)``, ``geography(PointZ)``):
the value is a small valid shape of that kind, dimensions and SRID (geography's SRID is 4326 unless
given; geometry's 0). An unconstrained ``geometry`` gets a point; the CHECKs older schemas hold it to
(``ST_SRID(path) = 4326``, ``GeometryType(path) = 'LINESTRING'``, ``ST_IsValid(path)``) are met by
trying ``candidates``: every supported shape, SRID 4326 first, each valid.
"""

from __future__ import annotations

from pgcontract.sqlnorm import SqlType

SPATIAL_TYPES = frozenset({"geometry", "geography"})

# Well-known text of a small valid shape per kind, from its corner (x, y); {c} takes the extra
# coordinates (Z, M) of every point.
_SHAPES = {
    "point": "POINT{tag} ({x} {y}{c})",
    "linestring": "LINESTRING{tag} ({x} {y}{c}, {x1} {y1}{c})",
    "polygon": "POLYGON{tag} (({x} {y}{c}, {x1} {y}{c}, {x1} {y1}{c}, {x} {y1}{c}, {x} {y}{c}))",
    "multipoint": "MULTIPOINT{tag} (({x} {y}{c}))",
    "multilinestring": "MULTILINESTRING{tag} (({x} {y}{c}, {x1} {y1}{c}))",
    "multipolygon": "MULTIPOLYGON{tag} ((({x} {y}{c}, {x1} {y}{c}, {x1} {y1}{c}, {x} {y1}{c}, {x} {y}{c})))",
    "geometrycollection": "GEOMETRYCOLLECTION{tag} (POINT{tag} ({x} {y}{c}))",
    "circularstring": "CIRCULARSTRING{tag} ({x} {y}{c}, {x1} {y1}{c}, {x1} {y}{c})",
    "triangle": "TRIANGLE{tag} (({x} {y}{c}, {x} {y1}{c}, {x1} {y1}{c}, {x} {y}{c}))",
}
_SUFFIXES = ("zm", "z", "m", "")  # longest first: "pointzm" is a point with Z and M


def is_spatial(kind: SqlType) -> bool:
    return kind.name in SPATIAL_TYPES and not kind.is_array


def _shape_of(kind: SqlType) -> tuple[str, str]:
    """The kind of shape and its extra dimensions ("z", "m", "zm" or "") the type modifier asks for."""
    if not kind.modifiers:
        return "point", ""
    wanted = kind.modifiers[0].lower()
    for suffix in _SUFFIXES:
        base = wanted[: len(wanted) - len(suffix)] if suffix else wanted
        if wanted.endswith(suffix) and (base in _SHAPES or base == "geometry"):
            return ("point" if base == "geometry" else base), suffix
    return wanted, ""


def _srid_of(kind: SqlType) -> int:
    if len(kind.modifiers) > 1 and kind.modifiers[1].lstrip("-").isdigit():
        return int(kind.modifiers[1])
    return 4326 if kind.name == "geography" else 0


def ewkt(shape: str, dims: str, srid: int, n: int) -> str:
    """A valid ``shape`` as EWKT, placed by ``n`` (rows of a UNIQUE column differ); longitudes and
    latitudes stay in range, so geography takes it too."""
    x, y = n % 170, (n // 170) % 80
    tag = f" {dims.upper()}" if dims else ""
    text = _SHAPES[shape].format(tag=tag, x=x, y=y, x1=x + 1, y1=y + 1, c=" 0" * len(dims))
    return f"SRID={srid};{text}"


def spatial_value(kind: SqlType, n: int) -> str | None:
    """A value of the column's kind, SRID and dimensions; None for a shape this module cannot draw."""
    shape, dims = _shape_of(kind)
    if shape not in _SHAPES:
        return None
    return ewkt(shape, dims, _srid_of(kind), n)


def spatial_candidates(kind: SqlType, n: int) -> list[str]:
    """Other values for a CHECK to choose from: each supported shape, in SRID 4326, the column's own,
    0 and 3857, with the column's dimensions (a typed column refuses the other shapes itself)."""
    _, dims = _shape_of(kind)
    srids = list(dict.fromkeys((4326, _srid_of(kind), 0, 3857)))
    return [ewkt(shape, dims, srid, n) for srid in srids for shape in _SHAPES]
