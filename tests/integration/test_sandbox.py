"""The amoCRM sandbox over real HTTP: entity endpoints, HAL shapes, validation, persistence, board."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from amocrm_sandbox import create_sandbox_app
from tests.fakes.http import serve

WON, LOST = 142, 143


class Api:
    """A bare client: the tests check wire shapes, so nothing here interprets responses."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base_url + path, timeout=5, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any) -> requests.Response:
        return self.call("POST", path, json=body)

    def patch(self, path: str, body: Any) -> requests.Response:
        return self.call("PATCH", path, json=body)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, json=body) if body is not None else self.call(method, path)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@dataclass
class Sandbox:
    base_url: str
    state_path: Path
    api: Api

    def main_pipeline(self) -> dict:
        pipelines = self.api.ok("GET", "/api/v4/leads/pipelines")["_embedded"]["pipelines"]
        return next(p for p in pipelines if p["is_main"])


def _mint(base_url: str) -> str:
    return requests.post(f"{base_url}/_sandbox/tokens", timeout=5).json()["access_token"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """One server per module (stopping one costs Werkzeug's 0.5 s poll); tests reset it instead."""
    state = tmp_path_factory.mktemp("sandbox") / "amocrm.json"
    app = create_sandbox_app(state, requests_per_second=10_000, block_after_429s=None)
    with serve(app) as base_url:
        yield base_url, state, _mint(base_url)


@pytest.fixture
def sandbox(running: tuple[str, Path, str]) -> Sandbox:
    base_url, state, token = running
    requests.post(f"{base_url}/_sandbox/reset", timeout=5).raise_for_status()  # fresh account, same token
    return Sandbox(base_url, state, Api(base_url, token))


def _problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"] == f"https://httpstatus.es/{status}"
    return body


def _errors(response: requests.Response) -> dict[str, list[tuple[str, str]]]:
    """request_id → [(path, code)] from a validation failure."""
    body = _problem(response, 400)
    assert body["detail"] == "Request validation failed"
    return {item["request_id"]: [(e["path"], e["code"]) for e in item["errors"]] for item in body["validation-errors"]}


def _salon_pipeline(api: Api) -> dict:
    body = [{"name": "Салон: записи", "sort": 20, "is_main": False, "is_unsorted_on": True, "request_id": "pl-1",
             "_embedded": {"statuses": [
                 {"name": "Записан", "sort": 20, "color": "#98cbff"},
                 {"name": "Новая заявка", "sort": 10, "color": "#fffeb2"},
                 {"id": WON, "name": "Оплачено"},
                 {"id": LOST, "name": "Не пришёл"}]}}]
    return api.ok("POST", "/api/v4/leads/pipelines", body)["_embedded"]["pipelines"][0]


# -- pipelines ------------------------------------------------------------------------------------

def test_every_pipeline_has_unsorted_won_and_lost(sandbox: Sandbox) -> None:
    created = _salon_pipeline(sandbox.api)
    assert created["request_id"] == "pl-1"
    statuses = created["_embedded"]["statuses"]
    assert [(s["name"], s["sort"], s["type"]) for s in statuses] == [
        ("Неразобранное", 10, 1), ("Новая заявка", 20, 0), ("Записан", 30, 0),
        ("Оплачено", 10000, 0), ("Не пришёл", 11000, 0)]
    listed = sandbox.api.ok("GET", "/api/v4/leads/pipelines")
    assert listed["_total_items"] == 2
    for pipeline in listed["_embedded"]["pipelines"]:
        ids = {s["id"] for s in pipeline["_embedded"]["statuses"]}
        assert {WON, LOST} <= ids
        assert sum(s["type"] == 1 for s in pipeline["_embedded"]["statuses"]) == 1
        assert all(s["pipeline_id"] == pipeline["id"] for s in pipeline["_embedded"]["statuses"])


def test_pipeline_and_status_writes(sandbox: Sandbox) -> None:
    api = sandbox.api
    pipeline = _salon_pipeline(api)
    pid = pipeline["id"]
    bad = api.post(f"/api/v4/leads/pipelines/{pid}/statuses",
                   [{"name": "Ok", "sort": 40}, {"name": "Bad", "sort": 50, "color": "#FF0000", "request_id": "s2"}])
    assert _errors(bad) == {"s2": [("color", "NotSupportedChoice")]}
    added = api.ok("POST", f"/api/v4/leads/pipelines/{pid}/statuses", [{"name": "Пришёл", "sort": 40}])
    status = added["_embedded"]["statuses"][0]
    assert status["request_id"] == "0" and status["color"] and status["pipeline_id"] == pid
    renamed = api.ok("PATCH", f"/api/v4/leads/pipelines/{pid}/statuses/{status['id']}", {"name": "Визит"})
    assert renamed["name"] == "Визит"
    assert api.ok("PATCH", f"/api/v4/leads/pipelines/{pid}", {"name": "Повторные"})["name"] == "Повторные"
    assert api.call("DELETE", f"/api/v4/leads/pipelines/{pid}").status_code == 204
    assert _problem(api.get(f"/api/v4/leads/pipelines/{pid}"), 404)


# -- leads: create, validation, pagination -----------------------------------------------------------

def test_batch_create_echoes_request_ids(sandbox: Sandbox) -> None:
    body = sandbox.api.ok("POST", "/api/v4/leads", [{"name": "A", "request_id": "booking-1"}, {"name": "B"}])
    items = body["_embedded"]["leads"]
    assert [i["request_id"] for i in items] == ["booking-1", "1"]
    assert items[1]["id"] == items[0]["id"] + 1
    assert items[0]["_links"]["self"]["href"] == f"{sandbox.base_url}/api/v4/leads/{items[0]['id']}"
    assert body["_links"]["self"]["href"] == f"{sandbox.base_url}/api/v4/leads"


def test_validation_errors_name_request_id_and_path_and_reject_the_batch(sandbox: Sandbox) -> None:
    api = sandbox.api
    response = api.post("/api/v4/leads", [
        {"name": "fine"},
        {"name": "bad", "price": "2500", "pipeline_id": 1, "request_id": "r-2"},
        {"status_id": 99, "custom_fields_values": [{"field_id": 1, "values": [{"value": "x"}]}], "colour": 1},
    ])
    assert _errors(response) == {
        "r-2": [("price", "InvalidType"), ("pipeline_id", "NotSupportedChoice")],
        "2": [("colour", "FieldNotExpected"), ("status_id", "NotSupportedChoice"),
              ("custom_fields_values.0.field_id", "NotSupportedChoice")],
    }
    assert api.get("/api/v4/leads").status_code == 204  # nothing of the batch was written
    assert _problem(api.call("POST", "/api/v4/leads", data=b""), 400)["detail"] == "Request data can not be empty"
    tasks = api.post("/api/v4/tasks", [{"text": "", "complete_till": "tomorrow"}, {"complete_till": 1.5}])
    assert _errors(tasks) == {"0": [("text", "NotBlank"), ("complete_till", "InvalidType")],
                              "1": [("text", "NotBlank"), ("complete_till", "InvalidType")]}


def test_status_must_belong_to_the_pipeline(sandbox: Sandbox) -> None:
    api = sandbox.api
    salon = _salon_pipeline(api)
    main = sandbox.main_pipeline()
    foreign = salon["_embedded"]["statuses"][1]["id"]
    response = api.post("/api/v4/leads", [{"pipeline_id": main["id"], "status_id": foreign}])
    assert _errors(response) == {"0": [("status_id", "NotSupportedChoice")]}


def test_pagination_links_and_204(sandbox: Sandbox) -> None:
    api = sandbox.api
    api.ok("POST", "/api/v4/leads", [{"name": f"Lead {i}"} for i in range(5)])
    first = api.ok("GET", "/api/v4/leads?limit=2")
    assert first["_page"] == 1 and len(first["_embedded"]["leads"]) == 2
    assert "next" in first["_links"] and "prev" not in first["_links"] and "_total_items" not in first
    assert first["_links"]["next"]["href"].endswith("limit=2&page=2")
    last = api.ok("GET", "/api/v4/leads?limit=2&page=3")
    assert [lead["name"] for lead in last["_embedded"]["leads"]] == ["Lead 4"]
    assert "next" not in last["_links"] and last["_links"]["prev"]["href"].endswith("page=2")
    beyond = api.get("/api/v4/leads?limit=2&page=4")
    assert beyond.status_code == 204 and beyond.content == b""
    nothing = api.get("/api/v4/leads?query=nobody")
    assert nothing.status_code == 204 and nothing.content == b""
    assert api.get("/api/v4/leads/999").status_code == 204  # a missing lead is 204, not 404


def test_limit_above_250_is_refused(sandbox: Sandbox) -> None:
    api = sandbox.api
    body = _problem(api.get("/api/v4/leads?limit=251"), 422)
    assert body["detail"] == "Limit 250 per page"
    assert api.get("/api/v4/leads?limit=250").status_code == 204
    assert _problem(api.post("/api/v4/leads", [{"name": str(i)} for i in range(251)]), 422)["detail"] == (
        "Limit 250 per page")
    complex_body = [{"name": str(i)} for i in range(51)]
    assert _problem(api.post("/api/v4/leads/complex", complex_body), 400)


# -- leads: filters, moves ------------------------------------------------------------------------------

def test_status_filters_need_the_pipeline_and_moves_close_leads(sandbox: Sandbox) -> None:
    api = sandbox.api
    main, salon = sandbox.main_pipeline(), _salon_pipeline(api)
    ids = [i["id"] for i in api.ok("POST", "/api/v4/leads", [
        {"name": "main won", "pipeline_id": main["id"], "status_id": WON},
        {"name": "salon won", "pipeline_id": salon["id"], "status_id": WON},
        {"name": "salon open", "pipeline_id": salon["id"]},
    ])["_embedded"]["leads"]]
    won_in_salon = api.ok("GET", f"/api/v4/leads?filter[statuses][0][pipeline_id]={salon['id']}"
                                 f"&filter[statuses][0][status_id]={WON}")["_embedded"]["leads"]
    assert [lead["name"] for lead in won_in_salon] == ["salon won"]
    assert won_in_salon[0]["closed_at"] is not None
    by_pipeline = api.ok("GET", f"/api/v4/leads?filter[pipeline_id][]={salon['id']}")["_embedded"]["leads"]
    assert {lead["name"] for lead in by_pipeline} == {"salon won", "salon open"}
    assert _problem(api.get(f"/api/v4/leads?filter[statuses][0][status_id]={WON}"), 400)
    open_lead = api.ok("GET", f"/api/v4/leads/{ids[2]}")
    assert open_lead["status_id"] == salon["_embedded"]["statuses"][1]["id"]  # first ordinary stage
    moved = api.ok("PATCH", f"/api/v4/leads/{ids[2]}", {"status_id": LOST, "pipeline_id": salon["id"]})
    assert set(moved) == {"id", "updated_at", "_links"}
    lead = api.ok("GET", f"/api/v4/leads/{ids[2]}")
    assert (lead["pipeline_id"], lead["status_id"]) == (salon["id"], LOST) and lead["closed_at"]
    batch = api.ok("PATCH", "/api/v4/leads", [{"id": ids[0], "pipeline_id": salon["id"],
                                                "status_id": salon["_embedded"]["statuses"][2]["id"], "price": 900}])
    assert batch["_embedded"]["leads"][0]["id"] == ids[0]
    reopened = api.ok("GET", f"/api/v4/leads/{ids[0]}")
    assert reopened["pipeline_id"] == salon["id"] and reopened["closed_at"] is None and reopened["price"] == 900


def test_custom_fields_write_formats_and_read_back(sandbox: Sandbox) -> None:
    api = sandbox.api
    fields = api.ok("POST", "/api/v4/leads/custom_fields", [
        {"name": "Мастер", "type": "select", "code": "MASTER", "enums": [{"value": "Ольга", "sort": 1},
                                                                          {"value": "Ирина", "sort": 2}]},
        {"name": "Дата визита", "type": "date_time"},
        {"name": "Комментарий", "type": "textarea"},
    ], status=201)["_embedded"]["custom_fields"]
    master, visit, comment = fields
    irina = master["enums"][1]
    assert _errors(api.post("/api/v4/leads/custom_fields", [{"name": "x", "type": "select"},
                                                             {"name": "Телефон", "type": "multitext"}])) == {
        "0": [("enums", "NotBlank")], "1": [("type", "NotSupportedChoice")]}
    lead_id = api.ok("POST", "/api/v4/leads", [{"name": "CF", "custom_fields_values": [
        {"field_code": "MASTER", "values": [{"enum_id": irina["id"]}]},
        {"field_id": visit["id"], "values": [{"value": 1773316800}]},
        {"field_id": comment["id"], "values": [{"value": "Аллергия на латекс"}]},
    ]}])["_embedded"]["leads"][0]["id"]
    values = {v["field_id"]: v for v in api.ok("GET", f"/api/v4/leads/{lead_id}")["custom_fields_values"]}
    assert values[master["id"]] == {"field_id": master["id"], "field_name": "Мастер", "field_code": "MASTER",
                                    "field_type": "select",
                                    "values": [{"value": "Ирина", "enum_id": irina["id"], "enum_code": None}]}
    assert values[visit["id"]]["values"] == [{"value": 1773316800}]
    echoed = [{**values[comment["id"]], "values": [{"value": "y", "enum_code": None}]}]
    assert _errors(api.patch(f"/api/v4/leads/{lead_id}", {"custom_fields_values": echoed})) == {"0": [
        ("custom_fields_values.0.field_name", "FieldNotExpected"),
        ("custom_fields_values.0.field_type", "FieldNotExpected"),
        ("custom_fields_values.0.values.0.enum_code", "FieldNotExpected")]}
    api.ok("PATCH", f"/api/v4/leads/{lead_id}", {"custom_fields_values": [
        {"field_id": comment["id"], "values": None}, {"field_code": "MASTER", "values": [{"value": "Ольга"}]}]})
    after = api.ok("GET", f"/api/v4/leads/{lead_id}")["custom_fields_values"]
    assert {v["field_id"]: v["values"][0]["value"] for v in after} == {master["id"]: "Ольга",
                                                                        visit["id"]: 1773316800}


# -- contacts, complex, links ---------------------------------------------------------------------------

def test_contacts_phone_email_and_query(sandbox: Sandbox) -> None:
    api = sandbox.api
    created = api.ok("POST", "/api/v4/contacts", [
        {"first_name": "Анна", "last_name": "Петрова", "request_id": "c-1", "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": "+79161234567", "enum_code": "MOB"}]},
            {"field_code": "EMAIL", "values": [{"value": "anna@example.com"}]}]},
        {"name": "Борис", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "89995551122"}]}]},
    ])["_embedded"]["contacts"]
    assert [c["request_id"] for c in created] == ["c-1", "1"]
    found = api.ok("GET", "/api/v4/contacts?query=9161234567")["_embedded"]["contacts"]
    assert [c["name"] for c in found] == ["Анна Петрова"]
    phone = next(f for f in found[0]["custom_fields_values"] if f["field_code"] == "PHONE")
    assert phone["field_type"] == "multitext" and phone["values"][0]["enum_code"] == "MOB"
    email = next(f for f in found[0]["custom_fields_values"] if f["field_code"] == "EMAIL")
    assert email["values"][0]["enum_code"] == "WORK"  # omitted enum → WORK
    assert api.get("/api/v4/contacts?query=0000000").status_code == 204
    by_id = api.ok("GET", f"/api/v4/contacts?filter[id][]={created[1]['id']}")["_embedded"]["contacts"]
    assert [c["name"] for c in by_id] == ["Борис"]
    bad = api.post("/api/v4/contacts", [{"custom_fields_values": [
        {"field_code": "PHONE", "values": [{"value": "1", "enum_code": "CELL"}]}]}])
    assert _errors(bad) == {"0": [("custom_fields_values.0.values.0.enum_code", "NotSupportedChoice")]}
    updated = api.ok("PATCH", "/api/v4/contacts", [{"id": created[1]["id"], "first_name": "Boris"}])
    assert updated["_embedded"]["contacts"][0]["name"] == "Boris"


