"""Many targets: their catalogs read concurrently (``--concurrency``), a stable slice of them per machine
(``--shard K/N``), and ``pgcontract merge`` making the shards' summaries into the reports of one run."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from pgcontract.connect import Target
from pgcontract.embedded import supabase_shim
from pgcontract.targetrun import prepare_all
from pgcontract.targets import shard_names
from project_tests.helpers import CHAT_SQL, ROOT, run_cli

EXAMPLES = ROOT / "docs" / "examples"
MESSAGES = "public.sam_conversation_messages"
TIMING = ("checked_at", "started_at", "duration_ms")


# --- shards ------------------------------------------------------------------------------------------


def test_shards_cover_every_target_once_whatever_the_order() -> None:
    names = [f"tenant_{i:03d}" for i in range(41)] + ["eu", "us", "Zeta"]
    shuffled = random.Random(7).sample(names, len(names))
    for count in range(1, 9):
        slices = [shard_names(names, k, count) for k in range(1, count + 1)]
        assert sorted(n for s in slices for n in s) == sorted(names)  # each in exactly one shard
        assert max(map(len, slices)) - min(map(len, slices)) <= 1  # balanced
        assert slices == [shard_names(shuffled, k, count) for k in range(1, count + 1)]  # order-free


@pytest.mark.parametrize("value", ["0/4", "5/4", "1/0", "a/b", "2", "-1/3", "1/2/3", "", " /4", "1.0/4"])
def test_a_nonsense_shard_is_a_usage_error(value: str) -> None:
    result = run_cli("check", "--dsn", "postgresql://checker@127.0.0.1:1/app", "--shard", value)
    assert result.returncode == 2, result.stderr
    assert "--shard" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_shard_of_the_embedded_default_is_a_usage_error(tmp_path: Path) -> None:
    contract = str(ROOT / "contracts")
    result = run_cli("check", "--contract", contract, "--shard", "1/2", cwd=tmp_path, env={"PGCONTRACT_DSN": ""})
    assert result.returncode == 2, result.stderr
    assert "--shard needs targets" in result.stderr


# --- concurrency -------------------------------------------------------------------------------------


def test_prepare_all_runs_at_most_concurrency_tasks_at_once() -> None:
    lock = threading.Lock()
    running, most, done = 0, 0, []

    def task(number: int) -> Callable[[], None]:
        def run() -> None:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            time.sleep(0.05)
            with lock:
                running -= 1
                done.append(number)

        return run

    prepare_all([task(i) for i in range(12)], 3)
    assert most == 3  # bounded, and actually concurrent
    assert sorted(done) == list(range(12))
    prepare_all([task(i) for i in range(4)], 1)
    assert most == 3
    assert len(done) == 16


# --- a fleet of tenant databases on the test server --------------------------------------------------

DEFECTS = {
    5: "DROP TABLE public.sam_conversation_messages",
    17: "DROP INDEX public.idx_sam_threads_user_id",
    33: 'DROP POLICY "Users access own threads" ON public.sam_conversation_threads',
}


@pytest.fixture
def fleet(target: Target) -> Iterator[Callable[[int], dict[str, str]]]:
    """``make(n)``: n tenant databases holding the chat schema (cloned from a template), the ones numbered
    in DEFECTS with that defect; name -> DSN. Dropped afterwards."""
    prefix = f"pgc_{uuid.uuid4().hex[:6]}"
    made: list[str] = []
    params = psycopg.conninfo.conninfo_to_dict(target.dsn)

    def dsn(dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(target.dsn, dbname=dbname)

    admin_conn = psycopg.connect(target.dsn, autocommit=True)

    def admin(statement: sql.Composed) -> None:
        admin_conn.execute(statement)

    def make(count: int) -> dict[str, str]:
        template = f"{prefix}_template"
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(template)))
        made.append(template)
        with psycopg.connect(dsn(template), autocommit=True) as conn:
            conn.execute((supabase_shim().read_text(encoding="utf-8") + CHAT_SQL.read_text(encoding="utf-8")).encode())
        tenants = {}
        for number in range(count):
            name = f"{prefix}_{number:02d}"
            admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
            made.append(name)
            if number in DEFECTS:
                with psycopg.connect(dsn(name), autocommit=True) as conn:
                    conn.execute(DEFECTS[number].encode())
            tenants[f"tenant_{number:02d}"] = dsn(name)
        return tenants

    assert params.get("host")
    yield make
    for name in reversed(made):
        admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    admin_conn.close()


def targets_file(tenants: dict[str, str], path: Path, seed: int = 3) -> Path:
    """A targets file listing the tenants in a shuffled order (a shard must not depend on it)."""
    names = random.Random(seed).sample(sorted(tenants), len(tenants))
    path.write_text(yaml.safe_dump({n: tenants[n] for n in names}, sort_keys=False), encoding="utf-8")
    return path


def without_timing(summary: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in summary.items() if k not in TIMING}
    out["tests"] = [{k: v for k, v in t.items() if k != "duration"} for t in summary["tests"]]
    return out


def junit_cases(path: Path) -> list[tuple[str, ...]]:
    """Each testcase: classname, name, outcome, message and text, its properties (not its time)."""
    cases = []
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = next(((c.tag, c.get("message") or "", c.text or "") for c in case if c.tag != "properties"), ())
        properties = tuple(f"{p.get('name')}={p.get('value')}" for p in case.iter("property"))
        cases.append((case.get("classname") or "", case.get("name") or "", *outcome, *properties))
    return cases


def html_results(path: Path) -> dict[str, list[str]]:
    """pytest-html's embedded data: each test id and its results."""
    text = path.read_text(encoding="utf-8")
    start = text.index('data-jsonblob="') + len('data-jsonblob="')
    import html

    data = json.loads(html.unescape(text[start : text.index('"', start)]))
    return {test_id: [row["result"] for row in rows] for test_id, rows in data["tests"].items()}


