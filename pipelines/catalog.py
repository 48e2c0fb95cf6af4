"""Service catalog: which category a service counts for and how often it is normally repeated.

Defaults are per *category* (spec/booking.md §5: popular-press figures, not standards), matched by a
normalized name in Russian, Ukrainian or English. A tenant overrides a category's days (addressing it by
title or by the booking system's category id), or a single service's category / days, and declares
packages whose one service counts for several categories; ``null`` days mean "no repeat-visit task".

Which category a service line belongs to is decided once, the same way for every source, by
``match_category``: the tenant's override by service id, then by exact title, then the category the
booking system gives (in the event or its catalog), then the service title read as a category name or
alias. Its periodicity: the service's own override → its category's (by id, then by name) → the
default table. No category or no days means no periodicity: the caller skips the autotask and says why.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
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


@lru_cache(maxsize=8192)  # a salon has a few hundred service titles; every event's rules compare them again
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


def is_category_id(name: str) -> bool:
    """A category addressed by the booking system's id (all digits) rather than by its title."""
    return name.strip().isdigit()


@dataclass(frozen=True)
class ServiceRule:
    """A tenant's override for one service (matched by id or title)."""

    category: str | None = None
    periodicity_days: int | None = None
    counts_for: tuple[str, ...] = ()  # a package: canonical categories it counts for
    no_repeat: bool = False  # ``periodicity_days: null``: never a repeat-visit task


@dataclass(frozen=True)
class CatalogOverrides:
    """The tenant's ``services:`` section, keys already normalized / canonical. Days of None: no repeat task."""

    categories: Mapping[str, int | None] = field(default_factory=dict, hash=False)  # canonical category -> days
    services: Mapping[str, ServiceRule] = field(default_factory=dict, hash=False)  # normalized id/title -> rule
    category_ids: Mapping[str, int | None] = field(default_factory=dict, hash=False)  # booking category id -> days

    @classmethod
    def build(cls, categories: Mapping[str, int | None], services: Mapping[str, ServiceRule]) -> CatalogOverrides:
        by_id = {name.strip(): days for name, days in categories.items() if is_category_id(name)}
        cats = {canonical_category(name) or name: days for name, days in categories.items() if not is_category_id(name)}
        rules = {
            normalize(key): replace(rule, counts_for=tuple(c for c in map(canonical_category, rule.counts_for) if c))
            for key, rule in services.items()
        }
        return cls(categories=cats, services=rules, category_ids=by_id)


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


def category_days(category: str, policy: Policy, category_id: str | None = None) -> int | None:
    """The tenant's days for a category (by the booking system's id, then by name), else the default
    table's; None: no periodicity (unknown, course-based, or ``null`` in the tenant file)."""
    if category_id and category_id in policy.catalog.category_ids:
        return policy.catalog.category_ids[category_id]
    if category in policy.catalog.categories:
        return policy.catalog.categories[category]
    row = _BY_KEY.get(category)
    return row.days if row else None


def periodicity_days(service: ServiceLine, policy: Policy, category: str | None = None) -> int | None:
    """Days until the service is normally repeated; ``category`` picks one of a package's categories."""
    rule = service_rule(service, policy)
    if rule and rule.no_repeat:
        return None
    if rule and rule.periodicity_days:
        return rule.periodicity_days
    own = canonical_category((rule.category if rule else None) or service.category)
    chosen = category or next(iter(categories_of(service, policy)), None)
    return category_days(chosen, policy, service.category_id if chosen == own else None) if chosen else None


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


# --- which category a service belongs to ---------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """One service as the booking system's own catalog lists it (looked up by the caller, per branch)."""

    service_id: str
    title: str
    category_id: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class CategoryMatch:
    category: str | None  # as written where it was found (canonicalized later by ``categories_of``)
    category_id: str | None
    rule: str  # how it was found, shown by dry runs: "by id", "by title", "from the booking system", ...


