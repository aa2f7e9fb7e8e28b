"""pytest plugin for mutation runs (``bench/mutate.py``), loaded with ``-p bench.mutate_plugin``.

mutmut runs pytest once per mutant, two at a time, in forks of one process. What makes that work and
bearable:

- servers kept for the whole run: ``bench/mutate.py`` starts one throwaway PostgreSQL per worker before
  mutmut starts and names them in ``$PGCONTRACT_MUTATE_SERVERS`` (a directory of ``<n>.dsn`` files). Each
  pytest run takes one that no other run holds (an exclusive ``flock`` on ``<n>.lock``, released when
  the run ends or its process dies), returns it to the state of a fresh server (every database but the
  initial ones dropped, every role but the bootstrap superuser dropped), and hands it to
  ``project_tests/conftest.py`` through ``$PGCONTRACT_TEST_SERVER``: each test still gets a fresh
  database of real PostgreSQL, without a server start and stop per mutant (most of a mutant's time);
- without kept servers, each run starts its own, as every test run does; then ``initdb`` runs once: on a
  loaded 2-core machine it takes 8-10 s. Its result (same programs, same options) is kept and copied
  (``cp -a``: owner and modes kept, as the server requires) into each run's data directory;
- a base temp directory of the run's own: with one ``--basetemp``, pytest empties it at start, under the
  other run's PostgreSQL;
- every ``lru_cache`` of the package emptied first: the fork inherits what the unmutated code cached;
- the mutant's tests run killers first: ``-x`` stops at the first failure, and each failure is noted
  (``$PGCONTRACT_MUTATE_KILLERS``, a file of the run's work directory: the mutated function, the test);
  the tests that killed most mutants of the same function run first, the others fastest first (their
  durations as mutmut recorded them). Without it, a function reached by a hundred tests (``rls/matrix``'s
  probes) had each mutant wait ~20 s for the one slow test that notices it, behind the fast ones that cannot.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.executors import PostgreSQLExecutor

_OWN = pytest.StashKey[str]()
_SLOT = pytest.StashKey[tuple[IO[str], str | None]]()
_initdb = PostgreSQLExecutor._run_initdb
CACHE = Path(tempfile.gettempdir()) / "pgcontract-mutate-initdb"
SERVERS = "PGCONTRACT_MUTATE_SERVERS"
RUNNING_SERVER = "PGCONTRACT_TEST_SERVER"  # project_tests/conftest.py's opt-in
KILLERS = "PGCONTRACT_MUTATE_KILLERS"  # the file where each run's killing test is noted
STATS = Path("mutmut-stats.json")  # in mutants/, the directory mutmut runs pytest in
FIRST_USER_OID = 16384  # PostgreSQL's FirstNormalObjectId: what initdb made has lower OIDs


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


def cache_initdb() -> None:
    PostgreSQLExecutor._run_initdb = _cached_initdb  # type: ignore[method-assign]


@contextlib.contextmanager
def kept_servers(count: int) -> Iterator[Path]:
    """``count`` throwaway servers for a whole mutation run, named in the directory yielded (set it as
    ``$PGCONTRACT_MUTATE_SERVERS``); stopped and removed on exit."""
    from pgcontract.embedded import server, superuser_dsn

    cache_initdb()
    where = Path(tempfile.mkdtemp(prefix="pgcontract-mutate-servers-"))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, where, True)
        for n in range(count):
            executor = stack.enter_context(server())
            (where / f"{n}.dsn").write_text(superuser_dsn(executor, "postgres"), encoding="utf-8")
        yield where


def reset_server(dsn: str) -> None:
    """Bring a kept server back to what a fresh one holds: a run that failed half-way (a mutant's test
    fails before its clean-up) leaves databases and roles behind, and roles belong to the whole server."""
    with psycopg.connect(dsn, dbname="postgres", autocommit=True) as conn:
        kept = ("postgres", "template0", "template1")
        for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname <> ALL(%s)", [list(kept)]):
            conn.execute(sql.SQL("ALTER DATABASE {} WITH is_template false").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        roles = [r for (r,) in conn.execute("SELECT rolname FROM pg_roles WHERE oid >= %s", [FIRST_USER_OID])]
        if roles:
            names = sql.SQL(", ").join(map(sql.Identifier, roles))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(names))
            with psycopg.connect(dsn, dbname="template1", autocommit=True) as template:
                template.execute(sql.SQL("DROP OWNED BY {}").format(names))
            conn.execute(sql.SQL("DROP ROLE {}").format(names))
        conn.execute("ALTER ROLE ALL RESET ALL")


def _take_server(where: Path) -> tuple[IO[str], str]:
    """A kept server no other run holds (an exclusive lock held until this run ends), and its DSN."""
    slots = sorted(where.glob("*.dsn"))
    if not slots:
        raise pytest.UsageError(f"${SERVERS} names {where}, which holds no server")
    for wait in (False, True):
        # More runs than servers cannot happen with one server per worker; should it, wait for one.
        for slot in slots if not wait else slots[os.getpid() % len(slots) :][:1]:
            lock = slot.with_suffix(".lock").open("w")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            return lock, slot.read_text(encoding="utf-8")
    raise AssertionError("unreachable: the waiting pass returns")


def clear_caches() -> None:
    """mutmut forks each mutant's pytest run from a process that ran the tests already: a function under
    ``functools.lru_cache`` (``rls/fit._equalities``) would answer from the unmutated code, and the
    mutants of what it calls survive untested. Every cache of the package starts empty instead."""
    for name, module in list(sys.modules.items()):
        if name == "pgcontract" or name.startswith("pgcontract."):
            for value in list(vars(module).values()):
                clear = getattr(value, "cache_clear", None)
                if callable(clear):
                    clear()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    clear_caches()
    if not config.option.basetemp:
        config.option.basetemp = tempfile.mkdtemp(prefix="pgcontract-mutate-")
        config.stash[_OWN] = config.option.basetemp
    cache_initdb()
    where = os.environ.get(SERVERS)
    if where:
        lock, dsn = _take_server(Path(where))
        config.stash[_SLOT] = (lock, os.environ.get(RUNNING_SERVER))
        reset_server(dsn)
        os.environ[RUNNING_SERVER] = dsn


def mutated_function(mutant: str) -> str | None:
    """``pgcontract.rls.matrix.xǁMatrixǁrun__mutmut_74`` -> ``pgcontract.rls.matrix.xǁMatrixǁrun``; None
    for mutmut's other runs (stats, clean tests, listing: no mutant)."""
    function, mark, _ = mutant.rpartition("__mutmut_")
    return function if mark else None


