"""SQL from the contract is pasted into DDL only as the one node it must be, and every generated script is
parsed back and must hold exactly the statements intended.

Two layers, both on PostgreSQL's own lexer and parser (pglast):

- a contract fragment (an expression, a type, a function's ``returns`` or argument list) is accepted only
  when it parses as exactly one node of its kind and carries nothing that could change the SQL around it
  once pasted: no comment (``--`` would hide the rest of the line, ``/*`` what follows), no ``;``, and no
  backslash in a plain ``'...'`` string (under ``standard_conforming_strings = off`` the string would end
  elsewhere);
- every statement a generator builds declares what it must parse as (``Statements``: kind and target);
  ``verify`` parses the rendered text back and raises ``GeneratedSqlError`` when the statements differ in
  count, kind or target. ``pgcontract sql`` and the set-up SQL endpoint check their whole script, each
  finding's fix is checked when made (``checks.base.fix``) and repair checks the script it prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from pglast import parser
from psycopg import sql

from pgcontract.names import hidden, visible_lines

# (statement kind as PostgreSQL's parser names it, e.g. "CreateStmt"; its target "schema.name" or None: any)
Intended = tuple[str, str | None]

_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


class UnsafeFragment(ValueError):
    """Contract text that is not exactly one node of the kind required where it is pasted."""


class GeneratedSqlError(RuntimeError):
    """Internal error: generated SQL does not parse as the statements pgcontract meant to write."""


def fragment_problem(text: str) -> str | None:
    """Why ``text`` cannot be pasted into a statement as it is, by its tokens; None when it can."""
    if "--" not in text and "/*" not in text and ";" not in text and "\\" not in text:
        # none of the tokens looked for can occur (and scanning costs ~50 us per text); tested inline, not
        # with any() over a generator: this runs for every type and expression of a contract
        return None
    try:
        tokens = parser.scan(text)
    except parser.ParseError as exc:
        return f"it does not scan as SQL ({exc})"
    for token in tokens:
        raw = text[token.start : token.end + 1]
        if token.name in _COMMENTS:
            return f"a comment ({raw[:2]}) would hide the SQL after it"
        if token.name == "ASCII_59":
            return "a ';' would end the statement"
        if token.name in ("SCONST", "USCONST") and "\\" in raw and raw[:1] in "'Uu":
            return "a backslash in a '...' string ends it elsewhere under standard_conforming_strings = off; use E'...'"
    return None


def check_fragment(text: str) -> None:
    problem = fragment_problem(text)
    if problem is not None:
        raise UnsafeFragment(problem)


def _parse(text: str) -> list[dict[str, Any]]:
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as exc:
        raise UnsafeFragment(str(exc)) from None
    return [s["stmt"] for s in tree.get("stmts", [])]


_PROBE = "pgcontract_probe"


def check_returns(text: str) -> None:
    """``text`` is exactly a function's result type, as RETURNS takes it (``boolean``, ``setof uuid``,
    ``trigger``, ``table (a int, b text)``): nothing more (no LANGUAGE, AS, STRICT, ... after it)."""
    if not text or not text.strip():
        raise UnsafeFragment("empty")
    check_fragment(text)
    stmts = _parse(f"CREATE FUNCTION {_PROBE}() RETURNS {text} LANGUAGE sql AS ''")
    body = stmts[0].get("CreateFunctionStmt") if len(stmts) == 1 else None
    if (
        body is None
        or [n["String"]["sval"] for n in body["funcname"]] != [_PROBE]
        or [o["DefElem"]["defname"] for o in body.get("options", [])] != ["language", "as"]
        or any(p["FunctionParameter"].get("mode") != "FUNC_PARAM_TABLE" for p in body.get("parameters", []))
    ):
        raise UnsafeFragment("more than a result type")


def check_arguments(text: str) -> None:
    """``text`` is exactly a function's argument list (what goes between its parentheses)."""
    check_fragment(text)
    stmts = _parse(f"CREATE FUNCTION {_PROBE}({text}) RETURNS void LANGUAGE sql AS ''")
    body = stmts[0].get("CreateFunctionStmt") if len(stmts) == 1 else None
    if (
        body is None
        or [n["String"]["sval"] for n in body["funcname"]] != [_PROBE]
        or [o["DefElem"]["defname"] for o in body.get("options", [])] != ["language", "as"]
    ):
        raise UnsafeFragment("more than an argument list")


# --- generated statements ------------------------------------------------------------------------


class Statements(sql.Composed):
    """Generated SQL that knows which statements it must parse as."""

    def __init__(self, seq: Sequence[sql.Composable], intended: Iterable[Intended]) -> None:
        super().__init__(seq)
        self.intended: tuple[Intended, ...] = tuple(intended)


def _names(nodes: list[dict[str, Any]]) -> str:
    return ".".join(n["String"]["sval"] for n in nodes if "String" in n)


def _target(kind: str, body: dict[str, Any]) -> str | None:
    for key in ("relation", "table", "sequence", "view", "typevar"):
        rv = body.get(key)
        if isinstance(rv, dict) and "relname" in rv:
            return ".".join(p for p in (rv.get("schemaname"), rv["relname"]) if p)
    if kind == "CreateFunctionStmt":
        return _names(body["funcname"])
    if kind in ("CreateEnumStmt", "AlterEnumStmt", "AlterDomainStmt"):
        return _names(body["typeName"])
    if kind == "CreateDomainStmt":
        return _names(body["domainname"])
    if kind == "DefineStmt":  # CREATE AGGREGATE, ...
        return _names(body["defnames"])
    return None


