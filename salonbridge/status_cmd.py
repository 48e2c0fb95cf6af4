"""``salonbridge status [--json]``: the figures ``/metrics`` exposes, read from the same shared state."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from prometheus_client.core import Metric

HISTOGRAM_QUANTILES = (0.5, 0.9, 0.99)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document: every metric with its samples.")
def status(as_json: bool) -> None:
    """The install's figures, as /metrics exposes them: events, amoCRM requests, backlog and token
    refreshes, messages, latencies and the queue, per tenant (docs/operations.md lists every name)."""
    from bridge.observability import collect
    from salonbridge.cli import _services

    svc = _services()
    try:
        figures = collect(svc)
    finally:
        svc.close()
    if as_json:
        click.echo(json.dumps({"metrics": [_as_dict(f) for f in figures.families],
                               "unavailable": figures.unavailable}, ensure_ascii=False, indent=2))
    else:
        for family in figures.families:
            _print(family)
    for what in figures.unavailable:
        click.echo(f"error: no figures from {what}", err=True)
    if figures.unavailable:
        sys.exit(1)


def _name(family: Metric) -> str:
    return f"{family.name}_total" if family.type == "counter" else family.name


def _as_dict(family: Metric) -> dict[str, Any]:
    return {"name": _name(family), "type": family.type, "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}


def _print(family: Metric) -> None:
    click.echo(f"{_name(family)}  ({family.documentation})")
    if family.type == "histogram":
        _print_histogram(family)
        return
    samples = [s for s in family.samples if not s.name.endswith("_created")]
    if not samples:
        click.echo("  (none yet)")
    for sample in samples:
        labels = " ".join(f"{k}={v}" for k, v in sample.labels.items())
        click.echo(f"  {labels or '-':<44} {_number(sample.value)}")


def _print_histogram(family: Metric) -> None:
    series: dict[tuple, dict[str, Any]] = {}
    for sample in family.samples:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        entry = series.setdefault(tuple(labels.items()), {"buckets": []})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            entry["count"] = sample.value
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
    if not series:
        click.echo("  (none yet)")
    for key, entry in series.items():
        count = entry.get("count", 0)
        bounds = " ".join(f"p{int(q * 100)}≤{_bound(entry['buckets'], q * count)}" for q in HISTOGRAM_QUANTILES)
        mean = entry.get("sum", 0) / count if count else 0
        labels = " ".join(f"{k}={v}" for k, v in key)
        click.echo(f"  {labels or '-':<44} count {_number(count)}, mean {mean:.3f} s, {bounds}")


def _bound(buckets: list[tuple[float, float]], rank: float) -> str:
    """The smallest bucket bound holding at least ``rank`` observations (what the histogram can tell)."""
    for bound, cumulative in buckets:
        if cumulative >= rank and cumulative > 0:
            return "+Inf" if bound == float("inf") else f"{bound:g} s"
    return "-"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
