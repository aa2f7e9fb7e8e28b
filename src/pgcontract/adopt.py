"""A contract describing a live database (``pgcontract snapshot``): adopt the tool in one step.

The contract is written so that the same database checked against it passes: every column with its
type, nullability and default; keys, checks, indexes (except those that back a key); RLS flags and the
exact policy set; enums; functions; privileges (table, column and schema grants, default privileges) of
the roles that matter (``grants="default"``: PUBLIC, Supabase's API roles and every role a policy names;
``"all"``: every grantee; ``"none"``: no privileges at all); installed extensions; publications.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pglast import parser

from pgcontract.catalog.aggregates import Aggregate, default_modify
from pgcontract.catalog.privileges import Grants
from pgcontract.catalog.publications import Publication
from pgcontract.catalog.snapshot import Constraint, Function, Index, Snapshot, Table, View
from pgcontract.catalog.triggers import Trigger
from pgcontract.catalog.typekinds import CompositeType, Domain, Sequence, owned_by_text
from pgcontract.contract.model import Contract
from pgcontract.findings import Level
from pgcontract.indexkeys import KeySpec
from pgcontract.lints import API_ROLES, run_lints
from pgcontract.names import PLATFORM_SCHEMAS, QualifiedName
from pgcontract.seqoptions import non_defaults
from pgcontract.sqlnorm import InvalidSql, parse_type


class Flow(dict[str, Any]):
    """A mapping written on one line: ``{type: uuid, nullable: false}``."""


class FlowList(list[Any]):
    """A list written on one line: ``[id]``."""


# LibYAML's emitter when PyYAML has it (the same text, a third of the time: a 10,000-table contract is 19 MB)
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(), flow_style=True))
_Dumper.add_representer(FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(str, _represent_str)


def _column(
    snapshot_type: str,
    not_null: bool,
    default: str | None,
    identity: str | None,
    generated: str | None,
    collation: str | None = None,
) -> Flow:
    out = Flow(type=_short_type(snapshot_type), nullable=not not_null)
    if generated is not None:
        out["generated"] = _escape_strings(generated)
    elif identity is not None:
        out["identity"] = identity
    elif default is not None:
        out["default"] = _escape_strings(default)
    if collation is not None:
        out["collation"] = collation
    return out


def _deferral(out: Flow, constraint: Constraint) -> Flow:
    out["deferrable"] = constraint.deferrable
    if constraint.deferrable:
        out["initially"] = "deferred" if constraint.deferred else "immediate"
    return out


def _key(key: KeySpec) -> Any:
    if key.column is not None and not key.desc and not key.nulls_first and key.opclass is None:
        return key.column
    out = Flow(column=key.column) if key.column is not None else Flow(expression=_escape_strings(key.expression or ""))
    if key.desc:
        out["order"] = "desc"
    if key.nulls_first != key.desc:
        out["nulls"] = "first" if key.nulls_first else "last"
    if key.opclass is not None:
        out["opclass"] = key.opclass
    return out


def _function(function: Function) -> dict[str, Any]:
    """Every attribute a function's contract checks; DDL defaults (invoker, not strict, ...) left out."""
    out: dict[str, Any] = {}
    if function.kind != "function":
        out["kind"] = function.kind
    if function.arguments != function.identity:
        out["arguments"] = function.arguments
    if function.returns is not None:
        out["returns"] = function.returns
    out["language"] = function.language
    if function.kind == "function":
        out["volatility"] = function.volatility
    out["security"] = "definer" if function.security_definer else "invoker"
    for attribute, value, default in (
        ("strict", function.strict, False),
        ("leakproof", function.leakproof, False),
        ("parallel", function.parallel, "unsafe"),
    ):
        if value != default:
            out[attribute] = value
    if function.search_path is not None:
        out["search_path"] = function.search_path
    out["settings"] = Flow(function.other_settings)
    out["execute"] = FlowList(sorted(function.executors - {function.owner}))
    out["body"] = function.body.strip() + "\n"
    return out


