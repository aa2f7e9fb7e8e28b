"""The catalog read as issue 13 made it faster: what its rewritten parts must still give.

- an index key's text, read for a column without deparsing the index per key, is what
  ``pg_get_indexdef(index, k, true)`` prints for it (quoting included);
- ``Snapshot.partitions_of``, answered from an index built once, lists a partitioned table's own
  partitions by name, and no inheritance child;
- the catalog queries run with JIT off (compiling them cost more than running them on large schemas).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import psycopg

from pgcontract.catalog import read_snapshot
from pgcontract.catalog.snapshot import QUERY_FILES
from pgcontract.connect import Target, connect
from pgcontract.names import QualifiedName
from project_tests.helpers import snapshot_of

AWKWARD_INDEXES = '''
CREATE TABLE public."Odd ""T""" ("Col A" int, "select" text, "ünï" text, x int, "UPPER" text, plain int);
CREATE INDEX odd_keys ON public."Odd ""T""" ("ünï" DESC NULLS LAST, lower("select"), "UPPER" text_pattern_ops, plain)
  INCLUDE (x);
CREATE UNIQUE INDEX odd_expr ON public."Odd ""T""" (("Col A" + x), "select" COLLATE "C") WHERE x > 0;
CREATE INDEX "idx ""q""" ON public."Odd ""T""" ("Col A");
'''


def test_index_key_texts_are_what_pg_get_indexdef_prints(
    target: Target, run_sql: Callable[[str], None], pg: psycopg.Connection[tuple[object, ...]]
) -> None:
    run_sql(AWKWARD_INDEXES)
    table = snapshot_of(target).tables[QualifiedName("public", 'Odd "T"')]
    assert set(table.indexes) == {"odd_keys", "odd_expr", 'idx "q"'}
    for index in table.indexes.values():
        expected = [
            str(row[0])
            for row in pg.execute(
                "SELECT pg_get_indexdef(i.indexrelid, k, true) FROM pg_index i,"
                " generate_series(1, i.indnkeyatts) AS k"
                " WHERE i.indexrelid = format('public.%%I', %s::text)::regclass ORDER BY k",
                (index.name,),
            )
        ]
        assert list(index.key_texts) == expected, index.name
    keys = table.indexes["odd_keys"]
    assert keys.key_texts == ('"ünï"', 'lower("select")', '"UPPER"', "plain")
    assert keys.key_columns == ("ünï", None, "UPPER", "plain")


def test_partitions_of_lists_own_partitions_by_name(target: Target, run_sql: Callable[[str], None]) -> None:
    run_sql(
        """
        CREATE TABLE public.events (id int, at date) PARTITION BY RANGE (at);
        CREATE TABLE public.events_b PARTITION OF public.events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
        CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
        CREATE TABLE public.events_z PARTITION OF public.events DEFAULT;
        CREATE TABLE public.logs (id int, kind text) PARTITION BY LIST (kind);
        CREATE TABLE public.logs_x PARTITION OF public.logs FOR VALUES IN ('x');
        CREATE TABLE public.base (id int);
        CREATE TABLE public.child () INHERITS (public.base);
        """
    )
    snapshot = snapshot_of(target)

    def names(table: str) -> list[str]:
        return [t.name.name for t in snapshot.partitions_of(QualifiedName("public", table))]

    assert names("events") == ["events_a", "events_b", "events_z"]
    assert names("logs") == ["logs_x"]
    assert names("base") == []  # an inheritance child is no partition
    assert names("events_a") == []


class _JitWatch(psycopg.Cursor[Any]):
    """Notes the ``jit`` setting in force when each catalog query is sent."""

    seen: ClassVar[list[str]] = []

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        text = query.decode() if isinstance(query, bytes) else str(query)
        if "set_config" not in text and "current_setting('jit')" not in text:
            with psycopg.ClientCursor(self.connection) as probe:
                row = probe.execute("SELECT current_setting('jit')").fetchone()
                _JitWatch.seen.append(str(row[0]) if row else "")
        return super().execute(query, *args, **kwargs)


def test_catalog_queries_run_without_jit(target: Target, pg: psycopg.Connection[tuple[object, ...]]) -> None:
    assert pg.execute("SELECT current_setting('jit')").fetchone() == ("on",)  # the server's default
    _JitWatch.seen = []
    with connect(target) as conn:
        conn.cursor_factory = _JitWatch
        read_snapshot(conn, ["public"])
        after = conn.execute("SELECT current_setting('jit')").fetchone()
    assert _JitWatch.seen == ["off"] * len(QUERY_FILES)
    assert after == ("on",)  # only the read's transaction: the session keeps its own setting
