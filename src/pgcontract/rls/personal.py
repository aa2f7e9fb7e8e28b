"""Which tables hold a user's personal data, and how each of their rows is tied to the user: what the
erasure proof seeds and checks, and what the erasure lint reads. Pure functions over contract and catalog.

A table holds personal data when a row is tied to the user by one of these links:

- ``owner``: its ``isolation.owner`` column (without ``membership``) holds the user: a foreign key to the
  users table, or, under supabase auth, the column alone (``auth.uid()``; the missing key is a defect);
- ``via``: its ``isolation.via`` foreign key leads to a table that holds personal data and is erased with
  the user (not one tied to the user only by ``set_null`` columns: that row outlives the user);
- ``membership``: it is a membership table (``isolation.membership.table``) and its user column holds the user;
- ``users``: any foreign key to the users table (``created_by``);
- ``set_null``: a column its ``erasure.set_null`` declares.

A table whose ``erasure.retain`` gives a reason, and the users table itself, are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pgcontract.catalog.snapshot import Constraint, Snapshot
from pgcontract.contract.model import Contract, SupabaseAuth
from pgcontract.names import PLATFORM_SCHEMAS, QualifiedName

LinkKind = Literal["owner", "via", "membership", "users", "set_null"]
# What ON DELETE may do to a row tied to a deleted user: delete it, or clear the tie where declared.
ERASING = "cascade"
CLEARING = "set null"


@dataclass(frozen=True)
class Link:
    """One way a row is tied to the user: its columns, the table they point at (None: no foreign key)."""

    kind: LinkKind
    columns: tuple[str, ...]
    ref_table: QualifiedName | None
    fk: Constraint | None


@dataclass
class PersonalTable:
    name: QualifiedName
    links: list[Link] = field(default_factory=list)
    set_null: frozenset[str] = frozenset()

    def declared_cleared(self, columns: tuple[str, ...]) -> bool:
        return bool(columns) and set(columns) <= self.set_null


@dataclass(frozen=True)
class Scope:
    users: QualifiedName
    tables: dict[QualifiedName, PersonalTable]


def scope_of(contract: Contract, snapshot: Snapshot) -> Scope | None:
    """The personal tables of the database the snapshot read (None: the contract has no ``erasure``)."""
    users = contract.erasure_users
    if users is None:
        return None
    supabase = isinstance(contract.auth, SupabaseAuth)
    retained = {name for name, t in contract.table_map.items() if t.erasure is not None and t.erasure.retain}
    memberships = {
        QualifiedName.parse(t.isolation.membership.table): t.isolation.membership.user
        for t in contract.table_map.values()
        if t.isolation is not None and t.isolation.membership is not None
    }
    candidates = [
        name
        for name, table in snapshot.tables.items()
        if table.in_scope
        and name != users
        and name not in retained
        and (name in contract.table_map or name in memberships or name.schema not in PLATFORM_SCHEMAS)
    ]
    found: dict[QualifiedName, PersonalTable] = {}
    pending: dict[QualifiedName, PersonalTable] = {}
    for name in candidates:
        entry = _direct_links(contract, snapshot, name, users, supabase, memberships.get(name))
        (found if entry.links else pending)[name] = entry
    # Owned through a parent: a foreign key (the ownership one, or the owner column's) to a personal table
    # whose rows go with the user. A parent tied only by cleared columns outlives the user, and so do its
    # children (a reaction to a team post whose author was cleared is not the author's).
    changed = True
    while changed:
        changed = False
        erased = {name for name, entry in found.items() if any(link.kind != "set_null" for link in entry.links)}
        for name, entry in list(pending.items()):
            for link in _parent_links(contract, snapshot, name):
                if link.ref_table in erased:
                    entry.links.append(link)
            if entry.links:
                found[name] = pending.pop(name)
                changed = True
    return Scope(users, found)


def _fk_on(snapshot: Snapshot, name: QualifiedName, columns: tuple[str, ...]) -> Constraint | None:
    return next((c for c in snapshot.tables[name].constraints_of("f") if c.columns == columns), None)


def _direct_links(
    contract: Contract,
    snapshot: Snapshot,
    name: QualifiedName,
    users: QualifiedName,
    supabase: bool,
    membership_user: str | None,
) -> PersonalTable:
    declared = contract.table_map.get(name)
    isolation = declared.isolation if declared is not None else None
    erasure = declared.erasure if declared is not None else None
    entry = PersonalTable(name, set_null=frozenset(erasure.set_null if erasure is not None else ()))
    seen: set[tuple[str, ...]] = set()

    def add(kind: LinkKind, columns: tuple[str, ...], fk: Constraint | None) -> None:
        if columns not in seen:
            seen.add(columns)
            entry.links.append(Link(kind, columns, fk.ref_table if fk is not None else None, fk))

    for kind, column in (
        ("owner", isolation.owner if isolation is not None and isolation.membership is None else None),
        ("membership", membership_user),
    ):
        if column is None or column not in snapshot.tables[name].columns:
            continue
        fk = _fk_on(snapshot, name, (column,))
        if (fk is not None and fk.ref_table == users) or (fk is None and supabase):
            add(kind, (column,), fk)  # type: ignore[arg-type]
    for fk in snapshot.tables[name].constraints_of("f"):
        if fk.ref_table == users:
            add("set_null" if entry.declared_cleared(fk.columns) else "users", fk.columns, fk)
    # A column of a key whose columns are all declared is cleared by that key: no tie of its own.
    keyed = {c for link in entry.links if link.kind == "set_null" for c in link.columns}
    for column in sorted(entry.set_null - keyed):
        if column in snapshot.tables[name].columns:
            add("set_null", (column,), _fk_on(snapshot, name, (column,)))
    return entry


def _parent_links(contract: Contract, snapshot: Snapshot, name: QualifiedName) -> list[Link]:
    declared = contract.table_map.get(name)
    isolation = declared.isolation if declared is not None else None
    if isolation is None:
        return []
    links: list[Link] = []
    if isolation.via is not None:
        fk = _fk_on(snapshot, name, tuple(isolation.via))
        if fk is not None and fk.ref_table is not None and fk.ref_table != name:
            links.append(Link("via", fk.columns, fk.ref_table, fk))
    if isolation.owner is not None and isolation.membership is None:
        fk = _fk_on(snapshot, name, (isolation.owner,))
        if fk is not None and fk.ref_table is not None and fk.ref_table != name:
            links.append(Link("owner", fk.columns, fk.ref_table, fk))
    return links


def keeps_rows(fk: Constraint, table: PersonalTable) -> bool:
    """Whether deleting the parent leaves this table's row tied to it or blocks the delete: only CASCADE,
    or SET NULL on columns the contract declares cleared, erase."""
    if fk.on_delete == ERASING:
        return False
    return not (fk.on_delete == CLEARING and table.declared_cleared(fk.columns))


def erasure_foreign_keys(scope: Scope, snapshot: Snapshot) -> list[tuple[PersonalTable, Constraint]]:
    """Foreign keys of personal tables, to the users table or to a personal table, that keep a deleted
    user's rows (or block the delete)."""
    found = []
    for entry in scope.tables.values():
        for fk in snapshot.tables[entry.name].constraints_of("f"):
            if fk.inherited or fk.ref_table is None:
                continue
            if (fk.ref_table == scope.users or fk.ref_table in scope.tables) and keeps_rows(fk, entry):
                found.append((entry, fk))
    return found


def unlinked_columns(scope: Scope) -> list[tuple[PersonalTable, Link]]:
    """Links without a foreign key: an owner column that nothing ties to the users table, a set_null
    column that nothing clears."""
    return [(entry, link) for entry in scope.tables.values() for link in entry.links if link.fk is None]


def action(fk: Constraint) -> str:
    return f"ON DELETE {(fk.on_delete or 'no action').upper()}"


__all__ = ["Link", "PersonalTable", "Scope", "action", "erasure_foreign_keys", "keeps_rows", "scope_of"]
