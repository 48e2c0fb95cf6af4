"""Intake accepts only what can be processed: whatever a hostile or broken sender posts, the answer is a
clean 4xx with the reason and nothing stored, or a 2xx for an event the worker takes to a final status.
Poison events (stored before such a rule, or failing for a reason of ours) are parked after a few
attempts instead of retrying forever, listed and retried by ``salonbridge events``."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bridge.services import Services
from bridge.store import inbox
from bridge.store.models import InboundEvent, OutboxRow
from jobs.process_event import handle_event
from salonbridge.cli import main as cli
from tests.conftest import TOKEN
from tests.helpers import yclients_record
from webhooks.app import create_app

YCLIENTS = f"/hooks/salon/yclients/{TOKEN}"
GENERIC = f"/hooks/salon/generic/{TOKEN}"


def generic_event(event_id: str = "b-1-1", **booking: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": "2026-03-01T09:00:00+02:00",
        "booking": {"id": "b-1", "status": "scheduled", "start_at": "2026-03-05T12:00:00",
                    "services": [{"id": "3333", "title": "Манікюр", "price": "650"}], **booking},
        "client": {"id": "c-1", "name": "Ольга", "phone": "+380671234567"},
    }


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services).test_client()


def stored(svc: Services) -> tuple[int, int]:
    with svc.store.session() as s:
        return (s.scalar(select(func.count()).select_from(InboundEvent)),
                s.scalar(select(func.count()).select_from(OutboxRow)))


def status_of(svc: Services, event_id: int) -> str:
    with svc.store.session() as s:
        return s.get(InboundEvent, event_id).status


def yc(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = yclients_record()
    mutate(body)
    return body


def gen(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    body = generic_event()
    mutate(body)
    return body


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


REFUSED = {
    "lone surrogate in a client name": (YCLIENTS, yc(lambda b: b["data"]["client"].update(name="Ол\ud800ьга"))),
    "lone surrogate in a key": (YCLIENTS, yc(lambda b: b["data"].update({"x\udfff": 1}))),
    "lone surrogate in generic meta": (GENERIC, gen(lambda b: b.update(meta={"k": ["\udc80"]}))),
    "NUL in a service title": (YCLIENTS, yc(lambda b: b["data"]["services"][0].update(title="Ман\x00ікюр"))),
    "NUL in generic meta": (GENERIC, gen(lambda b: b.update(meta={"note": "a\x00b"}))),
    "year 1 booking date": (YCLIENTS, yc(lambda b: b["data"].update(date="0001-01-01 00:00:00",
                                                                    datetime="0001-01-01T00:00:00+02:00"))),
    "year 9999 with an offset": (YCLIENTS, yc(lambda b: b["data"].update(
        last_change_date="9999-12-31T23:00:00-05:00"))),
    "a date 50 years ahead": (GENERIC, gen(lambda b: b["booking"].update(start_at="2080-01-01T10:00:00"))),
    "a date before 1900": (GENERIC, gen(lambda b: b.update(occurred_at="1899-12-31T10:00:00+00:00"))),
    "year 1 birthday": (GENERIC, gen(lambda b: b["client"].update(birthday="0001-01-01"))),
    "a booking of a year": (YCLIENTS, yc(lambda b: b["data"].update(seance_length=365 * 24 * 3600))),
    "a negative duration": (YCLIENTS, yc(lambda b: b["data"].update(seance_length=-60))),
    "a price beyond the column": (YCLIENTS, yc(lambda b: b["data"]["services"][0].update(cost=10**12))),
    "a quantity of a million": (YCLIENTS, yc(lambda b: b["data"]["services"][0].update(amount=10**6))),
    "a number beyond 64 bits": (GENERIC, gen(lambda b: b.update(meta={"n": 2**70}))),
    "a title longer than its column": (YCLIENTS, yc(lambda b: b["data"]["services"][0].update(title="я" * 201))),
    "a name longer than its column": (YCLIENTS, yc(lambda b: b["data"]["client"].update(display_name="я" * 300))),
    "meta nested 500 deep": (GENERIC, gen(lambda b: b.update(meta=deep(500)))),
    "meta nested 40 deep": (GENERIC, gen(lambda b: b.update(meta=deep(40)))),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_value_that_could_not_be_processed_is_refused_with_422_naming_it(client, services, case):
    url, body = REFUSED[case]
    answer = client.post(url, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["fields"], answer.get_json()
    assert stored(services) == (0, 0)


@pytest.mark.parametrize("raw", [b'{"a":' * 1200 + b"1" + b"}" * 1200, b"[" * 100_000 + b"]" * 100_000,
                                 b'{"company_id": NaN}', b'{"n": 1' + b"0" * 5000 + b"}"])
def test_json_too_deep_or_not_standard_is_a_4xx_never_a_5xx(client, services, raw):
    answer = client.post(YCLIENTS, data=raw, content_type="application/json")
    assert answer.status_code in (400, 422), answer.get_data()
    assert stored(services) == (0, 0)


def test_values_inside_the_window_are_accepted_and_processed(client, services):
    body = generic_event()
    body["meta"] = {"depth": deep(20), "text": "ok — ✓ 𝄞"}  # astral characters are fine
    body["client"]["birthday"] = "1901-02-03"
    answer = client.post(GENERIC, data=json.dumps(body), content_type="application/json")
    assert answer.status_code == 202, answer.get_json()
    assert handle_event(services, answer.get_json()["event_id"], datetime.now(UTC)) == "done"


def test_the_date_window_is_configurable(settings, tenants_dir):
    from dataclasses import replace

    svc = Services.build(replace(settings, earliest_date=datetime(2026, 1, 1).date(), years_ahead=1), migrate=True)
    try:
        web = create_app(services=svc).test_client()
        old = gen(lambda b: b["booking"].update(start_at="2025-12-01T10:00:00"))
        answer = web.post(GENERIC, data=json.dumps(old), content_type="application/json")
        assert answer.status_code == 422 and "booking.start_at" in answer.get_json()["fields"]
    finally:
        svc.close()


def test_oauth_state_with_non_ascii_is_a_400_page(client):
    answer = client.get("/oauth/salon/callback?state=salon.1.n.%C3%A9&code=x")
    assert answer.status_code == 400


def test_a_double_slash_path_is_not_redirected_with_its_token(client, services):
    answer = client.post(f"/hooks/salon//yclients/{TOKEN}", data=json.dumps(yclients_record()),
                         content_type="application/json")
    assert answer.status_code == 404
    assert TOKEN not in answer.headers.get("Location", "")
    assert stored(services) == (0, 0)


def test_a_chunked_body_over_the_limit_is_413(client, services):
    big = json.dumps({**yclients_record(), "pad": "x" * (services.settings.max_body_bytes + 10)}).encode()
    answer = client.post(YCLIENTS, input_stream=io.BytesIO(big), content_type="application/json",
                         environ_overrides={"wsgi.input_terminated": True})
    assert answer.status_code == 413
    assert stored(services) == (0, 0)


# --- one transaction per delivery -------------------------------------------------------------------------


def test_a_booking_delivery_failing_half_way_stores_nothing(client, services, backend):
    """The database refuses the outbox row after the event row went in: 503 to retry, and no event kept."""
    from sqlalchemy import text

    with services.store.engine.begin() as conn:
        if backend.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox "
                                 "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        else:
            conn.execute(text("CREATE FUNCTION fail_outbox() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox FOR EACH ROW "
                              "EXECUTE FUNCTION fail_outbox()"))
    answer = client.post(YCLIENTS, data=json.dumps(yclients_record()), content_type="application/json")
    assert answer.status_code == 503
    assert stored(services) == (0, 0)


# --- poison events are parked ----------------------------------------------------------------------------


def poison(services: Services, booking_id: str = "b-poison", phone: str = "+380671234567") -> int:
    """An event stored before the acceptance rule existed: its start is at the end of the calendar."""
    body = generic_event(f"{booking_id}-1", id=booking_id)
    body["client"]["phone"] = phone
    event = services.tenants["salon"]
    from bridge import intake

    payload = intake.normalize("generic", body, event, datetime.now(UTC)).to_dict()
    payload["booking"]["start_at"] = "9999-12-31T23:30:00-05:00"
    receipt = inbox.accept(services.store, tenant="salon", source="generic", dedupe_key=f"{booking_id}-1",
                           payload=payload, now=datetime.now(UTC))
    return receipt.event_id


def test_a_poison_event_is_parked_after_three_failures_and_does_not_block_the_client(client, services):
    bad = poison(services)
    for attempt in range(1, 3):
        with pytest.raises(Exception):  # noqa: B017 - whatever it is, the job fails and RQ retries it
            handle_event(services, bad, datetime.now(UTC))
        assert status_of(services, bad) == "retry", attempt
    assert handle_event(services, bad, datetime.now(UTC)) == "failed"  # returns: RQ does not retry it
    assert status_of(services, bad) == "failed"
    with services.store.session() as s:
        row = s.get(InboundEvent, bad)
        assert row.attempts == 3 and row.error and "Error" in row.error
        assert "671234567" not in row.error
        assert s.scalar(select(OutboxRow.state).where(OutboxRow.event_id == bad)) == "done"  # not swept again
    assert handle_event(services, bad, datetime.now(UTC)) == "already-done"

    later = generic_event("b-poison-2", id="b-next")  # the same client's next booking goes through
    answer = client.post(GENERIC, data=json.dumps(later), content_type="application/json")
    assert handle_event(services, answer.get_json()["event_id"], datetime.now(UTC)) == "done"

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'salonbridge_events_failed{tenant="salon"} 1.0' in metrics
    assert 'salonbridge_events{status="failed",tenant="salon"} 1.0' in metrics


def test_a_phone_in_the_error_of_a_failed_event_is_masked(services):
    from bridge.failures import describe_failure

    text = describe_failure(ValueError("duplicate key (phone)=(+380671234567) for olga.petrova@example.com"),
                            {"SALON_TEST_WEBHOOK_TOKEN": TOKEN})
    assert "671234567" not in text and "olga.petrova" not in text
    assert describe_failure(RuntimeError(f"bad token {TOKEN}"), {"SALON_TEST_WEBHOOK_TOKEN": TOKEN}) == \
        "RuntimeError: bad token ***"


def test_failed_events_are_listed_and_retried_after_a_fix(services, settings, monkeypatch):
    first, second = poison(services, "b-p1"), poison(services, "b-p2", phone="+380671112233")
    for event_id in (first, second):
        for _ in range(3):
            with contextlib.suppress(Exception):  # the first two attempts fail and are retried
                handle_event(services, event_id, datetime.now(UTC))
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    listed = runner.invoke(cli, ["events", "failed", "--tenant", "salon"])
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    assert [line.split("\t")[0] for line in lines] == [str(first), str(second)]
    assert "booking b-p1" in lines[0] and "3 attempt(s)" in lines[0] and "+38067" not in listed.output
    assert runner.invoke(cli, ["events", "failed", "--tenant", "other"]).stdout.startswith("no failed events")

    with services.store.session() as s:  # "the fix": the event's data is repaired
        row = s.get(InboundEvent, first)
        payload = copy.deepcopy(row.payload)
        payload["booking"]["start_at"] = "2026-03-05T12:00:00+02:00"
        row.payload = payload
    retried = runner.invoke(cli, ["events", "retry", str(first)])
    assert retried.exit_code == 0 and f"1 event(s) queued again: {first}" in retried.output, retried.output
    assert status_of(services, first) == "received"
    assert services.queue.rq.fetch_job(f"evt-{first}") is not None
    assert handle_event(services, first, datetime.now(UTC)) == "done"

    unknown = runner.invoke(cli, ["events", "retry", str(first)])  # done now: not failed
    assert unknown.exit_code == 1 and "left alone" in unknown.output
    everything = runner.invoke(cli, ["events", "retry", "--all"])
    assert everything.exit_code == 0 and f"queued again: {second}" in everything.output
    with services.store.session() as s:
        assert s.get(InboundEvent, second).attempts == 0
