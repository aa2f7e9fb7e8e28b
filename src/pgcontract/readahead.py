"""The catalog read of ``pgcontract check``'s one target, started before pytest so the server works while
pytest starts and collects (at 1,000 tables that is about the whole server side of the read; at 10,000,
seconds).

The connection is opened by the caller, in its own thread, so an unreachable target is still one clear
line and exit 3 before pytest starts; only the read runs in the thread, on that connection alone, through
the same ``read_catalog`` as the suite's (READ ONLY transaction, timeouts, application name, retries of
lock waits). Its outcome, a snapshot or the exception (``DatabaseBusy`` with its redacted line), is handed
to the test that needs the snapshot, which treats it as if it had read the catalog itself.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from pgcontract.busy import read_catalog
from pgcontract.connect import SessionLimits, Target

if TYPE_CHECKING:
    import psycopg

    from pgcontract.catalog import Snapshot
    from pgcontract.contract import Contract


class ReadAhead:
    """One catalog read running in a thread of its own; ``result()`` waits for it."""

    def __init__(
        self, conn: psycopg.Connection[Any], target: Target, limits: SessionLimits, contract: Contract
    ) -> None:
        self.target = target
        self.limits = limits
        self.contract = contract
        self._future: Future[Snapshot] = Future()
        # A daemon: a run that never asks for the snapshot (nothing collected) does not wait for it at exit.
        self._thread = threading.Thread(target=self._read, args=(conn,), name="pgcontract-catalog-read", daemon=True)
        self._thread.start()

    def _read(self, conn: psycopg.Connection[Any]) -> None:
        try:
            with conn:
                snapshot = read_catalog(conn, self.contract.schemas, self.limits, self.contract.operations)
        except BaseException as exc:  # handed to the test that needs the snapshot, raised there
            self._future.set_exception(exc)
        else:
            self._future.set_result(snapshot)

    def serves(self, target: Target | None, limits: SessionLimits, contract: Contract) -> bool:
        """Whether this read is the one a target run of ``target`` would make (its name, only shown, may
        differ: the suite names a DSN it takes from the environment itself)."""
        return (
            target is not None and target.dsn == self.target.dsn and limits == self.limits and contract is self.contract
        )

    def result(self) -> Snapshot:
        return self._future.result()

    def close(self) -> None:
        """Wait for the read to end (its connection is closed when it does)."""
        self._thread.join()
