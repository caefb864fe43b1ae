"""Starting, restarting and expiring: cold starts, the cache, baked bundles, replay floors, ETags.

The store is published by the CLI and served by a real HTTP server on
127.0.0.1; time moves only on the client's fake clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chatserver import closed_port
from promptship import PromptClient
from promptship.client._cache import LastGoodCache
from promptship.core.errors import BundleError, ChannelError
from promptship.release.allowed_signers import parse_allowed_signers
from publisher import Published, Publisher, marker_of
from storeserver import Fault, StoreServer

from .conftest import FakeClock, assert_cache_clean

CHANNEL = "channels/production.json"
DAY = 86400.0


def _client(
    pub: Publisher, location: str | Path, cache: Path | None, clock: FakeClock, **kw: object
) -> PromptClient:
    kw.setdefault("refresh_interval", None)
    return PromptClient.from_channel(
        location,
        env="production",
        allowed_signers=pub.signers,
        cache_dir=cache,
        timeout=1.0,
        deadline=3.0,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def _marker(client: PromptClient) -> str:
    result = client.get("support/reply").render(customer_name="Ada", ticket="hello")
    assert result.messages is not None
    return marker_of(result.messages[0]["content"])


def _serving(client: PromptClient, release: Published) -> None:
    status = client.status()
    assert (status.bundle_digest, status.release) == (release.digest, release.release)
    assert _marker(client) == release.marker


def _nowhere() -> str:
    return f"http://127.0.0.1:{closed_port()}/store/"


# --- cold starts ------------------------------------------------------------------------


def test_cold_start_with_nothing_cached_and_no_network_fails_clearly(
    publisher: Publisher, clock: FakeClock, tmp_path: Path
) -> None:
    with pytest.raises(ChannelError) as caught:
        _client(publisher, _nowhere(), tmp_path / "cache", clock)
    message = str(caught.value)
    assert message.startswith("cannot start: the store failed (http://127.0.0.1:")
    assert "Connection refused" in message
    assert f"{tmp_path / 'cache' / 'production'} holds no channel" in message
    assert "no fallback bundle is configured" in message
    assert "fallback_bundle=" in (caught.value.hint or "")

    with pytest.raises(ChannelError, match="no cache_dir is configured"):
        _client(publisher, _nowhere(), None, clock)


def test_cold_start_when_the_store_fails_serves_the_cache_then_recovers(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    a = publisher.publish()
    with _client(publisher, store_server.url, cache, clock) as first:
        _serving(first, a)
    store_server.fault(CHANNEL, Fault(status=503))
    with _client(publisher, store_server.url, cache, clock) as client:
        status = client.status()
        assert status.source == "cache"
        assert status.seq == a.seq
        assert status.last_error is not None
        assert "HTTP 503" in status.last_error
        _serving(client, a)
        store_server.clear()
        b = publisher.publish()
        assert client.refresh()
        assert client.status().source == "channel"
        assert client.status().last_error is None
        _serving(client, b)


def test_restart_with_the_same_bundle_downloads_only_the_channel(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    a = publisher.publish()
    _client(publisher, store_server.url, cache, clock).close()
    assert len(store_server.hits_for(a.tar)) == 1
    with _client(publisher, store_server.url, cache, clock) as client:
        _serving(client, a)
        assert client.status().source == "channel"
    assert len(store_server.hits_for(a.tar)) == 1  # the cached copy served, verified again


def test_cold_start_with_a_baked_bundle(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    baked = publisher.build_signed("production", tmp_path / "image")
    # from_bundle needs no network at all
    with PromptClient.from_bundle(
        baked, env="production", allowed_signers=publisher.signers, clock=clock
    ) as client:
        status = client.status()
        assert (status.source, status.seq, status.channel_expires) == ("bundle", None, None)
        assert status.last_error is None
        assert _marker(client) == "marker-0"
        # The baked bundle's age is reported (issue 11): the content's date, not the load's.
        assert status.bundle_created is not None
        assert status.bundle_age_s == pytest.approx(clock() - status.bundle_created.timestamp())
        assert status.bundle_age_s > 3000  # the publisher's commits are an hour old
    # An explicit maximum age refuses a bundle older than that.
    with pytest.raises(
        BundleError, match=r"production release \d+ is 0.0 days old .* over max_bundle_age"
    ):
        PromptClient.from_bundle(
            baked, env="production", allowed_signers=publisher.signers, clock=clock,
            max_bundle_age=60,
        )  # fmt: skip
    PromptClient.from_bundle(
        baked, env="production", allowed_signers=publisher.signers, clock=clock,
        max_bundle_age=86400,
    ).close()  # fmt: skip
    # from_channel with nothing cached and no network starts on the baked bundle
    with _client(publisher, _nowhere(), tmp_path / "cache", clock, fallback_bundle=baked) as client:
        status = client.status()
        assert status.source == "bundle"
        assert status.last_error is not None
        assert "Connection refused" in status.last_error
        assert _marker(client) == "marker-0"
    # a cache holding a newer release wins over the baked bundle
    a = publisher.publish()
    _client(publisher, store_server.url, tmp_path / "cache", clock).close()
    with _client(publisher, _nowhere(), tmp_path / "cache", clock, fallback_bundle=baked) as client:
        assert client.status().source == "cache"
        _serving(client, a)


def test_a_baked_bundle_newer_than_the_cache_wins(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    a = publisher.publish()
    _client(publisher, store_server.url, tmp_path / "cache", clock).close()
    publisher.publish()  # a newer commit: the image is built from it
    baked = publisher.build_signed("production", tmp_path / "image")
    with _client(publisher, _nowhere(), tmp_path / "cache", clock, fallback_bundle=baked) as client:
        status = client.status()
        assert status.source == "bundle"
        assert status.release > a.release


def test_a_broken_baked_bundle_is_named_when_nothing_else_serves(
    publisher: Publisher, clock: FakeClock, tmp_path: Path
) -> None:
    baked = publisher.build_signed("production", tmp_path / "image")
    baked.write_bytes(baked.read_bytes().replace(b"marker: marker-0", b"marker: marker-X"))
    with pytest.raises(ChannelError, match="the fallback bundle fails: member 'prompts/support"):
        _client(publisher, _nowhere(), tmp_path / "cache", clock, fallback_bundle=baked)
    with pytest.raises(BundleError, match="does not match its sha256"):
        PromptClient.from_bundle(baked, env="production", allowed_signers=publisher.signers)


# --- replays across restarts ------------------------------------------------------------


def test_a_restart_refuses_a_replayed_channel_and_serves_the_cache(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    publisher.publish()
    old = publisher.channel_bytes()
    b = publisher.publish()
    _client(publisher, store_server.url, tmp_path / "cache", clock).close()
    store_server.fault(CHANNEL, Fault(body=old))
    with _client(publisher, store_server.url, tmp_path / "cache", clock) as client:
        status = client.status()
        assert status.source == "cache"
        assert status.last_error is not None
        assert "channel seq 1 is lower than 2" in status.last_error
        _serving(client, b)


def test_the_replay_floor_outlives_the_cached_channel(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    # A's channel is valid for 30 days, B's for 1. Two days on, B's cached channel has
    # expired (the cache cannot serve) but still remembers seq 2: A's channel, valid and
    # signed, is a replay, and the client refuses to start on it.
    publisher.publish(channel_days=30)
    old = publisher.channel_bytes()
    b = publisher.publish(channel_days=1)
    _client(publisher, store_server.url, tmp_path / "cache", clock).close()
    clock.advance(2 * DAY)
    store_server.fault(CHANNEL, Fault(body=old))
    with pytest.raises(ChannelError) as caught:
        _client(publisher, store_server.url, tmp_path / "cache", clock)
    assert "channel seq 1 is lower than 2" in str(caught.value)
    assert "cached: " in str(caught.value)
    assert "channel expired at" in str(caught.value)
    assert (
        assert_cache_clean(tmp_path / "cache", "production", publisher.signers).pointer.seq == b.seq
    )


# --- ETags, 304 and expiry --------------------------------------------------------------


def test_refresh_sends_the_etag_and_a_304_downloads_nothing(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    a = publisher.publish()
    with _client(publisher, store_server.url, tmp_path / "cache", clock) as client:
        first = store_server.hits_for(CHANNEL)
        assert [(h.if_none_match, h.status) for h in first] == [(None, 200)]
        assert not client.refresh()
        assert not client.refresh()
        hits = store_server.hits_for(CHANNEL)[1:]
        assert [h.status for h in hits] == [304, 304]
        assert all(h.if_none_match and h.if_none_match.startswith('"') for h in hits)
        assert len(store_server.hits_for(a.tar)) == 1
        assert client.status().last_error is None


def test_a_compressing_store_is_read_through_its_encoding(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    a = publisher.publish()
    store_server.fault(CHANNEL, Fault(gzip=True))
    store_server.fault(a.tar, Fault(gzip=True))
    with _client(publisher, store_server.url, None, clock) as client:
        _serving(client, a)
        assert client.status().last_error is None


def test_a_304_forever_does_not_hide_an_expired_channel(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    a = publisher.publish()
    with _client(publisher, store_server.url, tmp_path / "cache", clock) as client:
        assert client.status().channel_expires == a.expires
        clock.advance(8 * DAY)  # past the channel's 7 days, within the bundle's 30
        # the store still has the same (now expired) channel: 304 to the conditional
        # request, so the client asks again without the etag and verifies the file
        assert not client.refresh()
        assert [h.status for h in store_server.hits_for(CHANNEL)] == [200, 304, 200]
        status = client.status()
        assert status.expired
        assert status.last_error is not None
        assert "channel expired at" in status.last_error
        assert "serving production release" in status.last_error
        assert "past its expiry" in status.last_error
        _serving(client, a)  # still served: see docs/client.md, "Expiry"
        # a server answering 304 to everything is caught too
        store_server.fault(CHANNEL, Fault(not_modified=True))
        assert not client.refresh()
        error = client.status().last_error
        assert error is not None
        assert "HTTP 304 to a request without If-None-Match" in error
        assert "past its expiry" in error
        _serving(client, a)


def test_status_reports_an_expired_baked_bundle(
    publisher: Publisher, clock: FakeClock, tmp_path: Path
) -> None:
    baked = publisher.build_signed("production", tmp_path / "image")
    with PromptClient.from_bundle(
        baked, env="production", allowed_signers=publisher.signers, clock=clock
    ) as client:
        assert not client.status().expired
        clock.advance(31 * DAY)
        status = client.status()
        assert status.expired
        assert status.last_error is not None
        assert "the bundle expired at" in status.last_error
        assert _marker(client) == "marker-0"
    with pytest.raises(BundleError, match="bundle expired at"):
        PromptClient.from_bundle(
            baked, env="production", allowed_signers=publisher.signers, clock=clock
        )


# --- a store in a directory; the background refresh -------------------------------------


def test_a_store_directory_is_followed_and_checked_like_http(
    publisher: Publisher, clock: FakeClock, tmp_path: Path
) -> None:
    a = publisher.publish()
    old = publisher.channel_bytes()
    with _client(publisher, publisher.store, tmp_path / "cache", clock) as client:
        _serving(client, a)
        assert not client.refresh()
        b = publisher.publish()
        assert client.refresh()
        _serving(client, b)
        channel = publisher.store / CHANNEL
        current = channel.read_bytes()
        channel.write_bytes(old)
        assert not client.refresh()
        error = client.status().last_error
        assert error is not None
        assert f"{channel}: channel seq 1 is lower than 2" in error
        _serving(client, b)
        channel.write_bytes(current)
        assert not client.refresh()
        assert client.status().last_error is None


def test_the_background_refresh_swaps_in_a_new_release(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    publisher.publish()
    with _client(
        publisher, store_server.url, tmp_path / "cache", FakeClock(), refresh_interval=0.05
    ) as client:
        b = publisher.publish()
        give_up = time.monotonic() + 60
        while client.status().bundle_digest != b.digest and time.monotonic() < give_up:
            time.sleep(0.02)
        _serving(client, b)
        assert client.status().last_refresh is not None


def test_the_cache_never_goes_back_and_keeps_few_bundles(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = publisher.publish()
    first_channel = publisher.channel_bytes()
    with _client(publisher, store_server.url, cache, clock) as client:
        for _ in range(5):
            latest = publisher.publish()
            assert client.refresh()
    tars = sorted((cache / "production" / "bundles").glob("*.tar"))
    assert len(tars) == 3  # the newest three, the current one among them
    assert assert_cache_clean(cache, "production", publisher.signers).pointer.seq == latest.seq
    # a slow writer holding an older verified channel cannot take the cache back
    signers = parse_allowed_signers(publisher.signers.read_text(), source="allowed_signers")
    LastGoodCache(cache, "production").save_channel(
        first_channel, first.seq, signers, now=datetime.now(UTC)
    )
    assert assert_cache_clean(cache, "production", publisher.signers).pointer.seq == latest.seq
