"""Build a tenant's domain Policy from its configuration."""

from __future__ import annotations

from config.tenants import Tenant
from pipelines.policy import Policy


def policy_for(tenant: Tenant) -> Policy:
    return Policy(tenant=tenant.slug, timezone=tenant.timezone, working_hour=tenant.working_hour)
