"""The audit trail (issue 14): every ``repair --apply`` records, in the history store the user chose, who
ran it, when, against which database (no password), the contract's sha256 and every statement applied,
held back or failed, and the outcome; ``pgcontract history --audit`` prints it; the HTML report and the
dashboard show the last change. Read-only commands record their run summaries only."""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.report import history
from pgcontract.report.audit import HistoryStore
from pgcontract.report.summary import contract_digest
from pgcontract.server import ServeSettings, create_app
from project_tests.helpers import CHAT_CONTRACT, KITCHEN_CONTRACT, by_rule, check, run_cli
from project_tests.serving import running, wait_until
from project_tests.test_cli import PASSWORD
from project_tests.test_serve_cli import serve_process

MESSAGES = "public.sam_conversation_messages"
INDEX = "idx_sam_messages_thread_id"
CREATE_INDEX = f'CREATE INDEX IF NOT EXISTS "{INDEX}"'
NAME = "tests@127.0.0.1"  # how `check` and the trail name a --dsn target without NAME= (the test databases)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [line for line in lines if line.get("kind") == "audit"]


def finished(path: Path) -> dict[str, Any]:
    """The one finished audit entry of the file (its started entry checked alongside)."""
    entries = audit_lines(path)
    assert [e["stage"] for e in entries] == ["started", "finished"], entries
    assert entries[0]["audit_id"] == entries[1]["audit_id"]
    return entries[1]


