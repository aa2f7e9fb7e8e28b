"""Types and SQL expressions in a canonical form, by PostgreSQL's own parser (pglast).

Both sides of every comparison go through the same functions: the contract's text and the catalog's
deparsed text (``format_type``, ``pg_get_expr``). So ``timestamptz`` equals ``timestamp with time zone``,
``'active'`` equals ``'active'::text``, ``role IN ('a', 'b')`` equals ``role = ANY (ARRAY['a'::text, ...])``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pglast
import pglast.ast
from pglast import parser
from pglast.stream import maybe_double_quote_name

from pgcontract.names import DEFAULT_SCHEMA, QualifiedName
from pgcontract.sqlsafe import UnsafeFragment, check_fragment


class InvalidSql(ValueError):
    """Text that PostgreSQL's parser rejects as a type or an expression."""


# pg_catalog type names as format_type() prints them.
_CANONICAL = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "character varying",
    "bpchar": "character",
    "varbit": "bit varying",
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
    "time": "time without time zone",
    "timetz": "time with time zone",
}
# Spelling in DDL (what `pgcontract snapshot` writes).
_SHORT = {
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "bool": "boolean",
    "varchar": "varchar",
    "bpchar": "char",
    "varbit": "varbit",
    "timestamp": "timestamp",
    "timestamptz": "timestamptz",
    "time": "time",
    "timetz": "timetz",
}
_SERIAL = {
    "serial": "int4",
    "serial4": "int4",
    "bigserial": "int8",
    "serial8": "int8",
    "smallserial": "int2",
    "serial2": "int2",
}
_BUILTIN = frozenset(
    [
        "bool",
        "bytea",
        "char",
        "name",
        "int8",
        "int2",
        "int4",
        "text",
        "oid",
        "tid",
        "xid",
        "cid",
        "json",
        "xml",
        "point",
        "lseg",
        "path",
        "box",
        "polygon",
        "line",
        "float4",
        "float8",
        "money",
        "macaddr",
        "macaddr8",
        "inet",
        "cidr",
        "bpchar",
        "varchar",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "timetz",
        "bit",
        "varbit",
        "numeric",
        "uuid",
        "tsvector",
        "tsquery",
        "jsonb",
        "jsonpath",
        "int4range",
        "int8range",
        "numrange",
        "tsrange",
        "tstzrange",
        "daterange",
        "int4multirange",
        "int8multirange",
        "nummultirange",
        "tsmultirange",
        "tstzmultirange",
        "datemultirange",
        "regclass",
        "regtype",
        "regproc",
        "regprocedure",
        "regoper",
        "regoperator",
        "regnamespace",
        "regrole",
        "regconfig",
        "regdictionary",
        "pg_lsn",
        "txid_snapshot",
        "pg_snapshot",
        "record",
        "void",
        "anyelement",
        "anyarray",
        "trigger",
        "refcursor",
        "aclitem",
        "circle",
        "gtsvector",
        "xid8",
        "regcollation",
    ]
)


@dataclass(frozen=True)
class SqlType:
    """A type: schema (``pg_catalog`` for built-ins, None for "any schema"), name, modifiers, array."""

    schema: str | None
    name: str
    modifiers: tuple[str, ...] = ()
    is_array: bool = False

    def matches(self, actual: SqlType) -> bool:
        return (
            self.name == actual.name
            and self.modifiers == actual.modifiers
            and self.is_array == actual.is_array
            and (self.schema is None or actual.schema is None or self.schema == actual.schema)
        )

    def _render(self, names: dict[str, str]) -> str:
        mods = f"({','.join(self.modifiers)})" if self.modifiers else ""
        if self.schema == "pg_catalog":
            base = names.get(self.name, self.name)
            if self.name == "char":
                base = '"char"'
            elif self.name == "bpchar" and not mods:
                base = "bpchar"
            if base.endswith((" without time zone", " with time zone")):
                head, _, zone = base.partition(" ")
                text = f"{head}{mods} {zone}"
            else:
                text = base + mods
        else:
            # SQL's quoting, not a contract name's: the text is read back as SQL (public."My Type", public."a;b").
            parts = (self.name,) if self.schema is None else (self.schema, self.name)
            text = ".".join(maybe_double_quote_name(p) for p in parts) + mods
        return text + ("[]" if self.is_array else "")

    def __str__(self) -> str:
        """PostgreSQL's canonical spelling (as ``format_type`` prints it)."""
        return self._render(_CANONICAL)

    @property
    def short(self) -> str:
        """The spelling people write in DDL: ``timestamptz``, ``varchar(50)``, ``integer``."""
        return self._render(_SHORT)


