"""The application client against a hostile store and a tampered cache: bounded, and self-repairing.

A compression bomb on the channel, a FIFO where a folder store's channel
should be, a bundle re-signed after a key rotation, a cached tar damaged in
place, an unsigned ``channel.json`` with a huge ``seq`` planted in the cache, a
cache ``bundles/`` folder that is a link elsewhere. Cases that could exhaust
memory or block run in the bounded child (``tests/support/bounded.py``); the
rest run in-process against a real HTTP store on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest

from bounded import Case, run_cases
from promptship import PromptClient
from promptship.core.errors import ChannelError
from publisher import Publisher
from storeserver import Fault, StoreServer

from .conftest import FakeClock, assert_cache_clean

CHANNEL = "channels/production.json"


def _client(pub: Publisher, location: str | Path, cache: Path | None, **kw: object) -> PromptClient:
    kw.setdefault("refresh_interval", None)
    return PromptClient.from_channel(
        location,
        env="production",
        allowed_signers=kw.pop("signers", pub.signers),  # type: ignore[arg-type]
        cache_dir=cache,
        timeout=2.0,
        deadline=5.0,
        clock=kw.pop("clock", FakeClock()),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


SNIPPET = """
from promptship import PromptClient
from promptship.core.errors import PromptshipError
try:
    PromptClient.from_channel({location!r}, env="production", allowed_signers={signers!r},
                              timeout=2.0, deadline=10.0, refresh_interval=None)
    result = "served"
except PromptshipError as e:
    result = type(e).__name__ + ": " + e.message
