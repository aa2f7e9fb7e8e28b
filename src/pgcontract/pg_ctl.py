"""A root-safe stand-in for PostgreSQL's ``pg_ctl``.

``initdb``, ``pg_ctl`` and ``postgres`` refuse to run as root. pytest-postgresql runs ``pg_ctl`` itself, so
it is handed this program instead (console script ``pgcontract-pg-ctl``): as root it makes the data and
log directories reachable for the ``postgres`` user and re-executes the real ``pg_ctl`` as that user;
as anyone else it simply executes the real ``pg_ctl``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from pgcontract.pg_stage import SERVICE_USER, executable_bindir


def find_bindir() -> Path:
    """The PostgreSQL server binaries the server will run from, executable by the user it runs as.

    $PGCONTRACT_PG_BINDIR, Debian's newest, or PATH; as root, a copy outside a private clone (pg_stage).
    """
    return executable_bindir(_configured_bindir())


def _configured_bindir() -> Path:
    configured = os.environ.get("PGCONTRACT_PG_BINDIR")
    if configured:
        return Path(configured)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise FileNotFoundError(
        "PostgreSQL server binaries not found: install postgresql-15 (Debian) or set PGCONTRACT_PG_BINDIR"
    )


def _paths_to_hand_over(args: Sequence[str]) -> list[Path]:
    """Data directory and log file named on a pg_ctl command line."""
    found: list[Path] = []
    flags = {"-D": True, "--pgdata": True, "-l": True, "--log": True}
    for i, arg in enumerate(args):
        if arg in flags and i + 1 < len(args):
            found.append(Path(args[i + 1]))
        for long in ("--pgdata=", "--log="):
            if arg.startswith(long):
                found.append(Path(arg[len(long) :]))
    return found


def _make_reachable(path: Path, uid: int, gid: int) -> None:
    """Let ``uid`` create ``path`` (own its parent) and traverse every ancestor (o+x)."""
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chown(path, uid, gid)
    os.chown(parent, uid, gid)
    for ancestor in [parent, *parent.parents]:
        mode = ancestor.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(ancestor, mode | stat.S_IXOTH)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    real = str(find_bindir() / "pg_ctl")
    if os.geteuid() != 0:
        os.execv(real, [real, *args])
    account = pwd.getpwnam(SERVICE_USER)
    args = _absolute_paths(args)
    for path in _paths_to_hand_over(args):
        _make_reachable(path, account.pw_uid, account.pw_gid)
    runuser = shutil.which("runuser") or "/sbin/runuser"
    # PostgreSQL's programs look up their own directory from the working directory: one the postgres user
    # cannot enter (a clone in a 0700 directory) makes each of them print "could not change directory".
    os.chdir("/")
    os.execv(runuser, [runuser, "-u", SERVICE_USER, "--", real, *args])


def _absolute_paths(args: Sequence[str]) -> list[str]:
    """The command line with the data directory and log file made absolute (it will run from ``/``)."""
    result = list(args)
    for i, arg in enumerate(result):
        if arg in ("-D", "--pgdata", "-l", "--log") and i + 1 < len(result):
            result[i + 1] = str(Path(result[i + 1]).resolve())
        for long in ("--pgdata=", "--log="):
            if arg.startswith(long):
                result[i] = long + str(Path(arg[len(long) :]).resolve())
    return result


if __name__ == "__main__":
    main()
