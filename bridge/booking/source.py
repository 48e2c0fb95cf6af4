"""What a booking source is, for the registry (``bridge/booking/registry.py``): one declaration per source.

A source is a name, a normaliser (its webhook body → ``VisitEvent``) and, when its API allows, a
catch-up poller (records changed since a time, for webhooks the sender never retries), a catalog
lookup (services with their categories, for webhooks that carry none) and a writer (a comment on a
visit, a visit cancelled: what a prepayment tells the booking system). Each is built per tenant from
the tenant's credentials and returns None when it has none, so callers just skip that tenant (or, for
the writer, ask staff to do it by hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from config.tenants import Tenant
from pipelines.events import VisitEvent

Normalizer = Callable[[dict[str, Any], Tenant, datetime], VisitEvent]


@dataclass(frozen=True)
class ServiceInfo:
    """One service of a booking system's catalog, in one branch."""

    id: str
    title: str
    category_id: str | None
    category: str | None = None  # category title


class SourceApiError(Exception):
    """The booking system's API failed; the caller logs it and tries again on a later tick or event."""


class Poller(Protocol):
    def changes_since(self, branch_id: str, since: datetime) -> Iterable[dict[str, Any]]:
        """Webhook bodies (as ``normalize`` reads them) of every booking changed after ``since``."""
        ...

    def close(self) -> None: ...


class CatalogLookup(Protocol):
    def catalog(self, company_id: str) -> list[ServiceInfo]:
        """The branch's services with their category titles."""
        ...

    def close(self) -> None: ...


class BookingWriter(Protocol):
    def add_comment(self, branch_id: str, booking_id: str, text: str) -> None:
        """Append ``text`` to the booking's comment (a line of its own), leaving everything else as it is."""
        ...

    def cancel(self, branch_id: str, booking_id: str) -> None:
        """Cancel the booking (its slot is free again); a booking already cancelled is not an error."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Source:
    name: str  # the ``<source>`` of ``/hooks/<tenant>/<source>/<token>`` and ``booking.source`` in tenant files
    normalize: Normalizer
    poller: Callable[[Tenant], Poller | None] | None = None  # catch-up polling of missed webhooks
    catalog: Callable[[Tenant], CatalogLookup | None] | None = None  # categories webhooks do not carry
    writer: Callable[[Tenant], BookingWriter | None] | None = None  # comment on or cancel a booking
    for_every_tenant: bool = False  # accepted from any tenant, whatever its booking.source (our own JSON)
    label: str = ""  # how people call it ("YCLIENTS"), in logs and dry runs

    @property
    def title(self) -> str:
        return self.label or self.name
