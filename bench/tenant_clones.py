"""Tenant databases for the multi-target benchmarks (bench_targets.py, bench_tenants.py): one throwaway
server, the Supabase auth shim and the chat schema of ``sql/`` loaded once into a template database, and
that template cloned into each tenant."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from pgcontract.embedded import database, load_plan, server

ROOT = Path(__file__).resolve().parent.parent


def tenant_names(count: int) -> list[str]:
    return [f"tenant_{i:03d}" for i in range(count)]


@contextmanager
def tenant_databases(names: Sequence[str]) -> Iterator[str]:
    """Clones of the template named ``names`` on a throwaway server; yields the server's base URL (a
    tenant's DSN is ``{base}/{name}``); the clones are dropped on the way out."""
    plan = load_plan(ROOT / "sql", supabase=True)
    with server() as executor, database(executor, "tenant_template", plan) as template:
        started = time.perf_counter()
        # A template with a session open cannot be cloned.
        with psycopg.connect(template.dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        base = f"postgresql://{executor.user}@{executor.host}:{executor.port}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE tenant_template").format(sql.Identifier(name)))
        print(f"{len(names)} tenant databases created in {time.perf_counter() - started:.1f} s")
        try:
            yield base
        finally:
            with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
                for name in names:
                    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
