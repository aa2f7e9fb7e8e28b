"""``--rls-live`` against real databases: a target lacking a table is skipped there (never a crash), and
the sequences the rolled-back test rows drew from are reported as advanced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.embedded import supabase_shim
from project_tests.helpers import CHAT_SQL, run_cli

THREADS = "public.sam_conversation_threads"
MESSAGES = "public.sam_conversation_messages"


def url(dsn: str) -> str:
    """The URL form (``NAME=`` names only a URL DSN)."""
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


@pytest.fixture
def second_database(target: Target) -> Iterator[Callable[[str], str]]:
    """Another database of the test's server, loaded with the shim, the chat schema and then ``extra``."""
    made: list[str] = []

    def make(extra: str) -> str:
        name = f"pgc_second_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(target.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        made.append(name)
        dsn = psycopg.conninfo.make_conninfo(target.dsn, dbname=name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute((supabase_shim().read_text(encoding="utf-8") + CHAT_SQL.read_text(encoding="utf-8")).encode())
            conn.execute(extra.encode())
        return dsn

    yield make
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize(
    ("dropped", "skipped"),
    [
        (f"DROP TABLE {MESSAGES}", {MESSAGES: f"table {MESSAGES} is missing (reported by test_table[{MESSAGES}])"}),
        (
            f"DROP TABLE {THREADS} CASCADE",  # the messages' ownership foreign key goes with it
            {
                THREADS: f"table {THREADS} is missing (reported by test_table[{THREADS}])",
                MESSAGES: f"{MESSAGES} has no ownership foreign key (thread_id) "
                f"(reported by test_constraints[{MESSAGES}])",
            },
        ),
    ],
    ids=["child-missing", "parent-missing"],
)
def test_a_target_lacking_a_table_is_skipped_not_crashed(
    chat_db: Target,
    second_database: Callable[[str], str],
    tmp_path: Path,
    dropped: str,
    skipped: dict[str, str],
) -> None:
    bad = second_database(dropped)
    summary = tmp_path / "summary.json"
    result = run_cli(
        "check",
        "--dsn",
        f"ok={url(chat_db.dsn)}",
        "--dsn",
        f"bad={url(bad)}",
        "--rls-live",
        "--json",
        str(summary),
        "--",
        "-rs",
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert "KeyError" not in output
    assert "StopIteration" not in output
    for reason in skipped.values():
        assert reason in output
    targets = {t["target"]: t for t in json.loads(summary.read_text())["targets"]}
    assert targets["ok"]["passed"]
    # both tables' matrices, the leftover check and the erasure proof
    assert targets["ok"]["counts"]["rls-isolation"]["passed"] == 4
    missing = next(iter(skipped))
    assert any(t.endswith(f"test_table[bad:{missing}]") for t in targets["bad"]["failed_tests"])
    isolation_bad = targets["bad"]["counts"]["rls-isolation"]
    assert isolation_bad["failed"] == 0
    assert isolation_bad["skipped"] >= len(skipped)


SERIAL_SCHEMA = """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'app_users') THEN CREATE ROLE app_users NOLOGIN; END IF;
END $$;
CREATE TABLE public.folders (id bigserial PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.notes (
  id serial PRIMARY KEY, owner name NOT NULL DEFAULT current_user, body text NOT NULL,
  folder_id bigint NOT NULL REFERENCES public.folders
);
CREATE TABLE public.tags (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner name NOT NULL, label text NOT NULL);
ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tags ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON public.notes TO app_users USING (owner = current_user);
CREATE POLICY own_tags ON public.tags TO app_users USING (owner = current_user);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes, public.tags TO app_users;
GRANT USAGE ON SEQUENCE public.notes_id_seq TO app_users;
REVOKE ALL ON public.folders FROM anon, authenticated;
REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.notes, public.tags FROM anon, authenticated;
"""
SERIAL_CONTRACT = """
version: 1
auth: {mode: role, member_of: [app_users]}
tables:
  public.notes:
    rls: {enabled: true}
    isolation: {owner: owner}
  public.tags:
    rls: {enabled: true}
    isolation: {owner: owner}
"""


def last_values(dsn: str) -> dict[str, int | None]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT sequencename::text, last_value FROM pg_sequences WHERE schemaname = 'public'")
        return {str(name): value for name, value in rows.fetchall()}


def test_rls_live_reports_the_sequences_it_advanced(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """Measured first: the rolled-back rows leave the serial and identity sequences advanced, a parent's
    (folders, seeded for notes but not tested itself) too. The run says so (terminal, JSON summary, HTML
    report) and names the columns."""
    run_sql(SERIAL_SCHEMA)
    contract, html, summary = tmp_path / "contract.yaml", tmp_path / "report.html", tmp_path / "summary.json"
    contract.write_text(SERIAL_CONTRACT, encoding="utf-8")
    before = last_values(target.dsn)

    without = run_cli("check", "--dsn", target.dsn, "--contract", str(contract), "--json", str(summary))
    assert without.returncode == 0, without.stdout
    assert last_values(target.dsn) == before
    assert json.loads(summary.read_text())["targets"][0]["sequences_advanced"] == []
    assert "sequences stay advanced" not in without.stdout

    live = run_cli(
        "check",
        "--dsn",
        target.dsn,
        "--contract",
        str(contract),
        "--rls-live",
        "--html",
        str(html),
        "--json",
        str(summary),
    )
    assert live.returncode == 0, live.stdout
    after = last_values(target.dsn)
    assert all((after[s] or 0) > (before[s] or 0) for s in ("folders_id_seq", "notes_id_seq", "tags_id_seq")), (
        before,
        after,
    )
    with psycopg.connect(target.dsn) as conn:
        assert conn.execute(
            "SELECT (SELECT count(*) FROM public.notes) + (SELECT count(*) FROM public.tags)"
        ).fetchone() == (0,)

    columns = ["public.folders.id", "public.notes.id", "public.tags.id"]
    assert json.loads(summary.read_text())["targets"][0]["sequences_advanced"] == columns
    assert "sequences stay advanced (nextval is not undone by a rollback): " + ", ".join(columns) in live.stdout
    report = html.read_text(encoding="utf-8")
    assert "the sequences of these columns stay advanced" in report
    assert ", ".join(columns) in report