def kills(path: Path, function: str) -> dict[str, int]:
    """How many mutants of ``function`` each test killed so far in this run."""
    if not path.exists():
        return {}
    counted: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        noted = line.split("\t")
        if len(noted) == 2 and noted[0] == function:
            counted[noted[1]] = counted.get(noted[1], 0) + 1
    return counted


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    durations: dict[str, float] = {}
    if STATS.exists():
        durations = json.loads(STATS.read_text(encoding="utf-8")).get("duration_by_test", {})
    function = mutated_function(os.environ.get("MUTANT_UNDER_TEST", ""))
    killers = os.environ.get(KILLERS)
    killed = kills(Path(killers), function) if killers and function else {}
    items.sort(key=lambda item: (-killed.get(item.nodeid, 0), durations.get(item.nodeid, float("inf"))))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    killers = os.environ.get(KILLERS)
    function = mutated_function(os.environ.get("MUTANT_UNDER_TEST", ""))
    if report.failed and report.when in ("setup", "call") and killers and function:
        # One short line appended with O_APPEND: the other workers' lines never interleave with it.
        with open(killers, "a", encoding="utf-8") as noted:
            noted.write(f"{function}\t{report.nodeid}\n")


def pytest_unconfigure(config: pytest.Config) -> None:
    own = config.stash.get(_OWN, None)
    if own:
        shutil.rmtree(own, ignore_errors=True)
    slot = config.stash.get(_SLOT, None)
    if slot is not None:
        lock, before = slot
        # mutmut runs its first pytest sessions in its main process, then forks: restore the environment.
        if before is None:
            os.environ.pop(RUNNING_SERVER, None)
        else:
            os.environ[RUNNING_SERVER] = before
        lock.close()
