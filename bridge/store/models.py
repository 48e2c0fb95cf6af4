"""Tables. amoCRM ids live only in ``crm_links``; everything else is keyed by the tenant's slug."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class TenantState(Base):
    """Per-tenant bookkeeping that is not configuration: watermarks and pauses."""

    __tablename__ = "tenant_state"
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    booking_watermark: Mapped[datetime | None]
    amocrm_paused_until: Mapped[datetime | None]
    amocrm_pause_reason: Mapped[str | None] = mapped_column(Text)


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (
        Index("ix_clients_tenant_phone", "tenant", "phone"),
        Index("ix_clients_tenant_email", "tenant", "email"),
        Index("ix_clients_wake_at", "wake_at"),
        UniqueConstraint("tenant", "source", "external_id", name="uq_clients_source_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(200))
    birthday: Mapped[date | None]
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opted_out: Mapped[bool] = mapped_column(default=False)
    # The client card (migration 0009_client_card, seed 001): typed by staff or filled from bookings.
    gender: Mapped[str | None] = mapped_column(String(8))  # female | male | other
    card_type: Mapped[str | None] = mapped_column(String(64))  # loyalty / discount card
    balance: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    blacklisted: Mapped[bool] = mapped_column(default=False)
    comment: Mapped[str | None] = mapped_column(Text)
    acquisition: Mapped[str | None] = mapped_column(String(120))  # ad source: UTM source, else booking channel
    utm: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(120))  # reason for contacting the salon
    # The due index: when the clock should next ask the playbook about this client (None: nothing timed).
    wake_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    visits: Mapped[list[Visit]] = relationship(back_populates="client")


# Bookings still expecting the client. Queries repeat this very text so SQLite can use the partial index.
UPCOMING_STATUS = text("status IN ('scheduled', 'confirmed')")


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "external_id", name="uq_visits_source_id"),
        # bookings still to come, for the Reconnect scan (migration 0005_reconnect)
        Index("ix_visits_upcoming", "tenant", "start_at", "client_id", sqlite_where=UPCOMING_STATUS,
              postgresql_where=UPCOMING_STATUS),
        Index("ix_visits_tenant_start", "tenant", "start_at"),  # client reports by period (0009_client_card)
        # per-client totals of completed visits (segments, reports) read from the index alone, in client order
        Index("ix_visits_client_totals", "tenant", "status", "client_id", "start_at", "total_price"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime]
    duration_min: Mapped[int | None]
    branch: Mapped[str | None] = mapped_column(String(64))
    staff_id: Mapped[str | None] = mapped_column(String(64))
    staff_name: Mapped[str | None] = mapped_column(String(200))
    total_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    channel: Mapped[str] = mapped_column(String(16), default="unknown")
    comment: Mapped[str | None] = mapped_column(Text)  # the booking's comment, kept with the client's history
    # products sold and materials used (migration 0010_visit_goods): GoodsLine dicts, numbers as strings
    goods: Mapped[list[Any] | None] = mapped_column(JSON)
    version: Mapped[datetime]  # occurred_at of the snapshot stored here
    # when the booking was made in the booking system (migration 0011_visit_booked_at), if it says so
    booked_at: Mapped[datetime | None]
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)  # transitions with times
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)  # canonical categories of its services
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    client: Mapped[Client | None] = relationship(back_populates="visits")
    services: Mapped[list[VisitService]] = relationship(
        back_populates="visit", cascade="all, delete-orphan", order_by="VisitService.position"
    )


class VisitService(Base):
    __tablename__ = "visit_services"
    __table_args__ = (Index("ix_visit_services_service", "external_id", "category", "visit_id"),)  # renamed categories
    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    external_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(120))
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    quantity: Mapped[int] = mapped_column(default=1)
    visit: Mapped[Visit] = relationship(back_populates="services")


class InboundEvent(Base):
    """Every accepted delivery, stored before it is acknowledged; unique per source dedupe key."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "dedupe_key", name="uq_inbound_dedupe"),
        Index("ix_inbound_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="received")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class OutboxRow(Base):
    """A job owed to the queue; the sweeper re-enqueues rows nobody has taken."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state", "state", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("inbound_events.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | enqueued | done
    created_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class AppliedAction(Base):
    """One planned action, recorded before it is carried out and again after; unique per idempotency key."""

    __tablename__ = "applied_actions"
    __table_args__ = (
        UniqueConstraint("tenant", "key", name="uq_action_key"),
        Index("ix_actions_state", "state", "tenant", "id"),  # the amoCRM backlog, however many are done
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed | skipped
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]


class CrmLink(Base):
    """A local thing (client, lead of a pipeline, task, pipeline, field) ↔ its amoCRM id."""

    __tablename__ = "crm_links"
    __table_args__ = (UniqueConstraint("tenant", "local_kind", "local_key", name="uq_crm_link"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    local_kind: Mapped[str] = mapped_column(String(32))
    local_key: Mapped[str] = mapped_column(String(255))
    amo_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class OAuthToken(Base):
    """amoCRM tokens of one tenant, encrypted; ``version`` fences concurrent refreshes."""

    __tablename__ = "oauth_tokens"
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(16), default="ok")  # ok | needs_reauth
    updated_at: Mapped[datetime]


class CatalogEntry(Base):
    """A booking system's service and its category in one branch, cached because webhooks omit the category."""

    __tablename__ = "service_catalog"
    __table_args__ = (
        UniqueConstraint("tenant", "source", "company_id", "service_id", name="uq_catalog_branch_service"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32))
    company_id: Mapped[str] = mapped_column(String(64))  # the branch: each branch has its own catalog
    service_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(120))
    fetched_at: Mapped[datetime]


