"""Test rows for users A and B, created through the foreign-key graph by a role that bypasses RLS.

A row needs: its owner column set to its principal's id (or tenant id), parents for every NOT NULL
foreign key and for the ownership path (``via``), created for the same principal, and a valid value for
every other NOT NULL column without a default (distinct per row in UNIQUE columns, fitted to the
table's CHECK constraints). Rows are remembered per (table, principal), so a thread's messages and the
thread share one owner. All of it happens inside the test's transaction and is rolled back.

Real applications create rows of their own: a signup trigger on ``auth.users`` makes the user's profile,
personal account and membership. Once a table with an INSERT trigger has been written, a row the test
needs is first looked for among the rows this transaction created (``age(xmin) <= 0``) that match its
owner, and adopted instead of inserted; an INSERT that still collides on a unique key with such a row
adopts that row. Every row is inserted with its owner's identity in effect (claims or setting), the
seeding role keeping its RLS bypass, so defaults and BEFORE triggers reading ``auth.uid()`` work.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors, sql

from pgcontract.busy import BUSY_ERRORS
from pgcontract.catalog.snapshot import Snapshot, Table
from pgcontract.contract.model import Contract, Isolation, Membership
from pgcontract.contract.template import is_template, render
from pgcontract.names import QualifiedName
from pgcontract.rls.explain import Attempt, Trigger, explain
from pgcontract.rls.fit import fit_checks
from pgcontract.rls.identity import Impersonation, Principal
from pgcontract.rls.values import SeedError, generate, unique_columns
from pgcontract.sqlgen import ident

Cursor = psycopg.Cursor[Any]
Values = dict[str, str | None]
_UNKNOWN = ("?", "?")  # the identity in effect is not known (after a rollback to a savepoint)

TRIGGERS = """
SELECT n.nspname, c.relname, t.tgname, pn.nspname, p.proname, (t.tgtype & 2) <> 0
FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = t.tgfoid
JOIN pg_namespace pn ON pn.oid = p.pronamespace
WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND (t.tgtype & 4) <> 0
ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class SeededRow:
    table: QualifiedName
    values: Values
    tableoid: str
    ctid: str


