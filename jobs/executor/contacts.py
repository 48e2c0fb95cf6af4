"""Phase 1: one amoCRM contact per client, found (by link, earlier attempt, phone, email) or created."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bridge.amocrm import parallel
from bridge.amocrm.client import BATCH_SIZE
from bridge.amocrm.create_once import Create, create_once
from bridge.store import crm_queue
from bridge.store.crm_queue import Outcomes, Pending
from jobs.executor.sync import Sync, check_setup, marker
from pipelines.actions import UpsertContact


def upsert(sync: Sync, items: list[Pending[UpsertContact]]) -> None:
    """The first UpsertContact of a client finds or creates its contact; later ones of the same window
    follow it. A known contact is renamed only when the name differs from the one it was last given,
    and the rename rides on the window's field update of that contact when there is one (``flush``).

    Clients go 50 at a time (one create request): their lookups, then their create, so a sync that
    stops half-way has recorded what it found and made, and the next one searches only the rest."""
    per_client: dict[str, list[Pending[UpsertContact]]] = defaultdict(list)
    for item in items:
        per_client[item.action.client_id].append(item)
    linked = sync.links("contact", per_client)
    sent_names = crm_queue.contact_names_sent(sync.store, sync.tenant, linked)
    clients = list(per_client)
    for start in range(0, len(clients), BATCH_SIZE):
        chunk = {c: per_client[c] for c in clients[start:start + BATCH_SIZE]}
        _upsert(sync, chunk, linked, sent_names)


def _upsert(sync: Sync, per_client: dict[str, list[Pending[UpsertContact]]], linked: dict[str, int],
            sent_names: dict[str, str]) -> None:
    unlinked = [group[0] for client_id, group in per_client.items() if client_id not in linked]
    looked_up = dict(zip((i.action.client_id for i in unlinked), parallel.each(lambda i: _find(sync, i), unlinked),
                         strict=True))
    found = Outcomes()
    creates: list[Create[Pending[UpsertContact]]] = []
    for client_id, group in per_client.items():
        amo_id = linked.get(client_id) or looked_up.get(client_id)
        if amo_id is None:
            creates.append(Create(group[0], _body(group[0].action), marker(group[0]), attempted=False))  # looked up
            continue
        found.links.append(("contact", client_id, amo_id))
        names = [i.action.name for i in group if i.action.name]
        if names and names[-1] != sent_names.get(client_id):
            sync.contact_renames[amo_id] = (names[-1], group)  # done once the name is sent
        else:
            found.done.update({i.id: {"contact_id": amo_id} for i in group})
    sync.settle(found)
    for created in create_once(sync.api, "contacts", creates, sync.attempting, check_setup):
        sync.settle_created(created, "contact", lambda i: i.action.client_id, "contact_id")
        followers = Outcomes()
        for first, amo_id in created.ids + created.adopted:
            followers.done.update({i.id: {"contact_id": amo_id} for i in per_client[first.action.client_id][1:]})
        sync.settle(followers)


def flush(sync: Sync) -> None:
    """Renames no field update of the window took along: one batch PATCH."""
    if sync.contact_renames:
        renames, body, members = dict(sync.contact_renames), [], []
        sync.contact_renames.clear()
        results = {}
        for amo_id, (name, group) in renames.items():
            body.append({"id": amo_id, "name": name})
            members += group
            results.update({i.id: {"contact_id": amo_id} for i in group})
        sync.patch(sync.api.update_contacts, body, members, results)


def _find(sync: Sync, item: Pending[UpsertContact]) -> int | None:
    """An earlier attempt's contact (by marker), else the salon's own contact by phone, then email."""
    if item.attempts:
        hit = sync.api.find_by_marker("contacts", marker(item))
        if hit:
            return int(hit["id"])
    for probe in (item.action.phone, item.action.email):
        if probe:
            hits = sync.api.find_contacts(probe)
            if hits:
                return int(hits[0]["id"])
    return None


def _body(a: UpsertContact) -> dict[str, Any]:
    values = [
        {"field_code": code, "values": [{"value": v, "enum_code": "WORK"}]}
        for code, v in (("PHONE", a.phone), ("EMAIL", a.email))
        if v
    ]
    body: dict[str, Any] = {"name": a.name or a.phone or a.email or "—"}
    if values:
        body["custom_fields_values"] = values
    return body
