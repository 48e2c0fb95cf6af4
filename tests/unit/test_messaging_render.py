"""Rendering client messages: every template in every language, strict placeholders, the sandbox,
tenant overrides and the static check ``salonbridge check`` runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from jinja2.sandbox import SecurityError

from bridge.messaging.formatting import format_amount, format_values
from bridge.messaging.render import (
    TemplateProblem,
    render_for,
    render_message,
    template_text,
    validate_templates,
)
from bridge.messaging.subjects import SUBJECTS
from config.rules import Rules
from config.tenants import AmoCrmAccount, BookingSource, Branch, Catalog, Tenant
from pipelines.actions import SendMessage
from pipelines.templates import TEMPLATES

KYIV = ZoneInfo("Europe/Kyiv")
START = datetime(2025, 3, 14, 8, 30, tzinfo=UTC)  # 10:30 in Kyiv
VALUES = {
    "name": "Олена",
    "service": "Манікюр",
    "master": "Ірина",
    "branch": "Центр",
    "date": START,
    "time": START,
    "bonus": "-10%",
    "link": "https://salon.example/c/tok",
    "amount": Decimal("200"),
    "deadline": "13.03.2025 20:00",
    "receipt": "PP-000042",
    "text": "spring offer: -15% on every manicure.",
}
SHOWN = {"date": {"ru": "14.03.2025", "uk": "14.03.2025", "en": "2025-03-14"}, "time": "10:30"}


def context_for(template_id: str) -> dict[str, object]:
    return {name: VALUES[name] for name in TEMPLATES[template_id].placeholders}


@pytest.mark.parametrize("language", ["uk", "ru", "en"])
@pytest.mark.parametrize("template_id", sorted(TEMPLATES))
def test_every_default_template_renders_every_placeholder(template_id, language):
    message = render_message(template_id, language, context_for(template_id), timezone=KYIV)
    for name in TEMPLATES[template_id].placeholders:
        if name == "date":
            assert SHOWN["date"][language] in message.text
        elif name == "time":
            assert "10:30" in message.text
        else:
            assert str(VALUES[name]) in message.text
    assert "{{" not in message.text and "{{" not in (message.subject or "")
    assert message.subject and "\n" not in message.subject


def test_each_language_has_its_own_words():
    ctx = context_for("confirmation")
    texts = {lang: render_message("confirmation", lang, ctx, timezone=KYIV).text for lang in ("uk", "ru", "en")}
    assert "о 10:30" in texts["uk"] and "в 10:30" in texts["ru"] and "at 10:30" in texts["en"]


def test_dates_and_times_are_shown_in_the_tenant_zone():
    late = datetime(2025, 3, 14, 22, 30, tzinfo=UTC)  # already the 15th, 00:30, in Kyiv
    values = format_values({"date": late, "time": late, "when": late}, language="uk", timezone=KYIV)
    assert values == {"date": "15.03.2025", "time": "00:30", "when": "15.03.2025 00:30"}
    assert format_values({"date": date(2025, 1, 2)}, language="en", timezone=KYIV) == {"date": "2025-01-02"}


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        format_values({"date": datetime(2025, 1, 1)}, language="uk", timezone=KYIV)


def test_amounts_read_per_language():
    assert format_amount(Decimal("1200.5"), "uk", "UAH") == "1 200,50 UAH"
    assert format_amount(Decimal("1200.5"), "en", "UAH") == "1,200.50 UAH"
    assert format_values({"amount": 200}, language="ru", timezone=KYIV, currency="RUB") == {"amount": "200,00 RUB"}


def test_none_is_an_empty_value_not_a_missing_one():
    ctx = {**context_for("review_request"), "master": None}
    text = render_message("review_request", "en", ctx, timezone=KYIV).text
    assert "How did  do?" in text


def test_a_missing_placeholder_raises_template_problem_naming_all_of_them():
    ctx = context_for("confirmation")
    del ctx["master"], ctx["link"]
    with pytest.raises(TemplateProblem) as caught:
        render_message("confirmation", "uk", ctx, timezone=KYIV)
    assert caught.value.template == "confirmation"
    assert caught.value.missing == ("link", "master")
    assert "missing placeholder(s): link, master" in str(caught.value)


def test_a_missing_placeholder_in_the_subject_is_reported_too():
    templates = {"welcome": {"en": {"subject": "Hi {{ name }}, {{ bonus }}"}}}
    ctx = {"name": "Ann", "branch": "Centre", "link": "https://x"}  # no bonus
    with pytest.raises(TemplateProblem) as caught:
        render_message("welcome", "en", ctx, timezone=KYIV, rules_templates=templates)
    assert caught.value.missing == ("bonus",)


def test_unknown_template_is_a_problem():
    with pytest.raises(TemplateProblem, match="unknown template"):
        render_message("nope", "en", {}, timezone=KYIV)


# --- the sandbox -----------------------------------------------------------------------------------

TRICKS = [
    "{{ ''.__class__ }}",
    "{{ name.__class__.__mro__[1].__subclasses__() }}",
    "{{ name.__init__.__globals__ }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ name.upper() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ name * 100000 }}",
    "{{ 9 ** 999999 }}",
]


@pytest.mark.parametrize("source", TRICKS)
def test_the_sandbox_refuses_attribute_and_call_tricks(source):
    templates = {"welcome": {"en": source}}
    ctx = {"name": "Ann", "branch": "Centre", "bonus": "x", "link": "https://x"}
    with pytest.raises(TemplateProblem) as caught:
        render_message("welcome", "en", ctx, timezone=KYIV, rules_templates=templates)
    # refused by the sandbox, or (globals removed) an unknown name: either way nothing is rendered
    assert isinstance(caught.value.__cause__, SecurityError) or caught.value.missing == ("cycler",)


def test_security_errors_become_template_problems_with_the_cause():
    with pytest.raises(TemplateProblem) as caught:
        render_message(
            "welcome",
            "en",
            {"name": "A", "branch": "B", "bonus": "C", "link": "D"},
            timezone=KYIV,
            rules_templates={"welcome": {"en": "{{ ''.__class__ }}"}},
        )
    assert isinstance(caught.value.__cause__, SecurityError)
    assert "refused by the sandbox" in caught.value.reason


def test_plain_conditionals_filters_and_loops_work():
    source = "{% if bonus %}{{ name|upper }}: {{ bonus }}{% endif %}{% for c in 'ab' %}{{ loop.index }}{% endfor %}"
    ctx = {"name": "Ann", "branch": "B", "bonus": "-10%", "link": "L"}
    text = render_message("welcome", "en", ctx, timezone=KYIV, rules_templates={"welcome": {"en": source}}).text
    assert text == "ANN: -10%12"


# --- tenant templates ------------------------------------------------------------------------------


def test_tenant_text_and_subject_replace_the_defaults_per_language():
    templates = {
        "confirmation": {
            "uk": {"text": "{{ name }}, чекаємо {{ date }} о {{ time }}. {{ link }}", "subject": "Запис {{ date }}"},
            "ru": "{{ name }}, ждём вас {{ date }}",
        }
    }
    ctx = context_for("confirmation")
    uk = render_message("confirmation", "uk", ctx, timezone=KYIV, rules_templates=templates)
    assert uk.text == "Олена, чекаємо 14.03.2025 о 10:30. https://salon.example/c/tok"
    assert uk.subject == "Запис 14.03.2025"
    ru = render_message("confirmation", "ru", ctx, timezone=KYIV, rules_templates=templates)
    assert ru.text == "Олена, ждём вас 14.03.2025" and ru.subject == "Вы записаны: 14.03.2025 в 10:30"
    en = render_message("confirmation", "en", ctx, timezone=KYIV, rules_templates=templates)
    assert en.text.startswith("Олена, you are booked")  # no English override: the default
    assert template_text("confirmation", "uk", templates).origin == "tenant"
    assert template_text("confirmation", "en", templates).origin == "default"


def test_a_subject_only_override_keeps_the_default_text():
    source = template_text("promo", "en", {"promo": {"en": {"subject": "Just for you"}}})
    assert source.subject == "Just for you" and source.origin == "default" and "{{ bonus }}" in source.text


def test_every_default_template_has_a_subject_in_every_language():
    assert set(SUBJECTS) == set(TEMPLATES)
    assert validate_templates({t: SUBJECTS[t] for t in SUBJECTS}) == []


def test_render_for_uses_the_tenant_and_adds_the_link():
    tenant = Tenant(
        slug="salon",
        name="Test Salon",
        timezone=KYIV,
        language="uk",
        currency="UAH",
        country="UA",
        working_hour=10,
        branches=(Branch("1", "Центр"),),
        booking=BookingSource("yclients", "X"),
        amocrm=AmoCrmAccount("http://127.0.0.1:9"),
        catalog=Catalog(),
        rules=Rules(templates={"review_request": {"uk": "{{ name }}: {{ master }} → {{ link }}"}}),
    )
    send = SendMessage(
        key="msg:review_request:c1:b1",
        client_id="c1",
        template="review_request",
        language="uk",
        occasion="b1",
        channels=("sms",),
        context={"name": "Олена", "master": "Ірина"},
    )
    message = render_for(tenant, send, link="https://salon.example/c/tok")
    assert message.text == "Олена: Ірина → https://salon.example/c/tok"
    with pytest.raises(TemplateProblem, match="link"):
        render_for(tenant, send)  # the executor forgot the link: skipped, never sent with a hole


# --- validate_templates -----------------------------------------------------------------------------


def test_valid_templates_have_no_problems():
    templates = {
        "welcome": {"uk": "{{ name }} {{ bonus }} {{ link }}", "en": {"text": "{{ name }}", "subject": "Hi"}},
        "promo": {"ru": "{% if bonus %}{{ bonus }}{% endif %} {{ service|lower }}"},
    }
    assert validate_templates(templates) == []
    assert validate_templates(None) == []


@pytest.mark.parametrize(
    ("templates", "path", "fragment"),
    [
        ({"welcome": {"uk": "{{ name"}}, "rules.templates.welcome.uk.text", "syntax error on line 1"),
        (
            {"welcome": {"uk": "{{ name }} {{ master }}"}},
            "rules.templates.welcome.uk.text",
            "unknown placeholder(s) master",
        ),
        (
            {"welcome": {"uk": {"subject": "{{ amount }}"}}},
            "rules.templates.welcome.uk.subject",
            "allowed: name, bonus",
        ),
        ({"welcome": {"uk": "{{ ''.__class__ }}"}}, "rules.templates.welcome.uk.text", "refused by the sandbox"),
        ({"welcome": {"uk": "{{ name|center(9999) }}"}}, "rules.templates.welcome.uk.text", "No filter named 'center'"),
        ({"welcome": {"de": "x"}}, "rules.templates.welcome.de", "unknown language"),
        ({"welcome": {"uk": {"body": "x"}}}, "rules.templates.welcome.uk.body", "unknown key"),
        ({"welcome": {"uk": {}}}, "rules.templates.welcome.uk", "needs a text, a subject or both"),
        ({"welcome": {"uk": {"text": ""}}}, "rules.templates.welcome.uk.text", "non-empty"),
        ({"welcome": {"uk": 5}}, "rules.templates.welcome.uk", "must be a text"),
        ({"welcome": "hi"}, "rules.templates.welcome", "must map languages"),
        ({"birthday": {"uk": "x"}}, "rules.templates.birthday", "unknown template; known: welcome"),
        (["welcome"], "rules.templates", "must map template ids"),
    ],
)
def test_template_problems_name_the_path(templates, path, fragment):
    problems = validate_templates(templates)
    assert any(p == path and fragment in m for p, m in problems), problems


@pytest.mark.parametrize("template_id", ["welcome", "birthday_greeting"])
@pytest.mark.parametrize("language", ["ru", "uk", "en"])
def test_a_salon_without_a_bonus_gets_no_empty_bonus_sentence(template_id, language):
    text = render_message(template_id, language, {**VALUES, "bonus": ""}, timezone=KYIV).text
    assert "—  ." not in text and ": ." not in text and " ." not in text
    assert VALUES["name"] in text and VALUES["link"] in text
    with_bonus = render_message(template_id, language, VALUES, timezone=KYIV).text
    assert "-10%" in with_bonus
