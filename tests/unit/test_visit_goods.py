"""Products sold and materials used with a visit: read from YCLIENTS/Altegio records and generic events,
merged over what was stored, and rendered into the contact's visit_history field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.booking.errors import PayloadError
from bridge.booking.generic import normalize_generic
from bridge.booking.yclients import normalize_record
from pipelines.actions import UpdateFields
from pipelines.events import BookingStatus, GoodsLine, VisitEvent, merge_goods
from pipelines.snapshot import VisitState
from pipelines.visit_history import goods_text, money, render_visit_history
from tests.helpers import make_tenant, yclients_record
from tests.unit.playbook_sim import MANICURE, PEDICURE, T0, Salon, of
from tests.unit.playbook_sim import event as ev

RECEIVED = datetime(2026, 3, 6, 10, tzinfo=UTC)
KYIV = ZoneInfo("Europe/Kyiv")
CREAM = GoodsLine("product", "Hand cream", Decimal(2), Decimal("900.00"), None, "55")
GEL = GoodsLine("material", "Gel polish", Decimal("2.5"), Decimal("37.50"), "ml", "7")


def sale(**over: Any) -> dict[str, Any]:
    """A goods transaction as the record carries it (a storage operation: the amount is negative)."""
    line = {"id": 90001, "document_id": 80001, "type_id": 1, "good_id": 55, "amount": -2, "cost_per_unit": 450,
            "discount": 0, "cost": 900, "good": {"id": 55, "title": "Hand cream"}, "unit": {"id": 1, "title": "pc"},
            "deleted": False}
    line.update(over)
    return {k: v for k, v in line.items() if v is not None}


def consumable(**over: Any) -> dict[str, Any]:
    line = {"id": 90002, "good_id": 7, "amount": "-2.5", "cost_per_unit": 15, "cost": 37.5,
            "good": {"id": 7, "title": "Gel polish"}, "unit": {"title": "bottle"}, "service_unit": {"title": "ml"}}
    line.update(over)
    return line


def record(**data: Any) -> dict[str, Any]:
    body = yclients_record(attendance=1, status="update")
    body["data"].update(data)
    return body


def yclients(body: dict[str, Any]) -> VisitEvent:
    return normalize_record(body, make_tenant("yclients"), RECEIVED)


# --- YCLIENTS / Altegio -----------------------------------------------------------------------------


def test_a_record_brings_its_products_sold_and_materials_used_with_decimal_amounts():
    event = yclients(record(goods_transactions=[sale()], consumables=[consumable()]))
    product, material = event.booking.goods
    assert product == GoodsLine("product", "Hand cream", Decimal(2), Decimal("900.00"), "pc", "55")
    assert material == GoodsLine("material", "Gel polish", Decimal("2.5"), Decimal("37.50"), "ml", "7")
    assert event.booking.goods_reported == ("product", "material")
    assert event.booking.total_price == Decimal(650)  # the services' value; goods are listed apart
    assert VisitEvent.from_dict(event.to_dict()) == event  # stored and replayed unchanged


def test_a_line_without_cost_is_priced_per_unit_and_units_may_be_strings_with_a_comma():
    event = yclients(record(goods_transactions=[sale(cost=None, amount="-3", cost_per_unit="99,90")]))
    [line] = event.booking.goods
    assert (line.quantity, line.amount) == (Decimal(3), Decimal("299.70"))


def test_deleted_lines_are_left_out_and_malformed_ones_dropped_with_a_warning_not_the_record():
    lines = [sale(deleted=True), sale(good={"id": 1}), sale(amount="lots"), "junk", sale(good_id=56, good=None,
                                                                                      title="Serum")]
    event = yclients(record(goods_transactions=lines))
    assert [(g.title, g.external_id) for g in event.booking.goods] == [("Serum", "56")]
    assert event.extra["warnings"] == ["data.goods_transactions.1: no title, dropped",
                                       "data.goods_transactions.2: not a number, dropped",
                                       "data.goods_transactions.3: not an object, dropped"]
    assert event.booking.status is BookingStatus.COMPLETED


def test_a_record_without_consumables_says_nothing_about_materials():
    event = yclients(record(goods_transactions=[]))  # the webhook's usual shape: no include_consumables
    assert (event.booking.goods, event.booking.goods_reported) == ((), ("product",))
    assert yclients(record()).booking.goods_reported == ()
    odd = yclients(record(goods_transactions={"id": 1}))
    assert odd.booking.goods_reported == () and "data.goods_transactions: expected a list, ignored" in \
        odd.extra["warnings"]


# --- the generic JSON feed ------------------------------------------------------------------------


def generic(goods: Any = None) -> dict[str, Any]:
    booking = {"id": "b-17", "status": "completed", "start_at": "2026-03-05T15:30:00+02:00",
               "services": [{"id": "1", "title": "Manicure", "price": "650"}]}
    if goods is not None:
        booking["goods"] = goods
    return {"event_id": "b-17-1", "occurred_at": "2026-03-05T17:00:00Z", "booking": booking}


def test_the_generic_feed_takes_goods_with_decimal_amounts_and_a_default_quantity():
    event = normalize_generic(generic([
        {"kind": "product", "title": "Hand cream", "quantity": 2, "amount": "900", "id": 55},
        {"kind": "material", "title": "Gel polish", "quantity": "2.5", "unit": "ml"},
        {"kind": "product", "title": "Nail file"},
    ]), make_tenant("generic"), RECEIVED)
    assert event.booking.goods == (
        GoodsLine("product", "Hand cream", Decimal(2), Decimal(900), None, "55"),
        GoodsLine("material", "Gel polish", Decimal("2.5"), None, "ml", None),
        GoodsLine("product", "Nail file", Decimal(1), None, None, None))
    assert event.booking.goods_reported == ("product", "material")
    assert VisitEvent.from_dict(event.to_dict()) == event
    assert normalize_generic(generic(), make_tenant("generic"), RECEIVED).booking.goods_reported == ()


@pytest.mark.parametrize(("line", "path"), [
    ({"kind": "gift", "title": "x"}, "booking.goods.0.kind"),
    ({"kind": "product"}, "booking.goods.0.title"),
    ({"kind": "product", "title": "x", "amount": "-1"}, "booking.goods.0.amount"),
    ({"kind": "product", "title": "x", "price": "1"}, "booking.goods.0.price"),
])
def test_the_generic_feed_refuses_a_bad_goods_line_naming_it(line: dict[str, Any], path: str):
    with pytest.raises(PayloadError) as caught:
        normalize_generic(generic([line]), make_tenant("generic"), RECEIVED)
    assert path in caught.value.fields


# --- merging over what was stored ------------------------------------------------------------------


def test_a_snapshot_replaces_only_the_kinds_it_carries():
    stored = (CREAM, GEL)
    serum = GoodsLine("product", "Serum")
    assert merge_goods(stored, (serum,), ("product",)) == (GEL, serum)
    assert merge_goods(stored, (), ()) == stored
    assert merge_goods(stored, (), ("product", "material")) == ()


# --- the visit_history text -------------------------------------------------------------------------


def visit(n: int, day: int, *, goods: tuple[GoodsLine, ...] = (), price: str | None = "650",
          services: tuple[str, ...] = ("Gel manicure",)) -> VisitState:
    return VisitState(f"v{n}", BookingStatus.COMPLETED, datetime(2026, 3, day, 12, tzinfo=KYIV), "s1",
                      datetime(2026, 3, day, 14, tzinfo=KYIV), staff_name="Anna", branch="111111",
                      services=services, price=Decimal(price) if price else None, goods=goods)


def test_the_history_lists_the_latest_visits_newest_first_with_their_goods():
    text = render_visit_history([visit(1, 2), visit(2, 20, goods=(CREAM, GEL)), visit(3, 10, price=None)],
                                tz=KYIV, language="en", branch_label={"111111": "Podil"}.get)
    assert text.splitlines() == [
        "2026-03-20 · Gel manicure · Anna · Podil · 650",
        "  products: Hand cream ×2 — 900",
        "  materials: Gel polish 2.5 ml",
        "2026-03-10 · Gel manicure · Anna · Podil",
        "2026-03-02 · Gel manicure · Anna · Podil · 650",
    ]


def test_the_history_speaks_the_salons_language_and_counts_what_it_leaves_out():
    visits = [visit(n, n, goods=(CREAM,)) for n in range(1, 14)]
    text = render_visit_history(visits, tz=KYIV, language="uk", limit=3)
    lines = text.splitlines()
    assert lines[0].startswith("13.03.2026 · Gel manicure") and lines[1] == "  товари: Hand cream ×2 — 900"
    assert lines[-1] == "і ще візитів раніше: 10"
    assert len(lines) == 7


def test_the_history_stays_under_its_size_and_a_booking_seen_twice_counts_once():
    long = tuple(GoodsLine("product", f"Product number {i}", amount=Decimal(100)) for i in range(30))
    visits = [visit(n, n, goods=long) for n in range(1, 20)]
    text = render_visit_history(visits, tz=KYIV, language="ru", max_chars=2000)
    assert len(text) <= 2000 and text.endswith("и ещё визитов ранее: 17")
    twice = render_visit_history([visit(1, 5, goods=(CREAM,)), visit(1, 5)], tz=KYIV, language="en")
    assert twice.count("2026-03-05") == 1 and "Hand cream" in twice
    assert render_visit_history([], tz=KYIV, language="en") == ""


def test_money_and_quantities_are_written_plainly():
    assert (money(Decimal("650.00")), money(Decimal("650.5")), money(Decimal("0.004"))) == ("650", "650.50", "0")
    assert goods_text(GoodsLine("product", "Serum", Decimal("1.000"), Decimal("1299.9"))) == "Serum — 1299.90"
    assert goods_text(GoodsLine("material", "Foil", Decimal(3))) == "Foil ×3"


# --- the rule: the field goes out with the other contact fields -----------------------------------


def test_a_completed_visit_writes_visit_history_in_the_one_contact_field_update():
    salon = Salon()
    salon.send(ev("v1", BookingStatus.COMPLETED, T0, PEDICURE, occurred=T0 + timedelta(hours=2),
                  price=Decimal(800)))
    later = T0 + timedelta(days=21)
    actions = salon.send(ev("v2", BookingStatus.COMPLETED, later, MANICURE, occurred=later + timedelta(hours=2),
                            price=Decimal(650), goods=(CREAM,)))
    [update] = of(actions, UpdateFields)
    assert {"visits_count", "total_spend", "visit_history"} <= set(update.fields)
    assert update.fields["visit_history"].splitlines() == [
        "2026-03-23 · Gel manicure · Anna · b1 · 650", "  products: Hand cream ×2 — 900",
        "2026-03-02 · Pedicure · Anna · b1 · 800"]


def test_goods_rung_up_after_the_visit_update_the_history_and_nothing_else():
    salon = Salon()
    salon.send(ev("v1", BookingStatus.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=2), goods=()))
    actions = salon.send(ev("v1", BookingStatus.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=3),
                            goods=(CREAM, GEL)))
    [update] = of(actions, UpdateFields)
    assert set(update.fields) == {"visit_history"} and "Gel polish 2.5 ml" in update.fields["visit_history"]
    again = salon.send(ev("v1", BookingStatus.COMPLETED, T0, MANICURE, occurred=T0 + timedelta(hours=4)))
    assert of(again, UpdateFields) == []  # a snapshot without goods keeps them and changes nothing

