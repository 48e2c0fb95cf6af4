"""``salonbridge demo``: the whole system on embedded defaults, a synthetic salon, and the amoCRM sandbox.

Starts the sandbox, provisions it (`setup`), runs web + workers + clock, posts a synthetic year of
YCLIENTS webhooks through the real HTTP endpoint, waits until every event is processed and every
amoCRM action applied, then two bookings that ask for a prepayment (one paid at the fake LiqPay, one
expired: ``demo_prepayment``), and prints what an amoCRM user would now see.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import time
from collections import ChainMap, Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import requests
from tqdm import tqdm

from bridge.services import Services
from bridge.store import stats
from config.settings import Settings
from payment_sandbox import running as payment_sandbox
from salonbridge import demo_prepayment, synthetic
from salonbridge.supervisor import Supervisor

SLUG = "demo"
TOKEN_ENV = "SALONBRIDGE_DEMO_WEBHOOK_TOKEN"
AMO_TOKEN_ENV = "SALONBRIDGE_DEMO_AMO_TOKEN"
PENDING = ("received", "processing", "retry")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(instance: Path, amocrm_url: str, pay_url: str | None = None, public_url: str | None = None) -> Settings:
    """A fresh instance folder with the demo tenant; the webhook token (and, with a payment sandbox at
    ``pay_url``, the LiqPay keys) go into the environment."""
    if instance.exists():
        shutil.rmtree(instance)
    tenants = instance / "tenants"
    tenants.mkdir(parents=True)
    extra = demo_prepayment.tenant_section(pay_url) if pay_url else ""
    (tenants / f"{SLUG}.yaml").write_text(synthetic.tenant_yaml(SLUG, TOKEN_ENV, amocrm_url, AMO_TOKEN_ENV, extra),
                                          encoding="utf-8")
    os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
    env = {"SALONBRIDGE_INSTANCE": str(instance), "SALONBRIDGE_TENANTS": str(tenants),
           "SALONBRIDGE_LOG_LEVEL": "WARNING"}
    if public_url:
        env["SALONBRIDGE_PUBLIC_URL"] = public_url  # where LiqPay calls back
    return Settings.from_env(ChainMap(env, os.environ))  # live: the sandbox token is set further on


def wait_until(ready: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = ready()
        except requests.RequestException:  # not listening yet, or a worker still booting
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise click.ClickException(f"{what} did not happen within {timeout_s:.0f} s; see the log in the instance folder")


def post_all(base_url: str, deliveries: list[dict[str, Any]], duplicate_every: int = 20) -> Counter:
    """POST every delivery (some twice, as real senders do) from 8 concurrent clients."""
    url = f"{base_url}/hooks/{SLUG}/yclients/{os.environ[TOKEN_ENV]}"
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


def wait_until_settled(svc: Services, timeout_s: float) -> dict[str, int]:
    """Until every event is processed, every amoCRM action applied and every due message sent."""
    from jobs.crm_sync import pending
    from salonbridge.report import due_messages

    deadline = time.monotonic() + timeout_s
    with tqdm(desc="settling", unit=" items", leave=False, disable=None) as bar:
        while time.monotonic() < deadline:
            by_status = stats.events_by_status(svc.store)
            open_events = sum(by_status.get(s, 0) for s in PENDING)
            crm = len(pending(svc, SLUG))
            messages = due_messages(svc, SLUG)
            bar.set_postfix(events=open_events, amocrm=crm, messages=messages)
            bar.update(0)
            if not (open_events or crm or messages or svc.queue.depth()):
                return by_status
            time.sleep(1)
    raise click.ClickException("work was still pending after the timeout; see the log in the instance folder")


def run_demo(*, instance: Path, clients: int, seed: int, dry_run: bool = False, serve: bool = False) -> int:
    instance = instance.resolve()
    deliveries = synthetic.generate(seed=seed, clients=clients)
    click.echo(f"synthetic salon: {clients} clients, {len(deliveries)} YCLIENTS webhook deliveries (seed {seed})")
    if dry_run:
        return _dry_run(instance, deliveries)
    private_key = secrets.token_urlsafe(24)
    os.environ[demo_prepayment.PUBLIC_ENV], os.environ[demo_prepayment.PRIVATE_ENV] = (
        demo_prepayment.PUBLIC_KEY, private_key)
    with payment_sandbox({demo_prepayment.PUBLIC_KEY: private_key}) as pay_url:
        return _run(instance, deliveries, pay_url, serve)


def _run(instance: Path, deliveries: list[dict[str, Any]], pay_url: str, serve: bool) -> int:
    sandbox_port, web_port = free_port(), free_port()
    amocrm_url = f"http://127.0.0.1:{sandbox_port}"
    base_url = f"http://127.0.0.1:{web_port}"
    settings = prepare(instance, amocrm_url, pay_url, base_url)
    supervisor = Supervisor(settings, bind=f"127.0.0.1:{web_port}", workers=2, log_file=instance / "salonbridge.log")
    supervisor.spawn("sandbox", [sys.executable, "-m", "salonbridge", "sandbox", "--port", str(sandbox_port),
                                 "--state", str(instance / "amocrm-sandbox.json")])
    svc: Services | None = None
    try:
        token = wait_until(lambda: requests.post(f"{amocrm_url}/_sandbox/tokens", json={"action": "long_lived"},
                                                 timeout=2).json()["access_token"], 30, "the amoCRM sandbox start")
        os.environ[AMO_TOKEN_ENV] = token
        svc = Services.build(settings, migrate=True)
        _setup(svc)
        supervisor.settings = svc.settings
        supervisor.start()
        wait_until(lambda: requests.get(f"{base_url}/healthz", timeout=2).ok, 30, "the web server start")
        started = time.monotonic()
        posted = post_all(base_url, deliveries)
        wait_until_settled(svc, timeout_s=1800)
        posted.update(post_all(base_url, demo_prepayment.bookings(datetime.now(UTC)), duplicate_every=10**6))
        paid_bookings = demo_prepayment.pay_and_expire(svc, SLUG, wait_until)
        by_status = wait_until_settled(svc, timeout_s=300)
        from salonbridge.report import print_summary

        failed = print_summary(svc, SLUG, posted, by_status, amocrm_url, time.monotonic() - started)
        demo_prepayment.print_prepayments(paid_bookings)
        if serve:
            click.echo(f"\nopen the board: {amocrm_url}/   (Ctrl-C stops everything)")
            click.echo(f"the dashboard: {base_url}/ (first: SALONBRIDGE_INSTANCE={instance} "
                       f"SALONBRIDGE_TENANTS={instance / 'tenants'} salonbridge users add NAME --role admin)")
            supervisor.wait()
        return 0 if failed == 0 else 1
    finally:
        supervisor.stop()
        if svc is not None:
            svc.close()


def _setup(svc: Services) -> None:
    from bridge.amocrm.provisioning import run_setup

    report = run_setup(svc.tenants[SLUG], svc)
    created = sum(1 for item in report.items if str(item.action) == "created")
    click.echo(f"amoCRM sandbox provisioned: {created} pipelines, stages and fields created")


def _dry_run(instance: Path, deliveries: list[dict[str, Any]]) -> int:
    import json

    from salonbridge.dryrun import dry_run, summarize

    settings = prepare(instance, "http://127.0.0.1:9")
    lines = (json.dumps({"tenant": SLUG, "source": "yclients", "body": d}) for d in deliveries)
    planned = []
    for number, plan in tqdm(dry_run(settings, lines, SLUG, "yclients"), total=len(deliveries), desc="planning",
                             leave=False, disable=None):
        planned.append(plan)
        if number <= 12:
            click.echo(f"delivery {number}:")
            for line in plan:
                click.echo(f"  {line}")
    counts = summarize(planned)
    click.echo("… (first 12 deliveries shown)\nplanned in total, nothing sent:")
    for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        click.echo(f"  {kind:<16} {n}")
    return 0
