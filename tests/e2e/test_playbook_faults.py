"""People in amoCRM win, and amoCRM's faults never lose or duplicate work (sandbox over real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from amocrm_sandbox import SandboxOptions
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from bridge.store.models import AppliedAction, TenantState
from jobs.crm_sync import drain, paused_reason, pending
from jobs.worker import run_worker
from pipelines.stages import Pipeline
from tests.e2e.conftest import connected_salon
from tests.e2e.test_playbook_sandbox import booking, deliver, periodic

HOOK_TOKEN = "amo-hook-t0ken-0123456789"


@pytest.fixture
def amo(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("SALON_AMO_HOOK", HOOK_TOKEN)
    with connected_salon(settings, tmp_path, monkeypatch, amocrm_extra="  webhook_token_env: SALON_AMO_HOOK\n",
                         options=SandboxOptions(block_seconds=2, retry_after=1), block_after_429s=2) as connected:
        yield connected


def amocrm_webhook(svc: Services, form: dict[str, str]) -> None:
    """amoCRM posting a change a person made, to our endpoint, then the worker reconciling it."""
    from webhooks.app import create_app

    client = create_app(services=svc).test_client()
    answer = client.post(f"/hooks/salon/amocrm/{HOOK_TOKEN}", data=form)
    assert answer.status_code == 200, answer.get_json()
    run_worker(svc, burst=True)


def test_a_lead_a_person_closed_as_lost_stays_lost(amo):
    svc, _ = amo
    now = datetime.now(UTC)
    when = now + timedelta(days=1)
    deliver(svc, booking(20, when=when, changed=now - timedelta(hours=2)))
    api = client_for(svc.tenants["salon"], svc)
    [lead] = list(api.iterate("/api/v4/leads", "leads"))
    sales = load_account_map(svc.store, "salon").pipeline_id(Pipeline.SALES)
    api.update_leads([{"id": lead["id"], "status_id": 143, "pipeline_id": sales}])  # a manager closes it
    amocrm_webhook(svc, {"leads[status][0][id]": str(lead["id"]), "leads[status][0][status_id]": "143",
                         "leads[status][0][pipeline_id]": str(sales), "leads[status][0][modified_user_id]": "501",
                         "leads[status][0][last_modified]": "1", "account[id]": "1"})
    # the visit then happens: the robot would win the Sales lead, but a person decided
    deliver(svc, booking(20, when=when, changed=now - timedelta(hours=1), status="update", attendance=1))
    assert api.get_lead(lead["id"])["status_id"] == 143


def test_a_task_a_person_completed_is_never_cancelled_or_restored(amo):
    svc, _ = amo
    now = datetime.now(UTC)
    visit = now - timedelta(days=2)
    deliver(svc, booking(30, when=visit, changed=visit - timedelta(days=3)),
            booking(30, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1))
    [task] = periodic(svc)
    api = client_for(svc.tenants["salon"], svc)
    api.complete_task(task["id"], "Called, she will book herself")
    amocrm_webhook(svc, {"task[update][0][id]": str(task["id"]), "task[update][0][status]": "1",
                         "task[update][0][action_close]": "1", "task[update][0][updated_at]": "2",
                         "task[update][0][result][text]": "Called, she will book herself"})
    deliver(svc, booking(31, when=now + timedelta(days=4), changed=now - timedelta(minutes=9)))
    deliver(svc, booking(31, when=now + timedelta(days=4), changed=now - timedelta(minutes=8), status="delete",
                         deleted=True))
    [same] = periodic(svc)
    assert same["result"]["text"] == "Called, she will book herself"  # not overwritten, nothing restored


def test_a_task_create_that_timed_out_after_amocrm_stored_it_is_not_duplicated(amo):
    svc, base_url = amo
    requests.post(f"{base_url}/_sandbox/faults", json={"store_then_timeout": "POST /api/v4/tasks",
                                                       "hang_seconds": 3}, timeout=5)
    now = datetime.now(UTC)
    visit = now - timedelta(days=2)
    run = [booking(40, when=visit, changed=visit - timedelta(days=3)),
           booking(40, when=visit, changed=visit + timedelta(hours=2), status="update", attendance=1)]
    from bridge import intake

    for body in run:
        intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients", body, now)
    run_worker(svc, burst=True)  # its sync job meets the timeout: the task create is ambiguous
    impatient = client_for(svc.tenants["salon"], svc, timeout=(2, 1))
    drain(svc, svc.tenants["salon"], datetime.now(UTC), client=impatient)
    drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert len(periodic(svc)) == 1
    assert pending(svc, "salon") == []
    with svc.store.session() as s:
        [row] = s.scalars(select(AppliedAction).where(AppliedAction.kind == "CreateTask",
                                                      AppliedAction.key.like("task:periodic:%")))
        assert row.state == "done" and row.attempts >= 1


def test_an_account_block_pauses_the_tenant_and_nothing_is_lost(amo):
    svc, base_url = amo
    requests.post(f"{base_url}/_sandbox/faults", json={"burst_429": 3}, timeout=5)
    now = datetime.now(UTC)
    from bridge import intake

    intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients",
                   booking(50, when=now + timedelta(days=1), changed=now - timedelta(minutes=5)), now)
    run_worker(svc, burst=True)
    report = drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert report.paused and "blocked" in report.paused
    assert paused_reason(svc, "salon", datetime.now(UTC))
    waiting = len(pending(svc, "salon"))
    assert waiting > 0  # nothing was dropped
    with svc.store.session() as s:  # later: the block is over
        s.get(TenantState, "salon").amocrm_paused_until = datetime.now(UTC) - timedelta(seconds=1)
    import time

    time.sleep(2.5)  # the sandbox lifts its block after 2 s
    report = drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert report.paused is None and pending(svc, "salon") == []
    assert len(client_for(svc.tenants["salon"], svc).find_contacts("+380671234567")) == 1


def test_a_pipeline_deleted_in_amocrm_pauses_the_tenant_until_setup_recreates_it(amo):
    svc, _ = amo
    api = client_for(svc.tenants["salon"], svc)
    sales = load_account_map(svc.store, "salon").pipeline_id(Pipeline.SALES)
    api._request("DELETE", f"/api/v4/leads/pipelines/{sales}")  # someone deletes it by hand
    now = datetime.now(UTC)
    from bridge import intake

    intake.receive(svc.store, svc.queue, svc.tenants["salon"], "yclients",
                   booking(60, when=now + timedelta(days=1), changed=now - timedelta(minutes=5)), now)
    run_worker(svc, burst=True)
    report = drain(svc, svc.tenants["salon"], datetime.now(UTC))
    assert report.paused and "salonbridge setup salon" in report.paused
    assert any(i.action.kind == "CreateLead" for i in pending(svc, "salon"))  # waiting, not failed
    run_setup(svc.tenants["salon"], svc)  # recreates the pipeline and saves its new ids
    with svc.store.session() as s:
        s.get(TenantState, "salon").amocrm_paused_until = None
    assert drain(svc, svc.tenants["salon"], datetime.now(UTC)).paused is None
    [lead] = list(api.iterate("/api/v4/leads", "leads"))
    assert lead["pipeline_id"] == load_account_map(svc.store, "salon").pipeline_id(Pipeline.SALES) != sales


def test_check_online_names_what_is_wrong_with_each_amocrm(amo, monkeypatch):
    from click.testing import CliRunner

    from salonbridge.cli import main

    svc, base_url = amo
    for name, value in svc.settings.to_env().items():
        monkeypatch.setenv(name, value)
    ok = CliRunner().invoke(main, ["check", "--online"])
    assert ok.exit_code == 0, ok.output
    requests.post(f"{base_url}/_sandbox/tokens", json={"action": "revoke"}, timeout=5)  # the salon disconnects us
    revoked = CliRunner().invoke(main, ["check", "--online"])
    assert revoked.exit_code == 1
    assert "salon.yaml: amocrm: needs_reauth" in revoked.output
