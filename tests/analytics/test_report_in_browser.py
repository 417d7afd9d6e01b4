"""The HTML report in a real browser: Debian's headless Chromium opens the file, with no network,
and its screenshot shows every chart drawn.

Each chart marks in a colour of its own (``report_html``), so counting the pixels of each colour
in the screenshot says which charts were drawn. Without Chromium the test is skipped with the
reason, and fails in CI (``OUTREACH_REQUIRE_SERVICES=1``, set by ``.ci/run``, which installs the
``chromium`` package).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from outreach.analytics.report_html import (
    CHANNEL_COLOURS,
    FUNNEL_COLOUR,
    INTENT_COLOUR,
    SUPPRESSION_COLOUR,
    TREND_COLOURS,
    VARIANT_COLOUR,
    render_html,
)
from outreach.analytics.small_cells import CellPolicy
from tests.analytics.sample_report import sample_report
from tests.conftest import unavailable

CHART_COLOURS = {
    "funnel bars": FUNNEL_COLOUR,
    "daily trend (sent)": TREND_COLOURS["sent"],
    "daily trend (replied)": TREND_COLOURS["replied"],
    "channel comparison": CHANNEL_COLOURS["delivered"],
    "variant intervals": VARIANT_COLOUR,
    "suppression reasons": SUPPRESSION_COLOUR,
    "reply intents": INTENT_COLOUR,
}
# A drawn chart covers thousands of pixels of its colour; a stray anti-aliased edge, a handful.
MIN_PIXELS = 300


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def screenshot(html_path: Path, png_path: Path, profile: Path) -> None:
    browser = _chromium()
    if browser is None:
        unavailable("headless Chromium (Debian package 'chromium'; .ci/run installs it)")
    assert browser is not None
    completed = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1000,3200",
            f"--screenshot={png_path}",
            html_path.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert png_path.exists(), (
        f"Chromium ran (exit {completed.returncode}) but wrote no screenshot: "
        f"{completed.stderr.decode(errors='replace')[-2000:]}"
    )


def test_the_report_needs_no_network() -> None:
    html = render_html(sample_report(), CellPolicy(11))
    assert "<script" not in html
    assert re.search(r"\b(src|href)\s*=", html) is None
    assert re.search(r"url\((?!#)", html) is None  # only the in-page hatch pattern
    assert "default-src 'none'" in html


def test_chromium_draws_every_chart(tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    html_path.write_text(render_html(sample_report(), CellPolicy(11)), encoding="utf-8")
    png_path = tmp_path / "report.png"
    screenshot(html_path, png_path, tmp_path / "chromium-profile")

    image = Image.open(png_path).convert("RGB")
    counts: dict[tuple[int, int, int], int] = {}
    for count, colour in image.getcolors(maxcolors=image.width * image.height) or []:
        counts[colour] = count
    drawn = {name: counts.get(_rgb(colour), 0) for name, colour in CHART_COLOURS.items()}
    missing = {name: pixels for name, pixels in drawn.items() if pixels < MIN_PIXELS}
    assert not missing, f"charts not drawn (pixels of their colour): {missing}; see {png_path}"
    background = counts.get((255, 255, 255), 0)
    assert background < image.width * image.height * 0.97, "the page is nearly blank"