def test_complex_lead_with_new_contact(sandbox: Sandbox) -> None:
    api = sandbox.api
    response = api.post("/api/v4/leads/complex", [{"name": "Заявка с сайта", "price": 3000, "request_id": "site-1",
                                                   "_embedded": {"contacts": [{"first_name": "Анна",
                                                                              "custom_fields_values": [
        {"field_code": "PHONE", "values": [{"enum_code": "MOB", "value": "+79161234567"}]}]}],
                                                                 "tags": [{"name": "сайт"}]}}])
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    [result] = response.json()
    assert result["request_id"] == ["site-1"] and result["merged"] is False and result["company_id"] is None
    lead = api.ok("GET", f"/api/v4/leads/{result['id']}?with=contacts")
    assert lead["_embedded"]["contacts"][0]["id"] == result["contact_id"]
    assert lead["_embedded"]["contacts"][0]["is_main"] is True
    assert [t["name"] for t in lead["_embedded"]["tags"]] == ["сайт"]
    links = api.ok("GET", f"/api/v4/leads/{result['id']}/links")["_embedded"]["links"]
    assert links[0]["metadata"] == {"main_contact": True}
    two = api.post("/api/v4/leads/complex", [{"_embedded": {"contacts": [{"first_name": "a"}, {"first_name": "b"}]}}])
    assert _errors(two) == {"0": [("_embedded.contacts", "TooMany")]}


