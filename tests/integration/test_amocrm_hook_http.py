"""The amoCRM webhook endpoint of the real app: what it stores, and that hostile or broken bodies get a
clean 400/422 with a reason — never a 5xx, never part of a delivery stored."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from bridge.services import Services
from bridge.store.models import InboundEvent, OutboxRow
from tests.conftest import TENANT_YAML
from webhooks.app import create_app

HOOK_ENV, HOOK_TOKEN = "SALON_AMO_HOOK", "amo-hook-t0ken-0123456789"
URL = f"/hooks/salon/amocrm/{HOOK_TOKEN}"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def salon(settings, monkeypatch) -> Iterator[Services]:
    monkeypatch.setenv(HOOK_ENV, HOOK_TOKEN)
    yaml = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               f"  base_url: http://127.0.0.1:9\n  webhook_token_env: {HOOK_ENV}\n")
    (settings.tenants_dir / "salon.yaml").write_text(yaml, encoding="utf-8")
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()


@pytest.fixture
def client(salon: Services) -> FlaskClient:
    return create_app(services=salon).test_client()


def stored(svc: Services) -> tuple[int, int]:
    with svc.store.session() as s:
        return (s.scalar(select(func.count()).select_from(InboundEvent)),
                s.scalar(select(func.count()).select_from(OutboxRow)))


def lead_moved(lead_id: str = "30267969", **extra: str) -> dict[str, str]:
    return {"leads[status][0][id]": lead_id, "leads[status][0][status_id]": "142",
            "leads[status][0][pipeline_id]": "788512", "leads[status][0][modified_user_id]": "1760815",
            "leads[status][0][last_modified]": "1615985846", **extra}


def task_done(task_id: str = "1564845") -> dict[str, str]:
    return {"task[update][0][id]": task_id, "task[update][0][status]": "1", "task[update][0][action_close]": "1",
            "task[update][0][updated_at]": "1726579269", "task[update][0][result][text]": "Клієнтка записалась"}


def post(client: FlaskClient, body: str | dict[str, str]):
    raw = body if isinstance(body, str) else urlencode(body)
    return client.post(URL, data=raw, content_type=FORM)


def test_a_delivery_with_a_lead_move_and_a_task_completion_stores_both_once(client, salon):
    body = {**lead_moved(), **task_done(), "account[subdomain]": "salon", "account[id]": "16503244"}
    first = post(client, body)
    assert first.status_code == 200 and first.get_json() == {"status": "accepted", "stored": 2}
    assert post(client, body).get_json() == {"status": "accepted", "stored": 0}  # amoCRM retried it
    assert stored(salon) == (2, 2)
    with salon.store.session() as s:
        kinds = sorted(e.payload["kind"] for e in s.scalars(select(InboundEvent)))
    assert kinds == ["lead_moved", "task_completed"]


def test_the_same_change_twice_in_one_delivery_is_stored_once(client, salon):
    body = {**lead_moved(), **{k.replace("[0]", "[1]"): v for k, v in lead_moved().items()}}
    assert post(client, body).get_json()["stored"] == 1
    assert stored(salon) == (1, 1)


@pytest.mark.parametrize("value", ["null", "1.5", " ", "1e5", "-3", "0x10", ""])
def test_an_id_that_is_not_an_integer_is_422_with_the_field_named(client, salon, value):
    answer = post(client, lead_moved(value))
    assert answer.status_code == 422, answer.get_data(as_text=True)
    assert "leads[status][0][id]" in answer.get_json()["reason"]
    assert stored(salon) == (0, 0)


def test_one_bad_change_refuses_the_whole_delivery(client, salon):
    answer = post(client, {**lead_moved(), **task_done("1e5")})
    assert answer.status_code == 422 and "task[update][0][id]" in answer.get_json()["reason"]
    assert stored(salon) == (0, 0)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("&".join(["a%5Bb%5D=1"] * 5000), "appears more than once"),
        ("a" + "%5Bx%5D" * 1000 + "=1", "nested deeper"),
        ("leads" + "[x]" * 30 + "=1", "nested deeper"),
        ("&".join(f"f{i}=1" for i in range(10_001)), "more than 10000 fields"),
        ("leads=1&leads[status][0][id]=2", "value"),
        ("leads[status][0][id]=2&leads=1", "value"),
        ("leads[status][][id]=2", "empty brackets"),
        ("leads[status][0][id]=2%00", "NUL"),
        ("a]b[=1", "not of the form"),
    ],
    ids=["repeated-key", "1000-deep", "30-deep", "too-many-fields", "group-then-value", "value-then-group",
         "empty-brackets", "nul", "bad-name"],
)
def test_a_malformed_form_is_400_with_a_reason(client, salon, body, reason):
    answer = post(client, body)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert reason in answer.get_json()["reason"]
    assert stored(salon) == (0, 0)


def test_a_form_with_nothing_we_act_on_is_accepted_and_stores_nothing(client, salon):
    body = {"leads[update][0][id]": "1", "contacts[add][0][id]": "2", "account[id]": "3"}
    assert post(client, body).get_json() == {"status": "accepted", "stored": 0}


def test_a_storage_failure_half_way_stores_none_of_the_delivery(client, salon, backend):
    """The database refuses the second change of a delivery: 503 to retry, and the first is not kept."""
    with salon.store.engine.begin() as conn:
        if backend.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER fail_task BEFORE INSERT ON inbound_events WHEN NEW.dedupe_key LIKE '%1564845%' "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        else:
            conn.execute(text(
                "CREATE FUNCTION fail_task() RETURNS trigger AS $$ BEGIN IF NEW.dedupe_key LIKE '%1564845%' "
                "THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER fail_task BEFORE INSERT ON inbound_events FOR EACH ROW "
                              "EXECUTE FUNCTION fail_task()"))
    answer = post(client, {**lead_moved(), **task_done()})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"
    assert stored(salon) == (0, 0)