class Seeder:
    def __init__(
        self,
        cur: Cursor,
        contract: Contract,
        snapshot: Snapshot,
        impersonation: Impersonation,
        *,
        count_rows: bool,
    ) -> None:
        self.cur = cur
        self.contract = contract
        self.snapshot = snapshot
        self.impersonation = impersonation
        self.count_rows = count_rows
        self.rows: dict[tuple[QualifiedName, str], list[SeededRow]] = {}
        self.tenants: dict[tuple[str, str], str] = {}
        self.counts_before: dict[QualifiedName, int | None] = {}
        self.created: list[SeededRow] = []
        # Tables an INSERT was tried on, never restored: a rolled-back INSERT still drew its sequence values.
        self.inserted_into: set[QualifiedName] = set()
        self.adopting = False  # a table with an INSERT trigger was written: rows may exist that we did not insert
        self._serial = itertools.count(1)
        self._acting: tuple[str, str | None] | None = _UNKNOWN
        self._in_progress: list[QualifiedName] = []
        self._triggers: list[Trigger] | None = None
        self._unique: dict[QualifiedName, frozenset[str]] = {}
        self._created_ids: set[tuple[str, str]] = set()  # (tableoid, ctid) of ``created``

    def start(self) -> None:
        """Before the first row: the row count of every table in scope (throwaway targets), so the proof
        that nothing was left behind also covers rows the application's triggers create."""
        if self.count_rows:
            self.counts_before = dict(count_tables(self.cur, self.snapshot))
        self.triggers()  # read now: after a failed INSERT the transaction can no longer be queried

    def checkpoint(self) -> tuple[Any, ...]:
        return (
            {k: list(v) for k, v in self.rows.items()},
            dict(self.tenants),
            dict(self.counts_before),
            len(self.created),
            self.adopting,
        )

    def restore(self, state: tuple[Any, ...]) -> None:
        rows, tenants, counts, created, adopting = state
        self.rows, self.tenants, self.counts_before, self.adopting = rows, tenants, counts, adopting
        del self.created[created:]
        self._created_ids = {(c.tableoid, c.ctid) for c in self.created}
        self._acting = _UNKNOWN

    # --- what the contract and the catalog say ---------------------------------------------------------

    def table(self, name: QualifiedName) -> Table:
        table = self.snapshot.tables.get(name)
        if table is None or not table.in_scope:
            raise SeedError(f"table {name} is missing: cannot create test rows in it")
        return table

    def isolation(self, name: QualifiedName) -> Isolation | None:
        declared = self.contract.table_map.get(name)
        return declared.isolation if declared is not None else None

    def triggers(self) -> list[Trigger]:
        """The database's INSERT triggers (read once)."""
        if self._triggers is None:
            self.cur.execute(TRIGGERS)
            self._triggers = [
                Trigger(QualifiedName(r[0], r[1]), r[2], QualifiedName(r[3], r[4]), bool(r[5]))
                for r in self.cur.fetchall()
            ]
        return self._triggers

    def unique(self, name: QualifiedName) -> frozenset[str]:
        if name not in self._unique:
            self._unique[name] = unique_columns(self.table(name))
        return self._unique[name]

    # --- identities -------------------------------------------------------------------------------------

    def identity(self, principal: Principal, table: QualifiedName, column: str) -> str:
        """The principal's id; in setting mode chosen on first use, of the type of the first owner column."""
        if principal.identity is None:
            found = self.table(table).columns.get(column)
            if found is None:
                raise SeedError(f"{table} has no column {column!r} (isolation)")
            principal.identity = generate(found, self.table(table), self.snapshot)
        return principal.identity

    def act_as(self, principal: Principal | None) -> None:
        """Put ``principal``'s identity in effect for what follows (None: no identity)."""
        key = None if principal is None else (principal.label, principal.identity)
        if key == self._acting:
            return
        settings = self.impersonation.seeding_settings(principal)
        if settings:
            calls = [sql.SQL("set_config(%s, %s, true)") for _ in settings]
            params = [part for item in settings.items() for part in item]
            self.cur.execute(sql.SQL("SELECT ") + sql.SQL(", ").join(calls), params)
        self._acting = key

    def owner_value(self, name: QualifiedName, principal: Principal) -> str:
        isolation = self.isolation(name)
        assert isolation is not None
        assert isolation.owner is not None
        if isolation.membership is not None:
            return self.tenant(isolation.membership, principal)
        return self.identity(principal, name, isolation.owner)

    def tenant(self, membership: Membership, principal: Principal) -> str:
        """The principal's tenant: one its membership rows already name (a personal account the signup
        trigger made), else a tenant row (when the membership's tenant column has a foreign key) and a
        membership row (tenant, user)."""
        key = (membership.table, principal.label)
        if key in self.tenants:
            return self.tenants[key]
        table_name = QualifiedName.parse(membership.table)
        table = self.table(table_name)
        user = self.identity(principal, table_name, membership.user)
        if self.adopting:
            adopted = self.adopt(table_name, principal, {membership.user: user})
            if adopted is not None and adopted.values.get(membership.tenant) is not None:
                value = adopted.values[membership.tenant]
                assert value is not None
                self.tenants[key] = value
                return value
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
        self.row(table_name, principal, {membership.tenant: value, membership.user: user})
        return value

    # --- rows -------------------------------------------------------------------------------------------

    @contextmanager
    def building(self, name: QualifiedName) -> Iterator[None]:
        if name in self._in_progress:
            raise SeedError(f"cannot create rows of {name}: its NOT NULL foreign keys form a cycle")
        self._in_progress.append(name)
        try:
            yield
        finally:
            self._in_progress.pop()

    def wanted(self, name: QualifiedName, principal: Principal, overrides: Values | None, *, as_tenant: bool) -> Values:
        """What makes a row of ``name`` the principal's: its owner column, or its ownership foreign key
        pointing at the principal's parent row."""
        wanted = dict(overrides or {})
        isolation = self.isolation(name)
        if isolation is None or as_tenant:
            return wanted
        if isolation.owner is not None:
            wanted.setdefault(isolation.owner, self.owner_value(name, principal))
        elif isolation.via is not None and not all(c in wanted for c in isolation.via):
            fk = next((c for c in self.table(name).constraints_of("f") if c.columns == tuple(isolation.via)), None)
            if fk is not None and fk.ref_table is not None and fk.ref_table != name:
                with self.building(name):
                    pinned = {rc: wanted[c] for c, rc in zip(fk.columns, fk.ref_columns, strict=True) if c in wanted}
                    parent = self.row(fk.ref_table, principal, pinned)
                for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):
                    wanted[column] = parent.values[ref_column]
        return wanted

    def row(
        self, name: QualifiedName, principal: Principal, overrides: Values | None = None, *, as_tenant: bool = False
    ) -> SeededRow:
        """The principal's row in ``name`` matching ``overrides``: one already made or adopted, else a new one."""
        wanted = self.wanted(name, principal, overrides, as_tenant=as_tenant)
        for existing in self.rows.get((name, principal.label), []):
            if all(existing.values.get(k) == v for k, v in wanted.items()):
                return existing
        if self.adopting and wanted:
            adopted = self.adopt(name, principal, wanted)
            if adopted is not None:
                return adopted
        values = self.values_for(name, principal, wanted, as_tenant=as_tenant)
        return self.insert(name, principal, values, wanted)

    def create_user(self, name: QualifiedName, principal: Principal, values: Values) -> SeededRow:
        """The principal's user row, inserted as the platform does (no identity in effect): the
        platform's triggers fire, and the rows they make are adopted later."""
        return self.insert(name, principal, values, {"id": values.get("id")}, platform=True)

    def remember(self, row: SeededRow, principal: Principal) -> SeededRow:
        known = self.rows.setdefault((row.table, principal.label), [])
        if row not in known:
            known.append(row)
        if (row.tableoid, row.ctid) not in self._created_ids:
            self._created_ids.add((row.tableoid, row.ctid))
            self.created.append(row)
        return row

    def adopt(self, name: QualifiedName, principal: Principal, wanted: Values) -> SeededRow | None:
        """A row of ``name`` this transaction created (a trigger's) that matches ``wanted``, as the principal's."""
        if not wanted:
            return None
        table = self.table(name)
        conditions = [
            sql.SQL("{} IS NULL" if v is None else "{} = %s").format(sql.Identifier(c)) for c, v in wanted.items()
        ]
        statement = sql.SQL("SELECT {} FROM {} WHERE {} AND age(xmin) <= 0 LIMIT 1").format(
            self._columns(table), ident(name), sql.SQL(" AND ").join(conditions)
        )
        self.cur.execute(statement, [v for v in wanted.values() if v is not None])
        fetched = self.cur.fetchone()
        if fetched is None:
            return None
        row = SeededRow(name, dict(zip(table.columns, fetched[2:], strict=True)), fetched[0], fetched[1])
        return self.remember(row, principal)

    def values_for(
        self, name: QualifiedName, principal: Principal, overrides: Values | None = None, *, as_tenant: bool = False
    ) -> Values:
        """Column values for a new row of ``name`` owned by ``principal`` (parents are created as needed)."""
        with self.building(name):
            return self._values_for(name, principal, overrides or {}, as_tenant)

    def _values_for(self, name: QualifiedName, principal: Principal, overrides: Values, as_tenant: bool) -> Values:
        table = self.table(name)
        isolation = self.isolation(name)
        n = next(self._serial)
        owned: Values = {}
        if isolation is not None and isolation.owner is not None and not as_tenant:
            owned[isolation.owner] = self.owner_value(name, principal)
        values = self.given_values(isolation, principal, n)
        values.update(owned)
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
        chosen: list[str] = []
        unique = self.unique(name)
        for col in table.columns.values():
            if col.name in values or not col.not_null:
                continue
            if col.default is None and col.identity is None and col.generated is None:
                values[col.name] = generate(col, table, self.snapshot, n=n, distinct=col.name in unique)
                chosen.append(col.name)
        return fit_checks(self.cur, table, values, chosen, n, lambda: self.act_as(principal))

    def given_values(self, isolation: Isolation | None, principal: Principal, n: int) -> Values:
        """``isolation.values`` for this principal's ``n``-th row: literal text, templates rendered."""
        values: Values = {}
        for column, given in (isolation.values if isolation is not None else {}).items():
            text = given.get(principal.label) if isinstance(given, dict) else given
            if text is None:
                continue
            if is_template(text):
                if "${id}" in text and principal.identity is None:
                    raise SeedError(f"isolation.values.{column} uses ${{id}} before {principal.name} has an id")
                text = render(text, {"user": principal.label.lower(), "id": principal.identity or "", "n": str(n)})
            values[column] = text
        return values

    def chosen(self, name: QualifiedName, values: Values) -> frozenset[str]:
        """Columns of ``values`` the seeder made up (neither ownership, parents nor the contract's)."""
        table = self.table(name)
        isolation = self.isolation(name)
        fixed = {c for fk in table.constraints_of("f") for c in fk.columns}
        if isolation is not None:
            fixed.update(isolation.values)
            fixed.update([isolation.owner] if isolation.owner else [])
        return frozenset(c for c in values if c not in fixed)

    def _columns(self, table: Table) -> sql.Composed:
        return sql.SQL(", ").join(
            [sql.SQL("tableoid::text"), sql.SQL("ctid::text")]
            + [sql.SQL("{}::text").format(sql.Identifier(c)) for c in table.columns]
        )

    def insert(
        self, name: QualifiedName, principal: Principal, values: Values, wanted: Values, *, platform: bool = False
    ) -> SeededRow:
        table = self.table(name)
        self.act_as(None if platform else principal)
        self.inserted_into.add(name)
        if values:
            statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(
                ident(name),
                sql.SQL(", ").join(sql.Identifier(c) for c in values),
                sql.SQL(", ").join(sql.Placeholder() for _ in values),
                self._columns(table),
            )
        else:
            statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(ident(name), self._columns(table))
        # Once triggers may have made rows, a collision may be with one of them: the savepoint lets the
        # transaction go on to adopt it.
        guarded = self.adopting
        if guarded:
            self.cur.execute("SAVEPOINT pgcontract_insert")
        try:
            self.cur.execute(statement, list(values.values()))
            fetched = self.cur.fetchone()
        except BUSY_ERRORS:
            raise  # not a bad value: the table is locked (pgcontract.busy reports it)
        except psycopg.Error as exc:
            if guarded:
                self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_insert")
                adopted = self._adopt_collision(exc, name, principal, values, wanted)
                if adopted is not None:
                    return adopted
            attempt = Attempt(
                name, values, self.chosen(name, values), self.isolation(name), principal.name if platform else None
            )
            raise SeedError(explain(exc, attempt, self.snapshot, self._triggers or [])) from None
        if guarded:
            self.cur.execute("RELEASE SAVEPOINT pgcontract_insert")
        assert fetched is not None
        if not self.adopting and any(t.table == name for t in self.triggers()):
            self.adopting = True
        row = SeededRow(name, dict(zip(table.columns, fetched[2:], strict=True)), fetched[0], fetched[1])
        return self.remember(row, principal)

    def _adopt_collision(
        self, exc: psycopg.Error, name: QualifiedName, principal: Principal, values: Values, wanted: Values
    ) -> SeededRow | None:
        """The row a trigger made that holds the key the INSERT collided on, when it is the principal's."""
        if not isinstance(exc, errors.UniqueViolation) or (exc.diag.schema_name, exc.diag.table_name) != name:
            return None
        table = self.table(name)
        constraint = exc.diag.constraint_name
        columns: tuple[str, ...] = next((c.columns for c in table.constraints if c.name == constraint), ())
        if not columns and constraint in table.indexes:
            columns = tuple(c for c in table.indexes[constraint].key_columns if c is not None)
        if not columns or any(values.get(c) is None for c in columns):
            return None
        # The colliding row must also be the principal's (its owner or ownership key).
        return self.adopt(name, principal, {**wanted, **{c: values[c] for c in columns}})

    def count(self, name: QualifiedName) -> int:
        return count_rows(self.cur, name)


def count_rows(cur: Cursor, name: QualifiedName) -> int:
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(name)))
    fetched = cur.fetchone()
    assert fetched is not None
    return int(fetched[0])


def count_tables(cur: Cursor, snapshot: Snapshot) -> dict[QualifiedName, int | None]:
    """Row counts of the snapshot's tables in scope that the current role may read, in one statement."""
    names = [n for n, t in snapshot.tables.items() if t.in_scope]
    if not names:
        return {}
    cur.execute(
        # to_regclass: a table the snapshot saw may be gone (a missing table is reported, not a crash).
        "SELECT coalesce(has_table_privilege(to_regclass(r), 'SELECT'), false) FROM unnest(%s::text[]) AS r",
        [[str(n) for n in names]],
    )
    readable = [n for n, (ok,) in zip(names, cur.fetchall(), strict=True) if ok]
    if not readable:
        return {}
    counts = sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(ident(n)) for n in readable)
    cur.execute(sql.SQL("SELECT {}").format(counts))
    fetched = cur.fetchone()
    assert fetched is not None
    return {n: int(c) for n, c in zip(readable, fetched, strict=True)}
