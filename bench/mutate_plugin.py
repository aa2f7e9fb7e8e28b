"""pytest plugin for mutation runs (``bench/mutate.py``), loaded with ``-p bench.mutate_plugin``.

mutmut runs pytest once per mutant, two at a time, in forks of one process; each run starts its own
throwaway PostgreSQL (``project_tests/conftest.py``), as every test run does. Two things make that work
and bearable:

- a base temp directory of the run's own: with one ``--basetemp``, pytest empties it at start, under the
  other run's PostgreSQL;
- ``initdb`` once: on a loaded 2-core machine it takes 8-10 s, most of a mutant's time. Its result (same
  programs, same options) is kept and copied (``cp -a``: owner and modes kept, as the server requires)
  into each run's data directory; the server still starts fresh, so nothing a run does reaches another.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from pytest_postgresql.executors import PostgreSQLExecutor

_OWN = pytest.StashKey[str]()
_initdb = PostgreSQLExecutor._run_initdb
CACHE = Path(tempfile.gettempdir()) / "pgcontract-mutate-initdb"


def _cached_initdb(self: PostgreSQLExecutor, command: list[str]) -> None:
    at = command.index("--pgdata") + 1
    datadir = command[at]
    what = [*command[:at], *command[at + 1 :], os.environ.get("PGCONTRACT_PG_BINDIR", "")]
    # The wrapper hands the data directory's parent to the postgres user: one directory per key, never /tmp.
    kept = CACHE / hashlib.sha256(repr(what).encode()).hexdigest()[:16] / "data"
    kept.parent.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{kept.parent.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (kept / "PG_VERSION").exists():
            shutil.rmtree(kept, ignore_errors=True)
            _initdb(self, [*command[:at], str(kept), *command[at + 1 :]])
    subprocess.run(["cp", "-a", str(kept), datadir], check=True)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="pgcontract-mutate-")
        config.stash[_OWN] = config.option.basetemp
    PostgreSQLExecutor._run_initdb = _cached_initdb  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)
