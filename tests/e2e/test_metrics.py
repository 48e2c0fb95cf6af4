"""``/metrics`` scraped over HTTP after real work (webhooks over HTTP, workers, an amoCRM sync against the
sandbox with a 429, messages sent and refused, an OAuth token refresh), and ``salonbridge status --json``
giving the same figures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from amocrm_sandbox.options import SandboxOptions
from bridge.amocrm.connect import client_for, token_store
from bridge.amocrm.oauth import TokenResponse
from bridge.services import Services
from jobs.crm_sync import drain
from jobs.messages import send_due
from jobs.worker import run_worker
from salonbridge.cli import main
from tests.conftest import TOKEN
from tests.e2e.conftest import connected_salon
from tests.fakes.http import serve
from tests.helpers import yclients_record
from webhooks.app import create_app

SALESBOT = "rules:\n  channels:\n    salesbot: {bot_id: 1}\n"
Samples = dict[tuple[str, frozenset], float]


@pytest.fixture
def salon(settings, tmp_path, monkeypatch):
    options = SandboxOptions(redirect_uri=f"{settings.public_url}/oauth/salon/callback")
    with connected_salon(settings, tmp_path, monkeypatch, tenant_extra=SALESBOT, options=options) as (svc, amo), \
            serve(create_app(services=svc)) as web:
        yield svc, amo, web


def scrape(web: str) -> Samples:
    text = requests.get(f"{web}/metrics", timeout=10).text
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def booking(record_id: int, client_id: int, phone: str) -> dict:
    when = (datetime.now(UTC) + timedelta(days=3)).astimezone(ZoneInfo("Europe/Kyiv"))
    changed = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S%z")
    return yclients_record(record_id, client_id=client_id, phone=phone, date=when.strftime("%Y-%m-%d %H:%M:%S"),
                           changed=changed)


def post(web: str, body: dict, token: str = TOKEN, tenant: str = "salon") -> int:
    return requests.post(f"{web}/hooks/{tenant}/yclients/{token}", json=body, timeout=10).status_code


def sync(svc: Services) -> None:
    drain(svc, svc.tenants["salon"], datetime.now(UTC))


def test_metrics_after_real_work_and_status_says_the_same(salon):
    svc, amo, web = salon
    first, second = booking(500000001, 777001, "+380671110001"), booking(500000002, 777002, "+380671110002")
    assert [post(web, first), post(web, first), post(web, first, token="wrong"), post(web, first, tenant="nope")] \
        == [202, 200, 404, 404]
    queued = scrape(web)
    assert value(queued, "salonbridge_events_received_total", tenant="salon") == 1
    assert value(queued, "salonbridge_events_duplicate_total", tenant="salon") == 1
    assert value(queued, "salonbridge_events_rejected_total", tenant="salon", status="404") == 1
    assert value(queued, "salonbridge_events_rejected_total", tenant="unknown", status="404") == 1
    assert value(queued, "salonbridge_rq_jobs", state="queued") == 1
    assert value(queued, "salonbridge_events", tenant="salon", status="received") == 1

    run_worker(svc, burst=True)
    processed = scrape(web)
    assert value(processed, "salonbridge_event_latency_seconds_count", tenant="salon") == 1
    assert value(processed, "salonbridge_event_latency_seconds_bucket", tenant="salon", le="+Inf") == 1
    assert value(processed, "salonbridge_rq_jobs", state="queued") == 0
    backlog = value(processed, "salonbridge_amocrm_backlog", tenant="salon")
    assert backlog >= 2  # the contact and its lead at least
    assert value(processed, "salonbridge_amocrm_oldest_pending_age_seconds", tenant="salon") > 0

    requests.patch(f"{amo}/_sandbox/faults", json={"burst_429": 1}, timeout=5).raise_for_status()
    sync(svc)
    synced = scrape(web)
    assert value(synced, "salonbridge_amocrm_backlog", tenant="salon") == 0
    assert value(synced, "salonbridge_amocrm_oldest_pending_age_seconds", tenant="salon") == 0
    assert value(synced, "salonbridge_amocrm_rate_limited_total", tenant="salon") == 1
    assert value(synced, "salonbridge_amocrm_requests_total", tenant="salon", status_class="4xx") == 1
    ok = value(synced, "salonbridge_amocrm_requests_total", tenant="salon", status_class="2xx")
    assert ok >= 2
    assert value(synced, "salonbridge_amocrm_request_duration_seconds_count", tenant="salon") >= ok + 1

    delivered = send_due(svc, datetime.now(UTC))  # the new client's messages, through amoCRM's Salesbot
    assert delivered >= 1
    assert post(web, second) == 202
    run_worker(svc, burst=True)
    sync(svc)
    requests.patch(f"{amo}/_sandbox/faults", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    assert send_due(svc, datetime.now(UTC)) == 0
    requests.patch(f"{amo}/_sandbox/faults", json={"error_rate": 0.0}, timeout=5)
    sent = scrape(web)
    assert value(sent, "salonbridge_messages_sent_total", tenant="salon", channel="salesbot") == delivered
    assert value(sent, "salonbridge_messages_failed_total", tenant="salon", channel="salesbot") == delivered
    assert value(sent, "salonbridge_event_latency_seconds_count", tenant="salon") == 2
    assert value(sent, "salonbridge_amocrm_requests_total", tenant="salon", status_class="5xx") >= 1

    for earlier in (queued, processed, synced):  # counters and histogram counts never go down
        for (name, labels), number in earlier.items():
            if name.endswith(("_total", "_count", "_bucket", "_sum")):
                assert sent.get((name, labels), 0) >= number, (name, labels)

    result = CliRunner().invoke(main, ["status", "--json"], env=svc.settings.to_env())
    assert result.exit_code == 0, result.output
    told = {(s["name"], frozenset(s["labels"].items())): s["value"]
            for family in json.loads(result.output)["metrics"] for s in family["samples"]}
    again = scrape(web)
    for key, number in again.items():
        if not key[0].endswith(("_created", "_age_seconds")):
            assert told.get(key) == number, key
    text = CliRunner().invoke(main, ["status"], env=svc.settings.to_env()).output
    assert "salonbridge_amocrm_rate_limited_total" in text and "tenant=salon" in text
    assert "salonbridge_event_latency_seconds" in text and "count 2" in text


def test_a_refreshed_oauth_token_is_counted(salon, settings, monkeypatch):
    svc, amo, web = salon
    creds = requests.post(f"{amo}/_sandbox/tokens", json={"action": "code"}, timeout=5).json()
    pair = requests.post(f"{amo}/_sandbox/tokens", json={"action": "pair"}, timeout=5).json()
    monkeypatch.delenv("SALON_AMO_TOKEN")
    monkeypatch.setenv("SALON_AMO_ID", creds["client_id"])
    monkeypatch.setenv("SALON_AMO_SECRET", creds["client_secret"])
    path = settings.tenants_dir / "salon.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "  long_lived_token_env: SALON_AMO_TOKEN\n",
        "  client_id_env: SALON_AMO_ID\n  client_secret_env: SALON_AMO_SECRET\n"), encoding="utf-8")
    oauth = Services.build(svc.settings)
    try:
        token_store(oauth).save_authorized("salon", TokenResponse(pair["access_token"], pair["refresh_token"],
                                                                  datetime.now(UTC) + timedelta(minutes=1)))
        client_for(oauth.tenants["salon"], oauth).account()  # expires within the margin: refreshed first
    finally:
        oauth.close()
    assert value(scrape(web), "salonbridge_amocrm_token_refreshes_total", tenant="salon", outcome="ok") == 1
