"""Property: whatever is posted to the booking hooks or the amoCRM hook, the answer is never a 5xx, and every
event answered 2xx reaches a final status ("done", "stale" or "invalid") when the worker runs — none
retries forever.

Bodies are valid YCLIENTS and generic deliveries with one to three values replaced by hostile ones:
lone surrogates, NUL, texts of every script, dates at the ends of the calendar with and without
offsets, huge and non-finite numbers, deep nesting, wrong types.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bridge.services import Services
from bridge.store.models import InboundEvent
from jobs.process_event import handle_event
from tests.conftest import TENANT_YAML, TOKEN
from tests.helpers import yclients_record
from tests.integration.test_amocrm_hook_http import HOOK_ENV, HOOK_TOKEN
from tests.integration.test_intake_acceptance import generic_event
from webhooks.app import create_app

FINAL = {"done", "stale", "invalid"}
SERIAL = itertools.count(1)

hostile_text = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=30),  # surrogates and NUL included
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "x\x00", "", " ", "0", "-1", "1e309", "NaN", "я" * 300]),
)


@st.composite
def dates(draw: st.DrawFn) -> str:
    year = draw(st.one_of(st.sampled_from([1, 2, 1899, 1900, 2026, 2031, 2032, 9998, 9999]),
                          st.integers(1, 9999)))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    hour, minute = draw(st.integers(0, 23)), draw(st.integers(0, 59))
    sep = draw(st.sampled_from(["T", " "]))
    offset = draw(st.sampled_from(["", "Z", "+14:00", "-12:00", "+0300", "+02:00", "-05:00"]))
    return f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:00{offset}"


def nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


leaves = st.one_of(
    hostile_text,
    dates(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**12, 86_400 * 366]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.integers(10, 700).map(nested),
)
values = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(hostile_text, inner, max_size=3)),
                      max_leaves=6)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths(child, (*prefix, i))
    return found


def replace(body: Any, path: tuple, value: Any) -> None:
    node = body
    for step in path[:-1]:
        node = node[step]
    if isinstance(node, list) and not isinstance(path[-1], int):
        node.append(value)
    else:
        node[path[-1]] = value


def current(body: Any, path: tuple) -> Any:
    node = body
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def like(value: Any) -> st.SearchStrategy:
    """Mostly a hostile value of the same kind (so more deliveries get past the schema), sometimes anything."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return values
    same = st.one_of(hostile_text, dates()) if isinstance(value, str) else st.one_of(
        st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([0, -1, 1, 2**31, 2**63, 10**12, 86_400 * 366, 5400]))
    return st.one_of(same, same, same, values)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, str]:
    source = draw(st.sampled_from(["yclients", "generic"]))
    n = next(SERIAL)  # a fresh booking each time: a repeated one would only be a duplicate (200)
    body: Any = yclients_record(500_000_000 + n) if source == "yclients" else generic_event(f"e-{n}", id=f"b-{n}")
    if source == "generic" and draw(st.booleans()):
        body["meta"] = draw(values)
    for _ in range(draw(st.integers(1, 3))):
        where = paths(body)
        if not where:
            break
        path = draw(st.sampled_from(where))
        if draw(st.integers(0, 9)) == 0:  # an extra key next to a real one
            path = (*path[:-1], draw(hostile_text))
        replace(body, path, draw(like(current(body, path))))
    return source, json.dumps(body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(delivery=deliveries())
def test_every_accepted_event_reaches_a_final_status_and_nothing_is_a_5xx(services, delivery):
    source, raw = delivery
    web = create_app(services=services).test_client()
    answer = web.post(f"/hooks/salon/{source}/{TOKEN}", data=raw, content_type="application/json")
    assert answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:300])
    event(f"answered {answer.status_code}")
    event_id = (answer.get_json() or {}).get("event_id")
    if answer.status_code != 202 or event_id is None:
        return
    outcome = "?"
    for _ in range(services.settings.max_event_attempts):
        try:
            outcome = handle_event(services, event_id, datetime.now(UTC))
            break
        except Exception as exc:  # noqa: BLE001 - any failure of an accepted event breaks the property
            outcome = f"{type(exc).__name__}: {exc}"
    with services.store.session() as s:
        status = s.scalar(select(InboundEvent.status).where(InboundEvent.id == event_id))
    event(f"processed: {status}")
    assert status in FINAL, (status, outcome, raw[:500])


@st.composite
def amocrm_forms(draw: st.DrawFn) -> str:
    """A lead move and a task completion as amoCRM posts them, with some values and keys made hostile."""
    n = next(SERIAL)
    fields = {"leads[status][0][id]": str(30_000_000 + n), "leads[status][0][status_id]": "142",
              "leads[status][0][pipeline_id]": "788512", "leads[status][0][modified_user_id]": "1760815",
              "leads[status][0][last_modified]": str(1_700_000_000 + n),
              "task[update][0][id]": str(1_500_000 + n), "task[update][0][status]": "1",
              "task[update][0][action_close]": "1", "task[update][0][updated_at]": str(1_700_000_000 + n),
              "task[update][0][result][text]": "Клієнтка записалась"}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.one_of(st.sampled_from(sorted(fields)), hostile_text,
                             st.integers(1, 12).map(lambda d: "x" + "[y]" * d)))
        fields[key] = draw(st.one_of(hostile_text, dates(), st.integers().map(str)))
    pairs = [(k.encode("utf-8", "surrogatepass"), v.encode("utf-8", "surrogatepass")) for k, v in fields.items()]
    return urlencode(pairs)


@pytest.fixture
def salon(settings, monkeypatch) -> Iterator[Services]:
    """The test salon with an amoCRM webhook token."""
    monkeypatch.setenv(HOOK_ENV, HOOK_TOKEN)
    yaml = TENANT_YAML.replace("  base_url: http://127.0.0.1:9\n",
                               f"  base_url: http://127.0.0.1:9\n  webhook_token_env: {HOOK_ENV}\n")
    (settings.tenants_dir / "salon.yaml").write_text(yaml, encoding="utf-8")
    svc = Services.build(settings, migrate=True)
    yield svc
    svc.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(form=amocrm_forms())
def test_every_accepted_amocrm_change_reaches_a_final_status_and_nothing_is_a_5xx(salon, form):
    web = create_app(services=salon).test_client()
    answer = web.post(f"/hooks/salon/amocrm/{HOOK_TOKEN}", data=form,
                      content_type="application/x-www-form-urlencoded")
    assert answer.status_code < 500, (answer.status_code, answer.get_data(as_text=True)[:300])
    event(f"answered {answer.status_code}")
    with salon.store.session() as s:
        open_ids = list(s.scalars(select(InboundEvent.id).where(InboundEvent.status.not_in(FINAL))))
    for event_id in open_ids:
        with contextlib.suppress(Exception):
            handle_event(salon, event_id, datetime.now(UTC))
    with salon.store.session() as s:
        left = s.execute(select(InboundEvent.id, InboundEvent.status, InboundEvent.error)
                         .where(InboundEvent.status.not_in(FINAL))).all()
    assert not left, (left, form[:300])
