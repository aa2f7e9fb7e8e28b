"""The isolation matrix of one table: users A and B and an anonymous caller, each probing what RLS must
allow and forbid, inside one transaction that is always rolled back.

Probes count only the rows the test created (real tables hold rows of thousands of users). Each write
runs under a savepoint and is rolled back to it, so one probe cannot disturb the next.
"""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgcontract.busy import BUSY_ERRORS
from pgcontract.catalog.snapshot import Snapshot
from pgcontract.connect import SessionLimits, apply_limits
from pgcontract.contract.model import Contract, Isolation, Table
from pgcontract.names import QualifiedName
from pgcontract.rls.explain import duplicate_hint
from pgcontract.rls.identity import Impersonation, Principal, SupabaseImpersonation, impersonation_for
from pgcontract.rls.seed import SeededRow, Seeder, Values, count_rows
from pgcontract.rls.values import SeedError
from pgcontract.sqlgen import ident

Cursor = psycopg.Cursor[Any]
ALL_COMMANDS = ("select", "insert", "update", "delete")
RLS_DENIED = "42501"  # insufficient_privilege: RLS violation or no grant
UNIQUE_VIOLATION = "23505"


class ImpersonationFailed(Exception):
    """``current_user`` is not the role the test switched to: nothing it measured would mean anything."""


@dataclass(frozen=True)
class Violation:
    rule: str  # e.g. "isolation.read_other"
    message: str  # "user A read 1 row of user B in public.t"
    expected: str
    actual: str


@dataclass
class Outcome:
    """What one table's matrix found: violations fail the test; notes explain probes not run."""

    table: QualifiedName
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)

    def add(self, rule: str, message: str, expected: str, actual: str) -> None:
        self.violations.append(Violation(rule, message, expected, actual))


@dataclass(frozen=True)
class Attempt:
    ok: bool
    rows: int
    error: str | None = None
    sqlstate: str | None = None
    constraint: str | None = None


