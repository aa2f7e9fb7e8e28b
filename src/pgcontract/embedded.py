"""The throwaway PostgreSQL used when no DSN is given (the contract suite, ``snapshot``, ``serve``, tests).

It is pytest-postgresql's executor and janitor driven through the root-safe ``pg_ctl`` wrapper, so the
same code starts the server inside and outside pytest.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import port_for
import psycopg
from psycopg.conninfo import make_conninfo
from pytest_postgresql.executors import PostgreSQLExecutor
from pytest_postgresql.janitor import DatabaseJanitor
from pytest_postgresql.retry import retry

from pgcontract.connect import Target

SUPERUSER = "postgres"
DBNAME = "pgcontract"


def pg_ctl_wrapper() -> str:
    """Path of the ``pgcontract-pg-ctl`` console script installed beside this interpreter."""
    beside = Path(sys.executable).parent / "pgcontract-pg-ctl"
    if beside.exists():
        return str(beside)
    found = shutil.which("pgcontract-pg-ctl")
    if found is None:
        raise FileNotFoundError("pgcontract-pg-ctl is not installed: reinstall pgcontract")
    return found


def supabase_shim() -> Path:
    """SQL emulating Supabase's roles, ``auth.users`` and ``auth.uid()`` for throwaway databases only."""
    return Path(str(resources.files("pgcontract") / "sql" / "supabase_auth_shim.sql"))


class LoadError(RuntimeError):
    """A file of ``sql/`` failed to load into the throwaway database."""


def sql_files(directory: Path | None) -> list[Path]:
    """The ``.sql`` files of a directory in name order (or the file itself)."""
    if directory is None:
        return []
    if directory.is_file():
        return [directory]
    if not directory.is_dir():
        raise LoadError(f"{directory}: no such file or directory (the SQL to load when no DSN is given)")
    return sorted(p for p in directory.rglob("*.sql") if p.is_file())


def load_plan(sql_dir: Path | None, *, supabase: bool) -> list[Path]:
    """Files to load into a fresh throwaway database, in order: the auth shim when needed, then ``sql/``."""
    return ([supabase_shim()] if supabase else []) + sql_files(sql_dir)


@contextmanager
def server(workdir: Path | None = None) -> Iterator[PostgreSQLExecutor]:
    """Start a PostgreSQL server on a free port in a temporary directory; stop and remove it on exit."""
    own_tmp = workdir is None
    base = Path(tempfile.mkdtemp(prefix="pgcontract-")) if workdir is None else workdir
    port = port_for.select_random()
    executor = PostgreSQLExecutor(
        executable=pg_ctl_wrapper(),
        host="127.0.0.1",
        port=port,
        datadir=str(base / f"data-{port}"),
        unixsocketdir=tempfile.gettempdir(),
        logfile=str(base / f"postgresql.{port}.log"),
        startparams="-w",
        dbname=DBNAME,
        user=SUPERUSER,
        postgres_options="-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
    )
    executor.start()
    try:
        # pg_ctl's "-w" and the executor's status check take a server that is still starting up (FATAL: the
        # database system is starting up) for a running one: on a loaded machine the first connection failed.
        retry(lambda: psycopg.connect(superuser_dsn(executor, "postgres")).close(), 60, psycopg.OperationalError)
        yield executor
    finally:
        executor.stop()
        executor.clean_directory()
        if own_tmp:
            shutil.rmtree(base, ignore_errors=True)


def superuser_dsn(executor: PostgreSQLExecutor, dbname: str) -> str:
    return make_conninfo(host=executor.host, port=executor.port, user=executor.user, dbname=dbname)


def load_sql_file(dsn: str, path: Path) -> None:
    """Run one SQL file in one transaction; a failure names the file and PostgreSQL's message."""
    text = path.read_text(encoding="utf-8")
    try:
        with psycopg.connect(dsn) as conn:
            conn.execute(text.encode("utf-8"))
    except psycopg.Error as exc:
        raise LoadError(f"{path}: {str(exc).strip()}") from exc


@contextmanager
def database(executor: PostgreSQLExecutor, dbname: str, load: Sequence[Path] = ()) -> Iterator[Target]:
    """Create a database, load SQL files into it, and drop it on exit."""
    janitor = DatabaseJanitor(
        user=executor.user,
        host=executor.host,
        port=executor.port,
        dbname=dbname,
    )
    janitor.init()
    try:
        dsn = superuser_dsn(executor, dbname)
        for path in load:
            load_sql_file(dsn, path)
        yield Target(name="embedded", dsn=dsn, throwaway=True)
    finally:
        janitor.drop()


@contextmanager
def embedded(sql_dir: Path | None, *, supabase: bool) -> Iterator[Target]:
    """A throwaway server with one database loaded from ``sql_dir``: the embedded default."""
    with server() as executor, database(executor, DBNAME, load_plan(sql_dir, supabase=supabase)) as target:
        yield target
