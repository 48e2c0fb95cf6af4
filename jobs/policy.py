"""Build a tenant's domain Policy from its configuration (once per tenant file per process)."""

from __future__ import annotations

import dataclasses

from config.tenants import Tenant
from pipelines.policy import Policy

_cache: dict[int, Policy] = {}


def policy_for(tenant: Tenant) -> Policy:
    """The tenant's Policy; raises PolicyError naming every bad field of its ``rules``/``services``."""
    policy = _cache.get(id(tenant))
    if policy is None:
        policy = Policy.from_rules(
            tenant.slug,
            tenant.timezone.key,
            tenant.working_hour,
            tenant.catalog.categories,
            tenant.catalog.services,
            tenant.rules,
            language=tenant.language,
            salon_name=tenant.name,
            branch_names={b.id: b.name for b in tenant.branches},
        )
        policy = dataclasses.replace(policy, currency=tenant.currency, prepayment=tenant.prepayment)
        _cache[id(tenant)] = policy
    return policy
