"""The order DDL statements run in: one dependency graph over every statement, from PostgreSQL's parse trees.

Each statement *provides* the objects it creates (a table its relation and row type, a function or aggregate
its name, a domain, enum or composite type its type, a schema, ``SET check_function_bodies``) and *needs*
what PostgreSQL resolves when it runs: relations it names (``FROM``, ``PARTITION OF``, ``INHERITS``,
``REFERENCES``, ``ON``), functions it calls (defaults, checks, generated columns, index expressions, policies,
views, a SQL-standard body, a trigger's function, an aggregate's support functions), types it names (columns,
arguments, results, casts, attributes) and the sequence of a ``nextval('...')``. A string body (``AS $$ ...
$$``) needs nothing: it is created with ``check_function_bodies`` off. Statements on the same relation keep
their given order (a table, then its keys, indexes, foreign keys, checks, RLS, policies, grants).

The order is a topological sort whose tie-break is the given one: a statement keeps its phase (``ddl.Phase``)
unless something it needs comes later, then it moves to that phase, after it; within a phase, the earliest
statement ready first. Without dependencies across phases the output is exactly the phase order. A cycle
(strongly connected statements) keeps the given order on it; ``ddl`` breaks the cycles it can first (a table's
defaults set after the functions that need the table, as pg_dump does).

Names are matched as PostgreSQL resolves them where that is known: a qualified name as written, an
unqualified one in ``public`` (the script sets no search_path) and, in a function's body, in the schemas of
the function's own ``SET search_path`` too; ``pg_catalog`` never matches the contract's objects. Matching more
than PostgreSQL would only orders more than needed."""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pglast import parser

from pgcontract.names import DEFAULT_SCHEMA, InvalidName, parse_regclass

P = TypeVar("P", bound=int)

# (kind, schema, name): kind is relation, type, function, schema, key (a relation's unique keys), setting.
Key = tuple[str, str, str]
# A name as written: (kind, schema or None when unqualified, name).
Ref = tuple[str, str | None, str]

_SEQUENCE_FUNCTIONS = frozenset({"nextval", "currval", "setval"})
_SUPPORT = frozenset(
    {"sfunc", "finalfunc", "combinefunc", "serialfunc", "deserialfunc", "msfunc", "minvfunc", "mfinalfunc"}
)
_NO_BODY_CHECK: Key = ("setting", "", "check_function_bodies")
# The blocks ``ddl.unless_exists`` writes: the statement run when the object is missing.
_GUARDED = re.compile(r"\bTHEN\n(.*)\n  END IF;\nEND\s*$", re.DOTALL)


@dataclass(frozen=True)
class Node:
    """What one statement (or a few run together) creates, and the names it needs to exist first."""

    provides: frozenset[Key]
    needs: frozenset[Ref]
    touches: frozenset[Key]  # relations it alters: statements on one relation keep their order
    path: tuple[str, ...] = (DEFAULT_SCHEMA,)  # where an unqualified name is looked for


def node_of(text: str) -> Node:
    """The node of a statement's text (several statements: their union); an unparsable text needs nothing."""
    try:
        stmts = [s["stmt"] for s in json.loads(parser.parse_sql_json(text)).get("stmts", [])]
    except parser.ParseError:
        return Node(frozenset(), frozenset(), frozenset())
    provides: set[Key] = set()
    needs: set[Ref] = set()
    touches: set[Key] = set()
    path: list[str] = [DEFAULT_SCHEMA]
    for stmt in stmts:
        _statement(stmt, provides, needs, touches, path)
    return Node(frozenset(provides), frozenset(needs - {_ref(k) for k in provides}), frozenset(touches), tuple(path))


def unchecked_body(node: Node) -> bool:
    """Whether the statement creates a function with a string body: created with check_function_bodies off."""
    return _NO_BODY_CHECK in node.needs


def expression_refs(text: str) -> set[Ref]:
    """The names an expression (a default, a CHECK, a generated column) needs."""
    try:
        tree = json.loads(parser.parse_sql_json(f"SELECT {text}"))
    except parser.ParseError:
        return set()
    return set(_refs(tree))


