"""The OCI backend against a real distribution registry and a hostile fake one.

The registry is trusted for nothing: every test that pushes something other
than what ``publish`` would push does it the way anyone with write access to
the repository could, and the read side must refuse it with its own message.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import oras.provider
import pytest

from chatserver import closed_port
from ociregistry import LocalRegistry
from promptship.core.errors import (
    BundleError,
    ChannelError,
    SignatureError,
    StoreError,
    UsageError,
)
from promptship.release import allowed_signers, sshsig
from promptship.release import bundle as b
from promptship.release import channel as channels
from promptship.release import manifest as m
from promptship.release.store import oci
from promptship.release.store.oci import _wire
from signkeys import KeyPair

CREATED = datetime(2025, 5, 1, 9, 30, 15, tzinfo=UTC)
NOW = datetime(2025, 5, 2, 12, 0, tzinfo=UTC)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _bundle(env: str = "production", release: int = 7, text: bytes = b"v1") -> b.Bundle:
    return b.build_bundle(
        {"index.json": b"{}", "prompts/support/triage.json": b'{"text":"' + text + b'"}'},
        environment=env,
        release=release,
        source_commit=COMMIT,
        created=CREATED,
        expires=CREATED + timedelta(days=90),
    )


def _sign(pair: KeyPair, bundle: b.Bundle) -> str:
    return sshsig.sign(pair.key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)


def _publish(
    target: oci.OciTarget,
    pairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    bundle: b.Bundle,
    *,
    env: str = "production",
    now: datetime = NOW,
) -> channels.Channel:
    return oci.publish(
        target,
        bundle,
        _sign(pairs[env], bundle),
        pairs[env].key,
        env=env,
        release=m.parse_manifest(bundle.manifest).release,
        now=now,
        expiry_days=7,
        allowed=allowed,
    )


def _push_raw(
    target: oci.OciTarget, tag: str, kind: _wire.Kind, blobs: list[tuple[str, str, bytes]]
) -> None:
    """Push any artifact under any tag: what anyone with write access to the repo can do."""
    _wire.push_artifact(_wire.Registry(target), target, tag, kind, blobs, {})


def _bundle_layers(tar: bytes, sig: str) -> list[tuple[str, str, bytes]]:
    return [
        ("bundle.tar", oci.BUNDLE_LAYER_TYPE, tar),
        ("bundle.tar.sig", oci.SIGNATURE_LAYER_TYPE, sig.encode()),
    ]


@pytest.fixture
def target(oci_registry: LocalRegistry, request: pytest.FixtureRequest) -> oci.OciTarget:
    """A fresh repository per test in the session's registry."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:100]
    return oci.parse_target(oci_registry.url(f"promptship/{name}"), plain_http=True)


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "plain", "host", "repo"),
    [
        ("oci://ghcr.io/acme/prompts", False, "ghcr.io", "acme/prompts"),
        ("oci://Registry.Example.com:5000/a/b/c", False, "registry.example.com:5000", "a/b/c"),
        ("oci://127.0.0.1:5000/promptship/registry", True, "127.0.0.1:5000", "promptship/registry"),
        ("oci://localhost:5000/x", True, "localhost:5000", "x"),
        ("oci://[::1]:5000/x", True, "[::1]:5000", "x"),
        ("oci://localhost/a.b_c__d--e", False, "localhost", "a.b_c__d--e"),
    ],
)
def test_parse_target(url: str, plain: bool, host: str, repo: str) -> None:
    t = oci.parse_target(url, plain_http=plain)
    assert (t.host, t.repository, t.plain_http) == (host, repo, plain)
    assert t.url == f"oci://{host}/{repo}"


