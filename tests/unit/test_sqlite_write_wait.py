"""SQLite write transactions of the web process (``first_in_line``): the lock is taken as soon as it is free,
and a lock held past the busy timeout still ends in SQLAlchemy's "database is locked"."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bridge.store import db
from bridge.store.db import Store


def _held_for(path, seconds: float) -> threading.Thread:
    """Another connection holds the write lock for ``seconds``."""
    ready = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=hold)
    thread.start()
    ready.wait()
    return thread


def test_the_first_in_line_takes_the_lock_the_moment_it_is_free(tmp_path):
    path = tmp_path / "t.db"
    store = Store(f"sqlite:///{path}", first_in_line=True)
    with store.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    # SQLite's busy handler would try at 328 ms (1+2+5+...+50+50 ms), then sleep 100 ms until 428 ms
    holder = _held_for(path, 0.33)
    started = time.monotonic()
    with store.session() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
    waited = time.monotonic() - started
    holder.join()
    assert 0.3 <= waited < 0.41
    with store.session() as s:  # the busy timeout is back for the connection's other statements
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == db.BUSY_TIMEOUT_MS


def test_a_lock_held_past_the_busy_timeout_is_the_usual_error(tmp_path, monkeypatch):
    path = tmp_path / "t.db"
    store = Store(f"sqlite:///{path}", first_in_line=True)
    with store.session() as s:
        s.execute(text("CREATE TABLE t (x INTEGER)"))
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 200)
    holder = _held_for(path, 0.5)
    with pytest.raises(OperationalError, match="database is locked"), store.session() as s:
        s.execute(text("INSERT INTO t VALUES (1)"))
    holder.join()
    with store.session() as s:
        s.execute(text("INSERT INTO t VALUES (2)"))
        assert s.execute(text("SELECT count(*) FROM t")).scalar() == 1
