"""``--dry-run``: plan a file of events on a scratch store and print the actions; nothing is sent.

Each event's lines start with the category of every service and the rule that found it
(``category of service 3333 'Gel manicure': Манікюр (by id)``), then the planned actions.

The events go through the same normalization, storage and ``plan`` as live ones, in order, on a
temporary SQLite database and Redis, so each event is planned against the history built by the events
before it. No amoCRM call, message or job queue of the real install is touched.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bridge import intake
from bridge.booking.errors import BookingInputError
from bridge.services import Services
from bridge.store.models import AppliedAction
from config.settings import Settings
from config.tenants import Tenant
from jobs.catalog import match_services
from jobs.process_event import handle_event
from pipelines.events import VisitEvent
from salonbridge.replay import parse_line

CATEGORY = "category of service"


def scratch_services(settings: Settings, folder: Path) -> Services:
    scratch = replace(settings, instance_dir=folder, database_url=f"sqlite:///{folder / 'dry-run.db'}",
                      redis_url=None)
    return Services.build(scratch, migrate=True)


def dry_run(
    settings: Settings, lines: Iterable[str], default_tenant: str | None, default_source: str
) -> Iterator[tuple[int, list[str]]]:
    """For each non-empty line: its number and the actions it plans, as printable lines."""
    with tempfile.TemporaryDirectory(prefix="salonbridge-dry-run-") as tmp:
        svc = scratch_services(settings, Path(tmp))
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    slug, source, body = parse_line(line, default_tenant, default_source)
                except ValueError as exc:
                    yield number, [f"rejected: malformed JSON: {exc}"]
                    continue
                yield number, _plan_one(svc, slug, source, body)
        finally:
            svc.close()


def _plan_one(svc: Services, slug: str, source: str, body: dict[str, Any]) -> list[str]:
    tenant = svc.tenants.get(slug)
    if tenant is None or not isinstance(body, dict):
        return [f"rejected: unknown tenant {slug!r}"]
    now = datetime.now(UTC)
    try:
        event = intake.normalize(source, body, tenant, now)
        receipt = intake.store_event(svc.store, event, now)
    except BookingInputError as exc:
        return [f"rejected: {exc}"]
    if receipt.duplicate:
        return ["duplicate: already seen, nothing planned"]
    status = handle_event(svc, receipt.event_id, now)
    with svc.store.session() as s:
        rows = s.scalars(select(AppliedAction).where(AppliedAction.event_id == receipt.event_id)
                         .order_by(AppliedAction.id))
        lines = [describe(r.kind, r.payload) for r in rows]
    return _categories(svc, tenant, event, now) + (lines or [f"{status}: nothing to do"])


def _categories(svc: Services, tenant: Tenant, event: VisitEvent, now: datetime) -> list[str]:
    """Which category each service got and by which rule (the catalog is cached by then: no second fetch)."""
    return [
        f"{CATEGORY} {line.external_id} {line.title!r}: {line.category or 'none'} ({match.rule})"
        for line, match in match_services(svc, tenant, event, now)
    ]


def describe(kind: str, payload: dict[str, Any]) -> str:
    shown = {k: v for k, v in payload.items() if k not in ("key", "context") and v not in (None, "", [], {})}
    return f"{kind} " + json.dumps(shown, ensure_ascii=False, default=str)


def summarize(planned: Iterable[list[str]]) -> Counter:
    """How many of each action (and rejection, duplicate...) were planned; category lines are not counted."""
    return Counter(line.split(" ", 1)[0].rstrip(":") for lines in planned for line in lines
                   if not line.startswith(CATEGORY))
