"""Extensions the schema relies on: installed, in the expected schema, at least the expected version.

Every fix is held back (``manual``): pgcontract never installs, moves or upgrades an extension on its own."""

from __future__ import annotations

import re

from psycopg import sql

from pgcontract import sqlsafe
from pgcontract.checks.base import Context, finding, fix
from pgcontract.contract.model import ExtensionSpec
from pgcontract.findings import Finding, Hazard, Kind, declare
from pgcontract.sqlgen import create_extension

K = Kind.EXTENSIONS
RULES = declare(K, "extension.missing", "extension.schema", "extension.version")
_INSTALL = (
    "installing an extension runs its script with the installing role's rights (often a superuser's) and may "
    "need files on the server: pgcontract never installs one; run it yourself"
)
_MOVE = "moves every object of the extension; code naming them by the old schema breaks: do it in a migration"
_UPDATE = "runs the extension's upgrade scripts (the server must have the newer version's files): do it in a migration"


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """``1.10`` after ``1.9``: numeric parts compare as numbers, others as text (after any number)."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[._-]", version))


def at_least(actual: str, minimum: str) -> bool:
    return version_key(actual) >= version_key(minimum)


def check_extension(ctx: Context, name: str, spec: ExtensionSpec) -> list[Finding]:
    found = ctx.snapshot.extensions.get(name)
    if found is None:
        statement = create_extension(name, spec.in_schema)
        expected = f"installed{f' in {spec.in_schema}' if spec.in_schema else ''}"
        return [
            finding(
                "extension.missing",
                K,
                name,
                name,
                "extension not installed",
                expected,
                "(none)",
                fix(statement, Hazard.MANUAL, note=_INSTALL),
            )
        ]
    out: list[Finding] = []
    if spec.in_schema is not None and found.schema != spec.in_schema:
        text = sql.SQL("ALTER EXTENSION {} SET SCHEMA {};").format(sql.Identifier(name), sql.Identifier(spec.in_schema))
        statement = sqlsafe.statement("AlterObjectSchemaStmt", None, text)
        out.append(
            finding(
                "extension.schema",
                K,
                name,
                name,
                "extension in another schema",
                spec.in_schema,
                found.schema,
                fix(statement, Hazard.MANUAL, note=_MOVE),
            )
        )
    if spec.min_version is not None and not at_least(found.version, spec.min_version):
        text = sql.SQL("ALTER EXTENSION {} UPDATE;").format(sql.Identifier(name))
        statement = sqlsafe.statement("AlterExtensionStmt", None, text)
        out.append(
            finding(
                "extension.version",
                K,
                name,
                name,
                "extension older than the contract needs",
                f">= {spec.min_version}",
                found.version,
                fix(statement, Hazard.MANUAL, note=_UPDATE),
            )
        )
    return out
