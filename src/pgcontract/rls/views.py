"""Views over isolated tables, for the isolation matrix: which views (and materialized views) read a table,
directly or through other views, and what a caller sees through one.

A view without ``security_invoker`` reads its tables as its owner: when the owner bypasses row level
security (a superuser, BYPASSRLS, or the tables' owner without FORCE), every caller granted SELECT on the
view reads every user's rows. A materialized view holds a copy that no policy filters at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from psycopg import sql

from pgcontract.catalog.snapshot import View
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import ident


def views_reading(views: Iterable[View]) -> Mapping[QualifiedName, tuple[View, ...]]:
    """For each relation, the views whose query reads it directly or through other views."""
    by_name = {view.name: view for view in views}
    found: dict[QualifiedName, list[View]] = {}
    for view in views:
        seen: set[QualifiedName] = set()
        waiting = list(view.reads)
        while waiting:
            relation = waiting.pop()
            if relation in seen or relation == view.name:
                continue
            seen.add(relation)
            inner = by_name.get(relation)
            if inner is not None:
                waiting.extend(inner.reads)
        for relation in seen:
            found.setdefault(relation, []).append(view)
    return {name: tuple(sorted(found_views, key=lambda v: str(v.name))) for name, found_views in found.items()}


def fingerprint(view: QualifiedName) -> sql.Composed:
    """How many rows the caller sees through ``view`` and an order-free hash of them: two reads that differ
    saw different rows. One pass, no sort (the view may be large on a live database)."""
    return sql.SQL("SELECT count(*), coalesce(sum(hashtext(v::text)::bigint), 0) FROM {} AS v").format(ident(view))


def revoke(view: View, role: str) -> str:
    """Taking the view away from ``role``."""
    return sql.SQL("REVOKE SELECT ON {} FROM {}").format(ident(view.name), sql.Identifier(role)).as_string(None)


def fix(view: View, role: str) -> str:
    """What closes the view: invoker's rights for a plain view, a revoke for a materialized one."""
    if view.materialized:
        return f"{revoke(view, role)} (row level security never applies to a materialized view)"
    invoker = sql.SQL("ALTER VIEW {} SET (security_invoker = on)").format(ident(view.name)).as_string(None)
    return f"{invoker}, or {revoke(view, role)}"


def how_it_reads(view: View) -> str:
    """Why the view can show rows the caller's policies hide."""
    if view.materialized:
        return f"materialized view {view.name} (a copy of the rows its owner {view.owner} read at its last refresh)"
    if view.security_invoker:
        return f"view {view.name} (security_invoker on)"
    return f"view {view.name} (no security_invoker: it reads as its owner {view.owner})"
