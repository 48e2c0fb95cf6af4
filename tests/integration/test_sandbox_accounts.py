"""Several sandbox accounts behind one server, and the controls tests rely on: the request journal,
scripted one-off answers, the stored data, the page-size cap."""

from __future__ import annotations

import requests

from tests.integration.conftest import Amo


def test_accounts_over_http_are_separate_and_can_be_dropped(server):
    _, url = server
    made = [requests.post(f"{url}/_sandbox/accounts", json={"subdomain": sub, "options": {"timezone": "Europe/Kyiv"}},
                          timeout=5, allow_redirects=False) for sub in ("salon-a", "salon-b")]
    assert [m.status_code for m in made] == [201, 201]
    bases = [m.json()["base_url"] for m in made]
    assert bases == [f"{url}/a/salon-a", f"{url}/a/salon-b"]
    tokens = [requests.post(f"{b}/_sandbox/tokens", json={"action": "long_lived"}, timeout=5).json()["access_token"]
              for b in bases]
    auth = [{"Authorization": f"Bearer {t}"} for t in tokens]
    created = requests.post(f"{bases[0]}/api/v4/leads", json=[{"name": "Only in A"}], headers=auth[0], timeout=5)
    assert created.status_code == 200
    assert created.json()["_links"]["self"]["href"] == f"{bases[0]}/api/v4/leads"  # links keep the account's prefix
    assert requests.get(f"{bases[1]}/api/v4/leads", headers=auth[1], timeout=5).status_code == 204
    assert requests.get(f"{bases[1]}/api/v4/leads", headers=auth[0], timeout=5).status_code == 401  # A's token
    account = requests.get(f"{bases[1]}/api/v4/account", headers=auth[1], timeout=5).json()
    assert account["subdomain"] == "salon-b"
    assert requests.get(f"{bases[0]}/_sandbox/stats", timeout=5).json()["total_requests"] == 1
    listed = requests.get(f"{url}/_sandbox/accounts", timeout=5).json()["accounts"]
    assert {"subdomain": "salon-a", "base_url": bases[0]} in listed
    assert requests.post(f"{url}/_sandbox/accounts", json={"subdomain": "salon-a"}, timeout=5).status_code == 400
    assert requests.post(f"{url}/_sandbox/accounts", json={"subdomain": "Bad_Name"}, timeout=5).status_code == 400
    assert requests.post(f"{url}/_sandbox/accounts", json={"options": {"nope": 1}}, timeout=5).status_code == 400
    assert requests.delete(f"{url}/_sandbox/accounts/salon-a", timeout=5).status_code == 204
    assert requests.get(f"{bases[0]}/api/v4/leads", headers=auth[0], timeout=5).status_code == 404
    assert requests.delete(f"{url}/_sandbox/accounts/salon-b", timeout=5).status_code == 204


def test_the_journal_records_what_arrived_and_how_it_was_answered(amo: Amo):
    amo.api("GET", "/api/v4/leads?filter[id][0]=5&filter[id][1]=6&with=contacts")
    amo.api("POST", "/api/v4/contacts", [{"name": "Anna"}])
    requests.get(f"{amo.url}/api/v4/account", headers={"Authorization": "Bearer wrong"}, timeout=5)
    [listing] = amo.calls("GET", "/api/v4/leads")
    assert listing.args.getlist("filter[id][1]") == ["6"] and listing.args["with"] == "contacts"
    assert (listing.status, listing.token) == (204, amo.token)
    [post] = amo.calls("POST", "/api/v4/contacts")
    assert post.body == [{"name": "Anna"}] and post.status == 200
    assert [(h.path, h.status) for h in amo.calls()] == [
        ("/api/v4/leads", 204), ("/api/v4/contacts", 200), ("/api/v4/account", 401)]
    assert amo.calls()[0].at <= amo.calls()[1].at
    amo.control("reset", {"data": False})
    assert amo.calls() == []


def test_scripted_steps_hit_only_the_matching_request_in_order(amo: Amo):
    amo.step("POST /api/v4/leads", status=502)
    amo.step("GET /api/v4/*", status=429, retry_after="7")
    amo.step("POST /api/v4/leads")  # a pass-through: the next create goes untouched...
    amo.step("POST /api/v4/leads", status=400, body={"detail": "scripted"})  # ...the one after is refused
    headers = {"Authorization": f"Bearer {amo.token}"}
    statuses = [requests.post(f"{amo.url}/api/v4/leads", json=[{"name": str(i)}], headers=headers, timeout=5)
                for i in range(4)]
    assert [s.status_code for s in statuses] == [502, 200, 400, 200]
    assert statuses[0].json()["title"] == "ErrInternalServer" and statuses[2].json() == {"detail": "scripted"}
    listed = requests.get(f"{amo.url}/api/v4/leads", headers=headers, timeout=5)
    assert listed.status_code == 429 and listed.headers["Retry-After"] == "7"
    assert amo.control("steps") == {"steps": []}
    assert sorted(lead["name"] for lead in amo.stored("leads")) == ["1", "3"]
    bad = requests.post(f"{amo.url}/_sandbox/steps", json={"status": 500}, timeout=5)
    assert bad.status_code == 400 and "request" in bad.json()["detail"]


def test_a_smaller_page_size_pages_a_list(new_account):
    amo = new_account(max_page_size=2)
    amo.api("POST", "/api/v4/leads", [{"name": f"l{i}"} for i in range(5)])
    first = amo.api("GET", "/api/v4/leads?limit=250")
    assert len(first["_embedded"]["leads"]) == 2 and "limit=250" in first["_links"]["next"]["href"]
    third = amo.api("GET", "/api/v4/leads?limit=250&page=3")
    assert [lead["name"] for lead in third["_embedded"]["leads"]] == ["l4"] and "next" not in third["_links"]