# --- concurrency on a real server ----------------------------------------------------------------------


def test_busy_targets_wait_side_by_side(fleet: Callable[[int], dict[str, str]], tmp_path: Path) -> None:
    """Four targets each held by a migration's lock: every catalog read waits out its lock timeouts
    (3 tries, 1.5 s of pauses). One after another that is four waits; four at a time, about one."""
    tenants = {n: d for n, d in fleet(4).items()}
    holders = []
    for dsn in tenants.values():
        holder = psycopg.connect(dsn)
        holder.execute(f"LOCK TABLE {MESSAGES} IN ACCESS EXCLUSIVE MODE")
        holders.append(holder)
    try:
        file = targets_file(tenants, tmp_path / "targets.yaml")
        runs = {}
        for concurrency in (1, 4):
            began = time.monotonic()
            summary = tmp_path / f"c{concurrency}.json"
            result = run_cli(
                "check", "--targets", str(file), "--lock-timeout", "200ms", "--concurrency", str(concurrency),
                "--json", str(summary), "--", "-q", "-p", "no:randomly",
            )  # fmt: skip
            runs[concurrency] = (time.monotonic() - began, result, json.loads(summary.read_text()))
            assert result.returncode == 4, result.stdout + result.stderr
    finally:
        for holder in holders:
            holder.close()
    (one_by_one, _, sequential), (side_by_side, _, concurrent) = runs[1], runs[4]
    assert one_by_one - side_by_side > 3.5, (one_by_one, side_by_side)
    assert [(t["id"], t["outcome"]) for t in sequential["tests"]] == [
        (t["id"], t["outcome"]) for t in concurrent["tests"]
    ]
    assert [(t["target"], t["passed"], t["counts"]) for t in sequential["targets"]] == [
        (t["target"], t["passed"], t["counts"]) for t in concurrent["targets"]
    ]


# --- shards and merge ------------------------------------------------------------------------------------


