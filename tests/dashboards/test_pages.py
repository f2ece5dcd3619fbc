"""The dashboard pages render the reports, escape every user text and load nothing remote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

import offerlab_dashboards
from offerlab.domain.reports import ExperimentReport
from offerlab_dashboards import init_app

RAW_SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
ESCAPED_QUOTES = "&#34;quotes&#34; &amp; ampersands"
STATIC = Path(offerlab_dashboards.__file__).parent / "static"
WARRANTY_URL = "/dashboards/experiments/checkout-warranty"
BUNDLE_URL = "/dashboards/experiments/cart-console-bundle"


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _chart_json(html: str, chart_id: str) -> str:
    match = re.search(
        rf'<script type="application/json" data-chart="{chart_id}">(.*?)</script>', html, re.S
    )
    assert match, f"no chart data for {chart_id}"
    return match.group(1)


def _resource_urls(html: str) -> list[str]:
    return re.findall(r'<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)="([^"]*)"', html)


def test_index_lists_placements_split_by_offer_kind(client: FlaskClient) -> None:
    html = _html(client, "/dashboards/")

    assert "<header" in html and ">offerlab</a>" in html
    assert html.index("Checkout") < html.index("Cart")
    cart = html[html.index('id="placement-cart"') :]
    assert cart.index("Upsell") < cart.index("Free shipping nudge") < cart.index("Cross-sell")
    assert cart.index("Cross-sell") < cart.index("Console bundle")
    assert 'href="/dashboards/experiments/checkout-warranty"' in html
    assert 'href="/dashboards/experiments/cart-console-bundle"' in html
    for figure in ("29,900", "3,120", "10.4%", "127,600.00", "w39", "11.9%", "20,500.00"):
        assert figure in html
    assert "No cross-sell experiments here." in html
    assert "badge-better" in html and "badge-not-enough-data" in html


def test_index_without_experiments(app: Flask, source: object) -> None:
    source.placements = ()  # type: ignore[attr-defined]

    html = _html(app.test_client(), "/dashboards/")

    assert "No experiments yet." in html


def test_experiment_page_shows_facts_table_and_verdict(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)

    for fact in (
        "Checkout",
        "Upsell",
        "Running",
        "Fixed split",
        "Offer conversion",
        "0.05 (95% confidence)",
        "100%",
        "29,900",
        "2025-03-01 14:05 UTC",
    ):
        assert fact in html
    for figure in (
        "20,000",
        "10,000",
        "1,180",
        "11.8%",
        "[11.2%, 12.4%]",
        "1,300",
        "52.00",
        "6.76",
        "9.5%",
        "p = 0.12, adjusted p = 0.47",
        "p = 0.003, adjusted p = 0.022",
        "+12.7% [+3.3%, +22.0%] 99.3% CI",
        "0.130",
        "4.60",
        "2.1%",
        "99.8%",
    ):
        assert figure in html
    assert (
        "Variant “Warranty at 39” converts significantly better than control: "
        "+18.0% [+8.1%, +27.9%] 99.4% CI, p &lt; 0.001."
    ) in html
    assert "significantly better" in html and "not enough data" in html
    variant_table = html[html.index("variant-table") :]
    assert variant_table[: variant_table.index("</table>")].count('class="control-row"') == 1
    assert 'href="/dashboards/experiments/checkout-warranty.csv"' in html


def test_user_text_is_escaped_in_html(client: FlaskClient) -> None:
    for url in ("/dashboards/", WARRANTY_URL):
        html = _html(client, url)
        assert RAW_SCRIPT not in html
        assert ESCAPED_SCRIPT in html
        assert ESCAPED_QUOTES in html
        assert '"quotes"' not in html


def test_payload_is_shown_as_escaped_text(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)

    assert "{&#34;price&#34;: 39, &#34;title&#34;: &#34;2-year warranty&#34;}" in html
    assert "&#34;title&#34;: &#34;&lt;script&gt;" in html


def test_chart_json_is_escaped_and_parses_back(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)
    text = _chart_json(html, "conversion-chart")

    assert "<" not in text and ">" not in text and "&" not in text
    spec = json.loads(text)
    assert spec["config"]["data"]["labels"][2] == RAW_SCRIPT
    assert spec["config"]["data"]["datasets"][1]["data"] == [10.0, 11.8, 9.49]


def test_allocation_chart_only_on_bandit_pages(client: FlaskClient) -> None:
    fixed = _html(client, WARRANTY_URL)
    bandit = _html(client, BUNDLE_URL)

    assert 'id="allocation-chart"' not in fixed
    assert "Bandit (Thompson sampling)" in bandit
    spec = json.loads(_chart_json(bandit, "allocation-chart"))
    assert [d["label"] for d in spec["config"]["data"]["datasets"]] == [
        "Controller only",
        "Controller + case",
    ]


@pytest.mark.parametrize("url", ["/dashboards/", WARRANTY_URL, BUNDLE_URL])
def test_pages_load_only_local_resources(client: FlaskClient, url: str) -> None:
    html = _html(client, url)
    urls = _resource_urls(html)

    assert urls, "expected the stylesheet at least"
    assert all(u.startswith("/dashboards/static/") for u in urls), urls
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html)
    assert "@import" not in html


@pytest.mark.parametrize("name", ["dashboards.js", "dashboards.css"])
def test_own_assets_reference_nothing_remote(name: str) -> None:
    text = (STATIC / name).read_text(encoding="utf-8")

    assert "http://" not in text and "https://" not in text
    assert "@import" not in text and "url(" not in text


def test_scripts_are_served_locally(client: FlaskClient) -> None:
    html = _html(client, BUNDLE_URL)
    scripts = re.findall(r'<script src="([^"]+)"', html)

    assert scripts == [
        "/dashboards/static/vendor/chart.umd.min.js",
        "/dashboards/static/dashboards.js",
    ]
    for url in scripts:
        response = client.get(url)
        assert response.status_code == 200
        response.close()
    library = (STATIC / "vendor" / "chart.umd.min.js").read_text(encoding="utf-8")
    assert library.startswith("/*!\n * Chart.js v4.")
    assert "MIT" in (STATIC / "vendor" / "chart.js.LICENSE.md").read_text(encoding="utf-8")


def test_pages_send_a_restrictive_content_security_policy(client: FlaskClient) -> None:
    response = client.get(WARRANTY_URL)

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_refresh_themselves(client: FlaskClient, source: object) -> None:
    assert '<meta http-equiv="refresh" content="10">' in _html(client, "/dashboards/")
    assert '<meta http-equiv="refresh" content="10">' in _html(client, WARRANTY_URL)


def test_refresh_can_be_turned_off_and_prefix_changed(source: object) -> None:
    app = Flask(__name__)
    init_app(app, source, url_prefix="/managers", refresh_seconds=None)  # type: ignore[arg-type]

    html = _html(app.test_client(), "/managers/experiments/checkout-warranty")

    assert 'http-equiv="refresh"' not in html
    assert "/managers/static/dashboards.js" in html


def test_each_request_reads_the_current_report(
    client: FlaskClient, source: object, warranty: ExperimentReport
) -> None:
    assert "converts significantly better" in _html(client, WARRANTY_URL)
    source.experiments["checkout-warranty"] = warranty.__class__(  # type: ignore[attr-defined]
        experiment=warranty.experiment,
        variants=tuple(v for v in warranty.variants if v.is_control),
        allocation_history=(),
        generated_at=warranty.generated_at,
    )

    assert "nothing to compare" in _html(client, WARRANTY_URL)


@pytest.mark.parametrize(
    "url",
    ["/dashboards/experiments/missing", "/dashboards/experiments/missing.csv"],
)
def test_unknown_experiment_is_a_404_page(client: FlaskClient, source: object, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 404
    assert "Experiment not found" in response.get_data(as_text=True)
    assert source.asked == ["missing"]  # type: ignore[attr-defined]


def test_unknown_hostile_key_is_escaped_on_the_404_page(client: FlaskClient) -> None:
    response = client.get("/dashboards/experiments/%3Cscript%3Ealert(1)%22%26")

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<script>alert(1)" not in html
    assert "<code>&lt;script&gt;alert(1)&#34;&amp;</code>" in html


def test_csv_export_downloads_the_variant_table(client: FlaskClient) -> None:
    response = client.get("/dashboards/experiments/checkout-warranty.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="checkout-warranty.csv"'
    )
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("variant,name,is_control,")
    assert [line.split(",")[0] for line in lines[1:]] == ["control", "w39", "hostile"]
