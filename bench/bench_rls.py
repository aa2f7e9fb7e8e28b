"""Benchmark the dynamic RLS isolation matrix on the 1,000-table schema of ``bench_check.py``.

Every generated table gets ``isolation: {owner: owner_id}`` (users A and B, Supabase auth) on top of the
contract ``pgcontract snapshot`` writes; then the full matrix (seeding through the foreign-key chain,
reads, inserts, moves, updates and deletes as A, the anonymous caller) runs for every table in one
isolation session, as the suite runs it. Prints the time per table (mean, median, p95, max), the total,
the violations found (must be 0) and the proof that nothing was left behind.

Each table also gets a ``security_invoker`` view the API reads (``--no-views`` leaves them out), so the
view probe (a fingerprint of the view as A, one more row of B, the fingerprint again) is timed too.

Goal: under 20 ms per table.

Usage: .venv/bin/python bench/bench_rls.py [--tables N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_check import OUT_DIR, load_schema, schema_batches, table_name

from pgcontract.adopt import contract_from_snapshot
from pgcontract.catalog import read_snapshot
from pgcontract.connect import DEFAULT_LIMITS, connect
from pgcontract.contract import Contract
from pgcontract.embedded import database, server, supabase_shim
from pgcontract.rls.matrix import IsolationSession, isolation_tables

GOAL_MS = 20.0


def with_isolation(data: dict[str, Any]) -> Contract:
    data["auth"] = {"mode": "supabase"}
    for table in data["tables"].values():
        # parent_id links to another table's rows whoever owns them: not an ownership relation.
        table["isolation"] = {"owner": "owner_id", "cross_owner": ["parent_id"]}
    return Contract.model_validate(data)


def views_sql(tables: int) -> str:
    """One view per table that keeps to the caller's rows: the view probe runs for every table and passes."""
    return "".join(
        f"CREATE VIEW public.{table_name(i)}_v WITH (security_invoker = on) AS"
        f" SELECT id, title FROM public.{table_name(i)};\n"
        f"REVOKE ALL ON public.{table_name(i)}_v FROM anon;"
        f" GRANT SELECT ON public.{table_name(i)}_v TO authenticated;\n"
        for i in range(tables)
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--no-views", action="store_true", help="no view per table (the view probe does not run)")
    args = parser.parse_args(argv)
    OUT_DIR.mkdir(exist_ok=True)
    with server() as executor, database(executor, "bench_rls", load=[supabase_shim()]) as target:
        started = time.perf_counter()
        views = [] if args.no_views else [views_sql(args.tables)]
        load_schema(target.dsn, iter([*schema_batches(args.tables), *views]))
        what = "tables" if args.no_views else "tables and views"
        print(f"schema of {args.tables} {what} loaded in {time.perf_counter() - started:.1f} s")
        with connect(target) as conn:
            snapshot = read_snapshot(conn, ["public", "auth"])
            contract = with_isolation(contract_from_snapshot(snapshot, ["public"]))
            (OUT_DIR / f"contract_rls_{args.tables}.yaml").write_text(
                yaml.safe_dump(contract.model_dump(mode="json", by_alias=True, exclude_none=True)), encoding="utf-8"
            )
            session = IsolationSession(conn, contract, snapshot, throwaway=True, limits=DEFAULT_LIMITS)
            times: list[float] = []
            violations = 0
            for name in isolation_tables(contract):
                begun = time.perf_counter()
                outcome = session.run(name)
                times.append((time.perf_counter() - begun) * 1000)
                violations += len(outcome.violations)
                for violation in outcome.violations:
                    print(f"  VIOLATION {violation.message}")
            begun = time.perf_counter()
            left = session.finish()
            finish_ms = (time.perf_counter() - begun) * 1000
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    print(
        f"isolation matrix, {len(times)} tables: total {sum(times) / 1000:.2f} s; per table mean "
        f"{statistics.mean(times):.1f} ms, median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, "
        f"max {max(times):.1f} ms (first table, which creates users A and B: {times[0]:.1f} ms)"
    )
    print(f"rollback and proof that nothing was left: {finish_ms:.0f} ms; left behind: {left or 'nothing'}")
    print(f"violations: {violations}")
    ok = violations == 0 and not left and statistics.mean(times) < GOAL_MS
    mark = "OK  " if statistics.mean(times) < GOAL_MS else "SLOW"
    print(f"{mark}  goal: under {GOAL_MS:.0f} ms per table: {statistics.mean(times):.1f} ms mean")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