def _aggregate(aggregate: Aggregate) -> dict[str, Any]:
    """An aggregate's options, those equal to CREATE AGGREGATE's defaults left out (it is compared whole)."""
    out: dict[str, Any] = {"sfunc": aggregate.sfunc, "stype": _short_type(aggregate.stype)}
    modify = default_modify(aggregate.kind != "normal")
    defaults: dict[str, object] = {
        "sspace": 0,
        "finalfunc": None,
        "finalfunc_extra": False,
        "finalfunc_modify": modify,
        "combinefunc": None,
        "serialfunc": None,
        "deserialfunc": None,
        "initcond": None,
        "msfunc": None,
        "minvfunc": None,
        "mstype": None,
        "msspace": 0,
        "mfinalfunc": None,
        "mfinalfunc_extra": False,
        "mfinalfunc_modify": modify,
        "minitcond": None,
        "sortop": None,
        "hypothetical": False,
        "parallel": "unsafe",
    }
    for attribute, default in defaults.items():
        value = getattr(aggregate, attribute)
        if value != default:
            out[attribute] = _short_type(value) if attribute == "mstype" else value
    return out


GrantsMode = Literal["default", "all", "none"]
# Roles through which Supabase's API reaches the database; written when the database has them.
SUPABASE_API_ROLES = ("anon", "authenticated", "service_role")


class Grantees:
    """Whose privileges a snapshot writes: with ``roles`` None, every grantee found; else exactly these
    (an empty list when one has nothing, so that a grant widened later fails). Owners are left out: their
    privileges come with the ownership."""

    def __init__(self, roles: set[str] | None) -> None:
        self.roles = roles

    def pick(self, grants: Grants, owner: str) -> dict[str, FlowList]:
        names = set(grants) if self.roles is None else self.roles
        return {r: FlowList(sorted(grants.get(r, ()))) for r in sorted(names - {owner})}


def grantees(snapshot: Snapshot, mode: GrantsMode, wanted: set[str]) -> Grantees | None:
    if mode == "none":
        return None
    if mode == "all":
        return Grantees(None)
    roles = {"public", *(r for r in SUPABASE_API_ROLES if r in snapshot.roles)}
    for table in snapshot.tables.values():
        if table.name.schema in wanted and table.in_scope:
            roles.update(role for policy in table.policies.values() for role in policy.roles)
    return Grantees(roles)


def _grants(table: Table, who: Grantees) -> dict[str, Any]:
    out: dict[str, Any] = {"grants": who.pick(table.grants, table.owner)}
    columns: dict[str, Any] = {}
    for role in sorted(set(table.column_grants) - {table.owner}):
        if who.roles is None or role in who.roles:
            columns[role] = {c: FlowList(sorted(p)) for c, p in sorted(table.column_grants[role].items())}
    if columns:
        out["column_grants"] = columns
    return out


def _grants_beyond_parent(snapshot: Snapshot, table: Table, who: Grantees | None) -> bool:
    """A partition granting a role more than its partitioned table does (a partition is reachable on its
    own: GRANT on the parent does not reach it, nor does its lack): written with its own grants."""
    parent = snapshot.tables.get(table.parents[0]) if table.parents else None
    if who is None or parent is None:
        return False
    mine, theirs = who.pick(table.grants, table.owner), who.pick(parent.grants, parent.owner)
    return any(set(privileges) - set(theirs.get(role, ())) for role, privileges in mine.items())


def _privileges(snapshot: Snapshot, wanted: set[str], who: Grantees) -> dict[str, Any]:
    privileges = snapshot.privileges
    # The schemas of the extensions too (PostGIS in `extensions`): the API roles call an extension's
    # functions and use its types only with USAGE on its schema, which `sql` creates for an empty database.
    granted = wanted | {e.schema for e in snapshot.extensions.values()}
    schemas = {
        schema: who.pick(grants, privileges.schema_owners.get(schema, ""))
        for schema, grants in sorted(privileges.schemas.items())
        if schema in granted
    }
    defaults = []
    for key, grants in sorted(privileges.defaults.items(), key=lambda item: str(item[0])):
        if key.schema is not None and key.schema not in wanted:
            continue
        picked = who.pick(grants, key.role)
        if picked:
            entry: dict[str, Any] = {"role": key.role}
            if key.schema is not None:
                entry["schema"] = key.schema
            entry.update(objects=key.objects, grants=picked)
            defaults.append(entry)
    out: dict[str, Any] = {}
    if schemas:
        out["schemas"] = schemas
    if defaults:
        out["defaults"] = defaults
    return out


def _publication(publication: Publication) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if publication.all_tables:
        out["all_tables"] = True
    out["operations"] = FlowList(
        op for op in ("insert", "update", "delete", "truncate") if op in publication.operations
    )
    if publication.all_tables:
        return out
    tables = sorted(publication.tables.values(), key=lambda t: t.name)
    if all(t.columns is None and t.where is None for t in tables):
        out["tables"] = FlowList(str(t.name) for t in tables)
        return out
    out["tables"] = {}
    for table in tables:
        spec = Flow()
        if table.columns is not None:
            spec["columns"] = FlowList(table.columns)
        if table.where is not None:
            spec["where"] = table.where
        out["tables"][str(table.name)] = spec
    return out