def parsed(text: str) -> list[Intended]:
    """The statements of ``text``, each as (kind, target), on PostgreSQL's parse."""
    try:
        tree = json.loads(parser.parse_sql_json(text))
    except parser.ParseError as exc:
        raise GeneratedSqlError(f"generated SQL does not parse: {exc}") from None
    out: list[Intended] = []
    for stmt in tree.get("stmts", []):
        ((kind, body),) = stmt["stmt"].items()
        out.append((kind, _target(kind, body)))
    return out


def verify(text: str, intended: Sequence[Intended]) -> str:
    """``text`` unchanged when its statements are exactly ``intended`` (a None target matches any);
    ``GeneratedSqlError`` otherwise."""
    found = parsed(text)
    same = len(found) == len(intended) and all(
        f[0] == i[0] and (i[1] is None or f[1] == i[1]) for f, i in zip(found, intended, strict=True)
    )
    if not same:
        raise GeneratedSqlError(
            f"internal error: generated SQL holds {_describe(found)}, not {_describe(intended)} as intended"
        )
    return text


def _describe(items: Sequence[Intended]) -> str:
    shown = ", ".join(kind + (f" {target}" if target else "") for kind, target in items[:6])
    more = f", ... ({len(items)} statements)" if len(items) > 6 else ""
    return f"[{shown}{more}]"


def statement(kind: str, target: str | None, composable: sql.Composable) -> Statements:
    """One generated statement, declaring that it parses as exactly one ``kind`` statement on ``target``
    (checked when rendered: ``render_checked``, ``verify``)."""
    return Statements([composable], [(kind, target)])


def render_checked(composable: sql.Composable) -> str:
    """The text of generated statements, checked to parse as exactly what they declare."""
    return verify(composable.as_string(None), intended_of(composable))


def intended_of(composable: sql.Composable) -> tuple[Intended, ...]:
    if not isinstance(composable, Statements):
        raise GeneratedSqlError(f"internal error: a generated statement declares no intended kind: {composable!r}")
    return composable.intended


def joined(separator: str, parts: Sequence[sql.Composable]) -> Statements:
    """Several generated statements as one: their intended statements in order."""
    intended = [item for part in parts for item in intended_of(part)]
    return Statements([sql.SQL(separator).join(parts)], intended)


# --- SQL shown to a person ------------------------------------------------------------------------


def shown_sql(text: str) -> str:
    """``text`` as SQL to print: the same statements, with no control, format or separator character a
    terminal would obey (or a line break that could forge a line of output) in a quoted identifier or
    a string constant: such an identifier is written with Unicode escapes (``U&"red\\001B[31mtable"``),
    such a string as an escape string (``E'a\\x1bb'``; a dollar-quoted one keeps its line breaks and
    tabs). Names stay exact: PostgreSQL reads the escapes back as the characters. Text that does not
    scan as SQL is shown as text (``names.visible_lines``)."""
    # isprintable: no control, format or separator character (nor any other space than ' '), at C speed.
    if text.replace("\n", "").replace("\t", "").isprintable() and not _quoted_line_break(text):
        return text
    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return visible_lines(text)
    out: list[str] = []
    done = 0
    for token in tokens:
        raw = text[token.start : token.end + 1]
        written = _escaped_token(token.name, raw)
        if written is not None:
            out += [text[done : token.start], written]
            done = token.end + 1
    return "".join([*out, text[done:]])


def _quoted_line_break(text: str) -> bool:
    """Whether a line break may sit inside a quoted identifier or string: a line holding an odd number of
    double or single quotes (a cheap test that keeps the scan for the scripts that need it)."""
    return any(line.count('"') % 2 or line.count("'") % 2 for line in text.split("\n"))


def _escaped_token(name: str, raw: str) -> str | None:
    """The token written without hidden characters; None when it has none (or is not quoted text)."""
    if name == "IDENT" and raw.startswith('"') and any(hidden(ch) for ch in raw):
        return "U&" + "".join(_unicode_escape(ch) for ch in raw)
    if name != "SCONST":
        return None
    if raw.startswith("'") and any(hidden(ch) for ch in raw):
        return "E" + "".join(_string_escape(ch) for ch in raw)
    if raw[:2] in ("E'", "e'") and any(hidden(ch) for ch in raw):  # backslashes are escapes already
        return "".join(ch if ch == "\\" else _string_escape(ch) for ch in raw)
    if raw.startswith("$") and any(hidden(ch) and ch not in "\n\t" for ch in raw):
        tag = raw[: raw.index("$", 1) + 1]
        body = raw[len(tag) : -len(tag)]
        return "E'" + "".join(_string_escape(ch, keep="\n\t") for ch in body.replace("'", "''")) + "'"
    return None


def _unicode_escape(ch: str) -> str:
    if ch == "\\":
        return "\\\\"
    if not hidden(ch):
        return ch
    return f"\\{ord(ch):04X}" if ord(ch) < 0x10000 else f"\\+{ord(ch):06X}"


def _string_escape(ch: str, keep: str = "") -> str:
    if ch == "\\":
        return "\\\\"
    if not hidden(ch) or ch in keep:
        return ch
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
