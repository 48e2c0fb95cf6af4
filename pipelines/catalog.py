"""Service catalog: which category a service counts for and how often it is normally repeated.

Defaults are per *category* (spec/booking.md §5: popular-press figures, not standards), matched by a
normalized name in Russian, Ukrainian or English. A tenant overrides a category's days, or a single
service's category / days, and declares packages whose one service counts for several categories.
Resolution order for a service: its own override (by id, then by title) → its category's override →
the default table. No category or no days means no periodicity: the caller skips the autotask and
says why.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from pipelines.events import ServiceLine

if TYPE_CHECKING:
    from pipelines.policy import Policy


@dataclass(frozen=True)
class Category:
    """One row of the defaults table: canonical key, days (None: course-based, no default)."""

    key: str
    days: int | None
    labels: tuple[str, str, str]  # ru, uk, en
    aliases: tuple[str, ...] = ()


# fmt: off
DEFAULTS: tuple[Category, ...] = (
    # Gel polish dominates salon manicure, so the plain "manicure" category gets the gel figure.
    Category("manicure", 21, ("Маникюр", "Манікюр", "Manicure"),
             ("nails", "nail service", "ногтевой сервис", "нігтьовий сервіс", "gel manicure", "gel polish",
              "маникюр гель лак", "манікюр гель лак", "гель лак", "shellac", "шеллак")),
    Category("classic_manicure", 14, ("Классический маникюр", "Класичний манікюр", "Classic manicure"),
             ("классический маникюр", "класичний манікюр", "manicure classic", "regular manicure")),
    Category("pedicure", 28, ("Педикюр", "Педикюр", "Pedicure"), ("педикюр гель лак", "gel pedicure")),
    Category("brows", 28, ("Брови", "Брови", "Brows"),
             ("eyebrows", "коррекция бровей", "корекція брів", "окрашивание бровей", "фарбування брів",
              "brow shaping", "brow tint", "архитектура бровей", "архітектура брів")),
    Category("brow_lamination", 42, ("Ламинирование бровей", "Ламінування брів", "Brow lamination"),
             ("долговременная укладка бровей", "brow lift")),
    Category("lashes", 21, ("Ресницы", "Вії", "Lash extensions"),
             ("наращивание ресниц", "нарощування вій", "коррекция ресниц", "корекція вій", "eyelash extensions",
              "lashes", "eyelashes")),
    Category("lash_lift", 42, ("Ламинирование ресниц", "Ламінування вій", "Lash lift"),
             ("lash lamination", "lash tint", "окрашивание ресниц", "фарбування вій")),
    Category("haircut", 42, ("Стрижка", "Стрижка", "Haircut"),
             ("стрижки", "женская стрижка", "жіноча стрижка", "womens haircut", "hair", "hairdressing",
              "парикмахерские услуги", "перукарські послуги", "волосы", "волосся")),
    Category("mens_haircut", 28, ("Мужская стрижка", "Чоловіча стрижка", "Men's haircut"),
             ("barber", "барбер", "barbershop", "барбершоп", "мужской зал", "чоловічий зал")),
    Category("hair_colour", 42, ("Окрашивание волос", "Фарбування волосся", "Hair colouring"),
             ("окрашивание", "фарбування", "окрашивание корней", "фарбування коренів", "hair color",
              "hair colour", "colouring", "coloring", "root touch up")),
    Category("highlights", 75, ("Мелирование", "Мелірування", "Highlights"),
             ("балаяж", "balayage", "шатуш", "airtouch", "сложное окрашивание", "складне фарбування")),
    Category("face_waxing", 21, ("Депиляция лица", "Депіляція обличчя", "Face waxing"),
             ("underarm waxing", "депиляция подмышек", "депіляція пахв", "депиляция над губой")),
    Category("bikini_waxing", 28, ("Депиляция бикини", "Депіляція бікіні", "Bikini waxing"),
             ("bikini wax", "brazilian", "шугаринг бикини", "шугарінг бікіні")),
    Category("waxing", 35, ("Депиляция", "Депіляція", "Waxing"),
             ("depilation", "wax", "воск", "шугаринг", "шугарінг", "sugaring", "восковая депиляция",
              "воскова депіляція", "body waxing", "leg waxing", "депиляция ног", "депіляція ніг")),
    Category("facial", 30, ("Уход за лицом", "Догляд за обличчям", "Facial"),
             ("чистка лица", "чистка обличчя", "facials", "косметология", "косметологія", "face care")),
    Category("laser", None, ("Лазерная эпиляция", "Лазерна епіляція", "Laser hair removal"),
             ("laser", "лазер", "лазерная эпиляция", "лазерна епіляція")),
)
# fmt: on

_LANG_INDEX = {"ru": 0, "uk": 1, "en": 2}


def normalize(text: str) -> str:
    """Case-, punctuation- and ё-insensitive form used for every name comparison."""
    folded = text.casefold().replace("ё", "е")
    folded = re.sub(r"[’'`ʼ]", "", folded)
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _alias_index(rows: Iterable[Category]) -> Mapping[str, str]:
    index: dict[str, str] = {}
    for row in rows:
        for name in (row.key.replace("_", " "), *row.labels, *row.aliases):
            index.setdefault(normalize(name), row.key)
    return MappingProxyType(index)


_ALIASES = _alias_index(DEFAULTS)
_BY_KEY = MappingProxyType({row.key: row for row in DEFAULTS})


def canonical_category(name: str | None) -> str | None:
    """The table's key for a known name or alias; otherwise the normalized name itself."""
    if not name:
        return None
    norm = normalize(name)
    return _ALIASES.get(norm, norm) or None