def allowed_commands(table: Table) -> set[str]:
    """What a user may do to own rows: ``isolation.allow``, else what the contract's permissive policies
    grant, else everything."""
    isolation = table.isolation
    if isolation is not None and isolation.allow is not None:
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
        self.cur = session.cur
        self.contract = session.contract
        self.snapshot = session.snapshot
        self.name = name
        self.declared = self.contract.table_map[name]
        isolation = self.declared.isolation
        assert isolation is not None
        self.isolation: Isolation = isolation
        self.impersonation: Impersonation = session.impersonation
        self.seeder = session.seeder
        self.a, self.b = session.a, session.b
        snapshot = self.snapshot
        self.outcome = Outcome(name)
        self.allowed = allowed_commands(self.declared)
        actual = snapshot.tables[name]
        pk = actual.constraints_of("p")
        self.key_columns: tuple[str, ...] = pk[0].columns if pk else ()
        updatable = [c.name for c in actual.columns.values() if c.generated is None and c.identity != "always"]
        self.touch_column = updatable[0] if updatable else next(iter(actual.columns))

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
        self.cur.execute("SELECT current_user::text")
        fetched = self.cur.fetchone()
        if fetched is None or fetched[0] != expected:
            raise ImpersonationFailed(
                f"switched to role {expected!r} but current_user is {fetched[0] if fetched else None!r}"
            )

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
        """An UPDATE that changes nothing (a column set to itself): does the policy let it through?"""
        condition, values = self.where(row)
        column = sql.Identifier(self.touch_column)
        statement = sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(ident(self.name), column, column, condition)
        return self.attempt(statement, values)

    def delete(self, row: SeededRow) -> Attempt:
        condition, values = self.where(row)
        return self.attempt(sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition), values)

    # --- the matrix -----------------------------------------------------------------------------------

    def run(self) -> Outcome:
        a, b = self.a, self.b
        # Rows are created at the session's level (kept, so later tables reuse them as parents); every
        # probe runs under a savepoint that is rolled back.
        with self.seeding():
            row_a = self.seeder.row(self.name, a)
            row_b = self.seeder.row(self.name, b)
            new_a = self.seeder.values_for(self.name, a)
            new_b = self.seeder.values_for(self.name, b)
            attach = self.attach_variants(a, b)
            move = self.move_assignments(b)
        self.probe_user(a, b, row_a, row_b, new_a, new_b, attach, move)
        self.probe_anonymous(row_a, new_a)
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

    def attach_variants(self, a: Principal, b: Principal) -> list[tuple[str, Values]]:
        """A's new row, but hanging from B's parent (through each owned parent): must be refused."""
        variants: list[tuple[str, Values]] = []
        actual = self.snapshot.tables[self.name]
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
            variants.append((f"{fk.ref_table} of user B (through {', '.join(fk.columns)})", values))
        return variants

    def move_assignments(self, b: Principal) -> Values:
        """What moves a row to B: its owner column, or its ownership foreign key pointing at B's parent."""
        if self.isolation.owner is not None:
            return {self.isolation.owner: self.seeder.owner_value(self.name, b)}
        if self.isolation.via is not None:
            actual = self.snapshot.tables[self.name]
            fk = next(c for c in actual.constraints_of("f") if c.columns == tuple(self.isolation.via))
            assert fk.ref_table is not None
            parent_b = self.seeder.row(fk.ref_table, b)
            return {c: parent_b.values[rc] for c, rc in zip(fk.columns, fk.ref_columns, strict=True)}
        return {}

    def probe_user(
        self,
        a: Principal,
        b: Principal,
        row_a: SeededRow,
        row_b: SeededRow,
        new_a: Values,
        new_b: Values,
        attach: list[tuple[str, Values]],
        move: Values,
    ) -> None:
        t, out = self.name, self.outcome
        with self.savepoint():
            self.become(a)
            seen = self.visible([row_a, row_b])
            cross_clean = False
            if isinstance(seen, Attempt):
                if "select" in self.allowed:
                    out.add(
                        "isolation.read_own",
                        f"user A cannot read own rows in {t}: {seen.error}",
                        "own row visible",
                        "SELECT failed",
                    )
            else:
                own, other = seen
                if other and not self.isolation.public_read:
                    out.add(
                        "isolation.read_other",
                        f"user A read {other} row{_s(other)} of user B in {t}",
                        "0 rows of user B",
                        f"{other} row{_s(other)}",
                    )
                cross_clean = other == 0
                if own == 0 and "select" in self.allowed:
                    out.add(
                        "isolation.read_own",
                        f"user A cannot read own row in {t} (policy too strict or grant missing)",
                        "1 own row",
                        "0 rows",
                    )
            result = self.insert(new_b)
            if result.ok:
                out.add(
                    "isolation.insert_other", f"user A inserted a row owned by user B into {t}", "refused", "inserted"
                )
            for parent, values in attach:
                result = self.insert(values)
                if result.ok:
                    out.add(
                        "isolation.attach_other", f"user A attached a row in {t} to {parent}", "refused", "inserted"
                    )
            if move:
                result = self.update(move, row_a)
                if result.ok and result.rows:
                    out.add(
                        "isolation.move_to_other",
                        f"user A moved own row of {t} to user B (UPDATE ... WHERE)",
                        "refused",
                        f"{result.rows} row{_s(result.rows)} moved",
                    )
                if cross_clean and not self.isolation.public_read:
                    result = self.update(move, None)
                    if result.ok and result.rows:
                        out.add(
                            "isolation.move_to_other",
                            f"user A moved own row{_s(result.rows)} of {t} to user B (UPDATE without WHERE)",
                            "refused",
                            f"{result.rows} row{_s(result.rows)} moved",
                        )
                else:
                    out.notes.append("UPDATE without WHERE not tried: user A sees rows of others")
            result = self.touch(row_b)
            if result.ok and result.rows:
                out.add(
                    "isolation.update_other",
                    f"user A updated {result.rows} row{_s(result.rows)} of user B in {t}",
                    "0 rows",
                    f"{result.rows}",
                )
            result = self.delete(row_b)
            if result.ok and result.rows:
                out.add(
                    "isolation.delete_other",
                    f"user A deleted {result.rows} row{_s(result.rows)} of user B in {t}",
                    "0 rows",
                    f"{result.rows}",
                )
            self.probe_own(row_a, new_a)

    def probe_own(self, row_a: SeededRow, new_a: Values) -> None:
        t, out = self.name, self.outcome
        if "insert" in self.allowed:
            result = self.insert(new_a)
            if not result.ok:
                hint = ""
                if result.sqlstate == UNIQUE_VIOLATION:
                    hint = duplicate_hint(result.constraint, t, self.isolation, self.snapshot)
                out.add(
                    "isolation.insert_own",
                    f"user A cannot insert own row into {t}: {result.error}" + (f"; {hint}" if hint else ""),
                    "inserted",
                    "refused",
                )
        if "update" in self.allowed:
            result = self.touch(row_a)
            if not result.ok or result.rows != 1:
                reason = result.error or "0 rows updated"
                out.add("isolation.update_own", f"user A cannot update own row in {t}: {reason}", "1 row", reason)
        if "delete" in self.allowed:
            result = self.delete(row_a)
            if not result.ok or result.rows != 1:
                reason = result.error or "0 rows deleted"
                out.add("isolation.delete_own", f"user A cannot delete own row in {t}: {reason}", "1 row", reason)

    def probe_anonymous(self, row_a: SeededRow, new_a: Values) -> None:
        t, out = self.name, self.outcome
        who = self.impersonation.anonymous_name
        with self.savepoint():
            self.become(None)
            seen = self.visible([row_a])
            if not isinstance(seen, Attempt) and seen[0] and not self.isolation.public_read:
                out.add(
                    "isolation.anonymous_read",
                    f"{who} read {seen[0]} row{_s(seen[0])} of user A in {t}",
                    "0 rows",
                    f"{seen[0]}",
                )
            if self.insert(new_a).ok:
                out.add(
                    "isolation.anonymous_write", f"{who} inserted a row owned by user A into {t}", "refused", "inserted"
                )
            result = self.touch(row_a)
            if result.ok and result.rows:
                out.add(
                    "isolation.anonymous_write", f"{who} updated a row of user A in {t}", "0 rows", f"{result.rows}"
                )
            result = self.delete(row_a)
            if result.ok and result.rows:
                out.add(
                    "isolation.anonymous_write", f"{who} deleted a row of user A in {t}", "0 rows", f"{result.rows}"
                )


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
        self.a = self.impersonation.new_principal("A")
        self.b = self.impersonation.new_principal("B")

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
        check_seed_role(cur)
        self._seeder = Seeder(cur, self.contract, self.snapshot, self.impersonation, count_rows=self.throwaway)
        self._seeder.start()
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))  # parents of parents of ...
        for principal in (self.a, self.b):
            self.impersonation.prepare(cur, principal)
            self._prepare_user_row(principal)
        return cur

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


def check_seed_role(cur: Cursor) -> None:
    cur.execute("SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    fetched = cur.fetchone()
    if fetched is None or not fetched[1]:
        role = fetched[0] if fetched else "?"
        raise SeedError(
            f"role {role} does not bypass row level security, so it cannot create test rows for two users: "
            "connect as a role with BYPASSRLS, or name one under auth.seed_role"
        )


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
