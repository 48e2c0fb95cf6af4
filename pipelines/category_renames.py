"""Categories renamed in the booking system, recognised from the services that moved.

Stored visits keep the category their services had when they were recorded. When the salon renames
"Massage" to "Body massage", the history of every massage client splits in two and each half looks
wrong (the old one overdue, the new one too short to learn from). The services keep their ids, so a
rename shows as: services recorded under A are now recorded under B, every service that left A went
to B, and nothing was recorded under A after the first of them appeared under B. A category that
merely lost one service to another (a re-categorisation), or split into several, is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSeen:
    """A service under one category, with the first and last write order (e.g. line ids) seen."""

    service: str
    category: str
    first: int
    last: int


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    services: int  # how many services moved


def detect_renames(seen: Iterable[ServiceSeen]) -> list[Rename]:
    """Renames A → B as described above, one per old category, in name order."""
    by_service: dict[str, list[ServiceSeen]] = defaultdict(list)
    last_in: dict[str, int] = defaultdict(int)
    for row in seen:
        by_service[row.service].append(row)
        last_in[row.category] = max(last_in[row.category], row.last)
    moves: dict[str, dict[str, int]] = defaultdict(dict)  # old -> new -> first write under new
    for rows in by_service.values():
        current = max(rows, key=lambda r: r.last)
        for row in rows:
            if row.category != current.category:
                first = moves[row.category].get(current.category, current.first)
                moves[row.category][current.category] = min(first, current.first)
    renames = []
    for old, targets in sorted(moves.items()):
        if len(targets) == 1:
            [(new, first_under_new)] = targets.items()
            if last_in[old] < first_under_new:
                movers = sum(1 for rows in by_service.values() if {old, new} <= {r.category for r in rows})
                renames.append(Rename(old, new, movers))
    return renames


def rename_map(renames: Iterable[Rename]) -> dict[str, str]:
    """old -> final name, following chains (A → B → C maps A to C); a cycle keeps its names."""
    step = {r.old: r.new for r in renames}
    out: dict[str, str] = {}
    for old in step:
        seen, name = {old}, step[old]
        while name in step and name not in seen:
            seen.add(name)
            name = step[name]
        if name not in seen:
            out[old] = name
    return out


def apply(categories: Iterable[str], renamed: Mapping[str, str]) -> tuple[str, ...]:
    """The categories under their current names, each once, in order."""
    return tuple(dict.fromkeys(renamed.get(c, c) for c in categories))
