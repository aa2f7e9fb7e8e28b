"""The ``pgcontract`` command: argument parsing and exit codes only.

Exit codes: 0 clean, 1 contract violated, 2 usage or contract error, 3 cannot connect, 4 database busy
(a lock wait, after bounded retries, or a statement timeout stopped the read; nothing was judged), 70
internal error (generated SQL not what pgcontract meant to write).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from pgcontract import __version__
from pgcontract.connect import (
    CannotConnect,
    DatabaseBusy,
    DsnError,
    SessionLimits,
    Target,
    checked_dsn,
    connect,
    duration_argument,
    redact_text,
)
from pgcontract.targets import TargetsError, default_name, parse_shard, parse_targets, shard

if TYPE_CHECKING:
    import psycopg

    from pgcontract.contract import Contract
    from pgcontract.readahead import ReadAhead
    from pgcontract.repair import RepairPlan
    from pgcontract.report.audit import AuditTrail, HistoryStore

EXIT_OK, EXIT_VIOLATED, EXIT_USAGE, EXIT_CANNOT_CONNECT, EXIT_BUSY = 0, 1, 2, 3, 4
# sysexits.h's EX_SOFTWARE: far from the small codes above (and from pytest's own 0-5), so a script can
# tell a bug in pgcontract from anything the database or the contract did.
EXIT_INTERNAL = 70
EXIT_CODES = (
    "Exit codes: 0 clean, 1 contract violated, 2 usage or contract error, 3 cannot connect,"
    " 4 database busy (a lock wait, after 3 tries, or a statement timeout stopped the read; nothing was judged),"
    " 70 internal error (generated SQL not what pgcontract meant to write: nothing was run)."
)


def _die(message: str, code: int, *, keep_lines: bool = False) -> int:
    """One line on stderr, with every control character of a catalog name, DSN or path escaped: a name
    holding a line break or a terminal escape sequence cannot forge or restyle output. ``keep_lines``: a
    message whose own line breaks stay (an error of the user's own ``sql/`` file, with its LINE and caret)."""
    from pgcontract.names import visible, visible_lines

    print(f"pgcontract: {visible_lines(message) if keep_lines else visible(message)}", file=sys.stderr)
    return code


def _warn(message: str) -> None:
    _die(f"warning: {message}", EXIT_OK)


def _dsn(value: str) -> str:
    """A --dsn or --history-dsn value: an empty one is a usage error in every subcommand (a variable
    that expanded to nothing must not quietly mean "the environment" or "the embedded default")."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty")
    return value


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise argparse.ArgumentTypeError(f"must be a positive, finite number of seconds, not {value!r}")
    return seconds


def _shard(value: str) -> tuple[int, int]:
    try:
        return parse_shard(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--shard ")) from None


def _concurrency(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, not {value!r}")
    return int(value)


def _dsn_from(args: argparse.Namespace) -> str | None:
    """The single target of snapshot, serve and repair: the first --dsn, else the environment; checked
    (``DsnError``/``TargetsError``, exit 2) before anything shows or connects to it."""
    if args.dsn and args.dsn[0]:
        return parse_targets(args.dsn[:1], None)[0].dsn
    for variable in ("PGCONTRACT_DSN", "DATABASE_URL"):
        if os.environ.get(variable):
            return checked_dsn(os.environ[variable], f"${variable}")
    return None


class _Parser(argparse.ArgumentParser):
    """Usage errors quote the arguments they reject: a DSN given in the wrong place must not be quoted."""

    given: ClassVar[Sequence[str]] = ()

    def error(self, message: str) -> NoReturn:
        for arg in self.given:
            if "://" in arg or "password" in arg.lower():
                message = redact_text(message, arg)
        super().error(message)


def _add_timeout_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--statement-timeout", type=duration_argument, default="30s", help="statement_timeout (default: 30s)"
    )
    parser.add_argument("--lock-timeout", type=duration_argument, default="2s", help="lock_timeout (default: 2s)")


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dsn",
        action="append",
        default=[],
        type=_dsn,
        help="database to check; repeat for several, NAME=postgresql://... names one "
        "(else $PGCONTRACT_DSN, $DATABASE_URL; none: the embedded default)",
    )
    parser.add_argument("--contract", default="contracts", help="contract file or directory (default: contracts)")
    parser.add_argument("--sql", default="sql", help="SQL for the embedded server when no DSN is given")


def _add_history_options(parser: argparse.ArgumentParser, file_help: str) -> None:
    parser.add_argument("--history", help=file_help)
    parser.add_argument("--history-dsn", type=_dsn, help="the same, in a table in this database (never a target)")
    parser.add_argument("--history-table", default="pgcontract_history")


def _history_store(args: argparse.Namespace) -> HistoryStore | None:
    """The --history / --history-dsn store (``audit.HistoryStore``), or None; the DSN checked (exit 2)."""
    from pgcontract.report.audit import HistoryStore

    dsn = checked_dsn(args.history_dsn, "--history-dsn") if args.history_dsn else None
    return HistoryStore.of(args.history, dsn, args.history_table)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pgcontract",
        description="Prove a PostgreSQL database is what the application expects.",
        epilog=EXIT_CODES,
    )
    parser.add_argument("--version", action="version", version=f"pgcontract {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser(
        "check",
        help="run the contract suite against a database",
        description="Run the contract suite. Arguments after -- go to pytest.",
    )
    _add_target_options(check)
    check.add_argument("--targets", help="YAML file mapping target names to DSNs (${VAR} expanded)")
    check.add_argument("--html", help="write a self-contained HTML report")
    check.add_argument("--junitxml", help="write JUnit XML")
    check.add_argument("--json", help="write the summary as JSON (the health report's shape, per target)")
    check.add_argument("--history", help="append each target's result to this JSON Lines file")
    check.add_argument("--history-dsn", type=_dsn, help="append each target's result to a table in this database")
    check.add_argument(
        "--rls-live",
        action="store_true",
        help="also run the dynamic RLS tests against --dsn (test rows in a transaction that is always rolled back)",
    )
    check.add_argument(
        "--concurrency",
        type=_concurrency,
        default=None,
        help="targets whose catalogs are read at once, one connection each (default: 16)",
    )
    check.add_argument(
        "--shard",
        type=_shard,
        help="check only shard K of N of the targets (K/N, 1 <= K <= N: names sorted, dealt round-robin);"
        " pgcontract merge combines the shards' --json summaries",
    )
    _add_timeout_options(check)

    merge = sub.add_parser(
        "merge",
        help="combine the --json summaries of shards into one JSON, JUnit and HTML report",
        description="Combine the JSON summaries written by `pgcontract check --shard K/N --json FILE` (every"
        " shard of one run) into the reports one run over all the targets writes. The exit code is the one"
        " that run would give. Arguments after -- go to pytest (which writes the JUnit and HTML reports).",
    )
    merge.add_argument("summaries", nargs="+", help="the shards' JSON summaries")
    merge.add_argument("--json", help="write the merged summary as JSON")
    merge.add_argument("--junitxml", help="write JUnit XML")
    merge.add_argument("--html", help="write a self-contained HTML report")
    merge.add_argument("--history", help="append each target's result to this JSON Lines file")
    merge.add_argument("--history-dsn", type=_dsn, help="append each target's result to a table in this database")

    snap = sub.add_parser("snapshot", help="print a contract describing a live database")
    _add_target_options(snap)
    snap.add_argument("--schema", action="append", help="schema to include (repeatable; default: all the app's)")
    snap.add_argument(
        "--grants",
        choices=("default", "all", "none"),
        default="default",
        help="whose privileges to write: default: PUBLIC, anon, authenticated, service_role and every role a"
        " policy names; all: every grantee; none: no privileges",
    )
    snap.add_argument(
        "--operations",
        action="store_true",
        help="also propose an operations: section, budgets the database passes today (see README)",
    )
    _add_timeout_options(snap)

    up = sub.add_parser(
        "up", help="start the embedded default and keep it running (prints its DSN; Ctrl-C stops and removes it)"
    )
    up.add_argument("--sql", default="sql", help="SQL to load (default: sql)")
    up.add_argument("--contract", default="contracts", help="contract deciding whether the auth shim is loaded")

    hist = sub.add_parser("history", help="print each target's trend from recorded runs")
    hist.add_argument("--history", help="JSON Lines file written by check --history")
    hist.add_argument("--history-dsn", type=_dsn, help="database written by check --history-dsn")
    hist.add_argument("--history-table", default="pgcontract_history")
    hist.add_argument("--last", type=int, default=10, help="runs shown per target, or changes (default: 10)")
    hist.add_argument(
        "--audit", action="store_true", help="print the audit trail of changes (repair --apply), not the trend"
    )
    hist.add_argument("--json", action="store_true", help="print the entries as JSON")
    serve = sub.add_parser(
        "serve",
        help="serve the health API, setup SQL, dashboard and metrics",
        description="Serve /api/admin/check-db, /api/admin/setup-sql, the dashboard (/), /metrics and /healthz."
        " Admin endpoints need $PGCONTRACT_ADMIN_TOKEN as a bearer token; without it, serving a DSN needs"
        " --no-auth (the embedded default is served without auth). Email alerts: set $PGCONTRACT_SMTP_HOST,"
        " _FROM, _TO (and _USER, _PASSWORD, _PORT, _STARTTLS, _CA_FILE, _TIMEOUT; see the README).",
    )
    _add_target_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    serve.add_argument("--ttl", type=_seconds, default=60.0, help="seconds a health report is reused (default: 60)")
    serve.add_argument("--webhook-url", help="Slack-compatible webhook for alerts (else $PGCONTRACT_WEBHOOK_URL)")
    serve.add_argument("--no-auth", action="store_true", help="serve admin endpoints without a token")
    _add_history_options(serve, "the dashboard shows the last change recorded in this JSON Lines file")

    sub.add_parser("schema", help="print the contract's JSON Schema (for editors)")

    ddl = sub.add_parser("sql", help="print complete, idempotent DDL for everything the contract requires")
    ddl.add_argument("--contract", default="contracts")

    repair = sub.add_parser(
        "repair",
        help="print the SQL that brings a drifted database back to the contract (--apply: run its safe part)",
        description="Print the repair SQL: safe statements in one transaction, hazardous fixes commented out "
        "under a warning. --apply runs the safe part in one transaction with lock_timeout and statement_timeout, "
        "then checks again. Exit codes: 0 clean, 1 something to repair or left, 2 usage, 3 cannot connect, "
        "4 database busy (a lock wait, after 3 tries, or a statement timeout; with --apply nothing was changed), "
        "70 internal error.",
    )
    _add_target_options(repair)
    repair.add_argument("--apply", action="store_true", help="run the safe statements, then check again")
    _add_history_options(repair, "with --apply, record an audit entry of the change in this JSON Lines file")
    _add_timeout_options(repair)

    validate = sub.add_parser("validate", help="validate a contract without connecting")
    validate.add_argument("--contract", default="contracts")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in args_list:
        cut = args_list.index("--")
        args_list, passthrough = args_list[:cut], args_list[cut + 1 :]
    parser = build_parser()
    _Parser.given = args_list
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    handler = {
        "check": cmd_check,
        "snapshot": cmd_snapshot,
        "schema": cmd_schema,
        "validate": cmd_validate,
        "up": cmd_up,
        "history": cmd_history,
        "sql": cmd_sql,
        "repair": cmd_repair,
        "serve": cmd_serve,
        "merge": cmd_merge,
    }
    try:
        return handler[args.command](args, passthrough)
    except CannotConnect as exc:
        return _die(str(exc), EXIT_CANNOT_CONNECT)
    except DatabaseBusy as exc:
        return _die(str(exc), EXIT_BUSY)
    except (DsnError, TargetsError) as exc:
        return _die(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _die("interrupted", EXIT_USAGE)
    except Exception as exc:
        from pgcontract.sqlsafe import GeneratedSqlError  # pglast only when something escaped

        if isinstance(exc, GeneratedSqlError):
            return _die(internal_error(exc), EXIT_INTERNAL)
        raise


def internal_error(exc: Exception) -> str:
    """One line for a GeneratedSqlError. Contract SQL is refused at load (exit 2) unless it is exactly one
    node of its kind, so generated SQL that does not parse as intended is pgcontract's own bug."""
    detail = " ".join(str(exc).split()).removeprefix("internal error: ")
    return (
        f"internal error: {detail}; nothing was run or printed as SQL."
        " This is a bug in pgcontract: please report it with the contract"
    )


def _load(path: str) -> Contract | None:
    from pgcontract.contract import ContractError, load_contract

    try:
        return load_contract(Path(path))
    except ContractError as exc:
        print(exc.render(), file=sys.stderr)
        return None


def cmd_validate(args: argparse.Namespace, _: list[str]) -> int:
    contract = _load(args.contract)
    if contract is None:
        return EXIT_USAGE
    print(f"{args.contract}: valid")
    return EXIT_OK


def cmd_history(args: argparse.Namespace, _: list[str]) -> int:
    from pgcontract.report import history

    if not args.history and not args.history_dsn:
        return _die("history needs --history FILE or --history-dsn DSN", EXIT_USAGE)
    dsn = checked_dsn(args.history_dsn, "--history-dsn") if args.history_dsn else None
    try:
        entries = history.read(
            file=Path(args.history) if args.history else None,
            dsn=dsn,
            table=args.history_table,
            warn=_warn,
            kind=history.AUDIT if args.audit else "run",
        )
    except OSError as exc:
        return _die(f"{args.history}: cannot read history file: {exc.strerror or exc}", EXIT_USAGE)
    if args.audit:
        from pgcontract.report import audit

        if args.json:
            print(json.dumps(audit.changes(entries)[-args.last :] if args.last > 0 else [], indent=2))
        else:
            print(audit.render(entries, last=args.last))
        return EXIT_OK
    if args.json:
        print(json.dumps(history.latest(entries, last=args.last), indent=2))
        return EXIT_OK
    print(history.trend(entries, last=args.last))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, _: list[str]) -> int:
    from pgcontract.contract import Contract

    print(json.dumps(Contract.model_json_schema(by_alias=True), indent=2))
    return EXIT_OK


