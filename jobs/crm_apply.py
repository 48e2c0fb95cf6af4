"""Carry out pending amoCRM actions of one tenant: batched, in dependency order, exactly once.

Phases run in an order that satisfies every dependency (contacts → leads → lead moves and fields →
tasks → task state → notes); inside a phase all actions of the window go out in batches of up to 50.
Each create is recorded as attempted (committed) before it is sent and carries an idempotency marker,
so a create whose outcome is unknown (timeout after sending, crash) is looked up, never sent twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bridge.amocrm import markers
from bridge.amocrm.account_map import AccountMapError
from bridge.amocrm.client import AmoCrmClient, common_note
from bridge.amocrm.errors import AmbiguousWrite, AmoError, AmoValidationError
from bridge.store import links
from bridge.store.db import Store
from bridge.store.models import AppliedAction, LeadRow

log = logging.getLogger(__name__)
WON, LOST = 142, 143


class SetupOutdated(AmoError):
    """amoCRM no longer has a pipeline, stage or field setup created (someone deleted it)."""


def _check_setup(exc: AmoValidationError) -> None:
    """Raise SetupOutdated when amoCRM rejects ids that ``salonbridge setup`` manages."""
    if any(word in path for path in exc.paths for word in ("pipeline_id", "status_id", "field_id")):
        raise SetupOutdated(f"amoCRM rejected an id from setup ({exc}); run `salonbridge setup`") from exc


@dataclass
class Item:
    """One pending action: its stored row id, kind, payload and how often it was attempted."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int

    @property
    def marker(self) -> str:
        return markers.make_marker(self.key)


@dataclass
class Outcome:
    done: dict[int, dict[str, Any]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)


