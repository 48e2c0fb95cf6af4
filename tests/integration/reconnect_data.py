"""A small salon's history written straight into the store, for the Reconnect scan, CLI and API tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from bridge.store.models import Client, Visit, VisitService

BRANCH_A, BRANCH_B = "111111", "111112"  # the test tenant's branches (tests/conftest.py)
NOW = datetime(2026, 6, 15, 9, tzinfo=UTC)
DAY = timedelta(days=1)


class History:
    """Adds clients and their bookings; each visit gets one service line per category (ids in write order)."""

    def __init__(self, store, tenant: str = "salon") -> None:
        self.store, self.tenant = store, tenant
        self.serial = 0

    def client(self, name: str, phone: str | None, email: str | None = None, external_id: str | None = None) -> int:
        with self.store.session() as s:
            client = Client(tenant=self.tenant, source="yclients", external_id=external_id, name=name, phone=phone,
                            email=email, tags=[], created_at=NOW, updated_at=NOW)
            s.add(client)
            s.flush()
            return client.id

    def visit(self, client_id: int | None, start: datetime, categories: list | dict | str = ("manicure",), *,
              status: str = "completed", branch: str = BRANCH_A, duration: int | None = 60, source: str = "yclients",
              services: list[tuple[str, str]] | None = None, price: str = "650") -> str:
        self.serial += 1
        external_id = f"r{self.serial}"
        if services is None and isinstance(categories, list | tuple):
            services = [(f"svc-{c}", c) for c in categories]
        with self.store.session() as s:
            s.add(Visit(
                tenant=self.tenant, source=source, external_id=external_id, client_id=client_id, status=status,
                start_at=start, duration_min=duration, branch=branch, total_price=Decimal(price), version=start,
                history=[], categories=list(categories) if isinstance(categories, tuple) else categories,
                created_at=start, updated_at=start,
                services=[VisitService(position=i, external_id=sid, title=title, category=title, price=Decimal(price))
                          for i, (sid, title) in enumerate(services or [])],
            ))
        return external_id

    def regular(self, client_id: int, last: datetime, every_days: int, count: int = 3, **kw) -> None:
        """``count`` completed visits ``every_days`` apart, the last one at ``last``."""
        for i in reversed(range(count)):
            self.visit(client_id, last - i * every_days * DAY, **kw)
