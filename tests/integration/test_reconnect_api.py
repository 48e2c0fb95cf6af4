"""The Reconnect JSON API over real HTTP: bearer token per tenant, the same content as the CLI's JSON."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from bridge.store.reconnect import scan
from tests.fakes.http import serve
from tests.integration.reconnect_data import BRANCH_B, DAY, History
from webhooks.app import create_app

API_TOKEN = "api-t0ken-for-tests-9876543210"


@pytest.fixture
def tenants_dir(tenants_dir, monkeypatch):
    """The test salon with an API token, and a second salon without one."""
    path = tenants_dir / "salon.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "api_token_env: SALON_TEST_API_TOKEN\n", encoding="utf-8")
    other = path.read_text(encoding="utf-8").replace("slug: salon", "slug: quiet").replace("api_token_env:", "#")
    (tenants_dir / "quiet.yaml").write_text(other, encoding="utf-8")
    monkeypatch.setenv("SALON_TEST_API_TOKEN", API_TOKEN)
    return tenants_dir


@pytest.fixture
def base_url(services):
    now = datetime.now(UTC)
    h = History(services.store)
    h.regular(h.client("Olha", "+380671234567", "olha@example.com"), now - 40 * DAY, 21)
    h.regular(h.client("Iryna", "+380671234568"), now - 60 * DAY, 28, categories=("pedicure",), branch=BRANCH_B)
    with serve(create_app(services=services)) as url:
        yield url


def get(base_url: str, path: str, token: str | None = API_TOKEN, slug: str = "salon", **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{base_url}/api/tenants/{slug}/reconnect{path}", headers=headers, params=params, timeout=10)


def test_the_overview_is_the_scan(base_url, services):
    answer = get(base_url, "")
    assert answer.status_code == 200
    body = answer.json()
    assert body == scan(services.store, services.tenants["salon"], datetime.now(UTC)).overview_json()
    assert body["total"]["at_risk"] == 2
    assert {c["category"]: c["at_risk"] for c in body["categories"]} == {"manicure": 1, "pedicure": 1}
    assert {b["name"]: b["at_risk"] for b in body["branches"]} == {"Центр": 1, "Поділ": 1}


def test_the_clients_carry_complete_contact_data_and_filters_apply(base_url):
    body = get(base_url, "/clients").json()
    assert [(c["name"], c["phone"], c["email"], c["category"]) for c in body["clients"]] == [
        ("Olha", "+380671234567", "olha@example.com", "manicure"), ("Iryna", "+380671234568", None, "pedicure")]
    only = get(base_url, "/clients", category="Педикюр", branch=BRANCH_B).json()
    assert [c["name"] for c in only["clients"]] == ["Iryna"]
    assert only["filters"] == {"category": "pedicure", "branch": BRANCH_B}


def test_an_unknown_category_is_refused_with_the_known_ones(base_url):
    answer = get(base_url, "/clients", category="Massage")
    assert answer.status_code == 400
    assert answer.json()["known"] == ["Манікюр (manicure)", "Педикюр (pedicure)"]


@pytest.mark.parametrize(("slug", "token"), [
    ("salon", None), ("salon", "wrong-token"), ("nobody", API_TOKEN), ("quiet", API_TOKEN), ("salon", ""),
])
@pytest.mark.security
def test_no_valid_token_is_the_same_404_whatever_was_wrong(base_url, slug, token):
    answers = [get(base_url, path, token, slug) for path in ("", "/clients")]
    assert [a.status_code for a in answers] == [404, 404]
    assert all(a.json() == {"error": "not found", "reason": "no such resource"} for a in answers)


@pytest.mark.parametrize("period", [{"from": "0001-01-01", "to": "0001-01-01"}, {"to": "9999-12-31"},
                                    {"from": "1899-12-31"}])
def test_results_for_a_period_at_the_ends_of_the_calendar_are_refused_not_a_5xx(base_url, period):
    response = get(base_url, "/results", **period)
    assert response.status_code == 400, response.text
    assert "between" in response.json()["reason"]


def test_only_the_bearer_scheme_is_accepted(base_url):
    answer = requests.get(f"{base_url}/api/tenants/salon/reconnect", headers={"Authorization": f"Basic {API_TOKEN}"},
                          timeout=5)
    assert answer.status_code == 404


def test_the_openapi_document_describes_both_endpoints(base_url):
    doc = requests.get(f"{base_url}/api/openapi.json", timeout=5).json()
    schemas = doc["components"]["schemas"]
    for path, schema in (("/api/tenants/{slug}/reconnect", "ReconnectOverview"),
                         ("/api/tenants/{slug}/reconnect/clients", "ReconnectClients")):
        operation = doc["paths"][path]["get"]
        assert operation["security"] == [{"tenantToken": []}]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(schema)
        assert {"400", "404"} <= set(operation["responses"])
    assert doc["components"]["securitySchemes"]["tenantToken"]["scheme"] == "bearer"
    overview, clients = get(base_url, "").json(), get(base_url, "/clients").json()
    assert set(overview) == set(schemas["ReconnectOverview"]["properties"])
    row = schemas["ReconnectClients"]["properties"]["clients"]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(clients["clients"][0]) == set(schemas[row]["properties"])


def campaign(base_url: str, body: object, token: str | None = API_TOKEN, slug: str = "salon"):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{base_url}/api/tenants/{slug}/reconnect/campaigns", json=body, headers=headers, timeout=20)


def test_a_campaign_dry_run_lists_whom_and_sends_nothing_then_the_campaign_contacts_once(base_url, services):
    dry = campaign(base_url, {"category": "Манікюр", "dry_run": True, "channel": "both"})
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["recipients"], body["dry_run"], body["category"]) == (1, True, "manicure")
    assert [(c["name"], c["phone"], c["channels"]) for c in body["clients"]] == [
        ("Olha", "+380671234567", ["sms", "email"])]
    everyone = campaign(base_url, {"all": True, "dry_run": True, "channel": "email"}).json()
    assert (everyone["recipients"], everyone["unreachable"]) == (1, 1)  # Iryna has no email

    sent = campaign(base_url, {"all": True, "channel": "sms"})
    assert sent.status_code == 200, sent.text
    assert (sent.json()["contacted"], sent.json()["messages"], sent.json()["dry_run"]) == (2, 2, False)
    again = campaign(base_url, {"all": True}).json()
    assert (again["recipients"], again["already_contacted"]) == (0, 2)

    results = get(base_url, "/results")
    assert results.status_code == 200, results.text
    assert (results.json()["total"]["contacted"], results.json()["not_sent"]) == (0, 2)  # not sent by the clock yet
    assert get(base_url, "/results", **{"from": "2026-13-01"}).status_code == 400
    assert get(base_url, "/results", **{"from": "2026-05-01", "to": "2026-04-01"}).status_code == 400


@pytest.mark.parametrize(("body", "status"), [
    ({}, 422), ({"category": "Манікюр", "all": True}, 422), ({"all": True, "channel": "fax"}, 422),
    ([1, 2], 400), ({"category": "Massage"}, 400),
])
def test_a_bad_campaign_request_is_refused_with_the_reason(base_url, body, status):
    answer = campaign(base_url, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]


@pytest.mark.security
def test_a_campaign_needs_the_token(base_url):
    assert campaign(base_url, {"all": True}, token="wrong").status_code == 404