def test_link_and_unlink(sandbox: Sandbox) -> None:
    api = sandbox.api
    lead_id = api.ok("POST", "/api/v4/leads", [{"name": "L"}])["_embedded"]["leads"][0]["id"]
    contacts = api.ok("POST", "/api/v4/contacts", [{"name": "1"}, {"name": "2"}])["_embedded"]["contacts"]
    c1, c2 = (c["id"] for c in contacts)
    linked = api.ok("POST", "/api/v4/leads/link", [
        {"entity_id": lead_id, "to_entity_id": c1, "to_entity_type": "contacts"},
        {"entity_id": lead_id, "to_entity_id": c2, "to_entity_type": "contacts", "metadata": {"is_main": True}}])
    assert [link["metadata"] for link in linked["_embedded"]["links"]] == [{"main_contact": False},
                                                                         {"main_contact": True}]
    assert api.call("POST", f"/api/v4/leads/{lead_id}/unlink",
                    json=[{"to_entity_id": c2, "to_entity_type": "contacts"}]).status_code == 204
    left = api.ok("GET", f"/api/v4/leads/{lead_id}/links")["_embedded"]["links"]
    assert [(link["to_entity_id"], link["metadata"]["main_contact"]) for link in left] == [(c1, True)]
    assert api.ok("GET", f"/api/v4/contacts/{c1}?with=leads")["_embedded"]["leads"][0]["id"] == lead_id


