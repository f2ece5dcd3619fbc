"""Bandit experiments on the dashboard: corrected estimates, the measurement-slice gain, the winner
recommendation (and its admin-only roll-out form), per-segment weights, labels and escaping."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from dashboard_reports import HOSTILE, HOSTILE_AUDIT_NOTE, HOSTILE_SEGMENT_VALUE
from flask import Flask
from flask.testing import FlaskClient

from offerlab.domain.reports import AuditEntry, ExperimentReport, PlacementReport
from offerlab.errors import Conflict
from offerlab_dashboards import formatting as fmt
from offerlab_dashboards import init_app
from offerlab_dashboards.bandit_panels import (
    bandit_results_view,
    measurement_view,
    recommendation_view,
    segment_weights_views,
)
from offerlab_dashboards.method_notes import method_notes
from offerlab_dashboards.verdict import describe_verdict
from offerlab_dashboards.viewmodels import Significance

URL = "/dashboards/experiments/cart-upgrade-bandit"
ROLLOUT_URL = URL + "/rollout"
KEYS = {"admin-secret": "admin", "viewer-secret": "viewer"}


def rolled_out_log(recommended: tuple[AuditEntry, ...]) -> tuple[AuditEntry, ...]:
    rollout = AuditEntry(
        datetime(2025, 3, 3, 7, 30, tzinfo=UTC),
        "rollout",
        f"dashboard {HOSTILE}",
        {"winner": "hostile", "manual": True, "chance_to_be_best": {"hostile": 0.99}},
    )
    return (rollout, *recommended)


def test_arm_table_shows_both_estimators_and_the_pooled_reference(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    view = bandit_results_view(make_bandit_report())

    assert view is not None
    assert view.reward == "offer revenue per visitor"
    assert view.headline_estimator == "inverse-propensity weighted (Hájek)"
    assert [row.name for row in view.rows] == ["Cable", "Premium upgrade", HOSTILE]
    upgrade = view.rows[1]
    assert (upgrade.is_best, upgrade.units) == (True, "2,000")
    assert upgrade.ipw == "8.00 [7.12, 8.88]"
    assert upgrade.epoch_weighted == "8.10 [7.32, 8.88]"
    assert upgrade.pooled == "6.20"
    assert view.rows[2].epoch_weighted == fmt.NO_VALUE
    assert view.uplift_variant == "Premium upgrade"
    assert view.uplift_ipw == "+5.00 [+3.98, +6.02]"
    assert view.uplift_pooled == "+2.80"
    assert any("90 visitors" in note for note in view.notes)
    assert any("10 visitors" in note for note in view.notes)


def test_fixed_splits_have_no_bandit_panels(warranty) -> None:  # type: ignore[no-untyped-def]
    assert bandit_results_view(warranty) is None
    assert measurement_view(warranty) is None
    assert recommendation_view(warranty) is None
    assert segment_weights_views(warranty) == ()


def test_conversion_rewards_read_in_percent_and_points(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    report = make_bandit_report()
    bandit = dataclasses.replace(report.bandit, reward="conversion")
    view = bandit_results_view(dataclasses.replace(report, bandit=bandit))

    assert view is not None
    assert view.rows[0].pooled == "340.0%"  # the fixture's values, read as rates
    assert view.uplift_ipw.startswith("+500.0 pp")


def test_verdict_of_a_bandit_comes_from_the_headline_estimator(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    verdict = describe_verdict(make_bandit_report())

    assert verdict.significance is Significance.BETTER
    assert verdict.text == (
        "Variant “Premium upgrade” earns significantly more offer revenue per visitor than "
        "control: +5.00 [+3.98, +6.02] (inverse-propensity weighted (Hájek), p < 0.001)."
    )


def test_verdict_without_a_significant_uplift_names_the_best_so_far(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    report = make_bandit_report()
    uplift = dataclasses.replace(report.bandit.uplift, significant=False, p_value=0.2)
    verdict = describe_verdict(
        dataclasses.replace(report, bandit=dataclasses.replace(report.bandit, uplift=uplift))
    )

    assert verdict.significance is Significance.NOT_SIGNIFICANT
    assert verdict.text.startswith("No variant differs significantly from control in offer rev")
    assert "Best so far: “Premium upgrade” at +5.00" in verdict.text


def test_verdict_without_an_estimate_says_so(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    report = make_bandit_report()
    bandit = dataclasses.replace(report.bandit, uplift=None)
    verdict = describe_verdict(dataclasses.replace(report, bandit=bandit))

    assert verdict.significance is Significance.NOT_ENOUGH_DATA


def test_method_notes_name_the_headline_estimator(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    notes = " ".join(method_notes(make_bandit_report()))

    assert "inverse-propensity-weighted (Hájek) estimate" in notes
    assert "Welch" in notes


def test_measurement_view_reads_both_slices(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    view = measurement_view(make_bandit_report())

    assert view is not None
    assert (view.learning, view.measurement) == ("6.10", "4.00")
    assert view.gain == "+2.10 [+1.10, +3.10]"
    assert view.gain_p_value == "p < 0.001"
    assert (view.best_name, view.best_vs_control) == ("Premium upgrade", "+5.00 [+2.00, +8.00]")
    assert view.units.startswith("3,500 visitors allocated by the bandit, 300 in the uniform")


def test_recommendation_shows_evidence_against_the_thresholds(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    view = recommendation_view(make_bandit_report())

    assert view is not None and view.pending
    assert (view.variant, view.variant_name) == ("upgrade", "Premium upgrade")
    assert view.evidence == (
        "Chance to be best: 98.1% (needs at least 95.0%)",
        "Expected loss: 0.0021 (needs at most 0.01)",
        "Visitors: 3,800 (2,000 on the winner)",
    )


def test_a_rollout_replaces_the_recommendation(
    make_bandit_report: Callable[..., ExperimentReport],
    recommendation_entries: tuple[AuditEntry, ...],
) -> None:
    view = recommendation_view(make_bandit_report(audit_log=rolled_out_log(recommendation_entries)))

    assert view is not None and not view.pending
    assert (view.variant_name, view.when) == (HOSTILE, "2025-03-03 07:30 UTC")


def test_no_panel_without_a_recommendation_or_with_broken_evidence(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    assert recommendation_view(make_bandit_report(audit_log=())) is None
    broken = AuditEntry(datetime(2025, 3, 2, tzinfo=UTC), "winner_recommended", "bandit", {})
    assert recommendation_view(make_bandit_report(audit_log=(broken,))) is None
    odd = AuditEntry(
        datetime(2025, 3, 2, tzinfo=UTC),
        "winner_recommended",
        "bandit",
        {"winner": "upgrade", "chance_to_be_best": "high", "units": {"upgrade": "many"}},
    )
    view = recommendation_view(make_bandit_report(audit_log=(odd,)))
    assert view is not None and view.evidence == ("Visitors: 0",)


def test_segment_weights_per_segment_and_epoch(
    make_bandit_report: Callable[..., ExperimentReport],
) -> None:
    views = segment_weights_views(make_bandit_report())

    assert [view.segment for view in views] == sorted(["mobile", HOSTILE_SEGMENT_VALUE])
    mobile = next(view for view in views if view.segment == "mobile")
    assert mobile.variants == ("Cable", "Premium upgrade", HOSTILE)
    assert mobile.rows == (("Epoch 2 from 2025-03-02 08:00 UTC", ("10.0%", "80.0%", "10.0%")),)


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("fixed", "Fixed split"),
        ("thompson", "Bandit (Thompson sampling)"),
        ("epsilon_greedy", "Bandit (epsilon-greedy)"),
        ("ucb1", "Bandit (UCB1)"),
    ],
)
def test_every_allocation_kind_has_a_label(kind: str, label: str) -> None:
    assert fmt.allocation_label(kind) == label


@pytest.mark.parametrize(
    ("objective", "label"),
    [
        ("conversion", "Offer conversion"),
        ("revenue", "Revenue per visitor"),
        ("offer_revenue", "Offer revenue per visitor"),
        ("order_value", "Order value per visitor"),
        ("margin", "Offer margin per visitor"),
    ],
)
def test_every_objective_has_a_label(objective: str, label: str) -> None:
    assert fmt.objective_label(objective) == label


def test_page_shows_the_panels_with_every_string_escaped(client: FlaskClient) -> None:
    html = client.get(URL).get_data(as_text=True)

    for anchor in ("recommendation", "bandit-results", "measurement-gain", "segment-weights"):
        assert f'id="{anchor}"' in html
    assert "Recommended: roll out Premium upgrade" in html
    assert "Chance to be best: 98.1% (needs at least 95.0%)" in html
    assert "Epoch 2 from 2025-03-02 08:00 UTC" in html
    assert "+5.00 [+3.98, +6.02]" in html
    for hostile in (HOSTILE, HOSTILE_SEGMENT_VALUE, HOSTILE_AUDIT_NOTE):
        assert hostile not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "rollout-form" not in html  # nobody signed in: no form


def test_rolled_out_page_escapes_the_winner_and_the_actor(
    source: Any,
    make_bandit_report: Callable[..., ExperimentReport],
    recommendation_entries: tuple[AuditEntry, ...],
) -> None:
    source.experiments["cart-upgrade-bandit"] = make_bandit_report(
        audit_log=rolled_out_log(recommendation_entries)
    )
    app = Flask(__name__)
    init_app(app, source)
    html = app.test_client().get(URL).get_data(as_text=True)

    assert "Rolled out to &lt;script&gt;alert(1)&lt;/script&gt; on 2025-03-03 07:30 UTC" in html
    assert "By dashboard &lt;script&gt;" in html
    assert HOSTILE not in html


@dataclass
class ActingSource:
    """A report source that can also roll out; records who asked, or refuses with `refusal`."""

    experiments: dict[str, ExperimentReport] = field(default_factory=dict)
    applied: list[tuple[str, str]] = field(default_factory=list)
    refusal: str | None = None

    def placement_reports(self) -> Sequence[PlacementReport]:
        return ()

    def experiment_report(
        self, key: str, segments: Sequence[str] | None = None
    ) -> ExperimentReport | None:
        return self.experiments.get(key)

    def apply_recommendation(self, key: str, *, actor: str) -> dict[str, float]:
        if self.refusal:
            raise Conflict(self.refusal)
        self.applied.append((key, actor))
        return {"upgrade": 1.0}


@pytest.fixture
def acting(make_bandit_report: Callable[..., ExperimentReport]) -> ActingSource:
    return ActingSource(experiments={"cart-upgrade-bandit": make_bandit_report()})


@pytest.fixture
def signed_app(acting: ActingSource) -> Flask:
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.secret_key = "test secret"
    init_app(app, acting, authenticate=KEYS.get)
    return app


def sign_in(client: FlaskClient, key: str) -> str:
    """Sign in through the form; returns the experiment page's HTML."""
    form = client.get("/dashboards/login").get_data(as_text=True)
    response = client.post("/dashboards/login", data={"key": key, "csrf_token": _csrf(form)})
    assert response.status_code == 302
    return client.get(URL).get_data(as_text=True)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


