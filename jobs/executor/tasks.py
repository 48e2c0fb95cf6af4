"""Phases 4 and 5: tasks created, then completed (cancelled by a booking) or restored."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from bridge.amocrm.create_once import Create, create_once
from bridge.store import crm_queue
from bridge.store.crm_queue import Pending
from jobs.executor.sync import Sync, check_setup, marker
from pipelines.actions import CompleteTask, CreateTask, RestoreTask


def create(sync: Sync, items: list[Pending[CreateTask]]) -> None:
    targets = sync.targets([i.action for i in items])
    creates = [
        Create(item, _body(item.action, item.action.deadline, target), marker(item), bool(item.attempts))
        for item, target in zip(items, targets, strict=True)
        if target is not None  # else its lead or contact is not in amoCRM yet: next round
    ]
    for created in create_once(sync.api, "tasks", creates, sync.attempting, check_setup):
        sync.settle_created(created, "task", lambda i: i.action.key, "task_id")


def _body(task: CreateTask, deadline: datetime, target: tuple[str, int]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "text": task.text,
        "complete_till": int(deadline.timestamp()),
        "task_type_id": 1,
        "entity_type": target[0],
        "entity_id": target[1],
    }
    if str(task.responsible or "").isdigit():
        body["responsible_user_id"] = int(task.responsible or 0)
    return body


def change_state(sync: Sync, items: list[Pending[CompleteTask | RestoreTask]]) -> None:
    """Complete or restore tasks, in order per task, batched across tasks. A task's next change waits for the
    one before it: a completion after a restore whose outcome is not known yet (an answer lost) would close
    the old task, not the restored one, so it is left for the next round."""
    per_task: dict[str, list[Pending]] = defaultdict(list)
    for item in items:
        per_task[item.action.task_key].append(item)
    step = 0
    while any(len(seq) > step for seq in per_task.values()):
        wave = [seq[step] for seq in per_task.values() if len(seq) > step]
        done = _complete(sync, [i for i in wave if isinstance(i.action, CompleteTask)])
        done |= _restore(sync, [i for i in wave if isinstance(i.action, RestoreTask)])
        for key, seq in per_task.items():
            if len(seq) > step and key not in done:
                del seq[step + 1:]
        step += 1


def _complete(sync: Sync, items: list[Pending[CompleteTask]]) -> set[str]:
    ids = sync.links("task", (i.action.task_key for i in items))
    ready = [i for i in items if i.action.task_key in ids]
    if ready:
        body = [{"id": ids[i.action.task_key], "is_completed": True, "result": {"text": i.action.result}}
                for i in ready]
        sync.patch(sync.api.update_tasks, body, ready, {i.id: {"task_id": ids[i.action.task_key]} for i in ready})
    return {i.action.task_key for i in ready}


def _restore(sync: Sync, items: list[Pending[RestoreTask]]) -> set[str]:
    """A restored task is a new amoCRM task with the original text and deadline.

    A new task (rather than un-completing the old one) shows up in every amoCRM view and notification
    exactly like the original did; the closed one keeps its "cancelled because…" result as history.
    The note saying why is its own AddNote, planned beside the RestoreTask.
    """
    originals = crm_queue.actions_by_key(sync.store, sync.tenant, [i.action.task_key for i in items])
    known = [(i, originals[i.action.task_key]) for i in items
             if isinstance(originals.get(i.action.task_key), CreateTask)]
    targets = sync.targets([original for _, original in known])
    creates = [
        Create(item, _body(original, item.action.deadline, target), marker(item), bool(item.attempts))
        for (item, original), target in zip(known, targets, strict=True)
        if target is not None
    ]
    restored: set[str] = set()
    for created in create_once(sync.api, "tasks", creates, sync.attempting, check_setup):
        sync.settle_created(created, "task", lambda i: i.action.task_key, "task_id")
        restored |= {item.action.task_key for item, _ in (*created.ids, *created.adopted)}
    return restored
