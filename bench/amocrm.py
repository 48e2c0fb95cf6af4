"""amoCRM drain: a backlog of actions applied to the sandbox by several workers, within 7 requests/s.

Two tenants on the same amoCRM account (so their workers share one limiter) each get half of the
backlog; three RQ worker processes drain it. The baseline is the ceiling itself: 7 requests/s.
Prints ``utilization=<req/s seen by amoCRM while draining ÷ 7> calls_per_action=… n429=… max_in_1s=…``.
Goal: utilization ≥ 0.95, calls per action well under 1, no 429. Runs on 127.0.0.1 and stops by itself.

``--faults``: the same drain while amoCRM answers 5 % of requests 5xx, 2 % only after the client's 20 s
read timeout (processed, answer lost) and 1 % 429 in bursts of five; goal utilization ≥ 0.80 and no 429
beyond the injected ones.

``--trickle``: a salon's normal days instead of a backlog — the synthetic salon's year of deliveries
replayed on a virtual clock, each received and processed at the moment YCLIENTS sends it, with the
amoCRM sync queued once the tenant's work has been quiet for ``SALONBRIDGE_CRM_COALESCE_S``. Prints
``calls_per_event=…`` (amoCRM requests ÷ deliveries, for the deliveries' own work; goal ≤ 1.2), then the
same year with the clock's work too (wake-ups, due messages and their notes) as ``install_calls_per_event``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

CEILING = 7.0
TENANT = """slug: {slug}
name: Bench {slug}
timezone: Europe/Kyiv
branches: [{{id: "1", name: Main}}]
booking: {{source: generic, webhook_token_env: BENCH_TOKEN}}
amocrm: {{base_url: "{url}", long_lived_token_env: BENCH_AMO_TOKEN}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def backlog(svc, slug: str, clients: int, now: datetime) -> int:
    """Per client: contact, Sales lead, a lead move, a task and a note — the mix one first visit causes."""
    from bridge.store import actions as recorded
    from bridge.store.models import Client
    from pipelines.actions import AddNote, CreateLead, CreateTask, MoveLead, TaskKind, UpsertContact
    from pipelines.stages import Outcome, Pipeline

    total = 0
    with svc.store.session() as s:
        for i in range(clients):
            client = Client(tenant=slug, name=f"Client {i}", phone=f"+38067{2000000 + i:07d}", created_at=now,
                            updated_at=now, tags=[])
            s.add(client)
            s.flush()
            cid = str(client.id)
            lead = f"lead:{slug}:{cid}"
            actions = [
                UpsertContact(key=f"contact:{cid}", client_id=cid, name=client.name, phone=client.phone),
                CreateLead(key=lead, client_id=cid, pipeline=Pipeline.SALES, stage="first_booking", name=client.name),
                MoveLead(key=f"won:{cid}", client_id=cid, pipeline=Pipeline.SALES, lead_key=lead, stage="won",
                         outcome=Outcome.WON),
                CreateTask(key=f"task:{cid}", client_id=cid, task_kind=TaskKind.PERIODIC,
                           text="Invite for a repeat visit", deadline=now + timedelta(days=21), lead_key=lead),
                AddNote(key=f"note:{cid}", client_id=cid, text="First visit completed", lead_key=lead),
            ]
            total += len(recorded.record(s, slug, None, client.id, actions, now).fresh)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="a small, quick run (CI)")
    parser.add_argument("--actions", type=int, default=None, help="backlog size (default 2000, smoke 300)")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--faults", action="store_true", help="5 %% 5xx, 2 %% slow, 1 %% 429 in bursts")
    parser.add_argument("--trickle", action="store_true", help="events one at a time: amoCRM calls per event")
    parser.add_argument("--clients", type=int, default=None, help="--trickle: clients of the synthetic salon (40)")
    parser.add_argument("--journal", type=Path, help="write the sandbox's request journal here (JSON), to see "
                        "where the drain's time went")
    args = parser.parse_args()
    if args.trickle or args.smoke:
        trickle(clients=args.clients or (3 if args.smoke else 40), journal=args.journal if args.trickle else None)
        if args.trickle:
            return
    total_actions = args.actions or (300 if args.smoke else 2000)

    from bridge.amocrm.provisioning import run_setup
    from bridge.services import Services
    from config.logging import configure_logging
    from config.settings import Settings

    with tempfile.TemporaryDirectory(prefix="sb-bench-amo-") as tmp:
        root = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sandbox = subprocess.Popen([sys.executable, "-m", "salonbridge", "sandbox", "--port", str(port), "--state",
                                    str(root / "sandbox.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: list[subprocess.Popen] = []
        svc = None
        try:
            wait_for(f"{url}/_sandbox/stats")
            token = requests.post(f"{url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
            os.environ.update(BENCH_AMO_TOKEN=token["access_token"], BENCH_TOKEN="x")
            (root / "tenants").mkdir()
            slugs = ("bench-a", "bench-b")
            for slug in slugs:
                (root / "tenants" / f"{slug}.yaml").write_text(TENANT.format(slug=slug, url=url), encoding="utf-8")
            own = {"SALONBRIDGE_INSTANCE": str(root), "SALONBRIDGE_LOG_LEVEL": "WARNING",
                   "SALONBRIDGE_TENANTS": str(root / "tenants")}
            settings = Settings.from_env({**os.environ, **own})
            configure_logging(settings)  # RQ as quiet as in a salonbridge process
            svc = Services.build(settings, migrate=True)
            for slug in slugs:
                run_setup(svc.tenants[slug], svc)
            now = datetime.now(UTC)
            queued = sum(backlog(svc, slug, total_actions // 10, now) for slug in slugs)
            requests.post(f"{url}/_sandbox/reset", json={"data": False, "stats": True, "limits": True}, timeout=5)
            injected = 0
            if args.faults:
                requests.post(f"{url}/_sandbox/faults", json={"error_rate": 0.05, "slow_rate": 0.02, "seed": 3},
                              timeout=5).raise_for_status()
            env = {**os.environ, **svc.settings.to_env()}
            workers = [
                subprocess.Popen([sys.executable, "-m", "salonbridge", "worker"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(args.workers)
            ]
            elapsed, injected = drain_backlog(svc, slugs, url, injected, args.faults)
            stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
            if args.journal:
                args.journal.write_text(requests.get(f"{url}/_sandbox/requests", timeout=30).text, encoding="utf-8")
        finally:
            for proc in workers:  # workers first: a job they finish still has its amoCRM to talk to
                proc.terminate()
            for proc in workers:
                proc.wait(timeout=30)
            sandbox.terminate()
            sandbox.wait(timeout=20)
            if svc is not None:
                svc.close()
    calls = stats["total_requests"]
    seconds = [int(s) for s in stats["per_second"]]
    span = max(seconds) - min(seconds) + 1  # as amoCRM sees it: first to last second with a request
    rate = calls / span
    print(f"actions={queued} calls={calls} drain_seconds={span} wall_seconds={elapsed:.1f} workers={args.workers} "
          f"ceiling={CEILING:.0f}/s")
    print(f"utilization={rate / CEILING:.2f} calls_per_action={calls / queued:.3f} "
          f"n429={stats['rate_limited_429']} injected_429={injected} max_in_1s={stats['max_requests_in_1s']}")
    if stats["rate_limited_429"] > injected:
        raise SystemExit("amoCRM answered 429: the shared limiter let too much through")


def drain_backlog(svc, slugs: tuple[str, ...], url: str, injected: int, faults: bool) -> tuple[float, int]:
    """Queue the syncs and re-queue them as the clock would until nothing is pending; with ``faults``, a
    burst of five 429s per ~500 requests (1 % of them). Returns (seconds, 429s injected)."""
    from jobs.crm_sync import pending

    started = time.monotonic()
    for slug in slugs:
        svc.queue.enqueue_crm_sync(slug)
    while any(pending(svc, slug) for slug in slugs):
        if time.monotonic() > started + 600:
            raise SystemExit("the backlog was not drained within 10 minutes")
        for slug in slugs:  # as the clock does: a sync job that finished early is queued again
            svc.queue.enqueue_crm_sync(slug)
        if faults and requests.get(f"{url}/_sandbox/stats", timeout=5).json()["total_requests"] >= injected * 100:
            requests.patch(f"{url}/_sandbox/faults", json={"burst_429": 5}, timeout=5)
            injected += 5
        time.sleep(0.5)
    return time.monotonic() - started, injected


def trickle(clients: int, journal: Path | None = None) -> None:
    """The issue's figure first: each delivery's own amoCRM work with events arriving one at a time (the
    clock's wake-ups and messages left out, so every call is one a delivery caused); then the same year
    as an install lives it, the clock's work included, to show what the rest of the day adds."""
    events, calls, clock = _replay(clients, clock_work=False)
    print(f"trickle: events={events} calls={calls} calls_per_event={calls / events:.2f} "
          f"window={clock.window.total_seconds():.0f}s syncs={clock.syncs} "
          f"({clock.joined} carried more than one delivery's work)")
    events, calls, clock = _replay(clients, clock_work=True, journal=journal)
    c = clock.calls
    print(f"as an install: calls={calls} install_calls_per_event={calls / events:.2f}: "
          f"{c['event']} in syncs of deliveries' work only, {c['clock']} of the clock's wake-ups and message "
          f"notes only, {c['both']} of both, {c['messages']} sending messages (Salesbot); amoCRM actions applied: "
          f"{clock.actions['event']} from deliveries, {clock.actions['clock']} from the clock")


def _replay(clients: int, clock_work: bool, journal: Path | None = None) -> tuple[int, int, VirtualClock]:
    """The synthetic salon's year on a virtual clock: each delivery is received and processed at the moment
    YCLIENTS sends it, and the amoCRM sync of ``jobs.clock.sync_crm_backlog`` runs once a tenant's work has
    been quiet for the coalescing window. With ``clock_work`` the clock's own work also runs at the instants
    it would: the playbook's wake-ups and due messages (Salesbot launches). Returns the deliveries, the
    amoCRM requests they led to, and the clock with its counts."""
    from bridge import intake
    from bridge.amocrm.provisioning import run_setup
    from bridge.services import Services
    from config.logging import configure_logging
    from config.settings import Settings
    from jobs import context
    from jobs.process_event import handle_event
    from salonbridge import synthetic

    with tempfile.TemporaryDirectory(prefix="sb-bench-trickle-") as tmp:
        root = Path(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        sandbox = subprocess.Popen([sys.executable, "-m", "salonbridge", "sandbox", "--port", str(port), "--state",
                                    str(root / "sandbox.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        svc = None
        try:
            wait_for(f"{url}/_sandbox/stats")
            token = requests.post(f"{url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
            os.environ.update(BENCH_AMO_TOKEN=token["access_token"], BENCH_TOKEN="x" * 24)
            (root / "tenants").mkdir()
            (root / "tenants" / "day.yaml").write_text(
                synthetic.tenant_yaml("day", "BENCH_TOKEN", url, "BENCH_AMO_TOKEN"), encoding="utf-8")
            settings = Settings.from_env({**os.environ, "SALONBRIDGE_INSTANCE": str(root),
                                          "SALONBRIDGE_LOG_LEVEL": "WARNING",
                                          "SALONBRIDGE_TENANTS": str(root / "tenants")})
            configure_logging(settings)  # RQ as quiet as in a salonbridge process
            svc = Services.build(settings, migrate=True)
            context.install(svc)
            tenant = svc.tenants["day"]
            run_setup(tenant, svc)
            requests.post(f"{url}/_sandbox/reset", json={"data": False, "stats": True, "limits": True}, timeout=5)
            bodies = synthetic.generate(seed=7, clients=clients)
            clock = VirtualClock(svc, tenant, url, clock_work)
            for body in bodies:
                at = _sent_at(body)
                clock.run_until(at)  # what the clock does before this delivery arrives
                receipt = intake.receive(svc.store, svc.queue, tenant, "yclients", body, at)
                handle_event(svc, receipt.event_id, at)
            clock.run_until(clock.now + clock.window * 6)  # the last sync (not the wake-ups after it)
            stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
            if journal:
                journal.write_text(requests.get(f"{url}/_sandbox/requests", timeout=30).text, encoding="utf-8")
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=20)
            if svc is not None:
                svc.close()
    return len(bodies), stats["total_requests"], clock


def _sent_at(body: dict) -> datetime:
    """When YCLIENTS sends this delivery: the record's last change."""
    return datetime.strptime(body["data"]["last_change_date"], "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


class VirtualClock:
    """The clock's schedule replayed on virtual time: at each instant something falls due (a client's
    wake-up, a message's send time, a tenant's amoCRM sync by ``jobs.clock.crm_sync_at``), it is done then,
    with that instant as ``now``. Counts the sandbox's requests per kind of work."""

    def __init__(self, svc, tenant, url: str, clock_work: bool = True) -> None:
        self.svc, self.tenant, self.url, self.clock_work = svc, tenant, url, clock_work
        self.window = timedelta(seconds=svc.settings.crm_coalesce_s)
        self.now = datetime.min.replace(tzinfo=UTC)
        self.syncs = self.joined = 0
        self.calls = {"sync": 0, "event": 0, "clock": 0, "both": 0, "messages": 0}
        self.actions = {"event": 0, "clock": 0}
        self._stuck: tuple | None = None  # the backlog a sync could not move: not synced again until it changes

    def run_until(self, until: datetime) -> None:
        from jobs.due import run_due
        from jobs.messages import send_due

        while True:
            sync_at = self._next_sync()
            wake_at, send_at = (self._next(_wake_at), self._next(_message_at)) if self.clock_work else (None, None)
            at = min((t for t in (sync_at, wake_at, send_at) if t is not None), default=None)
            if at is None or at > until:
                self.now = max(self.now, until)
                return
            self.now = max(self.now, at)
            if sync_at is not None and sync_at <= at:
                self._sync()
            if wake_at is not None and wake_at <= at:
                run_due(self.svc, self.now)
            if send_at is not None and send_at <= at:
                before = self._total()
                if not send_due(self.svc, self.now) and self._next(_message_at) == send_at:
                    raise SystemExit(f"a message due at {send_at} neither went out nor moved on")
                self.calls["messages"] += self._total() - before

    def _sync(self) -> None:
        from jobs.crm_sync import drain

        origins = _pending_origins(self.svc, self.tenant.slug)
        before = self._total()
        report = drain(self.svc, self.tenant, self.now)
        sent = self._total() - before
        self.syncs += 1
        self.calls["sync"] += sent
        kind = "both" if len(origins["kinds"]) > 1 else next(iter(origins["kinds"]), "event")
        self.calls[kind] += sent
        self.joined += len(origins["events"]) > 1
        if report.paused or report.done + report.failed + report.skipped == 0:
            self._stuck = self._span()  # waits for something else (a lead, a pause): not before new work
        done = _applied_origins(self.svc, self.tenant.slug)
        self.actions.update(done)

    def _next_sync(self) -> datetime | None:
        span = self._span()
        if span is None or span == self._stuck:
            return None
        from jobs.clock import crm_sync_at

        return crm_sync_at(*span, self.window)

    def _span(self) -> tuple[datetime, datetime] | None:
        from bridge.store import crm_queue

        span = crm_queue.backlog_span(self.svc.store).get(self.tenant.slug)
        return None if span is None else (_aware(span[0]), _aware(span[1]))

    def _next(self, query) -> datetime | None:
        with self.svc.store.session() as s:
            at = s.execute(query(self.tenant.slug)).scalar()
        return None if at is None else _aware(at)

    def _total(self) -> int:
        return requests.get(f"{self.url}/_sandbox/stats", timeout=5).json()["total_requests"]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _wake_at(tenant: str):
    from sqlalchemy import func, select

    from bridge.store.models import Client

    return select(func.min(Client.wake_at)).where(Client.tenant == tenant)


def _message_at(tenant: str):
    from sqlalchemy import func, select

    from bridge.store.models import MessageRow

    return select(func.min(MessageRow.send_at)).where(MessageRow.tenant == tenant, MessageRow.state == "scheduled")


def _pending_origins(svc, tenant: str) -> dict[str, set]:
    """What the pending amoCRM work comes from: deliveries (their event ids) or the clock."""
    from sqlalchemy import select

    from bridge.store.effects import CRM_KINDS
    from bridge.store.models import AppliedAction

    with svc.store.session() as s:
        rows = s.execute(select(AppliedAction.event_id).where(
            AppliedAction.tenant == tenant, AppliedAction.state == "pending", AppliedAction.kind.in_(CRM_KINDS))).all()
    events = {r.event_id for r in rows if r.event_id is not None}
    kinds = {"event" if r.event_id is not None else "clock" for r in rows}
    return {"events": events, "kinds": kinds}


def _applied_origins(svc, tenant: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from bridge.store.effects import CRM_KINDS
    from bridge.store.models import AppliedAction

    with svc.store.session() as s:
        rows = s.execute(select(AppliedAction.event_id.is_(None), func.count()).where(
            AppliedAction.tenant == tenant, AppliedAction.state != "pending", AppliedAction.kind.in_(CRM_KINDS))
            .group_by(AppliedAction.event_id.is_(None))).all()
    return {("clock" if by_clock else "event"): n for by_clock, n in rows}


if __name__ == "__main__":
    main()
