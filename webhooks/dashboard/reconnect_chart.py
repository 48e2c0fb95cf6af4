"""Reconnect's last 3 months per category, and the bar chart the Reconnect page draws of them.

The three months are three month-long windows ending today (the period ``salonbridge report reconnect``
covers by default), each counted by ``bridge.store.reconnect_results.report``, so the bars of a category
add up to what the report says of it. The chart is plain SVG computed here: no script, no library, and
the page's Content-Security-Policy stays strict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bridge.store.db import Store
from bridge.store.reconnect_results import months_back, report
from config.tenants import Tenant

MONTHS = 3
# the chart's geometry, in SVG user units
WIDTH, HEIGHT, BASE, TOP, BAR, GAP = 300, 150, 125, 18, 26, 6


@dataclass(frozen=True)
class Window:
    first: date
    last: date  # included

    def label(self) -> str:
        return f"{self.first:%d.%m}–{self.last:%d.%m}"


@dataclass
class CategoryResults:
    category: str
    contacted: list[int] = field(default_factory=list)  # per window, oldest first
    rebooked: list[int] = field(default_factory=list)
    revenue: Decimal = Decimal(0)
    to_come: int = 0

    @property
    def total_contacted(self) -> int:
        return sum(self.contacted)

    @property
    def total_rebooked(self) -> int:
        return sum(self.rebooked)

    @property
    def rate(self) -> float:
        return self.total_rebooked / self.total_contacted if self.total_contacted else 0.0


def windows(today: date, months: int = MONTHS) -> list[Window]:
    """``months`` consecutive month-long windows, the last ending today."""
    starts = [months_back(today, n) for n in range(months, 0, -1)]
    ends = [*starts[1:], today + timedelta(days=1)]
    return [Window(a, b - timedelta(days=1)) for a, b in zip(starts, ends, strict=True)]


def results(store: Store, tenant: Tenant, today: date) -> tuple[list[Window], list[CategoryResults]]:
    """Contacted and rebooked per category and window, revenue and rebookings still to come per category."""
    spans = windows(today)
    found: dict[str, CategoryResults] = {}
    for i, w in enumerate(spans):
        start = datetime.combine(w.first, time(0), tzinfo=tenant.timezone)
        end = datetime.combine(w.last + timedelta(days=1), time(0), tzinfo=tenant.timezone)
        for category, row in report(store, tenant, start, end).results.by_category.items():
            c = found.setdefault(category, CategoryResults(category, [0] * len(spans), [0] * len(spans)))
            c.contacted[i], c.rebooked[i] = row["contacted"], row["rebooked"]
            c.revenue += row["revenue"]
            c.to_come += row["pending_revenue"]
    return spans, sorted(found.values(), key=lambda c: (-c.total_contacted, c.category))


def chart(c: CategoryResults, spans: list[Window]) -> dict[str, Any]:
    """Bars (contacted, rebooked) per window on one scale, with their labels' positions."""
    top = max([*c.contacted, 1])
    group = (WIDTH - 20) / len(spans)
    bars, labels = [], []
    for i, w in enumerate(spans):
        x0 = 10 + i * group + (group - 2 * BAR - GAP) / 2
        for j, (kind, value) in enumerate((("contacted", c.contacted[i]), ("rebooked", c.rebooked[i]))):
            height = round((BASE - TOP) * value / top, 1)
            x = round(x0 + j * (BAR + GAP), 1)
            bars.append({"kind": kind, "x": x, "y": round(BASE - height, 1), "w": BAR, "h": height, "value": value,
                         "tx": round(x + BAR / 2, 1), "ty": round(BASE - height - 4, 1)})
        labels.append({"x": round(10 + i * group + group / 2, 1), "text": w.label()})
    return {"width": WIDTH, "height": HEIGHT, "base": BASE, "bars": bars, "labels": labels}