class CycleRow(Base):
    """Per client and category, the expectation of the next visit and the state of its autotask."""

    __tablename__ = "cycles"
    __table_args__ = (UniqueConstraint("tenant", "client_id", "category", "anchor_visit_id", name="uq_cycle"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    category: Mapped[str] = mapped_column(String(120))
    anchor_visit_id: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    period_days: Mapped[int]
    task_key: Mapped[str] = mapped_column(String(255))
    task_state: Mapped[str] = mapped_column(String(32))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    task_exists: Mapped[bool] = mapped_column(default=True)
    service: Mapped[str | None] = mapped_column(String(200))
    master: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class LeadRow(Base):
    """A lead the robot created, by the key of the CreateLead action; its amoCRM id is a CrmLink."""

    __tablename__ = "leads"
    __table_args__ = (UniqueConstraint("tenant", "key", name="uq_lead_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    pipeline: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default="open")
    manual: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime]


class LostStepRow(Base):
    __tablename__ = "lost_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    anchor_visit_id: Mapped[str] = mapped_column(String(64))
    lead_key: Mapped[str] = mapped_column(String(255))
    step: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]


class MessageRow(Base):
    """A message to a client: scheduled by the rules, sent by the clock when due, never twice."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("tenant", "key", name="uq_message_key"),
        Index("ix_messages_due", "state", "send_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    occasion: Mapped[str] = mapped_column(String(255))
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    send_at: Mapped[datetime]
    marketing: Mapped[bool] = mapped_column(default=False)
    booking_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled|sent|cancelled|skipped|failed
    attempts: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str | None] = mapped_column(String(16))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PrepaymentRow(Base):
    """One payment attempt for a booking (``bk-<booking>-<attempt>``); its status only moves forward."""

    __tablename__ = "prepayments"
    __table_args__ = (
        UniqueConstraint("tenant", "order_ref", name="uq_prepayment_order_ref"),
        UniqueConstraint("tenant", "booking_id", "attempt", name="uq_prepayment_attempt"),
        Index("ix_prepayments_due", "status", "deadline_at"),  # the expiry scan
        Index("ix_prepayments_tenant_created", "tenant", "created_at"),  # the report
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[str] = mapped_column(String(64))  # the booking system's id
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    attempt: Mapped[int]
    order_ref: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rule: Mapped[str | None] = mapped_column(String(64))
    branch: Mapped[str | None] = mapped_column(String(64))
    visit_at: Mapped[datetime | None]
    description: Mapped[str | None] = mapped_column(String(255))
    checkout_url: Mapped[str | None] = mapped_column(Text)
    deadline_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    held_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    provider_payment_id: Mapped[str | None] = mapped_column(String(64))
    provider_status: Mapped[str | None] = mapped_column(String(32))  # the provider's last word
    received_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    received_currency: Mapped[str | None] = mapped_column(String(3))
    receipt_number: Mapped[str | None] = mapped_column(String(32))
    alert: Mapped[str | None] = mapped_column(Text)


class LedgerEntry(Base):
    """Money the salon took in (income) or gave back (refund, negative) through prepayments."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("prepayment_id", "kind", name="uq_ledger_prepayment_kind"),
        UniqueConstraint("receipt_number", name="uq_ledger_receipt"),
        Index("ix_ledger_tenant_created", "tenant", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    prepayment_id: Mapped[int] = mapped_column(ForeignKey("prepayments.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # income | refund
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    currency: Mapped[str] = mapped_column(String(3))
    receipt_number: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class PaymentCallback(Base):
    """A provider callback exactly as received (bytes), stored before it is acted on; one row per
    distinct body, ``deliveries`` counts repeats."""

    __tablename__ = "payment_callbacks"
    __table_args__ = (UniqueConstraint("tenant", "provider", "body_sha256", name="uq_payment_callback_body"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    body_sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime]
    last_received_at: Mapped[datetime]
    deliveries: Mapped[int] = mapped_column(default=1)
    order_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    prepayment_id: Mapped[int | None] = mapped_column(ForeignKey("prepayments.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(24), default="received")
    status_before: Mapped[str | None] = mapped_column(String(16))
    status_after: Mapped[str | None] = mapped_column(String(16))
    alert: Mapped[str | None] = mapped_column(Text)


class DashboardUser(Base):
    """A person who signs in to the dashboard: an agency admin (every tenant) or a salon manager (one)."""

    __tablename__ = "dashboard_users"
    __table_args__ = (UniqueConstraint("username", name="uq_dashboard_users_username"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug scrypt
    role: Mapped[str] = mapped_column(String(16))  # admin | manager
    tenant: Mapped[str | None] = mapped_column(String(64))  # the manager's salon; None for admins
    language: Mapped[str | None] = mapped_column(String(8))  # None: the tenant's language
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class ReconnectContactRow(Base):
    """A client a Reconnect campaign contacted about one category (seed 004): the follow-up and the results
    report read these. One per (client, category, last visit) ever: the action key."""

    __tablename__ = "reconnect_contacts"
    __table_args__ = (
        UniqueConstraint("tenant", "key", name="uq_reconnect_contact_key"),
        Index("ix_reconnect_contacts_tenant_at", "tenant", "contacted_at"),  # the results report
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    campaign: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    category: Mapped[str] = mapped_column(String(120))
    branch: Mapped[str | None] = mapped_column(String(64))
    channels: Mapped[list[Any]] = mapped_column(JSON, default=list)  # asked and addressable: sms, email
    message_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)  # the first message, per channel
    last_visit: Mapped[date]
    days_late: Mapped[int]
    contacted_at: Mapped[datetime]
    follow_up_at: Mapped[datetime | None]
    follow_up_state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | skipped | none
    follow_up_reason: Mapped[str | None] = mapped_column(Text)
