"""A synthetic salon's year through the whole system into the sandbox: amoCRM ends up exactly as the
store says, pipeline by pipeline and stage by stage, task by task."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import select

from amocrm_sandbox import create_sandbox_app
from bridge import intake
from bridge.amocrm.account_map import load_account_map
from bridge.amocrm.connect import client_for
from bridge.amocrm.provisioning import run_setup
from bridge.services import Services
from bridge.store import links
from bridge.store.models import AppliedAction, Client, CycleRow, LeadRow
from jobs.crm_sync import drain, pending
from jobs.due import run_due
from jobs.worker import run_worker
from pipelines.stages import Pipeline
from salonbridge import synthetic
from tests.fakes.http import serve

pytestmark = pytest.mark.slow


@pytest.fixture
def year(settings, tmp_path, monkeypatch):
    with serve(create_sandbox_app(tmp_path / "sandbox.json")) as base_url:
        token = requests.post(f"{base_url}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
        monkeypatch.setenv("DEMO_AMO", token["access_token"])
        monkeypatch.setenv("DEMO_HOOK", "x" * 24)
        (settings.tenants_dir / "demo.yaml").write_text(
            synthetic.tenant_yaml("demo", "DEMO_HOOK", base_url, "DEMO_AMO"), encoding="utf-8")
        svc = Services.build(settings, migrate=True)
        run_setup(svc.tenants["demo"], svc)
        tenant = svc.tenants["demo"]
        for body in synthetic.generate(seed=11, clients=8):
            intake.receive(svc.store, svc.queue, tenant, "yclients", body, datetime.now(UTC))
        run_worker(svc, burst=True)
        run_due(svc, datetime.now(UTC))  # the clock's pass: reminders, overdue clients into Lost clients
        while pending(svc, "demo"):
            before = len(pending(svc, "demo"))
            drain(svc, tenant, datetime.now(UTC))
            assert len(pending(svc, "demo")) < before, "amoCRM actions stopped making progress"
        stats = requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()
        yield svc, client_for(tenant, svc), stats
        svc.close()


def test_amocrm_ends_up_exactly_as_the_store_says(year):
    svc, api, stats = year
    account = load_account_map(svc.store, "demo")
    leads = list(api.iterate("/api/v4/leads", "leads"))
    tasks = {t["id"]: t for t in api.iterate("/api/v4/tasks", "tasks")}
    contacts = list(api.iterate("/api/v4/contacts", "contacts"))
    with svc.store.session() as s:
        # leads: pipeline by pipeline, stage by stage
        in_store = Counter((Pipeline(p), stage) for p, stage in s.execute(select(LeadRow.pipeline, LeadRow.stage)))
        assert Counter(account.stage_of(lead["pipeline_id"], lead["status_id"]) for lead in leads) == in_store
        assert {p for p, _ in in_store} == set(Pipeline)  # the year reaches all three pipelines
        # autotasks: open in amoCRM exactly while their cycle expects them
        cycles = s.scalars(select(CycleRow).where(CycleRow.task_exists.is_(True))).all()
        assert cycles
        for cycle in cycles:
            task = tasks[links.get(s, "demo", "task", cycle.task_key)]
            active = cycle.task_state in ("open", "restored") and cycle.closed_at is None
            assert task["is_completed"] is (not active), (cycle.task_key, cycle.task_state)
        # contacts: one per reachable client
        reachable = s.scalars(select(Client).where(Client.phone.is_not(None) | Client.email.is_not(None))).all()
        assert all(links.get(s, "demo", "contact", str(c.id)) for c in reachable)
        failed = s.scalars(select(AppliedAction.key).where(AppliedAction.state == "failed")).all()
    assert len(contacts) == len(reachable)
    assert failed == []
    assert stats["rate_limited_429"] == 0