def example_shard_count() -> int:
    """The number of shards both examples use, after checking their structure (it must agree)."""
    workflow = yaml.safe_load((EXAMPLES / "sharded-check.yml").read_text(encoding="utf-8"))
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as true
    assert on
    assert workflow["jobs"]
    check, merge = workflow["jobs"]["check"], workflow["jobs"]["merge"]
    shards = check["strategy"]["matrix"]["shard"]
    count = len(shards)
    assert shards == list(range(1, count + 1))
    assert count > 1
    assert check["strategy"]["fail-fast"] is False  # a failing shard must not cancel the others
    runs = " ".join(str(step.get("run", "")) for step in check["steps"])
    assert f"--shard ${{{{ matrix.shard }}}}/{count}" in runs
    assert "--json" in runs
    assert any(str(step.get("uses", "")).startswith("actions/upload-artifact") for step in check["steps"])
    assert merge["needs"] == "check"
    assert "always()" in merge["if"]
    assert any(str(step.get("uses", "")).startswith("actions/download-artifact") for step in merge["steps"])
    merge_runs = " ".join(str(step.get("run", "")) for step in merge["steps"])
    assert "pgcontract merge" in merge_runs
    assert "--junitxml" in merge_runs
    assert "--html" in merge_runs

    documents = [d for d in yaml.safe_load_all((EXAMPLES / "sharded-cronjob.yaml").read_text(encoding="utf-8")) if d]
    kinds = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    for document in documents:
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(document)
    claims = {name for kind, name in kinds if kind == "PersistentVolumeClaim"}
    crons = [d for d in documents if d["kind"] == "CronJob"]
    shard_job = next(d for d in crons if d["spec"]["jobTemplate"]["spec"].get("completionMode") == "Indexed")
    job = shard_job["spec"]["jobTemplate"]["spec"]
    assert job["completions"] == count
    assert 1 <= job["parallelism"] <= count
    assert shard_job["apiVersion"] == "batch/v1"
    assert shard_job["spec"]["schedule"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    command = " ".join(pod["containers"][0]["command"] + pod["containers"][0].get("args", []))
    assert "JOB_COMPLETION_INDEX + 1" in command
    assert f"/{count}" in command
    assert "--json" in command
    merge_job = next(d for d in crons if d is not shard_job)
    merge_pod = merge_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert "pgcontract merge" in " ".join(merge_pod["containers"][0]["command"])
    for spec in (pod, merge_pod):
        assert {
            v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v
        } <= claims
    return count


def test_merged_shards_equal_one_run(fleet: Callable[[int], dict[str, str]], tmp_path: Path) -> None:
    """40 tenants, three with a defect, checked in one run and in the examples' shards, then merged: the
    same JSON (but for the clock), the same JUnit test cases, the same HTML results, the same exit code."""
    count = example_shard_count()
    file = targets_file(fleet(40), tmp_path / "targets.yaml")
    one = run_cli(
        "check", "--targets", str(file), "--json", str(tmp_path / "one.json"),
        "--junitxml", str(tmp_path / "one.xml"), "--html", str(tmp_path / "one.html"), "--", "-q", "-p", "no:randomly",
    )  # fmt: skip
    assert one.returncode == 1, one.stdout + one.stderr
    shards = []
    for index in range(1, count + 1):
        shard_json = tmp_path / f"shard-{index}.json"
        done = run_cli(
            "check", "--targets", str(file), "--shard", f"{index}/{count}", "--json", str(shard_json),
            "--", "-q", "-p", "no:randomly",
        )  # fmt: skip
        mine = [t["target"] for t in json.loads(shard_json.read_text())["targets"]]
        assert len(mine) == 40 // count
        defective = {f"tenant_{n:02d}" for n in DEFECTS} & set(mine)
        assert done.returncode == (1 if defective else 0), done.stdout + done.stderr
        shards.append(str(shard_json))
    merged = run_cli(
        "merge", *reversed(shards), "--json", str(tmp_path / "merged.json"),
        "--junitxml", str(tmp_path / "merged.xml"), "--html", str(tmp_path / "merged.html"),
    )  # fmt: skip
    assert merged.returncode == one.returncode, merged.stdout + merged.stderr
    single, combined = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "merged"))
    assert without_timing(combined) == without_timing(single)
    assert sum(t["outcome"] == "failed" for t in single["tests"]) >= 3
    assert junit_cases(tmp_path / "merged.xml") == junit_cases(tmp_path / "one.xml")
    assert html_results(tmp_path / "merged.html") == html_results(tmp_path / "one.html")
    assert "table is missing" in (tmp_path / "merged.html").read_text(encoding="utf-8")


