"""The client segment filters by name (no dependencies: the pure domain reads them too)."""

from __future__ import annotations

# filter name -> what it takes (for --help and error messages)
SEGMENT_FILTERS: dict[str, str] = {
    "tag": "a tag, or several separated by commas (the client has all of them)",
    "gender": "female, male or other",
    "birthday": "MM-DD..MM-DD (may wrap the new year: 12-20..01-10)",
    "card_type": "card types separated by commas",
    "source": "acquisition sources separated by commas (UTM source or booking channel)",
    "reason": "reasons for contacting separated by commas",
    "balance": "MIN..MAX (either side may be empty: 100.., ..0)",
    "blacklisted": "yes or no",
    "last_visit": "YYYY-MM-DD..YYYY-MM-DD (the last completed visit)",
    "category": "service categories separated by commas (any completed visit with one)",
    "branch": "branch ids separated by commas (any completed visit there)",
    "master": "masters' names separated by commas (any completed visit with one)",
    "spend": "MIN..MAX of all completed visits",
    "visits": "MIN..MAX count of completed visits",
}