def needed(ref: Ref) -> set[Key]:
    """The keys a name written in a statement may stand for (an unqualified one: ``public``'s)."""
    return {_key(ref)}


def _ref(key: Key) -> Ref:
    return (key[0], key[1], key[2])


def _names(nodes: Iterable[dict[str, Any]]) -> list[str]:
    return [n["String"]["sval"] for n in nodes if "String" in n]


def _qualified(kind: str, parts: Sequence[str]) -> Ref | None:
    if not parts or len(parts) > 2 or parts[0] == "pg_catalog":
        return None
    return (kind, parts[0], parts[1]) if len(parts) == 2 else (kind, None, parts[0])


def _range_var(kind: str, rv: dict[str, Any]) -> Ref:
    return (kind, rv.get("schemaname"), rv["relname"])


def _key(ref: Ref) -> Key:
    return (ref[0], ref[1] if ref[1] is not None else DEFAULT_SCHEMA, ref[2])


def _statement(stmt: dict[str, Any], provides: set[Key], needs: set[Ref], touches: set[Key], path: list[str]) -> None:
    ((kind, body),) = stmt.items()
    if kind == "DoStmt":
        source = next(
            (_names([d["DefElem"]["arg"]]) for d in body.get("args", []) if d["DefElem"]["defname"] == "as"), []
        )
        found = _GUARDED.search(source[0]) if source else None
        if found is not None:
            inner = node_of(found.group(1))
            provides |= inner.provides
            needs |= inner.needs
            touches |= inner.touches
        return
    own: list[Key] = []
    skip: set[str] = set()
    if kind in ("CreateStmt", "ViewStmt", "CreateSeqStmt", "CreateTableAsStmt"):
        rv = body.get("relation") or body.get("view") or body.get("sequence") or body.get("into", {}).get("rel")
        relation = _key(_range_var("relation", rv))
        own += [relation] if kind == "CreateSeqStmt" else [relation, ("type", *relation[1:])]
        touches.add(relation)
        skip = {"relation", "view", "sequence", "into"}
    elif kind == "CreateFunctionStmt":
        ref = _qualified("function", _names(body["funcname"]))
        own += [_key(ref)] if ref is not None else []
        skip = {"funcname", "options"}
        options = [o["DefElem"] for o in body.get("options", [])]
        if any(o["defname"] == "as" for o in options):
            needs.add(_NO_BODY_CHECK)
        path += _search_path(options)
    elif kind == "DefineStmt" and body.get("kind") == "OBJECT_AGGREGATE":
        ref = _qualified("function", _names(body["defnames"]))
        own += [_key(ref)] if ref is not None else []
        skip = {"defnames", "definition"}
        for option in (d["DefElem"] for d in body.get("definition", [])):
            arg = option.get("arg", {})
            names = _names(arg.get("TypeName", {}).get("names", [])) if isinstance(arg, dict) else []
            support = _qualified("function", names) if option["defname"] in _SUPPORT else None
            if support is not None:
                needs.add(support)
            else:
                needs.update(_refs(arg))
    elif kind == "CreateDomainStmt":
        ref = _qualified("type", _names(body["domainname"]))
        own += [_key(ref)] if ref is not None else []
        skip = {"domainname"}
    elif kind == "CompositeTypeStmt":
        own.append(_key(_range_var("type", body["typevar"])))
        skip = {"typevar"}
    elif kind == "CreateEnumStmt":
        ref = _qualified("type", _names(body["typeName"]))
        own += [_key(ref)] if ref is not None else []
        skip = {"typeName"}
    elif kind == "CreateSchemaStmt":
        own.append(("schema", body["schemaname"], body["schemaname"]))
    elif kind == "VariableSetStmt" and body.get("name") == "check_function_bodies":
        own.append(_NO_BODY_CHECK)
    elif kind == "CreateTrigStmt":
        ref = _qualified("function", _names(body["funcname"]))
        needs.update([ref] if ref is not None else [])
        skip = {"funcname"}
    target = body.get("table" if kind == "CreatePolicyStmt" else "relation")
    if kind in ("AlterTableStmt", "IndexStmt", "CreatePolicyStmt", "CreateTrigStmt") and target is not None:
        relation = _key(_range_var("relation", target))
        if not _only_defaults(kind, body):  # nothing on the table waits for a default: it may move alone
            touches.add(relation)
        needs.add(_ref(relation))
        if _adds_key(kind, body):
            own.append(("key", *relation[1:]))
    if kind == "AlterTableStmt":
        for cmd in body.get("cmds", []):
            constraint = cmd["AlterTableCmd"].get("def", {}).get("Constraint", {})
            if constraint.get("contype") == "CONSTR_FOREIGN":
                needs.add(("key", *_range_var("relation", constraint["pktable"])[1:]))
    provides.update(own)
    needs.update(("schema", k[1], k[1]) for k in own if k[0] != "setting")
    needs.update(_refs({k: v for k, v in body.items() if k not in skip}))


