"""The isolation matrix of one table: users A and B and an anonymous caller, each probing what RLS must
allow and forbid, inside one transaction that is always rolled back.

Probes count only the rows the test created (real tables hold rows of thousands of users). Each write
runs under a savepoint and is rolled back to it, so one probe cannot disturb the next.
"""

from __future__ import annotations

import functools
import json
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgcontract.busy import BUSY_ERRORS
from pgcontract.catalog.snapshot import Snapshot, View
from pgcontract.catalog.snapshot import Table as CatalogTable
from pgcontract.connect import SessionLimits, apply_limits
from pgcontract.contract.model import Contract, Isolation, Membership, SupabaseAuth, Table
from pgcontract.findings import Kind, declare, registered
from pgcontract.names import QualifiedName
from pgcontract.rls.explain import duplicate_hint
from pgcontract.rls.identity import (
    Impersonation,
    Principal,
    SettingImpersonation,
    SupabaseImpersonation,
    impersonation_for,
)
from pgcontract.rls.inforce import caller_columns, policies_in_force
from pgcontract.rls.seed import SeededRow, Seeder, Values, count_rows
from pgcontract.rls.values import SeedError, generate
from pgcontract.rls.views import fingerprint, fix, how_it_reads, revoke, views_reading
from pgcontract.sqlgen import ident

Cursor = psycopg.Cursor[Any]
ALL_COMMANDS = ("select", "insert", "update", "delete")
RLS_DENIED = "42501"  # insufficient_privilege: RLS violation or no grant
UNIQUE_VIOLATION = "23505"
# A DELETE refused by a foreign key: the row had passed the policies (the key is checked after the delete).
FOREIGN_KEY_VIOLATION = "23503"
CHILD_DEPTH = 6  # how deep the child rows of a DELETE refused by a key are looked for
WIDER = {"members": 0, "authenticated": 1, "anon": 2}  # who may read every row, narrowest first
RULES = declare(
    Kind.ISOLATION,
    "isolation.read_own",
    "isolation.read_other",
    "isolation.read_declared",
    "isolation.insert_own",
    "isolation.insert_other",
    "isolation.attach_other",
    "isolation.update_own",
    "isolation.update_other",
    "isolation.delete_own",
    "isolation.delete_other",
    "isolation.move_to_other",
    "isolation.update_unfiltered",
    "isolation.delete_unfiltered",
    "isolation.not_allowed",
    "isolation.protected",
    "isolation.anonymous_read",
    "isolation.anonymous_write",
    "isolation.left_behind",
    "isolation.never_set_write",
    "isolation.view_read",
    "isolation.view_anonymous_read",
    "isolation.write_declared",
)


class _NotTried(Exception):
    """A probe that could not run (the reason is its text)."""


class ImpersonationFailed(Exception):
    """``current_user`` is not the role the test switched to: nothing it measured would mean anything."""


@dataclass(frozen=True)
class Violation:
    rule: str  # e.g. "isolation.read_other"
    message: str  # "user A read 1 row of user B in public.t"
    expected: str
    actual: str
    # The command and the policies in force for it: 'SELECT as authenticated; policies: "p" USING (true)'
    through: str = ""

    def __post_init__(self) -> None:
        registered(self.rule)

    @property
    def text(self) -> str:
        """Who did what to whose row, through which command and which policies were in force."""
        return f"{self.message} ({self.through})" if self.through else self.message


@dataclass
class Outcome:
    """What one table's matrix found: violations fail the test; notes explain probes not run."""

    table: QualifiedName
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)

    def add(self, rule: str, message: str, expected: str, actual: str, through: str = "") -> None:
        self.violations.append(Violation(rule, message, expected, actual, through))


@dataclass(frozen=True)
class Attempt:
    ok: bool
    rows: int
    error: str | None = None
    sqlstate: str | None = None
    constraint: str | None = None


@dataclass(frozen=True)
class NeverSet:
    """What the caller with the setting never set (NULL) did to user A's row of one table."""

    read: int
    inserted: bool
    updated: int
    deleted: int
    delete_refusal: str | None = None  # the foreign key that alone refused the DELETE of A's row
    notes: tuple[str, ...] = ()


def allowed_commands(table: Table, role: str | None = None) -> set[str]:
    """Exactly what a user may do to own rows: ``isolation.allow`` (for the member's ``role`` when given
    per role), else what the contract's permissive policies grant, else everything."""
    isolation = table.isolation
    if isolation is not None and isolation.allow is not None:
        if isinstance(isolation.allow, dict):
            return set(isolation.allow.get(role or "", []))
        return set(isolation.allow)
    policies = table.rls.policies if table.rls is not None else None
    if not policies:
        return set(ALL_COMMANDS)
    granted: set[str] = set()
    for policy in policies.values():
        if policy.as_ == "permissive":
            granted.update(ALL_COMMANDS if policy.command == "all" else (policy.command,))
    return granted


