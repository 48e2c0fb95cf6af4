"""An outage of Redis or the database is said once when it starts and once when it ends, whatever the retries."""

from __future__ import annotations

import logging

import redis.exceptions
import sqlalchemy.exc

from bridge.outage import BACKOFF_MAX_S, Outage, describe, outage_of


def test_many_failures_and_successes_make_one_line_each_way(caplog):
    outage = Outage("Redis")
    with caplog.at_level(logging.WARNING, logger="salonbridge.outage"):
        outage.up()  # nothing to end
        for _ in range(50):
            outage.down(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."))
        for _ in range(5):
            outage.up()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("Redis is unreachable (ConnectionError: Error 111")
    assert lines[1].startswith("Redis answers again after")


def test_back_off_doubles_to_its_cap_and_starts_over_with_the_next_outage():
    outage = Outage("the database")
    outage.down(OSError("down"))
    waits = [outage.next_wait() for _ in range(6)]
    assert waits == [0.5, 1.0, 2.0, 4.0, BACKOFF_MAX_S, BACKOFF_MAX_S]
    outage.up()
    outage.down(OSError("down again"))
    assert outage.next_wait() == 0.5


def test_only_connection_failures_count_as_outages_and_their_text_carries_no_statement():
    orig = Exception('connection to server at "db", port 5432 failed: Connection refused\nIs the server running?')
    err = sqlalchemy.exc.OperationalError("INSERT INTO clients (phone) VALUES (%s)", ("+380671234567",), orig)
    assert outage_of(err) is not None
    assert outage_of(redis.exceptions.TimeoutError()) is not None
    assert outage_of(ValueError("bad payload")) is None
    assert "+380" not in describe(err) and "INSERT" not in describe(err)
