"""--format html: one self-contained page whose charts render in a real headless Chromium."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from promptship.cli import main

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(DRIVER).exists()),
    reason="needs Debian's chromium and chromium-driver (installed by .ci/run)",
)


def _open(page: Path, shot: Path, profile: Path) -> dict[str, object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(page.as_uri())
        driver.implicitly_wait(5)
        found = driver.execute_script(
            "return {svgs: Array.from(document.querySelectorAll('svg.main-svg'))"
            ".filter(s => s.getBoundingClientRect().width > 0).length,"
            " traces: document.querySelectorAll('g.trace').length,"
            " titles: Array.from(document.querySelectorAll('.g-xtitle text, .g-ytitle text'))"
            ".map(t => t.textContent), tables: document.querySelectorAll('table').length}"
        )
        driver.save_screenshot(str(shot))
        requests = [
            json.loads(entry["message"])["message"] for entry in driver.get_log("performance")
        ]
    finally:
        driver.quit()
    urls = [
        m["params"]["request"]["url"]
        for m in requests
        if m.get("method") == "Network.requestWillBeSent"
    ]
    return {**found, "urls": urls}


@pytest.mark.parametrize("kind", ["report", "experiment"])
def test_the_html_page_renders_its_charts_offline(
    kind: str,
    example_log: Path,
    registry: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = tmp_path / f"{kind}.html"
    if kind == "report":
        args = [
            "report",
            str(example_log),
            "--by",
            "prompt,variant",
            "--format",
            "html",
            "--out",
            str(page),
        ]
    else:
        args = [
            "experiment",
            "report",
            "onboarding-email-tone",
            str(example_log),
            "--env",
            "production",
            "--root",
            str(registry),
            "--ref",
            "HEAD",
            "--format",
            "html",
            "--out",
            str(page),
        ]
    code = main(args)
    assert code == 0, capsys.readouterr()
    html = page.read_text()
    assert "<script src=" not in html
    assert "<link" not in html
    shot = tmp_path / f"{kind}.png"
    found = _open(page, shot, tmp_path / "profile")
    assert found["svgs"] >= 2, found
    assert found["traces"] >= 2, found
    assert found["tables"] >= 1
    assert "day" in found["titles"], found["titles"]
    # chrome:// is the browser's own new-tab page; nothing may leave the machine
    network = [
        u
        for u in found["urls"]
        if not u.startswith(("file:", "data:", "about:", "chrome:", "blob:"))
    ]
    assert network == []
    assert any(u == page.as_uri() for u in found["urls"])
    assert shot.stat().st_size > 10_000
