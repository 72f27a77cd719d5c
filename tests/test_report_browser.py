"""The HTML audit report opened in headless Chromium (Debian's, driven by Playwright): it must render every chart,
log no error, fetch nothing from the network and show user-given names literally."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from buyerjourney.report import write_audit_html
from test_report_html import CHART_KEYS, EVIL_SOURCE, all_unknown_doc, sample_audit_doc

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                     "(apt-get install chromium)"),
]


@dataclass
class Opened:
    """A report page loaded in the browser, with everything it reported on the way."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_report(browser, tmp_path: Path) -> Iterator[Any]:
    contexts = []

    def open_(doc: dict[str, Any], name: str) -> Opened:
        path = write_audit_html(doc, tmp_path / f"{name}.html")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        opened = Opened(page)
        page.on("console", lambda msg: opened.errors.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: opened.errors.append(f"page error: {exc}"))
        page.on("request", lambda request: opened.requests.append(request.url))

        def on_dialog(dialog: Any) -> None:
            opened.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(path.as_uri(), wait_until="load")
        page.wait_for_selector("body[data-charts]", timeout=30_000)
        return opened

    yield open_
    for context in contexts:
        context.close()


def _assert_clean(opened: Opened) -> None:
    assert opened.errors == []
    assert opened.dialogs == []
    assert all(url.startswith(("file://", "data:", "blob:")) for url in opened.requests), opened.requests
    assert opened.page.get_attribute("body", "data-charts") == "ready"


def test_report_renders_every_chart_without_errors(open_report, tmp_path: Path):
    opened = open_report(sample_audit_doc(), "report")
    page = opened.page
    _assert_clean(opened)
    for key in CHART_KEYS:
        container = page.locator(f'[data-chart="{key}"]')
        assert container.count() == 1, key
        if key == "refunds_by_product":  # the sample's empty chart
            assert container.locator(".main-svg").count() == 0
            assert container.locator(".nodata").inner_text().startswith("No data: start tracking refund")
            continue
        assert container.locator(".plot .main-svg").count() >= 1, f"{key} drew no plotly SVG"
        box = container.locator(".plot").bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 250, (key, box)
    # the charts drew their data: bars in the journey, 12 cohort lines, a legend entry per source
    assert page.locator('[data-chart="journey"] .bars .point path').count() >= 13  # 7 counts, 6 known losses
    assert page.locator('[data-chart="cohort_curves"] .scatterlayer .trace').count() == 12
    legend = page.locator('[data-chart="traffic_by_month"] .legendtext').all_text_contents()
    assert 'partner <script>alert("pwned"…' in legend  # shown as written (cut short), not read as a tag
    assert EVIL_SOURCE in page.locator("table.sources").inner_text()
    hover = page.evaluate("""() => {
        const gd = document.querySelector('[data-chart="traffic_by_month"] .plot');
        const curve = gd.data.findIndex((trace) => trace.meta.startsWith("partner"));
        Plotly.Fx.hover(gd, [{curveNumber: curve, pointNumber: 0}]);
        return gd.querySelector(".hoverlayer").textContent;
    }""")
    assert EVIL_SOURCE in hover and "1,000 visitors" in hover  # the whole name, literally, in the hover label
    assert page.locator("[data-question]").count() == 21
    assert page.locator(".fixfirst").is_visible()
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000


def test_report_with_no_data_shows_notes_and_no_errors(open_report, tmp_path: Path):
    opened = open_report(all_unknown_doc(), "unknown")
    page = opened.page
    _assert_clean(opened)
    assert page.locator(".main-svg").count() == 0
    assert page.locator('[data-state="empty"] .nodata').count() == len(CHART_KEYS)
    assert page.locator('[data-status="unknown"] .track').count() == 21
    page.screenshot(path=str(tmp_path / "unknown.png"), full_page=True)
