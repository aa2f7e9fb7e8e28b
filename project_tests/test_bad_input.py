"""Bad input gets one clear error and its documented exit code, never a traceback or a hang: contracts
that declare nothing, files that are not UTF-8, history lines that are not JSON, YAML bombs, serve
options, an empty --dsn, a blank admin token, trailing-slash redirects, and a function whose name holds
a parenthesis (its snapshot must load back)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import port_for
import pytest

from pgcontract.connect import Target
from pgcontract.contract import load_contract
from pgcontract.server import ServeSettings, create_app
from project_tests.helpers import CHAT_CONTRACT, ROOT
from project_tests.serving import TOKEN, running

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/none"
# Only a guard against a hang (the defect some of these inputs caused); no test asserts a duration.
HANG_GUARD = 60


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pgcontract ARGS`` with the hang guard; the caller's DSN and token variables removed."""
    command = [str(Path(sys.executable).parent / "pgcontract"), *args]
    removed = ("PGCONTRACT_DSN", "DATABASE_URL", "PGCONTRACT_ADMIN_TOKEN")
    full_env = {k: v for k, v in os.environ.items() if k not in removed} | (env or {})
    return subprocess.run(command, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=HANG_GUARD)


def assert_clear(result: subprocess.CompletedProcess[str], code: int, *fragments: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in output, output


# --- contracts that declare nothing -------------------------------------------------------------

NOTHING = {
    "empty-file": "",
    "comments-only": "# to do\n",
    "version-only": "version: 1\n",
    "empty-sections": "version: 1\ntables: {}\nenums: {}\nroles: {}\nfunctions: {}\n",
    "auth-and-lints-only": "version: 1\nauth: {mode: supabase}\nlints:\n  rls_disabled_in_public: warning\n",
}


@pytest.mark.parametrize("text", NOTHING.values(), ids=NOTHING.keys())
def test_a_contract_that_declares_nothing_is_a_contract_error(text: str, tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(text, encoding="utf-8")
    assert_clear(cli("validate", "--contract", str(contract)), 2, f"{contract}:1:1:", "declares nothing")


def test_a_directory_whose_files_declare_nothing_is_a_contract_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\n", encoding="utf-8")
    (tmp_path / "b.yml").write_text("", encoding="utf-8")
    assert_clear(cli("validate", "--contract", str(tmp_path)), 2, f"{tmp_path}:1:1:", "declares nothing")


@pytest.mark.parametrize(
    "text",
    [
        "roles:\n  app_user: {login: false}\n",
        "enums:\n  public.mood: [happy, sad]\n",
        "functions:\n  public.one(): {returns: integer}\n",
        "tables:\n  public.t: {}\n",
    ],
    ids=["a-role", "an-enum", "a-function", "a-table"],
)
def test_one_declaration_of_any_kind_is_enough(text: str, tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(text, encoding="utf-8")
    assert_clear(cli("validate", "--contract", str(contract)), 0, "valid")


def test_check_against_a_contract_that_declares_nothing_fails_instead_of_passing(
    target: Target, tmp_path: Path
) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("version: 1\n", encoding="utf-8")
    assert_clear(cli("check", "--dsn", target.dsn, "--contract", str(contract)), 2, "declares nothing")


def test_snapshot_of_the_embedded_default_is_not_stopped_by_an_unusable_contract(tmp_path: Path) -> None:
    """Without a DSN, snapshot reads the contract only to choose the auth shim: a warning, not a crash."""
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "010.sql").write_text("CREATE TABLE public.notes (id integer PRIMARY KEY);\n")
    contract = tmp_path / "contract.yaml"
    contract.write_bytes("tables:\n  public.café: {}\n".encode("latin-1"))
    result = cli("snapshot", "--sql", str(tmp_path / "sql"), "--contract", str(contract))
    assert_clear(result, 0, "public.notes:", f"pgcontract: warning: {contract}:2:13: not UTF-8 text")


# --- files that are not UTF-8 -------------------------------------------------------------------

NOT_UTF8 = {
    # name: (bytes, offset of the first byte that is not UTF-8, its line, its column)
    "latin-1": ("version: 1\ntables:\n  public.café: {}\n".encode("latin-1"), 31, 3, 13),
    "utf-16": ("version: 1\n".encode("utf-16"), 0, 1, 1),
    "random-bytes": (bytes([0x93, 0x1F, 0xC4, 0x00, 0xFF, 0x7A, 0xE1, 0x80]), 0, 1, 1),
}


@pytest.mark.parametrize(("data", "offset", "line", "column"), NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_contract_that_is_not_utf8_is_named_with_its_byte_offset(
    data: bytes, offset: int, line: int, column: int, tmp_path: Path
) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_bytes(data)
    result = cli("validate", "--contract", str(contract))
    assert_clear(result, 2, f"{contract}:{line}:{column}: not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset}")


def test_utf16_is_recognised_as_such(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_bytes("version: 1\n".encode("utf-16"))
    assert_clear(cli("validate", "--contract", str(contract)), 2, "it looks like UTF-16: save it as UTF-8")


def test_a_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_bytes(b"\xef\xbb\xbf" + "version: 1\ntables:\n  public.café: {}\n".encode())
    assert_clear(cli("validate", "--contract", str(contract)), 0, "valid")


@pytest.mark.parametrize(("data", "offset", "line", "column"), NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_targets_file_that_is_not_utf8_is_named_with_its_byte_offset(
    data: bytes, offset: int, line: int, column: int, tmp_path: Path
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_bytes(data)
    result = cli("check", "--contract", str(CHAT_CONTRACT), "--targets", str(targets))
    assert_clear(result, 2, f"{targets}: cannot read targets file: not UTF-8 text: byte 0x{data[offset]:02x}")
    assert f"at offset {offset} (line {line}, column {column})" in result.stderr


def test_a_targets_file_nested_too_deep_is_a_usage_error(tmp_path: Path) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text("eu: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    result = cli("check", "--contract", str(CHAT_CONTRACT), "--targets", str(targets))
    assert_clear(result, 2, f"{targets}: cannot read targets file")


# --- history lines ------------------------------------------------------------------------------

GOOD_RUN = '{"target": "eu", "finished_at": "2026-01-0%dT00:00:00Z", "passed": %s, "reachable": true, "failed": %d}'


def test_history_skips_lines_that_are_not_json_naming_each(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    lines = [
        (GOOD_RUN % (1, "true", 0)).encode(),
        b"{truncated by a full disk",
        b"\xff\xfe not utf-8",
        b"[" * 100_000,
        b'"a string, not a run"',
        b'{"target": "eu"}',
        (GOOD_RUN % (2, "false", 3)).encode(),
    ]
    history.write_bytes(b"\n".join(lines) + b"\n")
    result = cli("history", "--history", str(history))
    assert_clear(result, 0, "FAILING since 2026-01-02T00:00:00Z (1 run; last: 3 failed test(s))")
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        f"pgcontract: warning: {history}:2: not a JSON line, skipped",
        f"pgcontract: warning: {history}:3: not a JSON line, skipped",
        f"pgcontract: warning: {history}:4: not a JSON line, skipped",
        f"pgcontract: warning: {history}:5: not a run entry (one needs target, finished_at, passed, reachable,"
        " failed), skipped",
        f"pgcontract: warning: {history}:6: not a run entry (one needs target, finished_at, passed, reachable,"
        " failed), skipped",
    ]
    assert "✔✘" in result.stdout


# --- YAML bombs ---------------------------------------------------------------------------------


def billion_laughs(levels: int = 9, fan_out: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * fan_out) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\n"


def aliases_in_depth(width: int = 250, levels: int = 63) -> str:
    """Each anchor nests the previous one inside ``width`` brackets: shallow text, deep expansion."""
    lines = [f"a0: &a0 {'[' * width}x{']' * width}"]
    lines += [f"a{i}: &a{i} {'[' * width}*a{i - 1}{']' * width}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def under_claims(text: str) -> str:
    """``text`` as the claims of Supabase auth: the one place where any YAML value is valid."""
    return "version: 1\ntables: {public.t: {}}\nauth:\n  mode: supabase\n  claims:\n" + "".join(
        f"    {line}\n" for line in text.splitlines()
    )


BOMBS = {
    "billion-laughs": billion_laughs(),
    "laughs-under-claims": under_claims(billion_laughs(6)),
    "laughs-wide-and-shallow": billion_laughs(levels=4, fan_out=200),
    "a-duplicate-key-then-laughs": "z: 1\nz: 2\n" + billion_laughs(),
    "wide-fan-out-under-claims": under_claims("a: &a {k: v}\nb: [" + ", ".join(["*a"] * 200_000) + "]"),
    "deep-aliases": aliases_in_depth(),
    "deep-compact-sequence": "- " * 100_000 + "x\n",
    "deep-block-mapping-under-claims": under_claims(
        "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v"
    ),
    "deep-flow-under-claims": under_claims("k: " + "[" * 200 + "]" * 200),
    "deep-after-carriage-returns": "version: 1\rx:\r" + "- " * 100_000 + "v\r",
}


@pytest.mark.parametrize("text", BOMBS.values(), ids=BOMBS.keys())
def test_a_yaml_bomb_is_refused_with_a_clear_error(text: str, tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(text, encoding="utf-8")
    result = cli("validate", "--contract", str(contract))
    assert_clear(result, 2, "invalid contract (", f"{contract}:")
    assert len(result.stderr) < 2000, result.stderr[:2000]


def test_a_bomb_in_a_directory_of_contracts_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tables.yaml").write_text("tables:\n  public.t: {}\n", encoding="utf-8")
    (tmp_path / "zz.yaml").write_text(billion_laughs(), encoding="utf-8")
    assert_clear(cli("validate", "--contract", str(tmp_path)), 2, "YAML aliases expand too much")


def test_a_few_aliases_are_still_fine(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text(
        "version: 1\ntables:\n  public.a:\n    columns: &cols {id: {type: uuid}, body: {type: text}}\n"
        "  public.b:\n    columns: *cols\n",
        encoding="utf-8",
    )
    assert_clear(cli("validate", "--contract", str(contract)), 0, "valid")


def test_a_huge_input_is_shown_shortened(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("version: [" + ", ".join(str(i) for i in range(50_000)) + "]\ntables: {t: {}}\n")
    result = cli("validate", "--contract", str(contract))
    assert_clear(result, 2, f"{contract}:1:10: version: Input should be 1 (got [0, 1, 2, 3, 4, 5, ...])")


def test_many_problems_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    columns = "".join(f"      c{i}: {{type: text, nullable: maybe}}\n" for i in range(5000))
    contract.write_text(f"version: 1\ntables:\n  t:\n    columns:\n{columns}", encoding="utf-8")
    result = cli("validate", "--contract", str(contract))
    assert_clear(result, 2, "invalid contract (5000 problems):", "... and 4900 more problems in this file")
    assert len(result.stderr.splitlines()) == 1 + 100 + 1


# --- serve options ------------------------------------------------------------------------------


def serve_args(port: int | None = None) -> list[str]:
    chosen = port if port is not None else port_for.select_random()
    return ["serve", "--dsn", UNREACHABLE, "--contract", str(CHAT_CONTRACT), "--port", str(chosen)]


@pytest.mark.parametrize("ttl", ["nan", "inf", "-inf", "NaN", "0", "-5"])
def test_serve_refuses_a_ttl_that_is_not_a_positive_finite_number(ttl: str) -> None:
    result = cli(*serve_args(), "--no-auth", f"--ttl={ttl}")
    assert_clear(result, 2, "argument --ttl: must be a positive, finite number of seconds")


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    result = cli("serve", "--dsn", UNREACHABLE, "--no-auth", "--contract", str(CHAT_CONTRACT), f"--port={port}")
    assert_clear(result, 2, "argument --port: must be a port number from 1 to 65535")


def test_serve_on_a_busy_port_is_a_usage_error_not_cannot_connect() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli(*serve_args(port), "--no-auth")
    assert_clear(result, 2, f"pgcontract: cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "serving" not in result.stderr  # refused before anything started


def test_a_blank_admin_token_is_refused_at_start() -> None:
    result = cli(*serve_args(), env={"PGCONTRACT_ADMIN_TOKEN": " \t "})
    assert_clear(result, 2, "PGCONTRACT_ADMIN_TOKEN is blank")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_blank_admin_token_is_refused_even_with_no_auth() -> None:
    result = cli(*serve_args(), "--no-auth", env={"PGCONTRACT_ADMIN_TOKEN": "   "})
    assert_clear(result, 2, "PGCONTRACT_ADMIN_TOKEN is blank")


@pytest.mark.parametrize("path", ["/metrics/", "/api/admin/check-db/", "/healthz/"])
def test_a_trailing_slash_never_redirects_to_the_requests_host(chat_db: Target, path: str) -> None:
    settings = ServeSettings(target=chat_db, contract=load_contract(CHAT_CONTRACT), admin_token=TOKEN)
    with running(create_app(settings)) as url:
        for headers in ({}, {"Authorization": f"Bearer {TOKEN}"}):
            response = httpx.get(url + path, headers={"Host": "evil.example", **headers}, follow_redirects=False)
            assert "evil.example" not in response.headers.get("location", ""), response.headers
            assert not response.is_redirect, (response.status_code, response.headers)


# --- an empty --dsn -----------------------------------------------------------------------------

CONTRACT = ["--contract", str(CHAT_CONTRACT)]
EMPTY_DSN = {
    "check": ["check", *CONTRACT, "--dsn", ""],
    "check-blank": ["check", *CONTRACT, "--dsn", "  "],
    "check-second": ["check", *CONTRACT, "--dsn", UNREACHABLE, "--dsn", ""],
    "snapshot": ["snapshot", *CONTRACT, "--dsn", ""],
    "serve": ["serve", *CONTRACT, "--no-auth", "--dsn", ""],
    "repair": ["repair", *CONTRACT, "--dsn", ""],
    "check-history-dsn": ["check", *CONTRACT, "--history-dsn", ""],
    "history-history-dsn": ["history", "--history-dsn", ""],
}


@pytest.mark.parametrize("args", EMPTY_DSN.values(), ids=EMPTY_DSN.keys())
def test_an_empty_dsn_is_a_usage_error_in_every_subcommand(args: list[str]) -> None:
    option = next(a for a in args if a.endswith("-dsn"))
    assert_clear(cli(*args), 2, f"argument {option}: is empty")


def test_an_empty_dsn_is_a_usage_error_for_plain_pytest_too(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PGCONTRACT_DSN", "DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_schema.py", "-p", "no:randomly", "--dsn", "", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "--dsn is empty" in result.stderr


# --- a function named with a parenthesis --------------------------------------------------------


def test_a_function_named_with_a_parenthesis_loads_back_from_its_snapshot(
    target: Target, run_sql: Callable[[str], None], tmp_path: Path
) -> None:
    run_sql(
        "CREATE TABLE public.notes (id integer PRIMARY KEY);"
        "ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;"
        "CREATE POLICY readable ON public.notes FOR SELECT USING (true);"
        "REVOKE TRUNCATE, REFERENCES, TRIGGER ON public.notes FROM anon, authenticated;"
        'CREATE FUNCTION public."we(ird"(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT $1 $$;'
        'CREATE FUNCTION public."a,b)"(text, "char") RETURNS text LANGUAGE sql AS $$ SELECT $1 $$;'
    )
    snap = cli("snapshot", "--dsn", target.dsn)
    assert_clear(snap, 0, 'public."we(ird"(integer):', 'public."a,b)"(text, "char"):')
    contract = tmp_path / "contract.yaml"
    contract.write_text(snap.stdout, encoding="utf-8")
    assert_clear(cli("check", "--dsn", target.dsn, "--contract", str(contract)), 0)
    run_sql('DROP FUNCTION public."we(ird"(integer)')
    missing = cli("check", "--dsn", target.dsn, "--contract", str(contract))
    assert_clear(missing, 1, "we(ird")
