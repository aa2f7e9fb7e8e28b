"""Columns of types whose names need SQL's quotes (``public."a;b"``, ``public."My Dom"``, ``public."Mood"``):
the snapshot writes each type as SQL reads it back, so the database passes its own snapshot, and a column
moved to a namesake of another case (``public.mood``) fails, naming the column."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from pgcontract.connect import Target
from project_tests.helpers import run_cli

SCHEMA = (
    'CREATE DOMAIN public."a;b" AS integer; CREATE DOMAIN public."My Dom" AS text;'
    " CREATE TYPE public.\"Mood\" AS ENUM ('x'); CREATE TYPE public.mood AS ENUM ('x');"
    ' CREATE TABLE public.w (id int PRIMARY KEY, x public."a;b", xs public."a;b"[], d public."My Dom",'
    ' e public."Mood");'
    " CREATE VIEW public.k AS SELECT id, x, d FROM public.w;"
)


def test_a_database_with_types_named_with_quotes_passes_its_own_snapshot(
    run_sql: Callable[[str], None], target: Target, tmp_path: Path
) -> None:
    run_sql(SCHEMA)
    done = run_cli("snapshot", "--dsn", target.dsn)
    assert done.returncode == 0, done.stderr
    contract = yaml.safe_load(done.stdout)
    columns = {name: column["type"] for name, column in contract["tables"]["public.w"]["columns"].items()}
    assert columns == {
        "id": "integer",
        "x": 'public."a;b"',
        "xs": 'public."a;b"[]',
        "d": 'public."My Dom"',
        "e": 'public."Mood"',
    }
    assert contract["views"]["public.k"]["columns"] == {"id": "integer", "x": 'public."a;b"', "d": 'public."My Dom"'}
    path = tmp_path / "contract.yaml"
    path.write_text(done.stdout, encoding="utf-8")
    passed = run_cli("check", "--dsn", target.dsn, "--contract", str(path))
    assert passed.returncode == 0, passed.stdout + passed.stderr

    run_sql("ALTER TABLE public.w ALTER COLUMN e TYPE public.mood USING e::text::public.mood")
    failed = run_cli("check", "--dsn", target.dsn, "--contract", str(path), "--", "-q", "-rf")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "[column.type] public.w.e: column has another type" in failed.stdout
    assert failed.stdout.count("FAILED") == 1, failed.stdout
