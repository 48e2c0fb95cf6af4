"""The install's figures as Prometheus metric families: what ``/metrics`` exposes and ``salonbridge status`` prints.

Computed when asked, from shared state only, so any web process (or the CLI) gives the same answer:
counters and latency histograms from ``bridge.telemetry`` (Redis), the amoCRM backlog and events by status
from the store, the queue from RQ's registries. Figures whose source does not answer are left out and
named in ``Figures.unavailable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from bridge import telemetry
from bridge.services import Services
from bridge.store import crm_queue, stats

# name → (help, label names); every counter is exposed with the ``_total`` suffix
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    telemetry.EVENTS_RECEIVED: ("Booking webhook deliveries stored as new events", ("tenant",)),
    telemetry.EVENTS_DUPLICATE: ("Deliveries of an event already stored (answered 200, not stored again)", ("tenant",)),
    telemetry.EVENTS_REJECTED: ("Webhook deliveries refused, by HTTP status", ("tenant", "status")),
    telemetry.AMOCRM_REQUESTS: ("HTTP exchanges with amoCRM by status class (error: no answer)",
                                ("tenant", "status_class")),
    telemetry.AMOCRM_RATE_LIMITED: ("amoCRM answers 429 Too Many Requests", ("tenant",)),
    telemetry.AMOCRM_TOKEN_REFRESHES: ("Calls to amoCRM's token endpoint to refresh an OAuth token, by outcome",
                                       ("tenant", "outcome")),
    telemetry.MESSAGES_SENT: ("Messages handed to a channel", ("tenant", "channel")),
    telemetry.MESSAGES_FAILED: ("Attempts to send a message that the channel refused or that failed",
                                ("tenant", "channel")),
}
HISTOGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    telemetry.EVENT_LATENCY: ("Seconds from a delivery's receipt to its event being processed", ("tenant",)),
    telemetry.AMOCRM_REQUEST_DURATION: ("Seconds per HTTP exchange with amoCRM", ("tenant",)),
}
RQ_STATES = ("queued", "started", "scheduled", "failed")


@dataclass
class Figures:
    families: list[Metric] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)  # which source did not answer, and what to check


def collect(svc: Services, now: datetime | None = None) -> Figures:
    figures = Figures()
    try:
        figures.families += _recorded(telemetry.read(svc.queue.connection))
        figures.families += _queue(svc)
    except RedisError as exc:
        figures.unavailable.append(f"Redis ({type(exc).__name__}): is REDIS_URL right and the server up?")
    try:
        figures.families += _stored(svc, now or datetime.now(UTC))
    except SQLAlchemyError as exc:
        figures.unavailable.append(f"the database ({type(exc).__name__}): is it up, and migrated "
                                   "(salonbridge db upgrade)?")
    return figures


def _labels(key: tuple[tuple[str, str], ...], names: tuple[str, ...]) -> list[str]:
    given = dict(key)
    return [given.get(name, "") for name in names]


def _recorded(snap: telemetry.Snapshot) -> list[Metric]:
    out: list[Metric] = []
    for name, (doc, names) in COUNTERS.items():
        family = CounterMetricFamily(name, doc, labels=list(names))
        for key, value in sorted(snap.counters.get(name, {}).items()):
            family.add_metric(_labels(key, names), value)
        out.append(family)
    for name, (doc, names) in HISTOGRAMS.items():
        family = HistogramMetricFamily(name, doc, labels=list(names))
        for key, hist in sorted(snap.histograms.get(name, {}).items()):
            family.add_metric(_labels(key, names), hist.cumulative(), sum_value=hist.sum)
        out.append(family)
    return out


def _queue(svc: Services) -> list[Metric]:
    rq = svc.queue.rq
    jobs = GaugeMetricFamily("salonbridge_rq_jobs", "RQ jobs by state: waiting, running, scheduled for a retry, "
                             "in the failed registry", labels=["state"])
    counts = {"queued": rq.count, "started": rq.started_job_registry.count,
              "scheduled": rq.scheduled_job_registry.count, "failed": rq.failed_job_registry.count}
    for state in RQ_STATES:
        jobs.add_metric([state], counts[state])
    depth = GaugeMetricFamily("salonbridge_queue_depth", "Jobs waiting in the queue (salonbridge_rq_jobs queued)")
    depth.add_metric([], counts["queued"])
    return [jobs, depth]


def _stored(svc: Services, now: datetime) -> list[Metric]:
    by_status = GaugeMetricFamily("salonbridge_events", "Stored events by processing status",
                                  labels=["tenant", "status"])
    parked = GaugeMetricFamily("salonbridge_events_failed",
                               "Events parked after too many failures (salonbridge events failed)", labels=["tenant"])
    events = stats.events_by_tenant_and_status(svc.store)
    for (tenant, status), n in sorted(events.items()):
        by_status.add_metric([tenant, status], n)
    for tenant in sorted({t for t, _ in events} | set(svc.tenants)):
        parked.add_metric([tenant], events.get((tenant, "failed"), 0))
    backlog = GaugeMetricFamily("salonbridge_amocrm_backlog", "amoCRM actions waiting to be applied",
                                labels=["tenant"])
    oldest = GaugeMetricFamily("salonbridge_amocrm_oldest_pending_age_seconds",
                               "Age of the oldest amoCRM action still waiting (0: none)", labels=["tenant"])
    waiting = crm_queue.backlog_by_tenant(svc.store)
    for tenant in sorted(set(waiting) | set(svc.tenants)):
        n, since = waiting.get(tenant, (0, None))
        backlog.add_metric([tenant], n)
        age = (now - (since.replace(tzinfo=UTC) if since.tzinfo is None else since)).total_seconds() if since else 0
        oldest.add_metric([tenant], max(0.0, age))
    return [by_status, parked, backlog, oldest]
