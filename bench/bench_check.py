"""Benchmark ``pgcontract check`` and ``pgcontract snapshot`` on a generated schema of N tables (default 1,000).

For each size: start (once) a throwaway PostgreSQL, create a database holding the Supabase auth shim and N
generated tables, write its contract with ``pgcontract snapshot``, time the library phases in-process
(contract load, catalog read, checks), then ``pgcontract check`` as a user runs it: wall clock, CPU time
and peak memory of the command (its own ``getrusage``), beside one catalog read with psql and, when it is
installed, ``pgrls lint`` on the same database, with the ratios.

Goals: ``pgcontract check`` in at most 2 s at 1,000 tables on 2 cores; at 10,000 tables ``snapshot`` and
``check`` each in at most 15 s and 1 GiB; the same number of catalog queries for every size
(``--tables 10 1000 10000``). A database checked against its own snapshot must pass: any finding is a
bug, printed in full with the schema SQL kept in ``bench/out/``.

Usage: .venv/bin/python bench/bench_check.py [--tables N ...] [--repeat R] [--profile] [--pgrls PATH] [--strict]
(--strict: the exit code also says whether the time goals were met; the machine's core count is printed)
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
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
GOAL_CORES = 2
# (tables, seconds, MiB): `pgcontract check` (and, with a memory bound, `pgcontract snapshot`) at that size
GOALS = ((1000, 2.0, None), (10000, 15.0, 1024))
BATCH_TABLES = 500  # tables per transaction when loading: one transaction of 10,000 runs out of lock slots
# One catalog read as a DBA would type it: every column of every table of the schema, with its type.
PSQL_QUERY = (
    "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid"
    " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
)

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
    return "".join(schema_batches(tables))


def schema_batches(tables: int) -> Iterator[str]:
    """The schema in pieces of BATCH_TABLES tables, each loaded in its own transaction."""
    head = "CREATE TYPE public.item_status AS ENUM ('draft', 'active', 'archived');\n"
    for start in range(0, tables, BATCH_TABLES):
        yield (head if start == 0 else "") + "".join(
            table_sql(i) for i in range(start, min(tables, start + BATCH_TABLES))
        )


class CountingCursor(psycopg.Cursor[Any]):
    """Counts every statement pgcontract sends through its connection (catalog queries and set-up)."""

    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        CountingCursor.executed += 1
        return super().execute(*args, **kwargs)


@dataclass(frozen=True)
class Measured:
    """One command: exit code, wall clock, CPU time (user + system) and peak memory, from its own rusage."""

    code: int
    wall_s: float
    cpu_s: float
    peak_mib: float
    output: str = ""


@dataclass
class Result:
    tables: int
    load_schema_s: float = 0.0
    snapshot_s: float = 0.0
    snapshot_cpu_s: float = 0.0
    snapshot_mib: float = 0.0
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
    check_cpu_s: float = 0.0
    check_mib: float = 0.0
    check_exit: int | None = None
    psql_s: float = 0.0
    pgrls_s: float | None = None
    pgrls_exit: int | None = None
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


def load_schema(dsn: str, batches: Iterator[str]) -> None:
    """The generated schema, BATCH_TABLES tables per transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for sql in batches:
            with conn.transaction():
                conn.execute(sql.encode("utf-8"))


def measured(cmd: Sequence[str], stdout: Path | None = None) -> Measured:
    """Run a command; its wall clock, and its CPU time and peak memory from its own rusage (wait4)."""
    with tempfile.TemporaryFile() as captured:
        with stdout.open("wb") if stdout is not None else nullcontext(captured) as out:
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=out, stderr=captured if stdout is not None else subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        captured.seek(0)
        output = captured.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux
    return Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)


def run_snapshot(dsn: str, out: Path) -> Measured:
    done = measured([str(BIN_DIR / "pgcontract"), "snapshot", "--dsn", dsn], stdout=out)
    if done.code != 0:
        raise SystemExit(f"pgcontract snapshot exited {done.code}: {done.output[-2000:]}")
    return done


def check_command(dsn: str, contract: Path) -> list[str]:
    return ["check", "--dsn", dsn, "--contract", str(contract), "--", "-q"]


def run_check(dsn: str, contract: Path) -> Measured:
    return measured([str(BIN_DIR / "pgcontract"), *check_command(dsn, contract)])


def psql_binary(executor: PostgreSQLExecutor) -> str:
    """The psql next to the server's binaries (the client of the same version), else the one on PATH."""
    beside = Path(executor.executable).resolve().parent / "psql"
    found = str(beside) if beside.exists() else shutil.which("psql")
    if found is None:
        raise SystemExit("psql not found (next to pg_ctl or on PATH)")
    return found


def run_psql(psql: str, dsn: str) -> Measured:
    """One catalog read with psql: the baseline of what reading a catalog costs."""
    done = measured([psql, "-X", "-q", "-At", "-d", dsn, "-c", PSQL_QUERY, "-o", os.devnull])
    if done.code != 0:
        raise SystemExit(f"psql exited {done.code}: {done.output}")
    return done


