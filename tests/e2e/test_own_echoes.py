"""amoCRM echoes every change back as a webhook, the integration's own included. A task the robot
closed must not come back as "a person completed it" (that would switch off seed 000's restore rule),
while a task a person completes in amoCRM is still recognised as theirs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bridge.store import playbook
from jobs.worker import run_worker
from pipelines.snapshot import TaskState
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking, deliver, periodic
from tests.fakes.http import serve
from webhooks.app import create_app

pytestmark = pytest.mark.slow
HOOK_TOKEN = "amo-hook-t0ken-0123456789"


@pytest.fixture
def echoing(settings, tmp_path, monkeypatch):
    """The connected salon with its amoCRM hook subscribed: every API change comes back to our web app."""
    monkeypatch.setenv("SALON_AMO_HOOK", HOOK_TOKEN)
    with connected_salon(settings, tmp_path, monkeypatch, amocrm_extra="  webhook_token_env: SALON_AMO_HOOK\n") as (
        svc, base_url,
    ), serve(create_app(services=svc)) as web:
        api = {"Authorization": "Bearer " + os.environ["SALON_AMO_TOKEN"]}
        time.sleep(1)  # setup just spent this second's amoCRM budget
        requests.post(f"{base_url}/api/v4/webhooks", headers=api, timeout=5, json={
            "destination": f"{web}/hooks/salon/amocrm/{HOOK_TOKEN}", "settings": ["update_task", "status_lead"],
        }).raise_for_status()
        yield svc, base_url


def echoes_processed(svc, base_url: str) -> None:
    """Wait for the sandbox to deliver every echo, then let a worker handle what our hook stored."""
    requests.post(f"{base_url}/_sandbox/webhooks/wait", json={"timeout": 20}, timeout=30).raise_for_status()
    run_worker(svc, burst=True)


def task_state(svc, amo_task_id: int) -> str:
    with svc.store.session() as s:
        return playbook.cycle_of_task(s, "salon", amo_task_id).task_state


def test_a_task_the_robot_closed_is_not_taken_for_a_persons_and_still_comes_back(echoing):
    svc, base_url = echoing
    now = datetime.now(UTC)
    visit = now - timedelta(days=3)
    deliver(svc, booking(1, when=visit, changed=visit - timedelta(days=5)),
            booking(1, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1))
    deliver(svc, booking(3, when=now + timedelta(days=5), changed=now - timedelta(minutes=20)))  # robot closes it
    [closed] = periodic(svc)
    assert closed["is_completed"] is True
    echoes_processed(svc, base_url)
    assert task_state(svc, closed["id"]) != TaskState.DONE_BY_PERSON.value

    # the booking that closed it is cancelled: the seed's restore rule still applies
    deliver(svc, booking(3, when=now + timedelta(days=5), changed=now - timedelta(minutes=10), status="delete",
                         deleted=True))
    echoes_processed(svc, base_url)
    old, restored = periodic(svc)
    assert restored["is_completed"] is False

    # a person completes the restored task in amoCRM: that one is theirs
    requests.post(f"{base_url}/_sandbox/person/tasks/{restored['id']}", timeout=5,
                  json={"is_completed": True, "result": {"text": "called, booked by phone"}}).raise_for_status()
    echoes_processed(svc, base_url)
    assert task_state(svc, restored["id"]) == TaskState.DONE_BY_PERSON.value
