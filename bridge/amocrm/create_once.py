"""Creating amoCRM entities exactly once: the one helper the sync uses for contacts, leads, tasks and notes.

amoCRM has no idempotency keys, so each create carries our marker (``bridge.amocrm.markers``) and is
recorded as attempted *before* it is sent. An item that was attempted before is looked up first and
adopted when found; only the rest are sent, one request of up to 50 at a time, and each request's
outcome is handed back at once so the caller can record it before the next request goes out. A
request amoCRM rejects is split so only the bad items fail; a request whose outcome is unknown
(timeout, 5xx after sending) leaves its items attempted, to be looked up next round, never resent.

Notes have no searchable field: a note's marker is its exact text on its exact entity, and an
attempted note is looked up among the notes of that entity.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from bridge.amocrm import markers, parallel
from bridge.amocrm.client import BATCH_SIZE, AmoCrmClient
from bridge.amocrm.errors import AmbiguousWrite, AmoValidationError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Create(Generic[T]):
    """One entity to create for ``owner`` (the caller's item): its body, marker and whether it was tried."""

    owner: T
    body: dict[str, Any]
    marker: str
    attempted: bool


@dataclass
class Created(Generic[T]):
    """The outcome of one request (or of the lookups): amoCRM ids, failures and unknown outcomes."""

    ids: list[tuple[T, int]] = field(default_factory=list)
    adopted: list[tuple[T, int]] = field(default_factory=list)  # found from an earlier attempt
    failed: list[tuple[T, str]] = field(default_factory=list)
    unknown: list[T] = field(default_factory=list)


Attempting = Callable[[list[Any]], None]


def create_once(
    api: AmoCrmClient, kind: str, creates: Sequence[Create[T]], attempting: Attempting,
    check_rejection: Callable[[AmoValidationError], None] = lambda exc: None,
) -> Iterator[Created[T]]:
    """Create ``creates`` of ``kind`` (contacts, leads, tasks) exactly once, yielding each request's outcome.

    ``attempting`` must durably record its owners as attempted before it returns (it runs just before
    each POST). ``check_rejection`` may raise instead of failing the items (e.g. when amoCRM rejects an
    id that ``salonbridge setup`` manages, the whole tenant has to wait).
    """
    for create in creates:
        markers.check_marker(kind, create.marker)
    found = _find_all(api, kind, [c for c in creates if c.attempted])
    lookups: Created[T] = Created()
    to_send: list[Create[T]] = []
    for create in creates:
        if found.get(id(create)) is not None:
            lookups.adopted.append((create.owner, found[id(create)]))
        else:
            to_send.append(create)
    if lookups.adopted:
        yield lookups
    post = getattr(api, f"create_{kind}")
    for start in range(0, len(to_send), BATCH_SIZE):
        chunk = to_send[start:start + BATCH_SIZE]
        api.check_deadline()  # never record an attempt that will not be sent
        attempting([c.owner for c in chunk])
        yield _send(post, chunk, [_marked(api, kind, c) for c in chunk], check_rejection)


def _find_all(api: AmoCrmClient, kind: str, tried: Sequence[Create]) -> dict[int, int | None]:
    """Earlier attempts found again, by ``id()`` of their Create. A task is found among the tasks of the
    entity it is attached to, read for up to 50 entities per request; contacts and leads are searched by
    marker, a few at a time."""
    if kind != "tasks":
        hits = parallel.each(lambda c: api.find_by_marker(kind, c.marker), tried)
        return {id(c): int(hit["id"]) if hit else None for c, hit in zip(tried, hits, strict=True)}
    found: dict[int, int | None] = {}
    by_type: dict[str, list[Create]] = defaultdict(list)
    for create in tried:
        by_type[str(create.body.get("entity_type"))].append(create)
    for entity_type, group in by_type.items():
        tasks = api.list_tasks(entity_type, sorted({int(c.body["entity_id"]) for c in group}))
        for create in group:
            hit = next((t for t in tasks if markers.carries_marker(kind, t, create.marker, None)), None)
            found[id(create)] = int(hit["id"]) if hit else None
    return found


def _marked(api: AmoCrmClient, kind: str, create: Create) -> dict[str, Any]:
    field_id = None if kind == "tasks" else api.marker_field_id(kind)
    return markers.with_marker(kind, create.body, create.marker, field_id)


def _send(post: Callable, chunk: list[Create], bodies: list[dict], check: Callable) -> Created:
    """One POST; if amoCRM rejects it, the items go one by one so only the bad ones fail."""
    out: Created = Created()
    try:
        result = post(bodies)
    except AmbiguousWrite as exc:
        log.warning("create of %d item(s) is ambiguous (%s); looked up next round", len(chunk), exc.cause)
        out.unknown = [c.owner for c in chunk]
        return out
    except AmoValidationError as exc:
        check(exc)
        if len(chunk) == 1:
            out.failed.append((chunk[0].owner, str(exc)))
            return out
        for create, body in zip(chunk, bodies, strict=True):
            single = _send(post, [create], [body], check)
            out.ids += single.ids
            out.failed += single.failed
            out.unknown += single.unknown
        return out
    out.ids = [(c.owner, int(entity["id"])) for c, entity in zip(chunk, result, strict=True)]
    return out


def add_notes_once(
    api: AmoCrmClient, entity: str, notes: Sequence[Create[T]], attempting: Attempting
) -> Iterator[Created[T]]:
    """Post notes on ``entity`` (contacts or leads) exactly once, yielding each request's outcome."""
    tried = [n for n in notes if n.attempted]
    found = dict(zip(map(id, tried), parallel.each(
        lambda n: api.find_note(entity, n.body["entity_id"], n.body["params"]["text"]), tried), strict=True))
    lookups: Created[T] = Created()
    to_send = []
    for note in notes:
        if found.get(id(note)) is not None:
            lookups.adopted.append((note.owner, found[id(note)]))
        else:
            to_send.append(note)
    if lookups.adopted:
        yield lookups
    for start in range(0, len(to_send), BATCH_SIZE):
        chunk = to_send[start:start + BATCH_SIZE]
        api.check_deadline()
        attempting([n.owner for n in chunk])
        out: Created[T] = Created()
        try:
            result = api.add_notes(entity, [n.body for n in chunk])
        except AmbiguousWrite as exc:
            log.warning("%d %s note(s) ambiguous (%s); looked up next round", len(chunk), entity, exc.cause)
            out.unknown = [n.owner for n in chunk]
        else:
            out.ids = [(n.owner, int(created["id"])) for n, created in zip(chunk, result, strict=True)]
        yield out
