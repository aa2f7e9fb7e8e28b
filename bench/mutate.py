"""Mutation testing of the modules whose tests must pin every behaviour (issue 15), with mutmut 3.

    .venv/bin/python bench/mutate.py                      # every module below, one after another
    .venv/bin/python bench/mutate.py redaction guard      # some of them
    .venv/bin/python bench/mutate.py --list               # the modules, their mutated functions and tests
    .venv/bin/python bench/mutate.py health --report      # the last results again, without running
    .venv/bin/python bench/mutate.py rls/matrix --save    # keep the results so far (a run stopped halfway)

Each module runs in its own work directory ``.mutation/<module>/`` (gitignored): links to the checkout,
a generated ``setup.cfg`` with the module's ``[mutmut]`` settings, and mutmut's ``mutants/`` copy. mutmut
first runs the module's test files once to record which test reaches which function, then runs, for each
mutant, only the tests that reach the mutated function; results are kept, so a second run only re-tests
functions whose source changed. The tests start their own throwaway PostgreSQL per pytest run, as they
always do (``project_tests/conftest.py``). The score is killed / all mutants of the module's functions;
a mutant no test reaches counts as surviving. mutmut's results live in the gitignored work directory; each
run also saves them in ``bench/mutation-results/<module>.json`` (committed, ``mutate_results.py``), from which
a fresh checkout resumes and reports.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mutate_results
from mutate_plugin import KILLERS, SERVERS, kept_servers

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutation"
# What the tests read besides the package: mutmut copies these into mutants/ (helpers.ROOT is there).
ALSO_COPY = ("project_tests", "tests", "sql", "contracts", "examples", "conftest.py", "bench", "README.md", "docs")
GOAL = 0.90


@dataclass(frozen=True)
class Module:
    files: tuple[str, ...]  # under src/
    tests: tuple[str, ...]  # the project's test files that cover it
    functions: tuple[str, ...] = ("*",)  # only these functions count (glob, mutmut's x_<name> / Class.xǁ...)


# The one place that says which tests cover which module.
MODULES: dict[str, Module] = {
    "redaction": Module(
        files=("pgcontract/connect.py",),
        functions=("redact_dsn", "_shown_dbname", "_secrets", "_scrub", "redact_text"),
        tests=("project_tests/test_secrets.py",),
    ),
    "server-auth": Module(
        files=("pgcontract/server/app.py",),
        functions=("token_matches", "admin"),
        tests=("project_tests/test_server.py", "project_tests/test_near_misses.py"),
    ),
    "guard": Module(
        files=("pgcontract/guard.py",), tests=("project_tests/test_guard.py", "project_tests/test_guard_edges.py")
    ),
    # test_operations.py pins the budgets' JSON form too, but starts two more servers per run: too slow here.
    "health": Module(
        files=("pgcontract/health.py",), tests=("project_tests/test_health.py", "project_tests/test_health_busy.py")
    ),
    # test_exact_lints.py pins every rule's findings whole; the files that reach the lints by the way (the
    # probes, the erasure proof, the views and extension tests: whole checks on the chat schema) made each
    # mutant run for tens of seconds and killed nothing it does not.
    "lints": Module(files=("pgcontract/lints.py",), tests=("tests/test_lints.py", "project_tests/test_exact_lints.py")),
    "checks": Module(
        files=("pgcontract/checks/*.py",),
        tests=(
            "project_tests/test_tables.py",
            "project_tests/test_columns.py",
            "project_tests/test_constraints.py",
            "project_tests/test_indexes.py",
            "project_tests/test_policies.py",
            "project_tests/test_grants.py",
            "project_tests/test_enums.py",
            "project_tests/test_functions_realworld.py",
            "project_tests/test_kind_constraint_attributes.py",
            "project_tests/test_kind_domains.py",
            "project_tests/test_kind_extensions.py",
            "project_tests/test_kind_grants.py",
            "project_tests/test_kind_partitions.py",
            "project_tests/test_kind_publications.py",
            "project_tests/test_kind_sequences.py",
            "project_tests/test_kind_triggers.py",
            "project_tests/test_kind_types.py",
            "project_tests/test_kind_views.py",
            "project_tests/test_cli_defects.py",
            "project_tests/test_rule_probes.py",
        ),
    ),
    "rls": Module(
        files=("pgcontract/rls/*.py",),
        tests=(
            "project_tests/test_rls_leaks.py",
            "project_tests/test_rls_attacker.py",
            "project_tests/test_rls_principals.py",
            "project_tests/test_rls_seeding.py",
            "project_tests/test_rls_bypass_privileges.py",
            "project_tests/test_rls_live.py",
            "project_tests/test_erasure.py",
            "project_tests/test_rule_probes.py",
        ),
    ),
}


# `checks` and `rls` in slices, one per file, each with the tests that cover it (`./dev mutate checks/columns`):
# thousands of mutants are hours on 2 cores; slices can be run piecewise, by different people at once.
# mutmut still narrows each mutant to the tests that reach its function; the files named here only bound
# what it runs once to record that (and the clean run).
CHECK_PROBES = ("project_tests/test_rule_probes.py", "project_tests/test_cli_defects.py")
CHECK_SLICES: dict[str, tuple[str, ...]] = {
    "__init__": ("test_check_every_kind.py", "test_check_granularity.py", "test_check_operations.py"),
    "base": ("test_check_base.py", "test_exact_columns.py", "test_exact_constraints.py", "test_exact_domains.py"),
    "typeuse": ("test_exact_domains.py", "test_exact_types.py"),
    "aggregates": ("test_kind_aggregates.py", "test_exact_aggregates.py"),
    "columns": ("test_columns.py", "test_exact_columns.py"),
    "composite_types": ("test_kind_types.py", "test_exact_types.py"),
    "constraints": (
        "test_constraints.py",
        "test_kind_constraint_attributes.py",
        "test_exact_constraints.py",
        "test_exact_constraint_choices.py",
    ),
    "domains": ("test_kind_domains.py", "test_exact_domains.py"),
    "enums": ("test_enums.py", "test_exact_enums.py"),
    "extensions": ("test_kind_extensions.py", "test_exact_extensions.py"),
    "functions": (
        "test_functions_realworld.py",
        "test_kind_sql_bodies.py",
        "test_exact_functions.py",
        "test_exact_roles.py",
    ),
    "grants": ("test_grants.py", "test_kind_grants.py", "test_kind_sequence_grants.py", "test_exact_grants.py"),
    "indexes": ("test_indexes.py", "test_exact_indexes.py"),
    "partitions": ("test_kind_partitions.py", "test_exact_partitions.py"),
    "policies": ("test_policies.py", "test_exact_policies.py"),
    "privileges": ("test_exact_privileges.py", "test_kind_grants.py"),
    "publications": ("test_kind_publications.py", "test_exact_publications.py"),
    "sequences": ("test_kind_sequences.py", "test_kind_sequence_grants.py", "test_exact_sequences.py"),
    "tables": ("test_tables.py", "test_exact_tables.py"),
    "triggers": ("test_kind_triggers.py", "test_exact_triggers.py"),
    "views": ("test_kind_views.py", "test_exact_views.py"),
}
RLS_PIPELINE = (
    "test_rls_leaks.py",
    "test_rls_attacker.py",
    "test_rls_principals.py",
    "test_rls_seeding.py",
    "test_rls_bypass_privileges.py",
    "test_rls_live.py",
    "test_rls_views.py",
    "test_rls_delete_refused_by_key.py",
    "test_isolation_rules.py",
)
# Each slice names the tests that reach its file, its own first: mutmut runs them all twice before the
# first mutant (to map tests to functions, then clean), so a slow file that reaches it only by the way
# (the whole pipeline for a regex helper) costs minutes and kills nothing the narrow tests miss.
RLS_SLICES: dict[str, tuple[str, ...]] = {
    "erasure": ("test_rls_erasure.py", "test_rls_erasure_flow.py", "test_erasure.py", "test_rule_probes.py"),
    "personal": ("test_rls_personal.py", "test_erasure.py"),
    "seed": (
        "test_rls_seed.py",
        "test_rls_seeding.py",
        "test_rls_seeding_postgis.py",
        "test_rls_leaks.py",
        "test_rule_probes.py",
    ),
    "values": ("test_rls_values.py", "test_rls_seeding.py", "test_rls_seeding_postgis.py"),
    "spatial": ("test_rls_spatial.py", "test_rls_values.py", "test_rls_seeding_postgis.py"),
    "views": ("test_rls_views.py", "test_rls_leaks.py"),
    # The pipeline every isolation run goes through: every RLS test reaches it, so a surviving mutant of
    # `Matrix.run` runs every test named here (the whole pipeline's files: ~4 minutes each on 2 cores, days
    # for the slice). Named: the direct tests, then those that pin each probe by rule id alone (a leak only it
    # catches), the attacker's and principals' cases, views, the key-refused delete and the leftover proof.
    # Left out: the whole-run suites (leaks, seeding, live, bypass privileges), which assert that a run
    # passes or fails: a mutant only they would kill counts here as a survivor (the score is a lower bound).
    "matrix": (
        "test_rls_matrix.py",
        "test_rls_matrix_roles.py",
        "test_rls_matrix_reads.py",
        "test_rls_matrix_session.py",
        "test_rls_matrix_changes.py",
        "test_isolation_rules.py",
        "test_rls_attacker.py",
        "test_rls_principals.py",
        "test_rls_views.py",
        "test_rls_delete_refused_by_key.py",
        "test_rule_probes.py",
    ),
    # fit.py's own tests pin each function; the seeding tests fit real schemas' rows (slug = lower(name)).
    "fit": ("test_rls_fit.py", "test_rls_seeding.py"),
    "explain": ("test_rls_explain.py", "test_rls_seeding.py"),
    "identity": ("test_rls_claims.py", "test_rls_principals.py", "test_rls_leaks.py"),
    "inforce": ("test_rls_inforce.py", "test_rls_attacker.py"),
}
# Slices whose rules no probe makes: every probe still reaches their functions (each runs the whole check),
# so a surviving mutant would run them all, 50-odd databases, before giving up. Their own tests pin them.
CHECK_WITHOUT_PROBES = frozenset({"columns", "tables", "grants"})
# These exact-finding tests pin every rule of their slice whole (test_exact_<slice>.py); the probes make four
# of their 40 rules and only show that a rule fires: each survivor would still run all 50-odd of them.
CHECK_WITHOUT_PROBES |= {"triggers", "sequences", "publications", "views", "partitions"}
# Their exact tests make every rule the probes make of them (index.invalid, index.table, rls.enabled, rls.forced).
CHECK_WITHOUT_PROBES |= {"indexes", "policies"}
# Kinds whose exact-finding tests pin every rule (project_tests/test_exact_*.py): the probes, which map for
# 15-20 minutes on the loaded machine, kill nothing more.
CHECK_WITHOUT_PROBES |= {
    "enums",
    "extensions",
    "domains",
    "composite_types",
    "typeuse",
    "aggregates",
    "base",
    "__init__",
}
# Their exact tests make every rule of their file (those the probes make too).
CHECK_WITHOUT_PROBES |= {"privileges", "functions", "constraints"}
for _package, _slices, _common in (
    ("checks", CHECK_SLICES, CHECK_PROBES),
    ("rls", RLS_SLICES, ()),
):
    for _file, _tests in _slices.items():
        _probes = () if _package == "checks" and _file in CHECK_WITHOUT_PROBES else _common
        MODULES[f"{_package}/{_file}"] = Module(
            files=(f"pgcontract/{_package}/{_file}.py",),
            tests=(*(f"project_tests/{t}" for t in _tests), *_probes),
        )

KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass(frozen=True)
class Equivalent:
    """A surviving mutant that cannot change behaviour, known by its change (not by mutmut's number, which
    moves when the function changes): the line before and after, stripped. docs/mutation.md says why."""

    function: str
    before: str
    after: str
    why: str
    module: str | None = None  # "checks.aggregates": this module's function only, where names repeat


def _zip_of_equal_lengths(function: str, line: str, why: str) -> tuple[Equivalent, ...]:
    """mutmut's changes to the ``strict=True`` of a zip in ``line``, where the lengths are equal (``why``):
    the same zip."""
    return tuple(
        Equivalent(function, line, line.replace("strict=True", changed), why)
        for changed in ("strict=None", "strict=False", "")
    )


GUARD_CAST = "typing.cast does nothing at run time: cast(None, x) is x"
HEADER_CASE = "HTTP header names are case-insensitive (Starlette lower-cases them both ways)"
EQUIVALENT: tuple[Equivalent, ...] = (
    *(
        Equivalent("admin", 'headers={"WWW-Authenticate": CHALLENGE, "Cache-Control": "no-store"},', after, HEADER_CASE)
        for after in (
            'headers={"www-authenticate": CHALLENGE, "Cache-Control": "no-store"},',
            'headers={"WWW-AUTHENTICATE": CHALLENGE, "Cache-Control": "no-store"},',
            'headers={"WWW-Authenticate": CHALLENGE, "cache-control": "no-store"},',
            'headers={"WWW-Authenticate": CHALLENGE, "CACHE-CONTROL": "no-store"},',
        )
    ),
    Equivalent(
        "admin",
        'if not token_matches(request.headers.get("authorization", ""), token):',
        'if not token_matches(request.headers.get("AUTHORIZATION", ""), token):',
        HEADER_CASE,
    ),
    Equivalent(
        "admin",
        'if not token_matches(request.headers.get("authorization", ""), token):',
        'if not token_matches(request.headers.get("authorization", "XXXX"), token):',
        "a header value without a scheme never matches (token_matches), whatever the default",
    ),
    Equivalent(
        "admin",
        "return await endpoint(request)",
        "return await endpoint(None)",
        "no admin endpoint reads its request today (a future one that does fails its own tests)",
    ),
    *(
        Equivalent(
            "failed_report",
            "enums=tuple(TableHealth(str(n), False, Status.UNKNOWN) for n in contract.enum_map),",
            f"enums=tuple(TableHealth(str(n), {flag}, Status.UNKNOWN) for n in contract.enum_map),",
            "an enum's `critical` is never read: the JSON form of an enum has no such field",
        )
        for flag in ("None", "True")
    ),
    *(
        Equivalent(
            "report_from_findings",
            "TableHealth(str(name), False, _status(errs), tuple(Issue.of(f) for f in errs))",
            f"TableHealth(str(name), {flag}, _status(errs), tuple(Issue.of(f) for f in errs))",
            "an enum's `critical` is never read: the JSON form of an enum has no such field",
        )
        for flag in ("None", "True")
    ),
    *(
        Equivalent(
            "_read",
            'target = Target("target", source) if isinstance(source, str) else source',
            f"target = Target({name}, source) if isinstance(source, str) else source",
            "the name of a Target made for one read is never shown: connect and redact use its DSN only",
        )
        for name in ("None", '"XXtargetXX"', '"TARGET"')
    ),
    *(
        Equivalent(
            "check_health",
            'reason = (Target("target", source) if isinstance(source, str) else source).redact(reason)',
            f"reason = (Target({name}, source) if isinstance(source, str) else source).redact(reason)",
            "the name of a Target made to redact a reason is never shown: redact uses its DSN only",
        )
        for name in ("None", '"XXtargetXX"', '"TARGET"')
    ),
    Equivalent(
        "_ms_since",
        "return (time.perf_counter() - started) * 1000",
        "return (time.perf_counter() - started) * 1001",
        "0.1 % of a duration: within what any bound on a measured time can tell",
    ),
    Equivalent(
        "_secrets",
        "found = [parsed.password] if parsed.password else []",
        "found = [parsed.password] if (parsed.password) or True else []",
        "[None] is dropped by the final `if s` filter",
    ),
    Equivalent(
        "_secrets",
        "found += [written, unquote(written)]",
        "found = [written, unquote(written)]",
        "in a URL libpq's password is unquote(written); a password= parameter too is found by _KV_PASSWORD",
    ),
    # guard.py
    *(
        Equivalent(
            "process_guard",
            "guard = _guards.get(key)",
            after,
            "the lookup outside the lock is a shortcut: setdefault under the lock returns the guard already there",
        )
        for after in ("guard = None", "guard = _guards.get(None)")
    ),
    *(
        Equivalent("schema_guard", before, before.replace(f"cast({kind}, ", "cast(None, "), GUARD_CAST)
        for kind, before in (
            ("Conn", "guard.require(cast(Conn, connection(args, kwargs)))"),
            ("AsyncConn", "await guard.require_async(cast(AsyncConn, connection(args, kwargs)))"),
            (
                "Callable[..., Awaitable[Any]]",
                "return await cast(Callable[..., Awaitable[Any]], function)(*args, **kwargs)",
            ),
            ("Callable[P, R]", "return cast(Callable[P, R], functools.wraps(function)(run_async))"),
        )
    ),
    Equivalent(
        "fresh",
        "return self._ok_until.get(key, 0.0) > time.monotonic()",
        "return self._ok_until.get(key, 1.0) > time.monotonic()",
        "a key never marked: the monotonic clock counts seconds since boot, past 1.0 in its first second",
    ),
    *(
        Equivalent(
            "response",
            'return JSONResponse(self.to_dict(), status_code=self.status_code, headers={"Cache-Control": "no-store"})',
            f'return JSONResponse(self.to_dict(), status_code=self.status_code, headers={{"{name}": "no-store"}})',
            HEADER_CASE,
        )
        for name in ("cache-control", "CACHE-CONTROL")
    ),
    *(
        Equivalent(
            "_open",
            'target = Target("guard", source) if isinstance(source, str) else source',
            f"target = Target({name}, source) if isinstance(source, str) else source",
            "the name of the Target made for the guard's connection is never shown: connect uses its DSN only",
        )
        for name in ("None", '"XXguardXX"', '"GUARD"')
    ),
    Equivalent(
        "__call__",
        "started = False",
        "started = None",
        "only read for truth (`started or ...`, `or started`): None and False alike",
    ),
    Equivalent(
        "__call__",
        "await error.response()(scope, receive, send)",
        "await error.response()(scope, None, send)",
        "a JSONResponse never calls receive (Starlette's Response.__call__ only sends)",
    ),
    Equivalent(
        "_precheck",
        "if guard is None or self.connection is None or guard.fresh(self):",
        "if guard is None or self.connection is None or guard.fresh(None):",
        "the check under the lock reads the cached result again: a warm request only takes a free lock",
    ),
    Equivalent(
        "fresh",
        "return self._ok_until.get(key, 0.0) > time.monotonic()",
        "return self._ok_until.get(key, 0.0) >= time.monotonic()",
        "differs only when the clock reads the exact expiry instant: two float readings ns apart never tie",
    ),
)
# rls/values: the seeder's literals go to PostgreSQL, whose boolean input ignores case.
EQUIVALENT += tuple(
    Equivalent(
        "_candidates", 'return ["true", "false"]', f"return {after}", "PostgreSQL reads a boolean literal in any case"
    )
    for after in ('["TRUE", "false"]', '["true", "FALSE"]')
)
EQUIVALENT += tuple(
    Equivalent(
        "_column_list_literals",
        'left = expr.get("lexpr", {})',
        after,
        "an IN list or = ANY always has a left operand (the parser gives lexpr), so the default is never used",
    )
    for after in ('left = expr.get("lexpr", None)', 'left = expr.get("lexpr", )')
)
_FIELD = 'if ref is None or ref["fields"][-1].get("String", {}).get("sval") != column:'
EQUIVALENT += (
    *(
        Equivalent(
            "_column_list_literals",
            _FIELD,
            _FIELD.replace('.get("String", {})', f'.get("String", {default})'),
            "the last field of a column in a CHECK is always a String node (a star is no operand of = ANY)",
        )
        for default in ("None", "")
    ),
    *(
        Equivalent(
            "_column_list_literals",
            'right = expr.get("rexpr", {})',
            f'right = expr.get("rexpr", {default})',
            "an IN list or = ANY always has a right operand (the parser gives rexpr)",
        )
        for default in ("None", "")
    ),
)
EQUIVALENT += (
    Equivalent(
        "ewkt",
        'tag = f" {dims.upper()}" if dims else ""',
        'tag = f" {dims.upper()}" if (dims) or True else ""',
        "one space more before the coordinates: well-known text ignores it",
    ),
    Equivalent(
        "_shape_of",
        "base = wanted[: len(wanted) - len(suffix)] if suffix else wanted",
        "base = wanted[: len(wanted) - len(suffix)] if (suffix) or True else wanted",
        "with no suffix, cutting len('') characters off leaves the whole name: the same base",
    ),
    *(
        Equivalent(
            "_srid_of",
            'if len(kind.modifiers) > 1 and kind.modifiers[1].lstrip("-").isdigit():',
            f"if len(kind.modifiers) > 1 and kind.modifiers[1].{changed}.isdigit():",
            "only a negative SRID reads differently, and the catalog never holds one (PostGIS stores"
            " geometry(Point,-5) as geometry(Point)); PostGIS reads SRID=-1 as the default the mutant gives",
        )
        for changed in ("lstrip(None)", 'rstrip("-")')
    ),
    *(
        Equivalent(
            "_srid_of",
            'return 4326 if kind.name == "geography" else 0',
            changed,
            "PostGIS reads a geography value in SRID 0 as SRID 4326: the same value stored, and a geography"
            " column's candidates are 4326, 0, 3857 either way",
        )
        for changed in (
            'return 4326 if (kind.name == "geography") and False else 0',
            'return 4326 if kind.name == "XXgeographyXX" else 0',
            'return 4326 if kind.name == "GEOGRAPHY" else 0',
        )
    ),
    Equivalent(
        "ewkt",
        "x, y = n % 170, (n // 170) % 80",
        "x, y = n % 170, (n // 170) % 81",
        "a band of 81 rows of squares keeps every latitude (y + 1 <= 81) in range as 80 do; only where"
        " placement wraps, after 13,600 rows, moves",
    ),
)
NOBODY_LABEL = "the no-rows caller's label is never shown: messages name it by anonymous_name"
ROLE_IDENTITY = "a role-mode principal always has an identity (new_principal sets it): the default is never used"
SQL_CASE = "SQL keywords are case-insensitive"
EQUIVALENT += (
    *(
        Equivalent(
            "__init__",
            'self.nobody = Principal("nobody", identity=f"pgcontract_nobody_{self.suffix}")',
            f'self.nobody = Principal({label}, identity=f"pgcontract_nobody_{{self.suffix}}")',
            NOBODY_LABEL,
        )
        for label in ("None", '"XXnobodyXX"', '"NOBODY"')
    ),
    Equivalent(
        "prepare",
        'role = sql.Identifier(principal.identity or "")',
        'role = sql.Identifier(principal.identity or "XXXX")',
        ROLE_IDENTITY,
    ),
    Equivalent(
        "switch", 'return principal.identity or "", {}', 'return principal.identity or "XXXX", {}', ROLE_IDENTITY
    ),
    Equivalent(
        "prepare",
        'cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))',
        'cur.execute(sql.SQL("create role {} nologin").format(role))',
        SQL_CASE,
    ),
    Equivalent(
        "prepare",
        'cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(member_of), role))',
        'cur.execute(sql.SQL("grant {} to {}").format(sql.Identifier(member_of), role))',
        SQL_CASE,
    ),
    Equivalent(
        "__init__", "self.untouched = False", "self.untouched = None", "None is falsy like False: read only by `if`"
    ),
)
_OWN_CLAIMS = 'claims.update({k: v for k, v in principal.claims.items() if k not in ("app_metadata", "user_metadata")})'
EQUIVALENT += tuple(
    Equivalent(
        "claims",
        _OWN_CLAIMS,
        _OWN_CLAIMS.replace(f'"{key}"', f'"{changed}"'),
        "both metadata claims are set again, merged, on the next lines: copying one first changes nothing",
    )
    for key, changed in (
        ("app_metadata", "XXapp_metadataXX"),
        ("app_metadata", "APP_METADATA"),
        ("user_metadata", "XXuser_metadataXX"),
        ("user_metadata", "USER_METADATA"),
    )
)
EQUIVALENT += (
    Equivalent(
        "seeding_settings",
        'return {"request.jwt.claims": self.claims(principal) if principal is not None else ""}',
        'return {"REQUEST.JWT.CLAIMS": self.claims(principal) if principal is not None else ""}',
        "PostgreSQL's setting names are case-insensitive (set_config folds them)",
    ),
    *(
        Equivalent(
            function,
            f'return self.auth.{role}, {{"request.jwt.claims": {value}}}',
            f'return self.auth.{role}, {{"REQUEST.JWT.CLAIMS": {value}}}',
            "PostgreSQL's setting names are case-insensitive (set_config folds them)",
        )
        for function, role, value in (
            ("switch", "user_role", "self.claims(principal)"),
            ("switch_anonymous", "anon_role", '""'),
        )
    ),
)
EQUIVALENT += tuple(
    Equivalent("switch_sql", before, after, "SQL keywords, function names and setting names are case-insensitive")
    for before, after in (
        (
            """calls = [sql.SQL("set_config('role', {}, true)").format(sql.Literal(role))]""",
            """calls = [sql.SQL("SET_CONFIG('ROLE', {}, TRUE)").format(sql.Literal(role))]""",
        ),
        (
            'calls.append(sql.SQL("set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value)))',
            'calls.append(sql.SQL("SET_CONFIG({}, {}, TRUE)").format(sql.Literal(name), sql.Literal(value)))',
        ),
        (
            'return sql.SQL("SELECT {}; SELECT current_user::text").format(sql.SQL(", ").join(calls))',
            'return sql.SQL("select {}; select current_user::text").format(sql.SQL(", ").join(calls))',
        ),
        (
            'return sql.SQL("SELECT {}; SELECT current_user::text").format(sql.SQL(", ").join(calls))',
            'return sql.SQL("SELECT {}; SELECT CURRENT_USER::TEXT").format(sql.SQL(", ").join(calls))',
        ),
    )
)
_FINGERPRINT_SQL = "SELECT count(*), coalesce(sum(hashtext(v::text)::bigint), 0) FROM {} AS v"
EQUIVALENT += tuple(
    Equivalent(
        "fingerprint",
        f'return sql.SQL("{_FINGERPRINT_SQL}").format(ident(view))',
        f'return sql.SQL("{changed}").format(ident(view))',
        "SQL keywords, function names and an unquoted alias: any case",
    )
    for changed in (_FINGERPRINT_SQL.lower(), _FINGERPRINT_SQL.upper())
)
# checks/typeuse, enums, extensions, base, __init__, composite_types, domains, aggregates
# columns_using / _columns_of_type `continue` -> `break` are no longer listed: a type whose modifiers print as
# words (project_tests/exact.py UNREADABLE_TYPES, public."t;i"(6)) is a column parse_type refuses; the cases
# "...beside types the parser cannot read" of test_exact_domains / test_exact_enums kill it.
EQUIVALENT += (Equivalent("check_extension", '"(none)",', "None,", "finding() shows None as (none): the same text"),)
_UNPARSABLE = r'found, refers_to_columns = "\x00unparsable:" + " ".join(text.split()), {}'
EQUIVALENT += tuple(
    Equivalent(
        "normal",
        before,
        after,
        "a cache of Context.normal missed or filled otherwise: the expression is normalised again, to the same"
        " text (canonical_expr depends only on the text, the table and the snapshot)",
    )
    for before, after in (
        ("found = self._by_text.get(text)", "found = None"),
        ("found = self._by_text.get(text)", "found = self._by_text.get(None)"),
        ("found = self._by_table.get(key)", "found = None"),
        ("found = self._by_table.get(key)", "found = self._by_table.get(None)"),
        ("self._by_table[key] = found", "self._by_table[key] = None"),
        ("self._by_text[text] = found", "self._by_text[text] = None"),
        (_UNPARSABLE.format("False"), _UNPARSABLE.format("True")),
    )
)
# checks/aggregates (the 10 survivors of the whole run, 2026-11-30): the fallbacks of a name neither side
# can fail to parse, a missing type that parse_type refuses, and a zip of two pairs.
_ZIP_MODIFY = "for attribute, want in zip(_MODIFY, spec.modify(arguments.ordered is not None), strict=True):"
EQUIVALENT += (
    *(
        Equivalent(
            function,
            "return expected == actual",
            "return expected != actual",
            f"never reached: the contract's {what} is validated by {parser} (FunctionName, OperatorName), and"
            f" the catalog prints {printed}, which {parser} always reads",
        )
        for function, what, parser, printed in (
            ("_same_function", "function", "function_name", "regproc::text (quote_qualified_identifier)"),
            (
                "_same_operator",
                "sort operator",
                "operator_name",
                "operator characters after a plain or double-quoted schema (regnamespace::text)",
            ),
        )
    ),
    Equivalent(
        "_same_type",
        "return expected == actual",
        "return expected != actual",
        "never reached: the contract's state types are validated by parse_type (TypeName), and the catalog prints"
        " format_type(aggtranstype, NULL), a type's name without modifiers, which parse_type always reads, quoted"
        " or not (a name with ';', '\"', '--', '/*', '$$' or a newline included); composite_types' _same_type,"
        " whose attributes carry modifiers, is not listed",
        module="checks.aggregates",
    ),
    Equivalent(
        "_same_type",
        "if expected is None or actual is None:",
        "if expected is None and actual is None:",
        "a type on one side only: parse_type(None) raises InvalidSql (its `not text` guard), and the fallback"
        " compares None with a text: False, as the early return",
    ),
    *_zip_of_equal_lengths(
        "check_aggregate",
        _ZIP_MODIFY,
        "AggregateSpec.modify returns a pair (tuple[str, str]) and _MODIFY is a pair: zip never meets unequal lengths",
    ),
)
# rls/values (third pass): an enum is looked up by the type's schema; the snapshot holds none of pg_catalog.
EQUIVALENT += tuple(
    Equivalent(
        "generate",
        'if kind.schema not in (None, "pg_catalog"):',
        f'if kind.schema not in (None, "{changed}"):',
        "a type of pg_catalog is never written with its schema (format_type), and were it, the enum lookup finds"
        " nothing there (the snapshot leaves PostgreSQL's own schemas out): the same fall-through",
    )
    for changed in ("XXpg_catalogXX", "PG_CATALOG")
)
# lints.py: a link without a foreign key (personal.unlinked_columns) is always one column (an owner, a
# membership user or a declared set_null column), so the separator between its columns never shows.
_ONE_COLUMN = "a link without a foreign key is one column (owner, membership or set_null): no separator shows"
EQUIVALENT += tuple(
    Equivalent("erasure_foreign_keys", before, before.replace("', '", "'XX, XX'"), _ONE_COLUMN)
    for before in (
        """f"{entry.name} ({', '.join(link.columns)})",""",
        "f\"column {', '.join(link.columns)} holds the user but has no foreign key to {scope.users}: \"",
    )
)
# checks/triggers, sequences, publications, views, partitions (C4).
EQUIVALENT += (
    Equivalent(
        "_differences",
        "if not _same_when(ctx, table, spec.when, actual.when):",
        "if not _same_when(ctx, None, spec.when, actual.when):",
        "_same_when never reads its table: a WHEN condition is normalised without one (OLD and NEW are no relations)",
    ),
    Equivalent(
        "check_triggers",
        "for rule, text, want, have in _differences(ctx, table, spec, actual)",
        "for rule, text, want, have in _differences(ctx, None, spec, actual)",
        "_differences reads its table only to hand it to _same_when, which never reads it",
    ),
)
EQUIVALENT += (
    Equivalent(
        "check_publication",
        '"(none)",',
        "None,",
        "finding() shows None as (none) (checks/base.py _show): the same text either way",
    ),
)
# checks/views
_ZIP_COLUMNS = "en == an and _same_type(et, at) for (en, et), (an, at) in zip(expected.items(), actual, strict=True)"
_ZIP_REPLACE = "for (en, et), (an, at) in zip(expected, found.columns, strict=False):"
_AS_TABLE = 'as_table = snap.Table(name, "m", False, False, found.owner, True, indexes=found.index_map)'
_STAND_IN = "check_indexes reads only the indexes of the table it is given: the stand-in's {} is never read"
EQUIVALENT += (
    *_zip_of_equal_lengths(
        "_same_columns",
        _ZIP_COLUMNS,
        "the lengths were compared just before (unequal: False): zip never meets unequal lengths",
    ),
    *(
        Equivalent(
            "_replaceable",
            _ZIP_REPLACE,
            _ZIP_REPLACE.replace("strict=False", changed),
            "strict=False is zip's default (and None is false too): the same zip",
        )
        for changed in ("strict=None", "")
    ),
    *(
        Equivalent("check_view", _AS_TABLE, _AS_TABLE.replace(before, after, 1), _STAND_IN.format(field))
        for before, after, field in (
            ("(name,", "(None,", "name"),
            ('"m",', "None,", "kind"),
            ('"m",', '"XXmXX",', "kind"),
            ('"m",', '"M",', "kind"),
            ('"m", False, False,', '"m", None, False,', "rls_enabled"),
            ('"m", False, False,', '"m", True, False,', "rls_enabled"),
            ('"m", False, False,', '"m", False, None,', "rls_forced"),
            ('"m", False, False,', '"m", False, True,', "rls_forced"),
            ("found.owner,", "None,", "owner"),
            ("found.owner, True,", "found.owner, None,", "in_scope"),
            ("found.owner, True,", "found.owner, False,", "in_scope"),
        )
    ),
)
# checks/indexes
_ZIP_KEYS = "for want, have in zip(expected, actual, strict=True):"
EQUIVALENT += (
    *_zip_of_equal_lengths(
        "_same_keys",
        _ZIP_KEYS,
        "the lengths were compared just before (unequal: returned False): zip never meets unequal lengths",
    ),
    Equivalent(
        "_same_keys",
        "if want.column is not None or have.column is not None:",
        "if want.column is not None and have.column is not None:",
        "a key is a column or an expression, never neither: a column against an expression reaches "
        "same_expr(None, text), which is False, as the column comparison was",
    ),
)
# checks/privileges, grants, functions, constraints
SHOWN_NONE = "finding() shows None as (none) (checks/base.py _show): the same text either way"
EQUIVALENT += (Equivalent("check_schema_privileges", '"(none)",', "None,", SHOWN_NONE),)
EQUIVALENT += tuple(
    Equivalent(
        "_partition_grants",
        "sorted(partition.grants.get(role, frozenset())),",
        f"sorted(partition.grants.get(role, {default})),",
        "read only when the partition grants the role more than its parent: the role is in its grants",
    )
    for default in ("None", "")
)
CODEC_CASE = "Python's codec names are case-insensitive (codecs.lookup normalises them): the same codec"
_FREE = 'name = wanted.encode("utf-8")[: 63 - len(str(n))].decode("utf-8", "ignore") + str(n)'
_ACTION = '(have or "no action").upper(),'
EQUIVALENT += (
    Equivalent("_free_name", _FREE, _FREE.replace('encode("utf-8")', 'encode("UTF-8")'), CODEC_CASE),
    Equivalent("_free_name", _FREE, _FREE.replace('decode("utf-8"', 'decode("UTF-8"'), CODEC_CASE),
    *(
        Equivalent(
            "_foreign_key",
            _ACTION,
            _ACTION.replace('"no action"', changed),
            "a foreign key's action is never empty: the snapshot reads it from confdeltype/confupdtype, which "
            "PostgreSQL always sets, and FK_ACTIONS names all five codes",
        )
        for changed in ('"XXno actionXX"', '"NO ACTION"')
    ),
    Equivalent(
        "_checks",
        "fix([drop_constraint(name, check.name), *add_check(name, check, position)]),",
        "fix([drop_constraint(name, check.name), *add_check(name, check, None)]),",
        "the check is named on this path (found by its name): check_name returns its name, the position only "
        "makes a generated one",
    ),
)
_MISSING_FIX = "fix(add_check(name, _free_name(actual, check, check_name(name, check, position)), position)),"
_CHECK_TEXT = (
    "a check constraint always has its expression (the snapshot reads pg_get_constraintdef of contype 'c'): "
    "the fallback text is never used"
)
_NAMED = "the check is named on this path: check_name returns its name, the position only makes a generated one"
EQUIVALENT += (
    Equivalent(
        "_checks",
        "fix([drop_constraint(name, check.name), *add_check(name, check, position)]),",
        "fix([drop_constraint(name, check.name), *add_check(name, check, )]),",
        _NAMED + " (found by its name)",
    ),
    *(
        Equivalent("_checks", _MISSING_FIX, _MISSING_FIX.replace("), position)),", f"), {after})),"), why)
        for after, why in (("None", _NAMED), ("", _NAMED))
    ),
    Equivalent(
        "_checks",
        'normal_found = {ctx.normal(c.check or "", name) for c in found}',
        'normal_found = {ctx.normal(c.check or "XXXX", name) for c in found}',
        _CHECK_TEXT,
    ),
    Equivalent(
        "_checks",
        'same = [c for c in found if ctx.normal(c.check or "", name) == normal]',
        'same = [c for c in found if ctx.normal(c.check or "XXXX", name) == normal]',
        _CHECK_TEXT,
    ),
    Equivalent(
        "_exclusions",
        "obj = member(name, exclusion_name(name, added))",
        "obj = member(name, exclusion_name(None, added))",
        "added is named by _free_name: exclusion_name returns its name, the table only makes a generated one",
    ),
    Equivalent(
        "_unique",
        "member(name, unique_name(name, added)),",
        "member(name, unique_name(None, added)),",
        "added is named by _free_name: unique_name returns its name, the table only makes a generated one",
    ),
)
# checks/columns
_VERB = 'verb = "ADD" if found.identity is None else "SET"'
EQUIVALENT += (
    Equivalent(
        "_compare",
        "if column.checks_default and not ctx.same_expr(column.default, found.default, name):",
        "if column.checks_default and not ctx.same_expr(column.default, found.default, None):",
        "the table only resolves column references, and PostgreSQL refuses them (and subqueries) in a DEFAULT:"
        " the catalog's default names no column, so a contract default naming one differs either way",
    ),
    *(
        Equivalent(
            "_compare",
            _VERB,
            _VERB.replace('"SET"', changed),
            'verb is only compared with "ADD" (the SET fix is written out whole): any other text is the same',
        )
        for changed in ('"XXSETXX"', '"set"')
    ),
)
# checks/partitions
_FOLD = (
    "(f.owner, f.rule, f.expected) for f in findings if f.kind in FOLDED_KINDS and _is_partitioned(snapshot, f.owner)"
)
EQUIVALENT += (
    Equivalent(
        "_same",
        "return False",
        "return True",
        "actual is never None: the key is compared only once it is there (partition_key is None is tested first), "
        "and a partition's bound is what makes it one (is_partition is bound is not None)",
    ),
    Equivalent(
        "_ancestors",
        "while table.is_partition and table.parents and table.parents[0] not in out:",
        "while table.is_partition or table.parents and table.parents[0] not in out:",
        "a table that is no partition then collects its inheritance parents, and PostgreSQL keeps partitioned "
        "tables out of inheritance trees: none of them is partitioned, so none holds a finding that folds",
    ),
    Equivalent(
        "_is_partitioned",
        "return table is not None and table.partition_key is not None",
        "return table is not None or table.partition_key is not None",
        "the owner of a columns, constraints or indexes finding is always a table of the snapshot (only the checks "
        "of a table found in scope make them; its name reads back): True then also for plain tables, which are "
        "never a partition's ancestor (_ancestors climbs only to partitioned tables): nothing more folds",
    ),
    Equivalent(
        "fold_partitions",
        _FOLD,
        _FOLD.replace(" and ", " or "),
        "the keys added are of findings of other kinds, so of other rules (each rule is of one kind, and finding() is "
        "given it); the one exception, a materialized view's index rules reported as views, is owned by no table: "
        "no folded finding (matched by its rule) meets them",
    ),
)
# checks/domains (the 4 survivors of the whole run, 2026-11-30)
EQUIVALENT += (
    Equivalent(
        "check_domain",
        "repair = fix(domain_not_null(name, False))",
        "repair = fix(domain_not_null(name, None))",
        'domain_not_null reads its flag only for truth ("SET NOT NULL" if not_null else "DROP NOT NULL"):'
        " None is false, the same DROP NOT NULL",
    ),
)
# checks/functions (the 43 survivors of the whole run, 2026-11-30 night)
_SORTED_TREES = (
    "return json.dumps(_without_locations(sql_body_tree(body)), sort_keys=True)",
    "return json.dumps(_without_locations(tree), sort_keys=True)",
)
_ZIP_PARAMETERS = "for e, a in zip(expected, actual, strict=True)"
_ZIP_INPUTS = "for have, want in zip(have_inputs, want_inputs, strict=False):"
_VOID_SPECS = (
    (
        "_settings_action",
        'spec = FunctionSpec(returns="void", settings={k: v for k, v in expected.items() if actual.get(k) != v})',
    ),
    (
        "check_function",
        '_alter(name, found, function_options(FunctionSpec(returns="void", search_path=spec.search_path))[2]),',
    ),
)
EQUIVALENT += (
    *(
        Equivalent(
            "normal_body",
            line,
            line.replace("sort_keys=True", changed),
            "the JSON is only compared with the other body's, and libpg_query writes each node's fields in one fixed"
            " order (json.loads keeps it): two trees dump alike sorted or not exactly when they are equal",
        )
        for line in _SORTED_TREES
        for changed in ("sort_keys=None", "sort_keys=False", "")
    ),
    Equivalent(
        "normal_body",
        'return json.dumps(" ".join(body.split()))',
        'return json.dumps("XX XX".join(body.split()))',
        "only compared with the other body's form: joining words (no whitespace in them) with a separator holding"
        " one space is one-to-one, and a JSON string never equals a parse tree's JSON object",
    ),
    *_zip_of_equal_lengths(
        "_same_parameters",
        _ZIP_PARAMETERS,
        "the lengths were compared just before (unequal: False): zip never meets unequal lengths",
    ),
    *(
        Equivalent(
            "replace_blocker",
            _ZIP_INPUTS,
            _ZIP_INPUTS.replace("strict=False", changed),
            "strict=False is zip's default (and None is false too): the same zip",
        )
        for changed in ("strict=None", "")
    ),
    Equivalent(
        "replace_blocker",
        _ZIP_INPUTS,
        _ZIP_INPUTS.replace("strict=False", "strict=True"),
        "the function was found by its input types (same_types: as many), and a contract's arguments have the"
        " key's input types (Contract._arguments_fit_keys): as many inputs on both sides, zip never meets unequal"
        " lengths",
    ),
    *(
        Equivalent(
            function,
            line,
            line.replace('returns="void"', changed),
            "a stand-in spec for function_options, which never reads returns (any type name validates)",
        )
        for function, line in _VOID_SPECS
        for changed in ('returns="XXvoidXX"', 'returns="VOID"')
    ),
    Equivalent(
        "_path",
        """return ", ".join(p for p in parts if p and p != "''")""",
        """return "XX, XX".join(p for p in parts if p and p != "''")""",
        "only compared with the other path's: the parts hold no comma, so joining them with a separator holding"
        " one comma is one-to-one",
    ),
)
# rls/explain (2026-12-01): the whole run's survivors that cannot matter.
EQUIVALENT += (
    Equivalent(
        "explain",
        'function = _innermost_function(diag.context or "")',
        'function = _innermost_function(diag.context or "XXXX")',
        'the default only stands for a missing context: "XXXX" names no function either (the pattern needs'
        " 'function name(')",
    ),
    Equivalent(
        "explain",
        'hint = ""',
        "hint = None",
        "a hint is only shown when true: None and an empty text give the head alone",
    ),
    Equivalent(
        "_type_of",
        "return None if parsed is None else (parsed.schema, parsed.name)",
        "return None if (parsed is None) and False else (parsed.schema, parsed.name)",
        "format_type's text of every type a catalog holds parses (built-in, domains, enums, PostGIS and vector"
        " modifiers, quoted names); only a C typmod_out printing other than numbers and words would not",
    ),
)
EQUIVALENT += (
    Equivalent(
        "_allowed_by_check",
        "continue",
        "break",
        "every CHECK constraint (kind c) has its expression in the snapshot: the guard for a missing one never"
        " fires (NOT NULL constraints of PostgreSQL 18 are kind n)",
    ),
)
# rls/erasure: a personal table's rows are always there; savepoint names and keywords in any case.
_ERASURE_ROWS = "rows = self.seeder.rows.get((name, self.session.a.label), []) if entry is not None else []"
_SEEDED = (
    "a table of the scope (entry not None) always has the user's rows: seed() made or adopted one in every such"
    " table before delete_user runs (it raises otherwise) and Seeder.remember keyed it (table, a.label)"
)
_UNBLOCK_SQL = "SQL keywords are case-insensitive and an unquoted savepoint name folds to lower case: the same"
EQUIVALENT += (
    *(
        Equivalent("unblock", _ERASURE_ROWS, _ERASURE_ROWS.replace("), [])", f"), {default})"), _SEEDED)
        for default in ("None", "")
    ),
    Equivalent(
        "unblock",
        'f"{name}: {columns} of {_rows(len(rows) or 1)} would not be cleared: {why}",',
        'f"{name}: {columns} of {_rows(len(rows) or 2)} would not be cleared: {why}",',
        "cleared needs entry not None, whose rows are never empty (" + _SEEDED + "): len(rows) or N is len(rows)",
    ),
    *(
        Equivalent("unblock", f'self.cur.execute("{before}")', f'self.cur.execute("{after}")', _UNBLOCK_SQL)
        for statement in ("SAVEPOINT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")
        for before in (f"{statement} pgcontract_erasure_unblock",)
        for after in (before.lower(), before.upper())
    ),
    *(
        Equivalent("unblock", before, after, SQL_CASE)
        for before, after in (
            (
                'sets = sql.SQL(", ").join(sql.SQL("{} = NULL").format(sql.Identifier(c)) for c in fk.columns)',
                'sets = sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(c)) for c in fk.columns)',
            ),
            (
                'self.cur.execute(sql.SQL("UPDATE {} SET {} WHERE {}").format(ident(name), sets, where), params)',
                'self.cur.execute(sql.SQL("update {} set {} where {}").format(ident(name), sets, where), params)',
            ),
            (
                'self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(name), where), params)',
                'self.cur.execute(sql.SQL("delete from {} where {}").format(ident(name), where), params)',
            ),
        )
    ),
)
EQUIVALENT += (
    *(
        Equivalent("seed", f'self._savepoint("{before}")', f'self._savepoint("{after}")', _UNBLOCK_SQL)
        for statement in ("SAVEPOINT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")
        for before in (f"{statement} pgcontract_erasure_seed",)
        for after in (before.lower(), before.upper())
    ),
    Equivalent(
        "ties",
        "if link.fk is not None and link.ref_table is not None:",
        "if link.fk is not None or link.ref_table is not None:",
        "a Link's ref_table is its fk's (personal.add, _parent_links) and a foreign key always has its referenced"
        " table (the snapshot sets ref_table for every kind f): both halves are fk is not None",
    ),
    *(
        Equivalent(
            "ties",
            'if link.kind == "via" or (link.kind == "owner" and link.ref_table != self.scope.users):',
            f'if link.kind == "via" or (link.kind == "{owner}" and link.ref_table != self.scope.users):',
            "an owner link to a table other than the users table is an owner column keyed to a parent"
            " (_parent_links): not skipped, it pins the column to the key's column of the parent row Seeder.row"
            " picks for the user, which holds the user's id, the value Seeder.wanted pins anyway"
            " (test_an_owner_column_keyed_to_a_parent_ties_the_row_through_it); they differ only on a key to a"
            " parent column that never holds the user's id, where the contract's owner contradicts the key",
        )
        for owner in ("XXownerXX", "OWNER")
    ),
    *(
        Equivalent(
            "judge",
            "for row in self.seeder.rows.get((name, label), []):",
            f"for row in self.seeder.rows.get((name, label), {default}):",
            _SEEDED.replace("before delete_user runs", "before judge runs"),
        )
        for default in ("None", "")
    ),
    Equivalent(
        "where",
        "ties = {c for link in entry.links for c in link.columns} if entry is not None else set()",
        "ties = {c for link in entry.links for c in link.columns} if (entry is not None) or True else set()",
        "where() only sees tables of the scope: unblock has rows only for a scope table's entry, judge walks"
        " scope.tables; so entry is never None there",
    ),
    Equivalent(
        "where",
        'parts = [sql.SQL("{}::text IS NOT DISTINCT FROM %s").format(sql.Identifier(c)) for c in columns]',
        'parts = [sql.SQL("{}::text is not distinct from %s").format(sql.Identifier(c)) for c in columns]',
        SQL_CASE,
    ),
    Equivalent(
        "where",
        'return sql.SQL(" AND ").join(parts), [row.values.get(c) for c in columns]',
        'return sql.SQL(" and ").join(parts), [row.values.get(c) for c in columns]',
        SQL_CASE,
    ),
    Equivalent(
        "current",
        'selected = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)',
        'selected = sql.SQL(", ").join(sql.SQL("{}::TEXT").format(sql.Identifier(c)) for c in columns)',
        "an unquoted type name folds to lower case: the same cast",
    ),
    Equivalent(
        "current",
        'self.cur.execute(sql.SQL("SELECT {} FROM {} WHERE {} LIMIT 1").format(selected, ident(name), where), params)',
        'self.cur.execute(sql.SQL("select {} from {} where {} limit 1").format(selected, ident(name), where), params)',
        SQL_CASE,
    ),
    *_zip_of_equal_lengths(
        "current",
        "return None if fetched is None else dict(zip(columns, fetched, strict=True))",
        "the row fetched has one value per column selected",
    ),
)
_FOR_KEY = " for c in self.user_key)"
_SAVEPOINT_DELETE = ("SAVEPOINT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")
_ROLE_SWITCH = (
    "set_config('role', r) either fails or makes current_user r ('none', the one value that resets it, is"
    " reserved and names no role): the check after it never fails"
)
EQUIVALENT += (
    *(
        Equivalent("delete_user", f'self.cur.execute("{before}")', f'self.cur.execute("{after}")', _UNBLOCK_SQL)
        for statement in _SAVEPOINT_DELETE
        for before in (f"{statement} pgcontract_erasure_delete",)
        for after in (before.lower(), before.upper())
    ),
    *(
        Equivalent("delete_user", before, after, SQL_CASE)
        for before, after in (
            (
                'condition = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c))' + _FOR_KEY,
                'condition = sql.SQL(" and ").join(sql.SQL("{} = %s").format(sql.Identifier(c))' + _FOR_KEY,
            ),
            (
                'statement = sql.SQL("DELETE FROM {} WHERE {}").format(ident(users), condition)',
                'statement = sql.SQL("delete from {} where {}").format(ident(users), condition)',
            ),
            ('self.cur.execute("SET CONSTRAINTS ALL IMMEDIATE")', 'self.cur.execute("set constraints all immediate")'),
        )
    ),
    *(
        Equivalent(
            "delete_user",
            'exc.sqlstate or "error",',
            f"exc.sqlstate or {after},",
            "an error from the server always carries its SQLSTATE; one without (the connection lost) makes the"
            " ROLLBACK TO SAVEPOINT just before the finding fail first",
        )
        for after in ('"XXerrorXX"', '"ERROR"')
    ),
    *_zip_of_equal_lengths(
        "ties",
        "for column, ref_column in zip(link.fk.columns, link.fk.ref_columns, strict=True):",
        "a foreign key has as many referenced columns as columns",
    ),
    *(
        Equivalent(
            "ties",
            'elif link.kind in ("owner", "membership", "set_null") and user.identity is not None:',
            f'elif link.kind in ({owner}, "membership", "set_null") and user.identity is not None:',
            "an owner link's column is isolation.owner (without membership), which Seeder.wanted sets to"
            " identity() anyway: the principal's identity, the same value",
        )
        for owner in ('"XXownerXX"', '"OWNER"')
    ),
    Equivalent(
        "as_seeder",
        "if fetched is None or fetched[0] != self.session.seeder_role:",
        "if fetched is None and fetched[0] != self.session.seeder_role:",
        _ROLE_SWITCH,
    ),
    *(
        Equivalent("as_seeder", "actual = fetched[0] if fetched else None", after, _ROLE_SWITCH)
        for after in (
            "actual = None",
            "actual = fetched[0] if (fetched) and False else None",
            "actual = fetched[0] if (fetched) or True else None",
            "actual = fetched[1] if fetched else None",
        )
    ),
    Equivalent(
        "as_seeder",
        'raise ImpersonationFailed(f"switched to role {self.session.seeder_role!r} but current_user is {actual!r}")',
        "raise ImpersonationFailed(None)",
        _ROLE_SWITCH,
    ),
)
# rls/personal (h19): scope_of's fixed point and action's default.
EQUIVALENT += (
    Equivalent(
        "scope_of",
        "(found if entry.links else pending)[name] = entry",
        "(found if (entry.links) and False else pending)[name] = entry",
        "every table then starts pending; the loop's first pass reads an empty 'erased' (nothing found yet), so"
        " it adds no parent link and moves exactly the tables with direct links to 'found', in the same order:"
        " the same scope, one pass later",
    ),
    Equivalent(
        "scope_of",
        "changed = False",
        "changed = None",
        "'changed' is only read by 'while changed': None and False are both false",
    ),
    Equivalent(
        "action",
        "return f\"ON DELETE {(fk.on_delete or 'no action').upper()}\"",
        "return f\"ON DELETE {(fk.on_delete or 'NO ACTION').upper()}\"",
        "the default is upper-cased: 'NO ACTION'.upper() is 'no action'.upper()",
    ),
)
# rls/seed: a unique key's columns, read from its constraint or from its index (the same columns).
SAME_KEY = (
    "a UniqueViolation names a UNIQUE/PRIMARY KEY constraint, whose index bears its name and the same key columns"
    " (the snapshot reads both; INCLUDE columns are in neither's key), or a unique index alone: from the"
    " constraint or from the index, the same columns"
)
EQUIVALENT += (
    Equivalent(
        "chosen",
        "fixed.update([isolation.owner] if isolation.owner else [])",
        "fixed.update([isolation.owner] if (isolation.owner) or True else [])",
        "with no owner it adds None to the fixed columns: a column name is a str, never None",
    ),
    *(
        Equivalent(
            "_adopt_collision",
            "columns: tuple[str, ...] = next((c.columns for c in table.constraints if c.name == constraint), ())",
            after,
            SAME_KEY,
        )
        for after in (
            "columns: tuple[str, ...] = None",
            "columns: tuple[str, ...] = next((c.columns for c in table.constraints if c.name == constraint), None)",
        )
    ),
    Equivalent(
        "_adopt_collision",
        "if not columns and constraint in table.indexes:",
        "if not columns or constraint in table.indexes:",
        SAME_KEY,
    ),
)

# rls/seed (2026-12-01, the whole run): SQL text in another letter case, the zips of equal lengths, the
# separator between seeding settings (never more than one).
SEED_SQL_CASE = "the same SQL: keywords, functions, types and unquoted names (system columns too) are read in any case"
SEED_ADOPT_WHERE = (
    'sql.SQL("{} IS NULL" if v is None else "{} = %s").format(sql.Identifier(c)) for c, v in wanted.items()'
)
SEED_ADOPT_SELECT = 'statement = sql.SQL("SELECT {} FROM {} WHERE {} AND age(xmin) <= 0 LIMIT 1").format('
SEED_COUNT = 'cur.execute(sql.SQL("SELECT count(*) FROM {}").format(ident(name)))'
SEED_ACT_AS = 'self.cur.execute(sql.SQL("SELECT ") + sql.SQL(", ").join(calls), params)'
SEED_SYSTEM = '[sql.SQL("tableoid::text"), sql.SQL("ctid::text")]'


def _sql_case_of(line: str, change: Callable[[str], str]) -> str:
    """``line`` with its first string literal changed by ``change`` (mutmut's case mutants of SQL text)."""
    first = line.index('"')
    last = line.index('"', first + 1)
    return line[:first] + change(line[first : last + 1]) + line[last + 1 :]


SEED_COUNTS = 'counts = sql.SQL(", ").join(sql.SQL("(SELECT count(*) FROM {})").format(ident(n)) for n in readable)'
SEED_FK_ZIP = (
    "a foreign key has as many referenced columns as columns (PostgreSQL refuses it otherwise; the snapshot reads"
    " both from the one pg_constraint row)"
)
EQUIVALENT += (
    Equivalent("adopt", SEED_ADOPT_WHERE, SEED_ADOPT_WHERE.replace("IS NULL", "is null"), SEED_SQL_CASE),
    Equivalent(
        "adopt",
        SEED_ADOPT_SELECT,
        SEED_ADOPT_SELECT.replace(
            "SELECT {} FROM {} WHERE {} AND age(xmin) <= 0 LIMIT 1",
            "select {} from {} where {} and age(xmin) <= 0 limit 1",
        ),
        SEED_SQL_CASE,
    ),
    Equivalent(
        "adopt",
        SEED_ADOPT_SELECT,
        SEED_ADOPT_SELECT.replace("age(xmin) <= 0 LIMIT 1", "AGE(XMIN) <= 0 LIMIT 1"),
        SEED_SQL_CASE,
    ),
    Equivalent(
        "adopt",
        'self._columns(table), ident(name), sql.SQL(" AND ").join(conditions)',
        'self._columns(table), ident(name), sql.SQL(" and ").join(conditions)',
        SEED_SQL_CASE,
    ),
    Equivalent(
        "count_rows", SEED_COUNT, SEED_COUNT.replace("SELECT count(*) FROM", "select count(*) from"), SEED_SQL_CASE
    ),
    Equivalent(
        "count_rows", SEED_COUNT, SEED_COUNT.replace("SELECT count(*) FROM", "SELECT COUNT(*) FROM"), SEED_SQL_CASE
    ),
    Equivalent("act_as", SEED_ACT_AS, SEED_ACT_AS.replace('"SELECT "', '"select "'), SEED_SQL_CASE),
    Equivalent(
        "act_as",
        SEED_ACT_AS,
        SEED_ACT_AS.replace('sql.SQL(", ")', 'sql.SQL("XX, XX")'),
        "the separator between set_config calls: every Impersonation's seeding_settings gives at most one setting"
        " (Supabase: the claims; setting mode: the setting, or none untouched; roles: none)",
    ),
    Equivalent("_columns", SEED_SYSTEM, SEED_SYSTEM.replace('"tableoid::text"', '"TABLEOID::TEXT"'), SEED_SQL_CASE),
    Equivalent("_columns", SEED_SYSTEM, SEED_SYSTEM.replace('"ctid::text"', '"CTID::TEXT"'), SEED_SQL_CASE),
    Equivalent(
        "_columns",
        '+ [sql.SQL("{}::text").format(sql.Identifier(c)) for c in table.columns]',
        '+ [sql.SQL("{}::TEXT").format(sql.Identifier(c)) for c in table.columns]',
        SEED_SQL_CASE,
    ),
    *_zip_of_equal_lengths(
        "adopt",
        "row = SeededRow(name, dict(zip(table.columns, fetched[2:], strict=True)), fetched[0], fetched[1])",
        "the row read back lists tableoid, ctid and then exactly table.columns (_columns(table)): as many values"
        " after the first two as columns",
    ),
    *_zip_of_equal_lengths(
        "wanted",
        "pinned = {rc: wanted[c] for c, rc in zip(fk.columns, fk.ref_columns, strict=True) if c in wanted}",
        SEED_FK_ZIP,
    ),
    *_zip_of_equal_lengths(
        "wanted", "for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):", SEED_FK_ZIP
    ),
    *_zip_of_equal_lengths(
        "_values_for",
        "pinned = {rc: values[c] for c, rc in zip(fk.columns, fk.ref_columns, strict=True) if c in values}",
        SEED_FK_ZIP,
    ),
    *_zip_of_equal_lengths(
        "_values_for", "for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):", SEED_FK_ZIP
    ),
    *_zip_of_equal_lengths(
        "insert",
        "row = SeededRow(name, dict(zip(table.columns, fetched[2:], strict=True)), fetched[0], fetched[1])",
        "RETURNING lists tableoid, ctid and then exactly table.columns (_columns(table)): as many values after the"
        " first two as columns",
    ),
    *_zip_of_equal_lengths(
        "count_tables",
        "readable = [n for n, (ok,) in zip(names, cur.fetchall(), strict=True) if ok]",
        "unnest of the array of the names gives one row per name",
    ),
    *_zip_of_equal_lengths(
        "count_tables",
        "return {n: int(c) for n, c in zip(readable, fetched, strict=True)}",
        "the SELECT has one count per readable table",
    ),
    *(
        Equivalent("insert", line, _sql_case_of(line, change), SEED_SQL_CASE)
        for line, change in (
            ('statement = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING {}").format(', str.lower),
            (
                'statement = sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING {}").format(ident(name),'
                " self._columns(table))",
                str.lower,
            ),
            ('self.cur.execute("SAVEPOINT pgcontract_insert")', str.lower),
            ('self.cur.execute("SAVEPOINT pgcontract_insert")', str.upper),
            ('self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_insert")', str.lower),
            ('self.cur.execute("ROLLBACK TO SAVEPOINT pgcontract_insert")', str.upper),
            ('self.cur.execute("RELEASE SAVEPOINT pgcontract_insert")', str.lower),
            ('self.cur.execute("RELEASE SAVEPOINT pgcontract_insert")', str.upper),
        )
    ),
    Equivalent(
        "count_tables",
        "\"SELECT coalesce(has_table_privilege(to_regclass(r), 'SELECT'), false) FROM unnest(%s::text[]) AS r\",",
        "\"select coalesce(has_table_privilege(to_regclass(r), 'select'), false) from unnest(%s::text[]) as r\",",
        SEED_SQL_CASE + "; has_table_privilege's privilege text too (its case is not significant)",
    ),
    *(
        Equivalent("count_tables", SEED_COUNTS, SEED_COUNTS.replace("SELECT count(*) FROM", after), SEED_SQL_CASE)
        for after in ("select count(*) from", "SELECT COUNT(*) FROM")
    ),
    Equivalent(
        "count_tables",
        'cur.execute(sql.SQL("SELECT {}").format(counts))',
        'cur.execute(sql.SQL("select {}").format(counts))',
        SEED_SQL_CASE,
    ),
)

# rls/values (2026-12-01): unique_columns reads the PRIMARY KEY and UNIQUE constraints and the unique indexes.
_UNIQUE_KINDS = 'found = {c for con in table.constraints if con.kind in ("p", "u") for c in con.columns}'
EQUIVALENT += tuple(
    Equivalent(
        "unique_columns",
        _UNIQUE_KINDS,
        _UNIQUE_KINDS.replace(before, after),
        "every PRIMARY KEY and UNIQUE constraint has its unique index, of the same key columns, among the"
        " table's indexes (the snapshot reads them all, INCLUDE columns in neither): the next line finds its"
        " columns too",
    )
    for before, after in (('"p"', '"XXpXX"'), ('"p"', '"P"'), ('"u"', '"XXuXX"'), ('"u"', '"U"'))
)
# rls/fit (2026-12-01): SQL text in another letter case (keywords, and unquoted aliases, which fold to lower
# case) is the same statement; the row of ``failing`` has one column per check.
_FIT_SQL = (
    ("failing", 'statement = sql.SQL("SELECT {} FROM ({}) AS pgcontract_row").format('),
    ("evaluate", 'statement = sql.SQL("SELECT ({})::text FROM ({}) AS pgcontract_row").format('),
    (
        "first_passing",
        '"SELECT pgcontract_option.value FROM unnest(%s::text[]) WITH ORDINALITY AS pgcontract_option(value, ord)"',
    ),
    ("first_passing", '" CROSS JOIN LATERAL ({}) AS pgcontract_row WHERE {} ORDER BY pgcontract_option.ord LIMIT 1"'),
    ("_row", 'items.append(sql.SQL("({}) AS {}").format(_catalog_text(str(column.default)), name))'),
    ("_row", 'items.append(sql.SQL("pgcontract_record.{}").format(name))'),
    ("_row", 'return sql.SQL("SELECT {} FROM json_populate_record(NULL::{}, {}) AS pgcontract_record").format('),
    ("_test", 'return sql.SQL("({}) IS NOT FALSE").format('),
)


def _sql_case(line: str, change: Callable[[str], str]) -> str:
    """``line`` with its SQL text (the first string literal) in another letter case, as mutmut makes it."""
    first = line.index('"')
    last = line.index('"', first + 1)
    return line[:first] + change(line[first : last + 1]) + line[last + 1 :]


EQUIVALENT += tuple(
    Equivalent(
        function,
        line,
        changed,
        "the same SQL: keywords and functions are read in any case and unquoted names fold to lower case (a"
        " placeholder %s upper-cased is no such mutant: it is killed)",
    )
    for function, line in _FIT_SQL
    for changed in (_sql_case(line, str.lower), _sql_case(line, str.upper))
    if "%S" not in changed
)
_FIT_ZIP = "return [c for c, ok in zip(checks, rows[0], strict=True) if not ok]"
EQUIVALENT += tuple(
    Equivalent(
        "failing",
        _FIT_ZIP,
        _FIT_ZIP.replace("strict=True", changed),
        "the statement selects one column per check: zip never meets unequal lengths",
    )
    for changed in ("strict=None", "strict=False", "")
)
# rls/erasure (2026-12-01): the blocked delete's SQLSTATE.
EQUIVALENT += (
    Equivalent(
        "delete_user",
        'exc.sqlstate or "23503",',
        'exc.sqlstate or "XX23503XX",',
        "a ForeignKeyViolation or RestrictViolation comes from the server, which always sends its SQLSTATE",
    ),
    Equivalent(
        "delete_user",
        'exc.sqlstate or "23503",',
        'exc.sqlstate and "23503",',
        "on PostgreSQL 15, which the mutation runs use, every error of this branch is 23503 (RESTRICT too);"
        " on 18 a RESTRICT key says 23001 and test_a_key_added_after_the_catalog_read_fails_the_delete[RESTRICT]"
        " kills it (./dev test runs every test on 18 as well)",
    ),
)
# rls/matrix (h20, 2026-12-01): a foreign key's columns zipped with the columns they reference, and each
# caller's fingerprints before and after (read_as: one per caller read); SQL of keywords, system columns, type
# and function names only, in another letter case (a placeholder %s upper-cased is no such mutant: killed).
_MATRIX_SAME_LENGTH = "a foreign key references as many columns as it has"
EQUIVALENT += (
    *_zip_of_equal_lengths(
        "attach_variants",
        "for column, ref_column in zip(fk.columns, fk.ref_columns, strict=True):",
        _MATRIX_SAME_LENGTH,
    ),
    *_zip_of_equal_lengths(
        "move_assignments",
        "return {c: parent_b.values[rc] for c, rc in zip(fk.columns, fk.ref_columns, strict=True)}",
        _MATRIX_SAME_LENGTH,
    ),
    *_zip_of_equal_lengths(
        "probe_views",
        "for label, seen, now in zip(reading, before, after, strict=True):",
        "read_as gives one fingerprint per caller of reading, before and after the change: as many as reading",
    ),
)
_MATRIX_TID_PAIR = 'sql.SQL("({}, {}::tid)").format(sql.Literal(oid), sql.Literal(ctid)) for oid, ctid in versions'
_MATRIX_SQL = (
    ("savepoint", 'self.cur.execute(sql.SQL("SAVEPOINT {}").format(name))'),
    ("savepoint", 'self.cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(name))'),
    ("seeding", 'self.cur.execute(sql.SQL("SAVEPOINT {}").format(name))'),
    ("seeding", 'self.cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {}").format(name))'),
    ("seeding", 'self.cur.execute(sql.SQL("RELEASE SAVEPOINT {}").format(name))'),
    ("visible", 'counts.append(sql.SQL("count(*) FILTER (WHERE {})").format(condition))'),
    ("visible", 'statement = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(counts), ident(self.name))'),
    ("insert", 'statement = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format('),
    ("insert_as", 'self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition), params)'),
    ("update", 'statement = sql.SQL("UPDATE {} SET {}").format(ident(self.name), sets)'),
    ("update", 'statement += sql.SQL(" WHERE {}").format(condition)'),
    (
        "touch",
        'statement = sql.SQL("UPDATE {} SET {} = {} WHERE {}").format(ident(self.name), column, column, condition)',
    ),
    ("delete", 'return self.attempt(sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition), values)'),
    ("versions", 'statement = sql.SQL("SELECT tableoid::text, ctid::text FROM {} WHERE {}").format('),
    ("versions", 'ident(self.name), sql.SQL(" OR ").join(parts)'),
    ("where", 'return sql.SQL(" AND ").join(parts), [row.values[c] for c in self.key_columns]'),
    ("where", 'return sql.SQL("tableoid = %s::oid AND ctid = %s::tid"), [row.tableoid, row.ctid]'),
    ("changed_by_current", _MATRIX_TID_PAIR),
    ("changed_by_current", 'before = sql.SQL("SAVEPOINT {}; ").format(point)'),
    ("changed_by_current", 'back = sql.SQL("ROLLBACK TO SAVEPOINT {}; ").format(point)'),
    ("changed_by_current", 'self.cur.execute(back + sql.SQL("RELEASE SAVEPOINT {}").format(point))'),
    ("remove_children", 'of_child = sql.SQL("({}) IN (SELECT {} FROM {} WHERE {})").format('),
    ("remove_children", 'self.cur.execute(sql.SQL("DELETE FROM {} WHERE {}").format(ident(child.name), of_child))'),
    ("probe_views", 'undo = sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(point)'),
    ("change_of_b", 'return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format('),
    ("change_of_b", 'return sql.SQL("DELETE FROM {} WHERE {}").format(ident(self.name), condition)'),
    (
        "unfiltered",
        'update = sql.SQL("UPDATE {} SET {} = {}").format(ident(self.name), sql.Identifier(self.plain_column), value)',
    ),
    ("unfiltered", 'return [update, sql.SQL("DELETE FROM {}").format(ident(self.name))]'),
    ("_rows_condition", 'return sql.SQL("false")'),
    ("_rows_condition", _MATRIX_TID_PAIR),
    ("_rows_condition", 'return sql.SQL("(tableoid::text, ctid) IN ({})").format(pairs)'),
    ("_probe_never_set", 'cur.execute(sql.SQL("SAVEPOINT {}").format(outer))'),
    ("_probe_never_set", 'cur.execute(sql.SQL("ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}").format(outer))'),
    ("leftovers", 'sql.SQL("SELECT count(*) FROM {} WHERE {}").format(ident(row.table), condition),'),
)
EQUIVALENT += tuple(
    Equivalent(
        function,
        line,
        changed,
        "the same SQL: keywords, system columns (tableoid, ctid), type and function names are read in any case",
    )
    for function, line in _MATRIX_SQL
    for changed in (_sql_case(line, str.lower), _sql_case(line, str.upper))
    if "%S" not in changed and changed != line
)
# rls/matrix (h20-matrix-a, 2026-12-01): as_member's UPDATE of the membership row in another letter case.
EQUIVALENT += tuple(
    Equivalent(
        "as_member",
        line,
        changed,
        "the same SQL: keywords are read in any case (the upper-cased line's %S is no such mutant: killed)",
    )
    for line in ('statement = sql.SQL("UPDATE {} SET {} = %s WHERE {} = %s AND {} = %s").format(',)
    for changed in (_sql_case(line, str.lower), _sql_case(line, str.upper))
    if "%S" not in changed and changed != line
)
_MATRIX_SEEDED = (
    "seeder.row remembers the row it returns under (table, principal's label) before run reads the rows: the key"
    " is always there and the default never used"
)
EQUIVALENT += tuple(
    Equivalent("run", line, line.replace(f", [row_{who}]))", changed), _MATRIX_SEEDED)
    for who in ("a", "b")
    for line in (f"rows_{who} = list(self.seeder.rows.get((self.name, {who}.label), [row_{who}]))",)
    for changed in (", None))", ", ))")
)
# rls/matrix, the functions from probe_own on (h20-matrix-b): SQL in another letter case (has_table_privilege
# reads its privilege in any case too), a random savepoint name of another length, a flag only read as true
# or false, orders nobody reads, psycopg's identifier text without a connection, defaults that cannot matter.
_MATRIX_B_SQL = (
    ("_probe_never_set", 'cur.execute("SELECT current_setting(%s, true) IS NULL", [impersonation.auth.setting])'),
    ("change_of_b", 'condition = sql.SQL(" AND ").join('),
    ("probe_views", 'self.batch([sql.SQL("SAVEPOINT {}").format(point), *reads]), list(reading.values())'),
    (
        "check_seed_role",
        'cur.execute("SELECT current_user::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")',
    ),
    ("view_readers", "\"SELECT v, array_agg(r) FILTER (WHERE has_table_privilege(r, v::regclass, 'SELECT'))\""),
    ("view_readers", '" FROM unnest(%s::text[]) AS v, unnest(%s::text[]) AS r"'),
    ("view_readers", '" WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) GROUP BY v",'),
)
EQUIVALENT += tuple(
    Equivalent(
        function,
        line,
        changed,
        "the same SQL: keywords, function, type and column names and has_table_privilege's privilege are read in"
        " any case (unquoted names fold to lower case)",
    )
    for function, line in _MATRIX_B_SQL
    for changed in (_sql_case(line, str.lower), _sql_case(line, str.upper))
    if "%S" not in changed and changed != line
)
_MATRIX_OUTER = 'outer, state = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}"), seeder.checkpoint()'
_MATRIX_VIEWS = "views = sorted({v.name for found in self.views_reading.values() for v in found}, key=str)"
_MATRIX_SEQUENCES = 'if column.identity is not None or "nextval(" in (column.default or ""):'
EQUIVALENT += (
    *(
        Equivalent(
            "_probe_never_set",
            _MATRIX_OUTER,
            _MATRIX_OUTER.replace("token_hex(4)", changed),
            "the outer savepoint's name is random: 10 or 64 hex digits name it as well (PostgreSQL truncates a"
            " 75-character name to 63 the same way in SAVEPOINT and in ROLLBACK TO; the other savepoints, 8 hex"
            " digits, are other names)",
        )
        for changed in ("token_hex(None)", "token_hex(5)")
    ),
    Equivalent(
        "_probe_never_set",
        "impersonation.untouched = False",
        "impersonation.untouched = None",
        "untouched is only read as a condition (SettingImpersonation.seeding_settings: if self.untouched), where"
        " None is false as False is",
    ),
    *(
        Equivalent(
            "view_readers",
            _MATRIX_VIEWS,
            _MATRIX_VIEWS.replace(", key=str)", changed),
            "the order only lays out the array the query unnests; the answer is a dict keyed by view name (and"
            " QualifiedName, a tuple, sorts without a key)",
        )
        for changed in (", key=None)", ", )")
    ),
    *(
        Equivalent(
            "view_readers",
            line,
            line.replace("as_string(self.cur)", "as_string(None)"),
            "psycopg writes an identifier without a connection as libpq's PQescapeIdentifier does with one (in"
            " double quotes, a quote doubled) and decodes the text back: the same string for a name read from"
            " the catalog through this connection",
        )
        for line in (
            "[[sql.Identifier(n.schema, n.name).as_string(self.cur) for n in views], sorted(roles)],",
            "by_text = {sql.Identifier(n.schema, n.name).as_string(self.cur): n for n in views}",
        )
    ),
    Equivalent(
        "view_leak",
        'role = self.acting_role or ""',
        'role = self.acting_role or "XXXX"',
        "become() just set acting_role to the role check_role found current_user to be (it raises otherwise):"
        " a role name is never empty, so the default is never taken",
    ),
    Equivalent(
        "sequence_columns",
        _MATRIX_SEQUENCES,
        _MATRIX_SEQUENCES.replace('or "")', 'or "XXXX")'),
        'neither "" nor "XXXX" holds "nextval(": a column without a default draws from no sequence either way',
    ),
    # s22-matrix-b
    Equivalent(
        "probe_user",
        'self.probe_unfiltered(False, row_a, "user B", rows_b, before_b)',
        'self.probe_unfiltered(None, row_a, "user B", rows_b, before_b)',
        "probe_unfiltered reads 'anonymous' only as a condition (the actor's name and the role to switch back"
        " to: ... if anonymous else ...), where None is false as False is",
    ),
)
# rls/matrix, probe_user (s22-matrix-a): the default reason of an INSERT of B's row that failed.
_MATRIX_INSERT_REFUSED = (
    'self.write_refused("insert", f"insert a row owned by user B into {t}", result.error or "refused")'
)
EQUIVALENT += tuple(
    Equivalent(
        "probe_user",
        _MATRIX_INSERT_REFUSED,
        _MATRIX_INSERT_REFUSED.replace('or "refused")', f'or "{changed}")'),
        "a failed Attempt's error is the text of the psycopg error that made it fail, never empty: psycopg"
        " writes 'no error details available' for an empty libpq message, PostgreSQL 'missing error text' for"
        " a report without one, and its own errors have text; so the default is never taken",
    )
    for changed in ("XXrefusedXX", "REFUSED")
)
# rls/matrix, probe_own (s22-matrix-c): the hint of a refused own INSERT, before a duplicate key sets one.
EQUIVALENT += (
    Equivalent(
        "probe_own",
        'hint = ""',
        "hint = None",
        'hint is read once, as the condition of (f"; {hint}" if hint else ""), where None is false as "" is;'
        " a unique violation replaces it with duplicate_hint's string before that",
    ),
)
# rls/matrix, probe_views (s22-matrix-d): the early return is a shortcut. Past it, with 'read: anon' every view
# is opened to everyone (max by WIDER with "anon", the widest), so no caller is kept out and each is skipped
# before any statement; a table no view reads has no view to loop over. What runs before the loop only builds
# values (the callers' role and settings, B's seeding settings, the SQL of B's change), already built without
# error for the same principals and row elsewhere in the run.
_MATRIX_VIEWS_SHORTCUT = 'if not self.views or self.readers == "anon":'
_MATRIX_VIEWS_WHY = (
    "the early return only saves work: past it, with readers 'anon' every view's 'opened' is 'anon' (the widest"
    " in WIDER), so neither A nor the anonymous caller is kept out and each view is skipped (continue) before"
    " any statement runs; with no views the loop is empty; what runs before the loop (switch, switch_anonymous,"
    " seeding_settings, change_of_b) builds values only, no statement, and raises nothing it would not raise"
    " elsewhere in the same run"
)
EQUIVALENT += (
    Equivalent(
        "probe_views",
        _MATRIX_VIEWS_SHORTCUT,
        'if not self.views and self.readers == "anon":',
        _MATRIX_VIEWS_WHY,
    ),
    Equivalent(
        "probe_views",
        _MATRIX_VIEWS_SHORTCUT,
        'if not self.views or self.readers == "XXanonXX":',
        _MATRIX_VIEWS_WHY,
    ),
    Equivalent(
        "probe_views",
        _MATRIX_VIEWS_SHORTCUT,
        'if not self.views or self.readers == "ANON":',
        _MATRIX_VIEWS_WHY,
    ),
)
# rls/matrix, probe_views (s22-matrix-e): the name of the savepoint each view's probe undoes, and read_as's flag.
_MATRIX_VIEW_POINT = 'point = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}")'
_MATRIX_VIEW_READS = "after = self.read_as(rows, [as_seeder_b, *reading.values()], first_reads=False)"
EQUIVALENT += (
    *(
        Equivalent(
            "probe_views",
            _MATRIX_VIEW_POINT,
            _MATRIX_VIEW_POINT.replace("token_hex(4)", changed),
            "the savepoint's name only has to be the same in its SAVEPOINT and in the undo (ROLLBACK TO, RELEASE),"
            " which use the same Identifier: 10 or 64 hex digits name it as well (PostgreSQL truncates the"
            " 75-character name to 63 bytes the same way in each statement; its NOTICE is dropped, no notice"
            " handler is added). No other savepoint is made between the two (the batches only switch roles, change"
            " B's row and read views), and a same-named older one could not be hit: PostgreSQL keeps both and"
            " ROLLBACK TO and RELEASE take the most recent",
        )
        for changed in ("token_hex(None)", "token_hex(5)")
    ),
    Equivalent(
        "probe_views",
        _MATRIX_VIEW_READS,
        _MATRIX_VIEW_READS.replace("first_reads=False", "first_reads=None"),
        "read_as reads first_reads only as a condition (if n or first_reads), where None is false as False is",
    ),
)
# rls/matrix, __init__, _plain_column, use_principal, probe_anonymous (s23-matrix-d): a role read only as true or
# false, a None among column names, a principal name that is never None, the default of a never-empty reason.
_MATRIX_PLAIN_OWNER = "fixed.update([self.isolation.owner] if self.isolation.owner else [])"
_MATRIX_WRITES = "self.writes = set(self.isolation.write.get(name, ())) if name is not None else set()"
EQUIVALENT += (
    Equivalent(
        "__init__",
        "self.acting_role: str | None = None",
        'self.acting_role: str | None = ""',
        "acting_role is read only as a condition (fail: roles and as_role ... if role else ...) or with a default"
        ' (view_leak: self.acting_role or ""), where "" is false as None is and gives the same ""',
    ),
    Equivalent(
        "_plain_column",
        _MATRIX_PLAIN_OWNER,
        _MATRIX_PLAIN_OWNER.replace("if self.isolation.owner else", "if (self.isolation.owner) or True else"),
        "without an owner column it puts None into fixed, which is only asked whether a column name (a str) is in"
        " it: None is no column's name, so the plain column is the same",
    ),
    Equivalent(
        "use_principal",
        _MATRIX_WRITES,
        _MATRIX_WRITES.replace("if name is not None else", "if (name is not None) or True else"),
        "isolation.write is keyed by Identifier (a str of 1 to 63 characters, a YAML null key is refused), so"
        " write.get(None, ()) is () and set(()) is the same empty set",
    ),
    *(
        Equivalent(
            "probe_anonymous",
            'reason or "refused",',
            f'reason or "{changed}",',
            "reason is '0 rows' or the text of the psycopg error that made the anonymous SELECT fail, never empty:"
            " psycopg writes 'no error details available' for an empty libpq message, and an empty message raised"
            " in a policy (RAISE EXCEPTION '') still comes with its CONTEXT line (tried: 'CONTEXT: PL/pgSQL"
            " function hush() line 1 at RAISE'); so the default is never taken",
        )
        for changed in ("XXrefusedXX", "REFUSED")
    ),
)
# rls/matrix, changed_by_current and protected_values (s23-matrix-c): the count's SQL in another letter case,
# the random name of its savepoint, a guard against a result that is always there, and a type name never read.
_MATRIX_COUNT_SQL = (
    "\"SELECT set_config('role', {}, true); SELECT current_user::text, count(*) FROM {} \"",
    '"WHERE ctid = ANY (ARRAY[{}]::tid[]) AND (tableoid::text, ctid) IN ({})"',
)
_MATRIX_COUNT_POINT = 'point = sql.Identifier(f"pgcontract_{secrets.token_hex(4)}")'
_MATRIX_ACTUAL = "actual = fetched[0] if fetched else None"
_MATRIX_BOOLEAN = 'options += ["true", "false"] if declared.type in ("boolean", "bool") else []'
EQUIVALENT += (
    *(
        Equivalent(
            "changed_by_current",
            line,
            changed,
            "the same SQL: keywords, function, type and column names (ctid, tableoid) are read in any case, unquoted"
            " names fold to lower case, and set_config finds a setting by its name in any case ('ROLE' is 'role')",
        )
        for line in _MATRIX_COUNT_SQL
        for changed in (line.lower(), line.upper())
    ),
    *(
        Equivalent(
            "changed_by_current",
            _MATRIX_COUNT_POINT,
            _MATRIX_COUNT_POINT.replace("token_hex(4)", changed),
            "the savepoint's name only has to be the same in its SAVEPOINT and in the undo (ROLLBACK TO, RELEASE),"
            " which use the same Identifier: 10 or 64 hex digits name it as well (PostgreSQL truncates the"
            " 75-character name to 63 bytes the same way in each statement; its NOTICE is dropped, no notice"
            " handler is added). Only the caller's statement runs between them, and a same-named older savepoint"
            " could not be hit: ROLLBACK TO and RELEASE take the most recent",
        )
        for changed in ("token_hex(None)", "token_hex(5)")
    ),
    Equivalent(
        "changed_by_current",
        _MATRIX_ACTUAL,
        "actual = fetched[0] if (fetched) or True else None",
        "fetched is never None: the count's second statement is an aggregate without GROUP BY, which returns"
        " exactly one row (a failure raises in execute), so fetched[0] is read either way",
    ),
    *(
        Equivalent(
            "protected_values",
            _MATRIX_BOOLEAN,
            _MATRIX_BOOLEAN.replace('"bool")', f'"{changed}")'),
            "a column's type is never 'bool': the snapshot reads it with format_type under search_path pg_catalog,"
            " which spells the built-in type 'boolean' and qualifies every other type (public.bool), so only"
            " 'boolean' ever matches",
        )
        for changed in ("XXboolXX", "BOOL")
    ),
)
# rls/matrix, leftovers, IsolationSession.__init__ and _begin (s23-matrix-b): SQL in another letter case, the
# seeding role's placeholder before the transaction begins, psycopg's autocommit setter, a test the constructor
# already made.
_MATRIX_LEFT_CONDITION = (
    'condition = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in pk[0].columns)'
)
_MATRIX_SEEDER_ROLE = 'self.seeder_role = ""  # set when the transaction begins'
_MATRIX_SEED_ROLE = "seed_role = self.contract.auth.seed_role if self.contract.auth is not None else None"
EQUIVALENT += (
    Equivalent(
        "leftovers",
        _MATRIX_LEFT_CONDITION,
        _sql_case(_MATRIX_LEFT_CONDITION, str.lower),
        "the same SQL: AND is a keyword, read in any case",
    ),
    *(
        Equivalent(
            "__init__",
            _MATRIX_SEEDER_ROLE,
            _MATRIX_SEEDER_ROLE.replace('= ""', changed),
            "a placeholder never read: _begin sets seeder_role (check_seed_role's answer) before anything reads it;"
            " its readers (Matrix.__init__, ErasureProof.as_seeder) read session.cur first, which runs _begin",
        )
        for changed in ("= None", '= "XXXX"')
    ),
    Equivalent(
        "_begin",
        "conn.autocommit = False",
        "conn.autocommit = None",
        "psycopg's autocommit setter stores bool(value) (_set_autocommit_gen): None is False there",
    ),
    Equivalent(
        "_begin",
        _MATRIX_SEED_ROLE,
        _MATRIX_SEED_ROLE.replace("if self.contract.auth is not None", "if (self.contract.auth is not None) or True"),
        "the test is always true here: __init__ raised SeedError for a contract without auth, and neither the"
        " contract (a frozen pydantic model) nor session.contract is ever replaced",
    ),
)
RESULT_LINE = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


def workdir(name: str) -> Path:
    return WORK / name.replace("/", ".")  # a slice (checks/columns) beside its whole module (checks)


def existing_tests(module: Module) -> list[str]:
    # Another branch may add a test file named here before this one has it: skip what is not there yet.
    return [t for t in module.tests if (ROOT / t).exists()]


def mutant_function(name: str) -> str:
    """``pgcontract.connect.x_redact_text__mutmut_3`` -> ``redact_text``; methods keep their class."""
    last = name.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    # Only the leading x of ``xǁClass``: a class whose name ends in x (Matrix) keeps its letter.
    return last.removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".")