@pytest.mark.parametrize(
    ("url", "plain", "message"),
    [
        ("https://ghcr.io/acme/prompts", False, "not an OCI registry URL"),
        ("oci://ghcr.io", False, "names no repository"),
        ("oci://ghcr.io/", False, "names no repository"),
        ("oci://ghcr.io/acme/prompts:latest", False, "names a tag or digest"),
        ("oci://ghcr.io/acme/prompts@sha256:" + "0" * 64, False, "names a tag or digest"),
        ("oci://ghcr.io/Acme/prompts", False, "is not a repository name"),
        ("oci://ghcr.io/acme//prompts", False, "is not a repository name"),
        ("oci://ghcr.io/acme/../prompts", False, "is not a repository name"),
        ("oci://ghcr.io:99999/acme", False, "is not a port"),
        ("oci://ghcr.io:/acme", False, "is not a port"),
        ("oci://user@ghcr.io/acme", False, "is not a host name"),
        ("oci://-bad-/acme", False, "is not a host name"),
        ("oci://[::1/acme", False, "malformed IPv6 host"),
        ("oci://ghcr.io/acme/prompts", True, "plain HTTP refused for ghcr.io"),
        ("oci://127.0.0.2:5000/x", True, "plain HTTP refused"),
        ("oci://localhost.attacker.example:5000/x", True, "plain HTTP refused"),
        ("oci://127.0.0.1.nip.io/x", True, "plain HTTP refused"),
    ],
)
def test_parse_target_rejects(url: str, plain: bool, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        oci.parse_target(url, plain_http=plain)


def test_tags() -> None:
    assert oci.bundle_tag("sha256:" + "ab" * 32) == "sha256-" + "ab" * 32
    assert oci.channel_tag("production") == "channel-production"
    with pytest.raises(UsageError):
        oci.bundle_tag("sha256:" + "AB" * 32)
    with pytest.raises(UsageError):
        oci.channel_tag("../production")


# --- round trip ---------------------------------------------------------------------------


def test_publish_pull_round_trip(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    first = _publish(target, keypairs, allowed, bundle)
    second = _publish(target, keypairs, allowed, bundle, now=NOW + timedelta(hours=1))
    assert (first.pointer.seq, second.pointer.seq) == (1, 2)
    channel = oci.pull_channel(target, "production", allowed, now=NOW + timedelta(hours=1))
    assert channel.pointer == second.pointer
    assert channel.signer.principal == "production@promptship"
    got_channel, got = oci.open_channel_bundle(
        target, "production", allowed, now=NOW + timedelta(hours=1), min_seq=2
    )
    assert got_channel.pointer == second.pointer
    assert got.digest == bundle.digest
    assert got.files["prompts/support/triage.json"] == b'{"text":"v1"}'
    pulled = oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)
    assert pulled.manifest_bytes == bundle.manifest


def test_the_artifact_is_a_plain_oci_manifest(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    """Other OCI tools (oras, crane, skopeo) see the tar and signature as layers."""
    bundle = _bundle()
    _publish(target, keypairs, allowed, bundle)
    registry = _wire.Registry(target)
    doc = registry.get_manifest(_wire.container(target, oci.bundle_tag(bundle.digest)))
    assert doc["config"]["mediaType"] == oci.BUNDLE_CONFIG_TYPE
    layers = {layer["mediaType"]: layer for layer in doc["layers"]}
    tar_layer = layers[oci.BUNDLE_LAYER_TYPE]
    assert tar_layer["digest"] == "sha256:" + hashlib.sha256(bundle.tar).hexdigest()
    assert tar_layer["annotations"]["org.opencontainers.image.title"] == "bundle.tar"
    assert doc["annotations"]["dev.promptship.bundle.digest"] == bundle.digest


def test_seq_rises_across_bundles_and_a_rollback(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    v1, v2 = _bundle(release=7), _bundle(release=8, text=b"v2")
    seqs = [
        _publish(target, keypairs, allowed, v1).pointer.seq,
        _publish(target, keypairs, allowed, v2, now=NOW + timedelta(hours=1)).pointer.seq,
        _publish(target, keypairs, allowed, v1, now=NOW + timedelta(hours=2)).pointer.seq,
    ]
    assert seqs == [1, 2, 3]
    channel, got = oci.open_channel_bundle(
        target, "production", allowed, now=NOW + timedelta(hours=2)
    )
    assert (channel.pointer.release, got.digest) == (7, v1.digest)


def test_push_bundle_is_write_once(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    oci.push_bundle(target, bundle, _sign(keypairs["production"], bundle))
    oci.push_bundle(target, bundle, _sign(keypairs["production"], bundle))  # same: fine
    other = _bundle(text=b"v2")
    forged = b.Bundle(tar=other.tar, manifest=bundle.manifest, digest=bundle.digest)
    with pytest.raises(StoreError, match="exists with different content"):
        oci.push_bundle(target, forged, _sign(keypairs["production"], bundle))


def test_a_rotated_key_replaces_the_signature(
    target: oci.OciTarget, keypairs: dict[str, KeyPair]
) -> None:
    bundle = _bundle()
    both = allowed_signers.parse_allowed_signers(
        f"production@promptship {keypairs['production'].public}\n"
        f"production@promptship {keypairs['outsider'].public}\n",
        source="allowed_signers",
    )
    oci.push_bundle(target, bundle, _sign(keypairs["production"], bundle))
    oci.push_bundle(target, bundle, _sign(keypairs["outsider"], bundle))
    got = oci.pull_bundle(target, bundle.digest, both, env="production", now=NOW)
    assert got.signer is not None
    assert got.signer.fingerprint == keypairs["outsider"].key.fingerprint


def test_nothing_is_pushed_when_the_current_channel_does_not_verify(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    payload = m.encode_channel(
        m.ChannelPointer("production", 5, 7, bundle.digest, NOW, NOW + timedelta(days=1))
    )
    forged = m.encode_envelope(
        payload, sshsig.sign(keypairs["outsider"].key, payload, sshsig.CHANNEL_NAMESPACE)
    )
    _push_raw(
        target,
        "channel-production",
        "channel",
        [("production.json", oci.CHANNEL_LAYER_TYPE, forged)],
    )
    with pytest.raises(ChannelError, match="current channel does not verify"):
        _publish(target, keypairs, allowed, bundle)
    with pytest.raises(StoreError, match="not in the registry"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)


def test_a_channel_key_not_allowed_for_the_env_pushes_nothing(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    with pytest.raises(ChannelError, match="signature does not verify"):
        oci.publish(
            target,
            bundle,
            _sign(keypairs["production"], bundle),
            keypairs["staging"].key,
            env="production",
            release=7,
            now=NOW,
            expiry_days=7,
            allowed=allowed,
        )
    with pytest.raises(ChannelError, match="no channel published"):
        oci.pull_channel(target, "production", allowed, now=NOW)


# --- tampering in the registry ------------------------------------------------------------


def test_a_different_tar_under_the_tag_fails_verification(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    sig = _sign(keypairs["production"], bundle)
    _publish(target, keypairs, allowed, bundle)
    tag = oci.bundle_tag(bundle.digest)

    # one byte of a member changed: the manifest's sha256 of it no longer matches
    tar = bytearray(bundle.tar)
    tar[bundle.tar.index(b'{"text":"v1"}') + 10] ^= 1
    _push_raw(target, tag, "bundle", _bundle_layers(bytes(tar), sig))
    with pytest.raises(BundleError, match="does not match its sha256"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)
    with pytest.raises(BundleError, match="does not match its sha256"):
        oci.open_channel_bundle(target, "production", allowed, now=NOW)

    # another bundle with the original signature: not the bundle the tag names, which
    # is found before the signature is looked at (docs/decisions.md, "Check order")
    other = _bundle(text=b"evil")
    _push_raw(target, tag, "bundle", _bundle_layers(other.tar, sig))
    with pytest.raises(BundleError, match="bundle digest mismatch"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)

    # another validly signed bundle moved under this tag: not the one the tag or channel names
    _push_raw(
        target, tag, "bundle", _bundle_layers(other.tar, _sign(keypairs["production"], other))
    )
    # (the digest is compared before the signature: docs/decisions.md, "Check order")
    mismatch = f"bundle digest mismatch: expected {bundle.digest} .*, got {other.digest}"
    with pytest.raises(BundleError, match=mismatch):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)
    with pytest.raises(BundleError, match=mismatch):
        oci.open_channel_bundle(target, "production", allowed, now=NOW)


def test_a_tampered_signature_fails_verification(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    _publish(target, keypairs, allowed, bundle)
    staging_sig = _sign(keypairs["staging"], bundle)
    _push_raw(
        target, oci.bundle_tag(bundle.digest), "bundle", _bundle_layers(bundle.tar, staging_sig)
    )
    with pytest.raises(SignatureError):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)
    _push_raw(
        target,
        oci.bundle_tag(bundle.digest),
        "bundle",
        [
            ("bundle.tar", oci.BUNDLE_LAYER_TYPE, bundle.tar),
            ("bundle.tar.sig", oci.SIGNATURE_LAYER_TYPE, "é".encode()),
        ],
    )
    with pytest.raises(StoreError, match="not an armored signature"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)


def test_channel_replay_and_cross_environment_channels_are_refused(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    old = _publish(target, keypairs, allowed, _bundle())
    _publish(
        target, keypairs, allowed, _bundle(release=8, text=b"v2"), now=NOW + timedelta(hours=1)
    )
    # an attacker pushes the old (validly signed) pointer back
    old_envelope = m.encode_envelope(old.payload, old.signature)
    _push_raw(
        target,
        "channel-production",
        "channel",
        [("production.json", oci.CHANNEL_LAYER_TYPE, old_envelope)],
    )
    later = NOW + timedelta(hours=2)
    with pytest.raises(ChannelError, match="seq 1 is lower than 2"):
        oci.pull_channel(target, "production", allowed, now=later, min_seq=2)
    # staging's channel under production's tag
    staging = _publish(target, keypairs, allowed, _bundle("staging"), env="staging")
    _push_raw(
        target,
        "channel-production",
        "channel",
        [
            (
                "production.json",
                oci.CHANNEL_LAYER_TYPE,
                m.encode_envelope(staging.payload, staging.signature),
            )
        ],
    )
    with pytest.raises(ChannelError, match="signature does not verify"):
        oci.pull_channel(target, "production", allowed, now=later)
    # an expired channel
    with pytest.raises(ChannelError, match="expired"):
        oci.pull_channel(target, "staging", allowed, now=NOW + timedelta(days=8))


@pytest.mark.parametrize(
    ("kind", "layers", "message"),
    [
        (
            "bundle",
            [("production.json", oci.CHANNEL_LAYER_TYPE, b"{}")],
            "holds a promptship bundle",
        ),
        (
            "channel",
            [("x", oci.CHANNEL_LAYER_TYPE, b"{}"), ("y", oci.CHANNEL_LAYER_TYPE, b"[]")],
            "two layers",
        ),
        ("channel", [("x", "application/octet-stream", b"{}")], "unexpected layer"),
        ("channel", [], "no layer of media type"),
    ],
)
def test_malformed_channel_artifacts(
    target: oci.OciTarget,
    allowed: allowed_signers.AllowedSigners,
    kind: _wire.Kind,
    layers: list[tuple[str, str, bytes]],
    message: str,
) -> None:
    _push_raw(target, "channel-production", kind, layers)
    with pytest.raises(StoreError, match=message):
        oci.pull_channel(target, "production", allowed, now=NOW)


def test_a_bundle_artifact_without_its_signature(
    target: oci.OciTarget, allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    _push_raw(
        target,
        oci.bundle_tag(bundle.digest),
        "bundle",
        [("bundle.tar", oci.BUNDLE_LAYER_TYPE, bundle.tar)],
    )
    with pytest.raises(StoreError, match=r"no layer of media type .*signature"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW)


def test_oversized_layers_are_refused_before_download(
    target: oci.OciTarget, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    _publish(target, keypairs, allowed, bundle)
    with pytest.raises(StoreError, match="over the cap of 100"):
        oci.pull_bundle(target, bundle.digest, allowed, env="production", now=NOW, max_bytes=100)
    big = b" " * (m.DEFAULT_MAX_CHANNEL_BYTES + 1)
    _push_raw(target, "channel-production", "channel", [("p.json", oci.CHANNEL_LAYER_TYPE, big)])
    with pytest.raises(StoreError, match="over the cap"):
        oci.pull_channel(target, "production", allowed, now=NOW)


# --- network failures fail fast -----------------------------------------------------------


@pytest.fixture
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """oras's retry loop sleeps between attempts; promptship must never enter it."""

    def refuse(seconds: float) -> None:
        raise AssertionError(f"oras retry loop entered (sleep {seconds})")

    # (oras.decorator cannot be imported before oras.provider: a circular import in oras)
    monkeypatch.setattr(oras.provider.decorator, "time", SimpleNamespace(sleep=refuse))


@pytest.mark.usefixtures("no_retry_sleep")
def test_an_unreachable_registry_is_a_store_error(allowed: allowed_signers.AllowedSigners) -> None:
    target = oci.parse_target(f"oci://127.0.0.1:{closed_port()}/x", plain_http=True)
    with pytest.raises(StoreError, match=r"cannot read the manifest.*refused") as e:
        oci.pull_channel(target, "production", allowed, now=NOW)
    assert "is the registry running" in (e.value.hint or "")


@pytest.mark.usefixtures("no_retry_sleep")
def test_https_to_a_plain_http_registry_fails_clearly(
    oci_registry: LocalRegistry, allowed: allowed_signers.AllowedSigners
) -> None:
    target = oci.parse_target(oci_registry.url("x"))  # no plain_http: TLS is required
    with pytest.raises(StoreError, match="cannot read the manifest") as e:
        oci.pull_channel(target, "production", allowed, now=NOW)
    assert "certificate" in (e.value.hint or "")


# --- a hostile registry -------------------------------------------------------------------


class _Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requests: list[str] = []


class _HostileHandler(BaseHTTPRequestHandler):
    server: _Hostile

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        status, headers, body = self.server.routes.get(self.path, (404, {}, b"{}"))
        self.send_response(status)
        headers = dict(headers)
        if headers.pop("X-Omit-Length", None) is None:  # else: the body ends when we close
            headers.setdefault("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET


@pytest.fixture
def hostile() -> Iterator[_Hostile]:
    server = _Hostile()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _manifest_doc(config_type: str, layers: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": config_type, "digest": "sha256:" + "0" * 64, "size": 2},
            "layers": layers,
        }
    ).encode()


def _layer(media: str, data: bytes, size: int | None = None) -> dict[str, Any]:
    return {
        "mediaType": media,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data) if size is None else size,
    }


MANIFEST_PATH = "/v2/x/manifests/channel-production"


@pytest.mark.usefixtures("no_retry_sleep")
@pytest.mark.parametrize(
    ("route", "message"),
    [
        ((500, {}, b"boom"), "registry answered 500"),
        ((401, {}, b""), "cannot read the manifest"),
        ((200, {}, b"not json"), "not valid JSON"),
        ((200, {}, b'{"schemaVersion": 2, "schemaVersion": 2}'), "duplicate key"),
        ((200, {}, b"[]"), "not an OCI image manifest"),
        ((200, {}, b'{"schemaVersion": 2, "mediaType": "x"}'), "is not OCI's"),
        ((200, {}, b" " * (oci.MAX_MANIFEST_BYTES + 1)), "over the cap"),
        ((200, {"Content-Length": str(10**12)}, b"{}"), "announces 1000000000000 bytes"),
        (
            (
                200,
                {},
                _manifest_doc(
                    oci.CHANNEL_CONFIG_TYPE,
                    [{"mediaType": oci.CHANNEL_LAYER_TYPE, "digest": "md5:x", "size": 1}],
                ),
            ),
            "not sha256:<hex>",
        ),
        (
            (
                200,
                {},
                _manifest_doc(
                    oci.CHANNEL_CONFIG_TYPE,
                    [
                        {
                            "mediaType": oci.CHANNEL_LAYER_TYPE,
                            "digest": "sha256:" + "0" * 64,
                            "size": True,
                        }
                    ],
                ),
            ),
            "has size True",
        ),
        (
            (200, {}, _manifest_doc("application/vnd.oci.image.config.v1+json", [])),
            "is not a promptship channel",
        ),
    ],
)
def test_hostile_manifests(
    hostile: _Hostile,
    allowed: allowed_signers.AllowedSigners,
    route: tuple[int, dict[str, str], bytes],
    message: str,
) -> None:
    hostile.routes[MANIFEST_PATH] = route
    target = oci.parse_target(f"oci://127.0.0.1:{hostile.server_address[1]}/x", plain_http=True)
    with pytest.raises(StoreError, match=message):
        oci.pull_channel(target, "production", allowed, now=NOW)
    assert hostile.requests == [MANIFEST_PATH]  # asked once, never retried


@pytest.mark.usefixtures("no_retry_sleep")
@pytest.mark.parametrize(
    ("declared", "served", "message"),
    [
        (b"{}", b"{}!", "more than the cap of 2 bytes"),
        (b"{}", b"{", "got 1 bytes, the manifest says 2"),
        (b"{}", b"[]", "does not match its digest"),
    ],
)
def test_hostile_blobs(
    hostile: _Hostile,
    allowed: allowed_signers.AllowedSigners,
    declared: bytes,
    served: bytes,
    message: str,
) -> None:
    layer = _layer(oci.CHANNEL_LAYER_TYPE, declared)
    hostile.routes[MANIFEST_PATH] = (200, {}, _manifest_doc(oci.CHANNEL_CONFIG_TYPE, [layer]))
    # without a Content-Length the body is counted as it arrives
    hostile.routes[f"/v2/x/blobs/{layer['digest']}"] = (200, {"X-Omit-Length": "1"}, served)
    target = oci.parse_target(f"oci://127.0.0.1:{hostile.server_address[1]}/x", plain_http=True)
    with pytest.raises(StoreError, match=message):
        oci.pull_channel(target, "production", allowed, now=NOW)


def test_an_oversized_layer_is_not_downloaded(
    hostile: _Hostile, allowed: allowed_signers.AllowedSigners
) -> None:
    layer = _layer(oci.CHANNEL_LAYER_TYPE, b"{}", size=10**9)
    hostile.routes[MANIFEST_PATH] = (200, {}, _manifest_doc(oci.CHANNEL_CONFIG_TYPE, [layer]))
    target = oci.parse_target(f"oci://127.0.0.1:{hostile.server_address[1]}/x", plain_http=True)
    with pytest.raises(StoreError, match="1000000000 bytes is over the cap"):
        oci.pull_channel(target, "production", allowed, now=NOW)
    assert hostile.requests == [MANIFEST_PATH]
