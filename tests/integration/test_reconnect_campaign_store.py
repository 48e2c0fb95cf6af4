"""Reconnect campaigns over the store: the predicted-time mode (optional, off by default: the first message
by itself within ``lead_days`` before a client would become at risk; never to clients already at risk,
whose goes on an operator's command, never twice), and a booking dropping a message still held back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bridge.store.models import MessageRow, ReconnectContactRow
from jobs.reconnect import enqueue_predicted, run_predicted
from tests.integration.reconnect_data import DAY, History


@pytest.fixture
def tenants_dir(tenants_dir, request):
    if getattr(request, "param", True):
        path = tenants_dir / "salon.yaml"
        path.write_text(path.read_text(encoding="utf-8")
                        + "reconnect:\n  predicted_time: {enabled: true, lead_days: 3}\n", encoding="utf-8")
    return tenants_dir


def clients_of(services) -> dict[str, int]:
    """Who was contacted (client id -> number of contacts) and how many first messages were planned."""
    with services.store.session() as s:
        rows = s.execute(select(ReconnectContactRow.client_id, ReconnectContactRow.campaign)).all()
        messages = s.scalars(select(MessageRow.template)).all()
    return {"contacts": sorted(r.client_id for r in rows), "campaigns": {r.campaign.split("-")[1] for r in rows},
            "messages": messages.count("reconnect_first")}


def test_clients_about_to_be_at_risk_are_contacted_once_and_the_late_ones_are_left_to_the_operator(services):
    now = datetime.now(UTC)
    h = History(services.store)
    # every 20 days, tolerance 7: at risk once more than 27 days after the last visit
    soon = h.client("Soon", "+380671000001")
    h.regular(soon, now - 26 * DAY, 20)  # at risk in 2 days: inside the 3 lead days
    later = h.client("Later", "+380671000002")
    h.regular(later, now - 20 * DAY, 20)  # at risk in 8 days: not yet
    late = h.client("Late", "+380671000003")
    h.regular(late, now - 40 * DAY, 20)  # already at risk: the operator's command
    assert enqueue_predicted(services, now) == 1  # the clock queues the run, once per tenant and hour
    assert enqueue_predicted(services, now) == 0
    assert run_predicted(services, "salon", now) == 1
    assert clients_of(services) == {"contacts": [soon], "campaigns": {"predicted"}, "messages": 1}
    assert run_predicted(services, "salon", now + DAY) == 0  # never twice for one lateness
    assert run_predicted(services, "salon", now + 6 * DAY) == 1  # Later's turn
    assert clients_of(services)["contacts"] == sorted([soon, later])


@pytest.mark.parametrize("tenants_dir", [False], indirect=True)
def test_off_by_default(services):
    now = datetime.now(UTC)
    h = History(services.store)
    h.regular(h.client("Soon", "+380671000001"), now - 26 * DAY, 20)
    assert run_predicted(services, "salon", now) == 0
    assert enqueue_predicted(services, now) == 0
    assert clients_of(services)["contacts"] == []


@pytest.mark.parametrize("tenants_dir", [False], indirect=True)
def test_a_cancel_about_no_booking_drops_only_the_clients_held_back_messages_of_that_template(services):
    from bridge.store import actions
    from pipelines.actions import CancelMessage, SendMessage

    now = datetime.now(UTC)
    h = History(services.store)
    olha = h.client("Olha", "+380671000001")

    def message(key: str, template: str, booking: str | None) -> SendMessage:
        return SendMessage(key=key, client_id=str(olha), template=template, language="uk", occasion=key,
                           channels=("sms",), send_at=now + DAY, booking_id=booking)

    with services.store.session() as s:
        actions.record(s, "salon", None, olha, [
            message("m1", "reconnect_first", None), message("m2", "reconnect_first", "b1"),
            message("m3", "reminder_24h", None),
            CancelMessage(key="c1", client_id=str(olha), template="reconnect_first", booking_id=None, reason="booked"),
        ], now)
    with services.store.session() as s:
        states = dict(s.execute(select(MessageRow.key, MessageRow.state)).all())
    assert states == {"m1": "cancelled", "m2": "scheduled", "m3": "scheduled"}
