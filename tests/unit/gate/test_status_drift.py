"""`promptship status`: every drift kind, from values (pure) and from a real repository and store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship.cli import main
from promptship.gate.promotion.drift import (
    DRIFT_KINDS,
    GitState,
    StoreState,
    environment_status,
    to_dict,
    to_markdown,
    to_text,
)
from promptship.gate.promotion.status import deployment_status
from promptship.git import open_repository
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.build import build_from_git, build_planned
from promptship.release.publish import publish_release
from promptship.release.store import open_store
from signkeys import KeyPair

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)
D1, D2 = "sha256:" + "d1" * 32, "sha256:" + "d2" * 32
C1 = "1" * 40
WEEK = timedelta(days=7)


def pinned(release: int = 2, digest: str = D1) -> GitState:
    return GitState("production", True, release, C1, digest)


def channel(
    release: int = 2,
    digest: str = D1,
    expires: datetime = NOW + 10 * DAY,
    bundle: datetime | None = None,
) -> StoreState:
    return StoreState(4, release, digest, NOW - DAY, expires, "production@promptship", bundle)


CASES = [
    ("in step", pinned(), channel(), None, []),
    ("no channel", pinned(), None, None, ["unpublished"]),
    ("a pin not yet published", pinned(3), channel(), None, ["unpublished"]),
    (
        "an unpinned tip not yet published",
        GitState("staging", False, 9, C1),
        channel(8),
        None,
        ["behind"],
    ),
    ("channel ahead of git", pinned(1), channel(), None, ["ahead"]),
    ("same release, other bundle", pinned(digest=D2), channel(), None, ["digest-mismatch"]),
    ("expired", pinned(), channel(expires=NOW - DAY), None, ["expired"]),
    ("expiring", pinned(), channel(expires=NOW + 2 * DAY), None, ["expiring"]),
    (
        "the bundle itself ends soon",
        pinned(),
        channel(expires=NOW + 3 * DAY, bundle=NOW + 3 * DAY),
        None,
        ["expiring", "bundle-expiring"],
    ),
    ("unreadable", pinned(), None, "channel: signature does not verify", ["unreadable"]),
]


@pytest.mark.parametrize(
    ("git", "store", "error", "kinds"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_drift_kind(
    git: GitState, store: StoreState | None, error: str | None, kinds: list[str]
) -> None:
    status = environment_status(git, store, now=NOW, within=WEEK, error=error)
    assert [d.kind for d in status.drifts] == kinds


def test_every_kind_is_covered() -> None:
    covered = {k for c in CASES for k in c[4]}
    assert covered == set(DRIFT_KINDS)


def test_reports() -> None:
    statuses = [
        environment_status(pinned(3), channel(), now=NOW, within=WEEK),
        environment_status(GitState("staging", False, 9, C1), channel(9), now=NOW, within=WEEK),
    ]
    data = to_dict(statuses, ref="main", now=NOW)
    assert data["ok"] is False
    assert [e["env"] for e in data["environments"]] == ["production", "staging"]
    assert data["environments"][0]["drifts"][0]["kind"] == "unpublished"
    assert data["environments"][1]["channel"]["expires"] == "2025-06-11T12:00:00Z"
    text = to_text(statuses, ref="main")
    assert text.startswith("promptship status at main: 1 of 2 environment(s) drift")
    assert "production: DRIFT" in text
    assert "staging: ok" in text
    md = to_markdown(statuses, ref="main")
    assert "| ⚠️ | production |" in md
    assert "- production: **unpublished**: git pins r3, the channel serves r2" in md


# -- a real repository and store ------------------------------------------------------------


PRODUCTION = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 1.0
  bundle_expiry_days: 90
  channel_expiry_days: 14
"""


def test_status_of_a_real_store(
    tmp_path: Path,
    keypairs: dict[str, KeyPair],
    allowed: AllowedSigners,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo = make_repo(tmp_path)
    c0 = commit(repo, evalregistry.files({"environments/production.yaml": PRODUCTION}), "registry")
    git = open_repository(Path(repo.workdir))
    plan = build_from_git(git, "production", c0).plan
    digest = build_planned(git, replace(plan, number=1)).bundle.digest  # r1, as promote pins it
    pin = f"release:\n  number: 1\n  source_commit: {c0}\n  bundle_digest: {digest}\n"
    commit(repo, {"environments/production.yaml": PRODUCTION + pin}, "pin r1")
    created = git.commit_info("HEAD").time
    store = tmp_path / "store"
    for env in ("production", "staging"):
        publish_release(
            git, env, open_store(str(store)), key=keypairs[env].key, allowed=allowed,
            now=created + DAY,
        )  # fmt: skip
    statuses = deployment_status(git, store, allowed, now=created + 2 * DAY)
    assert [(s.env, s.drifts) for s in statuses] == [("production", ()), ("staging", ())]
    # A prompt change on main: staging is behind until the release workflow runs; 13 days
    # later production's 14-day channel expires within the week.
    greet = evalregistry.files()["registry/demo/greet.yaml"]
    commit(repo, {"registry/demo/greet.yaml": greet.replace("politely", "kindly")}, "reword")
    later = deployment_status(git, store, allowed, now=created + 10 * DAY)
    kinds = {s.env: [d.kind for d in s.drifts] for s in later}
    assert kinds == {"production": ["expiring"], "staging": ["behind"]}  # staging: 30-day channels
    # The command (at the real time, long after these commits): exit 1, everything expired.
    signers = tmp_path / "allowed_signers"
    signers.write_text(
        "".join(f"{env}@promptship {keypairs[env].public}\n" for env in ("production", "staging"))
    )
    capsys.readouterr()
    code = main(
        ["status", "--store", str(store), "--root", str(repo.workdir), "--format", "json",
         "--allowed-signers", str(signers)]
    )  # fmt: skip
    out = capsys.readouterr()
    assert code == 1
    data = json.loads(out.out)
    assert data["schema"] == "promptship.status/v1"
    assert [[d["kind"] for d in e["drifts"]] for e in data["environments"]] == [
        ["expired"],
        ["behind", "expired"],
    ]
    # A channel that does not verify is reported, not a crash.
    (store / "channels" / "staging.json").write_text("{}")
    code = main(["status", "--store", str(store), "--root", str(repo.workdir), "--env", "staging",
                 "--allowed-signers", str(signers)])  # fmt: skip
    out = capsys.readouterr()
    assert code == 1
    assert "unreadable" in out.out