# -- tasks, notes, webhooks, salesbot ------------------------------------------------------------------

def test_tasks_complete_with_result_and_filters(sandbox: Sandbox) -> None:
    api = sandbox.api
    lead_id = api.ok("POST", "/api/v4/leads", [{"name": "L"}])["_embedded"]["leads"][0]["id"]
    task_ids = [t["id"] for t in api.ok("POST", "/api/v4/tasks", [
        {"text": "Позвонить", "complete_till": 1900000000, "entity_type": "leads", "entity_id": lead_id,
         "request_id": "remind-1"},
        {"text": "Без сделки", "complete_till": 1900000500},
    ])["_embedded"]["tasks"]]
    task = api.ok("GET", f"/api/v4/tasks/{task_ids[0]}")
    assert task["result"] == [] and task["is_completed"] is False and task["task_type_id"] == 1
    assert api.ok("GET", f"/api/v4/leads/{lead_id}")["closest_task_at"] == 1900000000
    done = api.ok("PATCH", f"/api/v4/tasks/{task_ids[0]}", {"is_completed": True,
                                                            "result": {"text": "Клиент подтвердил"}})
    assert done["id"] == task_ids[0] and done["request_id"] == "0"
    assert api.ok("GET", f"/api/v4/tasks/{task_ids[0]}")["result"] == {"text": "Клиент подтвердил"}
    completed = api.ok("GET", "/api/v4/tasks?filter[is_completed]=1")["_embedded"]["tasks"]
    assert [t["id"] for t in completed] == [task_ids[0]]
    # filter[entity_id] is ignored without filter[entity_type] (§7.2)
    assert len(api.ok("GET", f"/api/v4/tasks?filter[entity_id][]={lead_id}")["_embedded"]["tasks"]) == 2
    scoped = api.ok("GET", f"/api/v4/tasks?filter[entity_type]=leads&filter[entity_id][]={lead_id}"
                           "&filter[is_completed]=1")["_embedded"]["tasks"]
    assert [t["id"] for t in scoped] == [task_ids[0]]
    assert _problem(api.get("/api/v4/tasks?filter[is_completed]=false"), 400)
    batch = api.ok("PATCH", "/api/v4/tasks", [{"id": task_ids[1], "text": "Перенести", "request_id": "x"}])
    assert batch["_embedded"]["tasks"][0]["request_id"] == "x"


