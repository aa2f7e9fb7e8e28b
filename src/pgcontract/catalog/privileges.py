"""Schema privileges and default privileges (``ALTER DEFAULT PRIVILEGES``) as the catalog holds them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# pg_default_acl.defaclobjtype -> the word ALTER DEFAULT PRIVILEGES uses
DEFAULT_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas"}
# What PostgreSQL grants on its own when no pg_default_acl row exists for a role in all schemas (its
# owner aside): EXECUTE on functions and USAGE on types to PUBLIC.
BUILTIN_DEFAULTS: dict[str, dict[str, frozenset[str]]] = {
    "functions": {"public": frozenset({"execute"})},
    "types": {"public": frozenset({"usage"})},
}

Grants = dict[str, frozenset[str]]  # grantee (public for PUBLIC) -> privileges


@dataclass(frozen=True)
class DefaultKey:
    """One line of ``\\ddp``: objects ``role`` creates later, in ``schema`` (None: in every schema)."""

    role: str
    schema: str | None
    objects: str

    def __str__(self) -> str:
        where = f" in {self.schema}" if self.schema is not None else ""
        return f"defaults of {self.role}{where} on {self.objects}"


@dataclass
class Privileges:
    """Schema owners and privileges (schema -> grantee -> privileges) and every default-privileges entry."""

    schema_owners: dict[str, str] = field(default_factory=dict)
    schemas: dict[str, Grants] = field(default_factory=dict)
    defaults: dict[DefaultKey, Grants] = field(default_factory=dict)

    def default_grants(self, key: DefaultKey) -> Grants:
        """What new objects get, as the catalog says; PostgreSQL's built-in defaults where no entry exists
        (an entry in one schema only adds to the role's defaults for every schema)."""
        found = self.defaults.get(key)
        if found is not None:
            return found
        return dict(BUILTIN_DEFAULTS.get(key.objects, {})) if key.schema is None else {}


def build_privileges(rows: Iterable[Mapping[str, Any]]) -> Privileges:
    out = Privileges()
    for row in rows:
        privileges = frozenset(row["privileges"])
        if row["kind"] == "schema":
            out.schema_owners[row["schema"]] = row["role"]
            out.schemas.setdefault(row["schema"], {})[row["grantee"]] = privileges
        else:
            key = DefaultKey(row["role"], row["schema"], DEFAULT_OBJECTS.get(row["objects"], row["objects"]))
            out.defaults.setdefault(key, {})[row["grantee"]] = privileges
    return out
