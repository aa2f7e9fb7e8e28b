"""bench/mutate.py re-tests survivors by dropping their results, never by naming them to mutmut (naming them
left every result mutmut had forgotten meanwhile "not checked", so killed mutants showed as not run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import mutate


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