def _own(constraints: list[Constraint]) -> list[Constraint]:
    """What a table defines itself: a partition's clones and a child's inherited checks are its parent's."""
    return [c for c in constraints if not c.inherited]


def _table(table: Table, snapshot: Snapshot | None = None, wanted: set[str] | None = None) -> dict[str, Any]:
    columns = {
        c.name: _column(c.type, c.not_null, c.default, c.identity, c.generated, c.collation)
        for c in table.columns.values()
        if not c.inherited
    }
    out: dict[str, Any] = {"columns": columns} if columns or not table.parents else {}
    pk = _own(table.constraints_of("p"))
    if pk:
        out["primary_key"] = FlowList(pk[0].columns)
        if pk[0].deferrable:
            out["primary_key_deferral"] = _deferral(Flow(), pk[0])
    fks = []
    for fk in _own(table.constraints_of("f")):
        ref = str(fk.ref_table) + "(" + ", ".join(fk.ref_columns) + ")"
        spec = Flow(columns=list(fk.columns), references=ref, on_delete=fk.on_delete, on_update=fk.on_update)
        fks.append(_validated(_deferral(spec, fk), fk))
    if fks:
        out["foreign_keys"] = fks
    uniques = []
    for unique in _own(table.constraints_of("u")):
        spec = _deferral(Flow(columns=list(unique.columns)), unique)
        if unique.nulls_not_distinct:
            spec["nulls_not_distinct"] = True
        uniques.append(spec)
    if uniques:
        out["unique"] = uniques
    # Named: repair re-creates a missing check under its own name (PostgreSQL's naming cannot be
    # predicted once a table holds several).
    checks = [
        _validated(Flow(name=c.name, expression=_escape_strings(c.check)), c)
        for c in _own(table.constraints_of("c"))
        if c.check
    ]
    if checks:
        out["checks"] = checks
    exclusions = [Flow(name=c.name, definition=_escape_strings(c.definition)) for c in _own(table.constraints_of("x"))]
    if exclusions:
        out["exclusions"] = exclusions
    backing = {c.name for c in table.constraints if c.kind in ("p", "u", "x")}
    indexes: dict[str, Any] = {}
    for index in table.indexes.values():
        if index.name in backing or index.inherited:
            continue
        indexes[index.name] = _index(index)
    if indexes:
        out["indexes"] = indexes
    if table.partition_key is not None:
        out["partition_by"] = _escape_strings(table.partition_key)
        partitions = snapshot.partitions_of(table.name) if snapshot is not None else []
        bounds = {
            str(p.name): _escape_strings(p.bound or "") for p in partitions if wanted is None or p.name.schema in wanted
        }
        if bounds:
            out["partitions"] = bounds
    elif table.parents and not table.is_partition:
        out["inherits"] = FlowList(str(p) for p in table.parents)
    rls: dict[str, Any] = {"enabled": table.rls_enabled, "forced": table.rls_forced}
    if table.rls_enabled or table.policies:
        policies: dict[str, Any] = {}
        for policy in table.policies.values():
            policy_spec: dict[str, Any] = {"command": policy.command, "roles": FlowList(policy.roles)}
            if not policy.permissive:
                policy_spec["as"] = "restrictive"
            if policy.using is not None:
                policy_spec["using"] = _escape_strings(policy.using)
            if policy.with_check is not None:
                policy_spec["with_check"] = _escape_strings(policy.with_check)
            policies[policy.name] = policy_spec
        rls["policies"] = policies
    out["rls"] = rls
    return out


def _validated(spec: Flow, constraint: Constraint) -> Flow:
    if not constraint.validated:
        spec["validated"] = False
    return spec


def _described_by_parent(table: Table) -> bool:
    """A partition whose every column, key, index and check comes from its partitioned table: the parent
    lists it with its bound, and it needs no entry of its own (a finding is then reported once, there)."""
    own_indexes = [
        i for i in table.indexes.values() if not i.inherited and i.name not in {c.name for c in table.constraints}
    ]
    return (
        table.is_partition
        and not _own(table.constraints)
        and not own_indexes
        and table.partition_key is None
        and not table.rls_enabled
        and not table.policies
        and all(c.inherited for c in table.columns.values())
    )


def _short_type(text: str) -> str:
    try:
        return parse_type(text).short
    except InvalidSql:
        return text


