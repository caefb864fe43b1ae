"""Eval attestations: an in-toto Statement v1 in a DSSE envelope, pure.

The statement's subject is a bundle (its manifest digest) and its predicate
the eval results that gate it (``https://promptship.dev/attestations/eval/v1``).
The envelope is signed with Ed25519 over DSSE's pre-authentication encoding
(:func:`pae`); the key id is the key's ``SHA256:…`` fingerprint. A verifier
accepts the envelope only when a key that ``environments/allowed_signers``
allows for ``<env>@promptship`` (in :data:`ATTESTATION_NAMESPACE`, when the line
restricts namespaces) signed it, and the statement is about the expected
bundle and environment. Signing is passed in as a function, so this module
holds no key and does no I/O.

Specs: https://github.com/secure-systems-lab/dsse (envelope, PAE) and
https://github.com/in-toto/attestation (Statement v1).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from promptship.core import jsonlimits
from promptship.core.errors import (
    AttestationEnvironmentMismatch,
    AttestationMalformed,
    AttestationSubjectMismatch,
    SignatureError,
    SignatureInvalid,
    SignatureUnknownKey,
    UsageError,
)
from promptship.release.allowed_signers import AllowedSigners, allowed_signer_for, ed25519_raw
from promptship.release.canonical import MAX_DOCUMENT_DEPTH

__all__ = [
    "ATTESTATION_NAMESPACE",
    "MAX_ENVELOPE_BYTES",
    "PAYLOAD_TYPE",
    "PREDICATE_TYPE",
    "REVIEW_PREDICATE_TYPE",
    "STATEMENT_TYPE",
    "VerifiedAttestation",
    "encode_envelope",
    "pae",
    "predicate_from_report",
    "statement",
    "verify_attestation",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
PREDICATE_TYPE = "https://promptship.dev/attestations/eval/v1"
REVIEW_PREDICATE_TYPE = "https://promptship.dev/attestations/review/v1"
"""Human review of a bundle's eval outputs (``promptship review attest``)."""
ATTESTATION_NAMESPACE = "promptship-attestation@v1"
"""The allowed-signers namespace a key must be allowed in (when its line restricts namespaces)."""

MAX_ENVELOPE_BYTES = 32 * 1024 * 1024
_MAX_SIGNATURES = 16
_DIGEST = re.compile(r"^sha256:([0-9a-f]{64})\Z")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")
_SUITE_FIELDS = (
    "prompt",
    "variant",
    "suite_digest",
    "content_digest",
    "cases",
    "passed",
    "pass_rate",
    "min_pass_rate",
    "ok",
)

Sign = Callable[[bytes], bytes]
"""Signs bytes with the release key's Ed25519 private half (64-byte signature)."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers.

    ``"DSSEv1" SP len(type) SP type SP len(payload) SP payload``, lengths in
    ASCII decimal of the UTF-8 byte counts.
    """
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _hex(digest: str) -> str:
    m = _DIGEST.match(digest)
    if m is None:
        raise UsageError(f"{digest!r} is not a bundle digest", hint="expected sha256:<64 hex>")
    return m.group(1)


def predicate_from_report(report: Mapping[str, Any]) -> dict[str, Any]:
    """The attestation predicate of a checked eval report (one environment, all shards).

    Raises:
        UsageError: The report spans several environments or is one shard of a run.
    """
    env = report.get("env")
    if not isinstance(env, str):
        raise UsageError(
            "the report spans several environments; an attestation is for one bundle",
            hint="evaluate the bundle: promptship eval --bundle ENV.tar",
        )
    shard = report["shard"]
    if shard["count"] != 1:
        raise UsageError(
            f"the report is shard {shard['index']} of {shard['count']}",
            hint="merge the shards first: promptship eval merge ... -o report.json",
        )
    source = report["source"]
    return {
        "env": env,
        "release": source["release"],
        "source_commit": source["commit"],
        "provider": dict(report["provider"]),
        "suites": [{k: s[k] for k in _SUITE_FIELDS} for s in report["suites"]],
        "ok": bool(report["summary"]["ok"]),
    }


