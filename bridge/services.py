"""The per-process set of adapters built from Settings: store, queue, tenants and their Policies
(a composition helper). Tenant files are read and checked first, so a bad file stops the process
before it opens anything."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bridge.acceptance import Limits
from bridge.queue import JobQueue, connect, embedded_redis, embedded_url, stop_embedded
from bridge.store.db import Store
from bridge.tenancy import load_tenants, policy_of
from config.logging import register_secrets
from config.settings import DEV_SECRET_KEY, Settings
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
    def build(cls, settings: Settings, *, migrate: bool = False, first_in_line: bool = False) -> Services:
        """Read the tenant files, then open the database and Redis (starting the embedded Redis when no
        REDIS_URL is set). Raises TenantFileError listing every problem of every tenant file."""
        tenants = load_tenants(settings.tenants_dir, settings.environ)
        register_secrets(secret_values(settings, tenants.values()))
        policies = {slug: policy_of(tenant) for slug, tenant in tenants.items()}
        embedded = None
        url = settings.redis_url
        if url is None:
            embedded = embedded_redis(settings.embedded_redis_path)
            url = embedded_url(embedded)
            settings = settings.with_redis(url)
        store = Store(settings.database_url, first_in_line=first_in_line)
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


def secret_values(settings: Settings, tenants: Iterable[Tenant]) -> list[str]:
    """The values of every secret this process knows: its keys and each ``*_env`` a tenant file names
    (webhook tokens, amoCRM and booking-system credentials, provider keys), for log masking."""
    names = {"SECRET_KEY", "SALONBRIDGE_TOKEN_KEY"}
    for tenant in tenants:
        names.update(_env_names(tenant))
    return [v for v in (settings.environ.get(n) for n in names) if v and v != DEV_SECRET_KEY]


def _env_names(value: Any, depth: int = 0) -> set[str]:
    found: set[str] = set()
    if depth > 6:
        return found
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            item = getattr(value, f.name, None)
            if f.name.endswith("_env") and isinstance(item, str):
                found.add(item)
            elif f.name != "environ":
                found |= _env_names(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            found |= _env_names(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= _env_names(item, depth + 1)
    return found