class Matrix:
    """Runs the probes of one table, with the session's users and rows."""

    def __init__(self, session: IsolationSession, name: QualifiedName):
        self.session = session
        self.cur = session.cur
        self.contract = session.contract
        self.snapshot = session.snapshot
        self.name = name
        self.declared = self.contract.table_map[name]
        isolation = self.declared.isolation
        assert isolation is not None
        self.isolation: Isolation = isolation
        self.readers: str = isolation.readers  # for the current run of A: "none" reads no row at all
        self.principal: str | None = None  # the auth.principals entry A is tried as, if any
        self.writes: set[str] = set()  # what that principal may do to every row (isolation.write)
        self.impersonation: Impersonation = session.impersonation
        self.seeder = session.seeder
        self.seeder_role = session.seeder_role
        self.a, self.b = session.a, session.b
        # Setting mode: what the caller with the setting never set (NULL) read of A's row (a reason when
        # not tried), measured before anything set it in the session.
        self.never_set = session.never_set.get(name) if session.never_set is not None else None
        self.views = session.views_reading.get(name, ())
        snapshot = self.snapshot
        self.outcome = Outcome(name)
        self.member_role: str | None = None
        self.membership = self._membership()
        self.allowed = allowed_commands(self.declared)
        self.acting_role: str | None = None
        self.actual = actual = snapshot.tables[name]
        pk = actual.constraints_of("p")
        self.key_columns: tuple[str, ...] = pk[0].columns if pk else ()
        updatable = [c.name for c in actual.columns.values() if c.generated is None and c.identity != "always"]
        self.touch_column = updatable[0] if updatable else next(iter(actual.columns))
        self.plain_column = self._plain_column(updatable)
        # One row per user: the owner column is a key of its own, so a second row of A (or B) collides with
        # the first; the probes that insert one remove the existing row first (as the seeding role).
        self.owner_is_key = (
            isolation.owner is not None
            and isolation.membership is None
            and any(c == {isolation.owner} for c in _keys(actual))
        )

    def _plain_column(self, updatable: list[str]) -> str:
        """A column that is neither key, owner, nor foreign key: what an ordinary ``UPDATE t SET name = ...``
        changes (the first updatable column when there is none)."""
        fixed = {c for con in self.actual.constraints if con.kind == "f" for c in con.columns}
        fixed.update(c for key in _keys(self.actual) for c in key)
        fixed.update([self.isolation.owner] if self.isolation.owner else [])
        fixed.update(self.isolation.protected)
        plain = [c for c in updatable if c not in fixed]
        return plain[0] if plain else self.touch_column

    def _membership(self) -> Membership | None:
        """The membership that makes rows A's: the table's own or, on a ``via`` table, the one its ownership
        chain ends at (the roles of 'allow' per role are that membership's)."""
        name, isolation, seen = self.name, self.isolation, {self.name}
        while isolation.membership is None and isolation.via is not None:
            table = self.snapshot.tables.get(name)
            via = tuple(isolation.via)
            fk = next((c for c in table.constraints_of("f") if c.columns == via), None) if table else None
            parent = self.contract.table_map.get(fk.ref_table) if fk is not None and fk.ref_table else None
            if fk is None or fk.ref_table is None or fk.ref_table in seen or parent is None or parent.isolation is None:
                return None
            seen.add(fk.ref_table)
            name, isolation = fk.ref_table, parent.isolation
        return isolation.membership

    @property
    def who(self) -> str:
        tags = [tag for tag in (self.principal, self.member_role and f"as {self.member_role}") if tag]
        return f"user A ({', '.join(tags)})" if tags else "user A"

    def tried_as(self) -> list[str | None]:
        """User A plain (None), then as each of auth.principals when ``read`` or ``write`` names some: a
        role-based policy is tried both by those it opens to and by those it must keep out."""
        auth = self.contract.auth
        if not (self.isolation.read_by or self.isolation.write) or not isinstance(auth, SupabaseAuth):
            return [None]
        return [None, *auth.principals]

    def use_principal(self, name: str | None) -> None:
        """User A plain or as the auth.principals entry ``name``: its claims, and which rows it must read."""
        auth = self.contract.auth
        spec = auth.principals.get(name) if name is not None and isinstance(auth, SupabaseAuth) else None
        self.principal = name
        self.writes = set(self.isolation.write.get(name, ())) if name is not None else set()
        self.a.claims = dict(spec.claims) if spec is not None else {}
        read_by = self.isolation.read_by
        if not read_by:
            self.readers = self.isolation.readers
        elif name in read_by:
            self.readers = "authenticated"
        else:
            owned = self.isolation.owner is not None or self.isolation.via is not None
            self.readers = "members" if owned else "none"

    # --- plumbing -------------------------------------------------------------------------------------

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        name = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}")
        self.cur.execute(sql.SQL("SAVEPOINT {}").format(name))
        try:
            yield
        finally:
            self.cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(name))

    def attempt(self, statement: sql.Composed, params: list[Any] | None = None) -> Attempt:
        with self.savepoint():
            try:
                self.cur.execute(statement, params)
                return Attempt(True, self.cur.rowcount)
            except BUSY_ERRORS:
                raise  # a lock wait or timeout says nothing about the policy
            except psycopg.Error as exc:
                return Attempt(False, 0, " ".join(str(exc).split()), exc.sqlstate, exc.diag.constraint_name)

    def where(self, row: SeededRow) -> tuple[sql.Composable, list[Any]]:
        """A filter naming the table's columns (its primary key), or its physical row id without one."""
        if self.key_columns:
            parts = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in self.key_columns]
            return sql.SQL(" AND ").join(parts), [row.values[c] for c in self.key_columns]
        return sql.SQL("tableoid = %s::oid AND ctid = %s::tid"), [row.tableoid, row.ctid]

    def become(self, who: Principal | None) -> None:
        if who is None:
            expected = self.impersonation.become_anonymous(self.cur)
        else:
            expected = self.impersonation.become(self.cur, who)
        self.check_role(expected)
        self.acting_role = expected

    def become_never_set(self, impersonation: SettingImpersonation) -> None:
        """The application role, with no set_config of the setting at all."""
        Impersonation.set_role(self.cur, impersonation.auth.role)
        self.check_role(impersonation.auth.role)

    def as_seeder(self) -> None:
        """Back to the seeding role (it bypasses RLS) to look at what the caller's statement did."""
        Impersonation.set_role(self.cur, self.seeder_role)
        self.check_role(self.seeder_role)

    def check_role(self, expected: str) -> None:
        fetched = self.cur.fetchone()  # Impersonation.set_role left current_user as the result
        if fetched is None or fetched[0] != expected:
            raise ImpersonationFailed(
                f"switched to role {expected!r} but current_user is {fetched[0] if fetched else None!r}"
            )

    def fail(self, rule: str, message: str, expected: str, actual: str, command: str) -> None:
        """A violation, naming the command and the policies that were in force for it."""
        role = self.acting_role
        roles = {role, *self.impersonation.granted_roles()} if role else None
        policies = policies_in_force(self.actual, command, roles)
        as_role = f" as {role}" if role else ""
        self.outcome.add(rule, message, expected, actual, f"{command.upper()}{as_role}; policies: {policies}")

    def visible(self, rows: list[SeededRow]) -> list[int] | Attempt:
        """How many of each given row the current role sees (an Attempt when the SELECT itself fails)."""
        counts: list[sql.Composable] = []
        params: list[Any] = []
        for row in rows:
            condition, values = self.where(row)
            counts.append(sql.SQL("count(*) FILTER (WHERE {})").format(condition))
            params.extend(values)
        statement = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), ident(self.name))
        with self.savepoint():
            try:
                self.cur.execute(statement, params)
            except BUSY_ERRORS:
                raise
            except psycopg.Error as exc:
                return Attempt(False, 0, " ".join(str(exc).split()), exc.sqlstate, exc.diag.constraint_name)
            fetched = self.cur.fetchone()
            assert fetched is not None
            return [int(v) for v in fetched]

    def insert(self, values: Values) -> Attempt:
        statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            ident(self.name),
            sql.SQL(", ").join(sql.Identifier(c) for c in values),
            sql.SQL(", ").join(sql.Placeholder() for _ in values),
        )
        return self.attempt(statement, list(values.values()))

    def insert_as(self, who: Principal, values: Values, replacing: SeededRow) -> Attempt | None:
        """``who`` inserts ``values``; with one row per user, ``replacing`` (the row holding that owner) is
        removed first by the seeding role, or the INSERT would fail on the key whatever the policy says.
        None: that row could not be removed (the probe is not run)."""
        if not self.owner_is_key:
            return self.insert(values)
        with self.savepoint():
            self.as_seeder()
            condition, params = self.where(replacing)
            try:
                self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition), params)
            except BUSY_ERRORS:
                raise
            except psycopg.Error:
                return None
            self.become(who)
            return self.insert(values)

    def update(self, assignments: Values, row: SeededRow | None) -> Attempt:
        sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in assignments)
        statement = sql.SQL("UPDATE {} SET {}").format(ident(self.name), sets)
        params: list[Any] = list(assignments.values())
        if row is not None:
            condition, values = self.where(row)
            statement += sql.SQL(" WHERE {}").format(condition)
            params.extend(values)
        return self.attempt(statement, params)

    def touch(self, row: SeededRow) -> Attempt:
        """An UPDATE that changes nothing (an ordinary column set to itself): does the policy let it through?"""
        condition, values = self.where(row)
        column = sql.Identifier(self.plain_column)
        statement = sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(ident(self.name), column, column, condition)
        return self.attempt(statement, values)

    def delete(self, row: SeededRow) -> Attempt:
        condition, values = self.where(row)
        return self.attempt(sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition), values)

    def versions(self, rows: list[SeededRow]) -> list[tuple[str, str]]:
        """The current physical version (tableoid, ctid) of each row, read by the seeding role: an UPDATE
        or DELETE of a row gives it a new version or none, whatever the statement's row count says."""
        if not self.key_columns:
            return [(row.tableoid, row.ctid) for row in rows]
        parts = []
        params: list[Any] = []
        for row in rows:
            condition, values = self.where(row)
            parts.append(sql.SQL("({})").format(condition))
            params.extend(values)
        statement = sql.SQL("SELECT tableoid::text, ctid::text FROM {} WHERE {}").format(
            ident(self.name), sql.SQL(" OR ").join(parts)
        )
        self.cur.execute(statement, params)
        return [(str(r[0]), str(r[1])) for r in self.cur.fetchall()]

    def changed_by_current(
        self,
        statements: list[sql.Composed],
        versions: list[tuple[str, str]],
        errors: list[psycopg.Error | None] | None = None,
    ) -> list[int]:
        """How many of the rows (given by their versions) each statement, run by the current caller, changed
        or deleted; each is undone before the next. Statements are batched into as few round trips as the
        checks allow (the probe runs for every table of a large schema). ``errors`` receives, per statement,
        the error that made it fail as a whole (None when it ran)."""
        if not versions:
            if errors is not None:
                errors.extend(None for _ in statements)
            return [0 for _ in statements]
        point = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}")
        tids = sql.SQL(", ").join(sql.Literal(ctid) for _, ctid in versions)
        pairs = sql.SQL(", ").join(
            sql.SQL("({}, {}::tid)").format(sql.Literal(oid), sql.Literal(ctid)) for oid, ctid in versions
        )
        # The count is planned after the role switch (a later statement of the same simple query), so it
        # reads as the seeding role, past RLS; ``ctid = ANY`` lets it find the rows by TID scan.
        count = sql.SQL(
            "SELECT set_config('role', {}, true); SELECT current_user::text, count(*) FROM {} "
            "WHERE ctid = ANY (ARRAY[{}]::tid[]) AND (tableoid::text, ctid) IN ({})"
        ).format(sql.Literal(self.seeder_role), ident(self.name), tids, pairs)
        found: list[int] = []
        before = sql.SQL("SAVEPOINT {}; ").format(point)
        back = sql.SQL("ROLLBACK TO SAVEPOINT {}; ").format(point)
        for statement in statements:
            # Each statement travels with the savepoint work before it: one round trip, not three.
            try:
                self.cur.execute(before + statement)
            except BUSY_ERRORS:
                raise
            except psycopg.Error as exc:
                found.append(0)  # the statement failed as a whole: it changed nothing
                if errors is not None:
                    errors.append(exc)
            else:
                if errors is not None:
                    errors.append(None)
                self.cur.execute(count)
                self.cur.nextset()
                fetched = self.cur.fetchone()
                if fetched is None or fetched[0] != self.seeder_role:
                    actual = fetched[0] if fetched else None
                    raise ImpersonationFailed(f"switched to role {self.seeder_role!r} but current_user is {actual!r}")
                found.append(len(versions) - int(fetched[1]))
            before = back
        self.cur.execute(back + sql.SQL("RELEASE SAVEPOINT {}").format(point))
        return found

    # --- the matrix -----------------------------------------------------------------------------------

    def run(self) -> Outcome:
        a, b = self.a, self.b
        # Rows are created at the session's level (kept, so later tables reuse them as parents); every
        # probe runs under a savepoint that is rolled back.
        with self.seeding():
            row_a = self.seeder.row(self.name, a)
            row_b = self.seeder.row(self.name, b)
            new_a = self.seeder.values_for(self.name, a)
            side = self.side_values(a)
            new_b = {**self.seeder.values_for(self.name, b), **self.without_ownership(side, ())}
            attach = [
                (parent, {**values, **self.without_ownership(side, columns)})
                for parent, columns, values in self.attach_variants(a, b)
            ]
            move = self.move_assignments(b)
            protected = self.protected_values(row_a, b)
            # One more row of B, for the views: what A sees through a view must not change when it is added.
            extra_b = self.seeder.values_for(self.name, b) if self.views and not self.owner_is_key else None
        rows_b = list(self.seeder.rows.get((self.name, b.label), [row_b]))
        rows_a = list(self.seeder.rows.get((self.name, a.label), [row_a]))
        try:
            for principal in self.tried_as():
                self.use_principal(principal)
                if isinstance(self.isolation.allow, dict):
                    for role in self.isolation.allow:
                        with self.savepoint():
                            self.as_member(role)
                            self.probe_user(a, row_a, row_b, rows_b, new_a, new_b, attach, move, protected)
                    self.member_role, self.allowed = None, allowed_commands(self.declared)
                else:
                    self.probe_user(a, row_a, row_b, rows_b, new_a, new_b, attach, move, protected)
        finally:
            self.use_principal(None)  # A is shared by every table's matrix
        self.probe_views(row_b, extra_b)
        self.probe_anonymous(row_a, rows_a, new_a)
        return self.outcome

    @contextmanager
    def seeding(self) -> Iterator[None]:
        """Keep what seeding creates; if it fails, undo it (rows and the seeder's memory of them)."""
        name = sql.Identifier(f"pgcontract_seed_{secrets.token_hex(4)}")
        state = self.seeder.checkpoint()
        self.cur.execute(sql.SQL("SAVEPOINT {}").format(name))
        try:
            yield
        except BaseException:
            self.cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(name))
            self.seeder.restore(state)
            raise
        self.cur.execute(sql.SQL("RELEASE SAVEPOINT {}").format(name))
        self.seeder.act_as(None)  # the probes start with no identity but the one they switch to

    def as_member(self, role: str) -> None:
        """Make user A's membership of its tenant carry ``role`` (as the seeding role, in the caller's
        savepoint), and judge by what ``allow`` gives that role."""
        membership = self.membership
        if membership is None or membership.role is None:
            raise SeedError(
                f"'allow' per role on {self.name}: its ownership chain ('via') ends at no table with 'membership'"
                " and 'role', so there is no role to give user A"
            )
        tenant = self.seeder.tenants.get((membership.table, self.a.label))
        if tenant is None or self.a.identity is None:
            raise SeedError(f"user A has no membership in {membership.table} to give the role {role!r}")
        statement = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s AND {} = %s").format(
            ident(QualifiedName.parse(membership.table)),
            sql.Identifier(membership.role),
            sql.Identifier(membership.tenant),
            sql.Identifier(membership.user),
        )
        try:
            self.cur.execute(statement, [role, tenant, self.a.identity])
        except BUSY_ERRORS:
            raise
        except psycopg.Error as exc:
            reason = exc.diag.message_primary
            raise SeedError(f"cannot make user A a {role!r} in {membership.table}: {reason}") from None
        if self.cur.rowcount != 1:
            raise SeedError(f"user A's membership row in {membership.table} was not found to give it role {role!r}")
        self.member_role = role
        self.allowed = allowed_commands(self.declared, role)

    def side_values(self, a: Principal) -> Values:
        """A chooses every value A may write: columns that reference users or that a policy compares with
        the caller are filled with A's own id (or A's user row), so that a check on such a side column
        (``author_id = auth.uid()``) cannot hide a row planted for B or under B's parent."""
        values: Values = {}
        for fk in self.actual.constraints_of("f"):
            if len(fk.columns) != 1 or fk.ref_table is None or not self._is_users(fk.ref_table):
                continue
            values[fk.columns[0]] = self.seeder.row(fk.ref_table, a).values[fk.ref_columns[0]]
        if a.identity is not None:
            for column in caller_columns(self.actual):
                values.setdefault(column, a.identity)
        return values

    def _is_users(self, name: QualifiedName) -> bool:
        """The table that holds the users themselves (Supabase's auth.users)."""
        return isinstance(self.impersonation, SupabaseImpersonation) and name == QualifiedName("auth", "users")

    def without_ownership(self, side: Values, columns: tuple[str, ...]) -> Values:
        """Side values that do not touch what makes the row B's (owner, ownership key, the attached key)."""
        fixed = set(columns) | set(self.isolation.via or ()) | {self.isolation.owner}
        return {c: v for c, v in side.items() if c not in fixed}

    def attach_variants(self, a: Principal, b: Principal) -> list[tuple[str, tuple[str, ...], Values]]:
        """A's new row, but hanging from B's parent (through each owned parent): must be refused."""
        variants: list[tuple[str, tuple[str, ...], Values]] = []
        actual = self.actual
        for fk in actual.constraints_of("f"):
            if fk.ref_table is None or fk.ref_table == self.name:
                continue
            parent_isolation = self.seeder.isolation(fk.ref_table)
            on_path = self.isolation.via is not None and tuple(self.isolation.via) == fk.columns
            if parent_isolation is None or on_path or set(fk.columns) <= set(self.isolation.cross_owner):
                continue
            if not all(actual.columns[c].not_null for c in fk.columns if c in actual.columns):
                continue
            parent_b = self.seeder.row(fk.ref_table, b)
            values = self.seeder.values_for(self.name, a)
            for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):
                values[column] = parent_b.values[ref_column]
            variants.append((f"{fk.ref_table} of user B (through {', '.join(fk.columns)})", fk.columns, values))
        return variants

    def move_assignments(self, b: Principal) -> Values:
        """What moves a row to B: its owner column, or its ownership foreign key pointing at B's parent."""
        if self.isolation.owner is not None:
            return {self.isolation.owner: self.seeder.owner_value(self.name, b)}
        if self.isolation.via is not None:
            fk = next(c for c in self.actual.constraints_of("f") if c.columns == tuple(self.isolation.via))
            assert fk.ref_table is not None
            parent_b = self.seeder.row(fk.ref_table, b)
            return {c: parent_b.values[rc] for c, rc in zip(fk.columns, fk.ref_columns, strict=True)}
        return {}

    def protected_values(self, row_a: SeededRow, b: Principal) -> Values:
        """For each protected column, a value other than the one A's row holds: B's row for a foreign key
        (hand the row to B, point it at B's user), another label or value of its type otherwise."""
        found: Values = {}
        for column in self.isolation.protected:
            declared = self.actual.columns.get(column)
            if declared is None:
                raise SeedError(f"{self.name} has no column {column!r} (isolation.protected)")
            current = row_a.values.get(column)
            fk = next((c for c in self.actual.constraints_of("f") if c.columns == (column,)), None)
            if fk is not None and fk.ref_table is not None and fk.ref_table != self.name:
                value = self.seeder.row(fk.ref_table, b).values[fk.ref_columns[0]]
                if value != current:
                    found[column] = value
                    continue
            options = [generate(declared, self.actual, self.snapshot, n=n, distinct=True) for n in range(8)]
            options += ["true", "false"] if declared.type in ("boolean", "bool") else []
            # The last other label first: enums and IN lists tend to end with the most powerful (admin). The
            # options cycle through the labels (n % len): each once, in order, or the 8th would be picked.
            other = next((v for v in reversed(list(dict.fromkeys(options))) if v != current), None)
            if other is None:
                raise SeedError(f"cannot find a value for {self.name}.{column} other than {current!r} (protected)")
            found[column] = other
        return found

    def probe_user(
        self,
        a: Principal,
        row_a: SeededRow,
        row_b: SeededRow,
        rows_b: list[SeededRow],
        new_a: Values,
        new_b: Values,
        attach: list[tuple[str, Values]],
        move: Values,
        protected: Values,
    ) -> None:
        t, who, writes = self.name, self.who, self.writes
        before_b = self.versions(rows_b)
        with self.savepoint():
            self.become(a)
            cross_clean = self.probe_reads(row_a, row_b)
            result = self.insert_as(a, new_b, row_b)
            if "insert" in writes:
                if result is not None and not result.ok:
                    self.write_refused("insert", f"insert a row owned by user B into {t}", result.error or "refused")
            elif result is not None and result.ok:
                self.fail(
                    "isolation.insert_other",
                    f"{who} inserted a row owned by user B into {t}",
                    "refused",
                    "inserted",
                    "insert",
                )
            for parent, values in attach if "insert" not in writes else ():
                result = self.insert(values)
                if result.ok:
                    self.fail(
                        "isolation.attach_other",
                        f"{who} attached a row in {t} to {parent}",
                        "refused",
                        "inserted",
                        "insert",
                    )
            if move and "update" not in writes:
                self.probe_move(row_a, move, cross_clean)
            result = self.touch(row_b)
            if "update" in writes:
                if not result.ok or result.rows != 1:
                    self.write_refused("update", f"update the row of user B in {t}", result.error or "0 rows updated")
            elif result.ok and result.rows:
                self.fail(
                    "isolation.update_other",
                    f"{who} updated {result.rows} row{_s(result.rows)} of user B in {t} (UPDATE ... WHERE)",
                    "0 rows",
                    f"{result.rows}",
                    "update",
                )
            result = self.delete(row_b)
            if "delete" in writes:
                if (not result.ok or result.rows != 1) and result.sqlstate != FOREIGN_KEY_VIOLATION:
                    self.write_refused("delete", f"delete the row of user B in {t}", result.error or "0 rows deleted")
            elif result.ok and result.rows:
                self.fail(
                    "isolation.delete_other",
                    f"{who} deleted {result.rows} row{_s(result.rows)} of user B in {t} (DELETE ... WHERE)",
                    "0 rows",
                    f"{result.rows}",
                    "delete",
                )
            elif result.sqlstate == FOREIGN_KEY_VIOLATION:
                # The key is checked after the policies let the row go: only B's child rows saved it, and
                # B's row without children (or with cascading ones) would have been deleted.
                self.fail(
                    "isolation.delete_other",
                    f"{who} could delete the row of user B in {t} (DELETE ... WHERE): the policies let it "
                    f"through and only a foreign key refused it ({result.error})",
                    "0 rows",
                    "row matched, refused by a foreign key",
                    "delete",
                )
            if not {"update", "delete"} <= writes:
                self.probe_unfiltered(False, row_a, "user B", rows_b, before_b)
            # 'protected' binds users; a principal that may update every row may change those columns too.
            self.probe_own(row_a, new_a, protected if "update" not in writes else {})

    def write_refused(self, command: str, what: str, reason: str) -> None:
        """The principal A is tried as could not do what ``isolation.write`` lets it do to B's row."""
        self.fail(
            "isolation.write_declared",
            f"{self.who} cannot {what}, which 'write' allows {self.principal}: {reason}",
            "allowed",
            reason,
            command,
        )

    def probe_reads(self, row_a: SeededRow, row_b: SeededRow) -> bool:
        """A's reads; True when A sees no row of B."""
        t, who = self.name, self.who
        seen = self.visible([row_a, row_b])
        if isinstance(seen, Attempt):
            if self.readers in ("anon", "authenticated") or (self.readers == "members" and "select" in self.allowed):
                self.fail(
                    "isolation.read_own",
                    f"{who} cannot read own rows in {t}: {seen.error}",
                    "own row visible",
                    "SELECT failed",
                    "select",
                )
            return False
        own, other = seen
        if self.readers == "none":
            if own or other:
                self.fail(
                    "isolation.read_other",
                    f"{who} read {own + other} row{_s(own + other)} in {t}, which 'read' opens only to "
                    f"{', '.join(self.isolation.read_by)}",
                    "0 rows",
                    f"{own + other}",
                    "select",
                )
            return other == 0
        if other and self.readers == "members":
            self.fail(
                "isolation.read_other",
                f"{who} read {other} row{_s(other)} of user B in {t}",
                "0 rows of user B",
                f"{other} row{_s(other)}",
                "select",
            )
        if not other and self.readers != "members":
            opened = (
                f"'read: [{', '.join(self.isolation.read_by)}]' opens to {self.principal}"
                if self.principal is not None
                else f"'read: {self.readers}' opens to every signed-in user"
            )
            self.fail(
                "isolation.read_declared",
                f"{who} cannot read the row of user B in {t}, which {opened}",
                "1 row of user B",
                "0 rows",
                "select",
            )
        if own == 0 and ("select" in self.allowed or self.readers != "members"):
            self.fail(
                "isolation.read_own",
                f"{who} cannot read own row in {t} (policy too strict or grant missing)",
                "1 own row",
                "0 rows",
                "select",
            )
        elif own and "select" not in self.allowed and self.readers == "members":
            self.fail(
                "isolation.not_allowed",
                f"{who} read own row in {t}, but 'allow' leaves out select",
                "0 rows",
                f"{own}",
                "select",
            )
        return other == 0

    def probe_move(self, row_a: SeededRow, move: Values, cross_clean: bool) -> None:
        t, who = self.name, self.who
        result = self.update(move, row_a)
        if result.ok and result.rows:
            self.fail(
                "isolation.move_to_other",
                f"{who} moved own row of {t} to user B (UPDATE ... WHERE)",
                "refused",
                f"{result.rows} row{_s(result.rows)} moved",
                "update",
            )
        # Without WHERE the UPDATE escapes SELECT policies; it says something only when the rows A reaches
        # are A's alone, or readable by design.
        if cross_clean or self.readers != "members":
            result = self.update(move, None)
            if result.ok and result.rows:
                self.fail(
                    "isolation.move_to_other",
                    f"{who} moved own row{_s(result.rows)} of {t} to user B (UPDATE without WHERE)",
                    "refused",
                    f"{result.rows} row{_s(result.rows)} moved",
                    "update",
                )

    def probe_unfiltered(
        self, anonymous: bool, own: SeededRow, whose: str, rows: list[SeededRow], versions: list[tuple[str, str]]
    ) -> None:
        """UPDATE and DELETE without WHERE, on an ordinary column: no row of ``whose`` (``rows``, at
        ``versions``) may change. Without WHERE the statements escape the SELECT policies, so only the
        UPDATE/DELETE policies stand."""
        t = self.name
        actor = self.impersonation.anonymous_name if anonymous else self.who
        back = (lambda: self.become(None)) if anonymous else (lambda: self.become(self.a))
        updated, deleted, refusal = self.unfiltered_changes(own, rows, versions, back, actor)
        if updated and "update" not in self.writes:
            self.fail(
                "isolation.update_unfiltered",
                f"{actor} changed {updated} row{_s(updated)} of {whose} in {t} with an UPDATE of "
                f"{self.plain_column} without WHERE",
                f"0 rows of {whose}",
                f"{updated}",
                "update",
            )
        if deleted and "delete" not in self.writes and refusal is not None:
            self.fail(
                "isolation.delete_unfiltered",
                f"{actor} could delete {deleted} row{_s(deleted)} of {whose} in {t} with a DELETE without WHERE:"
                f" the policies let it through and only a foreign key refused it ({refusal})",
                f"0 rows of {whose}",
                f"{deleted} row{_s(deleted)} matched, refused by a foreign key",
                "delete",
            )
        elif deleted and "delete" not in self.writes:
            self.fail(
                "isolation.delete_unfiltered",
                f"{actor} deleted {deleted} row{_s(deleted)} of {whose} in {t} with a DELETE without WHERE",
                f"0 rows of {whose}",
                f"{deleted}",
                "delete",
            )

    def unfiltered_changes(
        self,
        own: SeededRow,
        rows: list[SeededRow],
        versions: list[tuple[str, str]],
        back: Callable[[], None],
        actor: str,
    ) -> tuple[int, int, str | None]:
        """How many of ``rows`` the current caller's UPDATE and DELETE without WHERE change, and, when only a
        foreign key refused the DELETE, that refusal. A DELETE that fails on a key is rolled back as a whole
        and reads as 0 rows, whoever's row the policies let through; under RLS the error does not name the
        key (PostgreSQL withholds its value). So the DELETE is tried again, in a savepoint, with the child
        rows of every row the test created in this table removed first (as the seeding role); ``back``
        switches to the caller again. What it deletes then is what the policies let it delete."""
        errors: list[psycopg.Error | None] = []
        updated, deleted = self.changed_by_current(self.unfiltered(own), versions, errors)
        refused = errors[1]
        if refused is None or refused.sqlstate != FOREIGN_KEY_VIOLATION:
            return updated, deleted, None
        refusal = refused.diag.message_primary or " ".join(str(refused).split())
        t = self.name
        with self.savepoint():
            self.as_seeder()
            mine = [r for (name, _), found in self.seeder.rows.items() if name == t for r in found]
            try:
                self.remove_children(t, _rows_condition(self.versions(mine)))
            except BUSY_ERRORS:
                raise
            except psycopg.Error as exc:
                self.outcome.notes.append(
                    f"{actor}'s DELETE without WHERE on {t} not judged: a foreign key refused it ({refusal}), and "
                    f"the child rows of the test's rows could not be removed to try again: {exc.diag.message_primary}"
                )
                return updated, 0, None
            versions = self.versions(rows)  # a trigger on the children may have updated the row
            back()
            again: list[psycopg.Error | None] = []
            (deleted,) = self.changed_by_current([self.unfiltered(own)[1]], versions, again)
        if again[0] is not None:
            self.outcome.notes.append(
                f"{actor}'s DELETE without WHERE on {t} not judged: a foreign key refused it ({refusal}), also with "
                f"the child rows of the test's rows removed (rows the test did not make hold the key)"
            )
            return updated, 0, None
        return updated, deleted, refusal

    def remove_children(
        self, table: QualifiedName, condition: sql.Composable, path: tuple[QualifiedName, ...] = ()
    ) -> None:
        """As the seeding role, delete the rows that reference the rows of ``table`` ``condition`` selects,
        theirs first (any depth up to CHILD_DEPTH, each table once along a path). Keys that set NULL or a
        default refuse nothing; a table's references to itself are left: a DELETE without WHERE takes
        those rows too."""
        if len(path) >= CHILD_DEPTH:
            return
        for child in self.snapshot.tables.values():
            if child.name == table or child.name in path:
                continue
            for fk in child.constraints_of("f"):
                if fk.ref_table != table or fk.inherited or fk.on_delete in ("set null", "set default"):
                    continue
                of_child = sql.SQL("({}) IN (SELECT {} FROM {} WHERE {})").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in fk.columns),
                    sql.SQL(", ").join(sql.Identifier(c) for c in fk.ref_columns),
                    ident(table),
                    condition,
                )
                self.remove_children(child.name, of_child, (*path, table))
                self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(child.name), of_child))

    def probe_own(self, row_a: SeededRow, new_a: Values, protected: Values) -> None:
        """What A may do to own rows is exact: allowed commands succeed, the others are refused."""
        t, who, allowed = self.name, self.who, self.allowed | self.writes  # 'write' covers own rows too
        left_out = "'allow' leaves out {}" + (f" for {self.member_role}" if self.member_role else "")
        result = self.insert_as(self.a, new_a, row_a)
        if result is None:
            self.outcome.notes.append(f"own INSERT not tried: the existing row of user A in {t} could not be removed")
        elif "insert" in allowed and not result.ok:
            hint = ""
            if result.sqlstate == UNIQUE_VIOLATION:
                hint = duplicate_hint(result.constraint, t, self.isolation, self.snapshot)
            self.fail(
                "isolation.insert_own",
                f"{who} cannot insert own row into {t}: {result.error}" + (f"; {hint}" if hint else ""),
                "inserted",
                "refused",
                "insert",
            )
        elif "insert" not in allowed and result.ok:
            self.fail(
                "isolation.not_allowed",
                f"{who} inserted own row into {t}, but {left_out.format('insert')}",
                "refused",
                "inserted",
                "insert",
            )
        attempts: tuple[tuple[str, str, Callable[[SeededRow], Attempt]], ...] = (
            ("update", "updated", self.touch),
            ("delete", "deleted", self.delete),
        )
        for command, done, attempt in attempts:
            result = attempt(row_a)
            if command in allowed and (not result.ok or result.rows != 1):
                reason = result.error or f"0 rows {done}"
                self.fail(
                    f"isolation.{command}_own",
                    f"{who} cannot {command} own row in {t}: {reason}",
                    "1 row",
                    reason,
                    command,
                )
            elif command not in allowed and result.ok and result.rows:
                self.fail(
                    "isolation.not_allowed",
                    f"{who} {done} own row in {t}, but {left_out.format(command)}",
                    "0 rows",
                    f"{result.rows}",
                    command,
                )
        for column, value in protected.items():
            current = row_a.values.get(column)
            for form, row in (("UPDATE ... WHERE", row_a), ("UPDATE without WHERE", None)):
                result = self.update({column: value}, row)
                if result.ok and result.rows:
                    self.fail(
                        "isolation.protected",
                        f"{who} changed protected column {column} of own row in {t} from {current!r} to "
                        f"{value!r} ({form})",
                        "refused",
                        f"{result.rows} row{_s(result.rows)} changed",
                        "update",
                    )
                    break

    def probe_views(self, row_b: SeededRow, extra_b: Values | None) -> None:
        """Every view reading the table that A or the caller with no identity may SELECT: what they see
        through it must not change when B gets one more row (or, with one row per user, loses it). Only
        those the table's and the view's 'read' keep from B's rows are tried: signed-in users read everything
        through a view declared 'read: authenticated' (the anonymous caller still may not), everyone through
        'read: anon'. Two round trips per view (it runs for every table of a large schema): who may read each
        view is asked once per session."""
        if not self.views or self.readers == "anon":
            return
        callers = {"A": self.impersonation.switch(self.a), None: self.impersonation.switch_anonymous()}
        as_seeder_b = (self.seeder_role, self.impersonation.seeding_settings(self.b))
        change = self.change_of_b(row_b, extra_b)
        for view in self.views:
            declared = self.contract.view_map.get(view.name)
            opened = max(self.readers, declared.read if declared else "members", key=WIDER.__getitem__)
            kept_out = {"A": opened == "members", None: opened != "anon"}
            trying = {label: switch for label, switch in callers.items() if kept_out[label]}
            if not trying:
                continue  # shown to everyone on purpose: nothing to measure
            readers = self.session.view_readers(view.name, {role for role, _ in callers.values()})
            reading = {label: switch for label, switch in trying.items() if switch[0] in readers}
            if not reading:
                continue  # nothing to leak through
            point = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}")
            undo = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(point)
            reads = [part for switch in reading.values() for part in (*_switch(switch), fingerprint(view.name))]
            try:
                before = self.read_as(
                    self.batch([sql.SQL("SAVEPOINT {}").format(point), *reads]), list(reading.values())
                )
                if view.materialized:
                    self.cur.execute(undo)
                    for label in reading:
                        self.view_leak(view, label, "it can read its copy of every user's rows", opened)
                    continue
                rows = self.batch([*_switch(as_seeder_b), change, *reads, undo])  # the last one undoes the rest
            except _NotTried as exc:
                self.cur.execute(undo)
                self.outcome.notes.append(f"view {view.name} not tried on {self.name}: {exc}")
                continue
            after = self.read_as(rows, [as_seeder_b, *reading.values()], first_reads=False)
            added = "removed" if extra_b is None else "added"
            for label, seen, now in zip(reading, before, after, strict=True):
                if now != seen:
                    actual = f"{now[0]} rows instead of {seen[0]} once a row of user B was {added}"
                    self.view_leak(view, label, actual, opened)

    def change_of_b(self, row_b: SeededRow, extra_b: Values | None) -> sql.Composed:
        """One more row of B (``extra_b``), or B's row removed. Literals, not parameters: it travels in one
        simple query with the switches and the reads."""
        if extra_b is not None:
            return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                ident(self.name),
                sql.SQL(", ").join(sql.Identifier(c) for c in extra_b),
                sql.SQL(", ").join(sql.Literal(v) for v in extra_b.values()),
            )
        # Untyped literals take the column's type, so the key's index serves.
        keys = {c: row_b.values[c] for c in self.key_columns} or {"tableoid": row_b.tableoid, "ctid": row_b.ctid}
        condition = sql.SQL(" AND ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), sql.Literal(v)) for c, v in keys.items()
        )
        return sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition)

    def batch(self, statements: list[sql.Composable]) -> list[tuple[Any, ...]]:
        """Several statements in one round trip: the rows of every result, in order. _NotTried when one of
        them fails (nothing after it ran)."""
        try:
            self.cur.execute(sql.SQL("; ").join(statements))
        except BUSY_ERRORS:
            raise
        except psycopg.Error as exc:
            raise _NotTried(" ".join(str(exc).split())) from None
        rows: list[tuple[Any, ...]] = []
        while True:
            if self.cur.description is not None:
                rows.extend(self.cur.fetchall())
            if not self.cur.nextset():
                return rows

    def read_as(
        self, rows: list[tuple[Any, ...]], switches: list[tuple[str, dict[str, str]]], *, first_reads: bool = True
    ) -> list[tuple[int, int]]:
        """The fingerprints a batch read after each switch (but the first, unless ``first_reads``), having
        checked that each switch (two rows: set_config's, current_user's) made ``current_user`` its role."""
        found = []
        at = 0
        for n, (role, _) in enumerate(switches):
            if rows[at + 1][0] != role:
                raise ImpersonationFailed(f"switched to role {role!r} but current_user is {rows[at + 1][0]!r}")
            at += 2
            if n or first_reads:
                found.append((int(rows[at][0]), int(rows[at][1])))
                at += 1
        return found

    def view_leak(self, view: View, label: str | None, actual: str, opened: str) -> None:
        # The failure names the caller's role and the table's SELECT policies for it.
        if label is None:
            self.become(None)
            who = self.impersonation.anonymous_name
        else:
            self.become(self.a)
            who = self.who
        role = self.acting_role or ""
        self.as_seeder()  # what follows reads as the seeding role (the caller may not read the table at all)
        message = f"{who} read rows of user B in {self.name} through {how_it_reads(view)}"
        if opened != "authenticated":
            self.fail("isolation.view_read", f"{message}; fix: {fix(view, role)}", "no row of user B", actual, "select")
            return
        # Signed-in users may read every row through it (the view's or the table's 'read: authenticated'),
        # anonymous callers may not: taking the view's reader away is what keeps the declared sharing.
        declared = self.contract.view_map.get(view.name)
        declared_by_view = declared is not None and declared.read == "authenticated"
        whose = "the view's 'read: authenticated'" if declared_by_view else f"{self.name}'s 'read: authenticated'"
        self.fail(
            "isolation.view_anonymous_read",
            f"{message}, which {whose} opens to signed-in users only; fix: {revoke(view, role)}",
            "no row of user B",
            actual,
            "select",
        )

    def probe_never_set(self) -> None:
        """The no-identity caller of a fresh session (setting mode): ``current_setting(name, true)`` is
        NULL there, not '', and a policy may open up on NULL alone, for reading or for writing."""
        impersonation = self.impersonation
        if not isinstance(impersonation, SettingImpersonation):
            return
        seen, t, who = self.never_set, self.name, impersonation.never_set_name
        if seen is None:
            self.outcome.notes.append(f"{who} not tried: the session had used {impersonation.auth.setting} before")
            return
        if isinstance(seen, str):
            self.outcome.notes.append(f"{who} not tried on {t}: {seen}")
            return
        self.acting_role = impersonation.auth.role
        if seen.read and self.readers != "anon":
            self.fail(
                "isolation.anonymous_read",
                f"{who} read {seen.read} row{_s(seen.read)} of user A in {t}",
                "0 rows",
                f"{seen.read}",
                "select",
            )
        if seen.inserted:
            self.fail(
                "isolation.never_set_write",
                f"{who} inserted a row owned by user A into {t}",
                "refused",
                "inserted",
                "insert",
            )
        self.outcome.notes.extend(seen.notes)
        if seen.deleted and seen.delete_refusal is not None:
            self.fail(
                "isolation.never_set_write",
                f"{who} could delete {seen.deleted} row{_s(seen.deleted)} of user A in {t} with DELETE without"
                f" WHERE: the policies let it through and only a foreign key refused it ({seen.delete_refusal})",
                "0 rows of user A",
                f"{seen.deleted} row{_s(seen.deleted)} matched, refused by a foreign key",
                "delete",
            )
        deleted = seen.deleted if seen.delete_refusal is None else 0
        for command, done, count in (("update", "changed", seen.updated), ("delete", "deleted", deleted)):
            if count:
                self.fail(
                    "isolation.never_set_write",
                    f"{who} {done} {count} row{_s(count)} of user A in {t} with {command.upper()} without WHERE",
                    "0 rows of user A",
                    f"{count}",
                    command,
                )

    def unfiltered(self, own: SeededRow) -> list[sql.Composed]:
        """UPDATE of an ordinary column and DELETE, both without WHERE (which escapes the SELECT policies).
        The UPDATE sets a constant (the value ``own`` holds, so it fits the column's checks): ``SET c = c``
        reads the column, which brings the SELECT policies back in and hides what the UPDATE policy allows."""
        value = sql.Literal(own.values.get(self.plain_column))
        update = sql.SQL("UPDATE {} SET {} = {}").format(ident(self.name), sql.Identifier(self.plain_column), value)
        return [update, sql.SQL("DELETE FROM {}").format(ident(self.name))]

    def probe_anonymous(self, row_a: SeededRow, rows_a: list[SeededRow], new_a: Values) -> None:
        t = self.name
        who = self.impersonation.anonymous_name
        self.probe_never_set()
        before_a = self.versions(rows_a)
        with self.savepoint():
            self.become(None)
            seen = self.visible([row_a])
            if isinstance(seen, Attempt) or not seen[0]:
                if self.readers == "anon":
                    reason = seen.error if isinstance(seen, Attempt) else "0 rows"
                    self.fail(
                        "isolation.read_declared",
                        f"{who} cannot read the row of user A in {t}, which 'read: anon' opens to everyone: {reason}",
                        "1 row of user A",
                        reason or "refused",
                        "select",
                    )
            elif self.readers != "anon":
                self.fail(
                    "isolation.anonymous_read",
                    f"{who} read {seen[0]} row{_s(seen[0])} of user A in {t}",
                    "0 rows",
                    f"{seen[0]}",
                    "select",
                )
            if self.insert(new_a).ok:
                self.fail(
                    "isolation.anonymous_write",
                    f"{who} inserted a row owned by user A into {t}",
                    "refused",
                    "inserted",
                    "insert",
                )
            result = self.touch(row_a)
            if result.ok and result.rows:
                self.fail(
                    "isolation.anonymous_write",
                    f"{who} updated a row of user A in {t}",
                    "0 rows",
                    f"{result.rows}",
                    "update",
                )
            result = self.delete(row_a)
            if result.ok and result.rows:
                self.fail(
                    "isolation.anonymous_write",
                    f"{who} deleted a row of user A in {t}",
                    "0 rows",
                    f"{result.rows}",
                    "delete",
                )
            self.probe_unfiltered(True, row_a, "user A", rows_a, before_a)


