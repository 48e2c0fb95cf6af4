"""CRM links: the only place amoCRM ids live (a local kind and key ↔ an amoCRM id)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.store.models import CrmLink


def get(session: Session, tenant: str, kind: str, key: str) -> int | None:
    return session.scalar(
        select(CrmLink.amo_id).where(CrmLink.tenant == tenant, CrmLink.local_kind == kind, CrmLink.local_key == key)
    )


def get_many(session: Session, tenant: str, kind: str, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = session.execute(
        select(CrmLink.local_key, CrmLink.amo_id).where(
            CrmLink.tenant == tenant, CrmLink.local_kind == kind, CrmLink.local_key.in_(keys)
        )
    )
    return {key: amo_id for key, amo_id in rows}


def find_local(session: Session, tenant: str, kind: str, amo_id: int) -> str | None:
    """The local key linked to an amoCRM id (amoCRM webhooks name entities by their ids)."""
    return session.scalar(
        select(CrmLink.local_key).where(CrmLink.tenant == tenant, CrmLink.local_kind == kind, CrmLink.amo_id == amo_id)
    )


def put(session: Session, tenant: str, kind: str, key: str, amo_id: int, now: datetime) -> None:
    link = session.scalar(
        select(CrmLink).where(CrmLink.tenant == tenant, CrmLink.local_kind == kind, CrmLink.local_key == key)
    )
    if link is None:
        session.add(CrmLink(tenant=tenant, local_kind=kind, local_key=key, amo_id=amo_id, updated_at=now))
    else:
        link.amo_id, link.updated_at = amo_id, now


def put_many(session: Session, tenant: str, found: Sequence[tuple[str, str, int]], now: datetime) -> None:
    """``put`` for every (kind, key, amoCRM id) of one request, in one statement (the last id of a key wins).

    A request of 50 contacts used to be 50 lookups and 50 writes while the transaction held SQLite's write
    lock, which every webhook's insert waits for."""
    latest = {(kind, key): amo_id for kind, key, amo_id in found}
    if not latest:
        return
    insert = {"postgresql": postgresql, "sqlite": sqlite}[session.get_bind().dialect.name].insert
    statement = insert(CrmLink).values([
        {"tenant": tenant, "local_kind": kind, "local_key": key, "amo_id": amo_id, "updated_at": now}
        for (kind, key), amo_id in latest.items()
    ])
    session.execute(statement.on_conflict_do_update(
        index_elements=["tenant", "local_kind", "local_key"],
        set_={"amo_id": statement.excluded.amo_id, "updated_at": statement.excluded.updated_at},
    ))
