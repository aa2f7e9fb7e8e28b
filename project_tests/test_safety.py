"""Safe against production: schema checks read the catalog in one READ ONLY transaction with
statement_timeout, lock_timeout and application_name set; a DSN run creates and writes nothing, and works
for a role that may do nothing but connect."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from pgcontract.connect import SessionLimits, Target, connect, read_only
from project_tests.helpers import CHAT_CONTRACT, fingerprint, run_cli


def test_read_only_transaction_sets_limits(chat_db: Target) -> None:
    limits = SessionLimits(statement_timeout="7s", lock_timeout="3s", application_name="pgcontract-test")
    with connect(chat_db, limits) as conn, read_only(conn, limits):
        row = conn.execute(
            "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
            " current_setting('lock_timeout'), current_setting('application_name')"
        ).fetchone()
        assert row == ("on", "7s", "3s", "pgcontract-test")
        try:
            conn.execute("CREATE TABLE public.should_fail (id int)")
            raise AssertionError("a write succeeded inside the read-only transaction")
        except psycopg.errors.ReadOnlySqlTransaction:
            pass


def test_limits_do_not_outlive_the_transaction(chat_db: Target) -> None:
    with connect(chat_db) as conn:
        with read_only(conn):
            pass
        conn.autocommit = True
        assert conn.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_dsn_run_creates_and_writes_nothing_even_as_a_connect_only_role(
    chat_db: Target, run_sql: Callable[[str], None]
) -> None:
    run_sql("CREATE ROLE auditor LOGIN; ALTER ROLE auditor SET default_transaction_read_only = on")
    auditor = psycopg.conninfo.make_conninfo(chat_db.dsn, user="auditor")
    before = fingerprint(chat_db)
    result = run_cli("check", "--dsn", auditor, "--contract", str(CHAT_CONTRACT))
    assert result.returncode == 0, result.stdout + result.stderr
    assert fingerprint(chat_db) == before
