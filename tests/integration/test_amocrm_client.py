"""AmoCrmClient over real HTTP against a fresh sandbox account: every endpoint method and the error policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from amocrm_sandbox.seed import ADMIN_ID, MANAGER_ID
from bridge.amocrm import (
    AccountBlocked,
    AmbiguousWrite,
    AmoCrmClient,
    AmoHttpError,
    AmoValidationError,
    RateLimited,
    ReauthRequired,
    StaticTokenProvider,
    common_note,
    service_note,
)
from tests.integration.conftest import Amo


def make_client(amo: Amo, **kwargs) -> AmoCrmClient:
    options = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "timeout": (1.0, 2.0), **kwargs}
    return AmoCrmClient(amo.url, StaticTokenProvider(amo.token), **options)


@pytest.fixture
def client(amo: Amo) -> AmoCrmClient:
    return make_client(amo)


def a_lead(amo: Amo, name: str = "Booking") -> int:
    """A lead made outside the client under test, for calls that need an existing one."""
    return amo.api("POST", "/api/v4/leads", [{"name": name}])["_embedded"]["leads"][0]["id"]


def a_contact(amo: Amo, name: str = "Anna") -> int:
    return amo.api("POST", "/api/v4/contacts", [{"name": name}])["_embedded"]["contacts"][0]["id"]


def phone_contact(name: str, phone: str, **extra) -> dict:
    cfv = [{"field_code": "PHONE", "values": [{"value": phone, "enum_code": "MOB"}]}]
    return {"name": name, "custom_fields_values": cfv, **extra}


# --- endpoints -------------------------------------------------------------------------------------


def test_account_and_users(client, amo):
    """account(with_=...) sends the comma list; users come from the HAL list."""
    account = client.account(with_=["task_types", "users_groups"])
    assert account["subdomain"] == amo.url.rsplit("/", 1)[-1]
    assert [t["id"] for t in account["_embedded"]["task_types"]] == [1, 2]
    assert amo.calls("GET", "/api/v4/account")[0].args["with"] == "task_types,users_groups"
    assert [u["id"] for u in client.list_users()] == [ADMIN_ID, MANAGER_ID]


def test_every_request_carries_the_bearer_token_and_asks_for_json(client, amo):
    client.list_users()
    assert {h.token for h in amo.calls()} == {amo.token}


def test_pipelines_and_statuses(client):
    """Create a pipeline with statuses, rename it, add and rename a status, list them back."""
    created = client.create_pipeline("Salon: bookings", [{"name": "New", "sort": 10}, {"id": 142, "name": "Paid"}])
    pid = created["id"]
    assert client.update_pipeline(pid, {"name": "Salon: visits"})["name"] == "Salon: visits"
    assert [p["name"] for p in client.list_pipelines()] == ["Воронка", "Salon: visits"]  # the account's own first
    added = client.create_statuses(pid, [{"name": "Reminder due", "sort": 20, "color": "#fffeb2"}])
    assert added[0]["name"] == "Reminder due"
    assert client.update_status(pid, added[0]["id"], {"name": "Reminder sent"})["name"] == "Reminder sent"
    names = [s["name"] for s in client.list_statuses(pid)]
    assert {"New", "Paid", "Reminder sent", "Закрыто и не реализовано"} <= set(names)


def test_custom_fields_are_listed_across_pages_and_created_with_enums(new_account):
    """Every page is fetched even when the server pages smaller than our limit of 250."""
    amo = new_account(max_page_size=2)
    client = make_client(amo)
    created = client.create_custom_fields(
        "leads",
        [{"name": "Master", "type": "select", "enums": [{"value": "Olga", "sort": 1}, {"value": "Iryna", "sort": 2}]}]
        + [{"name": f"F{i}", "type": "text"} for i in range(3)],
    )
    assert [e["value"] for e in created[0]["enums"]] == ["Olga", "Iryna"]
    assert len(client.list_custom_fields("leads")) == 4
    pages = amo.calls("GET", "/api/v4/leads/custom_fields")
    assert [h.args["page"] for h in pages] == ["1", "2"]
    assert {h.args["limit"] for h in pages} == {"250"}


def test_contacts_create_update_and_find_by_phone_and_email(client, amo):
    """Phone search uses the last 10 digits and keeps only real phone matches; email is exact."""
    anna = phone_contact("Anna", "+79161234567")
    anna["custom_fields_values"].append({"field_code": "EMAIL", "values": [{"value": "Anna@Example.com"}]})
    decoy = phone_contact("Mentions 9161234567 in the name only", "+79990000000")
    ids = [c["id"] for c in client.create_contacts([anna, decoy])]
    found = client.find_contacts("89161234567")
    assert [c["id"] for c in found] == [ids[0]]
    assert amo.calls("GET", "/api/v4/contacts")[0].args["query"] == "9161234567"
    assert [c["id"] for c in client.find_contacts("anna@example.com")] == [ids[0]]
    client.update_contacts([{"id": ids[0], "first_name": "Ann"}])
    assert client.get_contact(ids[0])["first_name"] == "Ann"


def test_no_match_is_a_204_and_becomes_an_empty_list(client, amo):
    assert client.find_contacts("+380670000000") == []
    assert client.list_leads({"id": [1, 2]}) == []
    assert amo.calls("GET", "/api/v4/leads")[0].status == 204


def test_leads_create_update_get_list_and_complex(client, amo):
    ids = [lead["id"] for lead in client.create_leads([{"name": "Booking 1", "price": 2500}, {"name": "Booking 2"}])]
    main = next(p["id"] for p in client.list_pipelines() if p["is_main"])
    client.update_leads([{"id": ids[0], "pipeline_id": main, "status_id": 143}])
    assert client.get_lead(ids[0])["status_id"] == 143
    assert client.get_lead(999_999) is None  # 204 for a missing lead
    listed = client.list_leads({"id": ids}, with_="contacts")
    assert sorted(lead["id"] for lead in listed) == sorted(ids)
    assert amo.calls("GET", "/api/v4/leads")[0].args.getlist("filter[id][1]") == [str(ids[1])]
    complex_ = client.create_complex_leads(
        [{"name": "Site form", "_embedded": {"contacts": [{"first_name": "Oksana"}]}}]
    )
    assert complex_[0]["contact_id"] and complex_[0]["request_id"] == ["0"]


def test_tasks_create_update_complete_and_list(client, amo):
    due = int(time.time()) + 86_400
    first, second = a_lead(amo), a_lead(amo)
    made = client.create_tasks(
        [
            {"text": "Call before visit", "complete_till": due, "entity_type": "leads", "entity_id": first},
            {"text": "Other lead", "complete_till": due, "entity_type": "leads", "entity_id": second},
        ]
    )
    client.update_tasks([{"id": made[0]["id"], "text": "Call the day before"}])
    client.complete_task(made[0]["id"], "Client confirmed")
    stored = amo.by_id("tasks")[made[0]["id"]]
    assert stored["is_completed"] is True and stored["result"] == {"text": "Client confirmed"}
    assert [t["id"] for t in client.list_tasks("leads", [first, second], is_completed=False)] == [made[1]["id"]]
    assert [t["id"] for t in client.list_tasks("leads", [first])] == [made[0]["id"]]
    sent = amo.calls("GET", "/api/v4/tasks")[0].args
    assert (sent["filter[entity_type]"], sent["filter[is_completed]"]) == ("leads", "0")


def test_notes_common_and_service_message(client, amo):
    lead = a_lead(amo)
    made = client.add_notes("leads", [common_note(lead, "Moved to 15:00"), service_note(lead, "Reminder sent")])
    assert [n["entity_id"] for n in made] == [lead, lead]
    kinds = {n["note_type"]: n for n in amo.stored("notes")}
    assert kinds["service_message"]["params"] == {"service": "salonbridge", "text": "Reminder sent"}
    assert kinds["common"]["params"] == {"text": "Moved to 15:00"}


def test_link_a_contact_to_a_lead(client, amo):
    lead, contact = a_lead(amo), a_contact(amo)
    links = client.link("leads", lead, [{"to_entity_id": contact, "to_entity_type": "contacts",
                                         "metadata": {"is_main": True}}])
    assert links[0]["metadata"] == {"main_contact": True}


def test_webhooks_subscribe_list_unsubscribe(client):
    hook = client.subscribe_webhook("https://mw.example.com/hooks/salon/amocrm/s3cret", ["status_lead", "update_task"])
    assert hook["settings"] == ["status_lead", "update_task"]
    assert [w["destination"] for w in client.list_webhooks()] == [hook["destination"]]
    assert client.unsubscribe_webhook(hook["destination"]) is True
    assert client.unsubscribe_webhook(hook["destination"]) is False  # 404: already gone
    assert client.list_webhooks() == []


def test_salesbot_run_uses_numeric_entity_types(client, amo):
    lead = a_lead(amo)
    assert client.run_salesbot(565, lead, "leads") is True
    assert amo.calls("POST", "/api/v2/salesbot/run")[0].body == [{"bot_id": 565, "entity_id": lead, "entity_type": 2}]
    assert [(r["bot_id"], r["entity_id"], r["entity_type"]) for r in amo.stored("salesbot_runs")] == [
        (565, lead, "leads")]


# --- batching --------------------------------------------------------------------------------------


def test_120_items_are_sent_as_3_requests_of_at_most_50_in_order(client, amo):
    made = client.create_contacts([{"name": f"c{i}"} for i in range(120)])
    posts = amo.calls("POST", "/api/v4/contacts")
    assert [len(h.body) for h in posts] == [50, 50, 20]
    assert [m["request_id"] for m in made] == [str(i) for i in range(120)]
    contacts = amo.by_id("contacts")
    assert [contacts[m["id"]]["name"] for m in made] == [f"c{i}" for i in range(120)]


def test_a_validation_error_names_the_item_and_field_path(client, amo):
    items = [{"name": f"l{i}"} for i in range(60)]
    items[57]["custom_fields_values"] = [{"field_id": 424242, "values": [{"value": "x"}]}]
    with pytest.raises(AmoValidationError) as caught:
        client.create_leads(items)
    message = str(caught.value)
    assert "item 57" in message and "custom_fields_values.0.field_id" in message and "NotSupportedChoice" in message
    assert caught.value.paths == ["custom_fields_values.0.field_id"]
    assert len(amo.calls("POST", "/api/v4/leads")) == 2  # the first chunk went through, the second was refused
    assert [d["request_id"] for d in caught.value.done] == [str(i) for i in range(50)]  # what was created


# --- error policy ----------------------------------------------------------------------------------


def test_429_waits_for_retry_after_then_succeeds(client, amo):
    amo.step("GET /api/v4/users", status=429, retry_after="1")
    started = time.monotonic()
    assert len(client.list_users()) == 2
    first, second = amo.calls("GET", "/api/v4/users")
    assert second.at - first.at >= 1.0
    assert time.monotonic() - started < 2.0  # jitter is at most 10 %


def test_429_with_an_http_date_and_a_json_retry_after(client, amo):
    when = datetime.fromtimestamp(time.time() + 1.5, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    amo.step("GET /api/v4/users", status=429, retry_after=when)
    amo.step("GET /api/v4/account", status=429, body={"status": 429, "retry_after": 1})
    client.list_users()
    users = amo.calls("GET", "/api/v4/users")
    assert users[1].at - users[0].at >= 0.4  # the date has whole seconds: 0.5-1.5 s of it remained
    client.account()
    account = amo.calls("GET", "/api/v4/account")
    assert account[1].at - account[0].at >= 1.0


def test_a_429_asking_for_longer_than_we_sleep_is_raised_for_the_job_to_reschedule(amo):
    client = make_client(amo, max_sleep_s=5)
    amo.step("POST /api/v4/leads", status=429, body={"status": 429, "retry_after": 300})
    with pytest.raises(RateLimited) as caught:
        client.create_leads([{"name": "x"}])
    assert caught.value.retry_in >= 300
    assert amo.stored("leads") == []


def test_5xx_on_get_is_retried_with_backoff(client, amo):
    for _ in range(3):
        amo.step("GET /api/v4/users", status=503)
    assert len(client.list_users()) == 2
    assert [h.status for h in amo.calls("GET", "/api/v4/users")] == [503, 503, 503, 200]


def test_5xx_gives_up_after_max_retries(amo):
    client = make_client(amo, max_retries=2)
    for _ in range(5):
        amo.step("GET /api/v4/users", status=500)
    with pytest.raises(AmoHttpError) as caught:
        client.list_users()
    assert caught.value.status == 500
    assert len(amo.calls("GET", "/api/v4/users")) == 3


def test_5xx_on_a_post_is_ambiguous_and_not_resent(client, amo):
    amo.step("POST /api/v4/tasks", status=502)
    with pytest.raises(AmbiguousWrite):
        client.create_tasks([{"text": "t", "complete_till": 1}])
    assert len(amo.calls("POST", "/api/v4/tasks")) == 1


def test_a_read_timeout_is_retried_for_get_and_patch(amo):
    client = make_client(amo, timeout=(1.0, 0.3))
    amo.step("GET /api/v4/users", hang_seconds=0.6)
    assert len(client.list_users()) == 2
    lead = client.create_leads([{"name": "x"}])[0]
    amo.step("PATCH /api/v4/leads", hang_seconds=0.6)
    client.update_leads([{"id": lead["id"], "price": 10}])
    assert len(amo.calls("PATCH", "/api/v4/leads")) == 2


def test_a_refused_connection_is_retried_even_for_a_post():
    """Nothing was sent, so resending cannot duplicate anything; it ends as an error, not AmbiguousWrite."""
    client = AmoCrmClient("http://127.0.0.1:9", StaticTokenProvider("t"), max_retries=1, backoff_base_s=0.01)
    with pytest.raises(Exception) as caught:
        client.create_leads([{"name": "x"}])
    assert not isinstance(caught.value, AmbiguousWrite)


def test_a_403_block_raises_account_blocked_and_rights_403_does_not(client, amo):
    amo.step("GET /api/v4/users", status=403, html=True)
    with pytest.raises(AccountBlocked) as caught:
        client.list_users()
    assert caught.value.until > datetime.now(UTC)
    amo.step("POST /api/v4/leads/pipelines", status=403, body={"status": 403, "detail": "Access denied"})
    with pytest.raises(AmoHttpError) as rights:
        client.create_pipeline("x", [])
    assert rights.value.status == 403 and not isinstance(rights.value, AccountBlocked)


def test_401_with_a_fixed_token_asks_for_reauthorization(amo):
    client = AmoCrmClient(amo.url, StaticTokenProvider("revoked", tenant="salon"))
    with pytest.raises(ReauthRequired, match="salon"):
        client.list_users()
