"""Indexes, compared whole: keys (columns or expressions), uniqueness, method, predicate, INCLUDE."""

from __future__ import annotations

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Index, Table, key_spec
from pgcontract.findings import Finding, Kind, declare
from pgcontract.indexkeys import KeySpec, same_opclass
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import create_index, drop_index

K = Kind.INDEXES
RULES = declare(
    K,
    "index.missing",
    "index.table",
    "index.invalid",
    "index.columns",
    "index.include",
    "index.method",
    "index.unique",
    "index.nulls_not_distinct",
    "index.predicate",
)


def _keys_text(keys: tuple[KeySpec, ...]) -> str:
    return "(" + ", ".join(str(k) for k in keys) + ")"


def _same_keys(ctx: Context, name: QualifiedName, expected: tuple[KeySpec, ...], actual: tuple[KeySpec, ...]) -> bool:
    if len(expected) != len(actual):
        return False
    for want, have in zip(expected, actual, strict=True):
        if (want.desc, want.nulls_first) != (have.desc, have.nulls_first) or not same_opclass(
            want.opclass, have.opclass
        ):
            return False
        if want.column is not None or have.column is not None:
            if want.column != have.column:
                return False
        elif not ctx.same_expr(want.expression, have.expression, name):
            return False
    return True


def check_indexes(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    for index_name, index in table.indexes.items():
        expected_keys = tuple(key_spec(k) for k in index.columns)
        found = actual.indexes.get(index_name)
        if found is None:
            obj, create = member(name, index_name), create_index(name, index_name, index)
            owner = ctx.snapshot.index_owner.get((name.schema, index_name))
            if owner is not None:
                repair = fix([drop_index(name.schema, index_name), create])
                # As names: a QualifiedName is a tuple, which a finding shows as a list ("[public, t]").
                text = "index exists on another table"
                out.append(finding("index.table", K, name, obj, text, str(name), str(owner), repair))
            else:
                missing = _keys_text(expected_keys)
                out.append(finding("index.missing", K, name, obj, "index is missing", missing, "absent", fix(create)))
            continue
        differences: list[tuple[str, str, object, object]] = []
        if not _same_keys(ctx, name, expected_keys, found.keys):
            differences.append(
                ("index.columns", "index keys differ", _keys_text(expected_keys), _keys_text(found.keys))
            )
        if index.unique != found.unique:
            differences.append(
                ("index.unique", "index uniqueness differs", _unique(index.unique), _unique(found.unique))
            )
        if index.method != found.method:
            differences.append(("index.method", "index method differs", index.method, found.method))
        if not ctx.same_expr(index.where, found.predicate, name):
            differences.append(("index.predicate", "index predicate differs", index.where, found.predicate))
        if tuple(index.include) != found.include:
            differences.append(("index.include", "INCLUDE columns differ", list(index.include), list(found.include)))
        if index.nulls_not_distinct != found.nulls_not_distinct:
            differences.append(
                ("index.nulls_not_distinct", "index treats NULLs otherwise", _nulls(index), _nulls(found))
            )
        if not found.valid:
            differences.append(("index.invalid", "index is invalid (a failed concurrent build)", "valid", "invalid"))
        if differences:
            obj = member(name, index_name)
            recreate = fix([drop_index(name.schema, index_name), create_index(name, index_name, index)])
            out.extend(
                finding(rule, K, name, obj, text, want, have, recreate) for rule, text, want, have in differences
            )
    return out


def _unique(flag: bool) -> str:
    return "unique" if flag else "not unique"


def _nulls(index: Index | snap.Index) -> str:
    return "NULLS NOT DISTINCT" if index.nulls_not_distinct else "NULLS DISTINCT"
