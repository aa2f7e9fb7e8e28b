"""Benchmark many targets on one machine: 1, 50 and 200 tenant databases in one ``pgcontract check``.

Starts one throwaway server, loads the Supabase auth shim and the chat schema of ``sql/`` into a template
database, clones it into the largest number of tenants asked for, and for each count writes a targets
file (name -> DSN) and times ``pgcontract check --targets FILE --concurrency C`` for each concurrency
asked for (1 = one target's catalog read after another, as before ``--concurrency``). Prints wall times,
test counts and exit codes (all must be 0), and the ratio to the one-target run (the first count, when 1).

Usage: .venv/bin/python bench/bench_targets.py [--targets 1 50 200] [--concurrency 1 16]
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
    parser.add_argument("--targets", type=int, nargs="+", default=[1, 50, 200])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    names = tenant_names(max(args.targets))
    with tenant_databases(names) as base:
        ok = True
        one = 0.0
        print(
            f"{'targets':>7} | {'concurrency':>11} | {'wall s':>7} | {'per target s':>12} | {'x one':>6} | exit | tests"
        )
        for count in args.targets:
            targets = OUT / f"targets_{count}.yaml"
            targets.write_text(yaml.safe_dump({n: f"{base}/{n}" for n in names[:count]}), encoding="utf-8")
            for concurrency in args.concurrency if count > 1 else [1]:
                begun = time.perf_counter()
                done = subprocess.run(
                    [PGCONTRACT, "check", "--targets", str(targets), "--concurrency", str(concurrency), "--", "-q"],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                wall = time.perf_counter() - begun
                one = one or (wall if count == 1 else 0.0)
                ratio = f"{wall / one:6.1f}" if one else "     -"
                counts = ", ".join(f"{n} {w}" for n, w in re.findall(r"(\d+) (passed|failed|skipped)", done.stdout))
                used = min(concurrency, count)
                row = f"{count:>7} | {used:>11} | {wall:7.2f} | {wall / count:12.3f} | {ratio}"
                print(f"{row} | {done.returncode:>4} | {counts}", flush=True)
                ok = ok and done.returncode == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