def cmd_check(args: argparse.Namespace, passthrough: list[str]) -> int:
    import pytest

    from pgcontract.pytest_plugin import SuiteRootIds
    from pgcontract.suite import SUITE_DIR

    # Fewer cyclic collections from the start: loading a large contract makes objects that all live
    # for the whole run (at 10,000 tables, the default thresholds double the contract's load time).
    gc.set_threshold(50_000, 20, 100)
    # None while it loads: even the raised thresholds' collections cost a fifth of the load at 10,000
    # tables (0.5 of 2.3 s CPU), and they find nothing to free (the parsed YAML and models form no cycles).
    gc.disable()
    try:
        contract = _load(args.contract)
    finally:
        gc.enable()
    if contract is None:
        return EXIT_USAGE
    targets = parse_targets(args.dsn, Path(args.targets) if args.targets else None)
    if args.history_dsn:
        args.history_dsn = checked_dsn(args.history_dsn, "--history-dsn")
    dsn = _dsn_from(args) if not targets else None
    if dsn:
        targets = [Target("target", dsn)]
    if args.shard and not targets:
        return _die("--shard needs targets (--targets FILE or --dsn), not the embedded default", EXIT_USAGE)
    xdist = any(a == "-n" or a.startswith(("-n=", "--numprocesses", "--dist")) for a in passthrough)
    read_ahead: ReadAhead | None = None
    if len(targets) == 1 and shard(targets, *(args.shard or (1, 1))):
        # One clear line, before pytest starts, when the target cannot be reached.
        conn = connect(targets[0], SessionLimits(connect_timeout=10))
        if xdist or any(a in ("--collect-only", "--co") for a in passthrough):  # the read would be the workers'
            conn.close()
        else:  # the catalog is read on this connection while pytest starts and collects
            from pgcontract.readahead import ReadAhead

            limits = SessionLimits(statement_timeout=args.statement_timeout, lock_timeout=args.lock_timeout)
            read_ahead = ReadAhead(conn, targets[0], limits, contract)
    elif not targets and not Path(args.sql).exists():
        return _die(
            f"no --dsn given and {args.sql} does not exist: nothing to load into a throwaway server", EXIT_USAGE
        )
    # Only the plugins the suite uses, by their entry point names (-p, so pytest-xdist workers load them
    # too): importing every installed pytest plugin costs more than checking 1,000 tables. Another
    # plugin is loaded with `-- -p NAME`.
    plugins = ["pgcontract", *(["metadata", "html"] if args.html else []), *(["xdist"] if xdist else [])]
    pytest_args = [
        *(arg for name in plugins for arg in ("-p", name)),
        str(SUITE_DIR),
        "--rootdir",
        str(SUITE_DIR),
        "-c",
        str(SUITE_DIR / "pytest.ini"),
        "--contract",
        str(Path(args.contract).resolve()),
        "--sql",
        str(Path(args.sql).resolve()),
        "--statement-timeout",
        args.statement_timeout,
        "--lock-timeout",
        args.lock_timeout,
    ]
    if args.html:
        # The report opens with failures, then skips, then passes (each group by table: the plugin hands
        # the rows over in table order, a column it adds). pytest-html's option, so set only with it.
        pytest_args += ["--html", args.html, "--self-contained-html", "-o", "initial_sort=result"]
    if args.junitxml:
        pytest_args += ["--junitxml", args.junitxml]
    if args.rls_live:
        pytest_args.append("--rls-live")
    if args.concurrency:
        pytest_args += ["--concurrency", str(args.concurrency)]
    if args.shard:
        pytest_args += ["--shard", "{}/{}".format(*args.shard)]
    for option in ("json", "history", "history_dsn"):
        value = getattr(args, option)
        if value:
            pytest_args += [f"--{option.replace('_', '-')}", value]
    if xdist and "--dist" not in " ".join(passthrough):
        pytest_args += ["--dist", "loadgroup"]  # one worker per target: each reads its catalog once
    saved = {name: os.environ.get(name) for name in ("PGCONTRACT_DSN", "PGCONTRACT_TARGETS", AUTOLOAD_ENV)}
    os.environ[AUTOLOAD_ENV] = "1"  # inherited by pytest-xdist's workers
    # DSNs go through the environment, not pytest's command line, which reports may show.
    if len(targets) == 1 and not args.shard:
        os.environ["PGCONTRACT_DSN"] = targets[0].dsn
    elif targets:
        os.environ["PGCONTRACT_TARGETS"] = json.dumps({t.name: t.dsn for t in targets})
    # The contract is loaded once: the plugin takes this one instead of reading the files again. The
    # objects it and the snapshot create live for the whole run, so the collector need not scan them.
    gc.freeze()
    preloaded = PreloadedContract(contract, read_ahead)
    try:
        code = int(pytest.main(pytest_args + passthrough, plugins=[preloaded, SuiteRootIds()]))
    finally:
        if read_ahead is not None:  # not taken (nothing needed the catalog): its connection closes when it ends
            read_ahead.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    busy = preloaded.busy()
    if code == EXIT_BUSY and busy:  # pytest's own 4 is a usage error
        for message in busy:
            _die(message, EXIT_BUSY)
        return EXIT_BUSY
    return {0: EXIT_OK, 1: EXIT_VIOLATED, 3: EXIT_CANNOT_CONNECT, 5: EXIT_OK}.get(code, EXIT_USAGE)


