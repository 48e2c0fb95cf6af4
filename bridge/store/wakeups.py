"""The due index: when the clock should next ask the playbook about a client.

Every plan that changes a client sets ``clients.wake_at`` in the same transaction (to "now", so the
next tick looks at the new state), and every clock evaluation sets it to the next moment the rules
could act (``pipelines.wakeup``). The clock then finds whom to ask with one indexed query instead of
visiting every client with an open cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bridge.store.db import Store
from bridge.store.models import Client


@dataclass(frozen=True)
class Due:
    tenant: str
    client_id: int
    wake_at: datetime


_CLIENTS = Client.__table__
_SET_WAKEUP = update(_CLIENTS).where(_CLIENTS.c.id == bindparam("b_id"))  # built once: every evaluation runs it


def set_wakeup(session: Session, client_id: int, at: datetime | None) -> None:
    session.execute(_SET_WAKEUP, {"b_id": client_id, "wake_at": at})


def wake_all(store: Store, tenant: str, now: datetime) -> int:
    """Every client of ``tenant`` evaluated on the clock's next ticks (after a timing rule is turned on,
    such as the birthday greeting, wake-ups computed before it are recomputed); returns how many."""
    with store.session() as s:
        return s.execute(update(Client).where(Client.tenant == tenant).values(wake_at=now)).rowcount


def take_due(store: Store, now: datetime, lease: timedelta, limit: int) -> list[Due]:
    """Clients whose wake-up has come, oldest first, leased for ``lease`` so the next tick skips them.

    The job that evaluates a client sets its real next wake-up; if that job is lost (a worker killed
    past its retries, Redis flushed), the lease runs out and the client is taken again.
    """
    with store.session() as s:
        rows = s.execute(
            select(Client.tenant, Client.id, Client.wake_at)
            .where(Client.wake_at <= now).order_by(Client.wake_at, Client.id).limit(limit)
        ).all()
        if rows:
            s.execute(update(Client).where(Client.id.in_([r.id for r in rows])).values(wake_at=now + lease))
    return [Due(r.tenant, r.id, r.wake_at) for r in rows]


def wake_times(store: Store, client_ids: Sequence[int]) -> dict[int, datetime | None]:
    with store.session() as s:
        return dict(s.execute(select(Client.id, Client.wake_at).where(Client.id.in_(list(client_ids)))).all())
