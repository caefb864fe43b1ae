"""Keeping a channel fresh (issue 11, item 4): ``refresh_channel`` with an injected clock.

A pinned production release is published with 14-day channels and a
90-day bundle. Without a refresh the channel dies at day 14 and every
cold-starting client fails; refreshed on a schedule it stays valid until the
bundle itself is near its end, when the refresh says so loudly.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import evalregistry
from gitrepo import commit, make_repo
from promptship.core.errors import BundleError, ChannelError, SignatureError
from promptship.git import open_repository
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.publish import publish_release
from promptship.release.refresh import refresh_channel
from promptship.release.store import open_store, read_channel
from signkeys import KeyPair

PRODUCTION = """\
environment: production
promotes_from: staging
policy:
  min_pass_rate: 1.0
  bundle_expiry_days: 90
  channel_expiry_days: 14
"""

DAY = timedelta(days=1)


@pytest.fixture
def published(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: AllowedSigners
) -> tuple[Path, datetime]:
    """A store with production published one day after its source commit; that time."""
    repo = make_repo(tmp_path)
    commit(repo, evalregistry.files({"environments/production.yaml": PRODUCTION}), "registry")
    git = open_repository(Path(repo.workdir))
    created = git.commit_info("HEAD").time
    store = tmp_path / "store"
    publish_release(
        git,
        "production",
        open_store(str(store)),
        key=keypairs["production"].key,
        allowed=allowed,
        now=created + DAY,
    )
    return store, created


def test_a_scheduled_refresh_keeps_the_channel_valid_past_its_first_expiry(
    published: tuple[Path, datetime], keypairs: dict[str, KeyPair], allowed: AllowedSigners
) -> None:
    store, created = published
    first = read_channel(store, "production", allowed, now=created + DAY)
    assert first.pointer.expires == created + 15 * DAY
    # Without a refresh, day 16 finds an expired channel.
    with pytest.raises(ChannelError, match="channel expired"):
        read_channel(store, "production", allowed, now=created + 16 * DAY)
    # The daily schedule: refresh whenever the channel expires within 7 days.
    refreshed_on = []
    for day in range(2, 60):
        now = created + day * DAY
        result = refresh_channel(
            store,
            "production",
            key=keypairs["production"].key,
            allowed=allowed,
            now=now,
            within=7 * DAY,
        )
        if result.channel is not None:
            refreshed_on.append(day)
            assert result.channel.pointer.seq == result.before.seq + 1
            assert result.channel.pointer.bundle_digest == first.pointer.bundle_digest
            assert result.channel.pointer.expires == now + 14 * DAY
        # Whatever day a client starts, the channel verifies.
        assert read_channel(store, "production", allowed, now=now).pointer.release == 1
    assert refreshed_on == [8, 15, 22, 29, 36, 43, 50, 57]
    assert read_channel(store, "production", allowed, now=created + 60 * DAY).pointer.seq == 9


def test_refresh_revives_an_expired_channel_and_warns_before_the_bundle_ends(
    published: tuple[Path, datetime], keypairs: dict[str, KeyPair], allowed: AllowedSigners
) -> None:
    store, created = published
    late = created + 30 * DAY  # the channel expired at day 15: nobody refreshed it
    result = refresh_channel(
        store, "production", key=keypairs["production"].key, allowed=allowed, now=late
    )
    assert result.channel is not None
    assert result.warning is None
    assert read_channel(store, "production", allowed, now=late).pointer.seq == 2
    # Near the bundle's end (90 days after its source commit) the channel is cut at the
    # bundle's expiry, and the refresh says a promotion is needed.
    end = created + 85 * DAY
    result = refresh_channel(
        store, "production", key=keypairs["production"].key, allowed=allowed, now=end
    )
    assert result.channel is not None
    assert result.channel.pointer.expires == created + 90 * DAY
    assert result.warning is not None
    assert "expires at" in result.warning
    assert "promote a newer commit" in result.warning
    with pytest.raises(BundleError, match="expired"):
        refresh_channel(
            store,
            "production",
            key=keypairs["production"].key,
            allowed=allowed,
            now=created + 91 * DAY,
        )


def test_refresh_fails_loudly_and_writes_nothing(
    tmp_path: Path,
    published: tuple[Path, datetime],
    keypairs: dict[str, KeyPair],
    allowed: AllowedSigners,
) -> None:
    store, created = published
    now = created + 2 * DAY
    channel_file = store / "channels" / "production.json"
    before = channel_file.read_bytes()
    with pytest.raises(ChannelError, match="no channel published for 'staging'"):
        refresh_channel(store, "staging", key=keypairs["staging"].key, allowed=allowed, now=now)
    with pytest.raises((SignatureError, ChannelError), match="not allowed"):
        refresh_channel(store, "production", key=keypairs["staging"].key, allowed=allowed, now=now)
    # A channel whose signature was tampered with has an unknown seq: refused.
    envelope = json.loads(before)
    envelope["payload"] = envelope["payload"].replace('"seq":1', '"seq":9')
    channel_file.write_text(json.dumps(envelope, separators=(",", ":")))
    with pytest.raises(ChannelError, match="signature does not verify"):
        refresh_channel(
            store, "production", key=keypairs["production"].key, allowed=allowed, now=now
        )
    channel_file.write_bytes(before)
    # A bundle altered in the store is refused before anything is signed.
    (tar,) = (store / "bundles" / "sha256").glob("*.tar")
    data = bytearray(tar.read_bytes())
    data[700] ^= 1
    tar.write_bytes(bytes(data))
    with pytest.raises(BundleError):
        refresh_channel(
            store, "production", key=keypairs["production"].key, allowed=allowed, now=now
        )
    assert channel_file.read_bytes() == before
