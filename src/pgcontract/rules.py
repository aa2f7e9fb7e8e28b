"""The registry of every rule id pgcontract reports, with its kind and level.

Each module that reports findings declares its rules next to where it reports them, with
``findings.declare(kind, "rule.id", ...)``; a finding built with an id nobody declared (or under another kind
or level) raises ``UnregisteredRule``. This module only gathers the declarations: a new module that reports
findings is added to ``RULE_MODULES`` once.

    for rule in registry().values():
        print(rule.id, rule.kind, rule.level)
"""

from __future__ import annotations

import importlib

from pgcontract.findings import REGISTERED, RuleSpec

RULE_MODULES = (
    "pgcontract.checks.tables",
    "pgcontract.checks.columns",
    "pgcontract.checks.constraints",
    "pgcontract.checks.indexes",
    "pgcontract.checks.policies",
    "pgcontract.checks.grants",
    "pgcontract.checks.enums",
    "pgcontract.checks.functions",
    "pgcontract.checks.partitions",
    "pgcontract.checks.domains",
    "pgcontract.checks.composite_types",
    "pgcontract.checks.sequences",
    "pgcontract.checks.views",
    "pgcontract.checks.triggers",
    "pgcontract.checks.privileges",
    "pgcontract.checks.extensions",
    "pgcontract.checks.publications",
    "pgcontract.checks.aggregates",
    "pgcontract.rls.matrix",
    "pgcontract.rls.erasure",
    "pgcontract.ops.budgets",
    "pgcontract.lints",
)


def load_all() -> None:
    for module in RULE_MODULES:
        importlib.import_module(module)


def registry() -> dict[str, RuleSpec]:
    """Every declared rule, by id (sorted)."""
    load_all()
    return dict(sorted(REGISTERED.items()))


__all__ = ["RULE_MODULES", "load_all", "registry"]
