"""An empty database on the test's server (no shim, no schema of the test's): where `pgcontract sql` of a
snapshot must load and then pass. Roles are the server's, shared by every database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from pgcontract.adopt import GrantsMode, contract_from_snapshot, dump_contract
from pgcontract.connect import Target
from project_tests.helpers import snapshot_of


@contextmanager
def empty_database(target: Target) -> Iterator[Target]:
    name = f"pgc_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield Target(name="empty", dsn=psycopg.conninfo.make_conninfo(target.dsn, dbname=name), throwaway=True)
    finally:
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_in(target: Target, text: str) -> None:
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(text.encode())


def own_contract(target: Target, directory: Path, grants: GrantsMode = "default") -> Path:
    """``pgcontract snapshot`` of the database, in process, written where the loader reads it."""
    path = directory / "contract.yaml"
    path.write_text(dump_contract(contract_from_snapshot(snapshot_of(target), grants=grants)), encoding="utf-8")
    return path
