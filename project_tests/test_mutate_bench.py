"""bench/mutate.py re-tests survivors by dropping their results, never by naming them to mutmut (naming them
left every result mutmut had forgotten meanwhile "not checked", so killed mutants showed as not run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import mutate
import mutate_plugin
import mutate_results


def test_forget_drops_only_the_named_results(tmp_path: Path) -> None:
    meta = tmp_path / "mutants" / "src" / "pgcontract" / "rls" / "views.py.meta"
    meta.parent.mkdir(parents=True)
    codes = {"pgcontract.rls.views.x_a__mutmut_1": 1, "pgcontract.rls.views.x_a__mutmut_2": 0, "other": 0}
    meta.write_text(json.dumps({"exit_code_by_key": codes, "hash_by_function_name": {"a": "h"}}))
    module = mutate.Module(files=("pgcontract/rls/views.py",), tests=())

    mutate.forget(tmp_path, module, ["pgcontract.rls.views.x_a__mutmut_2"])

    data = json.loads(meta.read_text())
    assert data["exit_code_by_key"] == {
        "pgcontract.rls.views.x_a__mutmut_1": 1,
        "pgcontract.rls.views.x_a__mutmut_2": None,
        "other": 0,
    }
    assert data["hash_by_function_name"] == {"a": "h"}


def test_a_mutant_names_its_function_and_class() -> None:
    assert mutate.mutant_function("pgcontract.connect.x_redact_text__mutmut_3") == "redact_text"
    assert mutate.mutant_function("pgcontract.rls.views.xǁViewǁfix__mutmut_1") == "View.fix"
    # A class whose name ends in x: only the leading mark goes.
    assert mutate.mutant_function("pgcontract.rls.matrix.xǁMatrixǁremove_children__mutmut_29") == (
        "Matrix.remove_children"
    )


# --- results kept in the repository (bench/mutate_results.py) ---------------------------------------------------

MATRIX = "pgcontract/rls/matrix.py"


def _mutmut_dir(tmp_path: Path, codes: dict[str, int | None]) -> tuple[Path, Path]:
    """A checkout's src/ with one source file, and mutmut's copy of it with the file's .meta."""
    src, metas = tmp_path / "src", tmp_path / "mutants" / "src"
    (src / MATRIX).parent.mkdir(parents=True)
    (src / MATRIX).write_text("def f():\n    return 1\n")
    (metas / MATRIX).parent.mkdir(parents=True)
    meta = {
        "exit_code_by_key": codes,
        "hash_by_function_name": {"x_f": "h1"},
        "type_check_error_by_key": {},
        "durations_by_key": {"k": 1.5},
        "estimated_durations_by_key": {},
    }
    (metas / f"{MATRIX}.meta").write_text(json.dumps(meta))
    return src, metas


def test_saved_results_come_back_where_mutmut_has_none(tmp_path: Path) -> None:
    codes: dict[str, int | None] = {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 0, "m.x_f__mutmut_3": None}
    src, metas = _mutmut_dir(tmp_path, codes)
    where = tmp_path / "saved"
    saved = mutate_results.save("rls/matrix", src, metas, {"m.x_f__mutmut_2": ("return 1", "return 2")}, where)
    assert saved == where / "rls.matrix.json"

    fresh = tmp_path / "fresh" / "mutants" / "src"
    assert mutate_results.restore("rls/matrix", fresh, where) == 2  # the verdicts; mutant 3 was never run
    meta = json.loads((fresh / f"{MATRIX}.meta").read_text())
    # What mutmut reads back (SourceFileMutationData.load takes exactly these keys).
    assert meta == {
        "exit_code_by_key": codes,
        "hash_by_function_name": {"x_f": "h1"},
        "type_check_error_by_key": {},
        "durations_by_key": {},
        "estimated_durations_by_key": {},
    }
    assert mutate_results.saved_change("rls/matrix", "m.x_f__mutmut_2", where) == ("return 1", "return 2")
    assert mutate_results.saved_change("rls/matrix", "m.x_f__mutmut_1", where) is None


def test_a_meta_mutmut_has_is_never_overwritten(tmp_path: Path) -> None:
    src, metas = _mutmut_dir(tmp_path, {"m.x_f__mutmut_1": 1})
    where = tmp_path / "saved"
    mutate_results.save("rls/matrix", src, metas, {}, where)
    newer = {"exit_code_by_key": {"m.x_f__mutmut_1": 0}, "hash_by_function_name": {}}
    (metas / f"{MATRIX}.meta").write_text(json.dumps(newer))
    assert mutate_results.restore("rls/matrix", metas, where) == 0
    assert json.loads((metas / f"{MATRIX}.meta").read_text()) == newer


def test_nothing_saved_before_mutmut_wrote_a_meta(tmp_path: Path) -> None:
    (tmp_path / "mutants" / "src").mkdir(parents=True)
    assert mutate_results.save("rls/matrix", tmp_path, tmp_path / "mutants" / "src", {}, tmp_path / "s") is None
    assert not (tmp_path / "s").exists()
    assert mutate_results.restore("rls/matrix", tmp_path / "mutants" / "src", tmp_path / "s") == 0


