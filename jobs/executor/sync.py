"""What every phase of the amoCRM sync shares: the tenant's client and account map, links, and the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.amocrm import markers
from bridge.amocrm.account_map import AccountMap
from bridge.amocrm.client import AmoCrmClient
from bridge.amocrm.create_once import Created
from bridge.amocrm.errors import AmoError, AmoValidationError
from bridge.store import crm_queue, links
from bridge.store.crm_queue import Outcomes, Pending
from bridge.store.db import Store


class SetupOutdated(AmoError):
    """amoCRM no longer has a pipeline, stage or field that setup created (someone deleted it)."""


def check_setup(exc: AmoValidationError) -> None:
    """Raise SetupOutdated when amoCRM rejects ids that ``salonbridge setup`` manages."""
    if any(word in path for path in exc.paths for word in ("pipeline_id", "status_id", "field_id")):
        raise SetupOutdated(f"amoCRM rejected an id from setup ({exc}); run `salonbridge setup`") from exc


def marker(item: Pending) -> str:
    return markers.make_marker(item.action.key)


@dataclass
class Tally:
    done: int = 0
    failed: int = 0
    skipped: int = 0
    attempted: int = 0  # sent with no answer yet: the next round looks them up

    @property
    def progressed(self) -> int:
        return self.done + self.failed + self.skipped + self.attempted


@dataclass
class Sync:
    """One tenant's sync round: every amoCRM request's outcome is recorded here as soon as it is in."""

    store: Store
    tenant: str
    api: AmoCrmClient
    account: AccountMap
    now: datetime
    tally: Tally = field(default_factory=Tally)
    # amoCRM contact id → (new name, its UpsertContact actions): settled by the PATCH that carries the name
    contact_renames: dict[int, tuple[str, list[Pending]]] = field(default_factory=dict)

    def links(self, kind: str, keys: Iterable[str]) -> dict[str, int]:
        with self.store.session() as s:
            return links.get_many(s, self.tenant, kind, sorted(set(keys)))

    def targets(self, actions: Sequence[Any]) -> list[tuple[str, int] | None]:
        """The entity each action is about: its lead when it names one (``lead_key``), else the client's
        contact; None while that entity is not in amoCRM yet."""
        leads = self.links("lead", (a.lead_key for a in actions if a.lead_key))
        contacts = self.links("contact", (a.client_id for a in actions if not a.lead_key))
        return [
            (("leads", leads[a.lead_key]) if a.lead_key in leads else None) if a.lead_key
            else (("contacts", contacts[a.client_id]) if a.client_id in contacts else None)
            for a in actions
        ]

    def attempting(self, items: Sequence[Pending]) -> None:
        crm_queue.attempting(self.store, items)
        self.tally.attempted += len(items)

    def settle(self, outcomes: Outcomes) -> None:
        crm_queue.settle(self.store, self.tenant, outcomes, self.now)
        self.tally.done += len(outcomes.done)
        self.tally.failed += len(outcomes.failed)
        self.tally.skipped += len(outcomes.skipped)

    def settle_created(self, created: Created[Pending], link_kind: str | None, link_key: Any, result_key: str) -> None:
        """Record one create request: links for what exists now, failures with amoCRM's reason."""
        out = Outcomes()
        for adopted, pairs in ((False, created.ids), (True, created.adopted)):
            for item, amo_id in pairs:
                if link_kind:
                    out.links.append((link_kind, link_key(item), amo_id))
                out.done[item.id] = {result_key: amo_id} | ({"found_by_marker": True} if adopted else {})
        out.failed = {item.id: reason for item, reason in created.failed}
        self.settle(out)

    def patch(self, call: Any, body: list[dict[str, Any]], items: Sequence[Pending], result: dict) -> None:
        """A batched update, recorded at once; if amoCRM rejects the payload, its actions fail with its
        reason (or, when the rejected ids are setup's, the tenant waits for ``salonbridge setup``)."""
        out = Outcomes()
        try:
            call(body)
        except AmoValidationError as exc:
            check_setup(exc)
            out.failed = {i.id: str(exc) for i in items}
        else:
            out.done = {i.id: result.get(i.id, {}) for i in items}
        self.settle(out)
