"""``pgcontract serve`` as a new user runs it: one command on the embedded default, the dashboard green;
a table dropped; within one TTL the health API answers 503 naming it and the dashboard shows it red."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import port_for
import psycopg
import pytest

from pgcontract.connect import Target
from project_tests.helpers import CHAT_CONTRACT, ROOT, run_cli
from project_tests.serving import GREEN, RED, chromium, dashboard_state, wait_until

MESSAGES = "public.sam_conversation_messages"


@contextmanager
def serve_process(*args: str) -> Iterator[tuple[subprocess.Popen[str], str, list[str]]]:
    """``pgcontract serve --port P ...`` in a subprocess; yields it, its base URL and its stderr lines."""
    port = port_for.select_random()
    env = {k: v for k, v in os.environ.items() if k not in ("PGCONTRACT_DSN", "DATABASE_URL", "PGCONTRACT_ADMIN_TOKEN")}
    command = [str(Path(sys.executable).parent / "pgcontract"), "serve", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield process, url, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        reader.join(timeout=10)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_serve_on_the_embedded_default_as_a_new_user(tmp_path: Path) -> None:
    ttl = 1.0
    with serve_process("--ttl", str(ttl)) as (process, url, lines), chromium() as browser:
        assert wait_until(lambda: _up(url), timeout=90), "".join(lines)
        dsn_line = next(line for line in lines if "embedded PostgreSQL" in line)
        dsn = re.sub(r"^.*?: (host=.*)$", r"\1", dsn_line.strip())
        assert any("no auth" in line for line in lines)

        assert httpx.get(f"{url}/api/admin/check-db").status_code == 200
        green = dashboard_state(browser, f"{url}/", tmp_path / "healthy.png")
        assert green["healthy"]
        assert green["bannerBackground"] == GREEN

        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {MESSAGES}")
        time.sleep(ttl)
        response = httpx.get(f"{url}/api/admin/check-db")
        assert response.status_code == 503
        assert MESSAGES in response.json()["critical_issues"][0]
        red = dashboard_state(browser, f"{url}/", tmp_path / "missing.png")
        assert red["rows"][MESSAGES]["status"] == "MISSING"
        assert red["rows"][MESSAGES]["cellBackground"] == RED

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    with pytest.raises(psycopg.OperationalError):  # the embedded server was stopped and removed
        psycopg.connect(dsn, connect_timeout=3).close()


def test_a_dsn_without_admin_token_is_refused(target: Target) -> None:
    env = {"PGCONTRACT_ADMIN_TOKEN": ""}
    result = run_cli("serve", "--dsn", target.dsn, "--contract", str(CHAT_CONTRACT), env=env)
    assert result.returncode == 2
    assert "PGCONTRACT_ADMIN_TOKEN is not set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_invalid_contract_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ntables:\n  t:\n    colums: {}\n")
    result = run_cli("serve", "--contract", str(bad), "--no-auth")
    assert result.returncode == 2
    assert "unknown field 'colums'" in result.stderr