def test_an_admin_rolls_out_the_recommendation(signed_app: Flask, acting: ActingSource) -> None:
    client = signed_app.test_client()
    page = sign_in(client, "admin-secret")

    assert 'class="rollout-form"' in page
    response = client.post(ROLLOUT_URL, data={"csrf_token": _csrf(page)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(URL + "#recommendation")
    assert acting.applied == [("cart-upgrade-bandit", "dashboard admin")]


def test_the_rollout_form_needs_its_csrf_token(signed_app: Flask, acting: ActingSource) -> None:
    client = signed_app.test_client()
    sign_in(client, "admin-secret")

    assert client.post(ROLLOUT_URL, data={"csrf_token": "forged"}).status_code == 400
    assert client.post(ROLLOUT_URL).status_code == 400
    assert acting.applied == []


def test_a_viewer_sees_no_form_and_cannot_roll_out(signed_app: Flask, acting: ActingSource) -> None:
    client = signed_app.test_client()
    page = sign_in(client, "viewer-secret")

    assert "Recommended: roll out Premium upgrade" in page
    assert "rollout-form" not in page
    assert client.post(ROLLOUT_URL, data={"csrf_token": _csrf(page)}).status_code == 403
    assert acting.applied == []


def test_a_refused_rollout_explains_why_escaped(signed_app: Flask, acting: ActingSource) -> None:
    client = signed_app.test_client()
    page = sign_in(client, "admin-secret")
    acting.refusal = f"already rolled out {HOSTILE}"

    response = client.post(ROLLOUT_URL, data={"csrf_token": _csrf(page)})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "already rolled out &lt;script&gt;" in html and HOSTILE not in html


def test_no_form_once_rolled_out(
    signed_app: Flask,
    acting: ActingSource,
    make_bandit_report: Callable[..., ExperimentReport],
    recommendation_entries: tuple[AuditEntry, ...],
) -> None:
    acting.experiments["cart-upgrade-bandit"] = make_bandit_report(
        audit_log=rolled_out_log(recommendation_entries)
    )
    page = sign_in(signed_app.test_client(), "admin-secret")

    assert "Rolled out to" in page and "rollout-form" not in page