def counts(module: Module, name: str) -> bool:
    function = mutant_function(name)
    return any(fnmatch.fnmatch(function, f) or fnmatch.fnmatch(function.split(".")[-1], f) for f in module.functions)


def prepare(name: str, module: Module, restore: bool = True) -> Path:
    work = workdir(name)
    work.mkdir(parents=True, exist_ok=True)
    link_checkout(work)
    lines = [
        "[mutmut]",
        "source_paths = src",
        "only_mutate =",
        *(f"    src/{f}" for f in module.files),
        "pytest_add_cli_args_test_selection =",
        *(f"    {t}" for t in existing_tests(module)),
        # Each pytest run (mutmut forks one per mutant, two at a time) gets a base temp of its own: pytest
        # empties a shared one at start, under the other run's PostgreSQL.
        "pytest_add_cli_args =",
        "    -p",
        "    bench.mutate_plugin",
        "also_copy =",
        *(f"    {entry}" for entry in ALSO_COPY),
        "",
    ]
    (work / "setup.cfg").write_text("\n".join(lines), encoding="utf-8")
    # The CLI tests run ``pgcontract`` in a subprocess: PYTHONPATH makes it import the mutated copy (and
    # MUTANT_UNDER_TEST, inherited, picks the same mutant). The directory must exist before Python starts,
    # or the import system remembers it as missing.
    (work / "mutants" / "src").mkdir(parents=True, exist_ok=True)
    # The results saved in the repository (bench/mutation-results/) where this directory has none.
    if restore and (restored := mutate_results.restore(name, work / "mutants" / "src")):
        print(f"[mutate] {name}: {restored} verdicts restored from {mutate_results.saved_file(name).name}")
    sync_data_files(work / "mutants" / "src")
    forget_stale_map(work, module)
    return work


