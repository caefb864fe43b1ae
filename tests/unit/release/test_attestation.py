"""Eval attestations: DSSE envelopes of in-toto statements, signed and checked; one test per attack."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import evalregistry
from promptship import evals
from promptship.core.errors import (
    AttestationEnvironmentMismatch,
    AttestationMalformed,
    AttestationSubjectMismatch,
    SignatureInvalid,
    SignatureKeyNotAllowed,
    SignatureUnknownKey,
    UsageError,
)
from promptship.evals.providers import EchoProvider
from promptship.release import allowed_signers, sshsig
from promptship.release import attestation as attest
from signkeys import KeyPair

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """A staging report, as `promptship eval --bundle` would write it for DIGEST."""
    source, suites = evalregistry.source()
    out = evals.evaluate(
        source, suites, EchoProvider(), evals.ProviderInfo("echo"), envs=["staging"]
    )
    out["source"] = {"commit": "1" * 40, "bundle_digest": DIGEST, "release": 7}
    return out


def _attest(report: dict[str, Any], key: sshsig.SigningKey, digest: str = DIGEST) -> bytes:
    return evals.attest_report(report, bundle_digest=digest, key=key)


def _verify(
    data: bytes,
    allowed: allowed_signers.AllowedSigners,
    *,
    env: str = "staging",
    digest: str = DIGEST,
) -> attest.VerifiedAttestation:
    return attest.verify_attestation(data, allowed, bundle_digest=digest, env=env, now=NOW)


def _resign(envelope: dict[str, Any], key: sshsig.SigningKey) -> bytes:
    payload = base64.b64decode(envelope["payload"])
    sig = sshsig.sign_raw(key, attest.pae(attest.PAYLOAD_TYPE, payload))
    envelope["signatures"] = [{"keyid": key.fingerprint, "sig": base64.b64encode(sig).decode()}]
    return json.dumps(envelope).encode()


def _with_statement(statement: dict[str, Any], key: sshsig.SigningKey) -> bytes:
    return attest.encode_envelope(
        statement, keyid=key.fingerprint, sign=lambda b: sshsig.sign_raw(key, b)
    )


def test_round_trip(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    data = _attest(report, keypairs["staging"].key)
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1  # one JSON line of an .intoto.jsonl file
    verified = _verify(data, allowed)
    assert verified.keyid == keypairs["staging"].key.fingerprint
    assert verified.signer == "allowed_signers:2:1"
    p = verified.predicate
    assert (p["env"], p["release"], p["source_commit"], p["ok"]) == ("staging", 7, "1" * 40, True)
    assert p["provider"] == {"name": "echo", "model": None, "base_url": None}
    assert [(s["prompt"], s["variant"]) for s in p["suites"]] == [
        ("demo/classify", None),
        ("demo/greet", None),
    ]
    suite = p["suites"][1]
    full = report["suites"][1]
    for field in (
        "suite_digest",
        "content_digest",
        "cases",
        "passed",
        "pass_rate",
        "min_pass_rate",
        "ok",
    ):
        assert suite[field] == full[field]
    assert "results" not in suite


def test_the_signature_verifies_independently(
    report: dict[str, Any], keypairs: dict[str, KeyPair]
) -> None:
    """Check the envelope with nothing from promptship: DSSE PAE by hand, the key from its public line."""
    envelope = json.loads(_attest(report, keypairs["staging"].key))
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    payload_type = envelope["payloadType"].encode()
    pae = (
        b"DSSEv1 "
        + str(len(payload_type)).encode()
        + b" "
        + payload_type
        + b" "
        + str(len(payload)).encode()
        + b" "
        + payload
    )
    public = serialization.load_ssh_public_key(keypairs["staging"].public.encode())
    assert isinstance(public, Ed25519PublicKey)
    [sig] = envelope["signatures"]
    public.verify(base64.b64decode(sig["sig"]), pae)  # raises if it does not verify
    assert sig["keyid"] == keypairs["staging"].key.fingerprint
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": "bundle", "digest": {"sha256": "ab" * 32}}]
    assert statement["predicateType"] == "https://promptship.dev/attestations/eval/v1"


def test_attestations_are_deterministic(
    report: dict[str, Any], keypairs: dict[str, KeyPair]
) -> None:
    assert _attest(report, keypairs["staging"].key) == _attest(report, keypairs["staging"].key)


def test_tampered_payload(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    envelope = json.loads(_attest(report, keypairs["staging"].key))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["suites"][1]["passed"] = 99
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(SignatureInvalid, match="does not match its payload"):
        _verify(json.dumps(envelope).encode(), allowed)


def test_tampered_signature(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    envelope = json.loads(_attest(report, keypairs["staging"].key))
    raw = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    raw[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureInvalid):
        _verify(json.dumps(envelope).encode(), allowed)


def test_a_listed_keyid_does_not_vouch_for_another_key(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    envelope = json.loads(_attest(report, keypairs["outsider"].key))
    envelope["signatures"][0]["keyid"] = keypairs["staging"].key.fingerprint
    with pytest.raises(SignatureInvalid):
        _verify(json.dumps(envelope).encode(), allowed)


def test_unlisted_key(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    with pytest.raises(SignatureUnknownKey, match="does not list"):
        _verify(_attest(report, keypairs["outsider"].key), allowed)


def test_another_environments_key(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    with pytest.raises(SignatureKeyNotAllowed, match="not allowed to sign for staging@promptship"):
        _verify(_attest(report, keypairs["production"].key), allowed)


def test_a_key_restricted_to_bundles_cannot_attest(
    report: dict[str, Any], keypairs: dict[str, KeyPair]
) -> None:
    line = f'staging@promptship namespaces="promptship-bundle@v1,promptship-channel@v1" {keypairs["staging"].public}\n'
    narrow = allowed_signers.parse_allowed_signers(line, source="allowed_signers")
    with pytest.raises(SignatureKeyNotAllowed, match="promptship-attestation@v1"):
        _verify(_attest(report, keypairs["staging"].key), narrow)
    line = f'staging@promptship namespaces="promptship-*@v1" {keypairs["staging"].public}\n'
    wide = allowed_signers.parse_allowed_signers(line, source="allowed_signers")
    assert _verify(_attest(report, keypairs["staging"].key), wide).predicate["ok"] is True


def test_an_expired_key(report: dict[str, Any], keypairs: dict[str, KeyPair]) -> None:
    before = (NOW - timedelta(days=1)).strftime("%Y%m%d")
    line = f'staging@promptship valid-before="{before}Z" {keypairs["staging"].public}\n'
    expired = allowed_signers.parse_allowed_signers(line, source="allowed_signers")
    with pytest.raises(SignatureKeyNotAllowed, match="expired"):
        _verify(_attest(report, keypairs["staging"].key), expired)


def test_wrong_subject(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    data = _attest(report, keypairs["staging"].key)
    with pytest.raises(AttestationSubjectMismatch, match=OTHER):
        _verify(data, allowed, digest=OTHER)


def test_wrong_environment(report: dict[str, Any], keypairs: dict[str, KeyPair]) -> None:
    both = allowed_signers.parse_allowed_signers(
        f"staging@promptship,production@promptship {keypairs['staging'].public}\n", source="s"
    )
    data = _attest(report, keypairs["staging"].key)
    with pytest.raises(AttestationEnvironmentMismatch, match="'staging', not 'production'"):
        _verify(data, both, env="production")


def test_a_second_line_may_verify(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    bad = _attest(report, keypairs["outsider"].key)
    good = _attest(report, keypairs["staging"].key)
    verified = evals.verify_attestation_file(
        bad + good, allowed, bundle_digest=DIGEST, env="staging", now=NOW
    )
    assert verified.keyid == keypairs["staging"].key.fingerprint
    with pytest.raises(SignatureUnknownKey):
        evals.verify_attestation_file(bad, allowed, bundle_digest=DIGEST, env="staging", now=NOW)
    with pytest.raises(AttestationMalformed, match="empty"):
        evals.verify_attestation_file(
            b"\n\n", allowed, bundle_digest=DIGEST, env="staging", now=NOW
        )


def _envelope(report: dict[str, Any], key: sshsig.SigningKey) -> dict[str, Any]:
    envelope: dict[str, Any] = json.loads(_attest(report, key))
    return envelope


@pytest.mark.parametrize(
    ("mutate", "error", "needle"),
    [
        (lambda e: b"not json", AttestationMalformed, "not JSON"),
        (lambda e: b"[1]", AttestationMalformed, "not a DSSE envelope"),
        (
            lambda e: json.dumps({**e, "payloadType": "text/plain"}).encode(),
            AttestationMalformed,
            "payloadType",
        ),
        (lambda e: json.dumps({**e, "payload": "%%%"}).encode(), AttestationMalformed, "base64"),
        (lambda e: json.dumps({**e, "payload": 3}).encode(), AttestationMalformed, "base64"),
        (
            lambda e: json.dumps({**e, "signatures": []}).encode(),
            AttestationMalformed,
            "signatures",
        ),
        (
            lambda e: json.dumps({**e, "signatures": e["signatures"] * 17}).encode(),
            AttestationMalformed,
            "signatures",
        ),
        (
            lambda e: json.dumps({**e, "signatures": ["x"]}).encode(),
            AttestationMalformed,
            "not an object",
        ),
        (
            lambda e: json.dumps(
                {**e, "signatures": [{"sig": e["signatures"][0]["sig"]}]}
            ).encode(),
            SignatureUnknownKey,
            "no keyid",
        ),
        (
            lambda e: json.dumps({**e, "signatures": [{"keyid": "k", "sig": "***"}]}).encode(),
            AttestationMalformed,
            "base64",
        ),
        (lambda e: b" " * (attest.MAX_ENVELOPE_BYTES + 1), AttestationMalformed, "bytes"),
        (lambda e: b"[" * 100_000, AttestationMalformed, "not JSON"),
    ],
)
def test_malformed_envelopes(
    report: dict[str, Any],
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    mutate: Any,
    error: type[Exception],
    needle: str,
) -> None:
    data = mutate(_envelope(report, keypairs["staging"].key))
    with pytest.raises(error, match=needle):
        _verify(data, allowed)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"_type": "https://in-toto.io/Statement/v0.1"}, "not an in-toto statement"),
        ({"predicateType": "https://slsa.dev/provenance/v1"}, "predicateType"),
        ({"subject": []}, "exactly one bundle subject"),
        (
            {"subject": [{"name": "other", "digest": {"sha256": "ab" * 32}}]},
            "exactly one bundle subject",
        ),
        (
            {"subject": [{"name": "bundle", "digest": {"sha256": "AB"}}]},
            "exactly one bundle subject",
        ),
        (
            {
                "subject": [
                    {"name": "bundle", "digest": {"sha256": "ab" * 32}},
                    {"name": "bundle", "digest": {"sha256": "cd" * 32}},
                ]
            },
            "exactly one bundle subject",
        ),
        ({"predicate": {"env": "staging"}}, "not a promptship eval result"),
        ({"predicate": "yes"}, "not a promptship eval result"),
    ],
)
def test_signed_statements_that_are_not_eval_attestations(
    report: dict[str, Any],
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    change: dict[str, Any],
    needle: str,
) -> None:
    statement = attest.statement(DIGEST, attest.predicate_from_report(report))
    statement.update(change)
    with pytest.raises(AttestationMalformed, match=needle):
        _verify(_with_statement(statement, keypairs["staging"].key), allowed)


def test_only_a_report_of_that_bundle_can_be_attested(
    report: dict[str, Any], keypairs: dict[str, KeyPair]
) -> None:
    key = keypairs["staging"].key
    with pytest.raises(UsageError, match=f"evaluated bundle {DIGEST}"):
        evals.attest_report(report, bundle_digest=OTHER, key=key)
    registry_run = {
        **report,
        "source": {"commit": "1" * 40, "bundle_digest": None, "release": None},
    }
    with pytest.raises(UsageError, match="registry files, not a bundle"):
        evals.attest_report(registry_run, bundle_digest=DIGEST, key=key)
    with pytest.raises(UsageError, match="for staging, the bundle for production"):
        evals.attest_report(report, bundle_digest=DIGEST, key=key, bundle_env="production")
    sharded = {**report, "shard": {"index": 1, "count": 2}}
    with pytest.raises(UsageError, match="merge the shards"):
        evals.attest_report(sharded, bundle_digest=DIGEST, key=key)
    spanning = {**report, "env": None}
    with pytest.raises(UsageError, match="several environments"):
        evals.attest_report(spanning, bundle_digest=DIGEST, key=key)
    with pytest.raises(UsageError, match="not a bundle digest"):
        evals.attest_report(
            {**report, "source": {**report["source"], "bundle_digest": "md5:x"}},
            bundle_digest="md5:x",
            key=key,
        )


def test_pae_matches_the_dsse_spec_example() -> None:
    # https://github.com/secure-systems-lab/dsse/blob/master/protocol.md (test vector)
    assert attest.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_without_expectations_the_claimed_environment_chooses_the_key(
    report: dict[str, Any], keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    """What the gate does: it learns bundle and environment from the attestation itself."""
    data = _attest(report, keypairs["staging"].key)
    verified = attest.verify_attestation(data, allowed, bundle_digest=None, env=None, now=NOW)
    assert verified.predicate["env"] == "staging"
    assert verified.statement["subject"][0]["digest"]["sha256"] == "ab" * 32
    # Claiming production does not help a staging key: production's key must have signed.
    claimed = {**report, "env": "production"}
    forged = _attest(claimed, keypairs["staging"].key)
    with pytest.raises(SignatureKeyNotAllowed, match="production@promptship"):
        attest.verify_attestation(forged, allowed, bundle_digest=None, env=None, now=NOW)
    nameless = attest.statement(DIGEST, {**attest.predicate_from_report(report), "env": "../x"})
    with pytest.raises(AttestationMalformed, match="names no environment"):
        attest.verify_attestation(
            _with_statement(nameless, keypairs["staging"].key),
            allowed,
            bundle_digest=None,
            env=None,
            now=NOW,
        )