def cmd_merge(args: argparse.Namespace, passthrough: list[str]) -> int:
    from pgcontract.report import history
    from pgcontract.report.audit import HistoryStore
    from pgcontract.report.merge import MergeError, exit_code, merge, read_summaries, replay

    try:
        summary = merge(read_summaries([Path(p) for p in args.summaries]))
    except MergeError as exc:
        return _die(str(exc), EXIT_USAGE)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.junitxml or args.html:
        # The same store the merged run is recorded in: the HTML shows each target's last change, as check's.
        history_dsn = checked_dsn(args.history_dsn, "--history-dsn") if args.history_dsn else None
        store = HistoryStore.of(args.history, history_dsn, None)
        code = replay(summary, junitxml=args.junitxml, html=args.html, passthrough=passthrough, store=store)
        missing = [path for path in (args.junitxml, args.html) if path and not Path(path).exists()]
        if code not in (0, 1, 5) or missing:
            return _die(f"writing the reports failed (pytest exit code {code})", EXIT_USAGE)
    if args.history or args.history_dsn:
        history.append(
            history.entries_of(summary),
            file=Path(args.history) if args.history else None,
            dsn=checked_dsn(args.history_dsn, "--history-dsn") if args.history_dsn else None,
        )
    tests = summary["tests"]
    counts = {o: sum(t["outcome"] == o for t in tests) for o in ("passed", "failed", "skipped")}
    print(
        f"pgcontract: merged {len(args.summaries)} summaries: {len(summary['targets'])} targets, "
        + ", ".join(f"{n} {o}" for o, n in counts.items()),
        file=sys.stderr,
    )
    code = exit_code(summary)
    if code == EXIT_BUSY:
        for message in dict.fromkeys(t["record"]["busy"] for t in tests if t["record"].get("busy")):
            _die(message, EXIT_BUSY)
    return code


