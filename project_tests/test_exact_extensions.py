"""Every extension finding pinned whole (project_tests/exact.py): missing (with and without a schema), in
another schema, older than needed; each fix held back as manual with its reason. And what passes: a schema
or a version the contract leaves out, the very version it names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgcontract.checks.extensions import at_least, version_key
from pgcontract.connect import Target
from pgcontract.contract import Contract
from pgcontract.findings import Hazard
from project_tests.exact import Exact, assert_exact
from project_tests.helpers import check

INSTALL_NOTE = (
    "installing an extension runs its script with the installing role's rights (often a superuser's) and may "
    "need files on the server: pgcontract never installs one; run it yourself"
)
MOVE_NOTE = "moves every object of the extension; code naming them by the old schema breaks: do it in a migration"
UPDATE_NOTE = (
    "runs the extension's upgrade scripts (the server must have the newer version's files): do it in a migration"
)
MANUAL = (Hazard.MANUAL,)
SETUP = "CREATE SCHEMA extensions; CREATE EXTENSION citext WITH SCHEMA extensions;"
OLD_TRGM = "CREATE EXTENSION pg_trgm VERSION '1.3';"


def citext(**spec: str) -> dict[str, Any]:
    return {"extensions": {"citext": spec}}


CASES = {
    "missing, in a schema": Exact(
        SETUP,
        "DROP EXTENSION citext",
        "extension.missing",
        "citext",
        "extension not installed",
        "installed in extensions",
        "(none)",
        'CREATE EXTENSION IF NOT EXISTS "citext" WITH SCHEMA "extensions";',
        MANUAL,
        INSTALL_NOTE,
        owner="citext",
        contract=citext(schema="extensions"),
    ),
    "missing, any schema": Exact(
        SETUP,
        "DROP EXTENSION citext",
        "extension.missing",
        "citext",
        "extension not installed",
        "installed",
        "(none)",
        'CREATE EXTENSION IF NOT EXISTS "citext";',
        MANUAL,
        INSTALL_NOTE,
        owner="citext",
        contract=citext(),
    ),
    "in another schema": Exact(
        SETUP,
        "ALTER EXTENSION citext SET SCHEMA public",
        "extension.schema",
        "citext",
        "extension in another schema",
        "extensions",
        "public",
        'ALTER EXTENSION "citext" SET SCHEMA "extensions";',
        MANUAL,
        MOVE_NOTE,
        owner="citext",
        contract=citext(schema="extensions"),
    ),
    "older than needed": Exact(
        "CREATE EXTENSION pg_trgm;",
        "DROP EXTENSION pg_trgm; " + OLD_TRGM,
        "extension.version",
        "pg_trgm",
        "extension older than the contract needs",
        ">= 1.4",
        "1.3",
        'ALTER EXTENSION "pg_trgm" UPDATE;',
        MANUAL,
        UPDATE_NOTE,
        owner="pg_trgm",
        contract={"extensions": {"pg_trgm": {"min_version": "1.4"}}},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_extension_finding_is_exact(
    case: str, target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    assert_exact(CASES[case], target, run_sql, tmp_path)


def test_an_extension_older_than_needed_in_another_schema_has_both_findings(
    target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql("CREATE SCHEMA extensions; " + OLD_TRGM)
    contract = Contract.model_validate({"extensions": {"pg_trgm": {"schema": "extensions", "min_version": "1.4"}}})
    found = [(f.rule, f.expected, f.actual) for f in check(target, contract).findings]
    assert found == [("extension.schema", "extensions", "public"), ("extension.version", ">= 1.4", "1.3")]


@pytest.mark.parametrize(
    "spec",
    [{}, {"min_version": "1.3"}, {"min_version": "1.2"}, {"schema": "public", "min_version": "1.3"}],
    ids=["nothing but installed", "the very version", "an older version", "its schema and version"],
)
def test_an_extension_as_the_contract_says_passes(
    spec: dict[str, str], target: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql(OLD_TRGM)
    contract = Contract.model_validate({"extensions": {"pg_trgm": spec}})
    assert check(target, contract).findings == []


def test_versions_compare_part_by_part_numbers_before_text() -> None:
    assert version_key("1.10_2-rc") == ((0, 1), (0, 10), (0, 2), (1, "rc"))
    assert at_least("1.10", "1.9")
    assert not at_least("1.9", "1.10")
    assert at_least("1.beta", "1.2")  # a text part after any number
    assert not at_least("1.2", "1.beta")
    assert at_least("2.0-b", "2.0-a")
