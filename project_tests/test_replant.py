"""bench/replant.py (``./dev replant``) plants again, one at a time, the bugs issue 15 found surviving the tests.
Its plants are exact edits of the source and name the tests that kill them: a refactoring that moves the
text a plant replaces, or renames such a test, must fail here rather than leave a plant that plants nothing."""

from __future__ import annotations

import subprocess
import sys

from project_tests.helpers import ROOT


def test_every_plant_still_applies_and_names_tests_that_exist() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "replant.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