AUTOLOAD_ENV = "PYTEST_DISABLE_PLUGIN_AUTOLOAD"


class PreloadedContract:
    """A pytest plugin object handing the already-validated contract to the suite."""

    def __init__(self, contract: object, read_ahead: ReadAhead | None = None) -> None:
        self.contract = contract
        self.read_ahead = read_ahead
        self.config: Any = None

    def pytest_configure(self, config: Any) -> None:
        from pgcontract.pytest_plugin import CONTRACT, READ_AHEAD

        config.stash[CONTRACT] = self.contract
        if self.read_ahead is not None:
            config.stash[READ_AHEAD] = self.read_ahead
        self.config = config

    def busy(self) -> list[str]:
        """What stopped each busy target (a lock wait or timeout), after the run: from this process's
        targets, or from the tests' reports (those of pytest-xdist workers too)."""
        from pgcontract.pytest_plugin import RUNS

        if self.config is None:
            return []
        found = [run.busy for run in self.config.stash.get(RUNS, {}).values() if run.busy]
        summary = self.config.pluginmanager.get_plugin("pgcontract-summary")
        found += [r.record["busy"] for r in getattr(summary, "results", []) if r.record.get("busy")]
        return list(dict.fromkeys(found))


def open_target(args: argparse.Namespace, stack: ExitStack) -> Target:
    """The --dsn target, or the embedded default started for this command (stopped when ``stack`` closes).
    Raises ``LoadError`` when sql/ does not load."""
    from pgcontract.embedded import embedded

    dsn = _dsn_from(args)
    if dsn:
        return Target("target", dsn)
    started: Target = stack.enter_context(embedded(Path(args.sql), supabase=_wants_supabase_shim(args.contract)))
    return started