@dataclass
class Applier:
    """Applies one window of pending actions for ``tenant`` through ``client``."""

    store: Store
    tenant: str
    client: AmoCrmClient
    account: Any  # bridge.amocrm.account_map.AccountMap
    now: datetime
    out: Outcome = field(default_factory=Outcome)

    # -- bookkeeping around the calls --------------------------------------------------------------------

    def _link(self, kind: str, key: str) -> int | None:
        with self.store.session() as s:
            return links.get(s, self.tenant, kind, key)

    def _links(self, kind: str, keys: Sequence[str]) -> dict[str, int]:
        with self.store.session() as s:
            return links.get_many(s, self.tenant, kind, list(keys))

    def _save_links(self, kind: str, pairs: Sequence[tuple[str, int]]) -> None:
        with self.store.session() as s:
            for key, amo_id in pairs:
                links.put(s, self.tenant, kind, key, amo_id, self.now)

    def _attempting(self, items: Sequence[Item]) -> None:
        """Committed before a create is sent: a later run knows it may already exist."""
        with self.store.session() as s:
            s.execute(
                update(AppliedAction)
                .where(AppliedAction.id.in_([i.id for i in items]))
                .values(attempts=AppliedAction.attempts + 1)
            )

    # -- phases -------------------------------------------------------------------------------------------

    def run(self, items: Sequence[Item]) -> Outcome:
        try:
            return self._run(items)
        except AccountMapError as exc:
            raise SetupOutdated(f"{exc}") from exc

    def _run(self, items: Sequence[Item]) -> Outcome:
        by_kind: dict[str, list[Item]] = defaultdict(list)
        for item in sorted(items, key=lambda i: i.id):
            by_kind[item.kind].append(item)
        phases: list[tuple[tuple[str, ...], Callable[[list[Item]], None]]] = [
            (("UpsertContact",), self.contacts),
            (("CreateLead",), self.create_leads),
            (("MoveLead", "UpdateFields"), self.lead_and_contact_updates),
            (("CreateTask",), self.create_tasks),
            (("CompleteTask", "RestoreTask"), self.task_states),
            (("AddNote",), self.notes),
        ]
        for kinds, phase in phases:
            batch = sorted((i for k in kinds for i in by_kind.get(k, [])), key=lambda i: i.id)
            if batch:
                phase(batch)
        return self.out

    def contacts(self, items: list[Item]) -> None:
        """One contact per client: the first UpsertContact of a client finds or creates it, later ones
        of the same window follow it (they only refresh the name)."""
        per_client: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            per_client[item.payload["client_id"]].append(item)
        linked = self._links("contact", list(per_client))
        creates: list[Item] = []
        renames: dict[int, dict[str, Any]] = {}
        for client_key, group in per_client.items():
            amo_id = linked.get(client_key) or self._find_contact(group[0])
            if amo_id is None:
                creates.append(group[0])
                continue
            self._save_links("contact", [(client_key, amo_id)])
            names = [i.payload["name"] for i in group if i.payload.get("name")]
            if names:
                renames[amo_id] = {"id": amo_id, "name": names[-1]}
            self.out.done.update({i.id: {"contact_id": amo_id} for i in group})
        if renames:
            self.client.update_contacts(list(renames.values()))
        self._create("contacts", creates, self._contact_body, "contact", lambda i: i.payload["client_id"])
        for first in creates:
            if first.id in self.out.done:
                followers = per_client[first.payload["client_id"]][1:]
                self.out.done.update({i.id: self.out.done[first.id] for i in followers})

    def _find_contact(self, item: Item) -> int | None:
        """An earlier attempt's contact (by marker), else the salon's own contact by phone, then email."""
        if item.attempts:
            found = self.client.find_by_marker("contacts", item.marker)
            if found:
                return int(found["id"])
        for probe in (item.payload.get("phone"), item.payload.get("email")):
            if probe:
                hits = self.client.find_contacts(probe)
                if hits:
                    return int(hits[0]["id"])
        return None

    def _contact_body(self, item: Item) -> dict[str, Any] | None:
        p = item.payload
        values = [
            {"field_code": code, "values": [{"value": v, "enum_code": "WORK"}]}
            for code, v in (("PHONE", p.get("phone")), ("EMAIL", p.get("email")))
            if v
        ]
        body: dict[str, Any] = {"name": p.get("name") or p.get("phone") or p.get("email") or "—"}
        if values:
            body["custom_fields_values"] = values
        return body

    def create_leads(self, items: list[Item]) -> None:
        self._create("leads", items, self._lead_body, "lead", lambda i: i.key)

    def _lead_body(self, item: Item) -> dict[str, Any] | None:
        p = item.payload
        contact = self._link("contact", p["client_id"])
        if contact is None:
            return None  # waits for its contact
        body: dict[str, Any] = {
            "name": p["name"],
            "pipeline_id": self.account.pipeline_id(p["pipeline"]),
            "status_id": self.account.status_id(p["pipeline"], p["stage"]),
            "_embedded": {"contacts": [{"id": contact}]},
        }
        values = self._field_values("leads", p.get("fields") or {})
        if values:
            body["custom_fields_values"] = values
        if str(p.get("responsible") or "").isdigit():
            body["responsible_user_id"] = int(p["responsible"])
        return body

    def lead_and_contact_updates(self, items: list[Item]) -> None:
        """Lead moves and field updates, folded per entity: amoCRM gets each entity's final state once."""
        lead_ids = self._links("lead", [i.payload["lead_key"] for i in items if i.payload.get("lead_key")])
        contact_ids = self._links("contact", [i.payload["client_id"] for i in items])
        manual = self._manual_leads([i.payload["lead_key"] for i in items if i.kind == "MoveLead"])
        patches: dict[tuple[str, int], dict[str, Any]] = {}
        for item in items:
            p = item.payload
            entity, amo_id = ("leads", lead_ids.get(p.get("lead_key") or "")) if p.get("lead_key") else (
                "contacts", contact_ids.get(p["client_id"]))
            if amo_id is None:
                continue  # waits for its lead or contact
            if item.kind == "MoveLead" and p["lead_key"] in manual:
                self.out.skipped[item.id] = "a person moved this lead; the robot leaves it alone"
                continue
            patch = patches.setdefault((entity, amo_id), {"id": amo_id})
            if item.kind == "MoveLead":
                patch["pipeline_id"] = self.account.pipeline_id(p["pipeline"])
                patch["status_id"] = self.account.status_id(p["pipeline"], p["stage"])
            else:
                merged = {v["field_id"]: v for v in patch.get("custom_fields_values", [])}
                merged.update({v["field_id"]: v for v in self._field_values(entity, p.get("fields") or {})})
                patch["custom_fields_values"] = list(merged.values())
            self.out.done[item.id] = {"entity": entity, "id": amo_id}
        for entity in ("leads", "contacts"):
            body = [b for (e, _), b in patches.items() if e == entity and len(b) > 1]
            if body:
                targets = {b["id"] for b in body}
                involved = [i for i, d in self.out.done.items() if d.get("entity") == entity and d["id"] in targets]
                self._patch(self.client.update_leads if entity == "leads" else self.client.update_contacts, body,
                            involved)

    def _manual_leads(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        with self.store.session() as s:
            return set(s.scalars(select(LeadRow.key).where(LeadRow.tenant == self.tenant, LeadRow.key.in_(keys),
                                                           LeadRow.manual.is_(True))))

    def create_tasks(self, items: list[Item]) -> None:
        self._create("tasks", items, self._task_body, "task", lambda i: i.key)

    def _task_body(self, item: Item, text: str | None = None, deadline: str | None = None) -> dict[str, Any] | None:
        p = item.payload
        target = self._task_target(p)
        if target is None:
            return None
        body = {
            "text": text or p["text"],
            "complete_till": int(datetime.fromisoformat(deadline or p["deadline"]).timestamp()),
            "task_type_id": 1,
            "entity_type": target[0],
            "entity_id": target[1],
        }
        if str(p.get("responsible") or "").isdigit():
            body["responsible_user_id"] = int(p["responsible"])
        return body

    def _task_target(self, p: dict[str, Any]) -> tuple[str, int] | None:
        if p.get("lead_key"):
            lead = self._link("lead", p["lead_key"])
            return ("leads", lead) if lead else None
        contact = self._link("contact", p["client_id"])
        return ("contacts", contact) if contact else None

    def task_states(self, items: list[Item]) -> None:
        """Complete (cancelled by a booking) or restore tasks, in order per task, batched across tasks."""
        per_task: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            per_task[item.payload["task_key"]].append(item)
        step = 0
        while any(len(seq) > step for seq in per_task.values()):
            wave = [seq[step] for seq in per_task.values() if len(seq) > step]
            self._complete([i for i in wave if i.kind == "CompleteTask"])
            self._restore([i for i in wave if i.kind == "RestoreTask"])
            step += 1

    def _complete(self, items: list[Item]) -> None:
        ids = self._links("task", [i.payload["task_key"] for i in items])
        ready = [i for i in items if i.payload["task_key"] in ids]
        for item in ready:
            self.out.done[item.id] = {"task_id": ids[item.payload["task_key"]]}
        if ready:
            self._patch(self.client.update_tasks, [
                {"id": ids[i.payload["task_key"]], "is_completed": True, "result": {"text": i.payload["result"]}}
                for i in ready
            ], [i.id for i in ready])

    def _patch(self, call: Callable[[list[dict[str, Any]]], Any], body: list[dict[str, Any]],
               involved: list[int]) -> None:
        """A batched update; if amoCRM rejects the payload, the actions in it fail with its reason
        (or, when the rejected ids are setup's, the tenant waits for ``salonbridge setup``)."""
        try:
            call(body)
        except AmoValidationError as exc:
            _check_setup(exc)
            for action_id in involved:
                self.out.done.pop(action_id, None)
                self.out.failed[action_id] = str(exc)

    def _restore(self, items: list[Item]) -> None:
        """A restored task is a new amoCRM task with the original text and deadline, plus a note saying why.

        A new task (rather than un-completing the old one) shows up in every amoCRM view and notification
        exactly like the original did; the closed one keeps its "cancelled because…" result as history.
        """
        originals = self._originals([i.payload["task_key"] for i in items])
        self._create(
            "tasks", [i for i in items if i.payload["task_key"] in originals],
            lambda i: self._task_body(
                Item(i.id, "CreateTask", i.key, originals[i.payload["task_key"]], i.attempts),
                deadline=i.payload["deadline"],
            ),
            "task", lambda i: i.payload["task_key"],
        )
        for item in items:
            if item.id in self.out.done:
                entity = self._task_target(originals[item.payload["task_key"]])
                if entity:
                    self.client.add_notes(entity[0], [common_note(entity[1], item.payload["note"])])

    def _originals(self, task_keys: list[str]) -> dict[str, dict[str, Any]]:
        with self.store.session() as s:
            rows = s.execute(select(AppliedAction.key, AppliedAction.payload).where(
                AppliedAction.tenant == self.tenant, AppliedAction.key.in_(task_keys)))
            return {k: dict(p) for k, p in rows}

    def notes(self, items: list[Item]) -> None:
        per_entity: dict[str, list[tuple[Item, dict[str, Any]]]] = defaultdict(list)
        for item in items:
            target = self._task_target(item.payload)
            if target is not None:
                per_entity[target[0]].append((item, common_note(target[1], item.payload["text"])))
        for entity, pairs in per_entity.items():
            self.client.add_notes(entity, [note for _, note in pairs])
            for item, note in pairs:
                self.out.done[item.id] = {"entity": entity, "id": note["entity_id"]}

    # -- creates, exactly once ----------------------------------------------------------------------------

    def _create(
        self, kind: str, items: list[Item], body_of: Callable[[Item], dict[str, Any] | None], link_kind: str,
        link_key: Callable[[Item], str],
    ) -> None:
        """Batch-create with markers; items tried before are looked up by marker first."""
        bodies: list[tuple[Item, dict[str, Any]]] = []
        for item in items:
            body = body_of(item)
            if body is None:
                continue  # a dependency is not in amoCRM yet: next round
            if item.attempts and self._adopt(kind, item, body, link_kind, link_key):
                continue
            field_id = None if kind == "tasks" else self.client.marker_field_id(kind)
            bodies.append((item, markers.with_marker(kind, body, item.marker, field_id)))
        if not bodies:
            return
        self._attempting([i for i, _ in bodies])
        try:
            created = self._write_isolating(kind, bodies)
        except AmbiguousWrite as exc:
            log.warning("%s create for %s is ambiguous (%s); they are looked up next round", kind, self.tenant, exc)
            return
        self._save_links(link_kind, [(link_key(i), amo_id) for i, amo_id in created])
        for item, amo_id in created:
            self.out.done[item.id] = {f"{link_kind}_id": amo_id}

    def _adopt(self, kind: str, item: Item, body: dict[str, Any], link_kind: str, link_key: Callable) -> bool:
        scope = {"entity_type": body["entity_type"], "entity_id": body["entity_id"]} if kind == "tasks" else {}
        found = self.client.find_by_marker(kind, item.marker, **scope)
        if found:
            self._save_links(link_kind, [(link_key(item), int(found["id"]))])
            self.out.done[item.id] = {f"{link_kind}_id": int(found["id"]), "found_by_marker": True}
        return bool(found)

    def _write_isolating(self, kind: str, bodies: list[tuple[Item, dict[str, Any]]]) -> list[tuple[Item, int]]:
        """One batched POST; if amoCRM rejects the batch, items go one by one so only bad ones fail."""
        create = getattr(self.client, f"create_{kind}")
        try:
            result = create([b for _, b in bodies])
            return [(item, int(r["id"])) for (item, _), r in zip(bodies, result, strict=True)]
        except AmoValidationError as exc:
            _check_setup(exc)
            if len(bodies) == 1:
                self.out.failed[bodies[0][0].id] = str(exc)
                return []
        created = []
        for item, body in bodies:
            try:
                created.append((item, int(create([body])[0]["id"])))
            except AmoValidationError as exc:
                _check_setup(exc)
                self.out.failed[item.id] = str(exc)
        return created

    def _field_values(self, entity: str, values: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        for key, value in values.items():
            ids = self.account.fields.get((entity, key))  # a field setup does not manage is left out
            if ids is not None and value not in (None, ""):
                out.append({"field_id": ids.id, "values": [{"value": value}]})
        return out
