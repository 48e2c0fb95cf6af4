"""``/metrics`` in Prometheus format, computed at scrape time from the store and Redis.

Reading shared state (instead of per-process counters) gives one truthful answer no matter how many
web and worker processes there are.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from redis.exceptions import RedisError

from bridge.services import Services
from bridge.store import stats
from webhooks import counters
from webhooks.context import current_services

bp = Blueprint("metrics", __name__)
LATENCY_WINDOW = timedelta(minutes=15)


class StateCollector:
    def __init__(self, services: Services):
        self.svc = services

    def collect(self):
        yield from self._intake()
        yield from self._events()
        yield from self._queue()

    def _intake(self):
        try:
            totals = counters.read(self.svc.queue)
        except RedisError:
            totals = {}
        received = CounterMetricFamily("salonbridge_events_received", "Webhook deliveries stored")
        received.add_metric([], totals.get("received", 0))
        duplicates = CounterMetricFamily("salonbridge_events_duplicate", "Deliveries of an already stored event")
        duplicates.add_metric([], totals.get("duplicate", 0))
        rejected = CounterMetricFamily("salonbridge_events_rejected", "Deliveries refused", labels=["status"])
        for field, n in sorted(totals.items()):
            if field.startswith("rejected:"):
                rejected.add_metric([field.split(":", 1)[1]], n)
        yield from (received, duplicates, rejected)

    def _events(self):
        by_status = GaugeMetricFamily("salonbridge_events", "Stored events by processing status", labels=["status"])
        counts = stats.events_by_status(self.svc.store)
        for status, n in sorted(counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        failed = GaugeMetricFamily("salonbridge_events_failed",
                                   "Events parked after too many failures (salonbridge events failed)")
        failed.add_metric([], counts.get("failed", 0))
        yield failed
        latencies = stats.recent_latencies(self.svc.store, datetime.now(UTC) - LATENCY_WINDOW)
        summary = SummaryMetricFamily(
            "salonbridge_job_latency_seconds", "Receipt to processed, events of the last 15 minutes"
        )
        summary.add_metric([], count_value=len(latencies), sum_value=sum(latencies))
        yield summary
        quantiles = GaugeMetricFamily(
            "salonbridge_job_latency_quantile_seconds", "Latency quantiles, last 15 minutes", labels=["quantile"]
        )
        for q in (0.5, 0.9, 0.99):
            quantiles.add_metric([str(q)], _quantile(latencies, q))
        yield quantiles

    def _queue(self):
        depth = GaugeMetricFamily("salonbridge_queue_depth", "Jobs waiting in the queue")
        failed = GaugeMetricFamily("salonbridge_jobs_failed", "Jobs in RQ's failed registry")
        try:
            depth.add_metric([], self.svc.queue.depth())
            failed.add_metric([], self.svc.queue.rq.failed_job_registry.count)
        except RedisError:
            return
        yield from (depth, failed)


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(current_services()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
