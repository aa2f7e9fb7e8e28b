"""Repair: the SQL that brings a drifted database back to its contract, computed from the findings.

Every finding carries its fix; the plan takes the fixes as they are and only sorts, deduplicates and
sets aside:

- a fix is *held back* (printed commented out, under a WARNING saying why) when it declares a hazard
  (``data-loss``, ``long-lock``, ``manual``), when its findings are only warnings, or when one of its
  statements is not on the list of statements repair runs. That list is checked on PostgreSQL's own parse
  of each statement, independently of the checks: no DROP TABLE, DROP COLUMN, DROP TYPE, ALTER COLUMN ...
  TYPE, SET NOT NULL, TRUNCATE, DELETE, UPDATE, RENAME or CASCADE is ever run, whatever a fix says;
- a fix is also held back when it makes PostgreSQL evaluate a CHECK on the existing rows (a CHECK added
  without NOT VALID, or validated) whose expression calls a function the database marks VOLATILE, or one
  it does not know: PostgreSQL expects CHECK expressions to be immutable, and a volatile function's effects
  (a sequence moved by ``setval``/``nextval``, an advisory lock, a write through ``dblink``) are not undone
  when the transaction rolls back, so "rolled back, nothing changed" could not be promised;
- the other fixes are split into statements, each statement kept once (several findings on one index or
  policy share one re-create), and ordered by phase (``ddl.Phase``: tables before their columns, columns
  before the indexes and policies that use them, ...), in finding order within a phase.

Applied, the statements run in one transaction with ``lock_timeout`` and ``statement_timeout`` set for
that transaction, each fix under a savepoint: a fix PostgreSQL refuses is rolled back alone and reported,
the others apply. A lost connection rolls everything back. A lock wait or a timeout is not a failed repair:
the transaction is rolled back and tried again (``pgcontract.busy``), then given up as ``DatabaseBusy``,
nothing changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from pglast import parser
from psycopg import sql

from pgcontract.busy import BUSY_ERRORS, Blocked, read_catalog, relations_of, retry_busy
from pgcontract.checks import run_checks
from pgcontract.connect import SessionLimits, apply_limits, read_only
from pgcontract.contract.model import Contract
from pgcontract.ddl import Phase, with_sections
from pgcontract.depgraph import node_of, order, unchecked_body
from pgcontract.findings import Finding, FindingIndex, Level
from pgcontract.names import visible, visible_lines
from pgcontract.sqlgen import render
from pgcontract.sqlsafe import GeneratedSqlError, Intended, parsed, shown_sql, verify

Conn = psycopg.Connection[Any]
FunctionName = tuple[str | None, str]  # (schema, or None when unqualified; name)
# The functions among those given that the database marks VOLATILE (or does not know).
VolatileOf = Callable[[Collection[FunctionName]], set[FunctionName]]


class NotRunnable(ValueError):
    """A statement repair does not run (it is not on the list of safe statement kinds)."""


@dataclass
class Statement:
    phase: Phase
    sql: str
    serves: list[str]  # ids of the findings it fixes


@dataclass(frozen=True)
class Held:
    """A fix repair does not run: printed commented out, under a warning saying why."""

    sql: str
    reason: str
    serves: tuple[str, ...]


@dataclass
class RepairPlan:
    statements: list[Statement] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    unfixable: list[Finding] = field(default_factory=list)


# What repair may run, and in which phase. None: the phase of the statement before it in the same fix
# (VALIDATE after its ADD, setval after its identity), or of the one after it (a DROP CONSTRAINT before
# the ADD that replaces it).
_STATEMENT_PHASE = {
    "CreateSchemaStmt": Phase.SCHEMAS,
    "CreateEnumStmt": Phase.TYPES,
    "AlterEnumStmt": Phase.TYPES,
    "CreateSeqStmt": Phase.SEQUENCES,
    "CompositeTypeStmt": Phase.DOMAINS,
    "CreateStmt": Phase.TABLES,
    "IndexStmt": Phase.INDEXES,
    "CreatePolicyStmt": Phase.POLICIES,
    "GrantStmt": Phase.GRANTS,
    "CreateFunctionStmt": Phase.FUNCTIONS,
    "AlterFunctionStmt": Phase.FUNCTIONS,  # volatility, strictness, SECURITY, SET...: attributes only
    "CreateRoleStmt": Phase.ROLES,
    "AlterRoleStmt": Phase.ROLES,
    "GrantRoleStmt": Phase.ROLES,
    "ViewStmt": Phase.VIEWS,  # CREATE OR REPLACE VIEW: a stored query, no data; PostgreSQL keeps its columns
    "CreateTrigStmt": Phase.TRIGGERS,
    "AlterDefaultPrivilegesStmt": Phase.DEFAULT_PRIVILEGES,  # only what objects created later are granted
    "CreatePublicationStmt": Phase.PUBLICATIONS,
    "AlterPublicationStmt": Phase.PUBLICATIONS,  # ADD/DROP TABLE, SET (publish): no data is touched
}
_ALTER_VIEW = frozenset({"AT_SetRelOptions", "AT_ResetRelOptions"})  # security_invoker, check_option, ...
# DROP AGGREGATE only comes before the CREATE AGGREGATE of the same fix (never CASCADE: refused above).
_DROP_PHASE: dict[str, Phase | None] = {
    "OBJECT_INDEX": Phase.INDEXES,
    "OBJECT_POLICY": Phase.POLICIES,
    "OBJECT_AGGREGATE": None,
}
_ALTER_TABLE_PHASE: dict[str, Phase | None] = {
    "AT_AddColumn": Phase.COLUMNS,
    "AT_ColumnDefault": Phase.COLUMNS,
    "AT_DropNotNull": Phase.COLUMNS,
    "AT_AddIdentity": Phase.COLUMNS,
    "AT_SetIdentity": Phase.COLUMNS,
    "AT_EnableRowSecurity": Phase.RLS,
    "AT_DisableRowSecurity": Phase.RLS,
    "AT_ForceRowSecurity": Phase.RLS,
    "AT_NoForceRowSecurity": Phase.RLS,
    "AT_EnableTrig": Phase.TRIGGERS,
    "AT_DisableTrig": Phase.TRIGGERS,
    "AT_EnableAlwaysTrig": Phase.TRIGGERS,
    "AT_EnableReplicaTrig": Phase.TRIGGERS,
    "AT_ValidateConstraint": None,
    "AT_DropConstraint": None,
    "AT_AlterConstraint": Phase.FOREIGN_KEYS,  # a foreign key's deferrability: the catalog only
    "AT_AddInherit": Phase.CHECKS,  # after the columns and checks that INHERIT requires the child to have
    "AT_DropInherit": Phase.CHECKS,
}
_CONSTRAINT_PHASE = {
    "CONSTR_PRIMARY": Phase.KEYS,
    "CONSTR_UNIQUE": Phase.KEYS,
    "CONSTR_FOREIGN": Phase.FOREIGN_KEYS,
    "CONSTR_CHECK": Phase.CHECKS,
}


def statement_phase(node: dict[str, Any]) -> Phase | None:
    """The phase of one parsed statement that repair may run; ``NotRunnable`` for any other statement."""
    ((kind, body),) = node.items()
    if body.get("behavior") == "DROP_CASCADE":
        raise NotRunnable(f"{kind} with CASCADE")
    if kind in _STATEMENT_PHASE and not (kind == "AlterEnumStmt" and "oldVal" in body):
        return _STATEMENT_PHASE[kind]
    if kind == "DropStmt" and body.get("removeType") in _DROP_PHASE:
        return _DROP_PHASE[body["removeType"]]
    if (
        kind == "AlterTableStmt"
        and body.get("objtype") == "OBJECT_VIEW"
        and all(cmd["AlterTableCmd"]["subtype"] in _ALTER_VIEW for cmd in body["cmds"])
    ):
        return Phase.VIEWS
    if kind == "AlterTableStmt" and body.get("objtype") == "OBJECT_TABLE":
        phases = [_alter_table_phase(cmd["AlterTableCmd"]) for cmd in body["cmds"]]
        return next((p for p in phases if p is not None), None)
    if kind == "SelectStmt" and _only_setval(body):
        return None
    if kind == "AlterSeqStmt":  # options in place (never the current value: no RESTART), or OWNED BY a column
        names = {d["DefElem"]["defname"] for d in body.get("options", [])}
        if "restart" in names:
            raise NotRunnable("ALTER SEQUENCE RESTART")
        return Phase.COLUMNS if "owned_by" in names else Phase.SEQUENCES
    if kind == "DefineStmt" and body.get("kind") == "OBJECT_AGGREGATE":
        return Phase.AGGREGATES
    if kind in ("CreateDomainStmt", "AlterDomainStmt"):
        return _domain_phase(kind, body)
    if kind == "AlterTableStmt" and body.get("objtype") == "OBJECT_TYPE":
        subtypes = {cmd["AlterTableCmd"]["subtype"] for cmd in body["cmds"]}
        if subtypes <= {"AT_AddColumn", "AT_AlterColumnType"}:  # PostgreSQL refuses the latter while columns use it
            return Phase.DOMAINS
    what = str(body.get("removeType", "")).removeprefix("OBJECT_")
    raise NotRunnable(f"{kind.removesuffix('Stmt')} {what}".strip())


def _domain_phase(kind: str, body: dict[str, Any]) -> Phase | None:
    """CREATE DOMAIN, and ALTER DOMAIN but SET NOT NULL (which, like a table's, checks every stored value).
    A domain whose default or CHECK calls a function comes after the functions and sequences."""
    subtype = body.get("subtype")
    if kind == "AlterDomainStmt" and subtype not in ("T", "N", "C", "V", "X"):
        raise NotRunnable("ALTER DOMAIN SET NOT NULL" if subtype == "O" else f"ALTER DOMAIN {subtype}")
    if subtype in ("V", "X"):
        return None  # the phase of the ADD it validates or that replaces it
    return Phase.LATE_DOMAINS if "FuncCall" in json.dumps(body) else Phase.DOMAINS


def _alter_table_phase(cmd: dict[str, Any]) -> Phase | None:
    subtype = cmd["subtype"]
    if cmd.get("behavior") == "DROP_CASCADE":
        raise NotRunnable(f"ALTER TABLE {subtype} with CASCADE")
    if subtype == "AT_AddConstraint":
        contype = cmd["def"]["Constraint"]["contype"]
        if contype in _CONSTRAINT_PHASE:
            return _CONSTRAINT_PHASE[contype]
        raise NotRunnable(f"ALTER TABLE ADD {contype}")
    if subtype in _ALTER_TABLE_PHASE:
        return _ALTER_TABLE_PHASE[subtype]
    raise NotRunnable(f"ALTER TABLE {subtype.removeprefix('AT_')}")


def _only_setval(body: dict[str, Any]) -> bool:
    targets = [t["ResTarget"].get("val", {}) for t in body.get("targetList", [])]
    names = [[n["String"]["sval"] for n in t.get("FuncCall", {}).get("funcname", [])] for t in targets]
    return bool(names) and all(n in (["setval"], ["pg_catalog", "setval"]) for n in names)


def parse_statements(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Each statement of ``text`` (comments dropped, ``;`` added) with its parse tree."""
    out = []
    for statement in parser.split(text):
        tree = json.loads(parser.parse_sql_json(statement))
        out.append((statement + ";", tree["stmts"][0]["stmt"]))
    return out


def _phased(text: str) -> list[tuple[Phase, str]]:
    """A safe fix's statements with their phases; ``NotRunnable`` if any statement is not a safe kind."""
    try:
        statements = parse_statements(text)
    except parser.ParseError as exc:
        raise NotRunnable(f"pgcontract cannot parse this fix: {exc}") from None
    phases = [statement_phase(tree) for _, tree in statements]
    out = []
    for i, (statement, _) in enumerate(statements):
        before = [p for p in phases[:i] if p is not None]
        after = [p for p in phases[i + 1 :] if p is not None]
        phase = phases[i] or (before[-1] if before else after[0] if after else Phase.GRANTS)
        out.append((phase, statement))
    return out


def evaluated_check_calls(text: str) -> set[FunctionName]:
    """Functions called by the CHECK expressions that running ``text`` evaluates on existing rows: a CHECK
    added without NOT VALID, or added NOT VALID and validated in the same text."""
    trees = [tree for _, tree in parse_statements(text)]
    commands = [cmd["AlterTableCmd"] for tree in trees for cmd in tree.get("AlterTableStmt", {}).get("cmds", [])]
    validated = {cmd.get("name") for cmd in commands if cmd["subtype"] == "AT_ValidateConstraint"}
    calls: set[FunctionName] = set()
    for cmd in commands:
        constraint = cmd.get("def", {}).get("Constraint", {}) if cmd["subtype"] == "AT_AddConstraint" else {}
        if constraint.get("contype") == "CONSTR_CHECK" and (
            not constraint.get("skip_validation") or constraint.get("conname") in validated
        ):
            calls |= _function_calls(constraint.get("raw_expr"))
    return calls


def _function_calls(node: Any) -> set[FunctionName]:
    found: set[FunctionName] = set()
    if isinstance(node, list):
        for item in node:
            found |= _function_calls(item)
    elif isinstance(node, dict):
        call = node.get("FuncCall")
        if call is not None:
            names = [n["String"]["sval"] for n in call["funcname"]]
            found.add((names[-2] if len(names) > 1 else None, names[-1]))
        for value in node.values():
            found |= _function_calls(value)
    return found


_VOLATILE = sql.SQL(
    "SELECT coalesce(bool_or(p.provolatile = 'v'), true) FROM pg_catalog.pg_proc p"
    " WHERE p.proname = %(name)s AND CASE WHEN %(schema)s::text IS NULL"
    " THEN pg_catalog.pg_function_is_visible(p.oid)"
    " ELSE p.pronamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = %(schema)s::text) END"
)


def volatile_in(conn: Conn, limits: SessionLimits) -> VolatileOf:
    """Asks the database (as it resolves the names for this session) which functions are VOLATILE;
    a name it does not know counts as volatile: nothing says it is not."""

    def volatile(names: Collection[FunctionName]) -> set[FunctionName]:
        out: set[FunctionName] = set()
        with read_only(conn, limits) as ro:
            for schema, name in sorted(names, key=lambda n: (n[0] or "", n[1])):
                row = ro.execute(_VOLATILE, {"schema": schema, "name": name}).fetchone()
                if row is None or row[0]:
                    out.add((schema, name))
        return out

    return volatile


def _volatile_reason(text: str, volatile: VolatileOf) -> str | None:
    calls = evaluated_check_calls(text)
    found = volatile(calls) if calls else set()
    if not found:
        return None
    names = ", ".join(sorted(f"{schema}.{name}" if schema else name for schema, name in found))
    return (
        f"side effects: checking existing rows against this CHECK calls {names}, which the database marks"
        " VOLATILE (or does not know); what such a function does (a sequence moved by setval or nextval, an"
        " advisory lock, a write through dblink) is not undone by a rollback, and PostgreSQL expects CHECK"
        " expressions to be immutable"
    )


def _hold_reason(group: Sequence[Finding]) -> str | None:
    fix = group[0].fix
    assert fix is not None
    if fix.hazards:
        return f"{', '.join(fix.hazards)}: {fix.note}"
    if all(f.level is not Level.ERROR for f in group):
        return f"a {group[0].level}, not a violation of the contract ({group[0].message}): left for a person to decide"
    return None


def plan_repair(findings: Iterable[Finding], volatile: VolatileOf | None = None) -> RepairPlan:
    """The repair of these findings: safe statements deduplicated and in dependency order, the rest held.
    ``volatile`` (``volatile_in``): which functions a CHECK may not call when repair evaluates it."""
    plan = RepairPlan()
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.fix is None:
            plan.unfixable.append(finding)
        else:
            groups.setdefault(finding.fix.sql, []).append(finding)
    seen: dict[str, Statement] = {}
    for text, group in groups.items():
        serves = [f.id for f in group]
        reason = _hold_reason(group)
        phased: list[tuple[Phase, str]] = []
        if reason is None:
            try:
                phased = _phased(text)
            except NotRunnable as exc:
                reason = f"not a statement repair runs ({exc})"
        if reason is None and volatile is not None:
            reason = _volatile_reason(text, volatile)
        if reason is not None:
            plan.held.append(Held(text, reason, tuple(serves)))
            continue
        for phase, statement in phased:
            if statement in seen:
                seen[statement].serves.extend(s for s in serves if s not in seen[statement].serves)
            else:
                seen[statement] = Statement(phase, statement, list(serves))
                plan.statements.append(seen[statement])
    plan.statements.sort(key=lambda s: s.phase)
    # One dependency graph over the plan's statements (``depgraph``), as ``pgcontract sql`` orders its own.
    nodes = [node_of(s.sql) for s in plan.statements]
    placed = []
    for phase, i in order([s.phase for s in plan.statements], nodes, Phase):
        plan.statements[i].phase = phase
        placed.append(plan.statements[i])
    plan.statements = placed
    return plan


def _string_bodies(plan: RepairPlan) -> bool:
    """Whether the plan creates a function with a string body (``AS $$ ... $$``), whose check at creation
    the printed script turns off, whatever phase the dependency order gave it."""
    return any(unchecked_body(node_of(s.sql)) for s in plan.statements)


def comment(text: str) -> str:
    """``text`` as SQL comment lines. Every line break PostgreSQL knows (``\\n``, ``\\r``) starts a new
    ``-- `` line, so nothing in the text (a name with a line break in it, say) can end the comment."""
    return "\n".join("-- " + line for line in text.splitlines()) or "--"


def transaction_header(limits: SessionLimits, functions: bool = False) -> list[str]:
    """BEGIN and the limits; with ``functions``, function bodies unchecked at creation (as --apply does)."""
    return [
        "BEGIN;",
        render(sql.SQL("SET LOCAL lock_timeout = {};").format(sql.Literal(limits.lock_timeout))),
        render(sql.SQL("SET LOCAL statement_timeout = {};").format(sql.Literal(limits.statement_timeout))),
        *(["SET LOCAL check_function_bodies = off;"] if functions else []),
    ]


def render_plan(plan: RepairPlan, limits: SessionLimits, header: Sequence[str] = ()) -> str:
    """The plan as an SQL script: the safe part in one transaction, then each held fix commented out."""
    # Header and notes name targets and objects: shown (visible), so a name cannot restyle a terminal.
    # The statements and held fixes must run as written: their names in escapes PostgreSQL reads back.
    lines = [comment(visible(line)) for line in header]
    if plan.statements:
        functions = _string_bodies(plan)
        lines += ["", *transaction_header(limits, functions)]
        annotated: list[tuple[Phase, str]] = []
        previous: list[str] = []
        for statement in plan.statements:
            note = [] if statement.serves == previous else [comment(visible("fixes " + ", ".join(statement.serves)))]
            annotated.append((statement.phase, "\n".join([*note, shown_sql(statement.sql)])))
            previous = statement.serves
        lines += [*with_sections(annotated), "", "COMMIT;"]
    else:
        lines += ["", "-- nothing safe to apply"]
    for held in plan.held:
        warning = comment(visible_lines(f"WARNING: not applied: {held.reason}"))
        lines += ["", warning, comment(visible("would fix " + ", ".join(held.serves)))]
        lines.append(comment(visible_lines(shown_sql(held.sql))))
    for finding in plan.unfixable:
        lines += ["", comment(visible_lines(f"WARNING: no fix known for {finding.id}: {finding.message}"))]
    text = "\n".join(lines) + "\n"
    # Parsed back, the script must run exactly the plan's statements: no comment, note or held fix may add,
    # hide or merge one.
    return verify(text, _intended(plan, limits))


def _intended(plan: RepairPlan, limits: SessionLimits) -> list[Intended]:
    if not plan.statements:
        return []
    functions = _string_bodies(plan)
    header = transaction_header(limits, functions)
    out: list[Intended] = [("TransactionStmt", None), *[("VariableSetStmt", None)] * (len(header) - 1)]
    for statement in plan.statements:
        one = parsed(statement.sql)
        if len(one) != 1:
            raise GeneratedSqlError(f"internal error: a repair statement holds {len(one)} statements")
        out += one
    return [*out, ("TransactionStmt", None)]


class RepairFailed(Exception):
    """The repair could not run (a lock wait or timeout, a lost connection): rolled back, nothing changed."""


@dataclass(frozen=True)
class Failure:
    """A fix PostgreSQL refused: its statement, the error, and the findings it leaves."""

    statement: str
    error: str
    left: tuple[str, ...]


@dataclass
class ApplyResult:
    applied: list[Statement] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Statement] = field(default_factory=list)  # every statement of the fixes that failed