def category_label(key: str, language: str) -> str:
    """What to show people for a category key (unknown categories show their normalized name)."""
    row = _BY_KEY.get(key)
    return row.labels[_LANG_INDEX.get(language, 0)] if row else key


@dataclass(frozen=True)
class ServiceRule:
    """A tenant's override for one service (matched by id or title)."""

    category: str | None = None
    periodicity_days: int | None = None
    counts_for: tuple[str, ...] = ()  # a package: canonical categories it counts for


@dataclass(frozen=True)
class CatalogOverrides:
    """The tenant's ``services:`` section, keys already normalized / canonical."""

    categories: Mapping[str, int] = field(default_factory=dict, hash=False)  # canonical category -> days
    services: Mapping[str, ServiceRule] = field(default_factory=dict, hash=False)  # normalized id/title -> rule

    @classmethod
    def build(cls, categories: Mapping[str, int], services: Mapping[str, ServiceRule]) -> CatalogOverrides:
        cats = {canonical_category(name) or name: days for name, days in categories.items()}
        return cls(categories=cats, services={normalize(key): rule for key, rule in services.items()})


def service_rule(service: ServiceLine, policy: Policy) -> ServiceRule | None:
    rules = policy.catalog.services
    return rules.get(normalize(service.external_id)) or rules.get(normalize(service.title))


def categories_of(service: ServiceLine, policy: Policy) -> tuple[str, ...]:
    """Canonical categories a service counts for: a package's list, else its (overridden) category."""
    rule = service_rule(service, policy)
    if rule and rule.counts_for:
        return tuple(dict.fromkeys(c for c in map(canonical_category, rule.counts_for) if c))
    category = canonical_category((rule.category if rule else None) or service.category)
    return (category,) if category else ()


def category_days(category: str, policy: Policy) -> int | None:
    """The tenant's days for a category, else the default table's (None: no periodicity)."""
    if category in policy.catalog.categories:
        return policy.catalog.categories[category]
    row = _BY_KEY.get(category)
    return row.days if row else None


def periodicity_days(service: ServiceLine, policy: Policy, category: str | None = None) -> int | None:
    """Days until the service is normally repeated; ``category`` picks one of a package's categories."""
    rule = service_rule(service, policy)
    if rule and rule.periodicity_days:
        return rule.periodicity_days
    chosen = category or next(iter(categories_of(service, policy)), None)
    return category_days(chosen, policy) if chosen else None


def booking_categories(services: Iterable[ServiceLine], policy: Policy) -> tuple[str, ...]:
    """Distinct canonical categories of a booking's services, in booking order."""
    return tuple(dict.fromkeys(c for line in services for c in categories_of(line, policy)))


def shortest_periods(services: Iterable[ServiceLine], policy: Policy) -> dict[str, tuple[int, ServiceLine]]:
    """Per category of a visit, the shortest periodicity among its services and the service giving it."""
    periods: dict[str, tuple[int, ServiceLine]] = {}
    for line in services:
        for category in categories_of(line, policy):
            days = periodicity_days(line, policy, category)
            if days is not None and (category not in periods or days < periods[category][0]):
                periods[category] = (days, line)
    return periods
