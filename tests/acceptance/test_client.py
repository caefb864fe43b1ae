"""The application client against a real HTTP store: the trust chain and every fault.

A store published by the CLI from a real git repository is served by a real
HTTP server on 127.0.0.1 (``tests/support/storeserver.py``) that misbehaves per path
on request. In every case the client keeps serving the last good bundle,
``status().last_error`` names the reason, nothing is half-written in
``cache_dir``, and once the fault is gone the next refresh takes the new bundle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from promptship import PromptClient
from promptship.release import keys, sshsig
from promptship.release.manifest import (
    ChannelPointer,
    encode_channel,
    encode_envelope,
    parse_envelope,
)
from promptship.release.store import folder as store
from publisher import Published, Publisher, marker_of
from storeserver import Fault, StoreServer

from .conftest import FakeClock, assert_cache_clean

CHANNEL = "channels/production.json"
TIMEOUT = 1.0
DEADLINE = 2.0
CAP = 1024 * 1024
DAY = 86400.0


def _client(
    pub: Publisher, location: str | Path, cache: Path | None, clock: FakeClock, **kw: object
) -> PromptClient:
    return PromptClient.from_channel(
        location,
        env="production",
        allowed_signers=pub.signers,
        cache_dir=cache,
        refresh_interval=None,
        timeout=TIMEOUT,
        deadline=DEADLINE,
        max_bundle_bytes=CAP,
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def _marker(client: PromptClient) -> str:
    result = client.get("support/reply").render(customer_name="Ada", ticket="hello")
    assert result.messages is not None
    return marker_of(result.messages[0]["content"])


def _serving(client: PromptClient, release: Published) -> None:
    """The client serves ``release``: its status and what it renders agree."""
    status = client.status()
    assert (status.bundle_digest, status.release) == (release.digest, release.release)
    assert _marker(client) == release.marker


@dataclass
class Stage:
    """A client serving release B from an HTTP store whose channel already names C.

    A and B were served before, so a replay of A is a replay.
    """

    pub: Publisher
    server: StoreServer
    clock: FakeClock
    cache: Path
    client: PromptClient
    a: Published
    b: Published
    c: Published
    a_channel: bytes


@pytest.fixture
def stage(
    publisher: Publisher, store_server: StoreServer, clock: FakeClock, tmp_path: Path
) -> Iterator[Stage]:
    a = publisher.publish()
    a_channel = publisher.channel_bytes()
    client = _client(publisher, store_server.url, tmp_path / "cache", clock)
    b = publisher.publish()
    assert client.refresh()
    c = publisher.publish()
    with client:
        yield Stage(publisher, store_server, clock, tmp_path / "cache", client, a, b, c, a_channel)


# --- the faults ---------------------------------------------------------------------------

Case = Callable[[Stage], str]
"""Sets a fault up; returns what ``last_error`` must say. May return an undo via ``UNDO``."""

CASES: dict[str, Case] = {}
UNDO: dict[str, Callable[[Stage], None]] = {}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


def _tamper(tar: bytes) -> bytes:
    """Flip one byte inside a prompt file of a bundle (its header stays intact)."""
    at = tar.index(b"Release marker")
    return tar[:at] + b"r" + tar[at + 1 :]


def _envelope(s: Stage, pointer: ChannelPointer, key: Path, namespace: str) -> bytes:
    payload = encode_channel(pointer)
    secret = keys.load_private_key(key.read_bytes(), source=str(key))
    return encode_envelope(payload, sshsig.sign(secret, payload, namespace))


def _pointer(s: Stage, **changes: object) -> ChannelPointer:
    now = datetime.fromtimestamp(s.clock(), UTC).replace(microsecond=0)
    values: dict[str, object] = {
        "env": "production",
        "seq": s.c.seq,
        "release": s.c.release,
        "bundle_digest": s.c.digest,
        "published": now,
        "expires": now + timedelta(days=1),
    }
    values.update(changes)
    return ChannelPointer(**values)  # type: ignore[arg-type]


@case
def http_500_on_the_channel(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(status=500))
    return f"{CHANNEL}: HTTP 500"


@case
def http_500_on_the_bundle(s: Stage) -> str:
    s.server.fault(s.c.tar, Fault(status=500))
    return f"{s.c.tar}: HTTP 500"


@case
def signature_missing(s: Stage) -> str:
    s.server.fault(s.c.sig, Fault(status=404))
    return f"{s.c.sig}: HTTP 404"


@case
def connection_closed_without_an_answer(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(close=True))
    return "connection broken"


@case
def server_answers_after_the_timeout(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(sleep_s=TIMEOUT + 1))
    return f"{CHANNEL}: timed out"


@case
def truncated_body(s: Stage) -> str:
    s.server.fault(s.c.tar, Fault(truncate_to=700))
    return f"{s.c.tar}: truncated body (700 of"


@case
def channel_far_over_the_cap_declared(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(huge=50 * 1024 * 1024))
    return "52,428,800 bytes is over the 65,536-byte cap"


@case
def bundle_far_over_the_cap_undeclared(s: Stage) -> str:
    s.server.fault(s.c.tar, Fault(huge=50 * 1024 * 1024, declare_length=False))
    return f"{s.c.tar}: body over the 1,048,576-byte cap"


@case
def compressed_channel_that_expands_far_over_the_cap(s: Stage) -> str:
    # 50 MB of zeros gzip to about 50 kB: under the cap on the wire, far over it decoded
    s.server.fault(CHANNEL, Fault(body=bytes(50 * 1024 * 1024), gzip=True))
    return f"{CHANNEL}: body over the 65,536-byte cap"


@case
def redirect_elsewhere(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(status=302))
    return f"{CHANNEL}: HTTP 302"


@case
def slow_drip_of_the_body(s: Stage) -> str:
    s.server.fault(s.c.tar, Fault(drip_s=0.02))  # each byte well within the read timeout
    return f"{s.c.tar}: download took over {DEADLINE:g} s"


@case
def slow_drip_of_the_headers(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(drip_s=0.05, drip_headers=True))
    return f"{CHANNEL}: download took over {DEADLINE:g} s"


@case
def channel_not_json(s: Stage) -> str:
    s.server.fault(CHANNEL, Fault(body=b"<html>maintenance</html>"))
    return "channel envelope"


@case
def channel_payload_altered(s: Stage) -> str:
    payload, signature = parse_envelope(s.pub.channel_bytes())
    altered = payload.replace(f'"seq":{s.c.seq}'.encode(), b'"seq":999')
    assert altered != payload
    s.server.fault(CHANNEL, Fault(body=encode_envelope(altered, signature)))
    return f"{CHANNEL}: signature does not verify: signature by"


@case
def channel_signed_by_an_unknown_key(s: Stage) -> str:
    body = _envelope(s, _pointer(s), s.pub.outsider_key, sshsig.CHANNEL_NAMESPACE)
    s.server.fault(CHANNEL, Fault(body=body))
    return "signature does not verify: signed by key"


@case
def channel_signed_in_the_bundle_namespace(s: Stage) -> str:
    body = _envelope(s, _pointer(s), s.pub.key, sshsig.BUNDLE_NAMESPACE)
    s.server.fault(CHANNEL, Fault(body=body))
    return "signature is for namespace 'promptship-bundle@v1'"


@case
def channel_for_another_environment(s: Stage) -> str:
    s.pub.publish("staging")
    s.server.fault(CHANNEL, Fault(body=s.pub.channel_bytes("staging")))
    return "channel is for environment 'staging', expected 'production'"


@case
def expired_channel(s: Stage) -> str:
    s.clock.advance(8 * DAY)  # channels live 7 days, bundles 30
    UNDO["expired_channel"] = lambda s: s.clock.advance(-8 * DAY)
    return "channel expired at"


@case
def replayed_older_channel(s: Stage) -> str:
    # A's signed channel file, still within its expiry, served again
    s.server.fault(CHANNEL, Fault(body=s.a_channel))
    return f"channel seq {s.a.seq} is lower than {s.b.seq}"


@case
def bundle_digest_mismatch(s: Stage) -> str:
    # a valid, signed bundle (B's) served under C's name
    s.server.fault(s.c.tar, Fault(body=(s.pub.store / s.b.tar).read_bytes()))
    s.server.fault(s.c.sig, Fault(body=(s.pub.store / s.b.sig).read_bytes()))
    return f"bundle digest mismatch: expected {s.c.digest}"


@case
def tampered_bundle(s: Stage) -> str:
    s.server.fault(s.c.tar, Fault(body=_tamper((s.pub.store / s.c.tar).read_bytes())))
    return "does not match its sha256 in the manifest"


@case
def bundle_signature_of_another_manifest(s: Stage) -> str:
    s.server.fault(s.c.sig, Fault(body=(s.pub.store / s.b.sig).read_bytes()))
    return f"{s.c.tar}: signature by"


@case
def bundle_signed_by_a_key_nobody_allowed(s: Stage) -> str:
    manifest = store.fetch_bundle(s.pub.store, s.c.digest)[0]
    from promptship.release import bundle as bundles

    data = bundles.read_bundle(manifest).manifest_bytes
    secret = keys.load_private_key(s.pub.outsider_key.read_bytes(), source="outsider")
    sig = sshsig.sign(secret, data, sshsig.BUNDLE_NAMESPACE)
    s.server.fault(s.c.sig, Fault(body=sig.encode()))
    return "which " + str(s.pub.signers) + " does not list"


@case
def bundle_of_another_environment(s: Stage) -> str:
    # An insider's channel for production naming the staging bundle: the key may sign
    # both environments, so only the bundle's own environment check stands in the way.
    staging = s.pub.publish("staging")
    pointer = _pointer(s, bundle_digest=staging.digest, release=staging.release)
    s.server.fault(CHANNEL, Fault(body=_envelope(s, pointer, s.pub.key, sshsig.CHANNEL_NAMESPACE)))
    return "bundle is for environment 'staging', expected 'production'"


@case
def channel_and_bundle_disagree_on_the_release(s: Stage) -> str:
    pointer = _pointer(s, release=s.c.release + 5)
    s.server.fault(CHANNEL, Fault(body=_envelope(s, pointer, s.pub.key, sshsig.CHANNEL_NAMESPACE)))
    return f"channel says release {s.c.release + 5}, the bundle is release {s.c.release}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fault_keeps_the_last_good_bundle_and_says_why(stage: Stage, name: str) -> None:
    s = stage
    expected = CASES[name](s)
    assert not s.client.refresh()
    status = s.client.status()
    assert status.last_error is not None
    assert expected in status.last_error
    assert status.seq == s.b.seq
    _serving(s.client, s.b)
    cached = assert_cache_clean(s.cache, "production", s.pub.signers)
    assert cached.pointer.seq == s.b.seq
    # the fault gone, the next refresh takes C
    UNDO.pop(name, lambda s: None)(s)
    s.server.clear()
    assert s.client.refresh(), s.client.status().last_error
    assert s.client.status().last_error is None
    _serving(s.client, s.c)
    assert assert_cache_clean(s.cache, "production", s.pub.signers).pointer.seq == s.c.seq
