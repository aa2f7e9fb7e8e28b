"""What a mutation run found, kept in the repository: ``bench/mutation-results/<slice>.json``.

mutmut keeps its verdicts in ``.mutation/<slice>/mutants/**/<file>.meta`` (gitignored), so a fresh checkout
starts every slice from nothing, and a slice that takes longer than one sitting (``rls/matrix``: hours on 2
cores) never finishes. ``bench/mutate.py`` therefore saves, after each run (or with ``--save``), per source
file: mutmut's verdict of each mutant, the hash mutmut keeps of each function, and the file's SHA-256; and
the change (line before, after) of each mutant not killed, which is what the report needs to recognise a
listed equivalent without mutmut's mutated copy. Before a run, a slice without a ``.meta`` gets the saved one
back: mutmut then keeps the verdicts of every function whose hash is unchanged and tests the rest, as it does
when its own directory survives. ``--fresh`` ignores the saved results.

A report read from saved results alone (no run since the checkout) says so, and names the files changed
since: their verdicts may be stale, and the slice is not counted as meeting the goal until run again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "mutation-results"


def saved_file(name: str, where: Path | None = None) -> Path:
    """Where ``name``'s results are kept: in ``where`` (a test's directory), else in RESULTS."""
    return (RESULTS if where is None else where) / f"{name.replace('/', '.')}.json"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(
    name: str, src: Path, metas: Path, changes: dict[str, tuple[str, str]], where: Path | None = None
) -> Path | None:
    """The ``.meta`` files under ``metas`` (mutmut's copy of ``src``) as ``name``'s saved results; None when
    mutmut has written none yet."""
    files: dict[str, dict[str, Any]] = {}
    for meta in sorted(metas.rglob("*.py.meta")):
        file = meta.relative_to(metas).as_posix().removesuffix(".meta")
        data = json.loads(meta.read_text(encoding="utf-8"))
        files[file] = {
            "sha256": digest(src / file) if (src / file).exists() else None,
            "hash_by_function_name": data["hash_by_function_name"],
            "exit_code_by_key": data["exit_code_by_key"],
        }
    if not files:
        return None
    target = saved_file(name, where)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {"files": files, "changes": {m: list(c) for m, c in sorted(changes.items())}}
    target.write_text(json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def load(name: str, where: Path | None = None) -> dict[str, Any] | None:
    path = saved_file(name, where)
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def restore(name: str, metas: Path, where: Path | None = None) -> int:
    """Write back each saved ``.meta`` that ``metas`` lacks; the number of verdicts restored."""
    document = load(name, where)
    restored = 0
    for file, data in (document or {}).get("files", {}).items():
        meta = metas / f"{file}.meta"
        if meta.exists():
            continue
        meta.parent.mkdir(parents=True, exist_ok=True)
        codes: dict[str, int | None] = data["exit_code_by_key"]
        meta.write_text(
            json.dumps(
                {
                    "exit_code_by_key": codes,
                    "hash_by_function_name": data["hash_by_function_name"],
                    "type_check_error_by_key": {},
                    "durations_by_key": {},
                    "estimated_durations_by_key": {},
                },
                indent=4,
            ),
            encoding="utf-8",
        )
        restored += sum(1 for code in codes.values() if code is not None)
    return restored


def saved_change(name: str, mutant: str, where: Path | None = None) -> tuple[str, str] | None:
    before_after = (load(name, where) or {}).get("changes", {}).get(mutant)
    return (before_after[0], before_after[1]) if before_after else None


def changed_since(name: str, src: Path, where: Path | None = None) -> list[str]:
    """The saved files whose source is no longer what was saved."""
    document = load(name, where) or {}
    return sorted(
        file
        for file, data in document.get("files", {}).items()
        if not (src / file).exists() or digest(src / file) != data["sha256"]
    )
