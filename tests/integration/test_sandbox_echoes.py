"""Webhook echoes over real HTTP: with a webhook registered, the sandbox POSTs changes made through the API
(the integration's own included) and by "a person" to it, in amoCRM's form format, in order, with a 2 s
timeout — and our own receiver reads them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import pytest
from flask import Flask, request
from sqlalchemy import select

from amocrm_sandbox.seed import ADMIN_ID, MANAGER_ID
from bridge.amocrm.webhook_form import LeadMoved, TaskCompleted, changes, parse_form
from bridge.services import Services
from bridge.store.models import InboundEvent
from tests.conftest import TENANT_YAML
from tests.fakes.http import serve
from tests.integration.conftest import Amo
from webhooks.app import create_app

SETTINGS = ["add_lead", "update_lead", "status_lead", "add_contact", "add_task", "update_task"]


@dataclass
class Receiver:
    """A webhook destination that records what arrives; ``delays``/``statuses`` script its answers."""

    url: str = ""
    bodies: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Flask:
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            with self.lock:  # recorded on arrival, then answered (late when a delay is scripted)
                delay = self.delays.pop(0) if self.delays else 0.0
                self.bodies.append(request.get_data(as_text=True))
                self.content_types.append(request.content_type or "")
            time.sleep(delay)
            return "", self.status

        return app

    def forms(self) -> list[dict]:
        return [parse_form(body) for body in self.bodies]


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    with serve(receiver.app()) as url:
        receiver.url = f"{url}/hook"
        yield receiver


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    with receiver_server.lock:
        receiver_server.bodies.clear()
        receiver_server.content_types.clear()
        receiver_server.delays.clear()
        receiver_server.status = 200
    return receiver_server


def subscribe(amo: Amo, destination: str, settings: list[str] = SETTINGS) -> None:
    amo.api("POST", "/api/v4/webhooks", {"destination": destination, "settings": settings})


def wait(amo: Amo) -> list[dict]:
    return amo.control("webhooks/wait", {"timeout": 10})["deliveries"]


def a_lead(amo: Amo, **fields) -> int:
    return amo.api("POST", "/api/v4/leads", [{"name": "Манікюр", **fields}])["_embedded"]["leads"][0]["id"]


def stage(amo: Amo) -> tuple[int, int]:
    """The main pipeline and its second ordinary stage."""
    pipelines = amo.api("GET", "/api/v4/leads/pipelines")["_embedded"]["pipelines"]
    main = next(p for p in pipelines if p["is_main"])
    ordinary = [s for s in main["_embedded"]["statuses"] if s["type"] == 0 and s["id"] not in (142, 143)]
    return main["id"], ordinary[1]["id"]


def test_nothing_is_sent_without_a_webhook(amo, receiver):
    a_lead(amo)
    assert wait(amo) == [] and receiver.bodies == []


def test_api_changes_are_echoed_in_order_in_amocrms_form(amo, receiver):
    subscribe(amo, receiver.url)
    lead = a_lead(amo, price=900)
    pipeline, status = stage(amo)
    amo.api("PATCH", "/api/v4/leads", [{"id": lead, "status_id": status, "pipeline_id": pipeline}])
    deliveries = wait(amo)
    assert [d["events"] for d in deliveries] == [["leads.add"], ["leads.status", "leads.update"]]
    assert all(d["ok"] and d["status"] == 200 for d in deliveries)
    assert receiver.content_types == ["application/x-www-form-urlencoded"] * 2
    added, moved = receiver.forms()
    assert added["leads"]["add"][0]["id"] == str(lead) and added["leads"]["add"][0]["price"] == "900"
    entry = moved["leads"]["status"][0]
    assert (entry["status_id"], entry["pipeline_id"], entry["modified_user_id"]) == (
        str(status), str(pipeline), str(ADMIN_ID))  # the token's user: the integration itself
    assert moved["leads"]["update"][0]["id"] == str(lead)
    assert moved["account"]["subdomain"] == amo.url.rsplit("/", 1)[-1] and moved["account"]["_links"]["self"] == amo.url
    assert all(isinstance(v, str) for v in dict(parse_qsl(receiver.bodies[1])).values())
    [change] = changes(moved)
    assert change == LeadMoved(lead, pipeline, status, str(ADMIN_ID), entry["last_modified"])


def test_a_write_sent_as_the_robot_comes_back_with_user_0(amo, receiver):
    subscribe(amo, receiver.url, ["status_lead"])
    lead = a_lead(amo)
    pipeline, status = stage(amo)
    amo.api("PATCH", f"/api/v4/leads/{lead}", {"status_id": status, "pipeline_id": pipeline, "updated_by": 0})
    wait(amo)
    [form] = receiver.forms()  # only status_lead is subscribed: the add was not sent
    assert form["leads"]["status"][0]["modified_user_id"] == "0"


def test_tasks_added_updated_and_completed_by_a_person(amo, receiver):
    subscribe(amo, receiver.url)
    lead = a_lead(amo)
    till = 1_900_000_000
    task = amo.api("POST", "/api/v4/tasks", [{"text": "Call Olha", "complete_till": till, "entity_type": "leads",
                                              "entity_id": lead}])["_embedded"]["tasks"][0]["id"]
    amo.api("PATCH", "/api/v4/tasks", [{"id": task, "text": "Call Olha tomorrow"}])
    done = amo.control(f"person/tasks/{task}", {"is_completed": True, "result": {"text": "Booked for Friday"}})
    assert done["updated_by"] == MANAGER_ID
    deliveries = wait(amo)
    assert [d["events"] for d in deliveries] == [["leads.add"], ["task.add"], ["task.update"], ["task.update"]]
    _, added, edited, closed = receiver.forms()
    new = added["task"]["add"][0]
    assert (new["element_id"], new["element_type"], new["status"], new["text"]) == (str(lead), "2", "0", "Call Olha")
    assert new["complete_till"] == "2030-03-17 20:46:40"  # account time zone (Moscow), as amoCRM writes it
    assert new["complete_before"] == str(till)
    assert (edited["task"]["update"][0]["old_text"], edited["task"]["update"][0]["action_close"]) == ("Call Olha", "0")
    entry = closed["task"]["update"][0]
    assert (entry["status"], entry["action_close"], entry["result"]["text"], entry["modified_user_id"]) == (
        "1", "1", "Booked for Friday", str(MANAGER_ID))
    assert [c for f in (edited, closed) for c in changes(f)] == [
        TaskCompleted(task, "Booked for Friday", str(MANAGER_ID), entry["updated_at"])]


def test_a_person_moves_a_lead(amo, receiver):
    subscribe(amo, receiver.url, ["status_lead"])
    lead = a_lead(amo)
    pipeline, status = stage(amo)
    amo.control(f"person/leads/{lead}", {"status_id": 143, "pipeline_id": pipeline, "user_id": ADMIN_ID})
    wait(amo)
    [form] = receiver.forms()
    entry = form["leads"]["status"][0]
    assert (entry["status_id"], entry["modified_user_id"]) == ("143", str(ADMIN_ID))
    assert amo.api("GET", f"/api/v4/leads/{lead}")["status_id"] == 143


def test_a_slow_receiver_times_out_after_2_seconds_and_later_deliveries_still_go_in_order(amo, receiver):
    subscribe(amo, receiver.url, ["add_lead"])
    receiver.delays[:] = [3.0]
    first, second = a_lead(amo), a_lead(amo)
    started = time.monotonic()
    deliveries = wait(amo)
    assert [(d["ok"], d["status"]) for d in deliveries] == [(False, None), (True, 200)]
    assert "timed out" in deliveries[0]["error"] and 1.9 <= deliveries[0]["seconds"] <= 2.6
    assert time.monotonic() - started < 4
    assert [f["leads"]["add"][0]["id"] for f in receiver.forms()] == [str(first), str(second)]


def test_over_100_failed_deliveries_disable_the_webhook(amo, receiver):
    subscribe(amo, receiver.url, ["update_lead"])
    receiver.status = 500
    lead = a_lead(amo)
    for price in range(101):
        amo.api("PATCH", f"/api/v4/leads/{lead}", {"price": price})
    assert [d["ok"] for d in wait(amo)] == [False] * 101
    [hook] = amo.api("GET", "/api/v4/webhooks")["_embedded"]["webhooks"]
    assert hook["disabled"] is True
    amo.api("PATCH", f"/api/v4/leads/{lead}", {"price": 1000})
    assert len(wait(amo)) == 101
    assert amo.control("stats")["events"]["webhooks_failed"] == 101


@pytest.fixture
def salon(settings, monkeypatch) -> Iterator[Services]:
    monkeypatch.setenv("SALON_AMO_HOOK", "amo-hook-t0ken-0123456789")
    yaml = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               "  base_url: http://127.0.0.1:9\n  webhook_token_env: SALON_AMO_HOOK\n")
    (settings.tenants_dir / "salon.yaml").write_text(yaml, encoding="utf-8")
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()


def test_our_receiver_stores_what_the_sandbox_echoes(amo, salon):
    """The whole loop: the sandbox's echo of a person's move is parsed and stored by salonbridge's hook."""
    with serve(create_app(services=salon)) as url:
        subscribe(amo, f"{url}/hooks/salon/amocrm/amo-hook-t0ken-0123456789")
        lead = a_lead(amo)
        pipeline, status = stage(amo)
        amo.control(f"person/leads/{lead}", {"status_id": status, "pipeline_id": pipeline})
        assert [d["status"] for d in wait(amo)] == [200, 200]
    with salon.store.session() as s:
        [event] = s.scalars(select(InboundEvent))
        payload = event.payload
    assert (payload["kind"], payload["lead_id"], payload["status_id"], payload["modified_user_id"]) == (
        "lead_moved", lead, status, str(MANAGER_ID))
