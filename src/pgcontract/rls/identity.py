"""Impersonation: how a test becomes user A, user B, or a caller with no identity.

Every switch is transaction-local (``set_config(..., true)``), so it only works inside a transaction;
the matrix asserts ``current_user`` after each switch, because under autocommit it would silently do
nothing and the queries would run as the (RLS-bypassing) connecting role.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgcontract.contract.model import RoleAuth, SettingAuth, SupabaseAuth

Cursor = psycopg.Cursor[Any]


@dataclass
class Principal:
    """A synthetic user: ``label`` for messages ("user A"), ``identity`` as owner columns hold it."""

    label: str
    identity: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)  # an auth.principals entry's, while it is tried

    @property
    def name(self) -> str:
        return f"user {self.label}"


class Impersonation:
    """Base: subclasses know one auth mode."""

    anonymous_name = "the anonymous caller"

    def new_principal(self, label: str) -> Principal:
        raise NotImplementedError

    def prepare(self, cur: Cursor, principal: Principal) -> None:
        """Create what the principal needs before rows are seeded (an auth.users row, a role)."""

    def prepare_anonymous(self, cur: Cursor) -> None:
        """Create what the caller with no identity needs (by the seeding role, before any probe)."""

    def granted_roles(self) -> tuple[str, ...]:
        """Roles the test's callers are members of (their policies apply to them too)."""
        return ()

    def switch(self, principal: Principal) -> tuple[str, dict[str, str]]:
        """The role and settings that make a session the principal."""
        raise NotImplementedError

    def become(self, cur: Cursor, principal: Principal) -> str:
        """Switch to the principal; return the role ``current_user`` must then be."""
        role, settings = self.switch(principal)
        self.set_role(cur, role, settings)
        return role

    def switch_anonymous(self) -> tuple[str, dict[str, str]]:
        """The role and settings of the caller with no identity."""
        raise NotImplementedError

    def become_anonymous(self, cur: Cursor) -> str:
        role, settings = self.switch_anonymous()
        self.set_role(cur, role, settings)
        return role

    def seeding_settings(self, principal: Principal | None) -> dict[str, str]:
        """Settings that put ``principal``'s identity in effect while its rows are created by the seeding
        role (which keeps bypassing RLS), so defaults and BEFORE triggers reading ``auth.uid()`` or the
        setting see the row's owner; ``None``: no identity, as when the platform creates a user."""
        return {}

    @staticmethod
    def set_role(cur: Cursor, role: str, settings: dict[str, str] | None = None) -> None:
        """Switch role and settings, then leave ``current_user`` as the cursor's result (one round trip:
        the probes switch identity many times per table, and each switch must be verified)."""
        cur.execute(Impersonation.switch_sql(role, settings))
        cur.nextset()

    @staticmethod
    def switch_sql(role: str, settings: dict[str, str] | None = None) -> sql.Composed:
        """Two statements, two results: the switch, then ``current_user`` (the second runs after the first
        has switched the role). Literals only, so it can travel with other statements in one simple query."""
        calls = [sql.SQL("set_config('role', {}, true)").format(sql.Literal(role))]
        for name, value in (settings or {}).items():
            calls.append(sql.SQL("set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value)))
        return sql.SQL("SELECT {}; SELECT current_user::text").format(sql.SQL(", ").join(calls))


class SupabaseImpersonation(Impersonation):
    """``authenticated`` with ``request.jwt.claims`` (a full claim set, as Supabase's API sends)."""

    def __init__(self, auth: SupabaseAuth) -> None:
        self.auth = auth

    def new_principal(self, label: str) -> Principal:
        # A suffix of its own: two runs against one database must not collide on auth.users' email.
        email = f"pgcontract-{label.lower()}-{secrets.token_hex(4)}@example.invalid"
        return Principal(label, identity=str(uuid.uuid4()), extra={"email": email})

    def app_metadata(self) -> dict[str, Any]:
        return {"provider": "email", "providers": ["email"], **self.auth.claims.get("app_metadata", {})}

    def user_metadata(self, principal: Principal) -> dict[str, Any]:
        """What Supabase Auth stores for an e-mail sign-up, plus ``auth.claims.user_metadata``."""
        metadata: dict[str, Any] = {
            "sub": principal.identity,
            "email": principal.extra.get("email"),
            "email_verified": True,
            "phone_verified": False,
        }
        metadata.update(self.auth.claims.get("user_metadata", {}))
        return metadata

    def claims(self, principal: Principal) -> str:
        claims: dict[str, Any] = {
            "sub": principal.identity,
            "role": self.auth.user_role,
            "aud": "authenticated",
            "email": principal.extra.get("email"),
            "aal": "aal1",
            "amr": [{"method": "password", "timestamp": 0}],
            "session_id": str(uuid.uuid4()),
            "is_anonymous": False,
        }
        claims.update(self.auth.claims)
        claims.update({k: v for k, v in principal.claims.items() if k not in ("app_metadata", "user_metadata")})
        claims["app_metadata"] = {**self.app_metadata(), **principal.claims.get("app_metadata", {})}
        claims["user_metadata"] = {**self.user_metadata(principal), **principal.claims.get("user_metadata", {})}
        return json.dumps(claims)

    def seeding_settings(self, principal: Principal | None) -> dict[str, str]:
        return {"request.jwt.claims": self.claims(principal) if principal is not None else ""}

    def switch(self, principal: Principal) -> tuple[str, dict[str, str]]:
        return self.auth.user_role, {"request.jwt.claims": self.claims(principal)}

    def switch_anonymous(self) -> tuple[str, dict[str, str]]:
        return self.auth.anon_role, {"request.jwt.claims": ""}


class RoleImpersonation(Impersonation):
    """Every user is a PostgreSQL role; test roles are created inside the test's transaction."""

    anonymous_name = "a user with no rows"

    def __init__(self, auth: RoleAuth) -> None:
        self.auth = auth
        self.suffix = secrets.token_hex(4)
        self.nobody = Principal("nobody", identity=f"pgcontract_nobody_{self.suffix}")

    def new_principal(self, label: str) -> Principal:
        return Principal(label, identity=f"pgcontract_{label.lower()}_{self.suffix}")

    def prepare(self, cur: Cursor, principal: Principal) -> None:
        role = sql.Identifier(principal.identity or "")
        cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
        for member_of in self.auth.member_of:
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), role))

    def switch(self, principal: Principal) -> tuple[str, dict[str, str]]:
        return principal.identity or "", {}

    def prepare_anonymous(self, cur: Cursor) -> None:
        self.prepare(cur, self.nobody)

    def granted_roles(self) -> tuple[str, ...]:
        return tuple(self.auth.member_of)

    def switch_anonymous(self) -> tuple[str, dict[str, str]]:
        return self.switch(self.nobody)


