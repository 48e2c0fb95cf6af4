"""The client's visit history as the text of one amoCRM contact field (``visit_history``, a textarea).

One line per completed visit, newest first: date, services, master, branch, amount; under it the products
sold and the materials used, where the booking system gives them. The latest ``HISTORY_VISITS`` visits
are shown and the text is kept under ``MAX_CHARS``; older visits are counted on a last line. The whole
history stays in salonbridge (``salonbridge clients show``, the clients API, the dashboard).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from pipelines.events import GoodsLine
from pipelines.snapshot import VisitState
from pipelines.texts import local_date

HISTORY_VISITS = 10
MAX_CHARS = 4000  # well inside what an amoCRM textarea holds, and still readable on the contact card
SEPARATOR = " · "

# fmt: off
LABELS: dict[str, dict[str, str]] = {
    "ru": {"product": "товары", "material": "материалы", "earlier": "и ещё визитов ранее: {n}"},
    "uk": {"product": "товари", "material": "матеріали", "earlier": "і ще візитів раніше: {n}"},
    "en": {"product": "products", "material": "materials", "earlier": "and {n} earlier visit(s)"},
}
# fmt: on


def render_visit_history(
    visits: Sequence[VisitState], *, tz: ZoneInfo, language: str,
    branch_label: Callable[[str | None], str] = lambda branch: branch or "",
    limit: int = HISTORY_VISITS, max_chars: int = MAX_CHARS,
) -> str:
    """The text of the field for ``visits`` (completed ones, any order; a booking seen twice counts once,
    its first occurrence wins). Empty when there is none."""
    labels = LABELS.get(language) or LABELS["ru"]
    unique: dict[str, VisitState] = {}
    for visit in visits:
        unique.setdefault(visit.external_id, visit)
    ordered = sorted(unique.values(), key=lambda v: (v.start_at, v.external_id), reverse=True)
    blocks: list[str] = []
    size = 0
    for visit in ordered[:limit]:
        block = visit_block(visit, tz=tz, language=language, branch_label=branch_label)
        if size + len(block) + 1 > max_chars - 40:  # room for the "earlier" line
            break
        blocks.append(block)
        size += len(block) + 1
    left = len(ordered) - len(blocks)
    if left:
        blocks.append(labels["earlier"].format(n=left))
    return "\n".join(blocks)


def visit_block(visit: VisitState, *, tz: ZoneInfo, language: str,
                branch_label: Callable[[str | None], str] = lambda branch: branch or "") -> str:
    """One visit: its line, then a line per kind of goods it has."""
    labels = LABELS.get(language) or LABELS["ru"]
    head = [local_date(visit.start_at, tz, language), ", ".join(visit.services) or "—", visit.staff_name or "—",
            branch_label(visit.branch) or visit.branch or "—"]
    if visit.price is not None:
        head.append(money(visit.price))
    lines = [SEPARATOR.join(head)]
    for kind in ("product", "material"):
        goods = [goods_text(line) for line in visit.goods if line.kind == kind]
        if goods:
            lines.append(f"  {labels[kind]}: {'; '.join(goods)}")
    return "\n".join(lines)


def goods_text(line: GoodsLine) -> str:
    """``Hand cream ×2 — 900`` for a product, ``Gel polish 2.5 ml`` for a material with its unit."""
    text = line.title
    if line.unit:
        text += f" {number(line.quantity)} {line.unit}"
    elif line.quantity != 1:
        text += f" ×{number(line.quantity)}"
    if line.kind == "product" and line.amount is not None:
        text += f" — {money(line.amount)}"
    return text


def money(amount: Decimal) -> str:
    """Whole amounts without cents (``650``), others to the cent (``650.50``)."""
    cents = amount.quantize(Decimal("0.01"))
    return str(cents.quantize(Decimal(1))) if cents == cents.to_integral_value() else f"{cents:f}"


def number(value: Decimal) -> str:
    """A quantity without trailing zeros or exponent: ``2``, ``2.5``."""
    return f"{value.normalize():f}"
