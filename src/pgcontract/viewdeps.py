"""The order views are created in: after every view their query reads (from PostgreSQL's parse tree)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pglast import parser

from pgcontract.contract.model import ViewSpec
from pgcontract.names import DEFAULT_SCHEMA, QualifiedName


def relations_read(query: str) -> set[QualifiedName]:
    """Every relation a query names (an unqualified name is taken as public's, as the contract does)."""
    try:
        tree = json.loads(parser.parse_sql_json(query))
    except parser.ParseError:
        return set()
    return {QualifiedName(rv.get("schemaname", DEFAULT_SCHEMA), rv["relname"]) for rv in _range_vars(tree)}


def _range_vars(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _range_vars(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "RangeVar":
                yield value
            else:
                yield from _range_vars(value)


def view_order(views: Mapping[QualifiedName, ViewSpec]) -> list[QualifiedName]:
    """The views, each after the views its query reads, otherwise in the contract's order (a cycle, which
    PostgreSQL cannot hold, leaves the rest in the contract's order)."""
    waiting = {
        name: {r for r in (relations_read(spec.definition) if spec.definition else ()) if r in views and r != name}
        for name, spec in views.items()
    }
    placed: list[QualifiedName] = []
    while waiting:
        ready = next((name for name, reads in waiting.items() if not reads - set(placed)), None)
        if ready is None:
            return placed + list(waiting)
        placed.append(ready)
        del waiting[ready]
    return placed
