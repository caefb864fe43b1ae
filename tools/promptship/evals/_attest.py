"""Signing eval reports as attestations, and checking attestation files (use case).

:mod:`promptship.release.attestation` holds the pure format; this module brings the key
(:mod:`promptship.release.sshsig`) and the rule that a report attests only the
bundle it evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from promptship.core.errors import (
    AttestationError,
    AttestationMalformed,
    SignatureError,
    UsageError,
)
from promptship.release import attestation as attest
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.sshsig import SigningKey, sign_raw

__all__ = ["attest_report", "verify_attestation_file"]


def attest_report(
    report: Mapping[str, Any],
    *,
    bundle_digest: str,
    key: SigningKey,
    bundle_env: str | None = None,
) -> bytes:
    """A signed attestation (one DSSE envelope line) of a report about ``bundle_digest``.

    Args:
        report: A checked report (:func:`promptship.evals.load_report`) of the
            whole run (merged, when sharded).
        bundle_digest: The bundle it is about: the report must have evaluated
            exactly this bundle.
        key: The release key of the bundle's environment.
        bundle_env: The bundle's environment, when known: the report's must match.

    Raises:
        UsageError: The report evaluated something else (a working tree, a
            commit, another bundle or environment), or is one shard of a run.
    """
    evaluated = report["source"]["bundle_digest"]
    if evaluated != bundle_digest:
        what = f"bundle {evaluated}" if evaluated else "registry files, not a bundle"
        raise UsageError(
            f"the report evaluated {what}; it cannot attest {bundle_digest}",
            hint="evaluate exactly that bundle: promptship eval --bundle ENV.tar --out DIR",
        )
    if bundle_env is not None and report["env"] != bundle_env:
        raise UsageError(f"the report is for {report['env']}, the bundle for {bundle_env}")
    stmt = attest.statement(bundle_digest, attest.predicate_from_report(report))
    return attest.encode_envelope(
        stmt, keyid=key.fingerprint, sign=lambda data: sign_raw(key, data)
    )


def verify_attestation_file(
    data: bytes,
    allowed: AllowedSigners,
    *,
    bundle_digest: str | None,
    env: str | None,
    now: datetime,
) -> attest.VerifiedAttestation:
    """The first envelope of an ``.intoto.jsonl`` file that verifies for the bundle and environment.

    ``None`` for ``bundle_digest`` or ``env`` accepts what the statement
    claims (see :func:`promptship.release.attestation.verify_attestation`).

    Raises:
        AttestationMalformed: The file is empty or over the size cap.
        SignatureError, AttestationError: No line verifies; the first line's error.
    """
    if len(data) > attest.MAX_ENVELOPE_BYTES:
        raise AttestationMalformed(f"attestation file is over {attest.MAX_ENVELOPE_BYTES} bytes")
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise AttestationMalformed("attestation file is empty")
    first: SignatureError | AttestationError | None = None
    for line in lines:
        try:
            return attest.verify_attestation(
                line, allowed, bundle_digest=bundle_digest, env=env, now=now
            )
        except (SignatureError, AttestationError) as e:
            first = first or e
    assert first is not None
    raise first
