"""Quantities of the operations budgets: durations, sizes and shares, read from the contract and shown back."""

from __future__ import annotations

import math
import re

_NUMBER = r"(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)"
_DURATION = re.compile(rf"\s*{_NUMBER}\s*(?P<unit>us|ms|s|min|h|d)?\s*")
_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
# PostgreSQL's size units (pg_size_pretty, postgresql.conf): powers of 1024.
_SIZE = re.compile(rf"\s*{_NUMBER}\s*(?P<unit>B|bytes|kB|KB|MB|GB|TB|PB)?\s*")
_BYTES = {"B": 1, "bytes": 1, "kB": 1024, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
_SHARE = re.compile(rf"\s*{_NUMBER}\s*(?P<percent>%)?\s*")


def _number(value: object, what: str) -> float | None:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not {what}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{value!r} is not {what}")
        return float(value)
    return None


def parse_duration(value: object) -> float:
    """Seconds, from ``30s``, ``5min``, ``200ms``, ``1h``, ``2d`` or a number of seconds."""
    what = "a duration (a number with a unit among us, ms, s, min, h, d, e.g. 30s, 5min; a bare number is seconds)"
    number = _number(value, what)
    if number is not None:
        return number
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not {what}")
    return float(match["number"]) * _SECONDS[match["unit"] or "s"]


def parse_size(value: object) -> float:
    """Bytes, from ``10GB``, ``512MB``, ``100kB`` (powers of 1024, as PostgreSQL counts) or a number of bytes."""
    what = "a size (a number with a unit among B, kB, MB, GB, TB, e.g. 10GB; a bare number is bytes)"
    number = _number(value, what)
    if number is not None:
        return number
    match = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not {what}")
    return float(match["number"]) * _BYTES[match["unit"] or "B"]


def parse_share(value: object) -> float:
    """A share between 0 and 1, from ``0.8`` or ``80%``."""
    what = "a share (a number between 0 and 1, or a percentage such as 80%)"
    number = _number(value, what)
    if number is None:
        match = _SHARE.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f"{value!r} is not {what}")
        number = float(match["number"]) / (100 if match["percent"] else 1)
    if number > 1:
        raise ValueError(f"{value!r} is not {what}")
    return number


def parse_ratio(value: object) -> float:
    """A factor above 1, e.g. ``2`` (twice as slow) or ``1.5``."""
    number = _number(value, "a factor")
    if number is None and isinstance(value, str):
        match = _SHARE.fullmatch(value.removesuffix("x"))
        number = float(match["number"]) if match is not None and not match["percent"] else None
    if number is None or number <= 1:
        raise ValueError(f"{value!r} is not a factor above 1 (e.g. 2 for twice the previous run's mean time)")
    return number


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.4g}ms"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


def format_size(size: float) -> str:
    for unit in ("PB", "TB", "GB", "MB", "kB"):
        if size >= _BYTES[unit]:
            return f"{size / _BYTES[unit]:.3g}{unit}"
    return f"{size:.0f}B"


def format_share(share: float) -> str:
    return f"{share * 100:.3g}%"


def format_ratio(ratio: float) -> str:
    return f"{ratio:.3g}x"


def format_count(count: float) -> str:
    return f"{count:.0f}"
