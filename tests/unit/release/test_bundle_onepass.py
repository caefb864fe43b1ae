"""The one-pass reading of a canonical bundle decides exactly as the full reading does.

``read_bundle`` and ``verify_bundle`` first try to prove in one pass that the
archive is byte for byte the canonical archive of its (signed) manifest; any
other archive goes through the full block-by-block reading, which names the
problem. These tests hold the two to one decision: every changed byte,
truncation, appended block, cap and expected digest gives the same error (class
and message) or the same verified bundle as the full reading alone, so a
tampered bundle is refused whichever path sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from promptship.core.errors import BundleError, PromptshipError
from promptship.release import allowed_signers, sshsig
from promptship.release import bundle as b
from promptship.release.manifest import manifest_digest
from signkeys import KeyPair

CREATED = datetime(2025, 5, 1, 9, 30, 15, tzinfo=UTC)
NOW = CREATED + timedelta(days=1)
FILES = {
    "prompts/support/triage.json": b'{"id":"support/triage","text":"Hello {{ name }}"}',
    "environment.json": b'{"schema":"x"}',
    "prompts/billing/refund.json": b'{"id":"billing/refund"}' * 40,
    "prompts/" + "d" * 120 + "/long.json": b"{}",  # a USTAR prefix
    "prompts/empty.json": b"",
}


def _bundle() -> b.Bundle:
    return b.build_bundle(
        FILES,
        environment="production",
        release=3,
        source_commit="0" * 40,
        created=CREATED,
        expires=CREATED + timedelta(days=30),
    )


def _full_read(tar: bytes, **caps: int) -> b.VerifiedBundle:
    """``read_bundle`` as it was before the one-pass path: scan every block, then check."""
    limits = {
        "max_bytes": b.DEFAULT_MAX_BYTES,
        "max_member_bytes": b.DEFAULT_MAX_MEMBER_BYTES,
        "max_members": b.DEFAULT_MAX_MEMBERS,
        **caps,
    }
    return b._check(tar, b._scan(tar, **limits), None)


def _full_verify(
    tar: bytes,
    signature: str,
    allowed: allowed_signers.AllowedSigners,
    *,
    environment: str,
    now: datetime,
    expect_digest: str | None = None,
    **caps: int,
) -> b.VerifiedBundle:
    """``verify_bundle`` as it was before the one-pass path."""
    limits = {
        "max_bytes": b.DEFAULT_MAX_BYTES,
        "max_member_bytes": b.DEFAULT_MAX_MEMBER_BYTES,
        "max_members": b.DEFAULT_MAX_MEMBERS,
        **caps,
    }
    members = b._scan(tar, **limits)
    if expect_digest is not None:
        got = manifest_digest(members[0][1])
        if got != expect_digest:
            raise BundleError(
                f"bundle digest mismatch: expected {expect_digest} (named by the channel), "
                f"got {got}",
                hint="the store serves another bundle under that name: tampered or corrupt",
            )
    signer = sshsig.verify(
        allowed,
        members[0][1],
        signature,
        principal=sshsig.principal_for(environment),
        namespace=sshsig.BUNDLE_NAMESPACE,
        now=now,
    )
    return b._servable(b._check(tar, members, signer), environment, now)


def _outcome(call: Callable[[], b.VerifiedBundle]) -> tuple[Any, ...]:
    try:
        got = call()
    except PromptshipError as e:
        return ("refused", type(e), e.message, e.hint)
    return ("served", got.manifest, got.manifest_bytes, got.digest, dict(got.files), got.signer)


def _variants(tar: bytes) -> list[bytes]:
    """Truncations, appended data and the canonical archive itself."""
    out = [tar, tar + bytes(512), tar + bytes(10240), tar + b"x" * 512, tar[:-512], tar[:-10240]]
    out += [tar[:n] for n in range(0, len(tar) - 10240, 512)]
    out += [tar[:n] for n in (1, 100, 511, 513, 1000)]
    return out


def test_a_canonical_bundle_is_served_without_the_full_reading(
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle = _bundle()
    sig = sshsig.sign(keypairs["production"].key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    expected = _outcome(lambda: _full_verify(bundle.tar, sig, allowed, **_ENV))

    def no_scan(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the full reading ran")

    monkeypatch.setattr(b, "_scan", no_scan)
    assert _outcome(lambda: b.verify_bundle(bundle.tar, sig, allowed, **_ENV)) == expected
    assert expected[0] == "served"
    assert _outcome(lambda: b.read_bundle(bundle.tar))[4] == FILES


_ENV: dict[str, Any] = {"environment": "production", "now": NOW}


def test_every_changed_byte_is_decided_as_the_full_reading_decides() -> None:
    bundle = _bundle()
    tar = bundle.tar
    manifest = range(512, 512 + len(bundle.manifest))
    end = len(tar.rstrip(b"\x00")) + 1024  # past the last member and the end-of-archive blocks
    for i in [*range(end), *range(end, len(tar), 61)]:
        changed = bytearray(tar)
        changed[i] ^= 0x01 if i % 2 else 0x80
        data = bytes(changed)
        got = _outcome(lambda: b.read_bundle(data))  # noqa: B023
        assert got == _outcome(lambda: _full_read(data)), i  # noqa: B023
        # unsigned, a manifest changed into another valid one is read: verify_bundle's signature
        # is what refuses it (test_signed_bundles_are_decided_as_the_full_reading_decides)
        assert got[0] == "refused" or i in manifest, i


def test_truncated_and_extended_archives_are_decided_as_the_full_reading_decides() -> None:
    for data in _variants(_bundle().tar):
        assert _outcome(lambda: b.read_bundle(data)) == _outcome(lambda: _full_read(data))  # noqa: B023


@pytest.mark.parametrize(
    "caps",
    [
        {"max_members": 6},
        {"max_members": 5},
        {"max_member_bytes": 920},
        {"max_member_bytes": 919},
        {"max_member_bytes": 200},
        {"max_bytes": 10240},
        {"max_bytes": 10239},
    ],
)
def test_caps_are_decided_as_the_full_reading_decides(caps: dict[str, int]) -> None:
    tar = _bundle().tar
    assert max(len(d) for d in FILES.values()) == 920
    assert _outcome(lambda: b.read_bundle(tar, **caps)) == _outcome(lambda: _full_read(tar, **caps))


def test_signed_bundles_are_decided_as_the_full_reading_decides(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bundle = _bundle()
    good = sshsig.sign(keypairs["production"].key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    outsider = sshsig.sign(keypairs["outsider"].key, bundle.manifest, sshsig.BUNDLE_NAMESPACE)
    wrong_ns = sshsig.sign(keypairs["production"].key, bundle.manifest, sshsig.CHANNEL_NAMESPACE)
    cases: list[tuple[bytes, str, dict[str, Any]]] = [
        (bundle.tar, good, {}),
        (bundle.tar, good, {"expect_digest": bundle.digest}),
        (bundle.tar, good, {"expect_digest": "sha256:" + "0" * 64}),
        (bundle.tar, good, {"environment": "staging"}),
        (bundle.tar, good, {"environment": "Not An Env"}),
        (bundle.tar, good, {"now": CREATED + timedelta(days=31)}),
        (bundle.tar, good, {"max_members": 3}),
        (bundle.tar, outsider, {}),
        (bundle.tar, wrong_ns, {}),
        (bundle.tar, "not a signature", {}),
    ]
    cases += [(data, good, {}) for data in _variants(bundle.tar)]
    for i in range(0, len(bundle.tar), 7):  # every header field and body, a stride apart
        changed = bytearray(bundle.tar)
        changed[i] ^= 0x20
        cases.append((bytes(changed), good, {}))
    served = 0
    for tar, sig, over in cases:
        args = {**_ENV, **over}
        got = _outcome(lambda: b.verify_bundle(tar, sig, allowed, **args))  # noqa: B023
        assert got == _outcome(lambda: _full_verify(tar, sig, allowed, **args)), over  # noqa: B023
        served += got[0] == "served"
    assert served == 3  # the untouched bundle: alone, with its digest, first of the variants