def match_category(line: ServiceLine, policy: Policy, listing: Listing | None = None) -> CategoryMatch:
    """The one resolution order for every source: ``services.services`` by service id, then by exact title,
    then the booking system's category (the event's own, else its catalog's ``listing``), then the title
    read as a category name or alias (the tenant's ``services.categories`` and the defaults table)."""
    rules = policy.catalog.services
    for key, how in ((line.external_id, "by id"), (line.title, "by title")):
        rule = rules.get(normalize(key))
        if rule and (rule.category or rule.counts_for):
            return CategoryMatch(rule.category or rule.counts_for[0], line.category_id, how)
    if line.category or line.category_id:  # a category known only by its id is named by it
        return CategoryMatch(line.category or line.category_id, line.category_id, "from the booking system")
    if listing and (listing.category or listing.category_id):
        return CategoryMatch(listing.category or listing.category_id, listing.category_id, "from the booking catalog")
    name = _category_named(line.title, policy)
    if name:
        return CategoryMatch(name, None, "by category name")
    return CategoryMatch(None, None, "no match")


def _category_named(title: str, policy: Policy) -> str | None:
    """The title itself when it is a category's name or alias, for the tenant or in the defaults."""
    norm = normalize(title)
    if norm in _ALIASES or norm in policy.catalog.categories:
        return title
    return None


def with_category(line: ServiceLine, match: CategoryMatch) -> ServiceLine:
    return replace(line, category=match.category or line.category, category_id=match.category_id or line.category_id)


# --- what ``salonbridge check`` says about a services: section -----------------------------------------

Problems = list[tuple[str, str]]


def check_catalog(
    categories: Mapping[str, int | None], services: Mapping[str, ServiceRule], language: str = "ru"
) -> tuple[Problems, Problems]:
    """(problems, notes) about a tenant's ``services:`` section as written, with the file's field paths.

    Problems: a ``categories:`` key that looks like a misspelt known category; a package counting for an
    unknown category; a service put in a category that has no periodicity anywhere. Notes: every
    ``null``, which turns the repeat-visit task off on purpose.
    """
    own = {normalize(n): days for n, days in categories.items() if not is_category_id(n)}
    used = {normalize(r.category) for r in services.values() if r.category}
    problems: Problems = []
    notes: Problems = []
    for name, days in categories.items():
        path = f"services.categories.{name}"
        if days is None:
            notes.append((path, "null: no repeat-visit task for this category"))
        guess = None if is_category_id(name) or normalize(name) in used else _misspelt(name, language)
        if guess:
            problems.append((path, f"not a known category; did you mean {guess!r}? (a category of your own "
                                   "is fine once a service names it: services.services.<id>.category)"))
    for key, rule in services.items():
        path = f"services.services.{key}"
        if rule.no_repeat:
            notes.append((f"{path}.periodicity_days", "null: no repeat-visit task for this service"))
        for name in rule.counts_for:
            problem = _unknown_or_dayless(name, own, language)
            if problem:
                problems.append((f"{path}.counts_for", problem))
        if rule.category and not rule.counts_for and not rule.periodicity_days and not rule.no_repeat:
            problem = _unknown_or_dayless(rule.category, own, language)
            if problem:
                problems.append((f"{path}.category", problem))
    return problems, notes


def _unknown_or_dayless(name: str, own: Mapping[str, int | None], language: str) -> str | None:
    if is_category_id(name):
        return None
    norm = normalize(name)
    if norm in own:
        return None  # days given, or null on purpose
    key = _ALIASES.get(norm)
    if key is None:
        guess = _misspelt(name, language)
        fix = f"did you mean {guess!r}? If not, add" if guess else "add"
        return (f"unknown category {name!r}: {fix} it under services.categories with its days "
                "(or null: no repeat-visit task)")
    if _BY_KEY[key].days is None:
        return (f"category {name!r} has no default periodicity: give it days under services.categories "
                "(or null: no repeat-visit task)")
    return None


def _misspelt(name: str, language: str) -> str | None:
    """The known category a name nearly spells (one or two letters off), as shown in ``language``."""
    norm = normalize(name)
    if norm in _ALIASES:
        return None
    close = difflib.get_close_matches(norm, list(_ALIASES), n=1, cutoff=0.8)
    return category_label(_ALIASES[close[0]], language) if close else None
