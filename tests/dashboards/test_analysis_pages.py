"""The experiment page shows health, guardrails, method, power, charts over time and segments;
the overview marks unhealthy experiments; every text from the report stays escaped."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from offerlab.domain.reports import ExperimentReport

WARRANTY_URL = "/dashboards/experiments/checkout-warranty"
BUNDLE_URL = "/dashboards/experiments/cart-console-bundle"
HOSTILE_TEXTS = (
    "<script>alert(1)</script>",
    '<b onmouseover="x">plan</b>',
    "<img src=x onerror=alert(2)>",
    "<iframe src=javascript:alert(3)></iframe> & more",
)


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(html: str, section_id: str) -> str:
    start = html.index(f'id="{section_id}"')
    return html[start : html.index("</section>", start)]


def _chart(html: str, chart_id: str) -> dict[str, object]:
    match = re.search(
        rf'<script type="application/json" data-chart="{chart_id}">(.*?)</script>', html, re.S
    )
    assert match, f"no chart data for {chart_id}"
    return json.loads(match.group(1))  # type: ignore[no-any-return]


def test_guardrail_violation_is_a_prominent_warning(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)

    alert = html[html.index('id="guardrail-alert"') : html.index('id="verdict"')]
    assert "Guardrail violated" in alert
    assert "Refund rate of “&lt;script&gt;alert(1)&lt;/script&gt;” is significantly worse" in alert
    guardrails = _section(html, "guardrails")
    assert "Change vs control [90% CI]" in guardrails
    for state in ("badge-guardrail-ok", "badge-guardrail-violated", "not computable"):
        assert state in guardrails
    assert "+35.0% [+10.0%, +60.0%]" in guardrails
    assert 'id="sample-ratio-alert"' not in html


def test_audit_log_lists_newest_first(client: FlaskClient) -> None:
    log = _section(_html(client, WARRANTY_URL), "audit-log")

    resumed = log.index("2025-02-28 11:30 UTC")
    paused = log.index("2025-02-28 09:00 UTC")
    assert resumed < paused
    assert "paused by guardrail-monitor: refund rate of" in log
    assert "significantly worse (p = 0.003)" in log


def test_method_notes_and_power_progress(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)

    method = _section(html, "method")
    assert "Sequential test (always-valid): safe to check daily" in method
    assert "Holm correction across 8 comparisons" in method
    assert "Order values capped at 412.00 (99th percentile), 14 orders capped." in method
    assert "CUPED on spend_30d narrowed the revenue per visitor intervals by 23%." in method
    power = _section(html, "power")
    assert '<progress class="power-bar" value="0.4125" max="1"' in power
    assert "9,900 of 24,000 visitors per variant" in power
    assert "about 12 days remaining" in power


def test_over_time_charts_are_embedded(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)

    over_time = _chart(html, "over-time-chart")
    units = _chart(html, "daily-units-chart")
    assert over_time["config"]["data"]["labels"][-1] == "2025-03-01"  # type: ignore[index]
    assert units["config"]["type"] == "bar"  # type: ignore[index]
    assert 'id="over-time-chart"' in html and 'id="daily-units-chart"' in html


def test_variant_table_has_the_new_columns(client: FlaskClient) -> None:
    html = _html(client, WARRANTY_URL)
    table = html[html.index("variant-table") :]
    table = table[: table.index("</table>")]

    for heading in (
        "Orders / visitor",
        "Offer value / visitor",
        "Refund rate",
        "Chance to be best",
        "Chance to beat control",
        "Conversion vs control",
    ):
        assert heading in table
    for figure in ("0.130", "4.60", "2.1%", "99.8%", "100.0%"):
        assert figure in table


def test_unhealthy_bandit_shows_the_red_banner_and_renders_absent_parts_as_nothing(
    client: FlaskClient,
) -> None:
    html = _html(client, BUNDLE_URL)

    banner = html[html.index('id="sample-ratio-alert"') : html.index('id="verdict"')]
    assert 'role="alert"' in html
    assert "Unhealthy: sample ratio mismatch (p &lt; 0.001)" in banner
    assert "allocation epoch 2" in banner and "Do not trust" in banner
    for absent in ('id="guardrails"', 'id="audit-log"', 'id="power"', 'id="method"'):
        assert absent not in html
    assert 'data-chart="over-time-chart"' not in html
    assert "Revenue per visitor vs control" in html


def test_a_report_with_nothing_but_variants_renders(
    client: FlaskClient, source: object, warranty: ExperimentReport
) -> None:
    source.experiments["checkout-warranty"] = ExperimentReport(  # type: ignore[attr-defined]
        experiment=warranty.experiment,
        variants=warranty.variants,
        allocation_history=(),
        generated_at=warranty.generated_at,
    )

    html = _html(client, WARRANTY_URL)

    assert "converts significantly better" in html
    assert "alert-" not in html.replace("alert(1)", "")
    assert "No breakdown" in html


def test_overview_marks_unhealthy_and_guardrail_violations(client: FlaskClient) -> None:
    html = _html(client, "/dashboards/")

    checkout = html[html.index('id="placement-checkout"') : html.index('id="placement-cart"')]
    cart = html[html.index('id="placement-cart"') :]
    assert "flag-guardrail" in checkout and "flag-unhealthy" not in checkout
    assert cart.count("flag-unhealthy") == 1 and "flag-guardrail" not in cart
    assert cart.index("Console bundle") < cart.index("flag-unhealthy")


def test_segment_parameter_is_passed_to_the_source(client: FlaskClient, source: object) -> None:
    _html(client, WARRANTY_URL)
    _html(client, f"{WARRANTY_URL}?segment=device")
    _html(client, f"{WARRANTY_URL}?segment=device&segment=geo:country&segment=device")
    _html(client, f"{WARRANTY_URL}?segment=")

    assert source.asked_segments == [  # type: ignore[attr-defined]
        None,
        ("device",),
        ("device", "geo:country"),
        None,
    ]


def test_invalid_segment_is_ignored_with_a_visible_note(
    client: FlaskClient, source: object
) -> None:
    html = _html(client, f"{WARRANTY_URL}?segment=%3Cscript%3Ealert(9)%3C/script%3E")

    note = html[html.index('id="segment-note"') :]
    note = note[: note.index("</p>")]
    assert "Ignored “&lt;script&gt;alert(9)&lt;/script&gt;”" in note
    assert "<script>alert(9)" not in html
    assert source.asked_segments == [None]  # type: ignore[attr-defined]


def test_segment_tables_one_per_value(client: FlaskClient) -> None:
    segments = _section(_html(client, f"{WARRANTY_URL}?segment=device"), "segments")

    assert segments.count("<table") == 3
    assert "<strong>mobile</strong> · 12,000 visitors" in segments
    assert "+18.0% [+8.1%, +27.9%] 99.4% CI" in segments
    assert 'value="device"' in segments
    assert '<option value="returning">' in segments


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_hostile_report_texts_are_escaped(client: FlaskClient, text: str) -> None:
    html = _html(client, WARRANTY_URL)

    assert text not in html
    assert str(escape(text)) in html


def test_objectives_the_dashboards_do_not_know_fall_back_to_conversion(
    client: FlaskClient, source: object, warranty: ExperimentReport
) -> None:
    for objective, heading in (
        ("offer_revenue", "Offer value per visitor"),
        ("brand", "Conversion"),
    ):
        experiment = dataclasses.replace(warranty.experiment, objective=objective)
        source.experiments["checkout-warranty"] = dataclasses.replace(  # type: ignore[attr-defined]
            warranty, experiment=experiment
        )

        html = _html(client, WARRANTY_URL)

        assert f"{heading} vs control" in html
