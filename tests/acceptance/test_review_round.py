"""One review round on this repository's example registry, as docs/review.md walks through it.

The release manager turns on ``policy.review`` for production and opens the
promotion (``promptship promote``); the pinned bundle is built and evaluated
with its responses kept (``eval --bundle --responses``, a local model
stand-in); a sample of its eval outputs is drawn; ann rates it in the browser
and bob through the page's API; ``agreement`` and ``record`` read the ratings;
``review attest`` signs them; and the gate denies the promotion without the
attestation and admits its review rule with it.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import reviewdata
from gitrepo import commit, make_repo
from promptship.cli import main
from promptship.review.queue import read_queue
from reviewserver import ReviewServer, chromium
from signkeys import make_keypair

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
POLICY = "  require_owner_review: true\n"
REVIEW_POLICY = POLICY + "  review:\n    min_reviewed: 5\n    min_pass_rate: 0.6\n"
# bob's verdicts, item by item (category, priority, summary)
BOB = [("pass", "right", "4"), ("pass", "too_low", "3"), ("fail", "right", "2"),
       ("pass", "right", "5"), ("pass", "right", "4")]  # fmt: skip
ANN = [("1", "2", "4"), ("1", "1", "4"), ("2", "2", "2"), ("1", "2", "5"), ("1", "2", "5")]


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def _files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.parts
    }


def _rate_in_browser(queue: Path, ratings: Path, shot: Path) -> None:
    with ReviewServer(queue, "ann", ratings) as server, chromium() as driver:
        driver.get(server.url)
        for n, keys in enumerate(ANN, 1):
            WebDriverWait(driver, 30).until(
                lambda d, n=n: d.find_element(By.ID, "progress").text == f"{n} of 5"
            )
            ActionChains(driver).send_keys(*keys).perform()
            if n == 1:
                driver.save_screenshot(str(shot))
            ActionChains(driver).send_keys("\n").perform()
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "done").is_displayed())
        server.stop()


def _rate_over_http(queue: Path, ratings: Path) -> None:
    """bob uses the page's own API, as the page does: token from the page, JSON posts."""
    with ReviewServer(queue, "bob", ratings) as server:
        page = httpx.get(server.url, timeout=10).text
        token = re.search(r'name="review-token" content="([^"]+)"', page)
        assert token is not None
        headers = {"X-Review-Token": token.group(1), "Origin": server.url.rstrip("/")}
        for category, priority, summary in BOB:
            state = httpx.get(server.url + "api/state", headers=headers, timeout=10).json()
            body = {
                "item": state["item"]["item"],
                "scores": {"category": category, "priority": priority, "summary": summary},
            }
            r = httpx.post(server.url + "api/verdict", json=body, headers=headers, timeout=10)
            assert r.status_code == 200, r.text
        server.stop()