def named_target(dsns: Sequence[str] | None, target: Target) -> Target:
    """``target`` named as ``check`` names it: NAME of ``--dsn NAME=postgresql://...``, else ``dbname@host``
    of its DSN (no user, no password); the embedded default keeps its name."""
    if target.throwaway:
        return target
    name = parse_targets(dsns[:1], None)[0].name if dsns and dsns[0] else default_name(target.dsn)
    return Target(name, target.dsn)


def _wants_supabase_shim(contract_path: str) -> bool:
    """The embedded server gets the Supabase auth shim unless the contract says another auth mode."""
    from pgcontract.contract import ContractError, load_contract

    path = Path(contract_path)
    if not path.exists():
        return True
    try:
        auth = load_contract(path).auth
    except ContractError as exc:
        # `up` and `snapshot` only read the contract for this choice (a first snapshot may well come
        # before any contract): an unusable one is reported, and the default taken.
        first = exc.issues[0] if exc.issues else exc
        print(f"pgcontract: warning: {first}; loading the Supabase auth shim", file=sys.stderr)
        return True
    return auth is None or auth.mode == "supabase"


def cmd_up(args: argparse.Namespace, _: list[str]) -> int:
    import signal
    import threading

    from pgcontract.embedded import LoadError, embedded

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        with embedded(Path(args.sql), supabase=_wants_supabase_shim(args.contract)) as target:
            print(target.dsn, flush=True)
            print(f"pgcontract: embedded PostgreSQL loaded from {args.sql}; Ctrl-C stops it", file=sys.stderr)
            stop.wait()
    except LoadError as exc:
        return _die(str(exc), EXIT_USAGE, keep_lines=True)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, _: list[str]) -> int:

    from pgcontract.contract import Contract
    from pgcontract.embedded import LoadError
    from pgcontract.names import visible
    from pgcontract.server import TOKEN_ENV, ServeSettings, listen, serve

    contract = _load(args.contract)
    if not isinstance(contract, Contract):
        return EXIT_USAGE
    dsn = _dsn_from(args)
    store = _history_store(args)
    token = os.environ.get(TOKEN_ENV) or None
    if token is not None and not token.strip():
        return _die(f"{TOKEN_ENV} is blank (only white space): set a real token, or unset it", EXIT_USAGE)
    if token is None and dsn and not args.no_auth:
        return _die(f"{TOKEN_ENV} is not set: set it to protect the admin endpoints, or pass --no-auth", EXIT_USAGE)
    from pgcontract.server.mail import MailConfigError, MailSettings

    try:
        mail = MailSettings.from_env(os.environ)
    except MailConfigError as exc:
        return _die(f"email alerts: {exc}", EXIT_USAGE)
    try:
        # Bound before an embedded server is started, so a busy port costs nothing and says so.
        listener = listen(args.host, args.port)
    except OSError as exc:
        return _die(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", EXIT_USAGE)
    with ExitStack() as stack:
        stack.callback(listener.close)
        try:
            # Named in alerts (the mail subject) as `check` names it.
            target = named_target(args.dsn, open_target(args, stack))
        except LoadError as exc:
            return _die(str(exc), EXIT_USAGE, keep_lines=True)
        if target.throwaway:
            loaded = visible(f"embedded PostgreSQL loaded from {args.sql}: {target.dsn}")
            print(f"pgcontract: {loaded}", file=sys.stderr)
        auth = "admin token required" if token and not args.no_auth else "no auth"
        shown = visible(f"serving http://{args.host}:{args.port}/ for {target.display}")
        print(f"pgcontract: {shown} (report reused for {args.ttl:g} s; {auth})", file=sys.stderr, flush=True)
        settings = ServeSettings(
            target=target,
            contract=contract,
            ttl=args.ttl,
            admin_token=None if args.no_auth else token,
            webhook_url=args.webhook_url or os.environ.get("PGCONTRACT_WEBHOOK_URL") or None,
            mail=mail,
            history=store,
        )
        if mail is not None:
            print(f"pgcontract: email alerts via {mail.describe()}", file=sys.stderr, flush=True)
        serve(settings, listener)
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace, _: list[str]) -> int:
    from pgcontract.busy import read_catalog
    from pgcontract.embedded import LoadError
    from pgcontract.ops.propose import MEASURE_ALL

    with ExitStack() as stack:
        try:
            target = open_target(args, stack)
        except LoadError as exc:
            return _die(str(exc), EXIT_USAGE, keep_lines=True)
        limits = SessionLimits(statement_timeout=args.statement_timeout, lock_timeout=args.lock_timeout)
        with connect(target, limits) as conn:
            snapshot = read_catalog(conn, args.schema, limits, MEASURE_ALL if args.operations else None)
    # Everything made from here on lives until the contract is written, so the cyclic collector finds
    # nothing; its full passes over a heap that keeps growing cost more than the YAML itself at 10,000
    # tables (14 s of 20).
    gc.disable()
    try:
        return _write_snapshot(args, target, snapshot)
    finally:
        gc.enable()


