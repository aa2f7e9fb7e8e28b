"""The erasure proof: create a user and rows of that user in every table holding personal data, delete
the user as the platform does, and prove no row of the user remains and declared columns were cleared.

Everything runs in one transaction of its own that is always rolled back (then proven gone), as the
isolation tests' seeding role (``current_user`` checked before the delete). When a foreign key blocks the
delete, the rows it holds are noted, removed (or their declared columns cleared) under a savepoint, and the
delete is tried again: one run names every blocking key, not only the first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors, sql

from pgcontract.busy import BUSY_ERRORS
from pgcontract.catalog.snapshot import Constraint, Snapshot
from pgcontract.connect import SessionLimits
from pgcontract.contract.model import Contract
from pgcontract.findings import Kind, declare
from pgcontract.names import QualifiedName
from pgcontract.rls.identity import Impersonation, Principal
from pgcontract.rls.matrix import ImpersonationFailed, IsolationSession
from pgcontract.rls.personal import CLEARING, ERASING, Link, PersonalTable, Scope, action, scope_of
from pgcontract.rls.seed import SeededRow, Seeder, Values
from pgcontract.rls.values import SeedError
from pgcontract.sqlgen import ident

Cursor = psycopg.Cursor[Any]
LEFT_BEHIND = "erasure.left_behind"
RULES = declare(
    Kind.ERASURE,
    "erasure.delete_failed",
    "erasure.user_remains",
    "erasure.not_cleared",
    "erasure.rows_remain",
    LEFT_BEHIND,
)


@dataclass(frozen=True)
class ErasureViolation:
    rule: str  # erasure.rows_remain, erasure.not_cleared, erasure.user_remains, erasure.delete_failed
    table: str
    message: str
    expected: str
    actual: str


@dataclass
class ErasureOutcome:
    users: QualifiedName
    violations: list[ErasureViolation] = field(default_factory=list)
    tables: list[QualifiedName] = field(default_factory=list)  # the personal tables rows were made in
    left_behind: list[str] = field(default_factory=list)

    def add(self, rule: str, table: QualifiedName, message: str, expected: str, actual: str) -> None:
        self.violations.append(ErasureViolation(rule, str(table), message, expected, actual))


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'} of the deleted user"


class ErasureProof:
    def __init__(self, session: IsolationSession, scope: Scope) -> None:
        self.session = session
        self.scope = scope
        self.snapshot: Snapshot = session.snapshot
        self.outcome = ErasureOutcome(scope.users)
        users = self.snapshot.tables.get(scope.users)
        if users is None or not users.in_scope:
            raise SeedError(f"the users table {scope.users} is missing (erasure.users)")
        pk = users.constraints_of("p")
        if not pk:
            raise SeedError(f"the users table {scope.users} has no primary key: cannot delete one user by it")
        self.user_key: tuple[str, ...] = pk[0].columns

    @property
    def cur(self) -> Cursor:
        return self.session.cur

    @property
    def seeder(self) -> Seeder:
        return self.session.seeder

    # --- seeding -----------------------------------------------------------------------------------------

    def seed(self, user: Principal) -> SeededRow:
        """The user's row, then the user's row in every personal table (parents through the FK graph)."""
        seeder = self.seeder
        user_row = seeder.row(self.scope.users, user)
        if user.identity is None and len(self.user_key) == 1:
            user.identity = user_row.values[self.user_key[0]]  # setting mode: owner columns hold the user's key
        for name, entry in self.scope.tables.items():
            self._savepoint("SAVEPOINT pgcontract_erasure_seed")
            state = seeder.checkpoint()
            try:
                seeder.row(name, user, self.ties(entry, user, user_row))
            except BaseException:
                self._savepoint("ROLLBACK TO SAVEPOINT pgcontract_erasure_seed")
                seeder.restore(state)
                raise
            self._savepoint("RELEASE SAVEPOINT pgcontract_erasure_seed")
            self.outcome.tables.append(name)
        seeder.act_as(None)
        return user_row

    def _savepoint(self, statement: str) -> None:
        self.cur.execute(statement)

    def ties(self, entry: PersonalTable, user: Principal, user_row: SeededRow) -> Values:
        """Values that tie a new row to the user beyond what ``isolation`` says: foreign keys to the users
        table, membership user columns, declared set_null columns."""
        values: Values = {}
        for link in entry.links:
            if link.kind == "via" or (link.kind == "owner" and link.ref_table != self.scope.users):
                continue  # the seeder follows ownership itself
            if link.fk is not None and link.ref_table is not None:
                parent = user_row if link.ref_table == self.scope.users else self.seeder.row(link.ref_table, user)
                for column, ref_column in zip(link.fk.columns, link.fk.ref_columns, strict=True):
                    values[column] = parent.values[ref_column]
            elif link.kind in ("owner", "membership", "set_null") and user.identity is not None:
                values[link.columns[0]] = user.identity
        return values

    # --- deleting --------------------------------------------------------------------------------------

    def as_seeder(self) -> None:
        """The platform's deletion runs as the seeding role with no user identity in effect; checked."""
        self.seeder.act_as(None)
        Impersonation.set_role(self.cur, self.session.seeder_role)
        fetched = self.cur.fetchone()
        if fetched is None or fetched[0] != self.session.seeder_role:
            actual = fetched[0] if fetched else None
            raise ImpersonationFailed(f"switched to role {self.session.seeder_role!r} but current_user is {actual!r}")

    def delete_user(self, user_row: SeededRow) -> bool:
        """``DELETE FROM <users> WHERE <key> = ...`` until it goes through; each foreign key that blocks it is
        reported and the rows it holds removed. False: the proof cannot go on."""
        users = self.scope.users
        condition = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in self.user_key)
        statement = sql.SQL("DELETE FROM {} WHERE {}").format(ident(users), condition)
        params = [user_row.values[c] for c in self.user_key]
        self.as_seeder()
        # A deferred foreign key would only be checked at COMMIT, which this transaction never reaches.
        self.cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        blocked: set[str] = set()
        # Ends: each retry follows a key not seen before, and there are only so many keys. A bound by the
        # number of personal tables stopped early when one table had several keys to the user.
        while True:
            self.cur.execute("SAVEPOINT pgcontract_erasure_delete")
            try:
                self.cur.execute(statement, params)
            except BUSY_ERRORS:
                raise
            except (errors.ForeignKeyViolation, errors.RestrictViolation) as exc:  # 23001 for RESTRICT on PG 18
                self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_erasure_delete")
                found = self.blocking(exc)
                if found is not None and found[1].name not in blocked:
                    blocked.add(found[1].name)
                    if not self.unblock(*found):
                        return False
                    continue
                detail = " ".join(str(exc).split())
                self.outcome.add(
                    "erasure.delete_failed",
                    users,
                    f"deleting the user from {users} failed: {detail}",
                    "the user deleted",
                    "23503",
                )
                return False
            except psycopg.Error as exc:
                self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_erasure_delete")
                detail = " ".join(str(exc).split())
                self.outcome.add(
                    "erasure.delete_failed",
                    users,
                    f"deleting the user from {users} failed: {detail}",
                    "the user deleted",
                    exc.sqlstate or "error",
                )
                return False
            if self.cur.rowcount != 1:
                self.outcome.add(
                    "erasure.user_remains",
                    users,
                    f"deleting the user from {users} removed {self.cur.rowcount} rows: a trigger or rule kept the user",
                    "1 row",
                    f"{self.cur.rowcount}",
                )
                return False
            self.cur.execute("RELEASE SAVEPOINT pgcontract_erasure_delete")
            return True

    def blocking(self, exc: psycopg.Error) -> tuple[PersonalTable | None, Constraint, QualifiedName] | None:
        """The foreign key PostgreSQL named, its table and that table's entry (None: not a personal table)."""
        diag = exc.diag
        for name, table in self.snapshot.tables.items():
            if (diag.schema_name and name.schema != diag.schema_name) or name.name != diag.table_name:
                continue
            fk = next((c for c in table.constraints_of("f") if c.name == diag.constraint_name), None)
            if fk is not None:
                return self.scope.tables.get(name), fk, name
        return None

    def unblock(self, entry: PersonalTable | None, fk: Constraint, name: QualifiedName) -> bool:
        """Report the rows ``fk`` keeps, then remove them (clear its columns where declared) to go on."""
        rows = self.seeder.rows.get((name, self.session.a.label), []) if entry is not None else []
        cleared = entry is not None and entry.declared_cleared(fk.columns)
        users = self.scope.users
        why = f"foreign key {fk.name} to {fk.ref_table} is {action(fk)} (deleting the user from {users} failed on it)"
        if cleared:
            columns = ", ".join(fk.columns)
            self.outcome.add(
                "erasure.not_cleared",
                name,
                f"{name}: {columns} of {_rows(len(rows) or 1)} would not be cleared: {why}",
                "ON DELETE SET NULL",
                action(fk),
            )
        else:
            count = len(rows) or 1
            self.outcome.add(
                "erasure.rows_remain",
                name,
                f"{name}: {_rows(count)} would remain: {why}",
                "ON DELETE CASCADE" + (" or SET NULL on columns declared under erasure.set_null" if entry else ""),
                action(fk),
            )
        if not rows:
            return False  # rows this test did not make (a trigger's): nothing more can be learnt
        self.cur.execute("SAVEPOINT pgcontract_erasure_unblock")
        try:
            for row in rows:
                where, params = self.where(name, row)
                if cleared:
                    sets = sql.SQL(", ").join(sql.SQL("{} = NULL").format(sql.Identifier(c)) for c in fk.columns)
                    self.cur.execute(sql.SQL("UPDATE {} SET {} WHERE {}").format(ident(name), sets, where), params)
                else:
                    self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(name), where), params)
        except BUSY_ERRORS:
            raise
        except psycopg.Error:
            self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_erasure_unblock")
            return False
        self.cur.execute("RELEASE SAVEPOINT pgcontract_erasure_unblock")
        return True

    def where(self, name: QualifiedName, row: SeededRow) -> tuple[sql.Composable, list[Any]]:
        """The row by its primary key; without one, by every column that is not a tie to the user (those
        may have been cleared)."""
        table = self.snapshot.tables[name]
        pk = table.constraints_of("p")
        if pk:
            columns: tuple[str, ...] = pk[0].columns
        else:
            entry = self.scope.tables.get(name)
            ties = {c for link in entry.links for c in link.columns} if entry is not None else set()
            columns = tuple(c for c in table.columns if c not in ties)
        parts = [sql.SQL("{}::text IS NOT DISTINCT FROM %s").format(sql.Identifier(c)) for c in columns]
        return sql.SQL(" AND ").join(parts), [row.values.get(c) for c in columns]

    # --- judging ---------------------------------------------------------------------------------------

    def judge(self) -> None:
        """Every row made for the user is gone, or still there with only declared columns cleared."""
        problems: dict[tuple[str, QualifiedName, str], int] = defaultdict(int)
        label = self.session.a.label
        for name, entry in self.scope.tables.items():
            for row in self.seeder.rows.get((name, label), []):
                current = self.current(name, entry, row)
                if current is None:
                    continue
                for rule, reason in self.reasons(entry, row, current):
                    problems[(rule, name, reason)] += 1
        for (rule, name, reason), count in problems.items():
            if rule == "erasure.not_cleared":
                message = f"{name}: {reason} in {_rows(count)}"
                expected, actual = "NULL", "the user's value"
            else:
                message = f"{name}: {_rows(count)} remain{'s' if count == 1 else ''}: {reason}"
                expected, actual = "no row", f"{count}"
            self.outcome.add(rule, name, message, expected, actual)

    def current(self, name: QualifiedName, entry: PersonalTable, row: SeededRow) -> Values | None:
        """The row's tie columns now (None: the row is gone)."""
        columns = sorted({c for link in entry.links for c in link.columns})
        where, params = self.where(name, row)
        selected = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
        self.cur.execute(sql.SQL("SELECT {} FROM {} WHERE {} LIMIT 1").format(selected, ident(name), where), params)
        fetched = self.cur.fetchone()
        return None if fetched is None else dict(zip(columns, fetched, strict=True))

    def reasons(self, entry: PersonalTable, row: SeededRow, current: Values) -> list[tuple[str, str]]:
        """Why a row still there is still the user's: per tie that still holds, or was cleared undeclared."""
        found: list[tuple[str, str]] = []
        for link in entry.links:
            before = [row.values.get(c) for c in link.columns]
            if all(v is None for v in before):
                continue  # this tie was not made for the row
            now = [current.get(c) for c in link.columns]
            declared = entry.declared_cleared(link.columns)
            columns = ", ".join(link.columns)
            if all(v is None for v in now):
                if not declared:
                    stays = f"{self.describe(link)}: the row stays with {columns} cleared"
                    found.append(("erasure.rows_remain", stays))
                continue
            rule = "erasure.not_cleared" if declared else "erasure.rows_remain"
            if rule == "erasure.not_cleared":
                found.append((rule, f"{columns} still holds the user's value ({self.describe(link)})"))
            else:
                found.append((rule, self.describe(link)))
        return found

    def describe(self, link: Link) -> str:
        columns = ", ".join(link.columns)
        fk = link.fk
        if fk is None:
            return f"{columns} has no foreign key to {self.scope.users}: nothing removes or clears it"
        named = f"foreign key {fk.name} to {fk.ref_table} is {action(fk)}"
        if fk.on_delete == ERASING:
            return f"{named}, yet the row was not deleted (a trigger or rule kept it)"
        if fk.on_delete == CLEARING:
            return f"{named} (declare erasure: {{set_null: [{columns}]}} on the table if the row may stay)"
        return named

    def run(self) -> ErasureOutcome:
        user_row = self.seed(self.session.a)
        if self.delete_user(user_row):
            self.judge()
        return self.outcome


def run_erasure(
    conn: psycopg.Connection[Any],
    contract: Contract,
    snapshot: Snapshot,
    *,
    throwaway: bool,
    limits: SessionLimits,
) -> ErasureOutcome | None:
    """The proof in a transaction of its own, rolled back, then proof that nothing was left (None: the
    contract declares no ``erasure``)."""
    scope = scope_of(contract, snapshot)
    if scope is None:
        return None
    session = IsolationSession(conn, contract, snapshot, throwaway=throwaway, limits=limits)
    session.never_set = {}  # the setting-mode NULL probe belongs to the isolation tests
    try:
        outcome = ErasureProof(session, scope).run()
    finally:
        left = session.finish()
    outcome.left_behind = left
    return outcome


__all__ = ["ErasureOutcome", "ErasureProof", "ErasureViolation", "run_erasure"]