def test_notes_common_and_service_message(sandbox: Sandbox) -> None:
    api = sandbox.api
    lead_id = api.ok("POST", "/api/v4/leads", [{"name": "L"}])["_embedded"]["leads"][0]["id"]
    created = api.ok("POST", "/api/v4/leads/notes", [
        {"entity_id": lead_id, "note_type": "common", "params": {"text": "Перенёс визит"}, "request_id": "n-1"},
        {"entity_id": lead_id, "note_type": "service_message",
         "params": {"service": "salonbridge", "text": "Напоминание отправлено"}},
    ])["_embedded"]["notes"]
    assert [(n["request_id"], n["entity_id"]) for n in created] == [("n-1", lead_id), ("1", lead_id)]
    assert created[0]["_links"]["self"]["href"].endswith(f"/api/v4/leads/{lead_id}/notes/{created[0]['id']}")
    api.ok("POST", f"/api/v4/leads/{lead_id}/notes", [{"note_type": "common", "params": {"text": "ещё"}}])
    notes = api.ok("GET", f"/api/v4/leads/{lead_id}/notes")["_embedded"]["notes"]
    assert [n["note_type"] for n in notes] == ["common", "service_message", "common"]
    service = api.ok("GET", "/api/v4/leads/notes?filter[note_type]=service_message")["_embedded"]["notes"]
    assert service[0]["params"] == {"service": "salonbridge", "text": "Напоминание отправлено"}
    bad = api.post("/api/v4/leads/notes", [{"entity_id": lead_id, "note_type": "service_message",
                                            "params": {"text": "no service"}},
                                           {"entity_id": 1, "note_type": "memo", "params": {}}])
    assert _errors(bad) == {"0": [("params.service", "NotBlank")],
                            "1": [("entity_id", "NotSupportedChoice"), ("note_type", "NotSupportedChoice")]}


