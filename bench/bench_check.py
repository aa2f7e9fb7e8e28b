"""Benchmark ``pgcontract check`` on a generated schema of N tables (default 1,000).

For each size: start (once) a throwaway PostgreSQL, create a database holding the Supabase auth shim and N
generated tables, write its contract with ``pgcontract snapshot``, time the library phases in-process
(contract load, catalog read, checks), then wall-clock ``pgcontract check`` as a user runs it.

Goals: ``pgcontract check`` under 5 s at 1,000 tables on 2 cores, and the same number of catalog queries
for 10 and 1,000 tables (``--tables 10 1000``). A database checked against its own snapshot must pass:
any finding is a bug, printed in full with the schema SQL kept in ``bench/out/``.

Usage: .venv/bin/python bench/bench_check.py [--tables N ...] [--repeat R] [--profile] [--strict]
(--strict: the exit code also says whether the time goal was met; the machine's core count is printed)
"""

from __future__ import annotations

import argparse
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from pytest_postgresql.executors import PostgreSQLExecutor

from pgcontract.catalog import read_snapshot
from pgcontract.checks import run_checks
from pgcontract.connect import Target, connect
from pgcontract.contract import load_contract
from pgcontract.embedded import database, server, supabase_shim
from pgcontract.findings import render_all

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"
BIN_DIR = Path(sys.executable).parent
GOAL_SECONDS = 5.0
GOAL_TABLES = 1000
GOAL_CORES = 2

# The second index of each table cycles through these shapes, so the index checks see several kinds.
SECOND_INDEX = (
    "CREATE INDEX {t}_owner_created_idx ON public.{t} (owner_id, created_at DESC) WHERE active;",
    "CREATE INDEX {t}_meta_idx ON public.{t} USING gin (meta);",
    "CREATE INDEX {t}_lower_title_idx ON public.{t} (lower(title));",
    "CREATE UNIQUE INDEX {t}_code_idx ON public.{t} (code) WHERE code IS NOT NULL;",
)


def table_name(i: int) -> str:
    return f"item_{i:05d}"


def table_sql(i: int) -> str:
    """One table: 16 columns of mixed types, PK, FK to the previous table, CHECK, 2 indexes, RLS + 2 policies."""
    t = table_name(i)
    parent = "auth.users (id)" if i == 0 else f"public.{table_name(i - 1)} (id)"
    second_index = SECOND_INDEX[i % len(SECOND_INDEX)].format(t=t)
    return f"""
CREATE TABLE public.{t} (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  owner_id uuid NOT NULL,
  parent_id uuid NOT NULL REFERENCES {parent} ON DELETE CASCADE,
  title text NOT NULL,
  body text,
  quantity integer NOT NULL DEFAULT 0,
  views bigint,
  amount numeric(14,2) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz,
  active boolean NOT NULL DEFAULT false,
  meta jsonb NOT NULL DEFAULT '{{}}'::jsonb,
  code varchar(50),
  due_on date,
  tags text[] NOT NULL DEFAULT '{{}}',
  status public.item_status NOT NULL DEFAULT 'draft',
  CONSTRAINT {t}_amount_check CHECK (amount >= 0 AND quantity >= 0)
);
CREATE INDEX {t}_parent_idx ON public.{t} (parent_id);
{second_index}
ALTER TABLE public.{t} ENABLE ROW LEVEL SECURITY;
CREATE POLICY {t}_select_own ON public.{t} FOR SELECT TO authenticated USING (owner_id = auth.uid());
CREATE POLICY {t}_insert_own ON public.{t} FOR INSERT TO authenticated WITH CHECK (owner_id = auth.uid());
REVOKE ALL ON public.{t} FROM anon, authenticated;
GRANT SELECT, INSERT ON public.{t} TO authenticated;
"""


def schema_sql(tables: int) -> str:
    head = "CREATE TYPE public.item_status AS ENUM ('draft', 'active', 'archived');\n"
    return head + "".join(table_sql(i) for i in range(tables))


class CountingCursor(psycopg.Cursor[Any]):
    """Counts every statement pgcontract sends through its connection (catalog queries and set-up)."""

    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


@dataclass
class Result:
    tables: int
    load_schema_s: float = 0.0
    snapshot_s: float = 0.0
    yaml_mb: float = 0.0
    contract_tables: int = 0
    contract_load_s: float = 0.0
    catalog_queries: int = 0
    statements: int = 0
    catalog_read_s: float = 0.0
    checks_s: float = 0.0
    findings: int = 0
    errors: int = 0
    check_s: float = 0.0
    check_runs: list[float] = field(default_factory=list)
    check_exit: int | None = None
    problems: list[str] = field(default_factory=list)


@contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` holds the seconds elapsed."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


def load_schema(dsn: str, sql: str) -> None:
    """The whole generated schema as one SQL text in one transaction."""
    with psycopg.connect(dsn) as conn:
        conn.execute(sql.encode("utf-8"))


def run_snapshot(dsn: str, out: Path) -> float:
    with out.open("wb") as fh, timed() as t:
        proc = subprocess.run([str(BIN_DIR / "pgcontract"), "snapshot", "--dsn", dsn], stdout=fh, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"pgcontract snapshot exited {proc.returncode}")
    return t[0]


def check_command(dsn: str, contract: Path) -> list[str]:
    return ["check", "--dsn", dsn, "--contract", str(contract), "--", "-q"]


def run_check(dsn: str, contract: Path) -> tuple[int, float, str]:
    with timed() as t:
        proc = subprocess.run(
            [str(BIN_DIR / "pgcontract"), *check_command(dsn, contract)],
            capture_output=True,
            text=True,
            check=False,
        )
    return proc.returncode, t[0], proc.stdout + proc.stderr


def profile_check(dsn: str, contract: Path, tables: int) -> None:
    """``pgcontract check`` under cProfile; the top functions are printed and the profile kept."""
    prof = OUT_DIR / f"check_{tables}.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "pgcontract.cli"]
    subprocess.run([*cmd, *check_command(dsn, contract)], capture_output=True, check=False)
    for sort in ("cumulative", "tottime"):
        print(f"\n--- cProfile of pgcontract check, {tables} tables, top 30 by {sort} ({prof}) ---")
        pstats.Stats(str(prof)).strip_dirs().sort_stats(sort).print_stats(30)


def measure(executor: PostgreSQLExecutor, tables: int, repeat: int, profile: bool) -> Result:
    result = Result(tables)
    sql = schema_sql(tables)
    (OUT_DIR / f"schema_{tables}.sql").write_text(sql, encoding="utf-8")
    contract_path = OUT_DIR / f"contract_{tables}.yaml"
    with database(executor, f"bench_{tables}", load=[supabase_shim()]) as target:
        with timed() as t:
            load_schema(target.dsn, sql)
        result.load_schema_s = t[0]

        result.snapshot_s = run_snapshot(target.dsn, contract_path)
        result.yaml_mb = contract_path.stat().st_size / 1e6

        with timed() as t:
            contract = load_contract(contract_path)
        result.contract_load_s = t[0]
        result.contract_tables = len(contract.table_map)

        with connect(Target("bench", target.dsn)) as conn:
            conn.cursor_factory = CountingCursor
            CountingCursor.executed = 0
            snapshot = read_snapshot(conn, contract.schemas)
        result.statements = CountingCursor.executed
        result.catalog_queries = snapshot.query_count
        result.catalog_read_s = snapshot.read_seconds

        with timed() as t:
            findings = run_checks(contract, snapshot)
        result.checks_s = t[0]
        result.findings = len(findings.findings)
        result.errors = len(findings.errors())
        if findings.findings:
            print(f"\n!!! {tables} tables: {len(findings.findings)} finding(s) against its own snapshot:")
            print(render_all(findings.findings))
            print(f"(schema: {OUT_DIR / f'schema_{tables}.sql'}, contract: {contract_path})\n")
        if result.errors:
            result.problems.append(f"{result.errors} error finding(s) against its own snapshot")
        if result.contract_tables != tables:
            result.problems.append(f"contract has {result.contract_tables} tables, expected {tables}")

        for _ in range(repeat):
            code, seconds, output = run_check(target.dsn, contract_path)
            result.check_runs.append(seconds)
            if code != 0:
                result.problems.append(f"pgcontract check exited {code}")
                print(f"\n!!! pgcontract check exited {code}; last lines of its output:")
                print("\n".join(output.splitlines()[-40:]))
            result.check_exit = code if result.check_exit in (None, 0) else result.check_exit
        result.check_s = statistics.median(result.check_runs)

        if profile:
            profile_check(target.dsn, contract_path, tables)
    return result


COLUMNS: tuple[tuple[str, str, Callable[[Result], object]], ...] = (
    ("tables", "{:,}", lambda r: r.tables),
    ("catalog queries", "{}", lambda r: r.catalog_queries),
    ("statements", "{}", lambda r: r.statements),
    ("contract load s", "{:.3f}", lambda r: r.contract_load_s),
    ("catalog read s", "{:.3f}", lambda r: r.catalog_read_s),
    ("checks s", "{:.3f}", lambda r: r.checks_s),
    ("check total s", "{:.2f}", lambda r: r.check_s),
    ("exit", "{}", lambda r: r.check_exit),
    ("snapshot s", "{:.2f}", lambda r: r.snapshot_s),
    ("YAML MB", "{:.2f}", lambda r: r.yaml_mb),
    ("findings", "{}", lambda r: r.findings),
)


def print_table(results: Sequence[Result]) -> None:
    header = " | ".join(name.rjust(len(name)) for name, _, _ in COLUMNS)
    print(header)
    print("-" * len(header))
    for r in results:
        cells = []
        for name, fmt, get in COLUMNS:
            cells.append(fmt.format(get(r)).rjust(len(name)))
        print(" | ".join(cells))


def verdict(results: Sequence[Result], strict: bool = False) -> bool:
    """Print the goals and whether they were met; True when nothing is wrong (the timing goal counts only
    when ``strict``)."""
    ok = True
    print()
    for r in results:
        if r.problems:
            ok = False
            print(f"FAIL  {r.tables} tables: " + "; ".join(r.problems))
    at_goal = [r for r in results if r.tables >= GOAL_TABLES]
    cores = os.cpu_count() or 0
    for r in at_goal:
        met = r.check_s < GOAL_SECONDS
        ok = ok and (met or not strict)
        print(
            f"{'OK  ' if met else 'SLOW'}  goal: pgcontract check under {GOAL_SECONDS:g} s at {GOAL_TABLES:,}"
            f" tables on {GOAL_CORES} cores: {r.check_s:.2f} s at {r.tables:,} tables on {cores} cores"
            + ("" if len(r.check_runs) == 1 else f" (median of {len(r.check_runs)})")
        )
    if not at_goal:
        ok = ok and not strict
        print(f"(goal: pgcontract check under {GOAL_SECONDS:g} s at {GOAL_TABLES:,} tables: not run)")
    if len(results) > 1:
        counts = {(r.catalog_queries, r.statements) for r in results}
        sizes = ", ".join(f"{r.tables:,}" for r in results)
        if len(counts) == 1:
            queries, statements = counts.pop()
            print(
                f"OK    goal: same number of catalog queries for every size ({sizes} tables):"
                f" {queries} catalog queries, {statements} statements"
            )
        else:
            ok = False
            detail = ", ".join(f"{r.tables}: {r.catalog_queries}/{r.statements}" for r in results)
            print(f"FAIL  goal: catalog queries/statements differ between sizes: {detail}")
    else:
        print("(goal: equal catalog queries for 10 and 1,000 tables: run --tables 10 1000 to compare)")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--tables", type=int, nargs="+", default=[GOAL_TABLES], help="schema sizes to run (default: 1000)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of pgcontract check per size; the median is shown")
    parser.add_argument(
        "--profile", action="store_true", help="also run pgcontract check under cProfile and print the top"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when the time goal is missed (or not run), on any core count"
    )
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.tables) or args.repeat < 1:
        parser.error("--tables and --repeat take positive numbers")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"pgcontract check benchmark, {stamp}, nproc {os.cpu_count()}, Python {sys.version.split()[0]}")
    print(
        f"Goals: `pgcontract check` under {GOAL_SECONDS:g} s at {GOAL_TABLES:,} tables on {GOAL_CORES} cores;"
        " the same number of catalog queries for 10 and 1,000 tables; zero findings against its own snapshot."
    )
    results: list[Result] = []
    with server() as executor:
        for tables in args.tables:
            print(f"\n== {tables:,} tables ==", flush=True)
            r = measure(executor, tables, args.repeat, args.profile)
            print(
                f"schema load {r.load_schema_s:.2f} s, snapshot {r.snapshot_s:.2f} s ({r.yaml_mb:.2f} MB),"
                f" contract load {r.contract_load_s:.3f} s, catalog read {r.catalog_read_s:.3f} s"
                f" ({r.catalog_queries} queries), checks {r.checks_s:.3f} s,"
                f" pgcontract check {', '.join(f'{s:.2f}' for s in r.check_runs)} s (exit {r.check_exit})",
                flush=True,
            )
            results.append(r)
    print()
    print_table(results)
    return 0 if verdict(results, args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
