"""``salonbridge demo``: the whole system on embedded defaults, a synthetic salon, and the amoCRM sandbox.

Starts the sandbox, provisions it (`setup`), runs web + workers, posts a synthetic year of YCLIENTS
webhooks through the real HTTP endpoint, then makes the clock's first pass (the playbook's time-based
step, an amoCRM sync, the messages now due, a sync of their notes) before it starts the clock itself,
then two bookings that ask for a prepayment (one paid at the fake
LiqPay, one expired: ``demo_prepayment``), and prints what an amoCRM user would now see.

Same seed, same figures: each client's deliveries go through one sender, in order, the next only once
the previous one is processed (so no event overtakes another of the same client), and the clock's
decisions are all made once the whole year is in, in a fixed order, instead of mid-way at whatever
moment a tick falls.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sys
import threading
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
KINDS = ("pipeline", "stage", "field", "webhook")  # what setup creates, in the summary's order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(instance: Path, amocrm_url: str, public_url: str, pay_url: str | None = None) -> Settings:
    """A fresh instance folder with the demo tenant; the webhook token (and, with a payment sandbox at
    ``pay_url``, the LiqPay keys) go into the environment.

    ``public_url`` is the demo's own web server, so the links in messages, LiqPay's callback and the
    amoCRM webhook lead there."""
    if instance.exists():
        shutil.rmtree(instance)
    tenants = instance / "tenants"
    tenants.mkdir(parents=True)
    extra = demo_prepayment.tenant_section(pay_url) if pay_url else ""
    (tenants / f"{SLUG}.yaml").write_text(synthetic.tenant_yaml(SLUG, TOKEN_ENV, amocrm_url, AMO_TOKEN_ENV, extra),
                                          encoding="utf-8")
    os.environ[TOKEN_ENV] = secrets.token_urlsafe(24)
    env = {"SALONBRIDGE_INSTANCE": str(instance), "SALONBRIDGE_TENANTS": str(tenants),
           "SALONBRIDGE_LOG_LEVEL": "WARNING", "SALONBRIDGE_PUBLIC_URL": public_url}
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


def post_all(base_url: str, deliveries: list[dict[str, Any]], processed: Callable[[int], bool],
             senders: int = 8, duplicate_every: int = 20) -> Counter:
    """POST every delivery (some twice, as real senders do) from ``senders`` concurrent clients.

    Each client's deliveries go through the same sender in order, and each waits until ``processed``
    says the client's previous event is done: two workers never see two events of one client at once,
    so the outcome does not depend on which worker is quicker.
    """
    url = f"{base_url}/hooks/{SLUG}/yclients/{os.environ[TOKEN_ENV]}"
    lanes: list[list[tuple[int, dict[str, Any]]]] = [[] for _ in range(senders)]
    for i, body in enumerate(deliveries):
        client = int((body.get("data") or {}).get("client", {}).get("id") or 0)
        lanes[client % senders].extend([(client, body)] * (2 if i % duplicate_every == 0 else 1))
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=senders))
    bar = tqdm(total=sum(map(len, lanes)), desc="posting", unit=" req", leave=False, disable=None)

    stop = threading.Event()  # Ctrl-C: the senders leave at their next step

    def send(lane: list[tuple[int, dict[str, Any]]]) -> Counter:
        outcomes: Counter = Counter()
        last: dict[int, int] = {}
        for client, body in lane:
            deadline = time.monotonic() + 300
            while client in last and not processed(last[client]):
                if stop.wait(0.05):
                    return outcomes
                if time.monotonic() > deadline:
                    raise click.ClickException("an event was not processed within 300 s; see the instance's log")
            if stop.is_set():
                return outcomes
            response = session.post(url, json=body, timeout=30)
            answer = response.json() if response.ok else {}
            outcomes[answer.get("status", str(response.status_code))] += 1
            if answer.get("event_id"):
                last[client] = int(answer["event_id"])
            bar.update(1)
        return outcomes

    pool = ThreadPoolExecutor(max_workers=senders)
    try:
        totals = sum(pool.map(send, lanes), Counter())
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return totals


def event_processed(svc: Services) -> Callable[[int], bool]:
    from sqlalchemy import select

    from bridge.store.models import InboundEvent

    def processed(event_id: int) -> bool:
        with svc.store.session() as s:
            return s.scalar(select(InboundEvent.status).where(InboundEvent.id == event_id)) not in PENDING

    return processed


def wait_for_workers(svc: Services, timeout_s: float = 600) -> None:
    """Until the queue is empty and no job is running."""
    rq = svc.queue.rq

    def idle() -> bool:
        return rq.count == 0 and rq.started_job_registry.count == 0

    # twice, a moment apart: a job just taken from the queue is not in the started registry yet
    wait_until(lambda: idle() and (time.sleep(0.3) or idle()), timeout_s, "the workers' queue emptying")


def clock_first_pass(svc: Services) -> None:
    """What the clock's first tick does, in a fixed order, each step waited for: clients whose wake-up
    has come (repeat visits due, Lost clients), an amoCRM sync, the messages due, a sync of their notes."""
    from datetime import UTC, datetime

    from jobs.crm_sync import pending
    from jobs.due import enqueue_due
    from jobs.messages import send_due

    def sync() -> None:
        if pending(svc, SLUG, limit=1):
            svc.queue.enqueue_crm_sync(SLUG)
        wait_until(lambda: not pending(svc, SLUG, limit=1) and svc.queue.rq.count == 0, 1800, "the amoCRM sync")
        wait_for_workers(svc)

    while enqueue_due(svc, datetime.now(UTC)):
        wait_for_workers(svc)
    sync()
    while send_due(svc, datetime.now(UTC)):
        pass
    sync()


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
    amocrm_url, base_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{web_port}"
    settings = prepare(instance, amocrm_url, base_url, pay_url)
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
        supervisor.start(clock=False)  # the clock starts once the year is in (see clock_first_pass)
        wait_until(lambda: requests.get(f"{base_url}/healthz", timeout=2).ok, 30, "the web server start")
        started = time.monotonic()
        posted = post_all(base_url, deliveries, event_processed(svc))
        wait_for_workers(svc)
        clock_first_pass(svc)
        supervisor.start_clock()
        wait_until_settled(svc, timeout_s=1800)
        posted.update(post_all(base_url, demo_prepayment.bookings(datetime.now(UTC)), event_processed(svc),
                               duplicate_every=10**6))
        paid_bookings = demo_prepayment.pay_and_expire(svc, SLUG, wait_until)
        by_status = wait_until_settled(svc, timeout_s=300)
        from salonbridge.report import print_summary

        failed = print_summary(svc, SLUG, posted, by_status, amocrm_url, time.monotonic() - started)
        demo_prepayment.print_prepayments(paid_bookings)
        if not serve:
            click.echo("\nadd --serve to keep the web app, a client's page and the amoCRM board running to browse them")
            return 0 if failed == 0 else 1
        page = client_page_link(svc, base_url)
        click.echo(f"\nweb app           {base_url}/   (sign in after: SALONBRIDGE_INSTANCE={instance} "
                   f"SALONBRIDGE_TENANTS={instance / 'tenants'} salonbridge users add NAME --role admin)")
        click.echo(f"a client's page   {page}")
        click.echo(f"amoCRM board      {amocrm_url}/")
        click.echo("running; Ctrl-C stops everything", err=True)
        supervisor.wait()
        return 0 if failed == 0 else 1
    except KeyboardInterrupt:
        click.echo("stopping…", err=True)
        return 130
    finally:
        supervisor.stop()
        if svc is not None:
            svc.close()


def client_page_link(svc: Services, base_url: str) -> str:
    """A signed link to the page of the client with the most visits, as a message would carry it; checked
    to answer before it is printed."""
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from bridge.messaging.links import client_link
    from bridge.store.models import Visit
    from jobs.messages import LINK_LIFETIME

    with svc.store.session() as s:
        client_id = s.scalar(select(Visit.client_id).where(Visit.tenant == SLUG, Visit.client_id.is_not(None))
                             .group_by(Visit.client_id).order_by(func.count().desc(), Visit.client_id).limit(1))
    link = client_link(svc.settings.secret_key, base_url, SLUG, str(client_id), "client-page",
                       datetime.now(UTC) + LINK_LIFETIME)
    answer = requests.get(link, timeout=10)
    if answer.status_code != 200:
        raise click.ClickException(f"the client's page answered {answer.status_code}; see the instance folder's log")
    return link


def _setup(svc: Services) -> None:
    from bridge.amocrm.provisioning import run_setup

    report = run_setup(svc.tenants[SLUG], svc)
    created = Counter(item.kind for item in report.items if str(item.action) == "created")
    made = [f"{created[kind]} {kind}{'s' if created[kind] != 1 else ''}" for kind in KINDS if created[kind]]
    click.echo("amoCRM sandbox provisioned: " + (", ".join(made[:-1]) + " and " + made[-1] if len(made) > 1
                                                 else "".join(made) or "nothing") + " created")


def _dry_run(instance: Path, deliveries: list[dict[str, Any]]) -> int:
    import json

    from salonbridge.dryrun import dry_run, summarize

    settings = prepare(instance, "http://127.0.0.1:9", "http://127.0.0.1:8000")
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
