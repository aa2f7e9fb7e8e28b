"""Benchmark a multi-target run: 50 throwaway tenant databases checked in one ``pgcontract check``.

Creates one database holding the Supabase auth shim and the chat schema of ``sql/``, clones it into N
tenant databases (default 50), writes a targets file (name -> DSN), then times ``pgcontract check
--targets FILE`` without pytest-xdist, with ``-n 1`` and with ``-n 2`` (each target's tests run in one
worker: ``--dist loadgroup``). Prints wall times, test counts and exit codes (all must be 0).

Usage: .venv/bin/python bench/bench_tenants.py [--tenants N] [--rls-live]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml
from tenant_clones import tenant_databases, tenant_names

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PGCONTRACT = str(Path(sys.executable).parent / "pgcontract")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--rls-live", action="store_true", help="also run the isolation tests on every tenant")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    names = tenant_names(args.tenants)
    with tenant_databases(names) as base:
        targets = OUT / "targets.yaml"
        targets.write_text(
            yaml.safe_dump({name: f"{base}/{name}" for name in names}),
            encoding="utf-8",
        )
        ok = True
        for label, extra in (("no xdist", []), ("-n 1", ["-n", "1"]), ("-n 2", ["-n", "2"])):
            begun = time.perf_counter()
            done = subprocess.run(
                [
                    PGCONTRACT,
                    "check",
                    "--targets",
                    str(targets),
                    *(["--rls-live"] if args.rls_live else []),
                    "--",
                    "-q",
                    *extra,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            wall = time.perf_counter() - begun
            counts = re.findall(r"(\d+) (passed|failed|skipped)", done.stdout)
            print(f"{label:>9}: {wall:6.2f} s wall, exit {done.returncode}, {', '.join(f'{n} {w}' for n, w in counts)}")
            ok = ok and done.returncode == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
