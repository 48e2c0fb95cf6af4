"""The amoCRM executor: pending actions of one tenant carried out phase by phase, batched, exactly once.

Which phase an action belongs to is declared once, in ``bridge.store.effects.EFFECTS``; this package
maps each phase to the module that carries it out. Phases run in dependency order (contacts → leads →
lead moves and fields → tasks → task state → notes); inside a phase the window's actions go out in
batches of up to 50, and each request's outcome is recorded as soon as it is in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from bridge.store.crm_queue import Pending
from bridge.store.effects import CrmPhase, effect_of
from jobs.executor import contacts, leads, notes, tasks
from jobs.executor.sync import SetupOutdated, Sync

PHASES: dict[CrmPhase, Callable[[Sync, list], None]] = {
    CrmPhase.CONTACTS: contacts.upsert,
    CrmPhase.LEADS: leads.create,
    CrmPhase.UPDATES: leads.update,
    CrmPhase.TASKS: tasks.create,
    CrmPhase.TASK_STATES: tasks.change_state,
    CrmPhase.NOTES: notes.add,
}

__all__ = ["PHASES", "SetupOutdated", "Sync", "apply_window"]


def apply_window(sync: Sync, items: Sequence[Pending]) -> None:
    """Carry out one window of pending actions; outcomes are recorded through ``sync`` as they come."""
    by_phase: dict[CrmPhase, list[Pending]] = defaultdict(list)
    for item in sorted(items, key=lambda i: i.id):
        phase = effect_of(item.action).crm
        if phase is not None:
            by_phase[phase].append(item)
    for phase in sorted(by_phase):
        PHASES[phase](sync, by_phase[phase])
    contacts.flush(sync)