def _write_snapshot(args: argparse.Namespace, target: Target, snapshot: Any) -> int:
    from pgcontract.adopt import contract_from_snapshot, dump_contract
    from pgcontract.ops.propose import propose_operations

    data = contract_from_snapshot(snapshot, args.schema, args.grants)
    if snapshot.operations is not None:
        data["operations"] = propose_operations(snapshot.operations)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = (
        f"# Contract generated by pgcontract {__version__} from {redact_text(target.display, target.dsn)}"
        f" (PostgreSQL {snapshot.server_version}) at {stamp}.\n"
        "# Review it: keep what the application relies on, mark critical tables.\n"
    )
    accepted = sum(len(setting["ignore"]) for setting in data.get("lints", {}).values())
    if accepted:
        header += (
            f"# {accepted} error-level lint hit(s) found in the database are ignored under `lints:` (accepted"
            " as found, not approved): fix them and delete the entries.\n"
        )
    sys.stdout.write(dump_contract(data, header))
    return EXIT_OK


def cmd_sql(args: argparse.Namespace, _: list[str]) -> int:
    from pgcontract.contract import Contract
    from pgcontract.ddl import contract_ddl

    contract = _load(args.contract)
    if not isinstance(contract, Contract):
        return EXIT_USAGE
    sys.stdout.write(contract_ddl(contract))
    return EXIT_OK


