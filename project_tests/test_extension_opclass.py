"""An extension's operator class in an index key (pg_trgm's gist_trgm_ops, PostGIS' gist_geometry_ops_nd)
lives in the extension's schema: the snapshot names it with that schema, so that the SQL written for it
finds it whatever the search_path; a contract naming it unqualified matches it in any schema (as with an
extension's types), a qualified one only in that schema; more than schema.name is a contract error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.indexkeys import same_opclass
from project_tests.helpers import check, errors, run_cli

SCHEMA = """
CREATE SCHEMA extensions;
CREATE EXTENSION pg_trgm WITH SCHEMA extensions;
CREATE TABLE public.streets (id integer PRIMARY KEY, name text NOT NULL);
CREATE INDEX streets_name_trgm ON public.streets USING gist (name extensions.gist_trgm_ops);
CREATE INDEX streets_name_prefix ON public.streets (name text_pattern_ops);
"""


def contract_with(tmp_path: Path, opclass: str) -> Path:
    path = tmp_path / "streets.yaml"
    path.write_text(
        "tables:\n"
        "  public.streets:\n"
        "    columns: {id: {type: integer}, name: {type: text}}\n"
        "    indexes:\n"
        f"      streets_name_trgm: {{columns: [{{column: name, opclass: '{opclass}'}}], method: gist}}\n"
        "      streets_name_prefix: {columns: [{column: name, opclass: text_pattern_ops}]}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def streets(run_sql: Callable[[str], None], target: Target) -> Target:
    run_sql(SCHEMA)
    return target


def test_the_snapshot_names_an_extensions_operator_class_with_its_schema_and_a_built_in_one_without(
    streets: Target,
) -> None:
    done = run_cli("snapshot", "--dsn", streets.dsn)
    assert done.returncode == 0, done.stderr
    assert "{column: name, opclass: extensions.gist_trgm_ops}" in done.stdout
    assert "{column: name, opclass: text_pattern_ops}" in done.stdout


@pytest.mark.parametrize("opclass", ["gist_trgm_ops", "extensions.gist_trgm_ops"])
def test_the_operator_class_named_with_or_without_its_schema_passes(
    opclass: str, streets: Target, tmp_path: Path
) -> None:
    assert errors(check(streets, load_contract(contract_with(tmp_path, opclass)))) == []


def test_the_operator_class_named_in_another_schema_fails(streets: Target, tmp_path: Path) -> None:
    found = [
        (f.rule, f.object)
        for f in errors(check(streets, load_contract(contract_with(tmp_path, "public.gist_trgm_ops"))))
    ]
    assert found == [("index.columns", "public.streets.streets_name_trgm")]


def test_an_operator_class_of_more_than_schema_and_name_is_a_contract_error(tmp_path: Path) -> None:
    done = run_cli("validate", "--contract", str(contract_with(tmp_path, "a.b.gist_trgm_ops")))
    assert done.returncode == 2
    assert "expected operator class or schema.operator_class" in done.stderr


def test_only_a_qualified_name_pins_the_schema() -> None:
    assert same_opclass("gist_trgm_ops", "extensions.gist_trgm_ops")
    assert same_opclass("extensions.gist_trgm_ops", "extensions.gist_trgm_ops")
    assert not same_opclass("public.gist_trgm_ops", "extensions.gist_trgm_ops")
    assert not same_opclass("gin_trgm_ops", "extensions.gist_trgm_ops")
    assert not same_opclass(None, "extensions.gist_trgm_ops")
    assert same_opclass(None, None)