def forget_stale_map(work: Path, module: Module) -> None:
    """mutmut maps tests to functions again only for tests it has not seen: a function added or split since
    (``candidates`` calling a new ``_candidates``) keeps the old tests unmapped, and its mutants run against
    the new tests alone ("no tests", or false survivors). A source file newer than the map drops the map."""
    stats = work / "mutants" / "mutmut-stats.json"
    if not stats.exists():
        return
    mapped = stats.stat().st_mtime
    changed = [path for f in module.files for path in (ROOT / "src").glob(f) if path.stat().st_mtime > mapped]
    if changed:
        print(f"[mutate] {', '.join(p.name for p in changed)} changed since mutmut mapped the tests: mapping again")
        stats.unlink()


def link_checkout(work: Path) -> None:
    """Links to this checkout (a work directory copied from another checkout is used without its links)."""
    for entry in ("src", "pyproject.toml", *ALSO_COPY):
        link = work / entry
        if not link.is_symlink() and (ROOT / entry).exists():
            link.symlink_to(ROOT / entry)


def sync_data_files(copy: Path) -> None:
    """mutmut copies the package's other files (SQL queries, templates) only when they are missing, and
    re-copies or re-mutates only ``.py`` files: bring the others up to date with the checkout."""
    source = ROOT / "src"
    for path in source.rglob("*"):
        if path.is_file() and path.suffix != ".py" and "__pycache__" not in path.parts:
            target = copy / path.relative_to(source)
            if not target.exists() or target.read_bytes() != path.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def run(name: str, module: Module, workers: int, servers: Path | None, restore: bool = True) -> float:
    work = prepare(name, module, restore)
    env = dict(os.environ, PYTHONPATH=str(work / "mutants" / "src"))
    env[KILLERS] = str(work / "killers.tsv")  # which test killed which function's mutants: killers run first
    if servers is not None:
        env[SERVERS] = str(servers)
    mutmut = Path(sys.executable).parent / "mutmut"
    # Known results stand while the function is unchanged (mutmut forgets those of a changed function);
    # what was not killed is tested again, with the tests as they are now.
    earlier = {m: s for m, s in results(name).items() if counts(module, m)}
    again = sorted(m for m, s in earlier.items() if s not in KILLED)
    # A survivor listed as equivalent keeps its result: testing it again (every test that reaches its function,
    # a minute or more each) could only show that it still survives (--fresh tests it again).
    again = [m for m in again if earlier[m] == "not checked" or equivalent(m, *change(name, m)) is None]
    if earlier and not again:
        print(
            f"[mutate] {name}: every mutant already killed or known equivalent (--fresh to test them all again)",
            file=sys.stderr,
        )
        save(name)
        return 0.0
    # Never name single mutants: mutmut then tests only those, and whatever it forgot meanwhile (all of a
    # slice's results when its test files change) stays "not checked", killed mutants shown as not run.
    # The survivors are forgotten here instead, and mutmut tests every mutant without a result.
    forget(work, module, again)
    started = time.monotonic()
    done = subprocess.run(
        [str(mutmut), "run", "--max-children", str(workers), *names(module)], cwd=work, env=env, check=False
    )
    if done.returncode != 0:
        print(f"[mutate] {name}: mutmut exited {done.returncode}", file=sys.stderr)
    save(name)
    return time.monotonic() - started


