"""The sandbox's faults and limits over real HTTP: 429 bursts with Retry-After, a share of 5xx, a share of
answers held past the client's timeout, a one-off token expiry, and the calendar-second counter/limit."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from amocrm_sandbox import SandboxOptions
from tests.integration.conftest import Amo


def get(amo: Amo, path: str = "/api/v4/account", token: str | None = None, timeout: float = 5) -> requests.Response:
    return requests.get(amo.url + path, headers={"Authorization": f"Bearer {token or amo.token}"}, timeout=timeout)


def test_a_burst_of_429s_with_retry_after_then_normal_service(amo):
    amo.control("faults", {"burst_429": 10, "burst_retry_after": 2}, method="PATCH")
    answers = [get(amo) for _ in range(11)]
    assert [a.status_code for a in answers] == [429] * 10 + [200]
    assert {a.headers["Retry-After"] for a in answers[:10]} == {"2"}
    assert {a.json()["retry_after"] for a in answers[:10]} == {2}
    assert amo.control("faults")["burst_429"] == 0
    assert amo.control("stats")["rate_limited_429"] == 10


def test_a_burst_without_retry_after_looks_like_the_limiters_429(amo):
    amo.control("faults", {"burst_429": 1}, method="PATCH")
    refused = get(amo)
    assert refused.status_code == 429 and "Retry-After" not in refused.headers
    assert refused.json()["retry_after"] == 1


def test_faults_set_when_an_account_is_made(server):
    _, url = server
    made = requests.post(f"{url}/_sandbox/accounts", json={"faults": {"burst_429": 2, "burst_retry_after": 3}},
                         timeout=5)
    assert made.status_code == 201
    base = made.json()["base_url"]
    token = requests.post(f"{base}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()["access_token"]
    statuses = [requests.get(f"{base}/api/v4/account", headers={"Authorization": f"Bearer {token}"},
                             timeout=5).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]
    bad = requests.post(f"{url}/_sandbox/accounts", json={"faults": {"error_rate": 2}}, timeout=5)
    assert bad.status_code == 400 and "error_rate" in bad.json()["detail"]


def test_a_share_of_5xx_is_that_share_and_the_same_for_the_same_seed(new_account):
    runs = []
    for _ in range(2):
        amo = new_account()
        amo.control("faults", {"error_rate": 0.3, "error_status": 503, "seed": 7})
        runs.append([get(amo).status_code for _ in range(60)])
    assert runs[0] == runs[1]
    counts = Counter(runs[0])
    assert set(counts) == {200, 503} and 8 <= counts[503] <= 30


def test_a_seed_given_by_patch_restarts_the_same_draws(amo):
    runs = []
    for _ in range(2):
        amo.control("faults", {"error_rate": 0.3, "error_status": 503, "seed": 11}, method="PATCH")
        runs.append([get(amo).status_code for _ in range(40)])
    assert runs[0] == runs[1] and 503 in runs[0]


def test_late_answers_are_processed_then_held_past_the_clients_timeout(amo):
    amo.control("faults", {"slow_rate": 1.0, "slow_seconds": 0.8}, method="PATCH")
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{amo.url}/api/v4/leads", json=[{"name": "Late"}], timeout=0.3,
                      headers={"Authorization": f"Bearer {amo.token}"})
    assert [lead["name"] for lead in amo.stored("leads")] == ["Late"]  # stored although never answered in time
    amo.control("faults", {"slow_rate": 0.5, "slow_seconds": 0.6, "seed": 3}, method="PATCH")
    late = 0
    for _ in range(12):
        try:
            get(amo, timeout=0.3)
        except requests.ReadTimeout:
            late += 1
    assert 2 <= late <= 10
    assert amo.control("stats")["events"]["late_answer"] == late + 1


def test_a_one_off_access_token_expiry(amo):
    pair = amo.control("tokens", {"action": "pair"})
    access = pair["access_token"]
    amo.control("faults", {"expire_token_after": 1}, method="PATCH")
    assert get(amo, token=amo.token).status_code == 200  # a long-lived token neither counts nor expires
    assert get(amo, token=access).status_code == 200
    assert get(amo, token=access).status_code == 401  # the second OAuth call found its token expired
    assert get(amo, token=access).status_code == 401  # and it stays expired
    assert amo.control("faults")["expire_token_after"] is None  # once
    creds = amo.control("tokens", {"action": "code"})
    refreshed = requests.post(f"{amo.url}/oauth2/access_token", timeout=5, json={
        "client_id": creds["client_id"], "client_secret": creds["client_secret"],
        "redirect_uri": creds["redirect_uri"], "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 200
    assert get(amo, token=refreshed.json()["access_token"]).status_code == 200
    assert get(amo, token=refreshed.json()["access_token"]).status_code == 200
    assert amo.control("stats")["events"]["token_expired"] == 1


def test_every_token_refused_while_refreshes_still_work(amo):
    amo.control("faults", {"reject_tokens": True}, method="PATCH")
    assert get(amo).status_code == 401
    amo.control("faults", {"reject_tokens": False}, method="PATCH")
    assert get(amo).status_code == 200


class Wall:
    """The sandbox's wall clock, moved by hand: calendar seconds without racing real time."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def account_with_wall(server, wall: Wall, **options) -> Amo:
    board, url = server
    app = board.add(options=SandboxOptions(requests_per_second=1000, block_after_429s=None, **options), now=wall)
    runtime = app.extensions["amocrm_sandbox"]
    base = f"{url}/a/{runtime.options.subdomain}"
    token = requests.post(f"{base}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()
    return Amo(base, token["access_token"], runtime)


def test_the_calendar_second_counter(server):
    wall = Wall(1_800_000_005.5)
    amo = account_with_wall(server, wall)
    assert [get(amo).status_code for _ in range(5)] == [200] * 5
    wall.t = 1_800_000_006.2
    assert [get(amo).status_code for _ in range(2)] == [200] * 2
    stats = amo.control("stats")
    assert stats["max_requests_in_calendar_second"] == 5 and stats["rate_limited_429"] == 0


def test_more_than_n_requests_in_one_calendar_second_get_429(server):
    wall = Wall(1_800_000_100.9)
    amo = account_with_wall(server, wall, per_second_limit=3)
    assert [get(amo).status_code for _ in range(4)] == [200, 200, 200, 429]
    wall.t = 1_800_000_101.0  # a new calendar second, 0.1 s later: a rolling window would still refuse
    assert [get(amo).status_code for _ in range(4)] == [200, 200, 200, 429]
    stats = amo.control("stats")
    assert stats["max_requests_in_calendar_second"] == 4 and stats["rate_limited_429"] == 2
    assert amo.control("limits", {"per_second_limit": None}) == {
        "requests_per_second": 1000, "per_second_limit": None, "block_after_429s": None}
    assert [get(amo).status_code for _ in range(3)] == [200, 200, 200]
    assert requests.post(f"{amo.url}/_sandbox/limits", json={"per_second_limit": 0}, timeout=5).status_code == 400