class SettingImpersonation(Impersonation):
    """An application role plus a transaction-local setting carrying the user or tenant id."""

    anonymous_name = "the application role with the setting unset"
    never_set_name = "the application role with the setting never set (NULL)"

    def __init__(self, auth: SettingAuth) -> None:
        self.auth = auth
        # While True, seeding leaves the setting alone: a custom setting never set in a session reads NULL,
        # and once set (even rolled back) '' for the rest of it, so the NULL probe must come first.
        self.untouched = False

    def new_principal(self, label: str) -> Principal:
        return Principal(label)  # the identity is chosen when the first owner column needs one

    def switch(self, principal: Principal) -> tuple[str, dict[str, str]]:
        return self.auth.role, {self.auth.setting: principal.identity or ""}

    def switch_anonymous(self) -> tuple[str, dict[str, str]]:
        # Set, not left alone: in a batch after another caller's switch, the setting would still be theirs.
        return self.auth.role, {self.auth.setting: ""}

    def seeding_settings(self, principal: Principal | None) -> dict[str, str]:
        if self.untouched:
            return {}
        # '' rather than unset: a name once set in a session never reads as NULL again (see decisions.md).
        identity = principal.identity if principal is not None else None
        return {self.auth.setting: identity or ""}


def impersonation_for(auth: SupabaseAuth | RoleAuth | SettingAuth) -> Impersonation:
    if isinstance(auth, SupabaseAuth):
        return SupabaseImpersonation(auth)
    if isinstance(auth, RoleAuth):
        return RoleImpersonation(auth)
    return SettingImpersonation(auth)