def test_webhook_subscriptions(sandbox: Sandbox) -> None:
    api = sandbox.api
    assert api.get("/api/v4/webhooks").status_code == 204
    hook = api.ok("POST", "/api/v4/webhooks", {"destination": "https://mw.example/amo/hook/s3cret",
                                                "settings": ["status_lead"]}, status=201)
    again = api.ok("POST", "/api/v4/webhooks", {"destination": "https://mw.example/amo/hook/s3cret",
                                                 "settings": ["status_lead", "update_task"]}, status=201)
    assert again["id"] == hook["id"] and again["settings"] == ["status_lead", "update_task"]
    listed = api.ok("GET", "/api/v4/webhooks")
    assert listed["_total_items"] == 1 and listed["_embedded"]["webhooks"][0]["disabled"] is False
    assert _errors(api.post("/api/v4/webhooks", {"destination": "x", "settings": ["task_done"]})) == {
        "0": [("destination", "NotSupportedChoice"), ("settings.0", "NotSupportedChoice")]}
    gone = api.call("DELETE", "/api/v4/webhooks", json={"destination": "https://mw.example/amo/hook/s3cret"})
    assert gone.status_code == 204
    assert _problem(api.call("DELETE", "/api/v4/webhooks", json={"destination": "https://nope"}), 404)


def test_salesbot_launch_is_recorded(sandbox: Sandbox) -> None:
    api = sandbox.api
    lead_id = api.ok("POST", "/api/v4/leads", [{"name": "L"}])["_embedded"]["leads"][0]["id"]
    answer = api.ok("POST", "/api/v2/salesbot/run", [{"bot_id": 565, "entity_id": lead_id, "entity_type": 2}],
                    status=202)
    assert answer == {"_links": {"self": {"href": "/api/v2/salesbot/run", "method": "post"}}, "success": True}
    assert _errors(api.post("/api/v2/salesbot/run", [{"bot_id": 565, "entity_id": lead_id,
                                                      "entity_type": "leads"}])) == {
        "0": [("entity_type", "NotSupportedChoice")]}
    v4 = api.post("/api/v4/bots/run", [{"bot_id": 7, "entity_id": lead_id, "entity_type": "leads"}])
    assert v4.status_code == 202
    runs = requests.get(f"{sandbox.base_url}/_sandbox/salesbot", timeout=5).json()["runs"]
    assert [(r["bot_id"], r["entity_id"], r["entity_type"], r["api"]) for r in runs] == [
        (565, lead_id, "leads", "v2"), (7, lead_id, "leads", "v4")]