def cmd_repair(args: argparse.Namespace, _: list[str]) -> int:

    from pgcontract.contract import Contract
    from pgcontract.embedded import LoadError
    from pgcontract.repair import check_now, plan_repair, render_plan, volatile_in

    contract = _load(args.contract)
    if not isinstance(contract, Contract):
        return EXIT_USAGE
    store = _history_store(args) if args.apply else None  # without --apply repair only reads: nothing to record
    limits = SessionLimits(statement_timeout=args.statement_timeout, lock_timeout=args.lock_timeout)
    with ExitStack() as stack:
        try:
            target = open_target(args, stack)
        except LoadError as exc:
            return _die(str(exc), EXIT_USAGE, keep_lines=True)
        if target.throwaway and args.apply:
            print("pgcontract: no --dsn: repairing a throwaway server (`pgcontract up` keeps one)", file=sys.stderr)
        conn = stack.enter_context(connect(target, limits))
        findings = check_now(conn, contract, limits)
        plan = plan_repair(findings.findings, volatile_in(conn, limits))
        header = [
            f"pgcontract repair of {target.display} against {args.contract}:"
            f" errors: {len(findings.errors())}, warnings: {len(findings.findings) - len(findings.errors())}.",
            "Safe statements run in one transaction; hazardous fixes follow, commented out, under a WARNING.",
        ]
        sys.stdout.write(render_plan(plan, limits, header))
        if not args.apply:
            return EXIT_VIOLATED if findings.errors() else EXIT_OK
        if store is None:
            return _apply_and_check(conn, contract, plan, limits, target, None)
        from pgcontract.report.audit import AuditTrail, AuditUnwritable, who

        # Named as `check` names it (NAME=..., else dbname@host), so the trail and the trend agree.
        named = Target(parse_targets(args.dsn[:1], None)[0].name, target.dsn) if args.dsn else target
        trail = AuditTrail(store, named, Path(args.contract), who(conn, limits))
        try:
            trail.begin(plan)
        except AuditUnwritable as exc:
            return _die(f"cannot write the audit trail to {exc}: nothing applied", EXIT_USAGE)
        try:
            code = _apply_and_check(conn, contract, plan, limits, target, trail)
        except BaseException as exc:
            trail.stopped(*_stopped(exc, target))
            raise
        finally:
            unrecorded = trail.finish()
            if unrecorded is not None:
                _die(
                    f"the repair ran ({trail.outcome()}) but its audit entry was NOT recorded in"
                    f" {unrecorded} (the entry written before it started is there)",
                    EXIT_USAGE,
                )
    return EXIT_USAGE if unrecorded is not None else code


