"""A column of a type named with a ``;`` (``public."a;b"``, which the type parser refuses and a contract
cannot name): the snapshot writes the type as the catalog prints it, as it does for a domain's or composite
type's attribute, instead of stopping with a traceback; loading that contract then says which type, where."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from pgcontract.connect import Target
from project_tests.helpers import run_cli

SCHEMA = (
    'CREATE DOMAIN public."a;b" AS integer;'
    ' CREATE TABLE public.w (id int PRIMARY KEY, x public."a;b", xs public."a;b"[]);'
    " CREATE VIEW public.k AS SELECT id, x FROM public.w;"
)


def test_a_column_of_a_type_named_with_a_semicolon_is_written_as_printed(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    run_sql(SCHEMA)
    done = run_cli("snapshot", "--dsn", target.dsn)
    assert done.returncode == 0, done.stderr
    contract = yaml.safe_load(done.stdout)
    columns = contract["tables"]["public.w"]["columns"]
    assert (columns["x"]["type"], columns["xs"]["type"]) == ('public."a;b"', 'public."a;b"[]')
    assert contract["views"]["public.k"]["columns"] == {"id": "integer", "x": 'public."a;b"'}
    path = tmp_path / "contract.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    loaded = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    assert loaded.returncode == 2, loaded.stdout + loaded.stderr
    assert "tables['public.w'].columns.x.type: not a valid PostgreSQL type: 'public.\"a;b\"'" in loaded.stderr
