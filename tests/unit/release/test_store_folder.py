"""The local store: layout, atomic publishing, and channel checks (signature, env, expiry, seq)."""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from promptship.core.errors import (
    BundleError,
    ChannelError,
    SignatureInvalid,
    SignatureKeyNotAllowed,
    SignatureNamespaceMismatch,
    StoreError,
)
from promptship.release import allowed_signers, sshsig
from promptship.release import bundle as b
from promptship.release import channel as channels
from promptship.release import manifest as m
from promptship.release.store import folder as store
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


def _publish(
    root: Path,
    pairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    bundle: b.Bundle | None = None,
    *,
    env: str = "production",
    now: datetime = NOW,
    expiry_days: int = 7,
) -> channels.Channel:
    bundle = bundle or _bundle(env)
    key = pairs[env].key
    sig = sshsig.sign(key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    release = m.parse_manifest(bundle.manifest).release
    return store.publish(
        root,
        bundle,
        sig,
        key,
        env=env,
        release=release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
    )


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _envelope(payload: bytes, key: sshsig.SigningKey, namespace: str) -> bytes:
    return m.encode_envelope(payload, sshsig.sign(key, payload, namespace))


# --- publishing ---------------------------------------------------------------------------


def test_publish_writes_the_layout_and_reads_back(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    channel = _publish(tmp_path, keypairs, allowed, bundle)
    hexdigest = bundle.digest.removeprefix("sha256:")
    assert sorted(_files(tmp_path)) == [
        f"bundles/sha256/{hexdigest}.tar",
        f"bundles/sha256/{hexdigest}.tar.sig",
        "channels/production.json",
    ]
    assert (tmp_path / f"bundles/sha256/{hexdigest}.tar").read_bytes() == bundle.tar
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o777 == 0o644
    assert channel.pointer.seq == 1
    assert channel.pointer.expires == NOW + timedelta(days=7)
    read = store.read_channel(tmp_path, "production", allowed, now=NOW)
    assert read.pointer == channel.pointer
    assert read.signer.principal == "production@promptship"
    envelope = json.loads((tmp_path / "channels/production.json").read_bytes())
    assert sorted(envelope) == ["payload", "signature"]
    assert json.loads(envelope["payload"])["bundle_digest"] == bundle.digest
    got_channel, got_bundle = store.open_channel_bundle(tmp_path, "production", allowed, now=NOW)
    assert got_channel.pointer == channel.pointer
    assert got_bundle.digest == bundle.digest
    assert got_bundle.files["prompts/support/triage.json"] == b'{"text":"v1"}'
    assert store.attestation_path(tmp_path, bundle.digest).name == f"{hexdigest}.intoto.jsonl"


def test_seq_rises_on_every_publish_including_a_rollback(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    v1, v2 = _bundle(release=7), _bundle(release=8, text=b"v2")
    seqs = [
        _publish(tmp_path, keypairs, allowed, v1).pointer.seq,
        _publish(tmp_path, keypairs, allowed, v2, now=NOW + timedelta(hours=1)).pointer.seq,
        _publish(tmp_path, keypairs, allowed, v1, now=NOW + timedelta(hours=2)).pointer.seq,
    ]
    assert seqs == [1, 2, 3]
    channel = store.read_channel(
        tmp_path, "production", allowed, now=NOW + timedelta(hours=2), min_seq=3
    )
    assert channel.pointer.bundle_digest == v1.digest


def test_expired_previous_channel_still_counts_for_seq(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    _publish(tmp_path, keypairs, allowed, expiry_days=1)
    later = NOW + timedelta(days=30)
    assert _publish(tmp_path, keypairs, allowed, now=later).pointer.seq == 2


def test_channel_never_outlives_its_bundle(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    channel = _publish(tmp_path, keypairs, allowed, expiry_days=365)
    assert channel.pointer.expires == CREATED + timedelta(days=90)


def test_environments_have_separate_channels(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    _publish(tmp_path, keypairs, allowed, env="production")
    staging = _publish(tmp_path, keypairs, allowed, _bundle("staging"), env="staging")
    assert staging.pointer.seq == 1
    assert store.read_channel(tmp_path, "staging", allowed, now=NOW).pointer.env == "staging"


def test_publish_refuses_bad_inputs_before_writing_anything(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    prod = keypairs["production"].key
    good_sig = sshsig.sign(prod, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    staging_sig = sshsig.sign(keypairs["staging"].key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    base: dict[str, Any] = {
        "env": "production",
        "release": 7,
        "now": NOW,
        "expiry_days": 7,
        "allowed": allowed,
    }
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"release": 8}, ChannelError, "does not match the bundle's release 7"),
        ({"signature": staging_sig}, SignatureKeyNotAllowed, "not allowed"),
        ({"channel_key": keypairs["staging"].key}, ChannelError, "not allowed"),
        ({"env": "staging"}, SignatureKeyNotAllowed, "not allowed"),
        ({"expiry_days": 0}, Exception, "expiry_days"),
        ({"bundle": _bundle(env="staging")}, SignatureInvalid, "does not match"),
        ({"now": CREATED + timedelta(days=91)}, BundleError, "expired"),
    ]
    for over, error, expected in cases:
        args: dict[str, Any] = {
            **base,
            "bundle": bundle,
            "signature": good_sig,
            "channel_key": prod,
            **over,
        }
        with pytest.raises(error, match=expected):
            store.publish(
                tmp_path,
                args.pop("bundle"),
                args.pop("signature"),
                args.pop("channel_key"),
                **args,
            )
        assert _files(tmp_path) == {}


def test_existing_different_content_at_a_digest_is_an_error(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    first = _publish(tmp_path, keypairs, allowed, bundle)
    _publish(tmp_path, keypairs, allowed, bundle)  # identical content again is fine
    path = store.bundle_path(tmp_path, bundle.digest)
    before = (tmp_path / "channels/production.json").read_bytes()
    for corrupt in (bundle.tar[:-1] + b"\x01", bundle.tar[:512], bundle.tar + bytes(512)):
        path.write_bytes(corrupt)
        with pytest.raises(StoreError, match="exists with different content"):
            _publish(tmp_path, keypairs, allowed, bundle)
        assert (tmp_path / "channels/production.json").read_bytes() == before
        assert path.read_bytes() == corrupt
    assert first.pointer.seq == 1


def test_a_re_signed_bundle_replaces_its_signature(
    tmp_path: Path, keypairs: dict[str, KeyPair]
) -> None:
    """Key rotation: another allowed key signs the same manifest."""
    text = (
        f"production@promptship {keypairs['production'].public}\n"
        f"production@promptship {keypairs['outsider'].public}\n"
    )
    both = allowed_signers.parse_allowed_signers(text, source="allowed_signers")
    bundle = _bundle()
    _publish(tmp_path, keypairs, both, bundle)
    new_sig = sshsig.sign(keypairs["outsider"].key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    store.publish(
        tmp_path,
        bundle,
        new_sig,
        keypairs["outsider"].key,
        env="production",
        release=7,
        now=NOW,
        expiry_days=7,
        allowed=both,
    )
    assert store.fetch_bundle(tmp_path, bundle.digest)[1] == new_sig


# --- failures while publishing --------------------------------------------------------------


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failed_step_leaves_the_previous_channel_valid(
    tmp_path: Path,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    monkeypatch: pytest.MonkeyPatch,
    fail_at: int,
) -> None:
    old = _publish(tmp_path, keypairs, allowed, _bundle(release=7))
    old_files = _files(tmp_path)
    new = _bundle(release=8, text=b"v2")
    real = store._write_atomic
    calls: list[Path] = []

    def flaky(path: Path, data: bytes) -> None:
        calls.append(path)
        if len(calls) == fail_at:
            raise StoreError(f"{path}: injected failure")
        real(path, data)

    monkeypatch.setattr(store, "_write_atomic", flaky)
    with pytest.raises(StoreError, match="injected failure"):
        _publish(tmp_path, keypairs, allowed, new)
    monkeypatch.setattr(store, "_write_atomic", real)

    assert [p.name for p in calls][-1] == [
        f"{new.digest[7:]}.tar",
        f"{new.digest[7:]}.tar.sig",
        "production.json",
    ][fail_at - 1]
    channel = store.read_channel(tmp_path, "production", allowed, now=NOW, min_seq=1)
    assert channel.payload == old.payload
    now_files = _files(tmp_path)
    for name, data in old_files.items():
        assert now_files[name] == data
    added = {name: data for name, data in now_files.items() if name not in old_files}
    expected_new = {
        f"bundles/sha256/{new.digest[7:]}.tar": new.tar,
        f"bundles/sha256/{new.digest[7:]}.tar.sig": sshsig.sign(
            keypairs["production"].key, new.manifest, sshsig.BUNDLE_NAMESPACE
        ).encode(),
    }
    # only the steps before the failure are visible, each complete; no temp files
    assert added == dict(list(expected_new.items())[: fail_at - 1])
    retried = _publish(tmp_path, keypairs, allowed, new)
    assert retried.pointer.seq == 2


@pytest.mark.parametrize("syscall", ["fsync", "replace"])
def test_an_os_failure_inside_a_write_leaves_no_partial_file(
    tmp_path: Path,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    monkeypatch: pytest.MonkeyPatch,
    syscall: str,
) -> None:
    old = _publish(tmp_path, keypairs, allowed, _bundle(release=7))
    real = getattr(os, syscall)

    def broken(*args: Any) -> Any:
        if channel_write.is_set():  # only while the channel file is being written
            raise OSError(28, "No space left on device")
        return real(*args)

    channel_write = threading.Event()
    real_write = store._write_atomic

    def tracking(path: Path, data: bytes) -> None:
        if path.name == "production.json":
            channel_write.set()
        real_write(path, data)

    monkeypatch.setattr(store, "_write_atomic", tracking)
    monkeypatch.setattr(os, syscall, broken)
    with pytest.raises(StoreError, match="no space left on the device"):
        _publish(tmp_path, keypairs, allowed, _bundle(release=8, text=b"v2"))
    monkeypatch.undo()
    assert not [p for p in tmp_path.rglob(".*")], "a temporary file was left behind"
    assert store.read_channel(tmp_path, "production", allowed, now=NOW).payload == old.payload


def test_a_corrupt_current_channel_stops_publishing(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    _publish(tmp_path, keypairs, allowed)
    path = tmp_path / "channels/production.json"
    path.write_bytes(path.read_bytes().replace(b'\\"seq\\":1', b'\\"seq\\":9'))
    with pytest.raises(ChannelError, match="current channel does not verify"):
        _publish(tmp_path, keypairs, allowed)


# --- reading channels ---------------------------------------------------------------------


@pytest.fixture
def published(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> channels.Channel:
    return _publish(tmp_path, keypairs, allowed)


def _write_channel(root: Path, data: bytes, env: str = "production") -> None:
    (root / "channels" / f"{env}.json").write_bytes(data)


def _read(root: Path, allowed: allowed_signers.AllowedSigners, **kw: Any) -> channels.Channel:
    return store.read_channel(root, "production", allowed, **{"now": NOW, **kw})


def test_missing_channel(tmp_path: Path, allowed: allowed_signers.AllowedSigners) -> None:
    with pytest.raises(ChannelError, match="no channel published for 'production'"):
        _read(tmp_path, allowed)


def test_expired_channel(
    tmp_path: Path, published: channels.Channel, allowed: allowed_signers.AllowedSigners
) -> None:
    assert _read(tmp_path, allowed, now=published.pointer.expires - timedelta(seconds=1))
    with pytest.raises(ChannelError, match="channel expired at 2025-05-09T12:00:00Z"):
        _read(tmp_path, allowed, now=published.pointer.expires)


def test_seq_lower_than_already_seen_is_a_replay(
    tmp_path: Path, published: channels.Channel, allowed: allowed_signers.AllowedSigners
) -> None:
    assert _read(tmp_path, allowed, min_seq=1)
    with pytest.raises(ChannelError, match="channel seq 1 is lower than 2, already seen"):
        _read(tmp_path, allowed, min_seq=2)


def test_replayed_old_channel_file_is_refused(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    _publish(tmp_path, keypairs, allowed, _bundle(release=7))
    old = (tmp_path / "channels/production.json").read_bytes()
    seen = _publish(tmp_path, keypairs, allowed, _bundle(release=8, text=b"v2")).pointer.seq
    _write_channel(tmp_path, old)  # an attacker serves the old, validly signed pointer
    with pytest.raises(ChannelError, match="seq 1 is lower than 2"):
        _read(tmp_path, allowed, min_seq=seen)


def test_channel_of_another_environment(tmp_path: Path, keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    shared = allowed_signers.parse_allowed_signers(f"*@promptship {pair.public}\n", source="a")
    pairs = {**keypairs, "staging": pair}
    _publish(tmp_path, pairs, shared, _bundle("staging"), env="staging")
    _write_channel(tmp_path, (tmp_path / "channels/staging.json").read_bytes())
    with pytest.raises(
        ChannelError, match="channel is for environment 'staging', expected 'production'"
    ):
        _read(tmp_path, shared)


def test_channel_signed_by_a_key_not_allowed_for_the_environment(
    tmp_path: Path,
    published: channels.Channel,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
) -> None:
    forged = _envelope(published.payload, keypairs["staging"].key, sshsig.CHANNEL_NAMESPACE)
    _write_channel(tmp_path, forged)
    with pytest.raises(ChannelError, match="signature does not verify") as info:
        _read(tmp_path, allowed)
    assert isinstance(info.value.__cause__, SignatureKeyNotAllowed)


def test_channel_signed_in_the_bundle_namespace(
    tmp_path: Path,
    published: channels.Channel,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
) -> None:
    forged = _envelope(published.payload, keypairs["production"].key, sshsig.BUNDLE_NAMESPACE)
    _write_channel(tmp_path, forged)
    with pytest.raises(ChannelError, match="namespace") as info:
        _read(tmp_path, allowed)
    assert isinstance(info.value.__cause__, SignatureNamespaceMismatch)


def test_tampered_channel_payload(
    tmp_path: Path, published: channels.Channel, allowed: allowed_signers.AllowedSigners
) -> None:
    payload = published.payload.replace(b'"seq":1', b'"seq":5')
    _write_channel(tmp_path, m.encode_envelope(payload, published.signature))
    with pytest.raises(ChannelError, match="signature does not verify") as info:
        _read(tmp_path, allowed)
    assert isinstance(info.value.__cause__, SignatureInvalid)


def test_malformed_channel_files(
    tmp_path: Path,
    published: channels.Channel,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
) -> None:
    good = (tmp_path / "channels/production.json").read_bytes()
    doc = json.loads(good)
    key = keypairs["production"].key
    bad_payload = published.payload.replace(b'"seq":1', b'"seq":0')
    cases = {
        b"not json": "not valid JSON",
        good[:-1] + b',"payload":"x"}': "key 'payload' twice",
        json.dumps(doc, indent=2).encode(): "not in RFC 8785 canonical form",
        m.encode_envelope(published.payload, published.signature)[:-1] + b',"x":1}': "canonical",
        json.dumps({**doc, "x": 1}, sort_keys=True, separators=(",", ":")).encode(): "unknown",
        json.dumps({"payload": 1, "signature": "s"}, separators=(",", ":")).encode(): "payload",
        good + b" " * 70000: "over the limit",
        _envelope(bad_payload, key, sshsig.CHANNEL_NAMESPACE): "seq: must be an integer >= 1",
        _envelope(b'{"seq":1}', key, sshsig.CHANNEL_NAMESPACE): "required field missing",
    }
    for data, expected in cases.items():
        _write_channel(tmp_path, data)
        with pytest.raises(ChannelError, match=expected):
            _read(tmp_path, allowed)


def test_channel_naming_a_swapped_bundle(
    tmp_path: Path, keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    """A store whose file at the channel's digest holds another (validly signed) bundle."""
    v1, v2 = _bundle(release=7), _bundle(release=8, text=b"v2")
    _publish(tmp_path, keypairs, allowed, v1)
    _publish(tmp_path, keypairs, allowed, v2)
    for suffix in ("", ".sig"):
        src = Path(str(store.bundle_path(tmp_path, v1.digest)) + suffix)
        dst = Path(str(store.bundle_path(tmp_path, v2.digest)) + suffix)
        dst.write_bytes(src.read_bytes())
    # the digest is compared before the signature (docs/decisions.md, "Check order")
    with pytest.raises(BundleError, match=f"bundle digest mismatch: expected {v2.digest}"):
        store.open_channel_bundle(tmp_path, "production", allowed, now=NOW)


def test_bad_digest_and_environment_names(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a bundle digest"):
        store.bundle_path(tmp_path, "sha256:../../etc")
    with pytest.raises(Exception, match="not an environment name"):
        store.channel_path(tmp_path, "../prod")
    with pytest.raises(StoreError, match="not in the store"):
        store.fetch_bundle(tmp_path, "sha256:" + "0" * 64)


# --- served over HTTP by a plain static server ------------------------------------------------


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        data: bytes = response.read()
        return data


def test_a_static_web_server_serves_a_verifiable_store(
    tmp_path: Path,
    static_server: str,
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
) -> None:
    published = _publish(tmp_path, keypairs, allowed)
    channel = channels.verify_channel(
        _get(f"{static_server}/channels/production.json"),
        allowed,
        env="production",
        now=NOW,
        min_seq=1,
    )
    assert channel.pointer == published.pointer
    hexdigest = channel.pointer.bundle_digest.removeprefix("sha256:")
    tar = _get(f"{static_server}/bundles/sha256/{hexdigest}.tar")
    sig = _get(f"{static_server}/bundles/sha256/{hexdigest}.tar.sig").decode()
    verified = b.verify_bundle(tar, sig, allowed, environment="production", now=NOW)
    assert verified.digest == channel.pointer.bundle_digest
