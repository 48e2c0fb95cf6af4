"""Latency observations of a worker's events go to Redis together, within a second, and none is lost."""

from __future__ import annotations

import time

from bridge import telemetry


def test_observations_sent_soon_add_up_as_if_sent_one_by_one(services):
    redis = services.queue.connection
    for seconds in (0.003, 0.02, 0.02, 7.0, 400.0):
        telemetry.observe(redis, "direct_seconds", {"tenant": "salon"}, seconds)
        telemetry.observe_soon(redis, "batched_seconds", {"tenant": "salon"}, seconds)
    assert "batched_seconds" not in telemetry.read(redis).histograms  # held by the process for now
    telemetry.flush()
    histograms = telemetry.read(redis).histograms
    direct = histograms["direct_seconds"][(("tenant", "salon"),)]
    batched = histograms["batched_seconds"][(("tenant", "salon"),)]
    assert (batched.buckets, batched.count) == (direct.buckets, direct.count) == (
        {"0.005": 1, "0.025": 2, "10.0": 1, "+Inf": 1}, 5)
    assert abs(batched.sum - direct.sum) < 1e-9


def test_held_observations_go_out_within_a_second_without_a_flush(services):
    redis = services.queue.connection
    telemetry.observe_soon(redis, "later_seconds", {"tenant": "salon"}, 0.5)
    deadline = time.monotonic() + telemetry.FLUSH_EVERY_S + 3
    while time.monotonic() < deadline and "later_seconds" not in telemetry.read(redis).histograms:
        time.sleep(0.05)
    assert telemetry.read(redis).histograms["later_seconds"][(("tenant", "salon"),)].count == 1
