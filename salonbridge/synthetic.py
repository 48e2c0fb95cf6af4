"""A synthetic salon: a year of bookings for a few dozen clients, as YCLIENTS record webhooks.

Deterministic for a seed and an anchor day, so the demo and the tests see the same salon every time.
Each booking yields the deliveries a real YCLIENTS account would send: created, sometimes confirmed,
then completed, no-show or deleted (cancelled, usually followed by a rebooking).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TIMEZONE = "Europe/Kyiv"
BRANCHES = (("900001", "Центр"), ("900002", "Лівий берег"))
MASTERS = (("501", "Олена"), ("502", "Ірина"), ("503", "Марта"), ("504", "Софія"), ("505", "Дарина"), ("506", "Віра"))


@dataclass(frozen=True)
class Service:
    id: str
    title: str
    category: str
    periodicity_days: int
    price: int
    minutes: int


SERVICES = (
    Service("1001", "Манікюр + гель-лак", "Манікюр", 21, 650, 90),
    Service("1002", "Манікюр класичний", "Манікюр", 14, 400, 60),
    Service("1101", "Педикюр", "Педикюр", 28, 800, 90),
    Service("1201", "Корекція брів", "Брови", 28, 350, 30),
    Service("1301", "Нарощування вій — корекція", "Вії", 21, 900, 120),
    Service("1401", "Жіноча стрижка", "Стрижка", 42, 700, 60),
    Service("1501", "Фарбування коренів", "Фарбування", 42, 1500, 120),
)
FIRST_NAMES = ("Олена", "Анна", "Марія", "Катерина", "Юлія", "Оксана", "Ірина", "Наталія", "Тетяна", "Вікторія",
               "Дарина", "Софія", "Христина", "Людмила", "Аліна", "Яна", "Світлана", "Галина", "Інна", "Ольга")
LAST_NAMES = (
    "Коваль", "Шевченко", "Бондар", "Ткаченко", "Кравець", "Мельник", "Олійник", "Лисенко", "Гнатюк", "Руденко"
)


@dataclass(frozen=True)
class SyntheticClient:
    id: int
    name: str
    phone: str | None
    email: str | None
    categories: tuple[str, ...]
    churn_after: int | None  # stops coming after this many visits


def tenant_yaml(slug: str, token_env: str, amocrm_url: str, amocrm_token_env: str, extra: str = "") -> str:
    """The tenant file the demo installs: its catalog maps service ids to categories, messages go
    through amoCRM's Salesbot (the sandbox records each launch)."""
    services = "\n".join(
        f'    "{s.id}": {{category: {s.category}, periodicity_days: {s.periodicity_days}}}' for s in SERVICES
    )
    branches = "\n".join(f'  - {{id: "{i}", name: "{n}"}}' for i, n in BRANCHES)
    return f"""slug: {slug}
name: Demo Beauty Studio
timezone: {TIMEZONE}
language: uk
currency: UAH
country: UA
working_hour: 10
branches:
{branches}
booking:
  source: yclients
  webhook_token_env: {token_env}
amocrm:
  base_url: {amocrm_url}
  long_lived_token_env: {amocrm_token_env}
services:
  services:
{services}
rules:
  channels:
    salesbot: {{bot_id: 1}}
{extra}"""


def make_clients(rng: random.Random, count: int) -> list[SyntheticClient]:
    clients = []
    for i in range(count):
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        has_phone = i % 17 != 5
        has_email = i % 3 == 0 or not has_phone
        cats = rng.sample(sorted({s.category for s in SERVICES}), k=rng.choice((1, 1, 2, 2, 3)))
        clients.append(
            SyntheticClient(
                id=700000 + i,
                name=name,
                phone=f"+38067{1000000 + i * 7919 % 9000000:07d}" if has_phone else None,
                email=f"client{i}@example.com" if has_email else None,
                categories=tuple(cats),
                churn_after=rng.choice((None, None, None, 2, 3, 4)),
            )
        )
    return clients