def _escape_strings(text: str) -> str:
    """Catalog SQL (deparsed under standard_conforming_strings = on) as a contract accepts it: a plain '...'
    string holding a backslash (a regular expression's \\s) written as the same E'...' string."""
    if "\\" not in text:
        return text
    try:
        tokens = parser.scan(text)
    except parser.ParseError:
        return text
    out, position = [], 0
    for token in tokens:
        raw = text[token.start : token.end + 1]
        if token.name == "SCONST" and raw.startswith("'") and "\\" in raw:
            out += [text[position : token.start], "E" + raw.replace("\\", "\\\\")]
            position = token.end + 1
    return "".join([*out, text[position:]])


def _domain(domain: Domain) -> dict[str, Any]:
    """What differs from CREATE DOMAIN's defaults: a domain is compared whole."""
    out: dict[str, Any] = {"type": _short_type(domain.type)}
    if domain.not_null:
        out["nullable"] = False
    if domain.default is not None:
        out["default"] = _escape_strings(domain.default)
    if domain.checks:
        out["checks"] = {name: _escape_strings(check) for name, check in domain.checks}
    return out


def _composite_type(composite: CompositeType) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for a in composite.attributes:
        type_text = _short_type(a.type)
        attributes[a.name] = type_text if a.collation is None else Flow(type=type_text, collation=a.collation)
    return {"attributes": attributes}


def _sequence(sequence: Sequence, who: Grantees | None = None) -> Flow:
    out = Flow(type=sequence.options.type, **non_defaults(sequence.options))
    owner = owned_by_text(sequence.owned_by)
    if owner is not None:
        out["owned_by"] = owner
    if who is not None:
        out["grants"] = Flow(who.pick(sequence.grant_map, sequence.owner))
    return out


def _typed_sections(snapshot: Snapshot, wanted: set[str], who: Grantees | None = None) -> dict[str, Any]:
    sections = {
        "domains": {str(n): _domain(d) for n, d in sorted(snapshot.domains.items()) if n.schema in wanted},
        "composite_types": {
            str(n): _composite_type(c) for n, c in sorted(snapshot.composite_types.items()) if n.schema in wanted
        },
        "sequences": {str(n): _sequence(q, who) for n, q in sorted(snapshot.sequences.items()) if n.schema in wanted},
    }
    return {key: entries for key, entries in sections.items() if entries}


def _identity_options(snapshot: Snapshot, tables: dict[str, Any]) -> None:
    """An identity column's sequence options, where they differ from the defaults."""
    for (table, column), sequence in snapshot.identity_sequences.items():
        spec = tables.get(str(table), {}).get("columns", {}).get(column)
        options = non_defaults(sequence.options)
        if spec is not None and options:
            spec["identity_options"] = Flow(options)


def _index(index: Index) -> Flow:
    spec = Flow(columns=[_key(k) for k in index.keys])
    if index.unique:
        spec["unique"] = True
    if index.method != "btree":
        spec["method"] = index.method
    if index.include:
        spec["include"] = list(index.include)
    if index.predicate is not None:
        spec["where"] = _escape_strings(index.predicate)
    if index.nulls_not_distinct:
        spec["nulls_not_distinct"] = True
    return spec


def _view(view: View, api_roles: frozenset[str]) -> dict[str, Any]:
    """Every attribute a view's contract checks; grants of every role but the owner, and of the API roles
    even when they have none (their privileges on a view decide what the API reads)."""
    out: dict[str, Any] = {}
    if view.materialized:
        out["materialized"] = True
    out["definition"] = _escape_strings(view.definition) + "\n"
    out["columns"] = Flow({n: _short_type(t) for n, t in view.columns})
    for option, on in (("security_invoker", view.security_invoker), ("security_barrier", view.security_barrier)):
        if on:
            out[option] = True
    if view.check_option is not None:
        out["check_option"] = view.check_option
    grants = {role: FlowList(sorted(p)) for role, p in view.grants if role != view.owner}
    for role in sorted(api_roles):  # none: a later GRANT to them is a finding
        grants.setdefault(role, FlowList())
    out["grants"] = grants
    if view.indexes:
        out["indexes"] = {index.name: _index(index) for index in view.indexes}
    return out