# -- account, auth, persistence, concurrency, board -------------------------------------------------------

def test_account_users_and_401(sandbox: Sandbox) -> None:
    api = sandbox.api
    account = api.ok("GET", "/api/v4/account?with=task_types,users_groups")
    assert account["subdomain"] == "sandbox" and "amojo_id" not in account
    assert [t["id"] for t in account["_embedded"]["task_types"]] == [1, 2]
    users = api.ok("GET", "/api/v4/users")["_embedded"]["users"]
    assert any(u["rights"]["is_admin"] for u in users)
    bad = _errors(api.post("/api/v4/leads", [{"responsible_user_id": 1}]))
    assert bad == {"0": [("responsible_user_id", "NotSupportedChoice")]}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        body = _problem(requests.get(f"{sandbox.base_url}/api/v4/leads", headers=headers, timeout=5), 401)
        assert body == {"title": "Unauthorized", "type": "https://httpstatus.es/401", "status": 401,
                        "detail": "Invalid user name or password"}


def test_state_survives_a_restart(sandbox: Sandbox) -> None:
    api = sandbox.api
    first = api.ok("POST", "/api/v4/leads", [{"name": "Persisted"}])["_embedded"]["leads"][0]["id"]
    api.ok("POST", "/api/v4/tasks", [{"text": "T", "complete_till": 1900000000, "entity_type": "leads",
                                      "entity_id": first}])
    token = api.session.headers["Authorization"].split()[1]
    reopened = create_sandbox_app(sandbox.state_path, requests_per_second=10_000)
    with serve(reopened) as base_url:
        again = Api(base_url, token)  # the token was persisted too
        assert again.ok("GET", f"/api/v4/leads/{first}")["name"] == "Persisted"
        assert again.ok("GET", "/api/v4/tasks")["_embedded"]["tasks"][0]["entity_id"] == first
        second = again.ok("POST", "/api/v4/leads", [{"name": "Next"}])["_embedded"]["leads"][0]["id"]
        assert second == first + 1


def test_parallel_writes_get_distinct_ids(sandbox: Sandbox) -> None:
    def create(n: int) -> list[int]:
        client = Api(sandbox.base_url, sandbox.api.session.headers["Authorization"].split()[1])
        body = client.ok("POST", "/api/v4/leads", [{"name": f"p{n}-{i}"} for i in range(5)])
        return [lead["id"] for lead in body["_embedded"]["leads"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for chunk in pool.map(create, range(16)) for i in chunk]
    assert len(set(ids)) == 80
    listed = sandbox.api.ok("GET", "/api/v4/leads?limit=250")["_embedded"]["leads"]
    assert sorted(lead["id"] for lead in listed) == sorted(ids)


def test_board_shows_stages_leads_and_tasks(sandbox: Sandbox) -> None:
    api = sandbox.api
    salon = _salon_pipeline(api)
    contact = api.ok("POST", "/api/v4/contacts", [{"name": "Ольга Клиентка", "custom_fields_values": [
        {"field_code": "PHONE", "values": [{"value": "+380671234567"}]}]}])["_embedded"]["contacts"][0]["id"]
    lead = api.ok("POST", "/api/v4/leads", [{"name": "Маникюр 12.03", "price": 650, "pipeline_id": salon["id"],
                                             "_embedded": {"contacts": [{"id": contact}]}}])
    lead_id = lead["_embedded"]["leads"][0]["id"]
    api.ok("POST", "/api/v4/tasks", [{"text": "Позвонить за день", "complete_till": 1900000000,
                                      "entity_type": "leads", "entity_id": lead_id}])
    page = requests.get(f"{sandbox.base_url}/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for text in ("Салон: записи", "Новая заявка", "Записан", "Оплачено", "Маникюр 12.03", "Ольга Клиентка",
                 "+380671234567", "Позвонить за день", "Администратор"):
        assert text in page.text
