"""Names are never declined by our ru/uk texts: each stands where Russian and Ukrainian keep it in its
dictionary form, so "Наталія", "Поділ" or "Стрижка жіноча" read right whatever they are."""

from __future__ import annotations

import re

import pytest

from pipelines.templates import TEMPLATES
from pipelines.texts import TEXTS

NAMES = ("client", "master", "branch", "service", "category", "name")
# What may stand right before a name: the start, a colon, a dash, an opening bracket or quote, a list comma,
# the end of a sentence, or the job title it stands in apposition to ("мастер Анна").
NOMINATIVE_BEFORE = re.compile(r"(?:^|: |— |\(|«|, |[.!?] |мастер |майстер )$")


def _cases():
    for name, variants in TEXTS.items():
        for language in ("ru", "uk"):
            yield f"texts.{name}.{language}", variants[language], r"\{(\w+)\}"
    for template in TEMPLATES.values():
        for language in ("ru", "uk"):
            text = re.sub(r"\{%.*?%\}", "", template.texts[language])  # a tag prints nothing
            yield f"templates.{template.id}.{language}", text, r"\{\{\s*(\w+)\s*\}\}"


@pytest.mark.parametrize(("where", "text", "placeholder"), list(_cases()), ids=[c[0] for c in _cases()])
def test_every_name_stands_where_it_needs_no_declension(where: str, text: str, placeholder: str) -> None:
    for found in re.finditer(placeholder, text):
        if found.group(1) in NAMES:
            before = text[: found.start()]
            assert NOMINATIVE_BEFORE.search(before), f"{where}: …{before[-25:]!r} {{{found.group(1)}}}"


def test_the_old_declined_forms_are_gone() -> None:
    rendered = TEXTS["periodic_task"]["uk"].format(client="Наталія", service="Манікюр", master="Олена",
                                                  date="01.03.2026", days=21)
    assert rendered.startswith("Наталія: запросити") and "майстра" not in rendered