def statement(
    bundle_digest: str, predicate: Mapping[str, Any], predicate_type: str = PREDICATE_TYPE
) -> dict[str, Any]:
    """The in-toto Statement v1 saying ``predicate`` (evals, or ``predicate_type``) about a bundle."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "bundle", "digest": {"sha256": _hex(bundle_digest)}}],
        "predicateType": predicate_type,
        "predicate": dict(predicate),
    }


def encode_envelope(stmt: Mapping[str, Any], *, keyid: str, sign: Sign) -> bytes:
    """A DSSE envelope of ``stmt``, as one JSON line (``.intoto.jsonl``).

    The payload is the statement's RFC 8785 canonical JSON, so the same
    statement always gives the same bytes (Ed25519 signatures are deterministic).
    """
    payload = bytes(rfc8785.dumps(stmt))
    signature = sign(pae(PAYLOAD_TYPE, payload))
    envelope = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": keyid, "sig": base64.b64encode(signature).decode()}],
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode() + b"\n"


@dataclass(frozen=True)
class VerifiedAttestation:
    """An attestation whose signature, subject and environment were checked.

    Attributes:
        statement: The in-toto statement.
        predicate: Its eval predicate.
        keyid: The fingerprint of the key that signed it.
        signer: The allowed-signers line that allowed the key (``file:line``).
        principal: The principal the key was allowed for (``staging@promptship``).
    """

    statement: Mapping[str, Any]
    predicate: Mapping[str, Any]
    keyid: str
    signer: str
    principal: str = ""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise AttestationMalformed(f"envelope {what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise AttestationMalformed(f"envelope {what} is not valid base64") from e


def _json(data: bytes, what: str) -> Any:
    try:
        return jsonlimits.loads(data, max_depth=MAX_DOCUMENT_DEPTH)
    except (ValueError, RecursionError, UnicodeDecodeError) as e:
        raise AttestationMalformed(f"{what} is not JSON ({str(e)[:200]})") from None


def _check_signatures(
    envelope: Mapping[str, Any],
    payload: bytes,
    allowed: AllowedSigners,
    principal: str | None,
    now: datetime,
) -> tuple[str, str]:
    """The key id and allowed-signers line of a valid signature by a key allowed for ``principal``.

    With ``principal=None`` only the signature itself is checked (by a listed key).
    """
    signatures = envelope.get("signatures")
    if not isinstance(signatures, list) or not signatures or len(signatures) > _MAX_SIGNATURES:
        raise AttestationMalformed(
            f"envelope needs 1 to {_MAX_SIGNATURES} signatures",
            hint="sign it with promptship eval attest",
        )
    signed = pae(PAYLOAD_TYPE, payload)
    first_error: SignatureError | None = None
    for entry in signatures:
        if not isinstance(entry, dict):
            raise AttestationMalformed("an envelope signature is not an object")
        keyid = entry.get("keyid")
        raw = _b64(entry.get("sig"), "signature")
        try:
            if not isinstance(keyid, str):
                raise SignatureUnknownKey(
                    "envelope signature has no keyid",
                    hint="promptship attestations name the key's SHA256 fingerprint",
                )
            candidates = [s for s in allowed.signers if s.fingerprint == keyid]
            if not candidates:
                raise SignatureUnknownKey(
                    f"signed by key {keyid[:80]}, which {allowed.source} does not list",
                    hint="sign with a key listed for the environment, or add its public key",
                )
            line = candidates[0]
            if principal is not None:
                line = allowed_signer_for(
                    allowed,
                    line.key_blob,
                    principal=principal,
                    namespace=ATTESTATION_NAMESPACE,
                    now=now,
                )
            public = Ed25519PublicKey.from_public_bytes(ed25519_raw(line.key_blob))
            try:
                public.verify(raw, signed)
            except InvalidSignature as e:
                raise SignatureInvalid(
                    f"attestation signature by {keyid} does not match its payload",
                    hint="the payload or the signature was altered after signing",
                ) from e
            return keyid, str(line.location)
        except SignatureError as e:
            first_error = first_error or e
    assert first_error is not None
    raise first_error


def _claimed_env(payload: bytes) -> str:
    """The environment an unverified payload claims, only to choose whose key must have signed it."""
    stmt = _json(payload, "attestation payload")
    predicate = stmt.get("predicate") if isinstance(stmt, dict) else None
    env = predicate.get("env") if isinstance(predicate, dict) else None
    if not isinstance(env, str) or not _ENV.match(env):
        raise AttestationMalformed("statement predicate names no environment")
    return env


def _subject_digests(stmt: Mapping[str, Any]) -> list[str]:
    subjects = stmt.get("subject")
    if not isinstance(subjects, list):
        return []
    out = []
    for s in subjects:
        if isinstance(s, dict) and s.get("name") == "bundle" and isinstance(s.get("digest"), dict):
            hexdigest = s["digest"].get("sha256")
            if isinstance(hexdigest, str) and re.fullmatch(r"[0-9a-f]{64}", hexdigest):
                out.append(hexdigest)
    return out


def _open_envelope(data: bytes) -> tuple[Mapping[str, Any], bytes]:
    """The DSSE envelope (size-capped JSON object of promptship's payload type) and its payload."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise AttestationMalformed(f"attestation is over {MAX_ENVELOPE_BYTES} bytes")
    envelope = _json(data, "attestation")
    if not isinstance(envelope, dict):
        raise AttestationMalformed("attestation is not a DSSE envelope (a JSON object)")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise AttestationMalformed(
            f"envelope payloadType is {str(envelope.get('payloadType'))[:80]!r}, not {PAYLOAD_TYPE!r}"
        )
    return envelope, _b64(envelope.get("payload"), "payload")


def _read_statement(payload: bytes, predicate_type: str) -> Mapping[str, Any]:
    """The verified payload as an in-toto statement of ``predicate_type``."""
    stmt = _json(payload, "attestation payload")
    if not isinstance(stmt, dict) or stmt.get("_type") != STATEMENT_TYPE:
        raise AttestationMalformed(f"payload is not an in-toto statement ({STATEMENT_TYPE})")
    if stmt.get("predicateType") != predicate_type:
        raise AttestationMalformed(
            f"statement predicateType is {str(stmt.get('predicateType'))[:80]!r}, not {predicate_type!r}"
        )
    return stmt


def _check_subject(stmt: Mapping[str, Any], want: str | None, bundle_digest: str | None) -> None:
    digests = _subject_digests(stmt)
    if len(digests) != 1:
        raise AttestationMalformed("statement must name exactly one bundle subject")
    if want is not None and digests[0] != want:
        raise AttestationSubjectMismatch(
            f"attestation is about bundle sha256:{digests[0]}, not {bundle_digest}",
            hint="an attestation vouches for one bundle; evaluate and attest this one",
        )


def _check_predicate(
    stmt: Mapping[str, Any], signer_env: str, predicate_type: str
) -> Mapping[str, Any]:
    predicate = stmt.get("predicate")
    evals = predicate_type == PREDICATE_TYPE
    if evals and (
        not isinstance(predicate, dict)
        or not isinstance(predicate.get("suites"), list)
        or not isinstance(predicate.get("ok"), bool)
    ):
        raise AttestationMalformed("statement predicate is not a promptship eval result")
    if not isinstance(predicate, dict):
        raise AttestationMalformed("statement predicate is not an object")
    if predicate.get("env") != signer_env:
        raise AttestationEnvironmentMismatch(
            f"attestation records evals in {str(predicate.get('env'))[:40]!r}, not {signer_env!r}",
            hint="each environment's bundle is evaluated and attested in that environment",
        )
    return predicate


def _signed_for(
    envelope: Mapping[str, Any],
    payload: bytes,
    allowed: AllowedSigners,
    envs: list[str],
    now: datetime,
) -> tuple[str, str, str]:
    """The key id, allowed-signers line and principal of a signature by a key of one of ``envs``."""
    first: SignatureError | None = None
    for env in envs:
        principal = f"{env}@promptship"
        try:
            keyid, line = _check_signatures(envelope, payload, allowed, principal, now)
        except SignatureError as e:
            first = first or e
            continue
        return keyid, line, principal
    assert first is not None
    raise first


def verify_attestation(
    data: bytes,
    allowed: AllowedSigners,
    *,
    bundle_digest: str | None,
    env: str | None,
    now: datetime,
    vouchers: Mapping[str, str] | None = None,
    predicate_type: str = PREDICATE_TYPE,
) -> VerifiedAttestation:
    """Check one DSSE envelope (one line of an ``.intoto.jsonl`` file).

    The signature is checked over the payload's bytes before the statement is
    read; then it must be an in-toto v1 statement of ``predicate_type``
    (promptship evals by default; the caller checks another type's fields) whose
    subject is ``bundle_digest`` and whose environment is ``env``. With
    ``env=None`` the key must be allowed for the environment the statement
    claims (what the gate does: it reads the environment from the evidence);
    with ``bundle_digest=None`` any one bundle subject is accepted.

    ``vouchers`` maps an environment to the one it promotes from: a statement
    about environment E may then also be signed by a key allowed for
    ``vouchers[E]@promptship``. The release pipeline evaluates a promotion's
    candidate bundle where the model key lives (the stage before), and signs
    the result there; the stage's key already vouches for what it released.

    Raises:
        AttestationMalformed: Not a DSSE envelope of such a statement (or over the size cap).
        SignatureUnknownKey: The key id names no key of ``allowed``.
        SignatureKeyNotAllowed: The key is listed, but not for the
            environment, the attestation namespace, or now.
        SignatureInvalid: The payload or the signature was altered.
        AttestationSubjectMismatch: The statement is about another bundle.
        AttestationEnvironmentMismatch: The evals ran in another environment.
    """
    if now.tzinfo is None:
        raise UsageError("verify_attestation needs a time zone-aware `now`")
    if env is not None and not _ENV.match(env):
        raise UsageError(f"{env!r} is not an environment name")
    want = _hex(bundle_digest) if bundle_digest is not None else None
    envelope, payload = _open_envelope(data)
    if env is None:  # authentic first, then read which environment's key it must be
        _check_signatures(envelope, payload, allowed, None, now)
    signer_env = env if env is not None else _claimed_env(payload)
    envs = [signer_env]
    voucher = (vouchers or {}).get(signer_env)
    if voucher is not None and voucher != signer_env:
        envs.append(voucher)
    keyid, signer, principal = _signed_for(envelope, payload, allowed, envs, now)
    stmt = _read_statement(payload, predicate_type)
    _check_subject(stmt, want, bundle_digest)
    predicate = _check_predicate(stmt, signer_env, predicate_type)
    return VerifiedAttestation(stmt, predicate, keyid, signer, principal)
