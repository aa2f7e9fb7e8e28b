"""Reading contracts: fast YAML parsing, validation, and errors that point at file:line:column.

yaml-rs parses (a tenth of PyYAML's time on large contracts, duplicate keys rejected); only when
something is wrong is the text composed again with PyYAML to find the line and column of the field.

Hostile YAML is refused before it costs: aliases expand to at most ``MAX_ALIAS_EVENTS`` events and
nest at most ``MAX_ALIAS_NESTING`` deep (yaml-rs's limits), block collections nest at most ``MAX_DEPTH``
levels (yaml-rs overflows its stack on 20,000 levels of ``- - - ...``), walks of PyYAML's node tree
visit each node once (an alias is the same node object: a walk that follows it is exponential).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
import yaml_rs
from pydantic import BaseModel, ValidationError

from pgcontract.contract.model import DECLARING_SECTIONS, Contract, Membership, Privileges, Table, function_signature
from pgcontract.names import QualifiedName
from pgcontract.textfile import NotUtf8, read_utf8

Loc = tuple[str | int, ...]
YAML_SUFFIXES = (".yaml", ".yml")
_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_ALIAS_EVENTS = 100_000
MAX_ALIAS_NESTING = 4
_ALIAS_LIMITS = yaml_rs.AliasLimits(
    max_total_replayed_events=MAX_ALIAS_EVENTS, max_replay_stack_depth=MAX_ALIAS_NESTING
)
MAX_DEPTH = 100
# A block collection starts after its line's indentation and compact indicators ("- - ", "? ", ": "),
# and every two levels of nesting need one more column: when no line begins with MAX_DEPTH // 2 - 1
# such characters, block collections cannot nest more than MAX_DEPTH deep (flow collections, yaml-rs
# limits itself) and the exact, slower count is skipped.
_MAYBE_DEEP = re.compile(rf"^[ \t?:-]{{{MAX_DEPTH // 2 - 1}}}", re.MULTILINE)
MAX_ISSUES_PER_FILE = 100
_short_repr = reprlib.Repr()
_short_repr.maxlevel, _short_repr.maxstring, _short_repr.maxother = 3, 80, 80


@dataclass(frozen=True)
class ContractIssue:
    file: Path
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


@dataclass(frozen=True)
class MoreIssues(ContractIssue):
    """Stands for ``count`` problems of a file that are not listed (past ``MAX_ISSUES_PER_FILE``)."""

    count: int = 0


class ContractError(Exception):
    """The contract is invalid; ``issues`` lists every problem found, each with its position."""

    def __init__(self, issues: Sequence[ContractIssue]) -> None:
        self.issues = list(issues)
        super().__init__(self.render())

    def render(self) -> str:
        count = sum(issue.count if isinstance(issue, MoreIssues) else 1 for issue in self.issues)
        head = f"invalid contract ({count} problem{'s' if count != 1 else ''}):"
        return "\n".join([head, *(f"  {issue}" for issue in self.issues)])


def render_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            out += f".{part}" if out else part
        else:
            out += f"[{part!r}]"
    return out


class _Document:
    """One YAML file: its data and, lazily, its node tree for positions."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self._root: yaml.Node | None = None
        self._composed = False
        self._keys: dict[int, dict[str, tuple[yaml.Node, yaml.Node]]] = {}

    @property
    def root(self) -> yaml.Node | None:
        if not self._composed:
            self._composed = True
            try:
                self._root = yaml.compose(self.text, Loader=_YamlLoader)
            except (yaml.YAMLError, RecursionError):
                self._root = None
        return self._root

    def _entry(self, node: yaml.MappingNode, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        """The (key, value) nodes of ``key`` (its first occurrence), by an index built once per mapping."""
        index = self._keys.get(id(node))
        if index is None:
            index = self._keys[id(node)] = {}
            for k, v in node.value:
                index.setdefault(str(k.value), (k, v))
        return index.get(key)

    def position(self, loc: Loc, *, key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of the deepest node along ``loc``; of the key itself if ``key``."""
        node = self.root
        if node is None:
            return 1, 1
        mark = node.start_mark
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, yaml.MappingNode):
                entry = self._entry(node, str(part))
                if entry is None:
                    continue  # a pydantic union tag or validator name, not a YAML key
                mark = entry[0].start_mark if (last and key) else entry[1].start_mark
                node = entry[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                mark = node.start_mark
            else:
                continue
        return mark.line + 1, mark.column + 1

    def issue(self, loc: Loc, message: str, *, key: bool = False) -> ContractIssue:
        line, column = self.position(loc, key=key)
        return ContractIssue(self.file, line, column, render_loc(loc), message)

    def duplicate_keys(self) -> list[ContractIssue]:
        found: list[ContractIssue] = []
        if self.root is None:
            return found
        visited: set[int] = set()
        todo: list[tuple[yaml.Node, Loc]] = [(self.root, ())]
        while todo:
            node, loc = todo.pop()
            if id(node) in visited:
                continue
            visited.add(id(node))
            if isinstance(node, yaml.MappingNode):
                seen: dict[str, yaml.Node] = {}
                for k, v in node.value:
                    name = str(k.value)
                    if name in seen:
                        first = seen[name].start_mark.line + 1
                        found.append(
                            ContractIssue(
                                self.file,
                                k.start_mark.line + 1,
                                k.start_mark.column + 1,
                                render_loc((*loc, name)),
                                f"duplicate key {name!r} (first defined on line {first})",
                            )
                        )
                    seen[name] = k
                    todo.append((v, (*loc, name)))
            elif isinstance(node, yaml.SequenceNode):
                todo.extend((v, (*loc, i)) for i, v in enumerate(node.value))
        found.sort(key=lambda issue: (issue.line, issue.column))
        return found

    def depth_issue(self) -> ContractIssue | None:
        """An issue when the document nests deeper than ``MAX_DEPTH`` (or PyYAML cannot parse it)."""
        if not _MAYBE_DEEP.search(self.text.replace("\r", "\n") if "\r" in self.text else self.text):
            return None
        depth = 0
        try:
            for event in yaml.parse(self.text, Loader=_YamlLoader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        line, column = _position_of(event.start_mark)
                        return ContractIssue(self.file, line, column, "", f"nested more than {MAX_DEPTH} levels deep")
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
        except yaml.MarkedYAMLError as exc:
            # yaml-rs is not asked to parse what may be too deep for it: PyYAML's error is the answer.
            line, column = _position_of(exc.problem_mark or exc.context_mark)
            return ContractIssue(self.file, line, column, "", f"YAML syntax error: {exc.problem or exc}")
        except yaml.YAMLError as exc:
            return ContractIssue(self.file, 1, 1, "", f"YAML syntax error: {exc}")
        return None


def _position_of(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def contract_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
    return []


def load_contract(path: Path | str) -> Contract:
    """Load and validate a contract file or a directory of them; raise ``ContractError`` if invalid."""
    path = Path(path)
    files = contract_files(path)
    if not files:
        what = "no such file or directory" if not path.exists() else "no .yaml or .yml files in it"
        raise ContractError([ContractIssue(path, 1, 1, "", f"cannot read contract: {what}")])
    issues: list[ContractIssue] = []
    parsed: list[tuple[_Document, Contract]] = []
    for file in files:
        try:
            text = read_utf8(file)
        except NotUtf8 as exc:
            issues.append(ContractIssue(file, exc.line, exc.column, "", exc.reason))
            continue
        except OSError as exc:
            issues.append(ContractIssue(file, 1, 1, "", f"cannot read contract: {exc.strerror or exc}"))
            continue
        doc = _Document(file, text)
        contract = _parse(doc, issues)
        if contract is not None:
            parsed.append((doc, contract))
    if issues:
        raise ContractError(issues)
    merged = _merge(parsed, issues)
    if not issues:
        issues.extend(_reference_issues(merged, parsed))
    if not issues and not any(_declares_something(contract) for _, contract in parsed):
        issues.append(
            ContractIssue(
                path,
                1,
                1,
                "",
                f"the contract declares nothing to check (no {_sections_text()}): a check against it could never fail",
            )
        )
    if issues:
        raise ContractError(issues)
    return merged


def _declares_something(contract: Contract) -> bool:
    return any(getattr(contract, section) for section in DECLARING_SECTIONS)


def _sections_text() -> str:
    names = [section.replace("_", " ") for section in DECLARING_SECTIONS]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _parse(doc: _Document, issues: list[ContractIssue]) -> Contract | None:
    too_deep = doc.depth_issue()
    if too_deep is not None:
        issues.append(too_deep)
        return None
    try:
        data = yaml_rs.loads(doc.text, alias_limits=_ALIAS_LIMITS)
    except yaml_rs.YAMLDecodeError as exc:
        if "alias replay" in str(exc):
            issues.append(
                ContractIssue(
                    doc.file,
                    1,
                    1,
                    "",
                    f"YAML aliases expand too much ({exc}): a contract's aliases may expand to at most"
                    f" {MAX_ALIAS_EVENTS} YAML events in all, and nest at most {MAX_ALIAS_NESTING} deep",
                )
            )
            return None
        duplicates = doc.duplicate_keys()
        if duplicates:
            issues.extend(duplicates)
        else:
            issues.append(_syntax_issue(doc, exc))
        return None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        issues.append(doc.issue((), "a contract file is a mapping (version, auth, tables, enums)"))
        return None
    try:
        return Contract.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        issues.extend(_validation_issue(doc, err) for err in errors[:MAX_ISSUES_PER_FILE])
        if len(errors) > MAX_ISSUES_PER_FILE:
            more = len(errors) - MAX_ISSUES_PER_FILE
            issues.append(MoreIssues(doc.file, 1, 1, "", f"... and {more} more problems in this file", more))
        return None


def _syntax_issue(doc: _Document, exc: Exception) -> ContractIssue:
    text = str(exc)
    match = re.search(r"line (\d+), column (\d+)", text)
    line, column = (int(match.group(1)), int(match.group(2))) if match else (1, 1)
    reason = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith(("|", "^"))]
    summary = reason[-1] if reason else text
    if match and reason and summary == reason[0]:
        summary = re.sub(r"^YAML parse error at line \d+, column \d+:?\s*", "", summary) or "syntax error"
    try:
        yaml.compose(doc.text, Loader=_YamlLoader)
    except yaml.MarkedYAMLError as yerr:
        if yerr.problem_mark is not None and not match:
            line, column = yerr.problem_mark.line + 1, yerr.problem_mark.column + 1
    return ContractIssue(doc.file, line, column, "", f"YAML syntax error: {summary}")


def _validation_issue(doc: _Document, err: Any) -> ContractIssue:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = allowed_keys(loc[:-1])
        hint = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return doc.issue(loc, f"unknown field {loc[-1]!r}{hint}", key=True)
    if kind == "missing":
        return doc.issue(loc[:-1], f"required field {loc[-1]!r} is missing")
    message = str(err["msg"])
    message = message.removeprefix("Value error, ")
    if kind not in ("value_error", "assertion_error") and "input" in err:
        message += f" (got {_short_repr.repr(err['input'])})"
    if loc and loc[-1] == "[key]":  # pydantic's marker for a mapping key that is invalid: point at the key
        return doc.issue(loc[:-1], message, key=True)
    return doc.issue(loc, message)


def allowed_keys(loc: Loc) -> list[str]:
    """Field names accepted at ``loc`` (for "unknown field" hints), by walking the model's annotations."""
    current: Any = Contract
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _as_model(current)
    if model is None:
        return []
    return [f.alias or name for name, f in model.model_fields.items()]


def _as_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp):
        model = _as_model(arg)
        if model is not None:
            return model
    return None


def _step(tp: Any, part: str | int) -> Any:
    origin = get_origin(tp)
    if origin in (list, tuple) and isinstance(part, int):
        return get_args(tp)[0]
    if origin is dict:
        return get_args(tp)[1]
    if (
        origin is Union
        or (origin is not None and str(origin) == "typing.Annotated")
        or (get_args(tp) and not (isinstance(tp, type)))
    ):
        for arg in get_args(tp):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and isinstance(part, str):
                if part in arg.model_fields:
                    return arg.model_fields[part].annotation
                if arg.__name__ == part:
                    return arg
            stepped = _step(arg, part) if get_origin(arg) is not None else None
            if stepped is not None:
                return stepped
        return None
    if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return field.annotation
    return None


def _merge(parsed: list[tuple[_Document, Contract]], issues: list[ContractIssue]) -> Contract:
    if len(parsed) == 1:
        return parsed[0][1]
    tables: dict[str, Any] = {}
    enums: dict[str, Any] = {}
    lints: dict[str, Any] = {}
    auth: Any = None
    operations: Any = None
    operations_doc: _Document | None = None
    erasure: Any = None
    erasure_doc: _Document | None = None
    seen_tables: dict[QualifiedName, _Document] = {}
    seen_enums: dict[QualifiedName, _Document] = {}
    auth_doc: _Document | None = None
    roles: dict[str, tuple[_Document, Any]] = {}
    functions: dict[tuple[QualifiedName, tuple[Any, ...]], tuple[_Document, str, Any]] = {}
    named: dict[str, dict[str, Any]] = {"domains": {}, "composite_types": {}, "sequences": {}}
    named_seen: dict[tuple[str, QualifiedName], _Document] = {}
    views: dict[QualifiedName, tuple[_Document, str, Any]] = {}
    aggregates: dict[tuple[QualifiedName, tuple[Any, ...]], tuple[_Document, str, Any]] = {}
    triggers: dict[QualifiedName, tuple[str, dict[str, Any]]] = {}
    trigger_docs: dict[tuple[QualifiedName, str], _Document] = {}
    by_name: dict[str, dict[str, tuple[_Document, Any]]] = {"extensions": {}, "publications": {}}
    schema_grants: dict[str, tuple[_Document, Any]] = {}
    defaults: dict[Any, tuple[_Document, Any]] = {}
    for doc, contract in parsed:
        for section, entries in named.items():
            for key, spec in getattr(contract, section).items():
                name = QualifiedName.parse(key)
                if (section, name) in named_seen:
                    where = named_seen[section, name].file
                    what = section.rstrip("s").replace("_", " ")
                    issues.append(doc.issue((section, key), f"{what} {name} is also defined in {where}", key=True))
                named_seen[section, name] = doc
                entries[key] = spec
        for section, entries in (("extensions", contract.extensions), ("publications", contract.publications)):
            for key, value in entries.items():
                if key in by_name[section]:
                    where = by_name[section][key][0].file
                    issues.append(
                        doc.issue((section, key), f"{section[:-1]} {key} is also defined in {where}", key=True)
                    )
                by_name[section][key] = (doc, value)
        privileges = contract.privileges
        for schema, grants in (privileges.schemas if privileges else {}).items():
            if schema in schema_grants:
                where = schema_grants[schema][0].file
                message = f"privileges on schema {schema} are also defined in {where}"
                issues.append(doc.issue(("privileges", "schemas", schema), message, key=True))
            schema_grants[schema] = (doc, grants)
        for entry in privileges.defaults if privileges else []:
            if entry.key in defaults:
                where = defaults[entry.key][0].file
                issues.append(doc.issue(("privileges", "defaults"), f"{entry.key} are also defined in {where}"))
            defaults[entry.key] = (doc, entry)
        for key, table in contract.tables.items():
            name = QualifiedName.parse(key)
            if name in seen_tables:
                first = seen_tables[name]
                issues.append(doc.issue(("tables", key), f"table {name} is also defined in {first.file}", key=True))
            seen_tables[name] = doc
            tables[key] = table
        for key, values in contract.enums.items():
            name = QualifiedName.parse(key)
            if name in seen_enums:
                issues.append(doc.issue(("enums", key), f"enum {name} is also defined in {seen_enums[name].file}"))
            seen_enums[name] = doc
            enums[key] = values
        for rule, setting in contract.lints.items():
            if rule in lints:
                issues.append(doc.issue(("lints", rule), f"lint {rule!r} is configured in several files", key=True))
            lints[rule] = setting
        for key, role in contract.roles.items():
            if key in roles:
                where = roles[key][0].file
                issues.append(doc.issue(("roles", key), f"role {key} is also defined in {where}", key=True))
            roles[key] = (doc, role)
        for key, function in contract.functions.items():
            name, types, _ = function_signature(key)
            if (name, types) in functions:
                where = functions[name, types][0].file
                issues.append(doc.issue(("functions", key), f"function {key} is also defined in {where}", key=True))
            functions[name, types] = (doc, key, function)
        for key, aggregate in contract.aggregates.items():
            name, types, _ = function_signature(key)
            if (name, types) in aggregates:
                where = aggregates[name, types][0].file
                issues.append(doc.issue(("aggregates", key), f"aggregate {key} is also defined in {where}", key=True))
            aggregates[name, types] = (doc, key, aggregate)
        for key, view in contract.views.items():
            name = QualifiedName.parse(key)
            if name in views:
                issues.append(
                    doc.issue(("views", key), f"view {name} is also defined in {views[name][0].file}", key=True)
                )
            views[name] = (doc, key, view)
        for key, table_triggers in contract.triggers.items():
            name = QualifiedName.parse(key)
            merged_triggers = triggers.setdefault(name, (key, {}))[1]
            for trigger_name, trigger in table_triggers.items():
                if (name, trigger_name) in trigger_docs:
                    where = trigger_docs[name, trigger_name].file
                    message = f"trigger {trigger_name} on {name} is also defined in {where}"
                    issues.append(doc.issue(("triggers", key, trigger_name), message, key=True))
                trigger_docs[name, trigger_name] = doc
                merged_triggers[trigger_name] = trigger
        if contract.auth is not None:
            if auth_doc is not None:
                issues.append(doc.issue(("auth",), f"auth is also defined in {auth_doc.file}"))
            auth, auth_doc = contract.auth, doc
        if contract.operations is not None:
            if operations_doc is not None:
                issues.append(doc.issue(("operations",), f"operations is also defined in {operations_doc.file}"))
            operations, operations_doc = contract.operations, doc
        if contract.erasure is not None:
            if erasure_doc is not None:
                issues.append(doc.issue(("erasure",), f"erasure is also defined in {erasure_doc.file}"))
            erasure, erasure_doc = contract.erasure, doc
    return Contract(
        tables=tables,
        enums=enums,
        auth=auth,
        operations=operations,
        erasure=erasure,
        lints=lints,
        roles={key: role for key, (_, role) in roles.items()},
        functions={key: function for _, key, function in functions.values()},
        **named,
        views={key: view for _, key, view in views.values()},
        aggregates={key: aggregate for _, key, aggregate in aggregates.values()},
        triggers=dict(triggers.values()),
        extensions={key: value for key, (_, value) in by_name["extensions"].items()},
        publications={key: value for key, (_, value) in by_name["publications"].items()},
        privileges=Privileges(
            schemas={key: value for key, (_, value) in schema_grants.items()},
            defaults=[entry for _, entry in defaults.values()],
        )
        if schema_grants or defaults
        else None,
    )


def _reference_issues(contract: Contract, parsed: list[tuple[_Document, Contract]]) -> list[ContractIssue]:
    """Names that must refer to something declared: columns of keys, indexes, referenced tables."""
    where: dict[str, _Document] = {}
    for doc, part in parsed:
        for key in part.tables:
            where[key] = doc
        for key in part.enums:
            where[f"enum:{key}"] = doc
    issues: list[ContractIssue] = []
    seen: dict[QualifiedName, str] = {}
    for key, table in contract.tables.items():
        doc = where[key]
        name = QualifiedName.parse(key)
        if name in seen:
            issues.append(doc.issue(("tables", key), f"same table as {seen[name]!r}", key=True))
        seen[name] = key
        issues.extend(_table_reference_issues(doc, contract, key, table))
    issues.extend(_erasure_issues(contract, parsed))
    from pgcontract.lints import RULE_IDS

    for rule in contract.lints:
        if rule not in RULE_IDS:
            doc = next((d for d, part in parsed if rule in part.lints), parsed[0][0])
            issues.append(
                doc.issue(
                    ("lints", rule), f"unknown lint rule {rule!r}; expected one of: {', '.join(RULE_IDS)}", key=True
                )
            )
    index_seen: dict[tuple[str, str], str] = {}
    for key, table in contract.tables.items():
        schema = QualifiedName.parse(key).schema
        for index_name in table.indexes:
            other = index_seen.get((schema, index_name))
            if other is not None and other != key:
                issues.append(
                    where[key].issue(
                        ("tables", key, "indexes", index_name),
                        f"index name {index_name!r} is also used by {other!r}: index names are unique per schema",
                        key=True,
                    )
                )
            index_seen[(schema, index_name)] = key
    enum_seen: dict[QualifiedName, str] = {}
    for key, values in contract.enums.items():
        doc = where[f"enum:{key}"]
        name = QualifiedName.parse(key)
        if name in enum_seen:
            issues.append(doc.issue(("enums", key), f"same enum as {enum_seen[name]!r}", key=True))
        enum_seen[name] = key
        for i, dup in _duplicates(values):
            issues.append(doc.issue(("enums", key, i), f"duplicate enum value {dup!r}"))
    return issues


def _duplicates(values: Iterable[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for i, value in enumerate(values):
        if value in seen:
            out.append((i, value))
        seen.add(value)
    return out


def _erasure_issues(contract: Contract, parsed: list[tuple[_Document, Contract]]) -> list[ContractIssue]:
    """The erasure proof needs to know which table holds the users: auth.users only under supabase auth."""
    if contract.erasure is None or contract.erasure_users is not None:
        return []
    doc = next(d for d, part in parsed if part.erasure is not None)
    return [
        doc.issue(
            ("erasure",),
            "erasure needs 'users' (the table whose row is the user, e.g. public.users) unless auth is supabase"
            " (then auth.users)",
        )
    ]


def _table_reference_issues(doc: _Document, contract: Contract, key: str, table: Table) -> list[ContractIssue]:
    issues: list[ContractIssue] = []
    base: Loc = ("tables", key)
    declared = contract.declared_columns(QualifiedName.parse(key))

    def need_columns(loc: Loc, names: Sequence[str], what: str) -> None:
        for i, column in enumerate(names):
            if column not in declared:
                issues.append(doc.issue((*base, *loc, i), f"{what} names column {column!r}, which is not declared"))
        for i, dup in _duplicates(names):
            issues.append(doc.issue((*base, *loc, i), f"column {dup!r} is listed twice"))

    if table.primary_key is not None:
        need_columns(("primary_key",), table.primary_key, "primary_key")
    for i, fk in enumerate(table.foreign_keys):
        need_columns(("foreign_keys", i, "columns"), fk.columns, "foreign key")
        target, ref_columns = fk.target
        if ref_columns and len(ref_columns) != len(fk.columns):
            issues.append(
                doc.issue(
                    (*base, "foreign_keys", i, "references"),
                    f"{len(fk.columns)} column(s) reference {len(ref_columns)} column(s)",
                )
            )
        ref_table = contract.table_map.get(target)
        if ref_table is not None and ref_table.columns:
            for column in ref_columns:
                if column not in ref_table.columns:
                    issues.append(
                        doc.issue(
                            (*base, "foreign_keys", i, "references"),
                            f"references column {column!r}, which {target} does not declare",
                        )
                    )
    for i, unique in enumerate(table.unique):
        need_columns(("unique", i, "columns"), unique.columns, "unique")
    if table.erasure is not None and declared:
        need_columns(("erasure", "set_null"), table.erasure.set_null, "erasure.set_null")
    for name, index in table.indexes.items():
        plain = [k for k in index.columns if isinstance(k, str)]
        for j, index_key in enumerate(index.columns):
            if isinstance(index_key, str) and index_key not in declared:
                issues.append(
                    doc.issue((*base, "indexes", name, "columns", j), f"index names undeclared column {index_key!r}")
                )
        for j, dup in _duplicates(plain):
            issues.append(doc.issue((*base, "indexes", name, "columns", j), f"column {dup!r} is listed twice"))
        need_columns(("indexes", name, "include"), index.include, "include")
    issues.extend(_isolation_issues(doc, contract, key, table, need_columns))
    names = [c.name for c in table.checks if c.name] + [u.name for u in table.unique if u.name]
    names += [f.name for f in table.foreign_keys if f.name] + [e.name for e in table.exclusions if e.name]
    for _, dup in _duplicates(names):
        issues.append(doc.issue(base, f"constraint name {dup!r} is used twice"))
    return issues


def _isolation_issues(
    doc: _Document, contract: Contract, key: str, table: Table, need_columns: Callable[[Loc, Sequence[str], str], None]
) -> list[ContractIssue]:
    isolation = table.isolation
    if isolation is None:
        return []
    base: Loc = ("tables", key, "isolation")
    issues: list[ContractIssue] = []
    if isolation.owner is not None and table.columns:
        need_columns(("isolation", "owner"), [isolation.owner], "isolation.owner")
    if table.columns:
        need_columns(("isolation", "cross_owner"), isolation.cross_owner, "isolation.cross_owner")
    if isolation.via is not None:
        fk = next((f for f in table.foreign_keys if f.columns == isolation.via), None)
        if fk is None:
            issues.append(doc.issue((*base, "via"), f"no foreign key of this table has the columns {isolation.via}"))
        else:
            parent = contract.table_map.get(fk.target[0])
            if parent is None or parent.isolation is None:
                issues.append(
                    doc.issue((*base, "via"), f"parent {fk.target[0]} must be in the contract, with isolation")
                )
            elif _via_cycle(contract, QualifiedName.parse(key)):
                issues.append(doc.issue((*base, "via"), "ownership through foreign keys forms a cycle"))
            elif isinstance(isolation.allow, dict) and (end := _via_end(contract, table)) is not None:
                name, membership = end
                if membership is None or membership.role is None:
                    issues.append(
                        doc.issue(
                            (*base, "allow"),
                            f"'allow' per role needs 'membership' with 'role' where the ownership chain ends ({name})",
                        )
                    )
    return issues


def _via_end(contract: Contract, table: Table) -> tuple[QualifiedName, Membership | None] | None:
    """The table an ownership chain (``via``, no cycle) ends at, and its membership; None when a link is
    missing (reported on its own)."""
    current, name = table, None
    while current.isolation is not None and current.isolation.via is not None:
        via = current.isolation.via
        fk = next((f for f in current.foreign_keys if f.columns == via), None)
        parent = contract.table_map.get(fk.target[0]) if fk is not None else None
        if fk is None or parent is None:
            return None
        current, name = parent, fk.target[0]
    if name is None or current.isolation is None:
        return None
    return name, current.isolation.membership


def _via_cycle(contract: Contract, start: QualifiedName) -> bool:
    seen = {start}
    current = contract.table_map[start]
    while current.isolation is not None and current.isolation.via is not None:
        via = current.isolation.via
        fk = next((f for f in current.foreign_keys if f.columns == via), None)
        if fk is None:
            return False
        name = fk.target[0]
        if name in seen:
            return True
        seen.add(name)
        parent = contract.table_map.get(name)
        if parent is None:
            return False
        current = parent
    return False
