"""Indexes, compared whole: keys (columns or expressions), uniqueness, method, predicate, INCLUDE."""

from __future__ import annotations

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Index, IndexExpression, Table
from pgcontract.findings import Finding, Kind
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import create_index, drop_index

K = Kind.INDEXES


def _keys_text(index: Index) -> str:
    return "(" + ", ".join(k.expression if isinstance(k, IndexExpression) else k for k in index.columns) + ")"


def _same_keys(ctx: Context, name: QualifiedName, index: Index, found: snap.Index) -> bool:
    if len(index.columns) != len(found.key_columns):
        return False
    for key, column, text in zip(index.columns, found.key_columns, found.key_texts, strict=True):
        if isinstance(key, IndexExpression):
            if column is not None or not ctx.same_expr(key.expression, text, name):
                return False
        elif key != column:
            return False
    return True


def check_indexes(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    out: list[Finding] = []
    for index_name, index in table.indexes.items():
        obj = member(name, index_name)
        found = actual.indexes.get(index_name)
        create = create_index(name, index_name, index)
        if found is None:
            owner = ctx.snapshot.index_owner.get((name.schema, index_name))
            if owner is not None:
                out.append(
                    finding(
                        "index.table",
                        K,
                        name,
                        obj,
                        "index exists on another table",
                        str(name),
                        str(owner),
                        fix([drop_index(name.schema, index_name), create]),
                    )
                )
            else:
                out.append(
                    finding(
                        "index.missing",
                        K,
                        name,
                        obj,
                        "index is missing",
                        _keys_text(index),
                        "absent",
                        fix(create),
                    )
                )
            continue
        recreate = fix([drop_index(name.schema, index_name), create])
        if not _same_keys(ctx, name, index, found):
            out.append(
                finding(
                    "index.columns",
                    K,
                    name,
                    obj,
                    "index keys differ",
                    _keys_text(index),
                    "(" + ", ".join(found.key_texts) + ")",
                    recreate,
                )
            )
        if index.unique != found.unique:
            out.append(
                finding(
                    "index.unique",
                    K,
                    name,
                    obj,
                    "index uniqueness differs",
                    "unique" if index.unique else "not unique",
                    "unique" if found.unique else "not unique",
                    recreate,
                )
            )
        if index.method != found.method:
            out.append(
                finding("index.method", K, name, obj, "index method differs", index.method, found.method, recreate)
            )
        if not ctx.same_expr(index.where, found.predicate, name):
            out.append(
                finding(
                    "index.predicate",
                    K,
                    name,
                    obj,
                    "index predicate differs",
                    index.where,
                    found.predicate,
                    recreate,
                )
            )
        if tuple(index.include) != found.include:
            out.append(
                finding(
                    "index.include",
                    K,
                    name,
                    obj,
                    "INCLUDE columns differ",
                    list(index.include),
                    list(found.include),
                    recreate,
                )
            )
        if not found.valid:
            out.append(
                finding(
                    "index.invalid",
                    K,
                    name,
                    obj,
                    "index is invalid (a failed concurrent build)",
                    "valid",
                    "invalid",
                    recreate,
                )
            )
    return out
