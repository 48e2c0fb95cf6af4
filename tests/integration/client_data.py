"""A hand-built client base with known answers for every segment filter and every client report.

Today is 2026-03-15 in Kyiv. Branches: 111111 Центр, 111112 Поділ (the test tenant's).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bridge.store.models import Client, CycleRow, Visit

KYIV = ZoneInfo("Europe/Kyiv")
TODAY = date(2026, 3, 15)
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)
CENTR, PODIL = "111111", "111112"


def at(day: str, hour: int = 12) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time().replace(hour=hour), tzinfo=KYIV)


CLIENTS = {  # name: card
    "Олена": dict(gender="female", birthday=date(1990, 12, 10), card_type="gold", balance=Decimal("150"),
                  acquisition="instagram", reason="haircut", tags=["vip", "постійна"], phone="+380671111111"),
    "Марія": dict(gender="female", birthday=date(1985, 1, 5), card_type="silver", balance=Decimal("0"),
                  acquisition="google", reason="manicure", tags=["постійна"], blacklisted=True, phone="+380672222222"),
    "Петро": dict(gender="male", birthday=date(1980, 2, 29), acquisition="instagram", tags=[], phone="+380673333333"),
    "Ганна": dict(card_type="gold", balance=Decimal("-50"), tags=[], phone="+380674444444"),
    "Софія": dict(gender="female", birthday=date(2000, 6, 15), card_type="gold", acquisition="online booking",
                  reason="haircut", tags=[], email="sofia@example.com"),
}
VISITS = [  # client, booking id, day, status, branch, master, category, price
    ("Олена", "a1", "2026-01-10", "completed", CENTR, "Ірина", "manicure", "500"),
    ("Олена", "a2", "2026-03-01", "completed", CENTR, "Ірина", "manicure", "600"),
    ("Марія", "b1", "2025-11-20", "completed", PODIL, "Оксана", "pedicure", "800"),
    ("Марія", "b2", "2026-02-01", "cancelled", PODIL, "Оксана", "pedicure", "900"),
    ("Петро", "c1", "2026-02-15", "completed", CENTR, "Оксана", "pedicure", "1000"),
    ("Петро", "c2", "2026-02-20", "completed", CENTR, "Ірина", "manicure", "300"),
    ("Петро", "c3", "2026-02-25", "completed", PODIL, "Ірина", "manicure", "200"),
    ("Ганна", "d1", "2026-04-10", "scheduled", CENTR, "Ірина", "manicure", "500"),
    ("Софія", "e1", "2025-06-01", "completed", PODIL, "Оксана", "manicure", "400"),
]
CYCLES = [  # client, category, anchor, due, state, closed
    ("Олена", "manicure", "a2", "2026-03-22", "open", False),
    ("Петро", "pedicure", "c1", "2026-03-15", "open", False),
    ("Петро", "manicure", "c3", "2026-03-18", "cancelled_by_booking", False),
    ("Софія", "manicure", "e1", "2025-06-22", "open", True),
]


def build(store, tenant: str = "salon") -> dict[str, int]:
    """Insert the data set; the clients' ids by name."""
    ids: dict[str, int] = {}
    with store.session() as s:
        for name, card in CLIENTS.items():
            client = Client(tenant=tenant, source="yclients", external_id=name, name=name, created_at=NOW,
                            updated_at=NOW, **{"blacklisted": False, **card})
            s.add(client)
            s.flush()
            ids[name] = client.id
        for who, booking, day, status, branch, master, category, price in VISITS:
            s.add(Visit(tenant=tenant, source="yclients", external_id=booking, client_id=ids[who], status=status,
                        start_at=at(day), branch=branch, staff_id=master, staff_name=master,
                        total_price=Decimal(price), channel="admin", version=NOW, history=[],
                        categories=[category], created_at=NOW, updated_at=NOW))
        for who, category, anchor, due, state, closed in CYCLES:
            s.add(CycleRow(tenant=tenant, client_id=ids[who], category=category, anchor_visit_id=anchor,
                           due_at=at(due, 10), period_days=21, task_key=f"task:{who}:{category}", task_state=state,
                           closed_at=NOW if closed else None, updated_at=NOW))
    return ids