def _switch(switch: tuple[str, dict[str, str]]) -> list[sql.Composable]:
    """A role switch as statements for a batch (its two results: set_config's, then current_user's)."""
    return [Impersonation.switch_sql(*switch)]


def _keys(table: CatalogTable) -> list[set[str]]:
    """The column sets of the table's primary key, UNIQUE constraints and plain unique indexes."""
    found = [set(c.columns) for c in table.constraints if c.kind in ("p", "u")]
    for index in table.indexes.values():
        if index.unique and index.predicate is None and None not in index.key_columns:
            found.append({c for c in index.key_columns if c is not None})
    return found


def _rows_condition(versions: list[tuple[str, str]]) -> sql.Composable:
    """The rows at ``versions`` (tableoid, ctid), as a WHERE condition."""
    if not versions:
        return sql.SQL("false")
    pairs = sql.SQL(", ").join(
        sql.SQL("({}, {}::tid)").format(sql.Literal(oid), sql.Literal(ctid)) for oid, ctid in versions
    )
    return sql.SQL("(tableoid::text, ctid) IN ({})").format(pairs)


def _s(count: int) -> str:
    return "" if count == 1 else "s"


class IsolationSession:
    """The dynamic RLS tests of one run: one connection, one transaction (always rolled back) holding the
    synthetic users and their rows, each table's matrix under savepoints. Sharing the transaction lets a
    table reuse the rows created for the tables before it as parents: deep foreign-key graphs cost one
    new row per table, not a whole chain."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        contract: Contract,
        snapshot: Snapshot,
        *,
        throwaway: bool,
        limits: SessionLimits,
    ) -> None:
        if contract.auth is None:
            raise SeedError("the contract has no 'auth' section: it says how to impersonate users")
        self.conn = conn
        self.contract = contract
        self.snapshot = snapshot
        self.throwaway = throwaway
        self.limits = limits
        self.impersonation = impersonation_for(contract.auth)
        self._cur: Cursor | None = None
        self._seeder: Seeder | None = None
        self._written: set[QualifiedName] = set()  # tables test rows went into, across rollbacks
        self.seeder_role = ""  # set when the transaction begins
        self.a = self.impersonation.new_principal("A")
        self.b = self.impersonation.new_principal("B")
        # Setting mode: per table, how many of A's rows the caller with the setting never set read, or why
        # it was not tried; None until measured (it can only be measured before the session sets the name).
        self.never_set: dict[QualifiedName, NeverSet | str] | None = None
        self.views_reading = views_reading(snapshot.views)
        self._view_readers: dict[QualifiedName, frozenset[str]] | None = None

    @property
    def cur(self) -> Cursor:
        if self._cur is None:
            self._cur = self._begin()
        return self._cur

    @property
    def seeder(self) -> Seeder:
        self.cur  # noqa: B018 - begins the transaction, which creates the seeder
        assert self._seeder is not None
        return self._seeder

    def _begin(self) -> Cursor:
        conn = self.conn
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.rollback()
        # A transaction (under autocommit, transaction-local settings would silently do nothing), and a
        # read-write one: test rows are written, and finish() rolls them back.
        conn.autocommit = False
        conn.read_only = False
        conn.isolation_level = None  # the server's default (READ COMMITTED), whatever a snapshot read set
        cur = conn.cursor()
        apply_limits(conn, self.limits)
        seed_role = self.contract.auth.seed_role if self.contract.auth is not None else None
        if seed_role:
            Impersonation.set_role(cur, seed_role)
        self.seeder_role = check_seed_role(cur)
        self._seeder = Seeder(cur, self.contract, self.snapshot, self.impersonation, count_rows=self.throwaway)
        self._seeder.start()
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))  # parents of parents of ...
        for principal in (self.a, self.b):
            self.impersonation.prepare(cur, principal)
            self._prepare_user_row(principal)
        self.impersonation.prepare_anonymous(cur)
        if isinstance(self.impersonation, SettingImpersonation) and self.never_set is None:
            self._cur = cur
            self.never_set = self._probe_never_set(self.impersonation)
        return cur

    def view_readers(self, view: QualifiedName, roles: set[str]) -> frozenset[str]:
        """Which of ``roles`` may SELECT ``view`` (memberships included), asked once for every view that
        reads an isolated table and every role the probes act as."""
        if self._view_readers is None:
            views = sorted({v.name for found in self.views_reading.values() for v in found}, key=str)
            self.cur.execute(
                "SELECT v, array_agg(r) FILTER (WHERE has_table_privilege(r, v::regclass, 'SELECT'))"
                " FROM unnest(%s::text[]) AS v, unnest(%s::text[]) AS r"
                " WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) GROUP BY v",
                [[sql.Identifier(n.schema, n.name).as_string(self.cur) for n in views], sorted(roles)],
            )
            by_text = {sql.Identifier(n.schema, n.name).as_string(self.cur): n for n in views}
            self._view_readers = {by_text[v]: frozenset(r or ()) for v, r in self.cur.fetchall()}
        return self._view_readers.get(view, frozenset())

    def _probe_never_set(self, impersonation: SettingImpersonation) -> dict[QualifiedName, NeverSet | str] | None:
        """Before anything sets the name in this session (then it reads '' for good, even after a rollback):
        A's row of every table, seeded with the setting left alone, and what the application role with the
        setting never set does to it: reads it, inserts another row of A's, changes or deletes it with
        UPDATE and DELETE without WHERE. All undone afterwards; None when the session had used it."""
        cur, seeder = self.cur, self.seeder
        cur.execute("SELECT current_setting(%s, true) IS NULL", [impersonation.auth.setting])
        fetched = cur.fetchone()
        if fetched is None or not fetched[0]:
            return None
        found: dict[QualifiedName, NeverSet | str] = {}
        outer, state = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}"), seeder.checkpoint()
        cur.execute(sql.SQL("SAVEPOINT {}").format(outer))
        impersonation.untouched = True
        try:
            for name in isolation_tables(self.contract):
                if not_testable(self.contract, self.snapshot, name) is not None:
                    continue
                matrix = Matrix(self, name)
                try:
                    with matrix.seeding():
                        row = seeder.row(name, self.a)
                        new = seeder.values_for(name, self.a)
                except SeedError as exc:
                    found[name] = f"A's row could not be made without the setting: {exc}"
                    continue
                versions = matrix.versions([row])
                with matrix.savepoint():
                    matrix.become_never_set(impersonation)
                    seen = matrix.visible([row])
                    inserted = matrix.insert(new).ok
                    back = functools.partial(matrix.become_never_set, impersonation)
                    updated, deleted, refusal = matrix.unfiltered_changes(
                        row, [row], versions, back, impersonation.never_set_name
                    )
                read = seen[0] if isinstance(seen, list) else 0
                found[name] = NeverSet(read, inserted, updated, deleted, refusal, tuple(matrix.outcome.notes))
        finally:
            impersonation.untouched = False
            cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(outer))
            seeder.restore(state)
        return found

    def _prepare_user_row(self, principal: Principal) -> None:
        """Supabase users are rows of auth.users, created up front as Supabase Auth creates them (an
        e-mail sign-up, confirmed), so the application's signup triggers run as they do in production."""
        users = QualifiedName("auth", "users")
        impersonation = self.impersonation
        if not isinstance(impersonation, SupabaseImpersonation) or users not in self.snapshot.tables:
            return
        columns = self.snapshot.tables[users].columns
        platform: Values = {
            "id": principal.identity,
            "email": principal.extra.get("email"),
            "aud": "authenticated",
            "role": impersonation.auth.user_role,
            "raw_app_meta_data": json.dumps(impersonation.app_metadata()),
            "raw_user_meta_data": json.dumps(impersonation.user_metadata(principal)),
            "email_confirmed_at": "now",
        }
        settable = {c.name for c in columns.values() if c.generated is None and c.identity is None}
        values = {k: v for k, v in platform.items() if k in settable}
        assert self._seeder is not None
        self._seeder.create_user(users, principal, values)

    def run(self, name: QualifiedName) -> Outcome:
        """One table's matrix. A SeedError or ImpersonationFailed leaves the session usable."""
        self._written.add(name)
        try:
            return Matrix(self, name).run()
        except (SeedError, ImpersonationFailed):
            if self._cur is not None and self.conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                self.finish()
            raise

    def finish(self) -> list[str]:
        """Roll everything back, then prove nothing was left behind."""
        seeder = self._seeder
        if seeder is not None:
            self._written.update(seeder.inserted_into)
        if self._cur is not None:
            self._cur.close()
        self._cur, self._seeder = None, None
        self.conn.rollback()
        return leftovers(self.conn, seeder, self.limits)

    def sequence_columns(self) -> list[str]:
        """Columns whose sequence the test rows drew from (identity, ``nextval`` defaults): ROLLBACK does not
        give sequence values back, so on a real database these sequences stay advanced."""
        written = self._written | (self._seeder.inserted_into if self._seeder is not None else set())
        drawn = []
        for name in sorted(written, key=str):
            table = self.snapshot.tables.get(name)
            for column in table.columns.values() if table is not None else ():
                if column.identity is not None or "nextval(" in (column.default or ""):
                    drawn.append(f"{name}.{column.name}")
        return drawn


