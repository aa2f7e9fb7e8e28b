"""The order functions and aggregates are created in, from what each really needs when it is created.

PostgreSQL resolves a SQL-standard body (BEGIN ATOMIC, RETURN) when the function is created and records what
it calls in pg_depend: the function must come after every function and aggregate it calls. An aggregate
needs its support functions (SFUNC, FINALFUNC, ...). A string body (``AS $$ ... $$``) needs nothing: it is
created with check_function_bodies off."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any, TypeVar

from pgcontract.names import DEFAULT_SCHEMA, QualifiedName
from pgcontract.sqlbody import sql_body_tree
from pgcontract.sqlsafe import UnsafeFragment

P = TypeVar("P", bound=int)
T = TypeVar("T")
N = TypeVar("N", bound=Hashable)


def function_calls(tree: Any) -> set[QualifiedName]:
    """Every function or aggregate a parse tree calls (an unqualified name taken as public's, as the contract
    takes names: an ordering needs no more, a built-in never matches the contract's)."""
    out = set()
    for call in _calls(tree):
        parts = [n["String"]["sval"] for n in call.get("funcname", [])]
        if len(parts) == 1:
            out.add(QualifiedName(DEFAULT_SCHEMA, parts[0]))
        elif len(parts) == 2:
            out.add(QualifiedName(parts[0], parts[1]))
    return out


def body_calls(body: str) -> set[QualifiedName]:
    """What a SQL-standard body calls (nothing for a body that is not one)."""
    try:
        return function_calls(sql_body_tree(body))
    except UnsafeFragment:
        return set()


def _calls(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _calls(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "FuncCall":
                yield value
            yield from _calls(value)


def dependency_order(
    items: Sequence[tuple[P, T]],
    provides: Callable[[T], set[N]],
    needs: Callable[[T], set[N]],
) -> list[tuple[P, T]]:
    """``items`` sorted by phase (stable), except that an item comes after every other item providing what it
    needs, in a phase no earlier than theirs. A cycle, which
    PostgreSQL cannot create either, keeps the given order for the items on it."""
    providers: list[list[int]] = []
    names = [provides(item) for _, item in items]
    for i, (_, item) in enumerate(items):
        wanted = needs(item)
        providers.append([j for j in range(len(items)) if j != i and names[j] & wanted])
    phase: dict[int, P] = {}

    def settle(i: int, path: frozenset[int]) -> P:
        if i not in phase:
            own = items[i][0]
            for j in providers[i]:
                if j not in path:
                    own = max(own, settle(j, path | {i}))
            phase[i] = own
        return phase[i]

    for i in range(len(items)):
        settle(i, frozenset())
    out: list[int] = []
    done: set[int] = set()

    def visit(i: int, path: frozenset[int]) -> None:
        if i in done or i in path:
            return
        for j in providers[i]:
            if phase[j] == phase[i]:
                visit(j, path | {i})
        done.add(i)
        out.append(i)

    for i in sorted(range(len(items)), key=lambda i: (phase[i], i)):
        visit(i, frozenset())
    return [(phase[i], items[i][1]) for i in out]
