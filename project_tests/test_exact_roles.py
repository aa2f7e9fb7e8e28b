"""Every role finding pinned whole (project_tests/exact.py): a role missing (made again with its attributes
and memberships), LOGIN and BYPASSRLS each way, memberships lacking. An attribute the contract leaves out is
not checked: each case's database passes its contract before the defect with that attribute set."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pgcontract.connect import Target
from project_tests.exact import Exact, assert_exact

ROLE = "pgc_exact_role"
Q = f'"{ROLE}"'


def roles(**spec: Any) -> dict[str, Any]:
    return {"roles": {ROLE: spec}}


CASES = {
    "missing": Exact(
        f"CREATE ROLE {ROLE} LOGIN BYPASSRLS; GRANT pg_monitor, pg_read_all_stats TO {ROLE}",
        f"DROP ROLE {ROLE}",
        "role.missing",
        ROLE,
        "role is missing",
        ROLE,
        "absent",
        f'CREATE ROLE {Q} LOGIN BYPASSRLS;\nGRANT "pg_monitor" TO {Q};\nGRANT "pg_read_all_stats" TO {Q};',
        contract=roles(login=True, bypassrls=True, member_of=["pg_monitor", "pg_read_all_stats"]),
    ),
    "missing, without login": Exact(
        f"CREATE ROLE {ROLE} NOLOGIN",
        f"DROP ROLE {ROLE}",
        "role.missing",
        ROLE,
        "role is missing",
        ROLE,
        "absent",
        f"CREATE ROLE {Q} NOLOGIN;",
        contract=roles(login=False, bypassrls=False),
    ),
    "login wanted": Exact(
        f"CREATE ROLE {ROLE} LOGIN BYPASSRLS",
        f"ALTER ROLE {ROLE} NOLOGIN",
        "role.login",
        ROLE,
        "role login differs",
        "LOGIN",
        "NOLOGIN",
        f"ALTER ROLE {Q} LOGIN;",
        contract=roles(login=True),
    ),
    "login not wanted": Exact(
        f"CREATE ROLE {ROLE} NOLOGIN BYPASSRLS",
        f"ALTER ROLE {ROLE} LOGIN",
        "role.login",
        ROLE,
        "role login differs",
        "NOLOGIN",
        "LOGIN",
        f"ALTER ROLE {Q} NOLOGIN;",
        contract=roles(login=False),
    ),
    "bypassrls not wanted": Exact(
        f"CREATE ROLE {ROLE} LOGIN",
        f"ALTER ROLE {ROLE} BYPASSRLS",
        "role.bypassrls",
        ROLE,
        "role bypassrls differs",
        "NOBYPASSRLS",
        "BYPASSRLS",
        f"ALTER ROLE {Q} NOBYPASSRLS;",
        contract=roles(bypassrls=False),
    ),
    "bypassrls wanted": Exact(
        f"CREATE ROLE {ROLE} NOLOGIN BYPASSRLS",
        f"ALTER ROLE {ROLE} NOBYPASSRLS",
        "role.bypassrls",
        ROLE,
        "role bypassrls differs",
        "BYPASSRLS",
        "NOBYPASSRLS",
        f"ALTER ROLE {Q} BYPASSRLS;",
        contract=roles(login=False, bypassrls=True),
    ),
    "memberships lacking": Exact(
        f"CREATE ROLE {ROLE} NOLOGIN; GRANT pg_monitor, pg_read_all_stats, pg_read_all_settings TO {ROLE}",
        f"REVOKE pg_read_all_stats, pg_monitor FROM {ROLE}",
        "role.member_of",
        ROLE,
        "role lacks memberships",
        "[pg_monitor, pg_read_all_settings, pg_read_all_stats]",
        "[pg_read_all_settings]",
        f'GRANT "pg_monitor" TO {Q};\nGRANT "pg_read_all_stats" TO {Q};',
        contract=roles(member_of=["pg_read_all_stats", "pg_read_all_settings", "pg_monitor"]),
    ),
}


@pytest.fixture
def dropped_after(run_sql: Callable[[str], None]) -> Iterator[None]:
    """Roles belong to the server, not to the test's database: the role goes when the case ends."""
    yield
    run_sql(f"DROP ROLE IF EXISTS {ROLE}")


@pytest.mark.parametrize("case", list(CASES))
def test_the_role_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path, dropped_after: None
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)
