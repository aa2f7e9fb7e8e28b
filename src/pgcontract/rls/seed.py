"""Test rows for users A and B, created through the foreign-key graph by a role that bypasses RLS.

A row needs: its owner column set to its principal's id (or tenant id), parents for every NOT NULL
foreign key and for the ownership path (``via``), created for the same principal, and a valid value for
every other NOT NULL column without a default. Rows are remembered per (table, principal), so a
thread's messages and the thread share one owner. All of it happens inside the test's transaction and
is rolled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgcontract.busy import BUSY_ERRORS
from pgcontract.catalog.snapshot import Snapshot, Table
from pgcontract.contract.model import Contract, Isolation, Membership
from pgcontract.names import QualifiedName
from pgcontract.rls.identity import Principal
from pgcontract.rls.values import SeedError, generate
from pgcontract.sqlgen import ident

Cursor = psycopg.Cursor[Any]
Values = dict[str, str | None]


@dataclass(frozen=True)
class SeededRow:
    table: QualifiedName
    values: Values
    tableoid: str
    ctid: str


class Seeder:
    def __init__(self, cur: Cursor, contract: Contract, snapshot: Snapshot, *, count_rows: bool) -> None:
        self.cur = cur
        self.contract = contract
        self.snapshot = snapshot
        self.count_rows = count_rows
        self.rows: dict[tuple[QualifiedName, str], list[SeededRow]] = {}
        self.tenants: dict[tuple[str, str], str] = {}
        self.counts_before: dict[QualifiedName, int | None] = {}
        self.created: list[SeededRow] = []
        self._in_progress: list[QualifiedName] = []

    def checkpoint(self) -> tuple[Any, ...]:
        return (
            {k: list(v) for k, v in self.rows.items()},
            dict(self.tenants),
            dict(self.counts_before),
            len(self.created),
        )

    def restore(self, state: tuple[Any, ...]) -> None:
        rows, tenants, counts, created = state
        self.rows, self.tenants, self.counts_before = rows, tenants, counts
        del self.created[created:]

    # --- what the contract and the catalog say ---------------------------------------------------------

    def table(self, name: QualifiedName) -> Table:
        table = self.snapshot.tables.get(name)
        if table is None or not table.in_scope:
            raise SeedError(f"table {name} is missing: cannot create test rows in it")
        return table

    def isolation(self, name: QualifiedName) -> Isolation | None:
        declared = self.contract.table_map.get(name)
        return declared.isolation if declared is not None else None

    # --- identities -------------------------------------------------------------------------------------

    def identity(self, principal: Principal, table: QualifiedName, column: str) -> str:
        """The principal's id; in setting mode chosen on first use, of the type of the first owner column."""
        if principal.identity is None:
            found = self.table(table).columns.get(column)
            if found is None:
                raise SeedError(f"{table} has no column {column!r} (isolation)")
            principal.identity = generate(found, self.table(table), self.snapshot)
        return principal.identity

    def owner_value(self, name: QualifiedName, principal: Principal) -> str:
        isolation = self.isolation(name)
        assert isolation is not None
        assert isolation.owner is not None
        if isolation.membership is not None:
            return self.tenant(isolation.membership, principal)
        return self.identity(principal, name, isolation.owner)

    def tenant(self, membership: Membership, principal: Principal) -> str:
        """The principal's tenant: a tenant row (when the membership's tenant column has a foreign key)
        and a membership row (tenant, user)."""
        key = (membership.table, principal.label)
        if key in self.tenants:
            return self.tenants[key]
        table_name = QualifiedName.parse(membership.table)
        table = self.table(table_name)
        fk = next((c for c in table.constraints_of("f") if c.columns == (membership.tenant,)), None)
        if fk is not None and fk.ref_table is not None:
            tenant_row = self.row(fk.ref_table, principal, as_tenant=True)
            value = tenant_row.values[fk.ref_columns[0]]
            if value is None:
                raise SeedError(f"the tenant row of {fk.ref_table} has no {fk.ref_columns[0]}")
        else:
            column = table.columns.get(membership.tenant)
            if column is None:
                raise SeedError(f"{table_name} has no column {membership.tenant!r} (membership.tenant)")
            value = generate(column, table, self.snapshot)
        self.tenants[key] = value
        user = self.identity(principal, table_name, membership.user)
        self.row(table_name, principal, {membership.tenant: value, membership.user: user})
        return value

    # --- rows -------------------------------------------------------------------------------------------

    def row(
        self, name: QualifiedName, principal: Principal, overrides: Values | None = None, *, as_tenant: bool = False
    ) -> SeededRow:
        """The principal's row in ``name`` matching ``overrides`` (created if there is none yet)."""
        wanted = dict(overrides or {})
        isolation = self.isolation(name)
        if isolation is not None and isolation.owner is not None and not as_tenant:
            wanted.setdefault(isolation.owner, self.owner_value(name, principal))
        for existing in self.rows.get((name, principal.label), []):
            if all(existing.values.get(k) == v for k, v in wanted.items()):
                return existing
        row = self.insert(name, self.values_for(name, principal, overrides, as_tenant=as_tenant))
        self.rows.setdefault((name, principal.label), []).append(row)
        return row

    def values_for(
        self, name: QualifiedName, principal: Principal, overrides: Values | None = None, *, as_tenant: bool = False
    ) -> Values:
        """Column values for a new row of ``name`` owned by ``principal`` (parents are created as needed)."""
        if name in self._in_progress:
            raise SeedError(f"cannot create rows of {name}: its NOT NULL foreign keys form a cycle")
        self._in_progress.append(name)
        try:
            return self._values_for(name, principal, overrides or {}, as_tenant)
        finally:
            self._in_progress.pop()

    def _values_for(self, name: QualifiedName, principal: Principal, overrides: Values, as_tenant: bool) -> Values:
        table = self.table(name)
        isolation = self.isolation(name)
        values: Values = dict(isolation.values) if isolation is not None else {}
        if isolation is not None and isolation.owner is not None and not as_tenant:
            values[isolation.owner] = self.owner_value(name, principal)
        values.update(overrides)
        for fk in table.constraints_of("f"):
            on_path = isolation is not None and isolation.via is not None and tuple(isolation.via) == fk.columns
            required = all(table.columns[c].not_null for c in fk.columns if c in table.columns)
            if fk.ref_table is None or not (on_path or required) or fk.ref_table == name:
                continue
            pinned = {rc: values[c] for c, rc in zip(fk.columns, fk.ref_columns, strict=True) if c in values}
            parent = self.row(fk.ref_table, principal, pinned)
            for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):
                values[column] = parent.values[ref_column]
        for col in table.columns.values():
            if col.name in values or not col.not_null:
                continue
            if col.default is None and col.identity is None and col.generated is None:
                values[col.name] = generate(col, table, self.snapshot)
        return values

    def insert(self, name: QualifiedName, values: Values) -> SeededRow:
        table = self.table(name)
        if name not in self.counts_before:
            self.counts_before[name] = self.count(name) if self.count_rows else None
        returning = sql.SQL(", ").join(
            [sql.SQL("tableoid::text"), sql.SQL("ctid::text")]
            + [sql.SQL("{}::text").format(sql.Identifier(c)) for c in table.columns]
        )
        if values:
            statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                ident(name),
                sql.SQL(", ").join(sql.Identifier(c) for c in values),
                sql.SQL(", ").join(sql.Placeholder() for _ in values),
                returning,
            )
        else:
            statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(ident(name), returning)
        try:
            self.cur.execute(statement, list(values.values()))
        except BUSY_ERRORS:
            raise  # not a bad value: the table is locked (pgcontract.busy reports it)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise SeedError(
                f"cannot create a test row in {name} ({reason}); give valid values under isolation.values"
            ) from None
        fetched = self.cur.fetchone()
        assert fetched is not None
        row = SeededRow(name, dict(zip(table.columns, fetched[2:], strict=True)), fetched[0], fetched[1])
        self.created.append(row)
        return row

    def count(self, name: QualifiedName) -> int:
        return count_rows(self.cur, name)


def count_rows(cur: Cursor, name: QualifiedName) -> int:
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(name)))
    fetched = cur.fetchone()
    assert fetched is not None
    return int(fetched[0])