def _only_defaults(kind: str, body: dict[str, Any]) -> bool:
    return kind == "AlterTableStmt" and all(c["AlterTableCmd"]["subtype"] == "AT_ColumnDefault" for c in body["cmds"])


def _adds_key(kind: str, body: dict[str, Any]) -> bool:
    """A unique index or a unique/primary key constraint: what a foreign key referencing the table needs."""
    if kind == "IndexStmt":
        return bool(body.get("unique"))
    contypes = {
        cmd["AlterTableCmd"].get("def", {}).get("Constraint", {}).get("contype") for cmd in body.get("cmds", [])
    }
    return bool(contypes & {"CONSTR_UNIQUE", "CONSTR_PRIMARY", "CONSTR_EXCLUSION"})


def _search_path(options: Iterable[dict[str, Any]]) -> list[str]:
    for option in options:
        if option["defname"] == "set" and option["arg"]["VariableSetStmt"].get("name") == "search_path":
            args = option["arg"]["VariableSetStmt"].get("args", [])
            return [a["A_Const"]["sval"]["sval"] for a in args if "sval" in a.get("A_Const", {})]
    return []


def _refs(node: Any) -> Iterator[Ref]:
    """Every relation, function and type a parse tree names (a sequence in ``nextval('...')`` too). A
    RangeVar or TypeName is bare where its field's type is fixed (``relation``, ``argType``): found by shape."""
    if isinstance(node, list):
        for item in node:
            yield from _refs(item)
        return
    if not isinstance(node, dict):
        return
    if "relname" in node:
        yield _range_var("relation", node)
        return
    if "names" in node and "typemod" in node:
        ref = _qualified("type", _names(node["names"]))
        if ref is not None:
            yield ref
        return
    for key, value in node.items():
        if key == "FuncCall":
            names = _names(value.get("funcname", []))
            ref = _qualified("function", names)
            if ref is not None:
                yield ref
            if names and names[-1] in _SEQUENCE_FUNCTIONS:
                yield from _sequence_named(value.get("args", [])[:1])
        elif key == "TypeCast" and _is_regclass(value):
            yield from _sequence_named([value.get("arg")])
        elif key == "DefElem" and value.get("defname") == "owned_by":
            names = _names(value.get("arg", {}).get("List", {}).get("items", []))
            ref = _qualified("relation", names[:-1])
            if ref is not None:
                yield ref
            continue
        yield from _refs(value)


def _is_regclass(cast: dict[str, Any]) -> bool:
    return _names(cast.get("typeName", {}).get("names", []))[-1:] == ["regclass"]


def _sequence_named(args: Sequence[Any]) -> Iterator[Ref]:
    for arg in args:
        const = arg.get("A_Const", {}) if isinstance(arg, dict) else {}
        if isinstance(arg, dict) and "TypeCast" in arg:
            const = arg["TypeCast"].get("arg", {}).get("A_Const", {})
        text = const.get("sval", {}).get("sval")
        if text is None:
            continue
        try:
            name = parse_regclass(text)
        except InvalidName:
            continue
        yield ("relation", name.schema, name.name)