def test_merge_exits_as_one_run_and_refuses_what_is_not_one(
    fleet: Callable[[int], dict[str, str]], target: Target, tmp_path: Path
) -> None:
    """A target that cannot be reached makes one run exit 3, and so the merge of its shards; summaries
    that are not the shards of one run (one missing, one twice, another contract, an older format) are
    refused with exit 2."""
    tenants = fleet(3)
    tenants["gone"] = psycopg.conninfo.make_conninfo(target.dsn, dbname=f"pgc_gone_{uuid.uuid4().hex[:6]}")
    file = targets_file(tenants, tmp_path / "targets.yaml")
    paths = []
    for index in (1, 2, 3):
        paths.append(tmp_path / f"s{index}.json")
        done = run_cli("check", "--targets", str(file), "--shard", f"{index}/3", "--json", str(paths[-1]))
        gone = "gone" in shard_names(list(tenants), index, 3)
        assert done.returncode == (3 if gone else 0), done.stdout + done.stderr
    merged = run_cli("merge", *map(str, paths), "--json", str(tmp_path / "merged.json"))
    assert merged.returncode == 3, merged.stdout + merged.stderr
    one = run_cli("check", "--targets", str(file), "--json", str(tmp_path / "one.json"))
    assert one.returncode == 3, one.stdout + one.stderr
    # Shards of one target still name it in their ids, as the run over all of them does.
    single, combined = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "merged"))
    assert without_timing(combined) == without_timing(single)
    assert [t["target"] for t in combined["targets"]] == list(yaml.safe_load(file.read_text()))

    def refused(*names: Path) -> str:
        result = run_cli("merge", *map(str, names))
        assert result.returncode == 2, result.stdout + result.stderr
        return result.stderr

    assert "shard 3/3 missing" in refused(paths[0], paths[1])
    assert "both shard 2/3" in refused(paths[0], paths[1], paths[1])
    other = json.loads(paths[2].read_text())
    other["contract_sha256"] = "0" * 64
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert "contracts (contract_sha256) differ" in refused(paths[0], paths[1], tmp_path / "other.json")
    old = json.loads(paths[2].read_text())
    del old["summary_version"], old["tests"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert "summary format 1" in refused(paths[0], paths[1], tmp_path / "old.json")
    (tmp_path / "junk.json").write_text("{")
    assert "not a JSON summary" in refused(tmp_path / "junk.json")


def last_change_sections(page: Path) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return re.findall(r'<section class="last-change".*?</section>', text, flags=re.DOTALL)


def test_the_merged_html_report_shows_each_targets_last_change_as_one_run(
    fleet: Callable[[int], dict[str, str]], tmp_path: Path
) -> None:
    """One tenant repaired (`repair --apply --history`), the other never changed: the merge of the shards
    (`merge --history`) shows the same "Last change" sections as one run's report (`check --history`)."""
    tenants = fleet(2)
    history = tmp_path / "history.jsonl"
    with psycopg.connect(tenants["tenant_00"], autocommit=True) as conn:
        conn.execute("DROP INDEX public.idx_sam_threads_user_id")
    repaired = run_cli("repair", "--dsn", tenants["tenant_00"], "--apply", "--history", str(history))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    file = targets_file(tenants, tmp_path / "targets.yaml")
    one = run_cli("check", "--targets", str(file), "--history", str(history), "--html", str(tmp_path / "one.html"))
    assert one.returncode == 0, one.stdout + one.stderr
    shards = [str(tmp_path / f"shard-{k}.json") for k in (1, 2)]
    for index, shard_json in enumerate(shards, start=1):
        done = run_cli("check", "--targets", str(file), "--shard", f"{index}/2", "--json", shard_json)
        assert done.returncode == 0, done.stdout + done.stderr
    merged = run_cli("merge", *shards, "--html", str(tmp_path / "merged.html"), "--history", str(history))
    assert merged.returncode == 0, merged.stdout + merged.stderr
    sections = last_change_sections(tmp_path / "one.html")
    by_heading = {s.split("<h2>Last change: ")[1].split("</h2>")[0]: s for s in sections}
    assert sorted(by_heading) == ["tenant_00", "tenant_01"]
    assert 'data-outcome="applied"' in by_heading["tenant_00"]
    assert "no change by pgcontract recorded for this database" in by_heading["tenant_01"]
    assert last_change_sections(tmp_path / "merged.html") == sections