def save(name: str) -> None:
    """This slice's verdicts, and the change of each mutant not killed, into bench/mutation-results/."""
    statuses = results(name)
    changes = {m: change(name, m) for m, s in statuses.items() if s not in KILLED and s != "not checked"}
    saved = mutate_results.save(name, ROOT / "src", workdir(name) / "mutants" / "src", changes)
    if saved is not None:
        print(f"[mutate] {name}: results saved in {saved.relative_to(ROOT)}", file=sys.stderr)


def forget(work: Path, module: Module, mutants: list[str]) -> None:
    """Drop mutmut's results of these mutants (in its ``.meta`` files), so its next run tests them again."""
    chosen = set(mutants)
    for file in module.files:
        meta = work / "mutants" / "src" / f"{file}.meta"
        if not meta.exists():
            continue
        data = json.loads(meta.read_text(encoding="utf-8"))
        codes: dict[str, int | None] = data["exit_code_by_key"]
        dropped = {key: None for key in codes if key in chosen}
        if dropped:
            codes.update(dropped)
            meta.write_text(json.dumps(data, indent=4), encoding="utf-8")


def names(module: Module) -> list[str]:
    """mutmut's names of the module's mutants when only some functions count; none (every mutant of the
    files, earlier results kept) otherwise. Named mutants are re-tested on every run."""
    if module.functions == ("*",):
        return []
    return [
        f"{file.removesuffix('.py').replace('/', '.')}.x_{function}__mutmut_*"
        for file in module.files
        for function in module.functions
    ]