def _stopped(exc: BaseException, target: Target) -> tuple[str, str]:
    """How an audited repair stopped, for its audit entry."""
    if isinstance(exc, DatabaseBusy):
        return "busy", target.redact(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted"
    return "error", target.redact(" ".join(f"{type(exc).__name__}: {exc}".split()))


def _apply_and_check(
    conn: psycopg.Connection[Any],
    contract: Contract,
    plan: RepairPlan,
    limits: SessionLimits,
    target: Target,
    trail: AuditTrail | None,
) -> int:
    """Apply the plan, report what happened and check again (``trail``: the audit trail, or None)."""
    from pgcontract.findings import render_all
    from pgcontract.names import visible
    from pgcontract.repair import RepairFailed, apply_plan, check_now

    try:
        result = apply_plan(conn, plan, limits)
    except RepairFailed as exc:
        if trail is not None:
            trail.stopped("failed", target.redact(str(exc)))
        return _die(f"repair failed: {target.redact(str(exc))}", EXIT_VIOLATED)
    if trail is not None:
        trail.applied(result)
    print(
        f"pgcontract: applied {len(result.applied)} statements to {visible(target.display)} in one transaction",
        file=sys.stderr,
    )
    for failure in result.failures:
        print(
            f"pgcontract: a fix failed and was rolled back alone: {visible(target.redact(failure.error))}\n"
            f"  the statement: {visible(failure.statement.splitlines()[0])}\n"
            f"  left unfixed: {visible(', '.join(failure.left))}",
            file=sys.stderr,
        )
    if result.skipped:
        print(f"pgcontract: {len(result.skipped)} other statements of the failed fixes not applied", file=sys.stderr)
    after = check_now(conn, contract, limits)
    if trail is not None:
        trail.checked(after)
    if not after.findings:
        print("pgcontract: checked again: the database satisfies the contract", file=sys.stderr)
        return EXIT_OK
    print(f"pgcontract: checked again: errors left: {len(after.errors())}", file=sys.stderr)
    print(render_all(after.findings), file=sys.stderr)
    return EXIT_VIOLATED if after.errors() else EXIT_OK


def entry() -> None:
    """Console script: exit without tearing down the interpreter's objects one by one (a large run
    builds hundreds of thousands; everything that must be closed or written is, before main returns)."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
