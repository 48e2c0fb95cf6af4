"""``/metrics`` in Prometheus format: ``bridge.observability``'s figures, computed at scrape time.

They come from shared state (Redis counters and histograms, the store, RQ's registries), not from this
process's memory, so every gunicorn worker answers the same whatever process did the work.
"""

from __future__ import annotations

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.observability import collect
from webhooks.context import current_services

bp = Blueprint("metrics", __name__)


class _Collector:
    def collect(self):
        return collect(current_services()).families


@bp.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
