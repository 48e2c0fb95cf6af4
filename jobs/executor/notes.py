"""Phase 6: notes on the contact or the lead, each written exactly once."""

from __future__ import annotations

from collections import defaultdict

from bridge.amocrm.client import common_note
from bridge.amocrm.create_once import Create, add_notes_once
from bridge.store.crm_queue import Pending
from jobs.executor.sync import Sync, marker
from pipelines.actions import AddNote


def add(sync: Sync, items: list[Pending[AddNote]]) -> None:
    per_entity: dict[str, list[Create[Pending[AddNote]]]] = defaultdict(list)
    for item, target in zip(items, sync.targets([i.action for i in items]), strict=True):
        if target is not None:  # else its lead or contact is not in amoCRM yet: next round
            entity, amo_id = target
            per_entity[entity].append(Create(item, common_note(amo_id, item.action.text), marker(item),
                                             bool(item.attempts)))
    for entity, notes in per_entity.items():
        for created in add_notes_once(sync.api, entity, notes, sync.attempting):
            sync.settle_created(created, None, None, "note_id")
