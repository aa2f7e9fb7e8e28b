"""tests/test_api_guard.py is part of the suite users run against production: against a DSN of a role that
may only connect (and only read), it passes and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import psycopg

from pgcontract.connect import Target
from project_tests.helpers import ROOT, fingerprint


def test_api_guard_suite_is_read_only_against_a_dsn(chat_db: Target, run_sql: Callable[[str], None]) -> None:
    run_sql("CREATE ROLE api_auditor LOGIN; ALTER ROLE api_auditor SET default_transaction_read_only = on")
    auditor = psycopg.conninfo.make_conninfo(chat_db.dsn, user="api_auditor")
    before = fingerprint(chat_db)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PGCONTRACT_DSN"] = auditor
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_api_guard.py", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert fingerprint(chat_db) == before
