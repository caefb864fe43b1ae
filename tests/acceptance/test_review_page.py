"""The review page in a real headless Chromium: rate, skip, undo, reload, kill and restart.

A queue of six logged ``support/triage`` requests (drawn from events the real
client wrote on a copy of this repository's registry; one response tries to
run script) is served by the real ``promptship review serve`` in a child
process. The browser rates by keyboard and by mouse, skips, undoes twice
(the undone verdict comes back pre-filled), reloads, then the server is
killed with SIGKILL mid-queue and started again: the page resumes at the
first undecided item, and the ratings file holds exactly the decisions made.
Screenshots are saved under the test's temporary folder; with
``--regen-golden`` the ones docs/review.md shows are copied to docs/images/.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import reviewdata
from promptship.cli import main
from promptship.review.queue import read_queue
from promptship.review.ratings import read_ratings
from reviewserver import ReviewServer, chromium

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WAIT = 30


def _wait(driver: Any, condition: Any) -> None:
    WebDriverWait(driver, WAIT).until(condition)


def _progress(driver: Any, text: str) -> None:
    _wait(driver, lambda d: d.find_element(By.ID, "progress").text == text)


def _keys(driver: Any, *keys: str) -> None:
    ActionChains(driver).send_keys(*keys).perform()


def _current(driver: Any) -> str:
    return str(driver.find_element(By.ID, "item-id").text)


def _click_option(driver: Any, criterion: str, option: str) -> None:
    labels = driver.find_elements(By.CSS_SELECTOR, f"#criterion-{criterion} label")
    found = [lab.get_attribute("textContent") for lab in labels]
    [label] = [lab for lab, text in zip(labels, found, strict=True) if text.endswith(option)] or [
        None
    ]
    assert label is not None, found
    label.click()


def _checked(driver: Any) -> dict[str, str]:
    out = {}
    for c in ("category", "priority", "summary"):
        found = driver.find_elements(By.CSS_SELECTOR, f"#criterion-{c} input:checked")
        if found:
            out[c] = found[0].get_attribute("value")
    return out


def _no_markup_ran(driver: Any, hostile: str) -> None:
    """Nothing a response holds ever becomes markup or runs."""
    assert driver.execute_script("return window.__pwned === undefined")
    assert driver.find_elements(By.CSS_SELECTOR, "#response *") == []
    if _current(driver) == hostile:
        assert driver.find_element(By.ID, "response").text == reviewdata.HOSTILE


def _shot(driver: Any, folder: Path, name: str, keep: list[Path]) -> None:
    path = folder / name
    driver.save_screenshot(str(path))
    keep.append(path)


@pytest.fixture
def round_files(tmp_path: Path) -> tuple[Path, Path, str]:
    """A registry copy, six logged requests (the third hostile), and their queue."""
    root = reviewdata.example_registry(tmp_path / "registry")
    events = tmp_path / "events.jsonl"
    ids = reviewdata.log_requests(root, events, 6, hostile_at=[2])
    queue = tmp_path / "queue.jsonl"
    rc = main(
        [
            "review", "sample", str(events), "--prompt", "support/triage", "--n", "6",
            "--seed", "page", "-o", str(queue), "--root", str(root),
        ]
    )  # fmt: skip
    assert rc == 0
    return queue, tmp_path / "ratings-ann.jsonl", ids[2]


def test_rate_skip_undo_reload_kill_and_resume(
    round_files: tuple[Path, Path, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    queue_path, ratings_path, hostile = round_files
    order = [i.item for i in read_queue(queue_path).items]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    docs: list[Path] = []
    with chromium() as driver:
        with ReviewServer(queue_path, "ann", ratings_path) as server:
            driver.get(server.url)
            _progress(driver, "1 of 6")
            assert _current(driver) == order[0]
            _no_markup_ran(driver, hostile)
            cells = driver.find_elements(By.CSS_SELECTOR, "#inputs td")
            assert "[sensitive]" in [c.text for c in cells]  # the customer's message stays masked
            # item 1, by keyboard: pass, right, 4, a comment, Enter
            _keys(driver, "1", "2", "4", "c")
            _keys(driver, "routing looks right", Keys.ESCAPE)
            _shot(driver, shots, "review-item.png", docs)
            _keys(driver, Keys.ENTER)
            _progress(driver, "2 of 6")
            assert "saved" in driver.find_element(By.ID, "status").text
            # item 2, by mouse: fail, too_high, 2, Save
            _no_markup_ran(driver, hostile)
            _click_option(driver, "category", "fail")
            _click_option(driver, "priority", "too_high")
            _click_option(driver, "summary", "2")
            driver.find_element(By.ID, "save").click()
            _progress(driver, "3 of 6")
            # item 3: skip; then undo the skip and the verdict before it
            _keys(driver, "s")
            _progress(driver, "4 of 6")
            _keys(driver, "u")
            _progress(driver, "3 of 6")
            _keys(driver, "u")
            _progress(driver, "2 of 6")
            assert _current(driver) == order[1]
            assert _checked(driver) == {"category": "fail", "priority": "too_high", "summary": "2"}
            _shot(driver, shots, "review-undo.png", docs)
            # change the summary to 3 and save again
            _keys(driver, Keys.ARROW_DOWN, Keys.ARROW_DOWN, "3", Keys.ENTER)
            _progress(driver, "3 of 6")
            # a reload keeps the place
            driver.refresh()
            _progress(driver, "3 of 6")
            assert _current(driver) == order[2]
            _no_markup_ran(driver, hostile)
            _keys(driver, "2", "1", "5", Keys.ENTER)
            _progress(driver, "4 of 6")
            server.kill()  # mid-queue, no cleanup
        with ReviewServer(queue_path, "ann", ratings_path) as again:
            driver.get(again.url)
            _progress(driver, "4 of 6")
            assert _current(driver) == order[3]
            for n, keys in enumerate((("1", "3", "5"), ("2", "2", "1"), ("1", "2", "3")), 4):
                _no_markup_ran(driver, hostile)
                _keys(driver, *keys, Keys.ENTER)
                if n < 6:
                    _progress(driver, f"{n + 1} of 6")
            _wait(driver, lambda d: d.find_element(By.ID, "done").is_displayed())
            summary = driver.find_element(By.ID, "done-summary").text
            assert summary == "6 rated and 0 skipped of 6 items."
            _shot(driver, shots, "review-done.png", docs)
            err = again.stop()
            assert "6 rated, 0 skipped of 6" in err
    ratings = read_ratings(ratings_path)
    assert [r.type for r in ratings.records] == [
        "verdict", "verdict", "skip", "undo", "undo", "verdict", "verdict",
        "verdict", "verdict", "verdict",
    ]  # fmt: skip
    given = [(r.item, dict(r.scores), r.comment) for r in ratings.decisions.verdicts]
    assert given == [
        (
            order[0],
            {"category": "pass", "priority": "right", "summary": "4"},
            "routing looks right",
        ),
        (order[1], {"category": "fail", "priority": "too_high", "summary": "3"}, None),
        (order[2], {"category": "fail", "priority": "too_low", "summary": "5"}, None),
        (order[3], {"category": "pass", "priority": "too_high", "summary": "5"}, None),
        (order[4], {"category": "fail", "priority": "right", "summary": "1"}, None),
        (order[5], {"category": "pass", "priority": "right", "summary": "3"}, None),
    ]
    assert all(p.stat().st_size > 10_000 for p in shots.iterdir())
    if request.config.getoption("--regen-golden"):
        DOCS_IMAGES.mkdir(exist_ok=True)
        for path in docs:
            shutil.copy(path, DOCS_IMAGES / path.name)
