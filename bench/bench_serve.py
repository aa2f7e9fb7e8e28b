"""Benchmark of the runtime layers: the cached health API under load, and the request guard's warm cost.

1. Starts a throwaway PostgreSQL loaded from sql/ and ``pgcontract serve --dsn ...`` in a subprocess
   (one uvicorn process, admin token required, as in production).
2. Loads ``/api/admin/check-db`` with wrk (Debian's package, installed when missing) from a second process:
   requests per second and latency percentiles (p99) of the cached report.
3. Counts the database checks the server ran during the load (``pgcontract_checks_total`` from /metrics):
   one per TTL is the goal, whatever the request rate.
4. Times the guard in-process with a warm cache: ``SchemaGuard.require`` and ``require_schema`` per call,
   and ``SchemaGuardMiddleware`` around a trivial ASGI app per request (minus the app alone).
5. Times the dashboard's last change from a history file of ``--history-runs`` runs (100,000): the first
   request reads the file, a request with it unchanged only stats it.

Goals (2 cores; the machine's count is printed beside them): at least 2,000 requests/s, p99 under 10 ms,
one check per TTL (no more than the periods allow, and no fewer: zero checks means the cache never
expired or the counter is dead), guard under 50 µs. Exit code 1 when something is wrong (a non-2xx
answer, a check count outside those bounds); a missed speed goal is reported as SLOW and fails the run
only with ``--strict``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import port_for
import psycopg
from starlette.types import Receive, Scope, Send

from pgcontract.contract import load_contract
from pgcontract.embedded import database, load_plan, server
from pgcontract.guard import SchemaGuard, SchemaGuardMiddleware, require_schema

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-admin-token"
CHECKS = re.compile(r'^pgcontract_checks_total\{result="[a-z]+"\} ([0-9.e+]+)$', re.MULTILINE)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk missing: installing Debian's wrk", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk could not be installed")
    return found


@contextmanager
def serving(dsn: str, contract: Path, ttl: float) -> Iterator[str]:
    port = port_for.select_random()
    env = {**os.environ, "PGCONTRACT_ADMIN_TOKEN": TOKEN}
    command = [str(Path(sys.executable).parent / "pgcontract"), "serve", "--dsn", dsn, "--contract", str(contract)]
    command += ["--port", str(port), "--ttl", str(ttl)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("pgcontract serve did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def checks_run(url: str) -> int:
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return int(sum(float(v) for v in CHECKS.findall(text)))


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(wrk: str, url: str, seconds: int, connections: int) -> dict[str, Any]:
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {TOKEN}", f"{url}/api/admin/check-db"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentiles = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(\d+)%\s+([0-9.]+)(us|ms|s)\s*$", out, re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": percentiles.get("50"),
        "p99": percentiles.get("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "none",
        "raw": out,
    }


def guard_costs(dsn: str, contract_path: Path, calls: int) -> dict[str, float]:
    """Microseconds per call of a warm guard (no database round trip: asserted by its check counter)."""
    contract = load_contract(contract_path)
    guard = SchemaGuard.from_contract(contract, ttl=3600)
    tables = {str(name): list(table.columns) for name, table in contract.table_map.items() if table.critical}
    with psycopg.connect(dsn, autocommit=True) as conn:
        guard.require(conn)
        require_schema(conn, tables=tables, ttl=3600)
        per_require = min(timeit.repeat(lambda: guard.require(conn), number=calls, repeat=5)) / calls
        per_function = min(timeit.repeat(lambda: require_schema(conn, tables=tables, ttl=3600), number=calls, repeat=5))
        per_function /= calls
        assert guard.checks == 1, guard.checks

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    middleware = SchemaGuardMiddleware(app, contract=contract, connection=dsn, ttl=3600)
    scope: Scope = {"type": "http", "path": "/api/threads"}

    async def receive() -> Any:
        return {}

    async def send(message: Any) -> None:
        return None

    async def loop(target: Any, n: int) -> float:
        await target(scope, receive, send)
        started = time.perf_counter()
        for _ in range(n):
            await target(scope, receive, send)
        return (time.perf_counter() - started) / n

    bare = min(asyncio.run(loop(app, calls)) for _ in range(5))
    wrapped = min(asyncio.run(loop(middleware, calls)) for _ in range(5))
    assert middleware.guard is not None
    assert middleware.guard.checks == 1, middleware.guard.checks
    return {
        "SchemaGuard.require": per_require * 1e6,
        "require_schema(conn, tables={...})": per_function * 1e6,
        "SchemaGuardMiddleware (per request, minus the app)": (wrapped - bare) * 1e6,
    }


def last_change_costs(runs: int) -> dict[str, float]:
    """The dashboard's last change from a history file of ``runs`` run entries and one repair: the first
    read (the whole file) and a request with the file unchanged (``LastChangeReader``: a stat), in ms."""
    from pgcontract.report.audit import HistoryStore, LastChangeReader

    dsn = "postgresql://app@db.example.test:5432/shop"
    change = {"kind": "audit", "audit_id": "a", "stage": "finished", "target": "shop@db.example.test",
              "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:01+00:00",
              "location": "db.example.test:5432/shop", "outcome": "applied"}  # fmt: skip
    run = {"target": "other", "database": "app@db.elsewhere.test:5432/other", "passed": True, "reachable": True}
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "history.jsonl"
        lines = (json.dumps({**run, "finished_at": "2026-01-01T00:00:00Z", "failed": 0}) for _ in range(runs))
        file.write_text("".join(line + "\n" for line in lines) + json.dumps(change) + "\n", encoding="utf-8")
        reader = LastChangeReader(HistoryStore(file=file), dsn, lambda _: None)
        first = timeit.timeit(reader, number=1)
        again = timeit.timeit(reader, number=100) / 100
        assert reader().entry is not None
    return {"first request (reads the file)": first * 1000, "file unchanged (a stat)": again * 1000}


def goal(ok: bool, text: str) -> str:
    return f"{'OK   ' if ok else 'SLOW '} goal: {text}"


GOAL_CORES = 2


def checks_per_ttl(during: int, elapsed: float, ttl: float) -> tuple[bool, str]:
    """One check per TTL under continuous load: at most one per period started (plus the one running at
    the start), at least one per whole period but the first and the last (which the load may straddle)."""
    periods = elapsed / ttl
    most = math.ceil(periods) + 1
    least = max(1, math.floor(periods) - 1)
    ok = least <= during <= most
    return ok, f"one database check per TTL: {during} checks in {periods:.1f} periods (expected {least} to {most})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=15, help="duration of the load (default: 15)")
    parser.add_argument("--ttl", type=float, default=5.0, help="the server's --ttl during the load (default: 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default: 32)")
    parser.add_argument("--guard-calls", type=int, default=100_000, help="calls per guard timing (default: 100,000)")
    parser.add_argument("--history-runs", type=int, default=100_000, help="runs in the dashboard's history file")
    parser.add_argument("--contract", default=str(ROOT / "contracts"))
    parser.add_argument("--sql", default=str(ROOT / "sql"))
    parser.add_argument("--show-wrk", action="store_true", help="print wrk's own output")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a speed goal is missed too")
    args = parser.parse_args()

    wrk = ensure_wrk()
    failed = False
    with server() as executor, database(executor, "bench_serve", load_plan(Path(args.sql), supabase=True)) as target:
        with serving(target.dsn, Path(args.contract), args.ttl) as url:
            warm = httpx.get(f"{url}/api/admin/check-db", headers={"Authorization": f"Bearer {TOKEN}"})
            if warm.status_code != 200:
                print(f"check-db answered {warm.status_code}: {warm.text[:300]}", file=sys.stderr)
                return 1
            before = checks_run(url)
            started = time.monotonic()
            load = run_wrk(wrk, url, args.seconds, args.connections)
            elapsed = time.monotonic() - started
            during = checks_run(url) - before
        costs = guard_costs(target.dsn, Path(args.contract), args.guard_calls)
    history_costs = last_change_costs(args.history_runs)

    if args.show_wrk:
        print(load["raw"])
    checks_ok, checks_line = checks_per_ttl(during, elapsed, args.ttl)
    load_line = f"wrk -t1 -c{args.connections} -d{args.seconds}s, --ttl {args.ttl:g}"
    print(f"pgcontract serve, cached /api/admin/check-db: {load_line}")
    print(f"  requests/s        {load['rps']:,.0f}  ({load['requests']:,} requests)")
    print(f"  latency p50       {load['p50']:.2f} ms")
    print(f"  latency p99       {load['p99']:.2f} ms")
    print(f"  non-2xx answers   {load['non_2xx']}   socket errors: {load['socket_errors']}")
    print(f"  database checks   {during} during {elapsed:.1f} s of load ({elapsed / args.ttl:.1f} TTL periods)")
    print("request guard, warm cache (no database round trip):")
    for name, micros in costs.items():
        print(f"  {name:<52} {micros:6.2f} µs")
    print(f"dashboard's last change, history of {args.history_runs:,} runs:")
    for name, millis in history_costs.items():
        print(f"  {name:<52} {millis:8.3f} ms")
    print()
    print(f"speed goals are for {GOAL_CORES} cores; this machine has {os.cpu_count() or 0}")
    worst = max(costs.values())
    speed = [
        (load["rps"] >= 2000, f"at least 2,000 requests/s: {load['rps']:,.0f}"),
        (load["p99"] < 10, f"p99 under 10 ms: {load['p99']:.2f} ms"),
        (worst < 50, f"guard under 50 µs per request with a warm cache: at most {worst:.2f} µs"),
    ]
    for met, text in speed:
        print(goal(met, text))
    print(f"{'OK   ' if checks_ok else 'FAIL '} goal: {checks_line}")
    if load["non_2xx"] or not checks_ok:
        failed = True
        print("FAILED: non-2xx answers, or database checks outside one per TTL", file=sys.stderr)
    if args.strict and not all(met for met, _ in speed):
        failed = True
        print(f"FAILED (--strict): a speed goal missed on {os.cpu_count() or 0} cores", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
