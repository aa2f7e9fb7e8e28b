"""Qualified names as the contract writes them.

Names are literal catalog names: no case folding, spaces and non-ASCII letters allowed. A part that
contains ``.``, ``"``, ``(``, ``)`` or ``,`` is written in double quotes, with ``""`` for a quote, as in
SQL: ``public."odd.name"``. An unqualified table or type name is in schema ``public``.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

DEFAULT_SCHEMA = "public"

# Schemas that belong to PostgreSQL or to the platform (Supabase and common extensions), not the app.
PLATFORM_SCHEMAS = frozenset(
    [
        "pg_catalog",
        "information_schema",
        "auth",
        "storage",
        "realtime",
        "_realtime",
        "extensions",
        "graphql",
        "graphql_public",
        "pgbouncer",
        "pgsodium",
        "pgsodium_masks",
        "vault",
        "supabase_functions",
        "supabase_migrations",
        "net",
        "cron",
        "_analytics",
        "pgtle",
        "pgmq",
        "topology",
        "tiger",
        "tiger_data",
        "repack",
    ]
)
_SPECIAL = set('.",()')
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# Characters a terminal acts on instead of showing (C0 and C1 controls, DEL), and ones that are invisible
# or reorder text (format characters such as bidi overrides, line and paragraph separators).
_HIDDEN_CATEGORIES = frozenset(["Cc", "Cf", "Zl", "Zp"])


def visible(text: str) -> str:
    """``text`` with every control, format or separator character written as a Python-style escape
    (``\\x1b``, ``\\u202e``), for output a person reads: a catalog name holding a terminal escape
    sequence is shown, not obeyed. Tabs stay; line breaks are escaped (call it per line)."""
    if text.isprintable():  # the common case, and any name without such characters
        return text
    return "".join(_escaped(ch) if ch != "\t" and hidden(ch) else ch for ch in text)


def hidden(ch: str) -> bool:
    """A character ``visible`` writes as an escape (a tab excepted): a control, format or separator."""
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def visible_lines(text: str) -> str:
    """``visible`` for each line of a multi-line message; its own line breaks stay."""
    return "\n".join(visible(line) for line in text.split("\n"))


def _escaped(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class InvalidName(ValueError):
    """A name that cannot be parsed."""


class QualifiedName(NamedTuple):
    schema: str
    name: str

    def __str__(self) -> str:
        return f"{quote_part(self.schema)}.{quote_part(self.name)}"

    @classmethod
    def parse(cls, text: str, default_schema: str = DEFAULT_SCHEMA) -> QualifiedName:
        parts = split_parts(text)
        if len(parts) == 1:
            return cls(default_schema, parts[0])
        if len(parts) == 2:
            return cls(parts[0], parts[1])
        raise InvalidName(f"{text!r}: expected name or schema.name")


def parse_regclass(text: str) -> QualifiedName:
    """A relation name as PostgreSQL reads ``regclass`` text: quoted parts literal, others lower-cased."""
    parts = split_parts(text.strip(), fold=True)
    if len(parts) > 2:
        raise InvalidName(f"{text!r}: expected name or schema.name")
    return QualifiedName(DEFAULT_SCHEMA, parts[0]) if len(parts) == 1 else QualifiedName(parts[0], parts[1])


def quote_part(part: str) -> str:
    if part and not (_SPECIAL & set(part)) and part == part.strip():
        return part
    return '"' + part.replace('"', '""') + '"'


def split_parts(text: str, fold: bool = False) -> list[str]:
    """Split ``a.b`` or ``"a.x"."b"`` into its parts (``fold``: lower-case unquoted parts, as SQL does)."""
    parts: list[str] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise InvalidName(f"{text!r}: unterminated quote")
                if text[i] == '"':
                    if i + 1 < n and text[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(text[i])
                i += 1
            part = "".join(buf)
        else:
            j = text.find(".", i)
            j = n if j < 0 else j
            part = text[i:j]
            if '"' in part:
                raise InvalidName(f"{text!r}: a quote may only surround a whole name part")
            if fold:
                part = part.strip().translate(_ASCII_LOWER)
            i = j
        if not part:
            raise InvalidName(f"{text!r}: empty name part")
        parts.append(part)
        if i >= n:
            return parts
        if text[i] != ".":
            raise InvalidName(f"{text!r}: expected '.' after a quoted part")
        i += 1


def split_reference(text: str) -> tuple[QualifiedName, tuple[str, ...]]:
    """``schema.table(col, col)`` or ``schema.table`` -> (table, columns)."""
    text = text.strip()
    if text.endswith(")"):
        depth_open = _matching_open(text)
        table = QualifiedName.parse(text[:depth_open].strip())
        inner = text[depth_open + 1 : -1]
        columns = tuple(_unquote(c.strip()) for c in _split_commas(inner)) if inner.strip() else ()
        if any(not c for c in columns):
            raise InvalidName(f"{text!r}: empty column name in reference")
        return table, columns
    return QualifiedName.parse(text), ()


def _matching_open(text: str) -> int:
    in_quote = False
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch == '"':
            in_quote = not in_quote
        elif ch == "(" and not in_quote:
            return i
    raise InvalidName(f"{text!r}: unbalanced parenthesis")


def _split_commas(text: str) -> list[str]:
    out: list[str] = []
    buf: list[str] = []
    in_quote = False
    for ch in text:
        if ch == '"':
            in_quote = not in_quote
        if ch == "," and not in_quote:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


def _unquote(part: str) -> str:
    if len(part) >= 2 and part.startswith('"') and part.endswith('"'):
        return part[1:-1].replace('""', '"')
    return part
