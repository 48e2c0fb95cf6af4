"""``salonbridge demo``: the whole system on embedded defaults, fed a synthetic salon over real HTTP."""

from __future__ import annotations

import secrets
import shutil
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import requests
from tqdm import tqdm

from bridge.services import Services
from bridge.store import stats
from config.settings import Settings
from salonbridge import synthetic
from salonbridge.supervisor import Supervisor

SLUG = "demo"
TOKEN_ENV = "SALONBRIDGE_DEMO_WEBHOOK_TOKEN"
PENDING = ("received", "processing", "retry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(instance: Path) -> tuple[Settings, str]:
    """A fresh instance folder with the demo tenant; returns settings and the webhook token."""
    if instance.exists():
        shutil.rmtree(instance)
    tenants = instance / "tenants"
    tenants.mkdir(parents=True)
    (tenants / f"{SLUG}.yaml").write_text(synthetic.tenant_yaml(SLUG, TOKEN_ENV), encoding="utf-8")
    token = secrets.token_urlsafe(24)
    env = {
        "SALONBRIDGE_INSTANCE": str(instance),
        "SALONBRIDGE_TENANTS": str(tenants),
        "SALONBRIDGE_LOG_LEVEL": "WARNING",
    }
    return Settings.from_env(env), token


def post_all(base_url: str, token: str, deliveries: list[dict[str, Any]], duplicate_every: int = 20) -> Counter:
    """POST every delivery (some twice, as real senders do) from 8 concurrent clients."""
    url = f"{base_url}/hooks/{SLUG}/yclients/{token}"
    plan = [d for i, d in enumerate(deliveries) for _ in range(2 if i % duplicate_every == 0 else 1)]
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=8))

    def send(body: dict[str, Any]) -> str:
        response = session.post(url, json=body, timeout=30)
        return response.json().get("status", str(response.status_code)) if response.ok else str(response.status_code)

    outcomes: Counter = Counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = pool.map(send, plan)
        for outcome in tqdm(answers, total=len(plan), desc="posting", unit=" req", leave=False, disable=None):
            outcomes[outcome] += 1
    return outcomes


def wait_until_processed(svc: Services, timeout_s: float = 600) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    with tqdm(desc="processing", unit=" events", leave=False, disable=None) as bar:
        while time.monotonic() < deadline:
            by_status = stats.events_by_status(svc.store)
            bar.n = sum(n for s, n in by_status.items() if s not in PENDING)
            bar.total = sum(by_status.values())
            bar.refresh()
            if not any(by_status.get(s) for s in PENDING) and svc.queue.depth() == 0:
                return by_status
            time.sleep(0.5)
    raise click.ClickException("events were still pending after 10 minutes; see the log in the instance folder")


def wait_healthy(base_url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).ok:
                return
        except requests.RequestException:  # not listening yet, or a worker still booting
            pass
        time.sleep(0.3)
    raise click.ClickException("the web server did not become healthy")


def run_demo(*, instance: Path, clients: int, seed: int) -> int:
    settings, token = prepare(instance.resolve())
    import os

    os.environ[TOKEN_ENV] = token
    svc = Services.build(settings, migrate=True)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    supervisor = Supervisor(svc.settings, bind=f"127.0.0.1:{port}", workers=2, log_file=instance / "salonbridge.log")
    supervisor.start()
    try:
        wait_healthy(base_url)
        deliveries = synthetic.generate(seed=seed, clients=clients)
        click.echo(f"synthetic salon: {clients} clients, {len(deliveries)} webhook deliveries (seed {seed})")
        started = time.monotonic()
        posted = post_all(base_url, token, deliveries)
        by_status = wait_until_processed(svc)
        elapsed = time.monotonic() - started
        failed = svc.queue.rq.failed_job_registry.count + by_status.get("invalid", 0)
        _print_summary(svc, posted, by_status, failed, elapsed)
        return 0 if failed == 0 and not posted.keys() - {"accepted", "duplicate"} else 1
    finally:
        supervisor.stop()
        svc.close()


def _print_summary(svc: Services, posted: Counter, by_status: dict[str, int], failed: int, elapsed: float) -> None:
    counts = stats.counts(svc.store, SLUG)
    click.echo(f"events accepted:       {posted.get('accepted', 0)}")
    click.echo(f"duplicates ignored:    {posted.get('duplicate', 0)}")
    others = {k: v for k, v in posted.items() if k not in ("accepted", "duplicate")}
    if others:
        click.echo(f"rejected deliveries:   {others}")
    click.echo(f"out-of-order dropped:  {by_status.get('stale', 0)}")
    click.echo(f"clients:               {counts['clients']}")
    visits = counts["visits"]
    by_status_text = ", ".join(f"{k} {v}" for k, v in sorted(visits.items()))
    click.echo(f"visits:                {sum(visits.values())} ({by_status_text})")
    click.echo(f"jobs failed:           {failed}")
    click.echo(f"took:                  {elapsed:.1f} s")
