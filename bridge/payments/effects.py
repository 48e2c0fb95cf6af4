"""A prepayment's status change turned into the playbook's actions, in the transaction that wrote it.

The callback endpoint, the deadline job and the booking's own events all change a prepayment; what
staff and the client then see (the lead's field, a note, a task, the client's message) is decided by
``pipelines.rules.prepayment.on_change`` from the client's snapshot and recorded like any plan, so the
amoCRM sync and the message sender carry it out exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bridge.store import actions, playbook, visits
from bridge.store.models import PrepaymentRow
from pipelines.policy import Policy
from pipelines.prepayment import StatusChange
from pipelines.rules.context import Scene
from pipelines.rules.prepayment import on_change


def record_change(
    session: Session, policy: Policy, row: PrepaymentRow, change: StatusChange, now: datetime, occasion: str
) -> int:
    """Record what ``change`` of ``row`` shows to staff and the client; returns how many actions were new.

    Called after ``prepayments.apply_change`` in the same transaction: the snapshot read here holds the
    client's balance with the change's top-up or refund, which ``on_change`` writes on the contact."""
    if row.client_id is None:
        return 0
    client = visits.lock_client(session, row.tenant, row.client_id)
    snapshot = playbook.snapshot_for(session, client, None)
    if snapshot.client is None:
        return 0
    scene = Scene(snapshot=snapshot, policy=policy, now=now, client=snapshot.client)
    planned = on_change(scene, playbook.prepayment_state(row), change, occasion)
    recorded = actions.record(session, row.tenant, None, row.client_id, planned, now)
    if recorded.fresh:
        client.wake_at = now
    return len(recorded.fresh)
