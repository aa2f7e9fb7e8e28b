"""Checks: pure functions from (contract, snapshot) to findings, one module per object kind."""

from __future__ import annotations

from pgcontract.catalog.snapshot import Snapshot
from pgcontract.checks.aggregates import check_aggregate
from pgcontract.checks.base import Context
from pgcontract.checks.columns import check_columns
from pgcontract.checks.composite_types import check_composite_type
from pgcontract.checks.constraints import check_constraints
from pgcontract.checks.domains import check_domain
from pgcontract.checks.enums import check_enum
from pgcontract.checks.extensions import check_extension
from pgcontract.checks.functions import check_function, check_role
from pgcontract.checks.grants import check_grants
from pgcontract.checks.indexes import check_indexes
from pgcontract.checks.partitions import check_partitions, fold_partitions
from pgcontract.checks.policies import check_policies
from pgcontract.checks.privileges import check_default_privileges, check_schema_privileges
from pgcontract.checks.publications import check_publication
from pgcontract.checks.sequences import check_identity_sequences, check_sequence
from pgcontract.checks.tables import check_table
from pgcontract.checks.triggers import check_triggers
from pgcontract.checks.views import check_view
from pgcontract.contract.model import Contract
from pgcontract.findings import Finding, FindingIndex
from pgcontract.ops.budgets import Previous, operations_result
from pgcontract.viewdeps import view_order

TABLE_CHECKS = (
    check_columns,
    check_identity_sequences,
    check_constraints,
    check_indexes,
    check_policies,
    check_grants,
    check_partitions,
)


def run_checks(contract: Contract, snapshot: Snapshot, previous: Previous | None = None) -> FindingIndex:
    """Every check of the contract; ``previous``: the statements of the last recorded run (regressions)."""
    ctx = Context(contract, snapshot)
    findings: list[Finding] = []
    for name, table in contract.table_map.items():
        missing = check_table(ctx, name, table)
        findings.extend(missing)
        if missing:
            continue
        actual = snapshot.tables[name]
        for check in TABLE_CHECKS:
            findings.extend(check(ctx, name, table, actual))
    for enum_name, labels in contract.enum_map.items():
        findings.extend(check_enum(ctx, enum_name, labels))
    for signature, spec in contract.functions.items():
        findings.extend(check_function(ctx, signature, spec))
    for signature, aggregate in contract.aggregates.items():
        findings.extend(check_aggregate(ctx, signature, aggregate))
    for role, role_spec in contract.roles.items():
        findings.extend(check_role(ctx, role, role_spec))
    for domain_name, domain in contract.domain_map.items():
        findings.extend(check_domain(ctx, domain_name, domain))
    for type_name, composite in contract.composite_type_map.items():
        findings.extend(check_composite_type(ctx, type_name, composite))
    for sequence_name, sequence in contract.sequence_map.items():
        findings.extend(check_sequence(ctx, sequence_name, sequence))
    for view_name in view_order(contract.view_map):  # a repair creates them in this order
        findings.extend(check_view(ctx, view_name, contract.view_map[view_name]))
    for trigger_table, triggers in contract.trigger_map.items():
        findings.extend(check_triggers(ctx, trigger_table, triggers))
    if contract.privileges is not None:
        for schema, wanted in contract.privileges.schemas.items():
            findings.extend(check_schema_privileges(ctx, schema, wanted))
        for entry in contract.privileges.defaults:
            findings.extend(check_default_privileges(ctx, entry))
    for extension, extension_spec in contract.extensions.items():
        findings.extend(check_extension(ctx, extension, extension_spec))
    for publication, publication_spec in contract.publications.items():
        findings.extend(check_publication(ctx, publication, publication_spec))
    operations = operations_result(contract, snapshot, previous)
    if operations is not None:
        findings.extend(operations.findings)
    return FindingIndex(fold_partitions(findings, snapshot))


__all__ = ["FindingIndex", "run_checks"]
