"""The demo website's product pages (website/app.py) on the SQL review store under uvicorn: the home page links to
products the seed sells; a product page shows its average, its count and the reviews customers let us show (first
name and last initial, stars, words, date), escaped; hidden and erased reviews are not there; an unknown SKU gets a
clear 404 page."""

from __future__ import annotations

import html
import re

import pytest

from hearth.seed import CATALOGUE, seed
from relationship.service import SqlRelationshipService
from reviews.store import SqlReviewStore
from tests.asgi_server import serve
from tests.conftest import SqlCrm
from tests.factories import NOW, SqlArrange
from tests.integration.test_website import SECRET, Site
from website.app import SiteSettings, accounts_of, create_app

pytestmark = pytest.mark.integration
TABLE = (("Oak side table", 1, 8900), ("Linen throw", 1, 5900))


@pytest.fixture
def shop(sql_crm: SqlCrm):  # type: ignore[no-untyped-def]
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    app = create_app(settings, accounts_of(sql_crm.service), None, reviews=SqlReviewStore(sql_crm.sessions))  # type: ignore[arg-type]
    with serve(app) as url, Site(url) as client:
        yield client


def test_the_home_page_links_to_products_the_seed_sells(shop: Site, sql_crm: SqlCrm) -> None:
    seed(sql_crm.sessions, customers=12, now=NOW)
    page = shop.get("/").text
    links = re.findall(r'href="/products/([A-Z0-9-]+)"><h2>([^<]+)</h2>', page)
    sold = {sku: name for sku, name, _ in CATALOGUE}
    assert 3 <= len(links) <= 6 and all(sold[sku] == html.unescape(name) for sku, name in links)
    sku, name = links[0]
    product = shop.get(f"/products/{sku}")
    assert product.status_code == 200 and f'<h1 id="product-name">{name}</h1>' in product.text
    assert "No reviews yet" in product.text


def test_a_product_page_shows_published_reviews_escaped_with_average_and_count(shop: Site, sql_crm: SqlCrm) -> None:
    arrange, store = SqlArrange(sql_crm.sessions), SqlReviewStore(sql_crm.sessions, clock=sql_crm.clock)
    omar = arrange.add_customer(first_name="Omar", last_name="Haddad")
    arrange.add_order(omar, "JH820001", status="delivered", delivered_days_ago=3, items=TABLE)
    ida = arrange.add_customer(first_name="Ida", last_name="Kowalski")
    arrange.add_order(ida, "JH820002", status="delivered", delivered_days_ago=3, items=TABLE)
    shy = arrange.add_customer(first_name="Shy", last_name="Person")
    arrange.add_order(shy, "JH820003", status="delivered", delivered_days_ago=3, items=TABLE)
    store.submit(omar, "JH820001", "SKU0", 5, "Solid <script>alert('oak')</script> & sturdy.", published=True)
    store.submit(ida, "JH820002", "SKU0", 4, "Good value.", published=True)
    store.submit(shy, "JH820003", "SKU0", 1, "Only for the shop's eyes.", published=False)

    page = shop.get("/products/SKU0")
    assert page.status_code == 200
    text = page.text
    assert "4.5 out of 5</strong>\n  from 2 reviews" in text
    assert "Omar H." in text and "Ida K." in text and "Haddad" not in text and "Kowalski" not in text
    assert (
        "<script>alert" not in text and "Solid &lt;script&gt;alert(&#39;oak&#39;)&lt;/script&gt; &amp; sturdy." in text
    )
    assert "Shy P." not in text and "shop&#39;s eyes" not in text
    assert f'datetime="{NOW:%Y-%m-%d}"' in text and 'aria-label="5 out of 5 stars"' in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]

    SqlRelationshipService(sql_crm.sessions).request_erasure(omar)
    after = shop.get("/products/SKU0").text
    assert "Omar H." not in after and "Solid" not in after and "from 1 review<" in after


@pytest.mark.parametrize("sku", ["NOPE-404", "SKU0%3Cscript%3E", "x" * 40])
def test_an_unknown_product_gets_a_clear_404_page(shop: Site, sku: str) -> None:
    page = shop.get(f"/products/{sku}")
    assert page.status_code == 404 and "We couldn't find that product" in page.text and "<script>" not in page.text


def test_without_a_review_store_no_product_is_found_and_the_home_page_still_shows() -> None:
    settings = SiteSettings(socket_url="http://rasa.example", identity_secret=SECRET)
    with serve(create_app(settings, lambda email: None, None)) as url, Site(url) as client:  # type: ignore[arg-type]
        assert client.get("/").status_code == 200
        assert client.get("/products/FUR-001").status_code == 404