def _parse_stmt(sql_text: str) -> Any:
    try:
        tree = json.loads(parser.parse_sql_json(sql_text))
    except parser.ParseError as exc:
        raise InvalidSql(str(exc)) from None
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        raise InvalidSql("expected exactly one expression")
    return stmts[0]["stmt"]


def _single_target(sql_text: str) -> Any:
    stmt = _parse_stmt(sql_text).get("SelectStmt")
    if stmt is None or set(stmt) - {"targetList", "limitOption", "op"} or len(stmt.get("targetList", [])) != 1:
        raise InvalidSql("not a single expression")
    target = stmt["targetList"][0]["ResTarget"]
    if "name" in target:  # "x AS y", or "x y": an alias, not part of the expression
        raise InvalidSql("not a single expression")
    return target["val"]


def _const_text(node: dict[str, Any]) -> str:
    for key in ("ival", "fval", "sval", "bsval"):
        if key in node:
            inner = node[key]
            return str(inner.get(key, 0 if key == "ival" else ""))
    if "boolval" in node:
        return "true" if node["boolval"].get("boolval") else "false"
    return "NULL"


@lru_cache(maxsize=4096)
def parse_type(text: str) -> SqlType:
    """Parse a type name such as ``varchar(50)``, ``timestamp with time zone``, ``public.mood[]``."""
    if not text or not text.strip():
        raise InvalidSql(f"not a type: {text!r}")
    try:
        node = _single_target(f"SELECT NULL::{text}")
    except InvalidSql:
        raise InvalidSql(f"not a type: {text!r}") from None
    cast = node.get("TypeCast")
    if cast is None:
        raise InvalidSql(f"not a type: {text!r}")
    type_name = cast["typeName"]
    names = [n["String"]["sval"] for n in type_name["names"]]
    mods = tuple(_typmod_text(m) for m in type_name.get("typmods", []))
    if not all(_TYPMOD.fullmatch(m) for m in mods):
        # Modifiers reach DDL as text: only numbers and plain words (varchar(50), geometry(Point,4326)).
        raise InvalidSql(f"not a type: {text!r} (a type modifier is a number or a plain word)")
    is_array = bool(type_name.get("arrayBounds"))
    schema: str | None
    if len(names) == 2 and names[0] == "pg_catalog":
        schema, name = "pg_catalog", names[1]
    elif len(names) == 1:
        name = _SERIAL.get(names[0], names[0])
        schema = "pg_catalog" if name in _BUILTIN else None
    elif len(names) == 2:
        schema, name = names
    else:
        raise InvalidSql(f"not a type: {text!r}")
    if schema == "pg_catalog" and name == "bpchar" and not mods and names[0] == "pg_catalog":
        mods = ("1",)  # the keyword `char` alone means char(1)
    if schema == "pg_catalog" and name == "bpchar" and _explicit_bpchar(text):
        mods = mods if type_name.get("typmods") else ()
    return SqlType(schema, name, mods, is_array)


def column_type(text: str) -> SqlType | None:
    """A column's type from ``format_type``'s text, which names every type outside pg_catalog with its
    schema; None when the type parser refuses it (a custom type whose modifiers print as more than numbers
    and plain words)."""
    try:
        return parse_type(text)
    except InvalidSql:
        return None


_TYPMOD = re.compile(r"-?[0-9]+(\.[0-9]+)?|[A-Za-z_][A-Za-z0-9_]*")


def _explicit_bpchar(text: str) -> bool:
    return text.strip().lower().startswith("bpchar")


def _typmod_text(node: dict[str, Any]) -> str:
    if "A_Const" in node:
        return _const_text(node["A_Const"])
    if "ColumnRef" in node:
        return ".".join(f["String"]["sval"] for f in node["ColumnRef"]["fields"] if "String" in f)
    return json.dumps(node, sort_keys=True)


# --- expressions ---------------------------------------------------------------------------------

ColumnsOf = Callable[[QualifiedName], frozenset[str] | None]
_DROP_KEYS = frozenset({"location", "rexpr_list_start", "rexpr_list_end", "list_start", "list_end"})
_DROP_SCHEMAS = frozenset({"pg_catalog", DEFAULT_SCHEMA})
_LIKE_KINDS = frozenset({"AEXPR_LIKE", "AEXPR_ILIKE"})


def _no_columns(_: QualifiedName) -> frozenset[str] | None:
    return None


class _Scope:
    """Relations visible at one SELECT level: alias or name -> relation."""

    def __init__(self, items: list[tuple[str, QualifiedName]]) -> None:
        self.items = items


