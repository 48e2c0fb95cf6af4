"""Which stored client an event's client is: the source's id first, then the phone, then the email."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.store import visits
from bridge.store.models import Client
from pipelines.events import ClientInfo

NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)


def _stored(services) -> dict[str, int]:
    rows = {
        "by_id": dict(source="yclients", external_id="7", phone="+380670000001", email=None),
        "by_phone_old": dict(source="yclients", external_id=None, phone="+380670000002", email="b@example.com"),
        "by_phone_new": dict(source="yclients", external_id=None, phone="+380670000002", email=None),
        "by_email": dict(source="yclients", external_id=None, phone=None, email="c@example.com"),
        "other_salon": dict(source="yclients", external_id="8", phone="+380670000003", email=None),
    }
    ids = {}
    with services.store.session() as s:
        for name, row in rows.items():
            client = Client(tenant="other" if name == "other_salon" else "salon", created_at=NOW, updated_at=NOW,
                            tags=[], blacklisted=False, **row)
            s.add(client)
            s.flush()
            ids[name] = client.id
    return ids


def test_the_first_probe_that_matches_wins_and_then_the_oldest_client(services):
    ids = _stored(services)

    def found(**info) -> int | None:
        with services.store.session() as s:
            client = visits.find_client(s, "salon", "yclients", ClientInfo(**info))
            return client.id if client else None

    assert found(external_id="7", phone="+380670000002", email="c@example.com") == ids["by_id"]
    assert found(external_id="99", phone="+380670000002", email="c@example.com") == ids["by_phone_old"]
    assert found(phone="+380670000009", email="c@example.com") == ids["by_email"]
    assert found(phone="+380670000002") == ids["by_phone_old"]
    assert found(email="b@example.com") == ids["by_phone_old"]
    assert found(external_id="7") == ids["by_id"]
    assert found(external_id="8", phone="+380670000003") is None  # another salon's client
    assert found(name="Олена") is None
    with services.store.session() as s:
        assert visits.find_client(s, "salon", "altegio", ClientInfo(external_id="7")) is None  # ids are per source
        assert visits.find_client(s, "salon", "yclients", None) is None