def _trigger(trigger: Trigger) -> Flow:
    """Every attribute a trigger's contract checks; what is the DDL default left out."""
    out = Flow(timing=trigger.timing, events=FlowList(trigger.events))
    if trigger.columns:
        out["columns"] = FlowList(trigger.columns)
    out["for_each"] = trigger.for_each
    out["function"] = str(trigger.function)
    if trigger.arguments:
        out["arguments"] = FlowList(trigger.arguments)
    if trigger.when is not None:
        out["when"] = _escape_strings(trigger.when)
    for attribute, value in (("old_table", trigger.old_table), ("new_table", trigger.new_table)):
        if value is not None:
            out[attribute] = value
    if trigger.enabled is not True:
        out["enabled"] = trigger.enabled
    return out


def app_schemas(snapshot: Snapshot, schemas: list[str] | None) -> set[str]:
    """The schemas given, else every schema holding the application's tables or views (the API reaches
    views in a schema of their own, such as ``api``), PostgreSQL's and the platform's excepted."""
    if schemas:
        return set(schemas)
    return ({q.schema for q in snapshot.tables} | {v.name.schema for v in snapshot.views}) - PLATFORM_SCHEMAS


def contract_from_snapshot(
    snapshot: Snapshot, schemas: list[str] | None = None, grants: GrantsMode = "default"
) -> dict[str, Any]:
    wanted = app_schemas(snapshot, schemas)
    who = grantees(snapshot, grants, wanted)
    out: dict[str, Any] = {"version": 1}
    if QualifiedName("auth", "users") in snapshot.tables:
        out["auth"] = Flow(mode="supabase")
    out["tables"] = {
        str(name): _table(table, snapshot, wanted) | (_grants(table, who) if who is not None else {})
        for name, table in sorted(snapshot.tables.items())
        if name.schema in wanted
        and table.in_scope
        and (not _described_by_parent(table) or _grants_beyond_parent(snapshot, table, who))
    }
    _identity_options(snapshot, out["tables"])
    enums = {str(name): list(labels) for name, labels in sorted(snapshot.enums.items()) if name.schema in wanted}
    if enums:
        out["enums"] = enums
    functions = {
        function.signature: _function(function)
        for function in sorted(snapshot.functions, key=lambda f: (f.name, f.argument_types))
        if function.name.schema in wanted
    }
    if functions:
        out["functions"] = functions
    aggregates = {
        a.signature: _aggregate(a)
        for a in sorted(snapshot.aggregates, key=lambda a: (a.name, a.argument_types))
        if a.name.schema in wanted
    }
    if aggregates:
        out["aggregates"] = aggregates
    out.update(_typed_sections(snapshot, wanted, who))
    api = (API_ROLES - {"public"}) & set(snapshot.roles) | {"public"}
    views = {
        str(v.name): _view(v, frozenset(api))
        for v in sorted(snapshot.views, key=lambda v: v.name)
        if v.name.schema in wanted
    }
    if views:
        out["views"] = views
    # A trigger belongs to the application when its table or its function does: the signup trigger on
    # auth.users calls the application's function.
    triggers: dict[str, dict[str, Any]] = {}
    for trigger in sorted(snapshot.triggers, key=lambda t: (t.table, t.name)):
        if trigger.table.schema in wanted or trigger.function.schema in wanted:
            triggers.setdefault(str(trigger.table), {})[trigger.name] = _trigger(trigger)
    if triggers:
        out["triggers"] = triggers
    privileges = _privileges(snapshot, wanted, who) if who is not None else {}
    if privileges:
        out["privileges"] = privileges
    if snapshot.extensions:
        out["extensions"] = {
            e.name: Flow(schema=e.schema, min_version=e.version)
            for e in sorted(snapshot.extensions.values(), key=lambda e: e.name)
        }
    if snapshot.publications:
        out["publications"] = {name: _publication(p) for name, p in sorted(snapshot.publications.items())}
    lints = accepted_lints(snapshot, out.get("auth"))
    if lints:
        out["lints"] = lints
    return out


def accepted_lints(snapshot: Snapshot, auth: Flow | None) -> dict[str, Flow]:
    """The error-level lint hits the database holds when snapshotted, each ignored by its object: a
    database passes its own snapshot whatever it holds (a table without RLS that anon reads included),
    while the same defect on any other object still fails. ``pgcontract snapshot`` says so in the
    contract's header: these are accepted as found, not approved."""
    contract = Contract.model_validate({"version": 1, "auth": auth})
    found: dict[str, set[str]] = {}
    for finding in run_lints(snapshot, contract):
        if finding.level is Level.ERROR:
            found.setdefault(finding.owner, set()).add(finding.object)
    return {rule: Flow(ignore=FlowList(sorted(objects))) for rule, objects in sorted(found.items())}


def dump_contract(data: dict[str, Any], header: str = "") -> str:
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    return header + body
