"""A salon with a little of everything the dashboard shows, two tenants and their users."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from rq.job import Job
from rq.results import Result
from sqlalchemy import update

from bridge.queue import PROCESS_EVENT, SYNC_CRM
from bridge.services import Services
from bridge.store import users
from bridge.store.models import (
    AppliedAction,
    Client,
    CrmLink,
    CycleRow,
    InboundEvent,
    LeadRow,
    MessageRow,
    PaymentCallback,
    PrepaymentRow,
    Visit,
)
from tests.conftest import TENANT_YAML
from tests.integration.test_client_page import seed_client

PASSWORD = "correct horse battery"
OTHER_YAML = TENANT_YAML.replace("slug: salon", "slug: other").replace("name: Test Salon", "name: Other Salon")


@pytest.fixture
def dash(settings, tenants_dir: Path) -> Iterator[Services]:
    """Services with two tenants (salon, other), an admin, a manager of each, and salon's data."""
    (tenants_dir / "other.yaml").write_text(OTHER_YAML, encoding="utf-8")
    svc = Services.build(settings, migrate=True)
    now = datetime.now(UTC)
    users.add(svc.store, "agency", PASSWORD, role="admin", tenant=None, now=now)
    users.add(svc.store, "olena", PASSWORD, role="manager", tenant="salon", now=now)
    users.add(svc.store, "ivan", PASSWORD, role="manager", tenant="other", now=now, language="en")
    seed_salon(svc)
    try:
        yield svc
    finally:
        svc.close()


def seed_salon(svc: Services, tenant: str = "salon") -> int:
    now = datetime.now(UTC)
    client_id = seed_client(svc, tenant=tenant)
    today = datetime.combine(now.astimezone(svc.tenants[tenant].timezone).date(), time(0),
                             tzinfo=svc.tenants[tenant].timezone)  # every event "today", even just after midnight
    with svc.store.session() as s:
        events = []
        for i, status in enumerate(["done"] * 5 + ["invalid", "retry", "received"]):
            e = InboundEvent(tenant=tenant, source="yclients", dedupe_key=f"d-{i}", payload={}, status=status,
                             received_at=max(today, now - timedelta(minutes=i)),
                             error="boom" if status != "done" else None)
            s.add(e)
            events.append(e)
        s.add(InboundEvent(tenant=tenant, source="amocrm", dedupe_key="a-1", payload={}, status="done",
                           received_at=max(today, now - timedelta(hours=1))))
        s.flush()
        for pipeline, stage, n in (("sales", "first_booking", 3), ("sales", "won", 2), ("repeat", "reminder_due", 4),
                                   ("repeat", "next_visit_expected", 6), ("lost", "manager_call", 1)):
            for j in range(n):
                s.add(LeadRow(tenant=tenant, client_id=client_id, key=f"lead-{pipeline}-{stage}-{j}",
                              pipeline=pipeline, stage=stage, status="open", updated_at=now))
        for k, (state, days) in enumerate((("open", 5), ("cancelled_by_booking", 9), ("restored", -1),
                                           ("done_by_person", 2))):
            s.add(CycleRow(tenant=tenant, client_id=client_id, category="manicure", anchor_visit_id=f"v{k}",
                           due_at=now + timedelta(days=days), period_days=21, task_key=f"task-{k}", task_state=state,
                           service="Манікюр + гель-лак", master="Анна", updated_at=now,
                           close_reason="booking 9001" if state == "cancelled_by_booking" else None))
        for k, (template, channel) in enumerate((("reminder", "sms"), ("reminder", "sms"), ("welcome", "email"))):
            s.add(MessageRow(tenant=tenant, client_id=client_id, key=f"m-{k}", template=template, language="uk",
                             occasion=f"o-{k}", channels=[channel], send_at=now, state="sent", channel=channel,
                             sent_at=now, created_at=now))
        s.add(AppliedAction(tenant=tenant, key="lead-sales-first_booking-0", kind="CreateLead",
                            payload={"pipeline": "sales", "stage": "first_booking"}, state="done",
                            event_id=events[0].id, client_id=client_id, created_at=now - timedelta(days=1),
                            applied_at=now))
        s.add(AppliedAction(tenant=tenant, key="pending-note", kind="AddNote", payload={"text": "x"}, state="pending",
                            client_id=client_id, created_at=now - timedelta(minutes=3)))
        s.add(CrmLink(tenant=tenant, local_kind="contact", local_key=str(client_id), amo_id=777001, updated_at=now))
        s.add(CrmLink(tenant=tenant, local_kind="lead", local_key="lead-sales-first_booking-0", amo_id=888001,
                      updated_at=now))
        for k, status in enumerate(("pending", "paid", "expired", "cancelled")):
            s.add(PrepaymentRow(tenant=tenant, booking_id=f"90{k}", client_id=client_id, attempt=1,
                                order_ref=f"bk-90{k}-1", provider="liqpay", amount=Decimal("300.00"), currency="UAH",
                                status=status, branch="111111", deadline_at=now + timedelta(hours=2),
                                created_at=now - timedelta(hours=k), updated_at=now,
                                paid_at=now if status == "paid" else None,
                                expired_at=now if status == "expired" else None,
                                cancelled_at=now if status == "cancelled" else None))
        s.add(PaymentCallback(tenant=tenant, provider="liqpay", body=b"data=...", body_sha256="0" * 64,
                              received_at=now - timedelta(minutes=30), last_received_at=now - timedelta(minutes=30)))
        s.execute(update(Visit).where(Visit.tenant == tenant).values(categories=["manicure"]))
        for k, (name, last_days_ago) in enumerate((("Марія Коваль", 60), ("Ірина Шевчук", 45), ("Оксана Бондар", 12))):
            other = Client(tenant=tenant, source="yclients", external_id=f"risk-{k}", name=name,
                           phone=f"+38067555000{k}", created_at=now, updated_at=now)
            s.add(other)
            s.flush()
            for j in range(4):  # every 21 days, the last ``last_days_ago`` days ago
                at = now - timedelta(days=last_days_ago + 21 * j)
                s.add(Visit(tenant=tenant, source="yclients", external_id=f"risk-{k}-{j}", client_id=other.id,
                            status="completed", start_at=at, branch="111111", version=at, created_at=at,
                            updated_at=at, categories=["pedicure" if k == 1 else "manicure"]))
        first_event = events[5].id
    fail_job(svc, PROCESS_EVENT, (first_event,), f"evt-{first_event}")
    fail_job(svc, SYNC_CRM, ("other",), "crm-other")
    return client_id


def fail_job(svc: Services, func: str, args: tuple, job_id: str) -> Job:
    """A job in RQ's failed registry, as a worker leaves one that raised."""
    job = Job.create(func, args=args, id=job_id, connection=svc.queue.connection, origin=svc.queue.name)
    job.save()
    error = "Traceback (most recent call last):\nRuntimeError: the store was unreachable"
    svc.queue.rq.failed_job_registry.add(job, ttl=3600, exc_string=error)
    Result.create_failure(job, 3600, exc_string=error)
    return job
