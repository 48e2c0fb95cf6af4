"""The per-process set of adapters built from Settings: store, queue, tenants (a composition helper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.queue import JobQueue, connect, embedded_redis, embedded_url, stop_embedded
from bridge.store.db import Store
from config.settings import Settings
from config.tenants import Tenant, load_tenants


@dataclass
class Services:
    settings: Settings
    store: Store
    queue: JobQueue
    tenants: dict[str, Tenant]
    _embedded: Any = field(default=None, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = False) -> Services:
        """Open the database and Redis (starting the embedded Redis when no REDIS_URL is set)."""
        embedded = None
        url = settings.redis_url
        if url is None:
            embedded = embedded_redis(settings.embedded_redis_path)
            url = embedded_url(embedded)
            settings = settings.with_redis(url)
        store = Store(settings.database_url)
        if migrate:
            store.migrate()
        tenants = load_tenants(settings.tenants_dir) if settings.tenants_dir.is_dir() else {}
        return cls(settings, store, JobQueue(connect(url), settings.queue_name), tenants, embedded)

    def after_fork(self) -> None:
        """In a forked child: drop inherited pooled DB connections without closing the parent's."""
        self.store.engine.dispose(close=False)

    def close(self) -> None:
        self.store.dispose()
        self.queue.connection.close()
        if self._embedded is not None:
            stop_embedded(self._embedded)