def url_of(dsn: str) -> str:
    """The DSN as a postgresql:// URL (pgrls takes URLs)."""
    parts = conninfo_to_dict(dsn)
    user = parts.get("user", "postgres")
    return f"postgresql://{user}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/{parts['dbname']}"


# The profiled command: cProfile enabled before pgcontract is imported (imports are part of the cost),
# main() called rather than the console script, which ends with os._exit and would lose the profile.
# (`python -m cProfile` takes a script or -m, not -c.)
PROFILED = """
import cProfile, sys
prof, argv = sys.argv[1], sys.argv[2:]
profiler = cProfile.Profile()
profiler.enable()
from pgcontract.cli import main
code = main(argv)
profiler.disable()
profiler.dump_stats(prof)
sys.exit(code)
"""


def profile_check(dsn: str, contract: Path, tables: int) -> str | None:
    """``pgcontract check`` under cProfile; the top functions are printed and the profile kept in
    ``bench/out/check_N.prof``. Returns a problem to report, or None."""
    prof = OUT_DIR / f"check_{tables}.prof"
    prof.unlink(missing_ok=True)
    done = measured([sys.executable, "-c", PROFILED, str(prof), *check_command(dsn, contract)])
    if done.code != 0 or not prof.exists():
        print(f"\n!!! pgcontract check under cProfile exited {done.code}; last lines of its output:")
        print("\n".join(done.output.splitlines()[-40:]))
        return f"pgcontract check under cProfile exited {done.code}" + ("" if prof.exists() else ", no profile")
    print(f"\n(pgcontract check under cProfile: {done.wall_s:.2f} s, {done.cpu_s:.2f} s CPU with the profiler)")
    for sort in ("cumulative", "tottime"):
        print(f"\n--- cProfile of pgcontract check, {tables} tables, top 30 by {sort} ({prof}) ---")
        pstats.Stats(str(prof)).sort_stats(sort).print_stats(30)
    return None


def measure(executor: PostgreSQLExecutor, tables: int, repeat: int, profile: bool, pgrls: str | None) -> Result:
    result = Result(tables)
    (OUT_DIR / f"schema_{tables}.sql").write_text(schema_sql(tables), encoding="utf-8")
    contract_path = OUT_DIR / f"contract_{tables}.yaml"
    with database(executor, f"bench_{tables}", load=[supabase_shim()]) as target:
        with timed() as t:
            load_schema(target.dsn, schema_batches(tables))
        result.load_schema_s = t[0]
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # as a long-lived database would be: planner statistics of the catalog

        snap = run_snapshot(target.dsn, contract_path)
        result.snapshot_s, result.snapshot_cpu_s, result.snapshot_mib = snap.wall_s, snap.cpu_s, snap.peak_mib
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

        cpu_runs, peaks, psql_runs, pgrls_runs = [], [], [], []
        psql = psql_binary(executor)
        for _ in range(repeat):  # side by side, in the same minutes: the machine's load moves all three alike
            done = run_check(target.dsn, contract_path)
            result.check_runs.append(done.wall_s)
            cpu_runs.append(done.cpu_s)
            peaks.append(done.peak_mib)
            if done.code != 0:
                result.problems.append(f"pgcontract check exited {done.code}")
                print(f"\n!!! pgcontract check exited {done.code}; last lines of its output:")
                print("\n".join(done.output.splitlines()[-40:]))
            result.check_exit = done.code if result.check_exit in (None, 0) else result.check_exit
            psql_runs.append(run_psql(psql, target.dsn).wall_s)
            if pgrls is not None:
                linted = measured([pgrls, "lint", "--database-url", url_of(target.dsn), "--schemas", "public"])
                pgrls_runs.append(linted.wall_s)
                result.pgrls_exit = linted.code
        result.check_s = statistics.median(result.check_runs)
        result.check_cpu_s = statistics.median(cpu_runs)
        result.check_mib = max(peaks)
        result.psql_s = statistics.median(psql_runs)
        result.pgrls_s = statistics.median(pgrls_runs) if pgrls_runs else None

        if profile and (problem := profile_check(target.dsn, contract_path, tables)) is not None:
            result.problems.append(problem)
    return result


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a is not None and b else "-"


