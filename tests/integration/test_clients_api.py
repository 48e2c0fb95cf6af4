"""The client base over the JSON API (real HTTP, bearer token): reports, segments, the card by hand."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from bridge.store.models import AppliedAction
from tests.fakes.http import serve
from tests.integration import client_data
from webhooks.app import create_app

API_TOKEN = "api-t0ken-for-tests-9876543210"


@pytest.fixture
def tenants_dir(tenants_dir, monkeypatch):
    path = tenants_dir / "salon.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "api_token_env: SALON_TEST_API_TOKEN\nclients:\n"
                    "  tags: [vip, постійна, new]\n  segments:\n    golden_women: {gender: female, card_type: gold}\n",
                    encoding="utf-8")
    monkeypatch.setenv("SALON_TEST_API_TOKEN", API_TOKEN)
    return tenants_dir


@pytest.fixture
def api(services):
    client_data.build(services.store)
    with serve(create_app(services=services)) as url:
        def call(method: str, path: str, token: str = API_TOKEN, **kw):
            return requests.request(method, f"{url}/api/tenants/salon{path}", timeout=10,
                                    headers={"Authorization": f"Bearer {token}"}, **kw)
        yield call


def test_reports_segments_and_errors(api):
    answer = api("GET", "/reports/lost", params={"to": "2026-03-15"})
    assert answer.status_code == 200
    body = answer.json()
    assert [r["name"] for r in body["tables"]["lost clients"]] == ["Софія", "Марія"]
    assert body["tables"]["lost clients"][0]["last_visit"] == "2025-06-01"
    assert api("GET", "/reports/new-clients", params={"from": "2026-01-01", "to": "2026-03-31"}).json()[
        "tables"]["new clients"][0]["name"] == "Олена"
    assert api("GET", "/reports/rating", params={"from": "2026-03-01", "to": "2026-02-01"}).status_code == 400
    assert api("GET", "/reports/nope").status_code == 404
    assert api("GET", "/reports/lost", token="wrong").status_code == 404
    clients = api("GET", "/clients", params={"segment": "golden_women", "spend": "500.."}).json()
    assert [c["name"] for c in clients["clients"]] == ["Олена"] and clients["clients"][0]["spend"] == "1100.00"
    refused = api("GET", "/clients", params={"colour": "red"})
    assert refused.status_code == 400 and "colour: unknown filter" in refused.json()["reason"]


def test_a_client_added_and_edited_by_hand_is_queued_for_amocrm(api, services):
    added = api("POST", "/clients", json={"name": "Ірина", "phone": "067 555 12 34", "gender": "female",
                                          "birthday": "1992-04-01", "card_type": "silver", "balance": "10.5",
                                          "tags": ["vip"], "acquisition": "flyer", "reason": "brows"})
    assert added.status_code == 201, added.text
    card = added.json()
    assert (card["phone"], card["balance"], card["tags"], card["visits"]) == ("+380675551234", "10.50", ["vip"], 0)
    assert api("POST", "/clients", json={"phone": "+380675551234"}).status_code == 400  # taken
    assert "not in the tenant's tag set" in api("POST", "/clients", json={"name": "X", "tags": ["x"]}).json()["reason"]
    assert "phone: not a valid" in api("POST", "/clients", json={"phone": "12"}).json()["reason"]
    edited = api("PATCH", f"/clients/{card['client_id']}", json={"blacklisted": True, "comment": "no calls"})
    assert edited.json()["changed"] == ["blacklisted", "comment"]
    with services.store.session() as s:
        kinds = s.execute(select(AppliedAction.kind, AppliedAction.payload, AppliedAction.state)
                          .where(AppliedAction.client_id == card["client_id"])).all()
    assert sorted(k for k, _, _ in kinds) == ["UpdateFields", "UpdateFields", "UpsertContact", "UpsertContact"]
    assert {p["fields"]["source"] for k, p, _ in kinds if k == "UpdateFields"} == {"flyer"}
    assert {state for _, _, state in kinds} == {"pending"}


def test_a_segment_is_tagged_and_sent_a_campaign_over_the_api(api, services):
    tagged = api("POST", "/segments/tag", json={"segment": "golden_women", "tags": ["new"]})
    assert tagged.status_code == 200, tagged.text
    assert (tagged.json()["clients"], tagged.json()["newly_tagged"]) == (2, 2)  # Олена, Софія
    with services.store.session() as s:
        queued = s.scalars(select(AppliedAction).where(AppliedAction.kind == "UpdateFields")).all()
        assert sorted(tuple(a.payload["tags"]) for a in queued) == [("new",), ("new",)]
    outside = api("POST", "/segments/tag", json={"filters": {"gender": "male"}, "tags": ["gold-star"]})
    assert outside.status_code == 400 and "not in the tenant's tag set" in outside.json()["reason"]

    body = {"filters": {"tag": "постійна"}, "name": "vip-evening", "text": "запрошуємо на вечір краси.",
            "channel": "sms", "dry_run": True}
    preview = api("POST", "/segments/campaign", json=body).json()
    assert preview["recipients"] == 1 and preview["left_out"] == {"blacklisted": 1, "opted_out": 0, "no_address": 0}
    assert [c["name"] for c in preview["clients"]] == ["Олена"]
    sent = api("POST", "/segments/campaign", json={**body, "dry_run": False}).json()
    assert (sent["contacted"], sent["messages"]) == (1, 1)
    with services.store.session() as s:
        [message] = s.scalars(select(AppliedAction).where(AppliedAction.kind == "SendMessage")).all()
        assert message.payload["context"]["text"] == "запрошуємо на вечір краси."
    refused = api("POST", "/segments/campaign", json={**body, "filters": {"colour": "red"}})
    assert refused.status_code == 400 and "colour" in refused.json()["reason"]
