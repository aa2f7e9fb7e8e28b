"""Templates in ``isolation.values``: ``${user}``, ``${id}`` and ``${n}`` make one entry give every test
row a value of its own (a UNIQUE column cannot take one literal for two rows)."""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
NAMES = {
    "user": "the test user: a or b",
    "id": "the test user's id (its auth.users id, role name or setting value)",
    "n": "a number of its own for every test row",
}


def check_template(text: str) -> str:
    """``text`` unless it names an unknown placeholder (a typo would silently stay literal text)."""
    unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in NAMES})
    if unknown:
        known = ", ".join("${" + name + "}" for name in NAMES)
        raise ValueError(f"unknown placeholder {', '.join('${' + u + '}' for u in unknown)}: use {known}")
    return text


def render(text: str, fields: Mapping[str, str]) -> str:
    """``text`` with each placeholder replaced by its field."""
    return PLACEHOLDER.sub(lambda match: fields[match.group(1)], text)


def is_template(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None