COLUMNS: tuple[tuple[str, str, Callable[[Result], object]], ...] = (
    ("tables", "{:,}", lambda r: r.tables),
    ("catalog queries", "{}", lambda r: r.catalog_queries),
    ("statements", "{}", lambda r: r.statements),
    ("contract load s", "{:.3f}", lambda r: r.contract_load_s),
    ("catalog read s", "{:.3f}", lambda r: r.catalog_read_s),
    ("checks s", "{:.3f}", lambda r: r.checks_s),
    ("check s", "{:.2f}", lambda r: r.check_s),
    ("check CPU s", "{:.2f}", lambda r: r.check_cpu_s),
    ("check MiB", "{:.0f}", lambda r: r.check_mib),
    ("exit", "{}", lambda r: r.check_exit),
    ("snapshot s", "{:.2f}", lambda r: r.snapshot_s),
    ("snapshot CPU s", "{:.2f}", lambda r: r.snapshot_cpu_s),
    ("snapshot MiB", "{:.0f}", lambda r: r.snapshot_mib),
    ("psql read s", "{:.3f}", lambda r: r.psql_s),
    ("check/psql", "{}", lambda r: _ratio(r.check_s, r.psql_s)),
    ("pgrls lint s", "{}", lambda r: f"{r.pgrls_s:.2f}" if r.pgrls_s is not None else "-"),
    ("pgrls/check", "{}", lambda r: _ratio(r.pgrls_s, r.check_s)),
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
    cores = os.cpu_count() or 0
    for tables, seconds, mib in GOALS:
        at_goal = [r for r in results if r.tables == tables]
        if not at_goal:
            ok = ok and not (strict and mib is None)  # --strict: the 1,000-table goal must be run
            print(f"(goal at {tables:,} tables: not run; --tables {tables})")
        for r in at_goal:
            runs = "" if len(r.check_runs) == 1 else f" (median of {len(r.check_runs)})"
            met = r.check_s <= seconds
            ok = ok and (met or not strict)
            print(
                f"{'OK  ' if met else 'SLOW'}  goal: pgcontract check in at most {seconds:g} s at {tables:,} tables on"
                f" {GOAL_CORES} cores: {r.check_s:.2f} s{runs}, {r.check_cpu_s:.2f} s CPU, {r.check_mib:.0f} MiB"
                f" peak ({cores} cores)"
            )
            if mib is None:
                continue
            met = r.snapshot_s <= seconds
            ok = ok and (met or not strict)
            print(
                f"{'OK  ' if met else 'SLOW'}  goal: pgcontract snapshot in at most {seconds:g} s at {tables:,} tables:"
                f" {r.snapshot_s:.2f} s, {r.snapshot_cpu_s:.2f} s CPU"
            )
            for command, peak in (("check", r.check_mib), ("snapshot", r.snapshot_mib)):
                if peak > mib:
                    ok = False
                print(
                    f"{'OK  ' if peak <= mib else 'FAIL'}  goal: pgcontract {command} in at most {mib:,} MiB at"
                    f" {tables:,} tables: {peak:.0f} MiB peak"
                )
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
    parser.add_argument("--tables", type=int, nargs="+", default=[1000], help="schema sizes to run (default: 1000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of pgcontract check per size; the median is shown")
    parser.add_argument(
        "--profile", action="store_true", help="also run pgcontract check under cProfile and print the top"
    )
    parser.add_argument(
        "--pgrls", default=shutil.which("pgrls"), help="pgrls to compare with (default: pgrls on PATH, if any)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a time goal is missed (or not run), on any core count"
    )
    args = parser.parse_args(argv)
    if any(n < 1 for n in args.tables) or args.repeat < 1:
        parser.error("--tables and --repeat take positive numbers")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"pgcontract check benchmark, {stamp}, nproc {os.cpu_count()}, Python {sys.version.split()[0]}")
    print(
        f"Goals: `pgcontract check` in at most 2 s at 1,000 tables on {GOAL_CORES} cores; `snapshot` and `check`"
        " each in at most 15 s and 1 GiB at 10,000; the same number of catalog queries for every size; zero"
        " findings against its own snapshot."
    )
    if args.pgrls:
        version = subprocess.run([args.pgrls, "--version"], capture_output=True, text=True, check=False)
        print(f"pgrls: {args.pgrls} ({version.stdout.strip()})")
    else:
        print("pgrls: not installed (pip install pgrls, or --pgrls PATH, to compare)")
    results: list[Result] = []
    with server() as executor:
        for tables in args.tables:
            print(f"\n== {tables:,} tables ==", flush=True)
            r = measure(executor, tables, args.repeat, args.profile, args.pgrls)
            print(
                f"schema load {r.load_schema_s:.2f} s, snapshot {r.snapshot_s:.2f} s ({r.yaml_mb:.2f} MB,"
                f" {r.snapshot_mib:.0f} MiB peak), contract load {r.contract_load_s:.3f} s, catalog read"
                f" {r.catalog_read_s:.3f} s ({r.catalog_queries} queries), checks {r.checks_s:.3f} s,"
                f" pgcontract check {', '.join(f'{s:.2f}' for s in r.check_runs)} s (exit {r.check_exit},"
                f" {r.check_cpu_s:.2f} s CPU, {r.check_mib:.0f} MiB peak), psql catalog read {r.psql_s:.3f} s"
                + (f", pgrls lint {r.pgrls_s:.2f} s (exit {r.pgrls_exit})" if r.pgrls_s is not None else ""),
                flush=True,
            )
            results.append(r)
    print()
    print_table(results)
    return 0 if verdict(results, args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