def results(name: str) -> dict[str, str]:
    work = workdir(name)
    if not (work / "mutants").is_dir():
        if mutate_results.load(name) is None or name not in MODULES:
            return {}  # never run here, nothing saved
        prepare(name, MODULES[name])  # the saved verdicts, for mutmut to read
    link_checkout(work)
    mutmut = Path(sys.executable).parent / "mutmut"
    done = subprocess.run(
        [str(mutmut), "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=False
    )
    found = {}
    for line in done.stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            found[match["name"]] = match["status"].strip()
    return found


def change(name: str, mutant: str) -> tuple[str, str]:
    """The mutant's line before and after (stripped), from ``mutmut show``."""
    mutmut = Path(sys.executable).parent / "mutmut"
    shown = subprocess.run(
        [str(mutmut), "show", mutant], cwd=workdir(name), capture_output=True, text=True, check=False
    )
    lines = [ln for ln in shown.stdout.splitlines() if ln[:1] in "-+" and ln[:3] not in ("---", "+++")]
    before = " ".join(ln[1:].strip() for ln in lines if ln.startswith("-"))
    after = " ".join(ln[1:].strip() for ln in lines if ln.startswith("+"))
    if not lines and (saved := mutate_results.saved_change(name, mutant)) is not None:
        return saved  # no mutated copy here yet (results restored, no run since): the change as saved
    return before, after


def equivalent(mutant: str, before: str, after: str) -> Equivalent | None:
    function = mutant_function(mutant).split(".")[-1]
    return next(
        (
            e
            for e in EQUIVALENT
            if e.function == function
            and e.before == before
            and e.after == after
            and (e.module is None or mutant.startswith(f"pgcontract.{e.module}."))
        ),
        None,
    )


@dataclass(frozen=True)
class Tally:
    """One module's figures: killed of those counted (equivalents left out), and the mutants not run."""

    killed: int
    counted: int
    unchecked: int
    stale: bool = False  # saved verdicts of a source changed since, not run again here

    @property
    def ok(self) -> bool:
        return bool(self.counted) and self.killed / self.counted >= GOAL and not self.unchecked and not self.stale


def report(name: str, module: Module, elapsed: float | None, show_diffs: bool) -> Tally:
    if (slices := [m for m in MODULES if m.startswith(f"{name}/")]) and not results(name):
        return report_slices(name, slices, show_diffs)
    statuses = {m: s for m, s in results(name).items() if counts(module, m)}
    killed = sum(1 for s in statuses.values() if s in KILLED)
    unchecked = sum(1 for s in statuses.values() if s == "not checked")
    survivors = sorted(m for m, s in statuses.items() if s not in KILLED and s != "not checked")
    changes = {m: change(name, m) for m in survivors}
    same = {m: e for m in survivors if (e := equivalent(m, *changes[m])) is not None}
    total = len(statuses) - unchecked
    counted = total - len(same)
    score = killed / counted if counted else 0.0
    took = f", {elapsed / 60:.1f} min" if elapsed is not None else ""
    stale = stale_files(name, module)
    verdict = "OK" if counted and score >= GOAL and not unchecked else "BELOW GOAL" if counted else "NOT RUN"
    verdict = "STALE" if stale and counted else verdict
    print(
        f"{name}: {killed}/{counted} killed = {score:.1%} ({verdict}{took}); "
        f"{len(same)} equivalent left out, {killed}/{total} = {killed / total if total else 0:.1%} counting them"
        + (f"; {unchecked} not run yet" if unchecked else "")
        + (f"; saved results of {', '.join(stale)} as it was before a change: run it again" if stale else "")
    )
    for mutant in survivors:
        known = same.get(mutant)
        print(f"  {'equivalent' if known else statuses[mutant]}: {mutant}" + (f" ({known.why})" if known else ""))
        if show_diffs and not known:
            before, after = changes[mutant]
            print(f"      - {before}\n      + {after}")
    return Tally(killed, counted, unchecked, bool(stale))


def stale_files(name: str, module: Module) -> list[str]:
    """Source files whose verdicts here are the saved ones (no mutated copy: not run since the checkout) and
    which changed after they were saved."""
    mutated = workdir(name) / "mutants" / "src"
    changed = mutate_results.changed_since(name, ROOT / "src")
    return [f for f in changed if counts_file(module, f) and not (mutated / f).exists()]


def counts_file(module: Module, file: str) -> bool:
    return any(fnmatch.fnmatch(file, pattern) for pattern in module.files)


def report_slices(name: str, slices: list[str], show_diffs: bool) -> Tally:
    """A whole module never run as one (``checks``, ``rls``): its slices' figures, and their sum. The score
    per module of the goal is the sum's; a slice not run leaves the module short of it."""
    tallies = {s: report(s, MODULES[s], None, show_diffs) for s in slices}
    missing = [s for s, t in tallies.items() if not t.counted]
    killed = sum(t.killed for t in tallies.values())
    counted = sum(t.counted for t in tallies.values())
    unchecked = sum(t.unchecked for t in tallies.values())
    total = Tally(killed, counted, unchecked + len(missing), any(t.stale for t in tallies.values()))
    score = killed / counted if counted else 0.0
    verdict = "OK" if total.ok else "BELOW GOAL" if counted else "NOT RUN"
    below = [s for s, t in tallies.items() if t.counted and not t.ok]
    print(
        f"{name} (sum of its {len(slices)} slices): {killed}/{counted} killed = {score:.1%} ({verdict})"
        + (f"; {unchecked} mutants not run yet" if unchecked else "")
        + (f"; slices never run: {', '.join(missing)}" if missing else "")
        + (f"; slices below the goal: {', '.join(below)}" if below else "")
    )
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULES)}")
    parser.add_argument("--list", action="store_true", help="show the modules and their tests, run nothing")
    parser.add_argument("--report", action="store_true", help="print the last results, run nothing")
    parser.add_argument("--workers", type=int, default=2, help="mutants tested at once (default 2: two cores)")
    parser.add_argument("--no-diffs", action="store_true", help="list surviving mutants without their diffs")
    parser.add_argument(
        "--fresh", action="store_true", help="forget earlier results of these modules (saved ones included)"
    )
    parser.add_argument(
        "--save", action="store_true", help="save the results so far in bench/mutation-results/, run nothing"
    )
    parser.add_argument(
        "--own-servers", action="store_true", help="each mutant's tests start their own PostgreSQL (slower)"
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    chosen = args.modules or [m for m in MODULES if "/" not in m]  # whole modules; slices by name
    if args.list:
        chosen = args.modules or list(MODULES)
        for package in ("checks", "rls"):
            for source in sorted((ROOT / "src" / "pgcontract" / package).glob("*.py")):
                if f"{package}/{source.stem}" not in MODULES:
                    print(f"(no slice for src/pgcontract/{package}/{source.name}: add it to {package.upper()}_SLICES)")
        for name in chosen:
            module = MODULES[name]
            print(f"{name}: {', '.join(module.files)} [{', '.join(module.functions)}]")
            for test in module.tests:
                print(f"    {test}{'' if (ROOT / test).exists() else ' (missing)'}")
        return 0
    if shutil.which("mutmut", path=str(Path(sys.executable).parent)) is None:
        print("mutmut is missing: ./dev test installs the dev extras (or pip install 'mutmut>=3.8')", file=sys.stderr)
        return 2
    if args.save:
        for name in chosen:
            save(name)
        return 0
    elapsed: dict[str, float] = {}
    # One server per worker for every module chosen: started once here, not once per mutant.
    keeping = kept_servers(args.workers) if not args.report and not args.own_servers else nullcontext(None)
    with keeping as servers:
        for name in chosen:
            if args.fresh:
                shutil.rmtree(workdir(name), ignore_errors=True)
            if not args.report:
                elapsed[name] = run(name, MODULES[name], args.workers, servers, restore=not args.fresh)
    print(f"\nmutation scores ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, goal {GOAL:.0%} killed per module)")
    ok = [report(name, MODULES[name], elapsed.get(name), not args.no_diffs).ok for name in chosen]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
