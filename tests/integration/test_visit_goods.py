"""Products and materials of a visit where the client's visits are shown: the card (API and CLI) and the
dashboard's client card, over the store the migrations make."""

from __future__ import annotations

from decimal import Decimal

from click.testing import CliRunner
from sqlalchemy import select

from bridge.store import clients as repo
from bridge.store.models import Visit
from pipelines.events import GoodsLine, jsonable
from salonbridge.cli import main
from tests.integration.dashboard_data import dash  # noqa: F401 (fixture)
from tests.integration.test_dashboard import sign_in, web  # noqa: F401 (fixture)
from tests.integration.test_dashboard_clients import client_id

GOODS = (GoodsLine("product", "Крем для рук", Decimal(2), Decimal("450.00"), "шт", "55"),
         GoodsLine("material", "Гель-лак", Decimal("2.5"), Decimal("37.50"), "мл", "7"))


def with_goods(svc, name: str) -> tuple[int, str]:
    """The client's newest visit gets two goods lines; its booking id."""
    olga = client_id(svc, name)
    with svc.store.session() as s:
        visit = s.scalars(select(Visit).where(Visit.client_id == olga).order_by(Visit.start_at.desc())).first()
        visit.goods = jsonable(GOODS)
        return olga, visit.external_id


def test_the_card_lists_each_visits_services_products_and_materials_with_decimal_amounts(dash):  # noqa: F811
    olga, booking = with_goods(dash, "Ольга Петренко")
    with dash.store.session() as s:
        card = repo.card(s, repo.find(s, "salon", str(olga)), dash.tenants["salon"].timezone)
    [shown] = [h for h in card["history"] if h["booking"] == booking]
    assert shown["services"] and all(isinstance(t, str) for t in shown["services"])
    assert shown["products"] == [{"title": "Крем для рук", "quantity": Decimal(2), "unit": "шт",
                                  "amount": Decimal("450.00"), "id": "55"}]
    assert shown["materials"][0]["amount"] == Decimal("37.50")
    others = [h for h in card["history"] if h["booking"] != booking]
    assert others and all(h["products"] == [] == h["materials"] for h in others)

    out = CliRunner().invoke(main, ["clients", "show", "salon", str(olga)], env=dash.settings.to_env(),
                             catch_exceptions=False).output
    assert "products: Крем для рук 2 шт = 450.00" in out and "materials: Гель-лак 2.5 мл = 37.50" in out


def test_the_dashboards_client_card_shows_the_goods_of_a_visit(web, dash):  # noqa: F811
    olga, _ = with_goods(dash, "Ольга Петренко")
    http, _ = sign_in(web, "olena")
    page = http.get(f"{web}/t/salon/clients/{olga}", timeout=10).text
    assert "Послуги, товари, матеріали" in page
    assert "товари: Крем для рук 2 шт = 450.00" in page and "матеріали: Гель-лак 2.5 мл = 37.50" in page