def test_a_review_round_gates_the_promotion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    root = reviewdata.example_registry(tmp_path / "repo")
    key = make_keypair("production")
    (root / "environments/allowed_signers").write_text(f"production@promptship {key.public}\n")
    production = root / "environments/production.yaml"
    production.write_text(production.read_text().replace(POLICY, REVIEW_POLICY))
    key_file = tmp_path / "production.key"
    key_file.write_bytes(key.pem)
    key_file.chmod(0o600)
    repo = make_repo(tmp_path)
    main_commit = commit(repo, _files(root), "registry", when=now - timedelta(hours=2))

    # the release manager opens the promotion of main to production (release 1)
    code, _, err = _run(
        capsys, "promote", "production", "--to", main_commit, "--root", root, "--branch", "main"
    )
    assert code == 0, err
    pinned = production.read_text()
    promote = commit(repo, {"environments/production.yaml": pinned}, "Promote production to r1",
                     when=now - timedelta(hours=1), ref="refs/heads/promote", parents=[main_commit])  # fmt: skip
    digest = re.search(r"bundle_digest: \"?(sha256:[0-9a-f]{64})", pinned)
    assert digest is not None

    # build and evaluate exactly the pinned bundle, keeping the responses
    dist, evals = tmp_path / "dist", tmp_path / "evals"
    code, _, err = _run(
        capsys,
        "bundle",
        "build",
        "--env",
        "production",
        "--ref",
        promote,
        "-o",
        dist,
        "--root",
        root,
    )
    assert code == 0, err
    tar = dist / "production.tar"
    stand_in = f"{sys.executable} {Path(reviewdata.__file__)}"
    code, _, err = _run(
        capsys, "eval", "--bundle", tar, "--env", "production", "--prompt", "support/triage",
        "--provider", "command", "--command", stand_in, "--no-cache", "--responses",
        "--out", evals, "--root", root,
    )  # fmt: skip
    assert code in (0, 1), err

    # draw five eval outputs and review them: ann in the browser, bob over the page's API
    queue = tmp_path / "queue.jsonl"
    code, out, err = _run(
        capsys, "review", "sample", "--evals", evals / "report.json", "--bundle", tar,
        "--n", "5", "--seed", "7", "-o", queue, "--root", root,
    )  # fmt: skip
    assert code == 0, err
    assert "5 of 5 evals items, seed 7" in out
    items = read_queue(queue).items
    assert all(i.case and i.messages and i.bundle_digest == digest.group(1) for i in items)
    shot = tmp_path / "review-eval.png"
    ann, bob = tmp_path / "queue.ratings-ann.jsonl", tmp_path / "queue.ratings-bob.jsonl"
    _rate_in_browser(queue, ann, shot)
    _rate_over_http(queue, bob)

    code, out, err = _run(capsys, "review", "agreement", ann, bob)
    assert code == 0, err
    assert "agreement of 2 reviewer(s) (ann, bob)" in out
    assert re.search(r"category\s+nominal\s+alpha 1\.000 over 5 item", out)
    assert "most disputed:" in out
    code, out, _ = _run(capsys, "review", "agreement", ann, bob, "--format", "json")
    by_name = {c["criterion"]: c for c in json.loads(out)["criteria"]}
    assert by_name["summary"]["kappa"][0]["reviewers"] == ["ann", "bob"]

    feedback = tmp_path / "feedback.jsonl"
    code, out, err = _run(capsys, "review", "record", ann, bob, "--out", feedback)
    assert code == 0
    assert "30 feedback events from 10 verdicts by 2 reviewer(s)" in out
    events = [json.loads(line) for line in feedback.read_text().splitlines()]
    assert {e["source"] for e in events} == {"review"}
    assert {e["criterion"] for e in events} == {"category", "priority", "summary"}
    assert all(
        e["reviewer"].startswith("b2:") and e["request_id"].startswith("eval:production:")
        for e in events
    )

    # without the signed review the promotion is denied; with it the review rule passes
    code, out, _ = _run(
        capsys, "gate", "--base", "main", "--head", "promote", "--root", root, "--format", "json"
    )
    review = [r for r in json.loads(out)["reasons"] if r["rule"] == "review"]
    assert [r["ok"] for r in review] == [False]
    attestation = tmp_path / "production.review.intoto.jsonl"
    code, out, err = _run(
        capsys, "review", "attest", ann, bob, "--queue", queue, "--bundle", tar,
        "--key", key_file, "-o", attestation,
    )  # fmt: skip
    assert code == 0, err
    assert "3 of 5 reviewed output(s) passed" in out
    code, out, _ = _run(
        capsys, "gate", "--base", "main", "--head", "promote", "--root", root,
        "--review-attestation", attestation, "--format", "json",
    )  # fmt: skip
    review = [r for r in json.loads(out)["reasons"] if r["rule"] == "review"]
    assert [r["ok"] for r in review] == [True]
    assert (
        "5 eval output(s) of the pinned bundle reviewed by ann, bob: 3/5 passed (60%)"
        in review[0]["message"]
    )
    # the pipeline's way: signed into the store, found by `pins --store` as pr.yml does
    store = tmp_path / "store"
    code, _, err = _run(
        capsys, "review", "attest", ann, bob, "--queue", queue, "--bundle", tar,
        "--key", key_file, "--store", store,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = _run(
        capsys, "pins", "--changed-since", "main", "--ref", "promote", "--store", store,
        "--format", "github", "--root", root,
    )  # fmt: skip
    assert code == 0, err
    found = dict(line.split("=", 1) for line in out.splitlines())["review_attestations"].split()
    assert found == [
        str(store / "attestations/review/sha256" / f"{digest.group(1)[7:]}.intoto.jsonl")
    ]
    code, out, _ = _run(
        capsys, "gate", "--base", "main", "--head", "promote", "--root", root,
        "--review-attestation", found[0], "--format", "json",
    )  # fmt: skip
    assert [r["ok"] for r in json.loads(out)["reasons"] if r["rule"] == "review"] == [True]
    if request.config.getoption("--regen-golden"):
        DOCS_IMAGES.mkdir(exist_ok=True)
        shutil.copy(shot, DOCS_IMAGES / "review-eval.png")
