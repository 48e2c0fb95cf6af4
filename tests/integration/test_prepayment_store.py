"""Prepayments in the store, on SQLite and PostgreSQL: attempts, forward-only changes, the ledger,
callbacks as received, the expiry scan and the report."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from bridge.payments.effects import record_change
from bridge.store import prepayments as repo
from bridge.store.models import AppliedAction, Base, Client, LedgerEntry, PaymentCallback
from config.prepayment_model import PrepaymentConfig, PrepaymentRule
from pipelines.prepayment import PaymentReport, PrepaymentStatus, ProviderStatus, on_deadline, on_report

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = PrepaymentStatus


def attempt(s, booking: str = "500", **kw):
    args = {"tenant": "salon", "booking_id": booking, "provider": "liqpay", "amount": Decimal("300"),
            "currency": "UAH", "deadline_at": NOW + timedelta(hours=24), "now": NOW, "branch": "111111"}
    return repo.create_attempt(s, **{**args, **kw})


def report(status: ProviderStatus, amount: str = "300", ref: str = "bk-500-1") -> PaymentReport:
    return PaymentReport(ref, status, Decimal(amount), "UAH", status.value, "pay-77")


def settle(s, row, rep: PaymentReport, now=NOW):
    change = on_report(repo.status_of(row), rep, expected=repo.expected_amount(row), currency=row.currency)
    return change, repo.apply_change(s, row, change, now, rep)


def test_the_schema_the_migrations_make_is_the_one_the_models_declare(services):
    with services.store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_one_open_attempt_per_booking_and_a_new_reference_after_it_closes(services):
    with services.store.session() as s:
        first, created = attempt(s)
        again, created_again = attempt(s, amount=Decimal("999"))
        assert (first.order_ref, created, again.id, created_again) == ("bk-500-1", True, first.id, False)
        assert first.amount == Decimal("300.00")
        change = on_report(S.PENDING, report(ProviderStatus.FAILED), expected=Decimal("300"), currency="UAH")
        repo.apply_change(s, first, change, NOW)
        assert attempt(s)[0].id == first.id  # a declined attempt can still be paid
    with services.store.session() as s:
        row = repo.find_by_order_ref(s, "salon", "bk-500-1", lock=True)
        repo.apply_change(s, row, on_deadline(S.FAILED, row.deadline_at, row.deadline_at, None,
                                              expected=Decimal("300"), currency="UAH"), NOW)
        second, created = attempt(s, booking="500")
        assert (second.order_ref, second.attempt, created) == ("bk-500-2", 2, True)


def balance(services, client_id: int) -> Decimal | None:
    with services.store.session() as s:
        return s.get(Client, client_id).balance


def test_paid_records_income_with_a_receipt_and_refund_a_negative_entry(services):
    with services.store.session() as s:
        client = Client(tenant="salon", name="Ольга", created_at=NOW, updated_at=NOW, tags=[],
                        balance=Decimal("150"))
        s.add(client)
        s.flush()
        row, _ = attempt(s, client_id=client.id)
    with services.store.session() as s:
        row = repo.find_by_order_ref(s, "salon", "bk-500-1", lock=True)
        change, income = settle(s, row, report(ProviderStatus.PAID))
        assert change.new_status is S.PAID and row.paid_at == NOW and row.provider_payment_id == "pay-77"
        assert (income.kind, income.amount, income.client_id) == ("income", Decimal("300.00"), client.id)
        assert row.receipt_number == income.receipt_number and income.receipt_number.startswith("PP-")
    assert balance(services, client.id) == Decimal("450.00")  # the card's balance topped up by the prepayment
    with services.store.session() as s:
        row = repo.find_by_order_ref(s, "salon", "bk-500-1", lock=True)
        change, nothing = settle(s, row, report(ProviderStatus.PAID))  # the same callback again
        assert (change.changed, nothing) == (False, None)
        _, refund = settle(s, row, report(ProviderStatus.REFUNDED), now=NOW + timedelta(days=1))
        assert (refund.kind, refund.amount, row.status, row.refunded_at) == (
            "refund", Decimal("-300.00"), "refunded", NOW + timedelta(days=1))
        _, replay = settle(s, row, report(ProviderStatus.PAID))  # an old success replayed after the refund
        assert replay is None and row.status == "refunded"
    with services.store.session() as s:
        entries = s.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert [(e.kind, e.amount) for e in entries] == [("income", Decimal("300")), ("refund", Decimal("-300"))]
    assert balance(services, client.id) == Decimal("150.00")  # once up, once down: duplicates changed nothing


def contact_balances(s) -> list[str]:
    """The ``balance`` values recorded for the amoCRM contact, oldest first."""
    rows = s.scalars(select(AppliedAction).where(AppliedAction.kind == "UpdateFields").order_by(AppliedAction.id))
    return [r.payload["fields"]["balance"] for r in rows if "balance" in r.payload["fields"]]


def test_the_contact_is_given_the_balance_the_change_left_on_the_card_once_per_change(services):
    policy = dataclasses.replace(services.policy("salon"), prepayment=PrepaymentConfig(
        provider="liqpay", rules=(PrepaymentRule(name="all"),)))
    with services.store.session() as s:
        client = Client(tenant="salon", name="Ольга", created_at=NOW, updated_at=NOW, tags=[],
                        balance=Decimal("150"))
        s.add(client)
        s.flush()
        attempt(s, client_id=client.id)
    for status, expected in ((ProviderStatus.PAID, ["450.00"]), (ProviderStatus.PAID, ["450.00"]),
                             (ProviderStatus.REFUNDED, ["450.00", "150.00"])):
        with services.store.session() as s:
            assert s.get(Client, client.id).balance is not None  # the card already in this session...
            row = repo.find_by_order_ref(s, "salon", "bk-500-1", lock=True)
            change, _ = settle(s, row, report(status))
            record_change(s, policy, row, change, NOW, f"cb:{status}")
            assert contact_balances(s) == expected  # ...and still the value the change left (a repeat adds none)


def test_held_money_is_no_income_and_its_refund_no_ledger_entry(services):
    with services.store.session() as s:
        client = Client(tenant="salon", name="Ольга", created_at=NOW, updated_at=NOW, tags=[])
        s.add(client)
        s.flush()
        row, _ = attempt(s, client_id=client.id)
        change, entry = settle(s, row, report(ProviderStatus.PAID, "30"))
        assert (row.status, entry, row.received_amount) == ("held", None, Decimal("30"))
        assert row.alert == "paid 30 UAH, expected 300.00 UAH: not accepted automatically"
        _, refund = settle(s, row, report(ProviderStatus.REFUNDED))
        assert (row.status, refund) == ("refunded", None)
        assert s.scalars(select(LedgerEntry)).all() == []
    assert balance(services, client.id) is None  # held money never reached the balance


def test_a_change_computed_from_an_old_status_is_refused(services):
    with services.store.session() as s:
        row, _ = attempt(s)
        stale = on_report(S.PENDING, report(ProviderStatus.PAID), expected=Decimal("300"), currency="UAH")
        repo.apply_change(s, row, stale, NOW)
        with pytest.raises(repo.StaleChange):
            repo.apply_change(s, row, stale, NOW)


def test_due_for_expiry_finds_payable_attempts_past_their_deadline_in_deadline_order(services):
    with services.store.session() as s:
        late, _ = attempt(s, booking="1", deadline_at=NOW - timedelta(hours=1))
        later, _ = attempt(s, booking="2", deadline_at=NOW - timedelta(hours=3))
        attempt(s, booking="3", deadline_at=NOW + timedelta(hours=1))  # not yet
        paid, _ = attempt(s, booking="4", deadline_at=NOW - timedelta(hours=2))
        settle(s, paid, report(ProviderStatus.PAID, ref="bk-4-1"))
        assert [r.booking_id for r in repo.due_for_expiry(s, NOW)] == ["2", "1"]
        assert len(repo.due_for_expiry(s, NOW, limit=1)) == 1


def test_the_expiry_scan_uses_its_index(services):
    if services.store.engine.dialect.name != "sqlite":
        pytest.skip("the PostgreSQL planner picks a sequential scan on a small table")
    with services.store.session() as s:
        plan = s.execute(text("EXPLAIN QUERY PLAN SELECT id FROM prepayments WHERE status IN ('pending','failed') "
                              "AND deadline_at <= :now ORDER BY deadline_at"), {"now": NOW}).all()
        assert "ix_prepayments_due" in " ".join(str(r) for r in plan)


def test_callbacks_are_kept_byte_for_byte_and_repeats_counted(services):
    body = b'{"merchantAccount":"m","amount":490.0}\xd0\x9f'
    with services.store.session() as s:
        first = repo.store_callback(s, tenant="salon", provider="wayforpay", body=body,
                                    content_type="application/x-www-form-urlencoded", now=NOW)
    with services.store.session() as s:
        again = repo.store_callback(s, tenant="salon", provider="wayforpay", body=body, content_type=None,
                                    now=NOW + timedelta(seconds=5))
        assert again.id == first.id and again.deliveries == 2
        repo.store_callback(s, tenant="salon", provider="liqpay", body=body, content_type=None, now=NOW)
    with services.store.session() as s:
        rows = s.scalars(select(PaymentCallback).order_by(PaymentCallback.id)).all()
        assert [(r.provider, r.deliveries, bytes(r.body)) for r in rows] == [("wayforpay", 2, body),
                                                                             ("liqpay", 1, body)]
        assert rows[0].last_received_at == NOW + timedelta(seconds=5)


def test_report_rows_filter_by_time_status_and_branch(services):
    with services.store.session() as s:
        client = Client(tenant="salon", name="Ольга", phone="+380671234567", created_at=NOW, updated_at=NOW, tags=[])
        s.add(client)
        s.flush()
        a, _ = attempt(s, booking="1", client_id=client.id, now=NOW)
        b, _ = attempt(s, booking="2", branch="111112", now=NOW + timedelta(days=1))
        attempt(s, booking="3", now=NOW + timedelta(days=2), tenant="other")
        settle(s, a, report(ProviderStatus.PAID, ref="bk-1-1"))
    with services.store.session() as s:
        everything = repo.report_rows(s, "salon")
        assert [r.order_ref for r in everything] == ["bk-2-1", "bk-1-1"]
        first = everything[1]
        assert (first.client, first.status, first.amount, first.receipt_number is not None) == (
            "Ольга", "paid", Decimal("300.00"), True)
        assert [r.order_ref for r in repo.report_rows(s, "salon", statuses=["paid"])] == ["bk-1-1"]
        assert [r.order_ref for r in repo.report_rows(s, "salon", branch="111112")] == ["bk-2-1"]
        assert [r.order_ref for r in repo.report_rows(s, "salon", since=NOW + timedelta(hours=1))] == ["bk-2-1"]
        assert [r.order_ref for r in repo.report_rows(s, "salon", until=NOW + timedelta(hours=1))] == ["bk-1-1"]
        assert repo.totals(s, "salon") == {"paid": 1, "pending": 1}