"""


@pytest.mark.timeout(300)
def test_a_compression_bomb_and_a_fifo_store_end_in_clean_errors_within_bounds(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    publisher.publish()
    # 1 GiB of zeros behind two layers of gzip: a few kilobytes on the wire
    bomb = gzip.compress(gzip.compress(b"\0" * (1 << 30), 1), 9)
    assert len(bomb) < 2_000_000
    store_server.fault(CHANNEL, Fault(body=bomb, encoding="gzip, gzip"))
    fifo_store = tmp_path / "fifo-store"
    (fifo_store / "channels").mkdir(parents=True)
    os.mkfifo(fifo_store / "channels" / "production.json")
    cases = [
        Case(
            "bomb", python=SNIPPET.format(location=store_server.url, signers=str(publisher.signers))
        ),
        Case(
            "fifo", python=SNIPPET.format(location=str(fifo_store), signers=str(publisher.signers))
        ),
    ]
    got = run_cases(cases, cwd=tmp_path, home=tmp_path / "home", memory=768 * 1024 * 1024)
    bomb_result = json.loads(got["bomb"].out)
    assert bomb_result.startswith("ChannelError: cannot start"), bomb_result
    assert "over the 65,536-byte cap" in bomb_result
    fifo_result = json.loads(got["fifo"].out)
    assert fifo_result.startswith("ChannelError: cannot start"), fifo_result
    assert "FIFO" in fifo_result
    assert got["bomb"].cpu < 20


def test_a_fifo_channel_fails_a_refresh_at_once_with_the_reason(
    publisher: Publisher, tmp_path: Path
) -> None:
    publisher.publish()
    with _client(publisher, publisher.store, None) as client:
        channel = publisher.store / CHANNEL
        channel.unlink()
        os.mkfifo(channel)
        assert client.refresh() is False
        assert "FIFO" in (client.status().last_error or "")


def test_a_re_signed_bundle_replaces_the_cached_signature(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    """The documented key rotation: add the new key, re-sign the same bundle, retire the old key."""
    first = publisher.publish()
    new_key = tmp_path / "keys" / "new"
    line = publisher.cli("keys", "generate", "-o", new_key, "--env", "production")
    both = tmp_path / "both_signers"
    both.write_text(publisher.signers.read_text() + line)
    cache = tmp_path / "cache"
    with _client(publisher, store_server.url, cache, signers=both) as client:
        publisher.cli(
            "publish", "--env", "production", "--store", publisher.store, "--key", new_key,
            "--allowed-signers", both, "--root", publisher.workdir,
        )  # fmt: skip
        assert client.refresh() is False  # the same bundle, re-signed: nothing to swap in
        assert client.status().last_error is None
        assert client.status().bundle_digest == first.digest
    cached_sig = (
        cache / "production" / "bundles" / (first.digest.removeprefix("sha256:") + ".tar.sig")
    )
    assert cached_sig.read_bytes() == (publisher.store / first.sig).read_bytes()
    # the old key retired, the store down: a restart serves the cache
    only_new = tmp_path / "only_new"
    only_new.write_text(line)
    store_server.fault(CHANNEL, Fault(status=503))
    with _client(publisher, store_server.url, cache, signers=only_new) as client:
        assert client.status().bundle_digest == first.digest
        assert client.status().source == "cache"


def test_a_damaged_cached_tar_of_the_same_size_is_repaired(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    published = publisher.publish()
    cache = tmp_path / "cache"
    with _client(publisher, store_server.url, cache):
        pass
    tar = cache / "production" / "bundles" / (published.digest.removeprefix("sha256:") + ".tar")
    data = bytearray(tar.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tar.write_bytes(bytes(data))  # same size, other bytes
    with _client(publisher, store_server.url, cache):
        pass
    assert tar.read_bytes() == (publisher.store / published.tar).read_bytes()
    assert_cache_clean(cache, "production", publisher.signers)


def test_an_unsigned_planted_channel_never_stops_cache_writes(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    publisher.publish()
    cache = tmp_path / "cache"
    with _client(publisher, store_server.url, cache):
        pass
    planted = json.loads((cache / "production" / "channel.json").read_bytes())
    payload = json.loads(planted["payload"]) if isinstance(planted["payload"], str) else {}
    payload["seq"] = 2**53 - 1
    planted["payload"] = json.dumps(payload, separators=(",", ":"), sort_keys=True)
    (cache / "production" / "channel.json").write_text(json.dumps(planted))
    latest = publisher.publish()
    with _client(publisher, store_server.url, cache) as client:
        assert client.status().bundle_digest == latest.digest
        assert client.status().last_error is None
    channel = assert_cache_clean(cache, "production", publisher.signers)
    assert channel.pointer.seq == latest.seq


def test_a_linked_bundles_folder_is_refused_and_nothing_elsewhere_is_pruned(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = [elsewhere / f"{i:02d}.tar" for i in range(6)]
    for p in precious:
        p.write_bytes(b"someone else's file")
    cache = tmp_path / "cache"
    (cache / "production").mkdir(parents=True)
    (cache / "production" / "bundles").symlink_to(elsewhere)
    for _ in range(4):
        published = publisher.publish()
    with _client(publisher, store_server.url, cache) as client:
        assert client.status().bundle_digest == published.digest  # served from the store
        error = client.status().last_error or ""
        for _ in range(2):
            publisher.publish()
            client.refresh()
        error += client.status().last_error or ""
    assert "symbolic link" in error
    assert sorted(elsewhere.iterdir()) == precious
    assert all(p.read_bytes() == b"someone else's file" for p in precious)
    shutil.rmtree(cache)


def test_a_cache_with_no_valid_channel_starts_from_the_store(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    published = publisher.publish()
    cache = tmp_path / "cache" / "production"
    cache.mkdir(parents=True)
    (cache / "channel.json").write_bytes(b"[" * 100_000)
    with _client(publisher, store_server.url, tmp_path / "cache") as client:
        assert client.status().bundle_digest == published.digest
    assert_cache_clean(tmp_path / "cache", "production", publisher.signers)
    with pytest.raises(ChannelError, match="no channel"):
        _client(publisher, tmp_path / "no-such-store", None, clock=FakeClock())
