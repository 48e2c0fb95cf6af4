"""The emulated account's data, guarded by one lock and saved atomically to a JSON file.

One re-entrant lock serializes every read and write: the server is threaded and a sandbox never
needs more throughput than amoCRM's own 7 requests per second. Each successful write block is
persisted with write-to-temp + fsync + rename, so a killed sandbox leaves the old or the new file,
never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
# Collections held as {id: record} in memory and as lists of records on disk (JSON keys are strings).
TABLES = ("users", "pipelines", "custom_fields", "tags", "contacts", "leads", "tasks", "notes", "webhooks")

Data = dict[str, Any]


class Store:
    """Owner of the account data; use ``read()``/``write()`` blocks, never the dict outside them."""

    def __init__(self, path: Path | None, seed: Callable[[], Data]):
        self._path = Path(path) if path is not None else None
        self._seed = seed
        self._lock = threading.RLock()
        self._data = self._load() if self._path and self._path.exists() else seed()
        if self._path and not self._path.exists():
            self._save()

    @contextmanager
    def read(self) -> Iterator[Data]:
        with self._lock:
            yield self._data

    @contextmanager
    def write(self) -> Iterator[Data]:
        """Mutate inside the block; it is saved only if the block finishes without an exception.
        Handlers validate everything before their first mutation, so a refused request changes nothing."""
        with self._lock:
            yield self._data
            self._save()

    def reset(self, keep_tokens: bool = True) -> None:
        with self._lock:
            fresh = self._seed()
            if keep_tokens:
                fresh["oauth"] = self._data["oauth"]
                fresh["secret"] = self._data["secret"]
            self._data = fresh
            self._save()

    def _load(self) -> Data:
        assert self._path is not None
        raw = json.loads(self._path.read_text(encoding="utf-8"))
        if raw.get("version") != SCHEMA_VERSION:
            raise ValueError(f"{self._path}: sandbox state version {raw.get('version')!r} is not {SCHEMA_VERSION}")
        for table in TABLES:
            raw[table] = {int(row["id"]): row for row in raw.get(table, [])}
        return raw

    def _save(self) -> None:
        if self._path is None:
            return
        doc = {k: (list(v.values()) if k in TABLES else v) for k, v in self._data.items()}
        text = json.dumps(doc, ensure_ascii=False, indent=1)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def next_id(data: Data, kind: str) -> int:
    """Ids only grow, per kind, and survive restarts (they live in the saved document)."""
    data["seq"][kind] += 1
    return data["seq"][kind]
