"""The per-process set of adapters built from Settings: store, queue, tenants and their Policies
(a composition helper). Tenant files are read and checked first, so a bad file stops the process
before it opens anything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.acceptance import Limits
from bridge.queue import JobQueue, connect, embedded_redis, embedded_url, stop_embedded
from bridge.store.db import Store
from bridge.tenancy import load_tenants, policy_of
from config.settings import Settings
from config.tenants import Tenant
from pipelines.policy import Policy


@dataclass
class Services:
    settings: Settings
    store: Store
    queue: JobQueue
    tenants: dict[str, Tenant]
    policies: dict[str, Policy] = field(default_factory=dict)
    _embedded: Any = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = False) -> Services:
        """Read the tenant files, then open the database and Redis (starting the embedded Redis when no
        REDIS_URL is set). Raises TenantFileError listing every problem of every tenant file."""
        tenants = load_tenants(settings.tenants_dir, settings.environ)
        policies = {slug: policy_of(tenant) for slug, tenant in tenants.items()}
        embedded = None
        url = settings.redis_url
        if url is None:
            embedded = embedded_redis(settings.embedded_redis_path)
            url = embedded_url(embedded)
            settings = settings.with_redis(url)
        store = Store(settings.database_url)
        if migrate:
            store.migrate()
        return cls(settings, store, JobQueue(connect(url), settings.queue_name), tenants, policies, embedded)

    @property
    def limits(self) -> Limits:
        """What intake accepts (the date window among others), from the settings."""
        return Limits.from_settings(self.settings)

    def policy(self, slug: str) -> Policy:
        """The tenant's Policy, built when its file was loaded."""
        policy = self.policies.get(slug)
        if policy is None:  # a tenant added after start-up (tests, tools)
            policy = self.policies[slug] = policy_of(self.tenants[slug])
        return policy

    def after_fork(self) -> None:
        """In a forked child: drop inherited pooled DB connections without closing the parent's."""
        self.store.engine.dispose(close=False)

    def close(self) -> None:
        self.store.dispose()
        self.queue.connection.close()
        if self._embedded is not None:
            stop_embedded(self._embedded)
