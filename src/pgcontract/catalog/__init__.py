"""Reading the target's catalog: one READ ONLY transaction, a fixed handful of queries."""

from pgcontract.catalog.snapshot import Snapshot, read_snapshot

__all__ = ["Snapshot", "read_snapshot"]
