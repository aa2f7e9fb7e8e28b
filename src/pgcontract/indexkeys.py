"""Index keys in one uniform shape, shared by the contract and the catalog snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from pgcontract.names import split_parts


@dataclass(frozen=True)
class KeySpec:
    """One index key in a uniform shape, for the contract's keys and the catalog's alike."""

    column: str | None
    expression: str | None
    desc: bool = False
    nulls_first: bool = False
    opclass: str | None = None

    def __str__(self) -> str:
        text = self.column if self.column is not None else f"({self.expression})"
        if self.opclass:
            text += f" {self.opclass}"
        if self.desc:
            text += " DESC"
        if self.nulls_first != self.desc:
            text += " NULLS FIRST" if self.nulls_first else " NULLS LAST"
        return text


def same_opclass(expected: str | None, actual: str | None) -> bool:
    """An unqualified operator class matches that name in any schema (an extension's lives where the
    extension was installed); a qualified one only in that schema."""
    if expected is None or actual is None:
        return expected is actual
    want, have = split_parts(expected), split_parts(actual)
    return want == have if len(want) == 2 else want[-1] == have[-1]