def test_a_source_changed_since_the_save_is_named(tmp_path: Path) -> None:
    src, metas = _mutmut_dir(tmp_path, {"m.x_f__mutmut_1": 1})
    where = tmp_path / "saved"
    mutate_results.save("rls/matrix", src, metas, {}, where)
    assert mutate_results.changed_since("rls/matrix", src, where) == []
    (src / MATRIX).write_text("def f():\n    return 2\n")
    assert mutate_results.changed_since("rls/matrix", src, where) == [MATRIX]
    (src / MATRIX).unlink()
    assert mutate_results.changed_since("rls/matrix", src, where) == [MATRIX]


def test_a_report_of_saved_results_alone_is_stale_after_a_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verdicts restored from the repository with no run since count only while the source is what they
    were found for; a mutated copy (a run here since) makes mutmut's own reconciliation the judge."""
    src, metas = _mutmut_dir(tmp_path, {"m.x_f__mutmut_1": 1})
    where = tmp_path / "saved"
    mutate_results.save("rls/matrix", src, metas, {}, where)
    monkeypatch.setattr(mutate, "ROOT", tmp_path)
    monkeypatch.setattr(mutate, "WORK", tmp_path / "work")
    monkeypatch.setattr(mutate_results, "RESULTS", where)
    module = mutate.Module(files=("pgcontract/rls/*.py",), tests=())
    assert mutate.stale_files("rls/matrix", module) == []
    (src / MATRIX).write_text("def f():\n    return 2\n")
    assert mutate.stale_files("rls/matrix", module) == [MATRIX]
    assert mutate.stale_files("rls/matrix", mutate.Module(files=("pgcontract/guard.py",), tests=())) == []
    mutated = tmp_path / "work" / "rls.matrix" / "mutants" / "src" / MATRIX
    mutated.parent.mkdir(parents=True)
    mutated.write_text("# mutmut's copy")
    assert mutate.stale_files("rls/matrix", module) == []
    assert not mutate.Tally(9, 10, 0, stale=True).ok
    assert mutate.Tally(9, 10, 0).ok


# --- killers first (bench/mutate_plugin.py) ------------------------------------------------------------------


def test_a_mutant_names_the_function_its_kills_count_for() -> None:
    assert mutate_plugin.mutated_function("pgcontract.rls.matrix.xǁMatrixǁrun__mutmut_74") == (
        "pgcontract.rls.matrix.xǁMatrixǁrun"
    )
    assert mutate_plugin.mutated_function("stats") is None
    assert mutate_plugin.mutated_function("") is None


def test_the_tests_that_killed_a_functions_mutants_run_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    killers = tmp_path / "killers.tsv"
    run, other = "pgcontract.rls.matrix.xǁMatrixǁrun", "pgcontract.rls.matrix.x_leftovers"
    killers.write_text(f"{run}\tt::slow\n{other}\tt::fast\n{run}\tt::slow\n{run}\tt::middle\n")
    assert mutate_plugin.kills(killers, run) == {"t::slow": 2, "t::middle": 1}
    assert mutate_plugin.kills(tmp_path / "none.tsv", run) == {}
    monkeypatch.chdir(tmp_path)
    durations = {"t::fast": 0.1, "t::middle": 5.0, "t::slow": 9.0, "t::other": 1.0}
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({"duration_by_test": durations}))
    monkeypatch.setenv(mutate_plugin.KILLERS, str(killers))
    items = [SimpleNamespace(nodeid=n) for n in ("t::unknown", "t::slow", "t::other", "t::middle", "t::fast")]

    monkeypatch.setenv("MUTANT_UNDER_TEST", f"{run}__mutmut_9")
    mutate_plugin.pytest_collection_modifyitems(cast(list[pytest.Item], items))
    assert [i.nodeid for i in items] == ["t::slow", "t::middle", "t::fast", "t::other", "t::unknown"]

    monkeypatch.setenv("MUTANT_UNDER_TEST", "stats")  # mutmut's own runs: fastest first
    mutate_plugin.pytest_collection_modifyitems(cast(list[pytest.Item], items))
    assert [i.nodeid for i in items] == ["t::fast", "t::other", "t::middle", "t::slow", "t::unknown"]


def test_a_failed_test_is_noted_as_its_mutants_killer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    killers = tmp_path / "killers.tsv"
    monkeypatch.setenv(mutate_plugin.KILLERS, str(killers))
    monkeypatch.setenv("MUTANT_UNDER_TEST", "pgcontract.guard.x_guard__mutmut_3")

    def report(nodeid: str, when: str, outcome: str) -> pytest.TestReport:
        return pytest.TestReport(nodeid, ("f", 1, nodeid), {}, outcome, None, when)  # type: ignore[arg-type]

    mutate_plugin.pytest_runtest_logreport(report("t::passes", "call", "passed"))
    mutate_plugin.pytest_runtest_logreport(report("t::fails", "call", "failed"))
    mutate_plugin.pytest_runtest_logreport(report("t::fails", "teardown", "failed"))
    assert killers.read_text() == "pgcontract.guard.x_guard\tt::fails\n"
    monkeypatch.setenv("MUTANT_UNDER_TEST", "stats")
    mutate_plugin.pytest_runtest_logreport(report("t::other", "call", "failed"))
    assert killers.read_text() == "pgcontract.guard.x_guard\tt::fails\n"