def role_dsns(target: Target, run_sql: Callable[[str], None], role: str) -> tuple[str, str]:
    """The target as ``role`` (who has a password and owns nothing), as a URL and as key=value pairs."""
    run_sql(f"DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    url = f"postgresql://{role}:{PASSWORD}@{params['host']}:{params['port']}/{params['dbname']}"
    pairs = f"host={params['host']} port={params['port']} dbname={params['dbname']} user={role} password={PASSWORD}"
    return url, pairs


def test_an_applied_repair_records_who_changed_what_and_when(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The issue's done-when: `repair --apply --history audit.jsonl`, then `history --audit` shows it."""
    run_sql(f"DROP INDEX public.{INDEX}")
    audit = tmp_path / "audit.jsonl"
    before = datetime.now().astimezone()
    result = run_cli(
        "repair", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--apply", "--history", str(audit)
    )
    assert result.returncode == 0, result.stderr
    entry = finished(audit)
    role = psycopg.conninfo.conninfo_to_dict(chat_db.dsn)["user"]
    assert entry["outcome"] == "applied"
    assert entry["who"]["database_role"] == entry["who"]["session_user"] == role
    assert entry["who"]["os_user"] == getpass.getuser()
    assert entry["who"]["host"] == socket.gethostname()
    assert entry["database"] == chat_db.display
    assert entry["contract_sha256"] == contract_digest(CHAT_CONTRACT)
    started = datetime.fromisoformat(entry["started_at"])
    assert started.utcoffset() == timedelta(0)
    assert started >= before.replace(microsecond=0)
    assert [s["sql"].startswith(CREATE_INDEX) for s in entry["applied"]] == [True]
    assert entry["applied"][0]["fixes"] == [f"index.missing:{MESSAGES}.{INDEX}"]
    assert entry["held"] == entry["failed"] == []
    assert entry["after"] == {"errors_left": 0, "warnings_left": 0}

    shown = run_cli("history", "--audit", "--history", str(audit))
    assert shown.returncode == 0, shown.stderr
    assert f"{entry['started_at']}  repair --apply  {NAME} ({chat_db.display})  applied" in shown.stdout
    assert f"who: database role {role}, OS user {getpass.getuser()} on host {socket.gethostname()}" in shown.stdout
    assert f"sha256 {contract_digest(CHAT_CONTRACT)}" in shown.stdout
    assert "  applied:\n    " + CREATE_INDEX in shown.stdout
    assert "checked again: the database satisfies the contract" in shown.stdout
    as_json = json.loads(run_cli("history", "--audit", "--json", "--history", str(audit)).stdout)
    assert [e["audit_id"] for e in as_json] == [entry["audit_id"]]

    # A started entry without its finished one: the process stopped during the repair.
    cut = tmp_path / "cut.jsonl"
    cut.write_text(audit.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    unfinished = run_cli("history", "--audit", "--history", str(cut))
    assert "unknown: no finished entry" in unfinished.stdout
    assert "  planned:\n    " + CREATE_INDEX in unfinished.stdout


def test_a_failed_fix_is_recorded_with_its_error_and_no_password(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(f"DROP INDEX public.{INDEX}")
    for form, dsn in zip(("url", "pairs"), role_dsns(chat_db, run_sql, "audit_repairer"), strict=True):
        audit = tmp_path / f"{form}.jsonl"
        result = run_cli("repair", "--dsn", dsn, "--contract", str(CHAT_CONTRACT), "--apply", "--history", str(audit))
        assert result.returncode == 1, result.stderr  # the role does not own the table
        text = audit.read_text(encoding="utf-8")
        assert PASSWORD not in text
        entry = finished(audit)
        assert entry["outcome"] == "failed"
        assert entry["who"]["database_role"] == "audit_repairer"
        assert entry["database"].startswith("audit_repairer@")
        assert entry["applied"] == []
        (failure,) = entry["failed"]
        assert failure["sql"].startswith(CREATE_INDEX)
        assert "must be owner of table sam_conversation_messages" in failure["error"]
        assert failure["left"] == [f"index.missing:{MESSAGES}.{INDEX}"]
        assert entry["after"]["errors_left"] == 1
        shown = run_cli("history", "--audit", "--history", str(audit))
        assert "failed\n" in shown.stdout.splitlines()[0] + "\n"
        assert "error: must be owner of table sam_conversation_messages" in shown.stdout
        assert PASSWORD not in shown.stdout + shown.stderr
    assert by_rule(check(chat_db, CHAT_CONTRACT), "index.missing")


def test_a_held_back_fix_is_recorded_with_its_reason(
    make_db: Callable[[str], Target], run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    target = make_db("kitchen")
    run_sql("ALTER TABLE organizations ALTER COLUMN slug TYPE varchar(60)")
    audit = tmp_path / "audit.jsonl"
    result = run_cli(
        "repair", "--dsn", target.dsn, "--contract", str(KITCHEN_CONTRACT), "--apply", "--history", str(audit)
    )
    assert result.returncode == 1, result.stderr
    entry = finished(audit)
    assert entry["outcome"] == "nothing applied"
    assert entry["applied"] == entry["failed"] == []
    (held,) = entry["held"]
    assert 'ALTER TABLE "public"."organizations" ALTER COLUMN "slug" TYPE varchar(50)' in held["sql"]
    assert held["reason"].startswith("long-lock, data-loss:")
    assert held["fixes"] == ["column.type:public.organizations.slug"]
    shown = run_cli("history", "--audit", "--history", str(audit)).stdout
    assert "0 statement(s) applied, 1 held back, 0 failed" in shown
    assert "  held back:\n    ALTER TABLE" in shown
    assert "      why: long-lock, data-loss:" in shown


def test_a_repair_stopped_by_a_lock_is_recorded_as_busy(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """The finished entry is written when the repair ends in an exception too (exit 4, nothing changed)."""
    run_sql(f"DROP INDEX public.{INDEX}")
    audit = tmp_path / "audit.jsonl"
    with psycopg.connect(chat_db.dsn) as blocker:
        blocker.execute(f"LOCK TABLE {MESSAGES} IN ROW EXCLUSIVE MODE")
        result = run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--lock-timeout", "200ms", "--history", str(audit))
        blocker.rollback()
    assert result.returncode == 4, result.stderr
    entry = finished(audit)
    assert entry["outcome"] == "busy"
    assert f"{MESSAGES} is locked (ROW EXCLUSIVE) by pid" in entry["error"]
    assert entry["applied"] == []
    assert f"repair --apply  {NAME} (" in run_cli("history", "--audit", "--history", str(audit)).stdout


def test_an_unwritable_audit_store_stops_the_repair_before_anything_is_applied(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(f"DROP INDEX public.{INDEX}")
    not_a_file = tmp_path / "audit.jsonl"
    not_a_file.mkdir()
    result = run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--history", str(not_a_file))
    assert result.returncode == 2
    assert f"pgcontract: cannot write the audit trail to {not_a_file}: Is a directory: nothing applied" in result.stderr
    assert by_rule(check(chat_db, CHAT_CONTRACT), "index.missing")


@pytest.fixture
def store_dsn(target: Target, run_sql: Callable[[str], None]) -> Iterator[str]:
    """A database of its own for the history table, reached with a password (URL form)."""
    role = f"history_{uuid.uuid4().hex[:8]}"
    run_sql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    name = f"pgc_store_{role}"
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield f"postgresql://{role}:{PASSWORD}@{params['host']}:{params['port']}/{name}"
    with psycopg.connect(target.dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_table_store_records_the_audit_too(chat_db: Target, run_sql: Callable[[str], None], store_dsn: str) -> None:
    run_sql(f"DROP INDEX public.{INDEX}")
    url, _ = role_dsns(chat_db, run_sql, "audit_table_repairer")
    run_sql(
        f"ALTER TABLE {MESSAGES} OWNER TO audit_table_repairer; GRANT CREATE ON SCHEMA public TO audit_table_repairer"
    )
    result = run_cli("repair", "--dsn", url, "--contract", str(CHAT_CONTRACT), "--apply", "--history-dsn", store_dsn)
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    with psycopg.connect(store_dsn) as conn:
        rows = conn.execute("SELECT run_id::text, target, passed, entry FROM pgcontract_history ORDER BY id").fetchall()
    assert [(r[3]["stage"], r[2]) for r in rows] == [("started", False), ("finished", True)]
    assert {r[0] for r in rows} == {rows[0][3]["audit_id"]}
    assert PASSWORD not in json.dumps([r[3] for r in rows])
    entry = rows[1][3]
    assert entry["outcome"] == "applied"
    assert entry["who"]["database_role"] == "audit_table_repairer"
    shown = run_cli("history", "--audit", "--history-dsn", store_dsn)
    assert shown.returncode == 0, shown.stderr
    assert "who: database role audit_table_repairer, OS user" in shown.stdout
    assert "  applied:\n    " + CREATE_INDEX in shown.stdout
    assert PASSWORD not in shown.stdout + shown.stderr


def test_check_records_its_run_summary_and_no_audit_entry(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    """A store holding both kinds: the trend reads runs without complaining of audit entries, --audit reads
    audit entries without complaining of runs, and a bad line is skipped with a warning in both."""
    run_sql(f"DROP INDEX public.{INDEX}")
    store = tmp_path / "history.jsonl"
    assert (
        run_cli("check", "--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--history", str(store)).returncode
        == 1
    )
    lines = [json.loads(line) for line in store.read_text(encoding="utf-8").splitlines()]
    (line,) = lines
    assert "kind" not in line
    assert line["passed"] is False
    assert run_cli("history", "--audit", "--history", str(store)).stdout.strip() == "no changes recorded"

    assert run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--history", str(store)).returncode == 0
    with store.open("a", encoding="utf-8") as out:
        out.write("{not json\n")
    trend = run_cli("history", "--history", str(store))
    assert trend.returncode == 0
    assert trend.stderr == f"pgcontract: warning: {store}:4: not a JSON line, skipped\n"
    assert trend.stdout.startswith(f"{NAME}  ✘ ")
    runs = json.loads(run_cli("history", "--json", "--history", str(store)).stdout)
    assert [(r["target"], r["passed"]) for r in runs] == [(NAME, False)]
    changes = run_cli("history", "--audit", "--history", str(store))
    assert changes.stderr == trend.stderr
    assert changes.stdout.count(f"repair --apply  {NAME} (") == 1


def _hostile_copy(audit: Path) -> None:
    """A later copy of the recorded change whose OS user is markup (the store is a file anyone with access
    may edit): shown as text, never as HTML."""
    entry = {**finished(audit), "audit_id": str(uuid.uuid4()), "started_at": "2999-01-01T00:00:00+00:00"}
    entry["who"] = {**entry["who"], "os_user": "<script>alert(1)</script>"}
    with audit.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")


def test_the_html_report_shows_the_last_change(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    run_sql(f"DROP INDEX public.{INDEX}")
    audit, report = tmp_path / "audit.jsonl", tmp_path / "report.html"
    assert run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--history", str(audit)).returncode == 0
    _hostile_copy(audit)
    result = run_cli("check", "--dsn", chat_db.dsn, "--history", str(audit), "--html", str(report))
    assert result.returncode == 0, result.stdout
    page = report.read_text(encoding="utf-8")
    assert '<section class="last-change" data-outcome="applied"><h2>Last change</h2>' in page
    assert "OS user &lt;script&gt;alert(1)&lt;/script&gt; on host" in page
    assert "<script>alert(1)" not in page
    assert "CREATE INDEX IF NOT EXISTS &quot;idx_sam_messages_thread_id&quot;" in page
    assert f"repair --apply on {chat_db.display}" in page
    without = tmp_path / "plain.html"
    assert run_cli("check", "--dsn", chat_db.dsn, "--html", str(without)).returncode == 0
    assert '<section class="last-change"' not in without.read_text(encoding="utf-8")


def test_the_dashboard_shows_the_last_change(chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path) -> None:
    run_sql(f"DROP INDEX public.{INDEX}")
    audit = tmp_path / "audit.jsonl"
    assert run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--history", str(audit)).returncode == 0
    _hostile_copy(audit)
    args = ("--dsn", chat_db.dsn, "--contract", str(CHAT_CONTRACT), "--no-auth", "--history", str(audit))
    with serve_process(*args) as (_, url, lines):
        assert wait_until(lambda: _page(url) is not None, timeout=60), "".join(lines)
        page = _page(url)
    assert page is not None
    assert '<section class="last-change" data-outcome="applied"><h2>Last change</h2>' in page
    assert "OS user &lt;script&gt;alert(1)&lt;/script&gt; on host" in page
    assert "<script>" not in page
    assert "CREATE INDEX IF NOT EXISTS &quot;idx_sam_messages_thread_id&quot;" in page


def _page(url: str) -> str | None:
    try:
        response = httpx.get(f"{url}/", timeout=10)
    except httpx.TransportError:
        return None
    return response.text if response.status_code == 200 else None


def test_the_dashboard_reads_a_large_history_again_only_when_it_changed(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A history of 20,000 runs of other databases around one real repair: the page shows that change;
    asked again with the file unchanged, it does not read the file again; once a later change is
    appended, the next page shows it."""
    run_sql(f"DROP INDEX public.{INDEX}")
    audit = tmp_path / "history.jsonl"
    assert run_cli("repair", "--dsn", chat_db.dsn, "--apply", "--history", str(audit)).returncode == 0
    repair = audit.read_text(encoding="utf-8")
    other = {"target": "other", "database": "app@db.elsewhere.test:5432/other", "passed": True, "reachable": True}
    runs = "".join(
        json.dumps({**other, "run_id": str(i), "finished_at": f"2026-01-01T00:00:{i % 60:02d}Z", "failed": 0}) + "\n"
        for i in range(10_000)
    )
    audit.write_text(runs + repair + runs, encoding="utf-8")
    reads: list[int] = []
    real_read = history.read

    def counted(**kwargs: Any) -> list[dict[str, Any]]:
        reads.append(1)
        return real_read(**kwargs)

    monkeypatch.setattr(history, "read", counted)
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), history=HistoryStore(file=audit))
    app = create_app(settings)
    with running(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert wait_until(lambda: app.state.trend_seeded.is_set())
        before = len(reads)
        first, second = client.get("/").text, client.get("/").text
        assert len(reads) == before + 1  # the second page from what the first read
        later = [
            {**entry, "audit_id": "later", "started_at": "2999-01-01T00:00:00+00:00", "who": {"os_user": "night-ops"}}
            for entry in audit_lines(audit)
        ]
        with audit.open("a", encoding="utf-8") as out:
            out.writelines(json.dumps(entry) + "\n" for entry in later)
        third = client.get("/").text
        assert len(reads) == before + 2
    for page in (first, second, third):
        assert '<section class="last-change" data-outcome="applied"><h2>Last change</h2>' in page
        assert CREATE_INDEX.replace('"', "&quot;") in page
    assert "night-ops" not in first + second
    assert "OS user night-ops" in third