class _Canonicalizer:
    def __init__(self, table: QualifiedName | None, columns_of: ColumnsOf) -> None:
        self.columns_of = columns_of
        self.refers_to_columns = False
        self.scopes: list[_Scope] = [_Scope([(table.name, table)] if table else [])]

    def walk(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.walk(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((kind, body),) = node.items()
            handler = getattr(self, f"_{kind}", None)
            if handler is not None:
                return handler(body)
        return {k: self.walk(v) for k, v in node.items() if k not in _DROP_KEYS}

    def _TypeCast(self, body: dict[str, Any]) -> Any:  # noqa: N802
        arg = body["arg"]
        if "A_Const" in arg and not arg["A_Const"].get("isnull"):
            text = _const_text(arg["A_Const"])
            names = [n["String"]["sval"] for n in body["typeName"]["names"]]
            if names[-1] == "regclass" and text.startswith(f"{DEFAULT_SCHEMA}."):
                text = text[len(DEFAULT_SCHEMA) + 1 :]
            return {"const": text}
        return {"TypeCast": {"arg": self.walk(arg), "typeName": self._type_name(body["typeName"])}}

    def _type_name(self, body: dict[str, Any]) -> Any:
        names = [n["String"]["sval"] for n in body["names"]]
        while len(names) > 1 and names[0] in _DROP_SCHEMAS:
            names = names[1:]
        rest = {k: self.walk(v) for k, v in body.items() if k not in _DROP_KEYS and k != "names"}
        return {"names": names, **rest}

    def _A_Const(self, body: dict[str, Any]) -> Any:  # noqa: N802
        return {"const": _const_text(body)}

    def _A_Expr(self, body: dict[str, Any]) -> Any:  # noqa: N802
        kind = body["kind"]
        name = [n["String"]["sval"] for n in body.get("name", [])]
        while len(name) > 1 and name[0] in _DROP_SCHEMAS:
            name = name[1:]
        rexpr = body.get("rexpr")
        if kind == "AEXPR_IN" and isinstance(rexpr, dict) and "List" in rexpr:
            kind = "AEXPR_OP_ANY" if name == ["="] else "AEXPR_OP_ALL"
            rexpr = {"A_ArrayExpr": {"elements": rexpr["List"]["items"]}}
        elif kind in _LIKE_KINDS:
            kind = "AEXPR_OP"
        out = {"kind": kind, "name": name, "lexpr": self.walk(body.get("lexpr")), "rexpr": self.walk(rexpr)}
        return {"A_Expr": out}

    def _BoolExpr(self, body: dict[str, Any]) -> Any:  # noqa: N802
        op = body["boolop"]
        args: list[Any] = []
        for arg in body.get("args", []):
            walked = self.walk(arg)
            if op != "NOT_EXPR" and isinstance(walked, dict) and walked.get("BoolExpr", {}).get("boolop") == op:
                args.extend(walked["BoolExpr"]["args"])
            else:
                args.append(walked)
        return {"BoolExpr": {"boolop": op, "args": args}}

    def _FuncCall(self, body: dict[str, Any]) -> Any:  # noqa: N802
        names = [n["String"]["sval"] for n in body["funcname"]]
        while len(names) > 1 and names[0] in _DROP_SCHEMAS:
            names = names[1:]
        rest = {k: self.walk(v) for k, v in body.items() if k not in _DROP_KEYS | {"funcname", "funcformat"}}
        return {"FuncCall": {"funcname": names, **rest}}

    def _SelectStmt(self, body: dict[str, Any]) -> Any:  # noqa: N802
        items: list[tuple[str, QualifiedName]] = []
        pending = list(body.get("fromClause", []))
        while pending:
            item = pending.pop(0)
            rv = item.get("RangeVar")
            if rv is not None:
                rel = QualifiedName(rv.get("schemaname", DEFAULT_SCHEMA), rv["relname"])
                items.append((rv.get("alias", {}).get("aliasname", rv["relname"]), rel))
            join = item.get("JoinExpr")
            if join is not None:  # a view's query joins: both sides name columns
                pending += [join[side] for side in ("larg", "rarg") if side in join]
        self.scopes.append(_Scope(items))
        try:
            out = {}
            for key, value in body.items():
                if key in _DROP_KEYS:
                    continue
                if key == "targetList":
                    out[key] = [self._target(t) for t in value]
                else:
                    out[key] = self.walk(value)
            return {"SelectStmt": out}
        finally:
            self.scopes.pop()

    def _target(self, node: dict[str, Any]) -> Any:
        # Deparsing adds an output name ("AS uid") to sub-select targets: names carry no meaning here.
        body = node.get("ResTarget", {})
        return self.walk(body.get("val"))

    def _RangeVar(self, body: dict[str, Any]) -> Any:  # noqa: N802
        return {"rel": str(QualifiedName(body.get("schemaname", DEFAULT_SCHEMA), body["relname"]))}

    def _ColumnRef(self, body: dict[str, Any]) -> Any:  # noqa: N802
        fields = [f["String"]["sval"] if "String" in f else "*" for f in body["fields"]]
        column = fields[-1]
        self.refers_to_columns = True
        if len(fields) == 1:
            for scope in reversed(self.scopes):
                for _, rel in scope.items:
                    cols = self.columns_of(rel)
                    if cols is not None and column in cols:
                        return {"col": column, "rel": str(rel)}
            outer = self.scopes[0].items
            if len(self.scopes) == 1 and outer:
                return {"col": column, "rel": str(outer[0][1])}
            if all(len(s.items) <= 1 for s in self.scopes) and sum(len(s.items) for s in self.scopes) == 1:
                only = next(rel for s in self.scopes for _, rel in s.items)
                return {"col": column, "rel": str(only)}
            return {"col": column}
        qualifier = fields[-2]
        for scope in reversed(self.scopes):
            for alias, rel in scope.items:
                if alias == qualifier:
                    return {"col": column, "rel": str(rel)}
        return {"col": column, "qual": fields[:-1]}


@lru_cache(maxsize=65536)
def _parse_expression(text: str) -> Any:
    """The parse tree of one expression (cached: contracts and catalogs repeat the same texts)."""
    return _single_target(f"SELECT {text}")


def canonical_expr(text: str, table: QualifiedName | None, columns_of: ColumnsOf) -> tuple[str, bool]:
    """The canonical form of an expression, and whether it refers to columns (so depends on ``table``)."""
    if text is None or not str(text).strip():
        raise InvalidSql("empty expression")
    walker = _Canonicalizer(table, columns_of)
    tree = walker.walk(_parse_expression(text))
    return json.dumps(tree, sort_keys=True, separators=(",", ":")), walker.refers_to_columns


def normalize_expr(text: str, table: QualifiedName | None = None, columns_of: ColumnsOf = _no_columns) -> str:
    """A canonical, comparable form of an SQL expression (raises ``InvalidSql``)."""
    return canonical_expr(text, table, columns_of)[0]


def _parse_query(text: str) -> Any:
    if not text or not text.strip():
        raise InvalidSql("empty query")
    statement = _parse_stmt(text)
    if "SelectStmt" not in statement or "intoClause" in statement["SelectStmt"]:
        raise InvalidSql("not a single SELECT (or VALUES) query")
    return statement


def check_query(text: str) -> None:
    """Raise ``InvalidSql`` unless ``text`` parses as exactly one query (a view's definition)."""
    _parse_query(text)


def normalize_query(text: str, columns_of: ColumnsOf = _no_columns) -> str:
    """A canonical, comparable form of a query (a view's definition), as ``normalize_expr`` of an expression:
    layout, casts of constants, default schemas and the way columns are qualified do not count."""
    walker = _Canonicalizer(None, columns_of)
    return json.dumps(walker.walk(_parse_query(text)), sort_keys=True, separators=(",", ":"))


def deparsed_expr(text: str) -> str:
    """One expression as PostgreSQL's parser read it, printed again (comments and layout gone)."""
    from pglast.stream import RawStream

    check_expr(text)
    statement = pglast.parse_sql(f"SELECT {text}")[0].stmt
    assert isinstance(statement, pglast.ast.SelectStmt)
    assert statement.targetList
    return str(RawStream()(statement.targetList[0].val))


def check_expr(text: str) -> None:
    """Raise ``InvalidSql`` unless ``text`` is exactly one SQL expression, safe to paste into a statement
    (no comment, ``;`` or ambiguous string: ``sqlsafe.fragment_problem``)."""
    if not text or not text.strip():
        raise InvalidSql("empty expression")
    try:
        check_fragment(text)
    except UnsafeFragment as exc:
        raise InvalidSql(str(exc)) from None
    _parse_expression(text)


def referenced_columns(text: str) -> list[str]:
    """Column names an expression refers to, in order of first appearance (for constraint names)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            ref = node.get("ColumnRef")
            if ref is not None:
                name = ref["fields"][-1].get("String", {}).get("sval")
                if name and name not in found:
                    found.append(name)
                return
            for value in node.values():
                walk(value)

    walk(_parse_expression(text))
    return found


def nextval_sequence(text: str) -> str | None:
    """The sequence a default such as ``nextval('seq'::regclass)`` draws from, as its regclass text."""
    try:
        call = _parse_expression(text).get("FuncCall")
    except InvalidSql:
        return None
    if call is None or [n["String"]["sval"] for n in call["funcname"]] not in (["nextval"], ["pg_catalog", "nextval"]):
        return None
    args = call.get("args", [])
    arg = args[0].get("TypeCast", {}).get("arg", args[0]) if len(args) == 1 else {}
    value = arg.get("A_Const", {}).get("sval")
    return value["sval"] if isinstance(value, dict) and "sval" in value else None
