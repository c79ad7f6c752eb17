"""The report as a reader's browser shows it: headless Chromium (Debian's `chromium`; .ci/run installs it and makes
these tests required) opens index.html and must make no network request, hit no JavaScript error and decode every
image. The checker itself is shown to catch each of those on a page that has them."""

import os
import re

import pytest
from chromium import CHROMIUM, Browser

MISSING = "chromium is not installed (apt-get install -y --no-install-recommends chromium)"


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; the tests skip without one, except where RETLAB_REQUIRE_BROWSER=1 (CI) makes that a
    failure."""
    if CHROMIUM is None:
        if os.environ.get("RETLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"RETLAB_REQUIRE_BROWSER=1 but {MISSING}")
        pytest.skip(MISSING)
    with Browser() as b:
        yield b


def test_the_report_renders_offline_without_errors_and_every_image_decodes(report, browser, tmp_path):
    page, markdown = report
    shot = tmp_path / "report.png"
    loaded = browser.load(page, screenshot=shot)
    assert loaded.requests == []
    assert loaded.errors == []
    assert loaded.broken_images == []
    assert loaded.images == len(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)) > 0
    assert loaded.title.startswith("retlab report")
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_the_check_catches_requests_script_errors_and_broken_images(browser, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!doctype html><html><head><title>bad</title><link rel="stylesheet" href="https://cdn.invalid/a.css">'
        '</head><body><img alt="remote" src="http://example.invalid/x.png">'
        '<img alt="corrupt" src="data:image/png;base64,AAAA">'
        '<script>throw new Error("thrown")</script></body></html>'
    )
    loaded = browser.load(bad)
    assert set(loaded.requests) == {"https://cdn.invalid/a.css", "http://example.invalid/x.png"}
    assert any("thrown" in e for e in loaded.errors)
    assert set(loaded.broken_images) == {"remote", "corrupt"}
