"""Replay a JSON-lines file through the live intake path, with a progress bar."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from tqdm import tqdm

from bridge import intake
from bridge.booking.errors import IgnoredResource, PayloadError
from bridge.services import Services


@dataclass
class ReplaySummary:
    outcomes: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.outcomes["rejected"]

    def render(self) -> str:
        parts = ", ".join(f"{k}: {v}" for k, v in sorted(self.outcomes.items()))
        lines = [f"replayed {sum(self.outcomes.values())} line(s): {parts or 'nothing'}"]
        lines += [f"  {p}" for p in self.problems[:20]]
        if len(self.problems) > 20:
            lines.append(f"  … and {len(self.problems) - 20} more")
        return "\n".join(lines)


def replay_lines(svc: Services, lines: IO[str], *, default_tenant: str | None, default_source: str,
                 history: bool = False) -> ReplaySummary:
    summary = ReplaySummary()
    for number, line in enumerate(tqdm(lines, unit=" events", desc="replay", leave=False, disable=None), start=1):
        if not line.strip():
            continue
        outcome = _one(svc, line, default_tenant, default_source, history)
        if outcome.startswith("rejected"):
            summary.problems.append(f"line {number}: {outcome.removeprefix('rejected: ')}")
            outcome = "rejected"
        summary.outcomes[outcome] += 1
    return summary


def parse_line(line: str, default_tenant: str | None, default_source: str) -> tuple[str, str, Any]:
    """(tenant, source, body) of one line; raises ValueError on malformed JSON."""
    item = json.loads(line)
    if isinstance(item, dict) and "body" in item:
        return item.get("tenant", default_tenant) or "", item.get("source", default_source), item["body"]
    return default_tenant or "", default_source, item


def _one(svc: Services, line: str, default_tenant: str | None, default_source: str, history: bool = False) -> str:
    try:
        slug, source, body = parse_line(line, default_tenant, default_source)
    except ValueError as exc:
        return f"rejected: malformed JSON: {exc}"
    except RecursionError:
        return "rejected: malformed JSON: nested too deeply"
    tenant = svc.tenants.get(slug)
    if tenant is None:
        return f"rejected: unknown tenant {slug!r}"
    if not isinstance(body, dict):
        return "rejected: the event must be a JSON object"
    try:
        receipt = intake.receive(svc.store, svc.queue, tenant, source, body, datetime.now(UTC), svc.limits,
                                 history=history)
    except IgnoredResource:
        return "ignored"
    except PayloadError as exc:
        return f"rejected: {exc} {exc.fields}"
    return "duplicate" if receipt.duplicate else "accepted"
