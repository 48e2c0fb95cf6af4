"""Which bookings need a prepayment, the amount and the deadline (seed 003), as tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from config.prepayment_model import (
    AmountKind,
    AmountSpec,
    DeadlineRule,
    Exemptions,
    Period,
    PrepaymentConfig,
    PrepaymentRule,
    TooClose,
)
from pipelines.events import Booking, BookingStatus, ServiceLine, Staff
from pipelines.prepayment import ClientFacts, Reason, decide, payment_deadline, round_amount
from pipelines.prepayment.money import UnknownCurrency, amount_text, quantum

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
VISIT = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # 12:00 in Kyiv
MANI = ServiceLine("3333", "Манікюр + гель-лак", "Манікюр", Decimal("650"))
PEDI = ServiceLine("4444", "Педикюр", "Педикюр", Decimal("800"))
PROMO = ServiceLine("9001", "Акція: манікюр за 399", "Манікюр", Decimal("399"))
FIXED_200 = AmountSpec(AmountKind.FIXED, Decimal("200"))


def booking(*lines: ServiceLine, start: datetime = VISIT, **kw) -> Booking:
    args = {"external_id": "500", "status": BookingStatus.SCHEDULED, "start_at": start, "duration_min": 90,
            "branch": "111111", "staff": Staff("2222", "Анна"), "services": lines or (MANI,), "created_at": NOW}
    return Booking(**{**args, **kw})


def config(*rules: PrepaymentRule, **kw) -> PrepaymentConfig:
    return PrepaymentConfig(provider="liqpay", rules=rules or (PrepaymentRule("all"),), amount=FIXED_200, **kw)


def run(cfg: PrepaymentConfig, b: Booking, client: ClientFacts = ClientFacts(), currency: str = "UAH", **kw):
    return decide(cfg, b, client, currency=currency, timezone=KYIV, now=kw.pop("now", NOW), **kw)


# --- which bookings -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "lines", "required"), [
    (PrepaymentRule("all"), (MANI,), True),
    (PrepaymentRule("by id", services=("3333",)), (PEDI, MANI), True),
    (PrepaymentRule("by title", services=("манікюр + ГЕЛЬ-лак",)), (MANI,), True),
    (PrepaymentRule("by id", services=("3333",)), (PEDI,), False),
    (PrepaymentRule("by category", categories=("Педикюр",)), (PEDI,), True),
    (PrepaymentRule("by category alias", categories=("pedicure",)), (PEDI,), True),
    (PrepaymentRule("by category", categories=("Педикюр",)), (MANI,), False),
    (PrepaymentRule("promo", promo=True), (PROMO,), True),
    (PrepaymentRule("promo", promo=True), (MANI,), False),
    (PrepaymentRule("branch", branches=("111111",)), (MANI,), True),
    (PrepaymentRule("branch", branches=("111112",)), (MANI,), False),
])
def test_rules_select_bookings_by_service_category_promo_and_branch(rule, lines, required):
    decision = run(config(rule, promo_services=("9001",)), booking(*lines))
    assert decision.required is required
    assert decision.reason is (Reason.RULE if required else Reason.NO_RULE)
    assert decision.rule == (rule.name if required else None)


@pytest.mark.parametrize(("visit_local", "required"), [
    (datetime(2026, 12, 20, 0, 30, tzinfo=KYIV), True),  # first day of the period, just after local midnight
    (datetime(2026, 12, 31, 23, 30, tzinfo=KYIV), True),  # last day, inclusive
    (datetime(2026, 12, 19, 23, 59, tzinfo=KYIV), False),  # in UTC this is still the 19th as well
    (datetime(2027, 1, 1, 0, 30, tzinfo=KYIV), False),  # 31 Dec 22:30 in UTC: the local date decides
])
def test_date_periods_use_the_visit_date_in_the_tenant_zone(visit_local, required):
    rule = PrepaymentRule("new year", periods=(Period(datetime(2026, 12, 20).date(), datetime(2026, 12, 31).date()),))
    assert run(config(rule), booking(start=visit_local.astimezone(UTC))).required is required


def test_the_first_matching_rule_in_file_order_decides_the_amount():
    cfg = config(PrepaymentRule("promo", promo=True, amount=AmountSpec(AmountKind.PERCENT, Decimal("50"))),
                 PrepaymentRule("all"), promo_services=("9001",))
    assert (run(cfg, booking(PROMO)).rule, run(cfg, booking(PROMO)).amount) == ("promo", Decimal("199.50"))
    assert (run(cfg, booking(MANI)).rule, run(cfg, booking(MANI)).amount) == ("all", Decimal("200.00"))


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW])
def test_only_upcoming_bookings_need_one(status):
    assert run(config(), booking(status=status)).reason is Reason.NOT_UPCOMING


def test_a_booking_already_started_needs_none_and_a_disabled_section_asks_nothing():
    assert run(config(), booking(start=NOW - timedelta(minutes=1))).reason is Reason.NOT_UPCOMING
    assert run(replace(config(), enabled=False), booking()).reason is Reason.DISABLED


# --- exemptions ---------------------------------------------------------------------------------------

EXEMPT = Exemptions(tags=("Club", "regular"), card_types=("Gold",), segments=("VIP",), completed_visits=5)


@pytest.mark.parametrize(("client", "detail"), [
    (ClientFacts(tags=frozenset({"club"})), "tag club"),
    (ClientFacts(tags=frozenset({"Regular", "new"})), "tag Regular"),
    (ClientFacts(card_type="gold"), "card_type gold"),
    (ClientFacts(segments=frozenset({"VIP"})), "segment VIP"),
    (ClientFacts(completed_visits=5), "visits 5"),
    (ClientFacts(completed_visits=4), ""),
    (ClientFacts(tags=frozenset({"new"}), card_type="Silver", segments=frozenset({"lost"})), ""),
])
def test_exemptions_by_tag_card_type_segment_and_completed_visits(client, detail):
    decision = run(config(exempt=EXEMPT), booking(), client)
    assert decision.required is (not detail)
    if detail:
        assert (decision.reason, decision.detail, decision.rule) == (Reason.EXEMPT, detail, "all")


def test_without_a_visits_threshold_regulars_pay_like_everyone():
    assert run(config(exempt=Exemptions(tags=("club",))), booking(), ClientFacts(completed_visits=100)).required


# --- amounts ------------------------------------------------------------------------------------------

def amount_of(spec: AmountSpec, b: Booking | None = None, currency: str = "UAH", rule: PrepaymentRule | None = None):
    decision = run(config(replace(rule or PrepaymentRule("r"), amount=spec)), b or booking(), currency=currency)
    return decision.amount if decision.required else decision.reason


@pytest.mark.parametrize(("spec", "b", "currency", "expected"), [
    (FIXED_200, None, "UAH", Decimal("200.00")),
    (AmountSpec(AmountKind.FIXED, Decimal("1999.999")), None, "UAH", Decimal("2000.00")),
    (AmountSpec(AmountKind.FIXED, Decimal("1500.5")), None, "JPY", Decimal("1501")),
    (AmountSpec(AmountKind.FIXED, Decimal("12.3456")), None, "KWD", Decimal("12.346")),
    (AmountSpec(AmountKind.PERCENT, Decimal("20")), booking(MANI), "UAH", Decimal("130.00")),
    (AmountSpec(AmountKind.PERCENT, Decimal("20")), booking(MANI, PEDI), "UAH", Decimal("290.00")),
    (AmountSpec(AmountKind.PERCENT, Decimal("15")), booking(replace(MANI, quantity=2)), "UAH", Decimal("195.00")),
    (AmountSpec(AmountKind.PERCENT, Decimal("33.3")), booking(replace(MANI, price=Decimal("99.99"))), "UAH",
     Decimal("33.30")),  # 33.29667 rounds half up to kopiykas
    (AmountSpec(AmountKind.PERCENT, Decimal("20")), booking(replace(MANI, price=None), total_price=Decimal("1000")),
     "UAH", Decimal("200.00")),
    (AmountSpec(AmountKind.PERCENT, Decimal("20")), booking(replace(MANI, price=None)), "UAH", Reason.NO_PRICE),
    (AmountSpec(AmountKind.PERCENT, Decimal("20"), minimum=Decimal("150")), booking(MANI), "UAH", Decimal("150.00")),
    (AmountSpec(AmountKind.PERCENT, Decimal("50"), maximum=Decimal("300")), booking(MANI), "UAH", Decimal("300.00")),
    (AmountSpec(AmountKind.HOURLY, Decimal("600")), booking(duration_min=90), "UAH", Decimal("900.00")),
    (AmountSpec(AmountKind.HOURLY, Decimal("600"), {"2222": Decimal("800")}), booking(duration_min=45), "UAH",
     Decimal("600.00")),
    (AmountSpec(AmountKind.HOURLY, Decimal("700"), {"9999": Decimal("800")}), booking(duration_min=50), "UAH",
     Decimal("583.33")),
    (AmountSpec(AmountKind.HOURLY, Decimal("600")), booking(duration_min=None), "UAH", Reason.NO_DURATION),
])
def test_amounts_fixed_percent_and_hourly_rounded_to_the_minor_unit(spec, b, currency, expected):
    assert amount_of(spec, b, currency) == expected


def test_percent_counts_only_the_services_the_rule_selected():
    rule = PrepaymentRule("pedicure", categories=("Педикюр",))
    assert amount_of(AmountSpec(AmountKind.PERCENT, Decimal("10")), booking(MANI, PEDI), rule=rule) == Decimal("80.00")


def test_an_amount_that_rounds_to_nothing_asks_for_nothing():
    assert amount_of(AmountSpec(AmountKind.FIXED, Decimal("0.004"))) is Reason.NO_PRICE


def test_packages_count_through_the_callers_categories():
    rule = PrepaymentRule("pedicure", categories=("pedicure",))
    package = ServiceLine("7777", "Манікюр + педикюр", "Манікюр", Decimal("1200"))
    cfg = config(rule)
    assert not run(cfg, booking(package)).required
    both = run(cfg, booking(package), line_categories=lambda line: ("manicure", "pedicure"))
    assert both.required and both.amount == Decimal("200.00")


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (Decimal("300"), "UAH", "300.00"), (Decimal("0.005"), "USD", "0.01"), (Decimal("0.5"), "JPY", "1"),
    (Decimal("1.0005"), "BHD", "1.001"),
])
def test_money_rounds_half_up_to_the_iso_minor_unit(amount, currency, text):
    assert amount_text(amount, currency) == text
    assert round_amount(amount, currency).as_tuple().exponent == quantum(currency).as_tuple().exponent


def test_an_unknown_currency_is_refused_not_guessed():
    with pytest.raises(UnknownCurrency, match="XYZ"):
        round_amount(Decimal(1), "XYZ")


# --- deadlines ----------------------------------------------------------------------------------------

H = timedelta(hours=1)
RULE = DeadlineRule(hours_after_booking=24, hours_before_visit=12, too_close=TooClose.IMMEDIATE, immediate_minutes=30)


@pytest.mark.parametrize(("booked", "visit", "now", "rule", "expected"), [
    # far ahead: 24 h after booking
    (NOW, NOW + 96 * H, NOW, RULE, (NOW + 24 * H, False)),
    # visit in 30 h: 12 h before the visit comes first
    (NOW, NOW + 30 * H, NOW, RULE, (NOW + 18 * H, False)),
    # processed late: never sooner than the minimum window from now
    (NOW - 30 * H, NOW + 96 * H, NOW, RULE, (NOW + timedelta(minutes=30), False)),
    # visit in 12 h 20 min: the 12 h limit leaves 20 min, less than the window -> too close, immediate
    (NOW, NOW + 12 * H + timedelta(minutes=20), NOW, RULE, (NOW + timedelta(minutes=30), True)),
    # visit in 20 min: immediate, but never after the visit starts
    (NOW, NOW + timedelta(minutes=20), NOW, RULE, (NOW + timedelta(minutes=20), True)),
    # too close with "skip"
    (NOW, NOW + 5 * H, NOW, replace(RULE, too_close=TooClose.SKIP), (None, False)),
    # exactly the window left before the 12 h limit is still a normal deadline
    (NOW, NOW + 12 * H + timedelta(minutes=30), NOW, RULE, (NOW + timedelta(minutes=30), False)),
    # no "before the visit" margin
    (NOW, NOW + 2 * H, NOW, replace(RULE, hours_before_visit=0), (NOW + 2 * H, False)),
])
def test_deadline_after_booking_before_the_visit_and_too_close(booked, visit, now, rule, expected):
    assert payment_deadline(rule, booked, visit, now) == expected


def test_too_close_skip_is_a_decision_with_its_reason():
    cfg = replace(config(), deadline=replace(RULE, too_close=TooClose.SKIP))
    decision = run(cfg, booking(start=NOW + 3 * H))
    assert (decision.required, decision.reason, decision.amount) == (False, Reason.TOO_CLOSE, Decimal("200.00"))


def test_a_required_decision_carries_amount_currency_and_deadline():
    decision = run(config(), booking(start=NOW + 96 * H), currency="USD")
    assert decision.required and decision.currency == "USD" and decision.amount == Decimal("200.00")
    assert decision.deadline_at == NOW + 24 * H and not decision.immediate


def test_booked_at_defaults_to_the_booking_creation_time():
    b = booking(start=NOW + 96 * H, created_at=NOW - 2 * H)
    assert run(config(), b).deadline_at == NOW + 22 * H
    assert run(config(), b, booked_at=NOW).deadline_at == NOW + 24 * H
