"""Passwords in DSNs that libpq cannot read, or would misread: never shown, whatever the DSN looks like.

Each hostile form is given to every command and, next to a healthy target, to a run writing every report;
no piece of its password may appear in any output. A foreign scheme and a DSN libpq would misread are
refused with exit 2; an upper-case ``POSTGRESQL://`` is PostgreSQL's and is accepted."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import psycopg
import pytest

from pgcontract.connect import UNPARSABLE, CannotConnect, DsnError, Target, connect, parse_dsn, redact_dsn, redact_text
from pgcontract.targets import TargetsError, parse_targets
from project_tests.helpers import run_cli
from project_tests.serving import wait_until
from project_tests.test_serve_cli import serve_process

PASSWORD = "Pw9-s3cr3t"
# '@', ':', '/' and '%' unencoded; each piece between them is distinctive, so none may be shown either.
HOSTILE = "Kq8@Vz3:Wx9/Ty%zz"
HOSTILE_PIECES = ["Kq8", "Vz3", "Wx9", "Ty%zz"]
TWO_WORDS = "Zq4-first Yv6-second"

# name: (DSN, pieces that must never be shown, exit code on its own)
FORMS: dict[str, tuple[str, list[str], int]] = {
    "sqlalchemy": (f"postgresql+psycopg2://u:{PASSWORD}@127.0.0.1:1/db", [PASSWORD], 2),
    "upper-case": (f"POSTGRESQL://u:{PASSWORD}@127.0.0.1:1/db", [PASSWORD], 3),
    "foreign": (f"mysql://u:{PASSWORD}@127.0.0.1:1/db", [PASSWORD], 2),
    "unencoded": (f"postgresql://u:{HOSTILE}@127.0.0.1:1/db", HOSTILE_PIECES, 2),
    "two-words": (f"host=127.0.0.1 port=1 user=u password={TWO_WORDS}", TWO_WORDS.split(), 2),
}


def leaks(pieces: list[str], *texts: str) -> list[str]:
    return [piece for piece in pieces for text in texts if piece in text]


def role_with_password(target: Target, run_sql: Callable[[str], None], role: str, password: str) -> dict[str, str]:
    run_sql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)
    return {"user": role, "host": str(params["host"]), "port": str(params["port"]), "dbname": str(params["dbname"])}


def as_url(target: Target) -> str:
    p = psycopg.conninfo.conninfo_to_dict(target.dsn)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


# -- the parser and the redaction, alone ------------------------------------------------------------


@pytest.mark.parametrize("form", [f for f in FORMS if f != "upper-case"])
def test_unparsable_or_misread_dsn_is_shown_as_a_placeholder(form: str) -> None:
    dsn, pieces, _ = FORMS[form]
    assert redact_dsn(dsn) == UNPARSABLE
    with pytest.raises(DsnError) as raised:
        parse_dsn(dsn, "--dsn #2")
    assert str(raised.value).startswith("--dsn #2: ")
    assert not leaks(pieces, str(raised.value))


@pytest.mark.parametrize("form", list(FORMS))
def test_error_texts_quoting_the_dsn_or_its_pieces_are_scrubbed(form: str) -> None:
    dsn, pieces, _ = FORMS[form]
    # What libpq says of such DSNs: the whole DSN, or the part after the first '@', or one word of it.
    said = f'missing "=" after "{dsn}"; invalid token "{dsn.partition("@")[2]}"; after "{pieces[-1]}"'
    scrubbed = redact_text(said, dsn)
    assert not leaks(pieces, scrubbed), scrubbed


def test_a_short_password_fragment_is_not_starred_inside_other_words() -> None:
    dsn = "postgresql://u:p@ss:w/rd%zz@127.0.0.1:1/db"
    assert redact_text("pgcontract: postgres stopped", dsn) == "pgcontract: postgres stopped"
    scrubbed = redact_text(f"bad token {dsn} near rd%zz, ss:w", dsn)
    assert not leaks(["rd%zz", "ss:w", "p@ss"], scrubbed), scrubbed


def test_a_quoted_key_value_password_is_scrubbed_as_libpq_read_it_and_as_written() -> None:
    # libpq reads 'Xit\'s a secretX' as Xit's a secretX: a driver quotes either form.
    dsn = r"host=db.example user=app password='Xit\'s a secretX'"
    assert parse_dsn(dsn).password == "Xit's a secretX"
    said = r"failed for Xit's a secretX; as written 'Xit\'s a secretX', unquoted Xit\'s a secretX."
    # The longest form first: a quoted password leaves no quotes around the stars.
    assert redact_text(said, dsn) == "failed for ********; as written ********, unquoted ********."


def test_a_password_of_four_characters_is_starred_even_inside_a_word() -> None:
    dsn = "postgresql://u:Ab9z@h/db"
    assert redact_text("xAb9zx Ab9z", dsn) == "x********x ********"


def test_a_password_of_three_characters_is_starred_only_as_a_word() -> None:
    # Word characters on either side (upper case included) make it part of another word, which is shown.
    dsn = "postgresql://u:k9q@h/db"
    assert redact_text("Zk9q k9qZ k9q, (k9q)", dsn) == "Zk9q k9qZ ********, (********)"


def test_an_unreadable_dsn_keeps_its_scheme_readable_and_stars_every_other_piece() -> None:
    dsn = "postgresql://u:Kq8@Vz3@h/db"  # two '@': libpq would misread it, so every piece may be the password
    said = "postgresql refused: Kq8@Vz3@h"
    assert redact_text(said, dsn) == "postgresql refused: ********@********@********"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("port=6000", "localhost:6000/"),
        ("host=db.example dbname=app", "db.example:5432/app"),
        ("user=app host=db.example port=5", "app@db.example:5/"),
    ],
)
def test_a_dsn_is_shown_with_libpq_defaults_and_nothing_invented(dsn: str, shown: str) -> None:
    assert redact_dsn(dsn) == shown


def test_upper_case_scheme_is_read_and_normalised_for_libpq() -> None:
    parsed = parse_dsn(f"POSTGRESQL://u:{PASSWORD}@db.example.com:6432/app")
    assert parsed.conninfo.startswith("postgresql://")
    assert (parsed.user, parsed.host, parsed.port, parsed.dbname) == ("u", "db.example.com", "6432", "app")
    assert redact_dsn(f"Postgres://u:{PASSWORD}@db.example.com/app") == "u@db.example.com:5432/app"


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://u:pa/ss@h/db",  # libpq: host 'u', port 'pa', database 'ss@h/db'
        "postgresql://u:p@ss@h/db",  # libpq: password 'p', host 'ss@h'
    ],
)
def test_a_url_libpq_would_misread_is_refused(dsn: str) -> None:
    with pytest.raises(DsnError, match="percent-encode"):
        parse_dsn(dsn)
    assert redact_dsn(dsn) == UNPARSABLE


def test_a_percent_encoded_password_is_read_and_scrubbed_in_both_forms() -> None:
    dsn = f"postgresql://u:{quote(HOSTILE, safe='')}@h:5/db"
    assert redact_dsn(dsn) == "u@h:5/db"
    assert parse_dsn(dsn).password == HOSTILE
    scrubbed = redact_text(f"{HOSTILE} {quote(HOSTILE, safe='')}", dsn)
    assert not leaks([*HOSTILE_PIECES, quote(HOSTILE, safe="")], scrubbed), scrubbed


@pytest.mark.parametrize("dsn", [FORMS["unencoded"][0], "postgresql://u:Kq8/Vz3@127.0.0.1:1/db"])
def test_connect_never_hands_libpq_a_dsn_it_cannot_read_or_would_misread(dsn: str) -> None:
    # The second, libpq reads as host 'u', port 'Kq8' and database 'Vz3@127.0.0.1:1/db'.
    with pytest.raises(CannotConnect) as raised:
        connect(Target("t", dsn))
    assert str(raised.value).startswith(f"cannot connect to {UNPARSABLE}: cannot tell the password from the host")
    assert not leaks(["Kq8", "Vz3", *HOSTILE_PIECES], str(raised.value))


def test_targets_are_checked_and_named_by_position_never_by_text(tmp_path: Path) -> None:
    with pytest.raises(TargetsError) as raised:
        parse_targets(["postgresql://h/ok", f"x=mysql://u:{PASSWORD}@h/db"], None)
    assert str(raised.value) == (
        "--dsn #2 (x): scheme 'mysql' is not PostgreSQL's: use postgresql://user:password@host:port/dbname"
    )
    targets_file = tmp_path / "targets.yaml"
    targets_file.write_text(f"eu: 'postgresql+psycopg2://u:{PASSWORD}@h/db'\n")
    with pytest.raises(TargetsError) as raised:
        parse_targets([], targets_file)
    assert str(raised.value).startswith(f"{targets_file}: eu: scheme 'postgresql+psycopg2' is not PostgreSQL's")
    assert PASSWORD not in str(raised.value)
    (upper,) = parse_targets([f"POSTGRESQL://u:{PASSWORD}@h/app"], None)
    assert (upper.name, upper.dsn) == ("app@h", f"postgresql://u:{PASSWORD}@h/app")


# -- the command, as a user runs it -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "command"),
    # A DSN that is read is served: its log is test_serve_log_never_shows_the_password.
    [(f, c) for f in FORMS for c in ("check", "snapshot", "repair", "serve") if FORMS[f][2] == 2 or c != "serve"],
)
def test_every_command_refuses_or_redacts_a_hostile_dsn(form: str, command: str) -> None:
    dsn, pieces, code = FORMS[form]
    result = run_cli(command, "--dsn", dsn, *(["--no-auth"] if command == "serve" else []))
    assert not leaks(pieces, result.stdout, result.stderr), result.stderr
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    if code == 2:
        assert (
            "is not PostgreSQL's" in result.stderr
            or "libpq can read" in result.stderr
            or "percent-encode" in (result.stderr)
        )


@pytest.mark.parametrize(
    "args",
    [
        [FORMS["foreign"][0]],  # where the command goes
        ["check", FORMS["upper-case"][0]],  # --dsn forgotten
        ["snapshot", "--schema", "public", FORMS["two-words"][0]],
        ["serve", "--port", FORMS["unencoded"][0]],
    ],
)
def test_a_dsn_in_the_wrong_place_is_not_quoted_by_the_usage_error(args: list[str]) -> None:
    result = run_cli(*args)
    assert not leaks([PASSWORD, *HOSTILE_PIECES, *TWO_WORDS.split()], result.stdout, result.stderr), result.stderr
    assert result.returncode == 2
    assert "error:" in result.stderr


@pytest.mark.parametrize("variable", ["PGCONTRACT_DSN", "DATABASE_URL"])
def test_a_foreign_dsn_in_the_environment_is_refused_without_echo(variable: str) -> None:
    result = run_cli("snapshot", env={variable: FORMS["foreign"][0]})
    assert result.returncode == 2
    assert result.stderr == (
        f"pgcontract: ${variable}: scheme 'mysql' is not PostgreSQL's: use postgresql://user:password@host:port/dbname\n"
    )


def test_a_foreign_history_dsn_is_refused_without_echo(tmp_path: Path) -> None:
    for args in (["check", "--history-dsn", FORMS["foreign"][0]], ["history", "--history-dsn", FORMS["foreign"][0]]):
        result = run_cli(*args)
        assert result.returncode == 2
        assert PASSWORD not in result.stdout + result.stderr
        assert "--history-dsn: scheme 'mysql' is not PostgreSQL's" in result.stderr


@pytest.mark.parametrize("form", list(FORMS))
def test_next_to_a_healthy_target_no_report_shows_the_password(form: str, chat_db: Target, tmp_path: Path) -> None:
    dsn, pieces, code = FORMS[form]
    html, junit, summary, hist = (tmp_path / n for n in ("report.html", "junit.xml", "summary.json", "h.jsonl"))
    named = dsn if form == "two-words" else f"broken={dsn}"
    result = run_cli(
        "check",
        "--dsn",
        f"healthy={as_url(chat_db)}",
        "--dsn",
        named,
        "--html",
        str(html),
        "--junitxml",
        str(junit),
        "--json",
        str(summary),
        "--history",
        str(hist),
    )
    written = [p.read_text(encoding="utf-8") for p in (html, junit, summary, hist) if p.exists()]
    assert not leaks(pieces, result.stdout, result.stderr, *written)
    assert result.returncode == code, result.stdout[-2000:] + result.stderr
    if code == 3:  # read, unreachable: the run went on and every report was written
        assert len(written) == 4
        targets = {t["target"]: t for t in json.loads(summary.read_text())["targets"]}
        assert targets["healthy"]["passed"]
        assert not targets["broken"]["reachable"]
        assert "broken (u@127.0.0.1:1/db)" in written[0]
    else:  # refused before anything ran
        assert written == []


def test_upper_case_dsn_with_a_password_works_and_is_never_shown(
    chat_db: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    p = role_with_password(chat_db, run_sql, "upper_checker", PASSWORD)
    upper = f"POSTGRESQL://{p['user']}:{PASSWORD}@{p['host']}:{p['port']}/{p['dbname']}"
    encoded = f"postgresql://{p['user']}:{quote(HOSTILE, safe='')}@{p['host']}:{p['port']}/{p['dbname']}"
    snapshot = run_cli("snapshot", "--dsn", upper)
    assert snapshot.returncode == 0, snapshot.stderr
    assert f"from upper_checker@{p['host']}:{p['port']}/{p['dbname']}" in snapshot.stdout
    hist, html = tmp_path / "h.jsonl", tmp_path / "report.html"
    check = run_cli("check", "--dsn", encoded, "--history-dsn", upper, "--history", str(hist), "--html", str(html))
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr
    assert "history not recorded" not in check.stdout
    with psycopg.connect(chat_db.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM pgcontract_history").fetchone() == (1,)
    shown = (snapshot.stdout, snapshot.stderr, check.stdout, check.stderr, hist.read_text(), html.read_text())
    assert not leaks([PASSWORD, *HOSTILE_PIECES], *shown)


def test_serve_log_never_shows_the_password() -> None:
    dsn, pieces, _ = FORMS["upper-case"]
    with serve_process("--dsn", dsn, "--no-auth", "--ttl", "60") as (_, url, lines):
        assert wait_until(lambda: any("serving http" in line for line in lines), timeout=60), "".join(lines)
        assert wait_until(lambda: _status(url) == 503, timeout=30), "".join(lines)
        response = httpx.get(f"{url}/api/admin/check-db")
        assert any(re.search(r"for u@127\.0\.0\.1:1/db", line) for line in lines), "".join(lines)
        assert wait_until(lambda: any("cannot connect" in line for line in lines), timeout=10), "".join(lines)
    assert not leaks(pieces, "".join(lines), response.text)


def _status(url: str) -> int:
    try:
        return httpx.get(f"{url}/api/admin/check-db", timeout=20).status_code
    except httpx.TransportError:
        return 0


def test_a_database_name_libpq_would_read_as_a_connection_string_is_not_shown() -> None:
    """libpq expands a dbname holding '=' or a URL: it is no proven database name, and may hold a password."""
    for dbname in ("postgresql://u:Pw9-s3cr3t@h/db", "host=h password=Pw9-s3cr3t"):
        shown = redact_dsn(psycopg.conninfo.make_conninfo(host="db.example", user="app", dbname=dbname))
        assert shown == "app@db.example:5432/?"
    # A user name is never expanded: shown as libpq read it (escaped where HTML shows it).
    shown = redact_dsn(psycopg.conninfo.make_conninfo(host="db.example", user="a=b", dbname="app"))
    assert shown == "a=b@db.example:5432/app"
