"""Every schema-privilege and default-privilege finding pinned whole (project_tests/exact.py): USAGE/CREATE
on a schema each way and a schema gone with its grants, default privileges each way, in one schema and in
every schema. The object names the schema quoted; the message names it as written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from project_tests.exact import Exact, assert_exact

# A schema whose name needs quoting: the object shows it quoted, the message as it is.
SCHEMA = 'CREATE SCHEMA "my.app"; GRANT USAGE, CREATE ON SCHEMA "my.app" TO authenticated;'
DEFAULTS = (
    "CREATE SCHEMA app;"
    " ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT, INSERT ON TABLES TO authenticated;"
    " ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;"
)
AUTH = 'schema "my.app" grants to authenticated'
IN_APP = "defaults of postgres in app on tables"
EVERYWHERE = "defaults of postgres on functions"


def on_schema(authenticated: list[str]) -> dict[str, object]:
    """The contract of schema "my.app" (a snapshot writes no schema without tables): PUBLIC listed with none
    (no GRANT for it when the schema is made)."""
    return {"privileges": {"schemas": {"my.app": {"authenticated": authenticated, "public": []}}}}


BOTH = on_schema(["usage", "create"])
DEFAULTS_CONTRACT = {
    "privileges": {
        "defaults": [
            {
                "role": "postgres",
                "schema": "app",
                "objects": "tables",
                "grants": {"authenticated": ["select", "insert"]},
            },
            {"role": "postgres", "objects": "functions", "grants": {"public": []}},
        ]
    }
}

CASES = {
    "schema privilege missing": Exact(
        SCHEMA,
        'REVOKE CREATE ON SCHEMA "my.app" FROM authenticated',
        "schema_grant.missing",
        AUTH,
        "authenticated lacks privileges on schema my.app",
        "[create, usage]",
        "[usage]",
        'GRANT CREATE ON SCHEMA "my.app" TO "authenticated";',
        owner="my.app",
        contract=BOTH,
    ),
    "schema privilege extra": Exact(
        SCHEMA + ' REVOKE CREATE ON SCHEMA "my.app" FROM authenticated;',
        'GRANT CREATE ON SCHEMA "my.app" TO authenticated',
        "schema_grant.extra",
        AUTH,
        "authenticated has privileges on schema my.app beyond the contract",
        "[usage]",
        "[create, usage]",
        'REVOKE CREATE ON SCHEMA "my.app" FROM "authenticated";',
        owner="my.app",
        contract=on_schema(["usage"]),
    ),
    "schema privilege extra to PUBLIC": Exact(
        SCHEMA,
        'GRANT USAGE ON SCHEMA "my.app" TO PUBLIC',
        "schema_grant.extra",
        'schema "my.app" grants to public',
        "public has privileges on schema my.app beyond the contract",
        "[]",
        "[usage]",
        'REVOKE USAGE ON SCHEMA "my.app" FROM PUBLIC;',
        owner="my.app",
        contract=BOTH,
    ),
    "schema privilege missing and extra": Exact(
        SCHEMA + ' REVOKE CREATE ON SCHEMA "my.app" FROM authenticated;',
        'REVOKE USAGE ON SCHEMA "my.app" FROM authenticated; GRANT CREATE ON SCHEMA "my.app" TO authenticated',
        "schema_grant.missing",
        AUTH,
        "authenticated lacks privileges on schema my.app",
        "[usage]",
        "[create]",
        'GRANT USAGE ON SCHEMA "my.app" TO "authenticated";',
        owner="my.app",
        contract=on_schema(["usage"]),
        also=("schema_grant.extra",),
        repairs=False,
    ),
    "schema missing": Exact(
        SCHEMA,
        'DROP SCHEMA "my.app"',
        "schema_grant.schema_missing",
        'schema "my.app"',
        "schema missing",
        "exists",
        "(none)",
        'CREATE SCHEMA IF NOT EXISTS "my.app";\nGRANT CREATE, USAGE ON SCHEMA "my.app" TO "authenticated";',
        owner="my.app",
        contract=BOTH,
    ),
    "default privilege missing": Exact(
        DEFAULTS,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE INSERT ON TABLES FROM authenticated",
        "default_privilege.missing",
        f"{IN_APP} grants to authenticated",
        "new tables of postgres are not granted all the contract lists to authenticated",
        "[insert, select]",
        "[select]",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "app" GRANT INSERT ON TABLES TO "authenticated";',
        owner=IN_APP,
        contract=DEFAULTS_CONTRACT,
    ),
    "default privilege extra": Exact(
        DEFAULTS,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT UPDATE, DELETE ON TABLES TO authenticated",
        "default_privilege.extra",
        f"{IN_APP} grants to authenticated",
        "new tables of postgres are granted authenticated more than the contract lists",
        "[insert, select]",
        "[delete, insert, select, update]",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "app" REVOKE DELETE, UPDATE ON TABLES'
        ' FROM "authenticated";',
        owner=IN_APP,
        contract=DEFAULTS_CONTRACT,
    ),
    "default privilege missing and extra": Exact(
        DEFAULTS,
        "ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE INSERT ON TABLES FROM authenticated;"
        " ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT DELETE ON TABLES TO authenticated",
        "default_privilege.extra",
        f"{IN_APP} grants to authenticated",
        "new tables of postgres are granted authenticated more than the contract lists",
        "[insert, select]",
        "[delete, select]",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" IN SCHEMA "app" REVOKE DELETE ON TABLES FROM "authenticated";',
        owner=IN_APP,
        contract=DEFAULTS_CONTRACT,
        also=("default_privilege.missing",),
        repairs=False,
    ),
    # No schema: the role's defaults for every schema, the built-in EXECUTE to PUBLIC given back.
    "default privilege extra in every schema": Exact(
        DEFAULTS,
        "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC",
        "default_privilege.extra",
        f"{EVERYWHERE} grants to public",
        "new functions of postgres are granted public more than the contract lists",
        "[]",
        "[execute]",
        'ALTER DEFAULT PRIVILEGES FOR ROLE "postgres" REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;',
        owner=EVERYWHERE,
        contract=DEFAULTS_CONTRACT,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_privilege_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)
