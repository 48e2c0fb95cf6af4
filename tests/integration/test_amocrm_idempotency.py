"""Exactly-once creates over real HTTP, through the helper the sync uses (``bridge.amocrm.create_once``):
markers, and writes whose answer never arrives. Each call is one sync round; what a round attempted is
looked up by marker in the next, never sent blind."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bridge.amocrm import AmbiguousWrite, AmoCrmClient, StaticTokenProvider, make_marker
from bridge.amocrm.create_once import Create, Created, create_once
from bridge.amocrm.markers import MARKER_FIELD_CODE, task_suffix
from tests.integration.conftest import Amo


class Rounds:
    """Sync rounds of one create, with the "attempted" flag kept between them as the store keeps it."""

    def __init__(self, client: AmoCrmClient, kind: str, body: dict[str, Any], marker: str):
        self.client, self.kind, self.body, self.marker = client, kind, body, marker
        self.attempted = False

    def run(self) -> Created:
        out: Created = Created()
        create = Create("item", self.body, self.marker, self.attempted)
        for outcome in create_once(self.client, self.kind, [create], self._attempting):
            out.ids += outcome.ids
            out.adopted += outcome.adopted
            out.failed += outcome.failed
            out.unknown += outcome.unknown
        return out

    def _attempting(self, owners: list) -> None:
        self.attempted = True


def only_id(outcome: Created) -> int:
    [(_, amo_id)] = outcome.ids + outcome.adopted
    return amo_id


@pytest.fixture
def client(amo: Amo) -> AmoCrmClient:
    patient = AmoCrmClient(amo.url, StaticTokenProvider(amo.token))  # the setup itself is not under test
    for entity in ("contacts", "leads"):
        patient.ensure_marker_field(entity)
    return AmoCrmClient(
        amo.url,
        StaticTokenProvider(amo.token),
        timeout=(1.0, 0.5),  # the sandbox holds "stored, then timed out" answers for 0.8 s
        backoff_base_s=0.01,
    )


def with_marker(amo: Amo, kind: str, marker: str) -> list[dict]:
    needle = task_suffix(marker) if kind == "tasks" else marker  # a task carries a short form at its end
    return [e for e in amo.stored(kind) if needle in str(e)]


def a_lead(amo: Amo) -> int:
    return amo.api("POST", "/api/v4/leads", [{"name": "Booking"}])["_embedded"]["leads"][0]["id"]


def test_the_marker_field_is_created_once_and_found_by_its_code(client, amo):
    """ensure_marker_field is idempotent; a new client finds the field id by code, not by config."""
    fields = [f for f in amo.stored("custom_fields") if f["entity_type"] == "leads" and f["code"] == MARKER_FIELD_CODE]
    assert len(fields) == 1 and fields[0]["is_api_only"] is True
    client.ensure_marker_field("leads")
    assert len(amo.calls("POST", "/api/v4/leads/custom_fields")) == 1
    fresh = AmoCrmClient(amo.url, StaticTokenProvider(amo.token))
    assert fresh.marker_field_id("leads") == fields[0]["id"]


def test_create_once_creates_then_finds(client, amo):
    marker = make_marker("salon", "client", 42)
    rounds = Rounds(client, "contacts", {"name": "Anna"}, marker)
    first, again = rounds.run(), rounds.run()
    assert (len(first.ids), len(again.adopted)) == (1, 1)
    assert only_id(first) == only_id(again)
    assert len(amo.calls("POST", "/api/v4/contacts")) == 1
    stored = amo.by_id("contacts")[only_id(first)]
    assert stored["custom_fields_values"] == [
        {"field_id": client.marker_field_id("contacts"), "values": [{"value": marker}]}
    ]


def test_stored_then_timed_out_create_is_not_duplicated(client, amo):
    """The server stores the lead, then answers after our read timeout: found by marker, never re-POSTed."""
    marker = make_marker("salon", "lead", "sales", 7)
    amo.step("POST /api/v4/leads", hang_seconds=0.8)
    rounds = Rounds(client, "leads", {"name": "First booking", "price": 900}, marker)
    assert rounds.run().unknown == ["item"]  # stored, but we could not know
    found = rounds.run()
    assert len(found.adopted) == 1
    assert len(amo.calls("POST", "/api/v4/leads")) == 1
    assert [e["id"] for e in with_marker(amo, "leads", marker)] == [only_id(found)]


def test_a_write_that_did_not_land_is_sent_again_after_the_lookup(client, amo):
    """A 500 on the POST is ambiguous; the lookups find nothing, so one more POST creates it once."""
    marker = make_marker("salon", "lead", "lost", 8)
    amo.step("POST /api/v4/leads", status=500)
    rounds = Rounds(client, "leads", {"name": "Lost client"}, marker)
    assert rounds.run().unknown == ["item"]
    created = rounds.run()  # the lookup finds nothing: sent again, once
    assert len(created.ids) == 1
    assert len(amo.calls("POST", "/api/v4/leads")) == 2
    assert [e["id"] for e in with_marker(amo, "leads", marker)] == [only_id(created)]


def test_task_marker_is_a_text_suffix_found_among_the_entitys_tasks(client, amo):
    marker = make_marker("salon", "autotask", "cycle", 3)
    lead = a_lead(amo)
    task = {
        "text": "Invite Anna for a manicure",
        "complete_till": 1_900_000_000,
        "entity_type": "leads",
        "entity_id": lead,
    }
    amo.step("POST /api/v4/tasks", hang_seconds=0.8)
    rounds = Rounds(client, "tasks", task, marker)
    assert rounds.run().unknown == ["item"]
    stored = with_marker(amo, "tasks", marker)
    assert [t["text"] for t in stored] == [f"Invite Anna for a manicure{task_suffix(marker)}"]
    assert re.fullmatch(r"Invite Anna for a manicure #[0-9a-f]{8}", stored[0]["text"])  # short, at the end
    assert len(rounds.run().adopted) == 1
    assert len(amo.calls("POST", "/api/v4/tasks")) == 1
    lookups = amo.calls("GET", "/api/v4/tasks")
    assert {(h.args["filter[entity_type]"], h.args["filter[entity_id][0]"]) for h in lookups} == {("leads", str(lead))}


def test_a_marker_mentioned_elsewhere_does_not_count(client, amo):
    """Full-text search also hits names and notes; only the marker field decides."""
    marker = make_marker("salon", "client", 99)
    client.create_contacts([{"name": f"Copied {marker} into the name"}])
    assert client.find_by_marker("contacts", marker) is None
    rounds = Rounds(client, "contacts", {"name": "Real"}, marker)
    rounds.attempted = True  # even when looked up first, the copied name is not taken for our contact
    assert len(rounds.run().ids) == 1


def test_a_plain_batch_create_reports_what_was_done_before_the_ambiguity(client, amo):
    """Chunk 1 is answered; chunk 2 is stored but answered too late: AmbiguousWrite carries chunk 1's
    results, and nothing is re-POSTed."""
    amo.step("POST /api/v4/leads")  # chunk 1: a pass-through step, answered normally
    amo.step("POST /api/v4/leads", hang_seconds=0.8)  # chunk 2
    with pytest.raises(AmbiguousWrite) as caught:
        client.create_leads([{"name": f"l{i}"} for i in range(70)])
    assert [d["request_id"] for d in caught.value.done] == [str(i) for i in range(50)]
    assert len(amo.calls("POST", "/api/v4/leads")) == 2
    assert len(amo.stored("leads")) == 70


def test_markers_must_be_search_friendly(client):
    with pytest.raises(ValueError, match="marker"):
        client.find_by_marker("leads", "has spaces in it")
    with pytest.raises(ValueError, match="kind"):
        Rounds(client, "companies", {}, make_marker("x")).run()