def _providers(nodes: Sequence[Node]) -> list[set[int]]:
    """For each node, the nodes it must come after."""
    by_key: dict[Key, list[int]] = {}
    by_name: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for i, node in enumerate(nodes):
        for key in node.provides:
            by_key.setdefault(key, []).append(i)
            by_name.setdefault((key[0], key[2]), []).append((key[1], i))
    out: list[set[int]] = []
    last: dict[Key, int] = {}
    for i, node in enumerate(nodes):
        before: set[int] = set()
        for kind, schema, name in node.needs:
            if schema is not None:
                before.update(by_key.get((kind, schema, name), ()))
            else:
                before.update(j for s, j in by_name.get((kind, name), ()) if s in node.path)
        for relation in node.touches:
            if relation in last:
                before.add(last[relation])
            last[relation] = i
        before.discard(i)
        out.append(before)
    return out


def components(edges: Sequence[set[int]]) -> list[int]:
    """The strongly connected component of each node (Tarjan's, iterative): its id, shared on a cycle."""
    n = len(edges)
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    stack: list[int] = []
    on_stack = [False] * n
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, Iterator[int]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if index[child] == -1:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack[child] = True
                    work.append((child, iter(sorted(edges[child]))))
                elif on_stack[child]:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = v
                    if w == v:
                        break
    return comp


def cycles(nodes: Sequence[Node]) -> list[list[int]]:
    """The statements on each dependency cycle, in given order."""
    comp = components(_providers(nodes))
    groups: dict[int, list[int]] = {}
    for i, c in enumerate(comp):
        groups.setdefault(c, []).append(i)
    return [members for members in groups.values() if len(members) > 1]


def order(phases: Sequence[P], nodes: Sequence[Node], phase_of: Callable[[int], P]) -> list[tuple[P, int]]:
    """The statements (given sorted by phase) in dependency order, each with its phase (raised to that of
    what it needs): see the module's docstring. ``phase_of`` turns a raised phase number back into a phase."""
    edges = _providers(nodes)
    comp = components(edges)
    # On a cycle, edges within it are dropped: its statements keep their given order.
    edges = [{j for j in before if comp[j] != comp[i]} for i, before in enumerate(edges)]
    # ... and each of its statements comes after the one before it on the cycle (acyclic: the rest of a
    # path between two of them would be on the cycle too).
    previous: dict[int, int] = {}
    for i in range(len(nodes)):
        if comp[i] in previous:
            edges[i].add(previous[comp[i]])
        previous[comp[i]] = i
    raised = [int(p) for p in phases]
    for i in _topological(edges):
        raised[i] = max([raised[i], *(raised[j] for j in edges[i])])
    waiting = [len(before) for before in edges]
    after: list[list[int]] = [[] for _ in nodes]
    for i, before in enumerate(edges):
        for j in before:
            after[j].append(i)
    ready = [(raised[i], i) for i in range(len(nodes)) if not waiting[i]]
    heapq.heapify(ready)
    out: list[tuple[P, int]] = []
    while ready:
        phase, i = heapq.heappop(ready)
        out.append((phase_of(phase), i))
        for k in after[i]:
            waiting[k] -= 1
            if not waiting[k]:
                heapq.heappush(ready, (raised[k], k))
    return out


def _topological(edges: Sequence[set[int]]) -> list[int]:
    """Any topological order of an acyclic graph (providers first)."""
    waiting = [len(before) for before in edges]
    after: list[list[int]] = [[] for _ in edges]
    for i, before in enumerate(edges):
        for j in before:
            after[j].append(i)
    todo = [i for i, w in enumerate(waiting) if not w]
    out: list[int] = []
    while todo:
        i = todo.pop()
        out.append(i)
        for k in after[i]:
            waiting[k] -= 1
            if not waiting[k]:
                todo.append(k)
    return out
