"""The databases a run checks: one DSN, several (``--dsn`` repeated), or a targets file.

A targets file maps names to DSNs; ``${VAR}`` is replaced by the environment variable VAR, so the file
can live in the repository without secrets::

    eu: ${EU_DATABASE_URL}
    us: postgresql://checker@db-us.example.com/app
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from pgcontract.connect import DsnError, Target, parse_dsn
from pgcontract.textfile import NotUtf8, read_utf8

# Any scheme, so that NAME=mysql://... is refused for its scheme rather than misread as key=value.
_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)=(?P<dsn>[A-Za-z][A-Za-z0-9+.-]*://.*)$", re.DOTALL)
_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")


class TargetsError(ValueError):
    """A bad --dsn or targets file; the message names the problem (never a password)."""


def _expand(text: str, where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in os.environ:
            raise TargetsError(f"{where}: environment variable {name} is not set")
        return os.environ[name]

    return _VAR.sub(value, text)


def default_name(dsn: str) -> str:
    """``dbname@host`` from a DSN (no user, no password); raises ``DsnError`` for a DSN libpq cannot read."""
    parsed = parse_dsn(dsn)
    return f"{parsed.dbname or 'db'}@{(parsed.host or 'localhost').split(',')[0]}"


def _checked(dsn: str, where: str) -> str:
    try:
        return parse_dsn(dsn, where).conninfo
    except DsnError as exc:
        raise TargetsError(str(exc)) from None


def parse_targets(dsns: Sequence[str], targets_file: Path | None, source: str = "--dsn") -> list[Target]:
    """Targets from ``--dsn`` values (``NAME=postgresql://...`` names one) and a targets file; each DSN
    is checked (``TargetsError`` names the one that is wrong by position or name, never by its text)."""
    found: list[Target] = []
    for number, dsn in enumerate(dsns, 1):
        match = _NAMED.match(dsn)
        if match and match.group("name").lower() == "password":  # a key=value DSN, not a name
            match = None
        where = f"{source} #{number}" if len(dsns) > 1 else source
        where += f" ({match.group('name')})" if match else ""
        value = _checked(match.group("dsn") if match else dsn, where)
        found.append(Target(name=match.group("name") if match else default_name(value), dsn=value))
    if targets_file is not None:
        try:
            data = yaml.safe_load(read_utf8(targets_file))
        except NotUtf8 as exc:
            raise TargetsError(f"{targets_file}: cannot read targets file: {exc.reason}") from None
        except (OSError, yaml.YAMLError, RecursionError) as exc:
            raise TargetsError(f"{targets_file}: cannot read targets file ({type(exc).__name__})") from None
        if isinstance(data, dict) and set(data) == {"targets"}:
            data = data["targets"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise TargetsError(f"{targets_file}: expected a mapping of target names to DSNs")
        for name, dsn in data.items():
            where = f"{targets_file}: {name}"
            found.append(Target(name=str(name), dsn=_checked(_expand(dsn, where), where)))
    names = [t.name for t in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TargetsError(
            f"target names must differ: {', '.join(duplicates)} (name them: --dsn NAME=postgresql://...)"
        )
    return found


def parse_shard(value: str) -> tuple[int, int]:
    """``K/N`` (1 <= K <= N) as ``(K, N)``; ``ValueError`` with a sentence for anything else."""
    index, slash, count = value.strip().partition("/")
    if not (slash and index.isdigit() and count.isdigit()):
        raise ValueError(f"--shard takes K/N, shard K of N (e.g. 2/4), not {value!r}")
    k, n = int(index), int(count)
    if n < 1 or not 1 <= k <= n:
        raise ValueError(f"--shard {value}: K must be from 1 to N, and N at least 1")
    return k, n


def shard_names(names: Sequence[str], index: int, count: int) -> list[str]:
    """The names of shard ``index`` of ``count``: names sorted (by code point), then dealt round-robin.

    The same on every machine whatever the order of the targets file or of --dsn, every name in exactly
    one shard, and shard sizes differ by at most one (a hash of the name would leave some shards twice
    as long as others at fleet sizes like 40). Adding a target may move others to a neighbouring shard:
    each run shards the same list on every machine, so nothing depends on where a target ran before."""
    return [name for position, name in enumerate(sorted(names)) if position % count == index - 1]


def shard(targets: Sequence[Target], index: int, count: int) -> list[Target]:
    """The targets of shard ``index`` of ``count`` (see ``shard_names``), in their given order."""
    mine = set(shard_names([t.name for t in targets], index, count))
    return [t for t in targets if t.name in mine]
