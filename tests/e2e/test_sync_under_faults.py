"""The same salon day synced twice, to a clean amoCRM and to one that answers 5 % 5xx, 2 % too late for
the client's timeout and a burst of ten 429s: the two amoCRM accounts end identical, no note is written
twice, and the faulty run costs about the same number of requests amoCRM actually carried out.

Two tenants on two sandboxes in one install, fed the same booking webhooks at the same instant; each
client's events are synced as they come (a salon's normal, trickling day)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
import requests

from amocrm_sandbox import create_sandbox_app
from bridge import intake
from bridge.amocrm.connect import client_for
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from jobs.crm_sync import PATIENCE, drain, pending
from jobs.worker import run_worker
from tests.conftest import TENANT_YAML
from tests.e2e.test_playbook_sandbox import booking
from tests.fakes.http import serve

pytestmark = pytest.mark.slow
CLIENTS = 8
MARKER = re.compile(r"\s*#[0-9a-f]{8}$")  # our exactly-once marker names store ids, which differ per tenant


@pytest.fixture
def two_salons(settings, tmp_path, monkeypatch) -> Iterator[tuple[Services, dict[str, str]]]:
    with ExitStack() as stack:
        urls = {}
        for slug in ("clean", "faulty"):
            app = create_sandbox_app(tmp_path / f"{slug}.json", block_after_429s=None)
            urls[slug] = stack.enter_context(serve(app))
            token = requests.post(f"{urls[slug]}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
            monkeypatch.setenv(f"{slug.upper()}_AMO_TOKEN", token["access_token"])
            text = TENANT_YAML.replace("slug: salon", f"slug: {slug}").replace(
                "  base_url: http://127.0.0.1:9\n",
                f"  base_url: {urls[slug]}\n  long_lived_token_env: {slug.upper()}_AMO_TOKEN\n")
            (settings.tenants_dir / f"{slug}.yaml").write_text(text, encoding="utf-8")
        (settings.tenants_dir / "salon.yaml").unlink()
        svc = Services.build(settings, migrate=True)
        stack.callback(svc.close)
        for slug in urls:
            run_setup(svc.tenants[slug], svc)
        yield svc, urls


def day_of(client: int, now: datetime) -> list[dict]:
    """A client's webhooks: a visit three days ago, booked and then attended; every third client books the
    same category again (the task closes) and cancels that booking (the task is restored)."""
    visit = now - timedelta(days=3)
    person = {"client_id": 880000 + client, "phone": f"+38067555{client:04d}"}
    bodies = [booking(100 + client, when=visit, changed=visit - timedelta(days=5), **person),
              booking(100 + client, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1,
                      **person)]
    if client % 3 == 0:
        again = now + timedelta(days=5)
        bodies += [booking(200 + client, when=again, changed=now - timedelta(minutes=20), **person),
                   booking(200 + client, when=again, changed=now - timedelta(minutes=10), status="delete",
                           deleted=True, **person)]
    return bodies


def sync(svc: Services, slug: str, now: datetime, client=None) -> None:
    for _ in range(40):  # as the clock does: a sync that gave work back is queued again
        drain(svc, svc.tenants[slug], now, client=client)
        if not pending(svc, slug):
            return
    raise AssertionError(f"{slug}: {len(pending(svc, slug))} amoCRM actions still pending")


def account(svc: Services, slug: str) -> dict[str, list]:
    """What an amoCRM user sees, without ids: contacts, leads by stage, tasks and notes."""
    api = client_for(svc.tenants[slug], svc)
    stages = {s["id"]: (p["name"], s["name"]) for p in api.iterate("/api/v4/leads/pipelines", "pipelines")
              for s in p["_embedded"]["statuses"]}

    def text(value: str) -> str:
        return MARKER.sub("", value)

    return {
        "contacts": sorted((c["name"], len(c.get("custom_fields_values") or [])) for c in
                           api.iterate("/api/v4/contacts", "contacts")),
        "leads": sorted((text(lead["name"]), stages[lead["status_id"]], lead.get("price") or 0)
                        for lead in api.iterate("/api/v4/leads", "leads")),
        "tasks": sorted((text(t["text"]), t["complete_till"], t["is_completed"],
                         text((t.get("result") or {}).get("text") or ""))
                        for t in api.iterate("/api/v4/tasks", "tasks")),
        "notes": sorted(text(n["params"].get("text", "")) for n in api.iterate("/api/v4/contacts/notes", "notes")),
    }


def carried_out(url: str) -> tuple[int, int]:
    """(requests amoCRM received, requests it carried out: answered 2xx or processed and answered late)."""
    stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
    done = sum(count for status, count in stats["by_status"].items() if status.startswith("2"))
    return stats["total_requests"], done


def test_a_faulty_amocrm_ends_identical_to_a_clean_one_at_about_the_same_cost(two_salons):
    svc, urls = two_salons
    now = datetime.now(UTC).replace(microsecond=0)
    for url in urls.values():
        requests.post(f"{url}/_sandbox/reset", json={"data": False, "stats": True, "limits": True}, timeout=5)
    requests.post(f"{urls['faulty']}/_sandbox/faults", timeout=5, json={
        "error_rate": 0.05, "slow_rate": 0.02, "slow_seconds": 1.0, "burst_429": 10, "seed": 7,
    }).raise_for_status()
    impatient = client_for(svc.tenants["faulty"], svc, timeout=(3.05, 0.5), **PATIENCE)
    for number in range(CLIENTS):
        for slug in urls:
            for body in day_of(number, now):
                intake.receive(svc.store, svc.queue, svc.tenants[slug], "yclients", body, now)
        run_worker(svc, burst=True)
        sync(svc, "clean", now)
        sync(svc, "faulty", now, client=impatient)

    clean, faulty = account(svc, "clean"), account(svc, "faulty")
    assert len(clean["tasks"]) >= CLIENTS and clean["notes"]
    assert Counter(faulty["notes"]) == Counter(clean["notes"]), "a note went missing or was written twice"
    assert faulty == clean
    (clean_sent, clean_done), (faulty_sent, faulty_done) = carried_out(urls["clean"]), carried_out(urls["faulty"])
    print(f"clean run: {clean_sent} requests; faulty run: {faulty_sent} requests, {faulty_done} carried out")
    assert faulty_sent > clean_sent  # the faults did happen
    assert abs(faulty_done - clean_done) <= 0.1 * clean_done
