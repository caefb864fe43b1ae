"""Threads and processes: hot swaps under load, and a cache_dir shared by processes.

No assertion here is about time: threads run until the main thread has seen
what it waits for (every reader rendering each new bundle), and then stop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import promptship
from promptship import PromptClient
from promptship.client._cache import LastGoodCache
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import parse_allowed_signers
from publisher import Published, Publisher, marker_of
from storeserver import Fault, StoreServer

from .conftest import FakeClock, assert_cache_clean

TOOLS = Path(promptship.__file__).resolve().parents[1]
READERS = 4
RELEASES = 5
CHANNEL = "channels/production.json"


def _wait(condition: Callable[[], bool], errors: list[BaseException]) -> None:
    """Wait until ``condition`` holds or a worker failed (pytest-timeout bounds it)."""
    while not condition() and not errors:
        time.sleep(0.002)


class Expected:
    """What each published bundle must render: release, marker and content digest."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.by_digest: dict[str, tuple[int, str, str]] = {}

    def add(self, p: Published) -> None:
        verified = bundles.read_bundle((self.store / p.tar).read_bytes())
        doc = json.loads(verified.files["prompts/support/reply.json"])
        self.by_digest[p.digest] = (p.release, p.marker, doc["content_digest"])


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads every 50 µs instead of 5 ms: more interleavings, and I/O threads get a turn."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("busy_switching")
@pytest.mark.parametrize("mode", ["refresh-calls", "background-refresh"])
def test_hot_swap_under_load_never_tears_a_render(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path, mode: str
) -> None:
    # Publish every release first (the CLI's work stays out of the contended phase),
    # then let the server walk the channel through them one by one.
    expected = Expected(publisher.store)
    releases, channels = [], []
    for _ in range(RELEASES + 1):
        releases.append(publisher.publish())
        expected.add(releases[-1])
        channels.append(publisher.channel_bytes())
    store_server.fault(CHANNEL, Fault(body=channels[0]))
    client = PromptClient.from_channel(
        store_server.url,
        env="production",
        allowed_signers=publisher.signers,
        cache_dir=tmp_path / "cache",
        refresh_interval=0.01 if mode == "background-refresh" else None,
    )
    seen = [Counter[str]() for _ in range(READERS)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader(i: int) -> None:
        try:
            while not stop.is_set():
                result = client.get("support/reply").render(
                    customer_name=f"reader-{i}", ticket="t", history=["one", "two"]
                )
                ref = result.ref
                assert ref is not None
                assert result.messages is not None
                release, marker, content = expected.by_digest[ref.bundle_digest]
                assert ref.release == release
                assert ref.content_digest == content
                assert marker_of(result.messages[0]["content"]) == marker
                assert result.messages[0]["content"].endswith(f"Be kind to reader-{i}.\n")
                status = client.status()
                assert expected.by_digest[status.bundle_digest][0] == status.release
                seen[i][ref.bundle_digest] += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    try:
        for p, channel in zip(releases, channels, strict=True):
            store_server.fault(CHANNEL, Fault(body=channel))
            if mode == "refresh-calls" and p is not releases[0]:
                assert client.refresh()
            _wait(lambda p=p: all(s[p.digest] >= 20 for s in seen), errors)  # type: ignore[misc]
    finally:
        stop.set()
        for t in threads:
            t.join()
        client.close()
    assert not errors, errors[0]
    for s in seen:
        assert set(s) == set(expected.by_digest)  # every reader rendered every release


def test_a_prompt_taken_before_a_swap_keeps_its_bundle(
    publisher: Publisher, store_server: StoreServer
) -> None:
    a = publisher.publish()
    with PromptClient.from_channel(
        store_server.url, env="production", allowed_signers=publisher.signers, refresh_interval=None
    ) as client:
        before = client.get("support/reply")
        b = publisher.publish()
        assert client.refresh()
        old = before.render(customer_name="Ada", ticket="t")
        new = client.get("support/reply").render(customer_name="Ada", ticket="t")
        assert old.ref is not None
        assert new.ref is not None
        assert (old.ref.bundle_digest, new.ref.bundle_digest) == (a.digest, b.digest)
        assert old.messages is not None
        assert new.messages is not None
        assert marker_of(old.messages[0]["content"]) == a.marker
        assert marker_of(new.messages[0]["content"]) == b.marker


SUBPROCESS = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path
from promptship import PromptClient
from promptship.client._cache import LastGoodCache
from promptship.release.allowed_signers import parse_allowed_signers

url, signers_file, cache_dir, ready, stop = sys.argv[1:6]
signers = parse_allowed_signers(Path(signers_file).read_text(), source=signers_file)
reader = LastGoodCache(Path(cache_dir), "production")
client = PromptClient.from_channel(
    url, env="production", allowed_signers=signers, cache_dir=cache_dir, refresh_interval=None
)
seqs, problems, errors = [], [], set()
while True:
    done = Path(stop).exists()
    client.refresh()
    if client.status().last_error:
        errors.add(client.status().last_error)
    fetched, why = reader.load(signers, now=datetime.now(UTC))
    if fetched is None:
        problems.append(why)
    else:
        seqs.append(fetched.channel.pointer.seq)
    Path(ready).touch()
    if done:
        break
client.close()
print(json.dumps({"seqs": seqs, "problems": problems, "errors": sorted(errors)}))
"""


def test_processes_and_threads_sharing_a_cache_dir_never_read_a_torn_file(
    publisher: Publisher, store_server: StoreServer, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    publisher.publish()
    signers = parse_allowed_signers(publisher.signers.read_text(), source="allowed_signers")
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    child = subprocess.Popen(
        [sys.executable, "-c", SUBPROCESS, store_server.url, str(publisher.signers), str(cache),
         str(ready), str(stop)],
        env={**os.environ, "PYTHONPATH": str(TOOLS)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    clients = [
        PromptClient.from_channel(
            store_server.url,
            env="production",
            allowed_signers=signers,
            cache_dir=cache,
            refresh_interval=None,
            clock=FakeClock(),
        )
        for _ in range(2)
    ]
    rounds = [0, 0]
    seqs: list[list[int]] = [[], []]
    errors: list[BaseException] = []
    stop_threads = threading.Event()

    def worker(i: int) -> None:
        reader = LastGoodCache(cache, "production")
        try:
            while not stop_threads.is_set():
                clients[i].refresh()
                assert clients[i].status().last_error is None, clients[i].status().last_error
                fetched, why = reader.load(signers, now=datetime.now(UTC))
                assert fetched is not None, why  # never a torn or missing file
                seqs[i].append(fetched.channel.pointer.seq)
                rounds[i] += 1
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        _wait(ready.exists, errors)
        for _ in range(RELEASES):
            publisher.publish()
            target = [r + 3 for r in rounds]
            _wait(lambda t=target: all(r >= x for r, x in zip(rounds, t, strict=True)), errors)  # type: ignore[misc]
        stop.touch()
        out, err = child.communicate(timeout=120)
    finally:
        stop_threads.set()
        for t in threads:
            t.join()
        for c in clients:
            c.close()
        if child.poll() is None:
            child.kill()
    assert not errors, errors[0]
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["problems"] == []
    assert report["errors"] == []
    assert report["seqs"], "the subprocess never read the cache"
    for series in [*seqs, report["seqs"]]:
        assert series == sorted(series), "the cached channel went back in time"
    final = assert_cache_clean(cache, "production", publisher.signers)
    assert final.pointer.seq == RELEASES + 1
    # the last good cache is usable by a fresh client with no network
    fetched, why = LastGoodCache(cache, "production").load(signers, now=datetime.now(UTC))
    assert fetched is not None, why
    assert len(list((cache / "production" / "bundles").glob("*.tar"))) <= 3