def run_matrix(
    conn: psycopg.Connection[Any],
    contract: Contract,
    snapshot: Snapshot,
    name: QualifiedName,
    *,
    throwaway: bool,
    limits: SessionLimits,
) -> Outcome:
    """One table's matrix in a transaction of its own, rolled back, then proof that nothing was left."""
    session = IsolationSession(conn, contract, snapshot, throwaway=throwaway, limits=limits)
    try:
        outcome = session.run(name)
    finally:
        left = session.finish()
    outcome.left_behind = left
    return outcome


def check_seed_role(cur: Cursor) -> str:
    """The seeding role (``current_user``), which must bypass RLS."""
    cur.execute("SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    fetched = cur.fetchone()
    if fetched is None or not fetched[1]:
        role = fetched[0] if fetched else "?"
        raise SeedError(
            f"role {role} does not bypass row level security, so it cannot create test rows for two users: "
            "connect as a role with BYPASSRLS, or name one under auth.seed_role"
        )
    return str(fetched[0])


def leftovers(conn: psycopg.Connection[Any], seeder: Seeder | None, limits: SessionLimits) -> list[str]:
    """After the rollback: every touched table holds as many rows as before (throwaway targets), and no
    row the test created exists (by primary key, on any target)."""
    if seeder is None or not seeder.created:
        return []
    problems: list[str] = []
    try:
        with conn.cursor() as cur:
            apply_limits(conn, limits)
            for table, before in seeder.counts_before.items():
                if before is not None and (after := count_rows(cur, table)) != before:
                    problems.append(f"{table} holds {after} rows, {before} before the test")
            for row in seeder.created:
                pk = seeder.snapshot.tables[row.table].constraints_of("p")
                if not pk:
                    continue
                condition = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in pk[0].columns)
                cur.execute(
                    sql.SQL("SELECT count(*) FROM {} WHERE {}").format(ident(row.table), condition),
                    [row.values[c] for c in pk[0].columns],
                )
                fetched = cur.fetchone()
                if fetched is not None and fetched[0]:
                    problems.append(f"a test row of {row.table} is still there")
    finally:
        conn.rollback()
    return problems


def not_testable(contract: Contract, snapshot: Snapshot, name: QualifiedName) -> str | None:
    """Why the matrix of ``name`` cannot run on this database, naming the test that reports it; else None.

    What the matrix needs is the table, its owner column and its ownership foreign key: a database lacking
    one fails that schema test already, and the isolation test is skipped rather than crash.
    """
    table = snapshot.tables.get(name)
    if table is None or not table.in_scope:
        return f"table {name} is missing (reported by test_table[{name}])"
    isolation = contract.table_map[name].isolation
    if isolation is None:
        return None
    if isolation.owner is not None and isolation.owner not in table.columns:
        return f"{name} has no owner column {isolation.owner!r} (reported by test_columns[{name}])"
    if isolation.via is not None and not any(c.columns == tuple(isolation.via) for c in table.constraints_of("f")):
        columns = ", ".join(isolation.via)
        return f"{name} has no ownership foreign key ({columns}) (reported by test_constraints[{name}])"
    return None


def isolation_tables(contract: Contract) -> list[QualifiedName]:
    return [name for name, table in contract.table_map.items() if table.isolation is not None]


__all__ = ["IsolationSession", "Outcome", "SeedError", "Violation", "isolation_tables", "not_testable", "run_matrix"]
