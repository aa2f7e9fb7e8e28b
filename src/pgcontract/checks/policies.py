"""Row level security, statically: enabled and forced flags, the exact policy set, each policy whole."""

from __future__ import annotations

from pgcontract.catalog import snapshot as snap
from pgcontract.checks.base import Context, finding, fix, member
from pgcontract.contract.model import Policy, Table
from pgcontract.findings import Finding, Kind, Level, declare
from pgcontract.names import QualifiedName
from pgcontract.sqlgen import create_policy, drop_policy, enable_rls, force_rls

K = Kind.POLICIES
RULES = declare(
    K,
    "rls.enabled",
    "rls.disabled",
    "rls.forced",
    "rls.not_forced",
    "policy.missing",
    "policy.command",
    "policy.permissive",
    "policy.roles",
    "policy.using",
    "policy.with_check",
)
RULES += declare(K, "policy.extra", levels=(Level.ERROR, Level.WARNING))  # a restrictive one: warning


def check_policies(ctx: Context, name: QualifiedName, table: Table, actual: snap.Table) -> list[Finding]:
    rls = table.effective_rls
    if rls is None:
        return []
    out: list[Finding] = []
    if rls.enabled != actual.rls_enabled:
        out.append(
            finding(
                "rls.disabled" if rls.enabled else "rls.enabled",
                K,
                name,
                str(name),
                "row level security is " + ("disabled" if rls.enabled else "enabled"),
                "enabled" if rls.enabled else "disabled",
                "enabled" if actual.rls_enabled else "disabled",
                fix(enable_rls(name, rls.enabled)),
            )
        )
    if rls.forced is not None and rls.forced != actual.rls_forced:
        out.append(
            finding(
                "rls.not_forced" if rls.forced else "rls.forced",
                K,
                name,
                str(name),
                "FORCE ROW LEVEL SECURITY " + ("is missing" if rls.forced else "is set"),
                "forced" if rls.forced else "not forced",
                "forced" if actual.rls_forced else "not forced",
                fix(force_rls(name, rls.forced)),
            )
        )
    if rls.policies is None:
        return out
    for policy_name, policy in rls.policies.items():
        found = actual.policies.get(policy_name)
        if found is None:
            out.append(
                finding(
                    "policy.missing",
                    K,
                    name,
                    member(name, policy_name),
                    "policy is missing",
                    _describe(policy),
                    "absent",
                    fix(create_policy(name, policy_name, policy)),
                )
            )
            continue
        out.extend(_compare(ctx, name, policy_name, policy, found))
    for policy_name, found in actual.policies.items():
        if policy_name in rls.policies:
            continue
        restrictive = not found.permissive
        out.append(
            finding(
                "policy.extra",
                K,
                name,
                member(name, policy_name),
                "extra RESTRICTIVE policy (narrows access)" if restrictive else "extra policy widens access",
                "no such policy",
                _describe_found(found),
                fix(drop_policy(name, policy_name)),
                level=Level.WARNING if restrictive else Level.ERROR,
            )
        )
    return out


def _describe(policy: Policy) -> str:
    text = f"{policy.as_} for {policy.command} to {', '.join(policy.roles)}"
    if policy.using is not None:
        text += f" using ({policy.using})"
    if policy.with_check is not None:
        text += f" with check ({policy.with_check})"
    return text


def _describe_found(found: snap.Policy) -> str:
    kind = "permissive" if found.permissive else "restrictive"
    text = f"{kind} for {found.command} to {', '.join(found.roles)}"
    if found.using is not None:
        text += f" using ({found.using})"
    if found.with_check is not None:
        text += f" with check ({found.with_check})"
    return text


def _compare(ctx: Context, name: QualifiedName, policy_name: str, policy: Policy, found: snap.Policy) -> list[Finding]:
    differences: list[tuple[str, str, object, object]] = []
    if policy.command != found.command:
        differences.append(("policy.command", "policy command differs", policy.command, found.command))
    if sorted(policy.roles) != sorted(found.roles):
        differences.append(("policy.roles", "policy applies to other roles", sorted(policy.roles), list(found.roles)))
    permissive = policy.as_ == "permissive"
    if permissive != found.permissive:
        text = "policy is " + ("restrictive" if permissive else "permissive")
        differences.append(("policy.permissive", text, policy.as_, "permissive" if found.permissive else "restrictive"))
    if not ctx.same_expr(policy.using, found.using, name):
        differences.append(("policy.using", "USING expression differs", policy.using, found.using))
    if not ctx.same_expr(policy.with_check, found.with_check, name):
        differences.append(("policy.with_check", "WITH CHECK expression differs", policy.with_check, found.with_check))
    if not differences:
        return []
    obj = member(name, policy_name)
    recreate = fix([drop_policy(name, policy_name), create_policy(name, policy_name, policy)])
    return [finding(rule, K, name, obj, text, want, have, recreate) for rule, text, want, have in differences]
