"""Publishing a release without the command line: build, sign, store, move the channel."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship.core.errors import UsageError
from promptship.git import open_repository
from promptship.release import build as release
from promptship.release.allowed_signers import AllowedSigners, parse_allowed_signers
from promptship.release.publish import publish_release
from promptship.release.sshsig import principal_for
from promptship.release.store import open_store, read_channel
from signkeys import KeyPair

PINNED = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 1.0
  bundle_expiry_days: 90
  channel_expiry_days: 2
release:
  number: 1
  source_commit: {source}
  bundle_digest: {digest}
"""


@pytest.fixture
def production(keypairs: dict[str, KeyPair]) -> AllowedSigners:
    return parse_allowed_signers(
        f"{principal_for('production')} {keypairs['production'].public}\n", source="signers"
    )


def test_publish_takes_the_channel_lifetime_from_the_source_commit(
    tmp_path: Path, keypairs: dict[str, KeyPair], production: AllowedSigners
) -> None:
    """The built commit asks for 2-day channels, the source commit for nothing: 30 days."""
    repo = make_repo(tmp_path)
    source = commit(repo, evalregistry.files(), "registry")
    git = open_repository(Path(repo.workdir))
    digest = release.build_from_git(git, "production", source).bundle.digest
    later = commit(
        repo,
        {"environments/production.yaml": PINNED.format(source=source, digest=digest)},
        "pin production r1; shorter channels on main",
    )
    created = git.commit_info(source).time
    now = created + timedelta(days=1)
    store = tmp_path / "store"

    published = publish_release(
        git,
        "production",
        open_store(str(store)),
        key=keypairs["production"].key,
        allowed=production,
        now=now,
        ref=later,
    )

    pointer = published.channel.pointer
    assert (pointer.env, pointer.seq, pointer.release, pointer.bundle_digest) == (
        "production",
        1,
        1,
        digest,
    )
    # 30 days at the source commit (not the built commit's 2), capped by the bundle's expiry
    assert pointer.expires == min(now + timedelta(days=30), created + timedelta(days=30))
    assert published.built.expires == created + timedelta(days=30)
    assert read_channel(store, "production", production, now=now).payload == (
        published.channel.payload
    )


def test_open_store_refuses_plain_http_for_a_folder(tmp_path: Path) -> None:
    assert open_store(str(tmp_path)) == tmp_path
    with pytest.raises(UsageError, match="--plain-http applies to oci:// stores only"):
        open_store(str(tmp_path), plain_http=True)
