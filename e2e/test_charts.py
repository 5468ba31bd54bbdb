"""The transparency page's charts in a real browser with JavaScript off, at the journey's
size and language: drawn, inside the screen, their figures a tap away; and the month's
WhatsApp picture and poster from its links."""

import io
import re
import shutil
import subprocess

from PIL import Image

from e2e.conftest import OUTPUT, VIEWPORTS


def test_visitor_sees_the_transparency_charts_without_javascript(visit, browser):
    context = browser.new_context(viewport=VIEWPORTS[visit.viewport], java_script_enabled=False,
                                  locale="sw-KE" if visit.language == "sw" else "en-KE")
    page = context.new_page()
    try:
        response = page.goto(visit.base + "/transparency")
        assert response is not None and response.status == 200
        width = VIEWPORTS[visit.viewport]["width"]
        charts = page.locator("main svg[role=img]")
        assert charts.count() >= 3
        for i in range(charts.count()):
            chart = charts.nth(i)
            assert chart.is_visible()
            box = chart.bounding_box()
            assert box["width"] > 100 and box["x"] >= 0 and box["x"] + box["width"] <= width
            assert chart.locator("title").count() == 1
        # The document is no wider than the screen.
        assert page.locator("html").bounding_box()["width"] <= width
        # Each chart's figures open without JavaScript.
        first = page.locator("main details.chart-figures").first
        first.locator("summary").click()
        assert first.locator("table").is_visible()
        shots = OUTPUT / "charts" / f"{visit.viewport}-{visit.language}"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "transparency.png"), full_page=True)
        picture = page.locator("main a[href$='/summary.png']").first.get_attribute("href")
        poster = page.locator("main a[href$='/poster.pdf']").first.get_attribute("href")
    finally:
        context.close()
    image = Image.open(io.BytesIO(visit.fetch(picture, "summary.png").read_bytes()))
    assert image.width == 1080 and image.height >= 1350
    text = subprocess.run([shutil.which("pdftotext"), str(visit.fetch(poster, "poster.pdf")),
                           "-"], capture_output=True, text=True, check=True).stdout
    assert "KES" in text and re.search(r"20\d\d", text)
