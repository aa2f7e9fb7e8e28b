"""``pgcontract snapshot --operations``: budgets proposed from what the database measures now.

The rule, for every budget: a threshold the database passes today. Where a usual default exists
(connections at 80% / 90% of the limit, a transaction idle for 1 / 10 minutes, ...) it is proposed,
raised to twice the worst value measured now when that is higher; sizes get room to grow (warning at
1.5 times, error at twice today's size, with a floor). What is present today (an invalid index, an
inactive slot, a failing archiver) is proposed as a warning rather than an error, so adopting the
proposal passes at once and still shows it.
"""

from __future__ import annotations

from typing import Any

from pgcontract.contract.operations import Operations
from pgcontract.ops.budgets import evaluate
from pgcontract.ops.read import OpsReading
from pgcontract.ops.units import format_duration, format_share, format_size

MB = 1024.0**2
GB = 1024.0**3

# Every budget, so that a snapshot reads every statistic once (the thresholds are not used).
MEASURE_ALL = Operations.model_validate(
    {
        "connections.share": {"error": 1},
        "idle_in_transaction": {"error": 0},
        "long_query": {"error": 0},
        "lock_wait": {"error": 0},
        "database_size": {"error": 0},
        "table_size": {"error": 0},
        "dead_tuples": {"error": 1, "min_rows": 1000},
        "disk.free": {"error": 0},
        "archiver.failing": "error",
        "archiver.age": {"error": 0},
        "slot.inactive": "error",
        "slot.retained_wal": {"error": 0},
        "replica_lag": {"error": 0},
        "wraparound.xid": {"error": 1},
        "wraparound.multixact": {"error": 1},
        "statements.mean": {"error": 0, "min_calls": 10},
        "statements.regression": {"error": 2},
        "index.invalid": "error",
        "index.unused": {"error": 0},
    }
)


def _worst(reading: OpsReading) -> dict[str, float | None]:
    return {value.rule: value.value for value in evaluate(MEASURE_ALL, reading, None).values}


def _above(default: float, worst: float | None, factor: float = 2.0) -> float:
    return max(default, factor * worst) if worst is not None else default


def _share(warning: float, error: float, worst: float | None) -> dict[str, str]:
    # A share cannot go past 1: when today's value is already above the usual error threshold, the
    # proposal keeps room between today's value and 1.
    if worst is not None and worst >= error:
        error = min(1.0, worst + (1 - worst) / 2)
        warning = worst
    return {"warning": format_share(warning), "error": format_share(error)}


def _growth(worst: float | None, floor: float) -> dict[str, str]:
    size = worst or 0.0
    return {"warning": format_size(max(1.5 * size, floor)), "error": format_size(max(2 * size, 2 * floor))}


def _duration(warning: float, error: float, worst: float | None) -> dict[str, str]:
    return {"warning": format_duration(_above(warning, worst)), "error": format_duration(_above(error, worst))}


def propose_operations(reading: OpsReading) -> dict[str, Any]:
    """The ``operations:`` section of a contract, as YAML data, in the section's order."""
    worst = _worst(reading)
    proposed: dict[str, Any] = {
        "connections.share": _share(0.8, 0.9, worst["ops.connections.share"]),
        "idle_in_transaction": _duration(60, 600, worst["ops.idle_in_transaction"]),
        "long_query": _duration(60, 600, worst["ops.long_query"]),
        "lock_wait": _duration(10, 60, worst["ops.lock_wait"]),
        "database_size": _growth(worst["ops.database_size"], 512 * MB),
        "table_size": _growth(worst["ops.table_size"], 64 * MB),
        "dead_tuples": {**_share(0.2, 0.5, worst["ops.dead_tuples"]), "min_rows": 1000},
    }
    if reading.disk is not None:
        free = reading.disk.free_share
        proposed["disk.free"] = {"warning": format_share(min(0.2, free / 2)), "error": format_share(min(0.1, free / 4))}
    if str(reading.server.get("archive_mode")) != "off":
        proposed["archiver.failing"] = "warning" if worst["ops.archiver.failing"] else "error"
        proposed["archiver.age"] = _duration(3600, 86400, worst["ops.archiver.age"])
    proposed["slot.inactive"] = "warning"
    proposed["slot.retained_wal"] = _growth(worst["ops.slot.retained_wal"], 1 * GB)
    proposed["replica_lag"] = _duration(30, 300, worst["ops.replica_lag"])
    proposed["wraparound.xid"] = _share(0.5, 0.75, worst["ops.wraparound.xid"])
    proposed["wraparound.multixact"] = _share(0.5, 0.75, worst["ops.wraparound.multixact"])
    if reading.statements is not None:
        proposed["statements.mean"] = {**_duration(1, 5, worst["ops.statements.mean"]), "min_calls": 10}
        proposed["statements.regression"] = {"warning": 2, "error": 5, "min_mean": "10ms"}
    proposed["index.invalid"] = "warning" if worst["ops.index.invalid"] else "error"
    proposed["index.unused"] = {"warning": format_size(_above(100 * MB, worst["ops.index.unused"]))}
    return proposed
