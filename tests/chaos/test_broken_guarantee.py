"""The comparison the chaos suite relies on fails when a guarantee is broken: the same deliveries, three
copies each, into a store that keeps every copy (its dedupe skipped) and into a working one."""

from __future__ import annotations

import os
from collections import ChainMap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bridge import intake
from bridge.services import Services
from bridge.store import inbox
from config.settings import Settings
from jobs.worker import run_worker
from salonbridge import synthetic
from tests.chaos.snapshot import compare, store_state

pytestmark = pytest.mark.chaos


def delivered_three_times(folder: Path, redis_url: str) -> str:
    """Post a small salon's webhooks three times each through intake, process them; the database URL."""
    tenants = folder / "tenants"
    tenants.mkdir(parents=True)
    (tenants / "salon.yaml").write_text(synthetic.tenant_yaml("salon", "BROKEN_HOOK", "http://127.0.0.1:9", "NONE"),
                                        encoding="utf-8")
    url = f"sqlite:///{folder / 'salonbridge.db'}"
    settings = Settings.from_env(ChainMap({"DATABASE_URL": url, "REDIS_URL": redis_url,
                                           "SALONBRIDGE_TENANTS": str(tenants), "SALONBRIDGE_LOG_LEVEL": "WARNING",
                                           "SALONBRIDGE_INSTANCE": str(folder / "instance")}, os.environ))
    svc = Services.build(settings, migrate=True)
    try:
        now = datetime.now(UTC)
        for body in synthetic.generate(seed=3, clients=3, today=date.today() + timedelta(days=380)):
            for _ in range(3):
                intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, now)
        run_worker(svc, burst=True)
    finally:
        svc.queue.connection.flushdb()
        svc.close()
    return url


def test_a_store_that_skips_the_dedupe_fails_the_comparison(tmp_path, monkeypatch, embedded_redis_url):
    working = store_state(delivered_three_times(tmp_path / "working", embedded_redis_url))
    keep_every_copy = inbox.accept

    def accept(store, *, dedupe_key: str, **kw):
        return keep_every_copy(store, dedupe_key=f"{dedupe_key}:{os.urandom(4).hex()}", **kw)

    monkeypatch.setattr(inbox, "accept", accept)
    broken = store_state(delivered_three_times(tmp_path / "broken", embedded_redis_url))

    diffs = {d.part: d for d in compare(working, broken)}
    print(f"\nbroken dedupe: {len(diffs)} parts differ: {sorted(diffs)}; events {working['events']} → "
          f"{broken['events']}")
    assert "events" in diffs, "the comparison did not notice every copy stored as an event"
    assert compare(working, working) == []
