"""Headless Chromium smoke test: the experiment page draws its charts without script errors."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT = Path(tempfile.gettempdir()) / "offerlab-dashboard.png"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("OFFERLAB_REQUIRE_BROWSER") != "1",
        reason="Chromium is not installed at /usr/bin/chromium",
    ),
]


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def page(base_url: str) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            yield page
        finally:
            browser.close()


def _canvas_state(page: object, canvas_id: str) -> dict[str, object]:
    return page.evaluate(  # type: ignore[attr-defined, no-any-return]
        """(id) => {
            const canvas = document.getElementById(id);
            const chart = window.Chart && window.Chart.getChart(canvas);
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) painted++;
            return {
                hasChart: Boolean(chart),
                type: chart ? chart.config.type : null,
                labels: chart ? chart.data.labels : null,
                width: canvas.width,
                height: canvas.height,
                painted: painted,
            };
        }""",
        canvas_id,
    )


def test_experiment_page_draws_charts_without_errors(page: object, base_url: str) -> None:
    """The conversion and allocation charts are Chart.js instances with painted pixels."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: problems.append(str(error)))  # type: ignore[attr-defined]
    page.on("requestfailed", lambda request: problems.append(request.url))  # type: ignore[attr-defined]

    page.goto(f"{base_url}/dashboards/experiments/cart-console-bundle")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    conversion = _canvas_state(page, "conversion-chart")
    allocation = _canvas_state(page, "allocation-chart")

    assert conversion["hasChart"] and allocation["hasChart"]
    assert conversion["labels"] == ["Controller only", "Controller + case"]
    assert allocation["type"] == "line"
    for state in (conversion, allocation):
        assert state["width"] > 0 and state["height"] > 0
        assert state["painted"] > 1_000
    assert problems == []


def test_hostile_names_stay_text_in_the_browser(page: object, base_url: str) -> None:
    """Names with markup render as text, reach the chart labels intact and run no script."""
    dialogs: list[str] = []
    problems: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: problems.append(str(error)))  # type: ignore[attr-defined]

    page.goto(f"{base_url}/dashboards/experiments/checkout-warranty")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    page.screenshot(path=str(SCREENSHOT), full_page=True)  # type: ignore[attr-defined]
    heading = page.inner_text("h1")  # type: ignore[attr-defined]
    conversion = _canvas_state(page, "conversion-chart")

    assert heading == 'Warranty price <script>alert(1)</script> "quotes" & ampersands'
    assert conversion["labels"] == ["No offer", "Warranty at 39", "<script>alert(1)</script>"]
    assert page.locator("#allocation-chart").count() == 0  # type: ignore[attr-defined]
    assert dialogs == []
    assert problems == []


def test_over_time_charts_draw_from_daily_results(page: object, base_url: str) -> None:
    """The cumulative-uplift and new-visitors charts render; interval edges stay out of legends."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: problems.append(str(error)))  # type: ignore[attr-defined]
    page.on("requestfailed", lambda request: problems.append(request.url))  # type: ignore[attr-defined]

    page.goto(f"{base_url}/dashboards/experiments/checkout-warranty?segment=device")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    over_time = _canvas_state(page, "over-time-chart")
    units = _canvas_state(page, "daily-units-chart")
    legend = page.evaluate(  # type: ignore[attr-defined]
        """() => window.Chart.getChart(document.getElementById("over-time-chart"))
            .legend.legendItems.map((item) => item.text)"""
    )

    assert over_time["hasChart"] and units["hasChart"]
    assert over_time["labels"] == ["2025-02-27", "2025-02-28", "2025-03-01"]
    assert (over_time["type"], units["type"]) == ("line", "bar")
    for state in (over_time, units):
        assert state["painted"] > 1_000
    assert legend == ["Control (no change)", "Warranty at 39", "<script>alert(1)</script>"]
    assert page.inner_text("#guardrail-alert").startswith("Guardrail violated")  # type: ignore[attr-defined]
    assert problems == []


def test_unhealthy_banner_is_visible(page: object, base_url: str) -> None:
    """A sample-ratio mismatch shows the red banner above the verdict."""
    page.goto(f"{base_url}/dashboards/experiments/cart-console-bundle")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]

    banner = page.locator("#sample-ratio-alert")  # type: ignore[attr-defined]
    assert banner.is_visible()
    assert banner.inner_text().startswith("Unhealthy: sample ratio mismatch (p < 0.001)")


def test_bandit_page_renders_its_panels_without_errors(page: object, base_url: str) -> None:
    """Recommendation, corrected estimates, slice gain and segment weights render as text."""
    problems: list[str] = []
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: problems.append(str(error)))  # type: ignore[attr-defined]
    page.on("requestfailed", lambda request: problems.append(request.url))  # type: ignore[attr-defined]

    page.goto(f"{base_url}/dashboards/experiments/cart-upgrade-bandit")  # type: ignore[attr-defined]
    page.wait_for_load_state("load")  # type: ignore[attr-defined]
    panel = page.locator("#recommendation")  # type: ignore[attr-defined]
    allocation = _canvas_state(page, "allocation-chart")

    assert panel.is_visible()
    assert panel.inner_text().startswith("Recommended: roll out Premium upgrade")
    assert page.locator("#bandit-results").is_visible()  # type: ignore[attr-defined]
    assert page.locator("#measurement-gain").is_visible()  # type: ignore[attr-defined]
    assert "<img src=x onerror=alert(2)>" in page.inner_text("#segment-weights")  # type: ignore[attr-defined]
    assert allocation["hasChart"] and allocation["painted"] > 1_000
    assert dialogs == []
    assert problems == []