class _Restart(Exception):
    """A fix failed after some of its statements ran: start again without it."""


def _fix_units(statements: Sequence[Statement]) -> list[int]:
    """For each statement, its fix: statements that serve a common finding belong together (a DROP
    CONSTRAINT and the ADD that replaces it), so that one fails or applies whole."""
    parent = list(range(len(statements)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, statement in enumerate(statements):
        for finding_id in statement.serves:
            if finding_id in first:
                parent[root(i)] = root(first[finding_id])
            else:
                first[finding_id] = i
    return [root(i) for i in range(len(statements))]


_BUSY = (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled, psycopg.OperationalError)


def apply_plan(conn: Conn, plan: RepairPlan, limits: SessionLimits) -> ApplyResult:
    """Run the plan's statements in one transaction, with the limits set for that transaction only
    (never under autocommit, where they would silently do nothing), each under a savepoint: a fix that
    PostgreSQL refuses is rolled back alone and reported (``ApplyResult.failures``), the others still
    apply. If a failing fix had already run some of its statements, the transaction starts again without
    it, so a fix applies whole or not at all. A lost connection rolls everything back and raises
    ``RepairFailed`` naming the statement; a lock wait or timeout rolls everything back and tries again,
    then raises ``DatabaseBusy`` naming who holds the tables the statement needed."""
    return retry_busy(
        conn,
        lambda: _apply_once(conn, plan, limits),
        doing="applying the repair (rolled back, nothing changed)",
        limits=limits,
        modes=None,  # which mode a statement needs varies: every lock others hold on its tables
    )


def _apply_once(conn: Conn, plan: RepairPlan, limits: SessionLimits) -> ApplyResult:
    units = _fix_units(plan.statements)
    failed: dict[int, Failure] = {}
    while True:
        try:
            applied = _attempt(conn, plan, limits, units, failed)
        except _Restart:
            continue
        skipped = [s for s, u in zip(plan.statements, units, strict=True) if u in failed and s not in applied]
        return ApplyResult(applied, list(failed.values()), skipped)


def _attempt(
    conn: Conn, plan: RepairPlan, limits: SessionLimits, units: list[int], failed: dict[int, Failure]
) -> list[Statement]:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        conn.rollback()
    conn.autocommit = False
    conn.read_only = False
    current = ""
    applied: list[Statement] = []
    started: set[int] = set()
    try:
        with conn.transaction():
            apply_limits(conn, limits)
            # Function bodies are not checked at creation (as pg_dump does): a function may read a
            # table that a later statement creates.
            conn.execute("SET LOCAL check_function_bodies = off")
            for statement, unit in zip(plan.statements, units, strict=True):
                if unit in failed:
                    continue
                current = statement.sql
                try:
                    with conn.transaction():
                        conn.execute(current.encode())
                except _BUSY:
                    raise
                except psycopg.Error as exc:
                    if conn.closed:
                        raise
                    left = sorted(
                        {f for s, u in zip(plan.statements, units, strict=True) if u == unit for f in s.serves}
                    )
                    failed[unit] = Failure(current, " ".join(str(exc).split()), tuple(left))
                    if unit in started:
                        raise _Restart from None
                    continue
                started.add(unit)
                applied.append(statement)
    except BUSY_ERRORS as exc:
        raise Blocked(exc, relations_of(current) if current else ()) from None
    except psycopg.Error as exc:
        first_line = current.splitlines()[0] if current else "(setting the limits)"
        reason = " ".join(str(exc).split())
        raise RepairFailed(f"{reason}; rolled back, nothing changed. The statement: {first_line}") from None
    return applied


def check_now(conn: Conn, contract: Contract, limits: SessionLimits) -> FindingIndex:
    """The findings of the contract against the database as it is now (one READ ONLY snapshot); a lock
    wait or timeout on every try raises ``DatabaseBusy``."""
    return run_checks(contract, read_catalog(conn, contract.schemas, limits))