def generate(seed: int = 7, clients: int = 50, today: date | None = None) -> list[dict[str, Any]]:
    """Every webhook delivery of the synthetic year, ordered by the time YCLIENTS would send it."""
    rng = random.Random(seed)
    today = today or date.today()
    start = today - timedelta(days=365)
    record_ids = iter(range(500000000, 600000000))
    deliveries: list[tuple[datetime, int, dict[str, Any]]] = []
    for client in make_clients(rng, clients):
        branch = rng.choice(BRANCHES)[0]
        master = rng.choice(MASTERS)
        for category in client.categories:
            service = rng.choice([s for s in SERVICES if s.category == category])
            day = start + timedelta(days=rng.randrange(0, 120))
            visits = 0
            while day <= today + timedelta(days=14):
                if client.churn_after is not None and visits >= client.churn_after:
                    break
                outcome = _outcome(rng, day, today)
                at = datetime.combine(day, time(rng.randrange(9, 19)), ZoneInfo(TIMEZONE))
                record = make_record(next(record_ids), client, branch, master, service, at)
                for when, body in _lifecycle(rng, record, outcome, at):
                    deliveries.append((when, len(deliveries), body))
                if outcome == "cancelled":
                    day += timedelta(days=rng.randrange(2, 6))  # rebooked a few days later
                    continue
                visits += 1
                day += timedelta(days=round(service.periodicity_days * rng.uniform(0.85, 1.4)))
    deliveries.sort(key=lambda d: (d[0], d[1]))
    return [body for _, _, body in deliveries]


def _outcome(rng: random.Random, day: date, today: date) -> str:
    if day > today:
        return "upcoming"
    roll = rng.random()
    return "no_show" if roll < 0.05 else "cancelled" if roll < 0.14 else "completed"


def make_record(record_id: int, client: SyntheticClient, branch: str, master: tuple[str, str], service: Service,
            at: datetime) -> dict[str, Any]:
    return {
        "id": record_id,
        "company_id": int(branch),
        "staff_id": int(master[0]),
        "staff": {"id": int(master[0]), "name": master[1], "position": {"id": 1, "title": "Майстер"}},
        "services": [{"id": int(service.id), "title": service.title, "cost": service.price,
                      "first_cost": service.price, "discount": 0, "amount": 1}],
        "client": {"id": client.id, "name": client.name, "display_name": client.name,
                   "phone": client.phone or "", "email": client.email or ""},
        "date": at.strftime("%Y-%m-%d %H:%M:%S"),
        "datetime": at.isoformat(),
        "seance_length": service.minutes * 60,
        "attendance": 0,
        "deleted": False,
        "online": True,
        "visit_id": record_id + 100000000,
    }


def _lifecycle(rng: random.Random, record: dict[str, Any], outcome: str, at: datetime):
    created = at - timedelta(days=rng.randrange(1, 15), minutes=rng.randrange(0, 600))
    record = {**record, "create_date": created.strftime("%Y-%m-%dT%H:%M:%S%z")}
    yield created, _delivery(record, "create", created, attendance=0)
    if outcome in ("completed", "upcoming") and rng.random() < 0.5:
        confirmed = at - timedelta(hours=rng.randrange(2, 30))
        if confirmed > created:
            yield confirmed, _delivery(record, "update", confirmed, attendance=2)
    if outcome == "completed":
        done = at + timedelta(seconds=record["seance_length"], minutes=5)
        yield done, _delivery(record, "update", done, attendance=1)
    elif outcome == "no_show":
        yield at + timedelta(hours=1), _delivery(record, "update", at + timedelta(hours=1), attendance=-1)
    elif outcome == "cancelled":
        cancelled = at - timedelta(hours=rng.randrange(3, 48))
        if cancelled <= created:
            cancelled = created + timedelta(minutes=30)
        yield cancelled, _delivery(record, "delete", cancelled, attendance=0, deleted=True)


def _delivery(record: dict[str, Any], status: str, when: datetime, *, attendance: int,
              deleted: bool = False) -> dict[str, Any]:
    data = {**record, "attendance": attendance, "deleted": deleted,
            "last_change_date": when.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return {"company_id": record["company_id"], "resource": "record", "resource_id": record["id"],
            "status": status, "data": data}
