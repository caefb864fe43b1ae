"""Signing eval reports as attestations, and checking attestation files (use case).

:mod:`promptship.release.attestation` holds the pure format; this module brings the key
(:mod:`promptship.release.sshsig`) and the rule that a report attests only the
bundle it evaluated. :func:`attest_report_file` and :func:`verify_attestation_path`
are ``promptship eval attest`` and ``eval verify-attestation`` on files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from promptship.core.errors import (
    AttestationError,
    AttestationMalformed,
    SignatureError,
    UsageError,
)
from promptship.evals._files import read_input, write_output
from promptship.evals._report import MAX_REPORT_BYTES, load_report
from promptship.release import attestation as attest
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.sshsig import SigningKey, sign_raw
from promptship.release.store import folder as store

__all__ = [
    "Attested",
    "BundleRef",
    "attest_report",
    "attest_report_file",
    "verify_attestation_file",
    "verify_attestation_path",
]


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
    vouchers: Mapping[str, str] | None = None,
    predicate_type: str = attest.PREDICATE_TYPE,
) -> attest.VerifiedAttestation:
    """The first envelope of an ``.intoto.jsonl`` file that verifies for the bundle and environment.

    ``None`` for ``bundle_digest`` or ``env`` accepts what the statement
    claims; ``vouchers`` lets the stage an environment promotes from sign its
    statements too (see :func:`promptship.release.attestation.verify_attestation`);
    ``predicate_type`` is the kind of statement expected (evals by default).

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
                line,
                allowed,
                bundle_digest=bundle_digest,
                env=env,
                now=now,
                vouchers=vouchers,
                predicate_type=predicate_type,
            )
        except (SignatureError, AttestationError) as e:
            first = first or e
    assert first is not None
    raise first


@dataclass(frozen=True)
class BundleRef:
    """The bundle an attestation is about: a built bundle file, or just its digest.

    Attributes:
        tar: The bundle file (its digest and environment are read from it).
        digest: Or the bundle's ``sha256:…`` digest.
    """

    tar: Path | None = None
    digest: str | None = None

    def resolve(self) -> tuple[str, str | None]:
        """The bundle's digest, and its environment when the bundle file was given.

        Raises:
            UsageError: Neither or both were given, or the bundle cannot be read.
        """
        if (self.tar is None) == (self.digest is None):
            raise UsageError("give exactly one of --bundle TAR and --bundle-digest D")
        if self.tar is not None:
            checked = bundles.read_bundle(
                read_input(self.tar, "the bundle", bundles.DEFAULT_MAX_BYTES)
            )
            return checked.digest, checked.manifest.environment
        assert self.digest is not None
        return self.digest, None


@dataclass(frozen=True)
class Attested:
    """An attestation written: where, its bytes' sha256 digest, and the bundle it is about."""

    path: Path
    sha256: str
    bundle_digest: str


def attest_report_file(
    report_path: Path,
    bundle: BundleRef,
    load_key: Callable[[], SigningKey],
    *,
    output: Path | None = None,
    store_dir: Path | None = None,
) -> Attested:
    """Sign the report at ``report_path`` as an attestation about ``bundle`` and write it.

    Args:
        report_path: The eval report of the bundle (merged, when sharded).
        bundle: The bundle the report evaluated.
        load_key: Gives the environment's release key; called once the bundle and
            the report are read (so a bad input is reported before a missing key).
        output: Write the attestation (``.intoto.jsonl``) here, or
        store_dir: into this store, at ``attestations/sha256/HEX.intoto.jsonl``.

    Raises:
        UsageError: Not exactly one of ``output`` and ``store_dir``, an unreadable
            input, or a report about something else (see :func:`attest_report`).
        FileWriteError: The attestation cannot be written.
    """
    if (output is None) == (store_dir is None):
        raise UsageError("give exactly one of --output FILE and --store DIR")
    digest, env = bundle.resolve()
    report = load_report(read_input(report_path, "the report", MAX_REPORT_BYTES), str(report_path))
    data = attest_report(report, bundle_digest=digest, key=load_key(), bundle_env=env)
    target = output if output is not None else store.attestation_path(store_dir or Path(), digest)
    write_output(target, data)
    return Attested(target, f"sha256:{hashlib.sha256(data).hexdigest()}", digest)


def verify_attestation_path(
    path: Path,
    bundle: BundleRef,
    env: str,
    load_signers: Callable[[], AllowedSigners],
    *,
    now: datetime,
) -> tuple[attest.VerifiedAttestation, str]:
    """Check the attestation file at ``path``: signed by ``env``'s key, about ``bundle``.

    Args:
        path: The ``.intoto.jsonl`` file.
        bundle: The bundle it must be about.
        env: The environment whose key must have signed it (and whose evals it holds).
        load_signers: Gives the allowed signers; called once the bundle and the file are read.
        now: The current time (a key's validity is checked against it).

    Returns:
        The verified attestation, and the bundle's digest.

    Raises:
        UsageError: The bundle is for another environment, or an input cannot be read.
        SignatureError, AttestationError: The attestation does not verify.
    """
    digest, bundle_env = bundle.resolve()
    if bundle_env is not None and bundle_env != env:
        raise UsageError(f"the bundle is for {bundle_env}, not {env}")
    data = read_input(path, "the attestation", attest.MAX_ENVELOPE_BYTES)
    verified = verify_attestation_file(data, load_signers(), bundle_digest=digest, env=env, now=now)
    return verified, digest
