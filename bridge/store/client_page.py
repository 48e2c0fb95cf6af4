"""What the client's own page reads and writes: their visits, their review or wish, their opt-out.

Reviews and opt-out changes are recorded as pending ``AddNote`` actions (through the same
``bridge.store.actions.record`` path the jobs use), so the CRM sync job puts them on the amoCRM contact
exactly once; the web process never talks to amoCRM itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from bridge.store import actions
from bridge.store.models import Client, Visit
from pipelines.actions import AddNote

UPCOMING = ("scheduled", "confirmed")
PAST_LIMIT = 10
UPCOMING_LIMIT = 20

# Staff-facing note texts (the admin reads them in amoCRM, in the salon's language).
_NOTES: dict[str, dict[str, str]] = {
    "feedback": {
        "ru": "Отзыв или пожелание клиента (со страницы клиента):\n{text}",
        "uk": "Відгук або побажання клієнта (зі сторінки клієнта):\n{text}",
        "en": "Client's review or wish (from their page):\n{text}",
    },
    "opted_out": {
        "ru": "Клиент отказался от сообщений на своей странице.",
        "uk": "Клієнт відмовився від повідомлень на своїй сторінці.",
        "en": "Client opted out of messages via their page.",
    },
    "opted_in": {
        "ru": "Клиент снова подписался на сообщения на своей странице.",
        "uk": "Клієнт знову підписався на повідомлення на своїй сторінці.",
        "en": "Client resumed messages via their page.",
    },
}


@dataclass(frozen=True)
class PageData:
    """The client and the visits the page shows (rows are detached but fully loaded)."""

    client: Client
    upcoming: list[Visit]
    past: list[Visit]


def find_client(session: Session, tenant: str, client_id: int) -> Client | None:
    """The client only if it belongs to this tenant (a link never reaches another salon's client)."""
    client = session.get(Client, client_id)
    return client if client is not None and client.tenant == tenant else None


def load(session: Session, tenant: str, client_id: int, now: datetime) -> PageData | None:
    """The client of this tenant with upcoming bookings (soonest first) and the last completed visits."""
    client = find_client(session, tenant, client_id)
    if client is None:
        return None
    base = select(Visit).options(selectinload(Visit.services)).where(
        Visit.tenant == tenant, Visit.client_id == client_id
    )
    upcoming = session.scalars(
        base.where(Visit.status.in_(UPCOMING), Visit.start_at >= now).order_by(Visit.start_at).limit(UPCOMING_LIMIT)
    ).all()
    past = session.scalars(
        base.where(Visit.status == "completed", Visit.start_at < now).order_by(Visit.start_at.desc()).limit(PAST_LIMIT)
    ).all()
    return PageData(client, list(upcoming), list(past))


def note_text(name: str, language: str, **values: str) -> str:
    variants = _NOTES[name]
    return (variants.get(language) or variants["ru"]).format(**values)


def record_note(session: Session, tenant: str, client_id: int, key: str, text: str, now: datetime) -> bool:
    """Record an AddNote for the CRM sync (left pending); False when this key was recorded before."""
    note = AddNote(key=key, client_id=str(client_id), text=text)
    return bool(actions.record(session, tenant, None, client_id, [note], now).fresh)


def feedback_key(client_id: int, token: str, text: str) -> str:
    """Same link + same text → same key, so a double submit (or a reload of the POST) adds one note."""
    text_hash = hashlib.sha256(text.encode()).hexdigest()
    digest = hashlib.sha256(f"{token}\x00{text_hash}".encode()).hexdigest()[:40]
    return f"note:client-page:feedback:{client_id}:{digest}"


def record_feedback(
    session: Session, tenant: str, client_id: int, token: str, text: str, language: str, now: datetime
) -> bool:
    """The review or wish as a note on the contact; True when it is new (amoCRM work is pending)."""
    key = feedback_key(client_id, token, text)
    return record_note(session, tenant, client_id, key, note_text("feedback", language, text=text), now)


def set_opted_out(
    session: Session, tenant: str, client_id: int, opted_out: bool, language: str, now: datetime
) -> bool:
    """Flip the flag and note it; a repeat (flag already so) changes and notes nothing. True when a note was added.

    The conditional UPDATE makes two concurrent clicks produce one change and one note on any backend.
    """
    changed = session.execute(
        update(Client)
        .where(Client.id == client_id, Client.tenant == tenant, Client.opted_out != opted_out)
        .values(opted_out=opted_out, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not changed:
        return False
    what = "opted_out" if opted_out else "opted_in"
    key = f"note:client-page:{what}:{client_id}:{now.isoformat()}"
    return record_note(session, tenant, client_id, key, note_text(what, language), now)
