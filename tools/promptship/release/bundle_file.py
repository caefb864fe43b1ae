"""A bundle as files on disk, ``ENV.tar`` beside ``ENV.tar.sig``: build, sign, verify, inspect.

The use cases behind ``promptship bundle build|sign|verify|inspect``, callable
without the command line. Files are written with
:func:`promptship.fs.write_atomic`, and, like any file a user asks a command
for, get the mode their umask allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from promptship.fs import read_file, write_atomic
from promptship.git import GitRepo
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.build import Built, build_from_git, check_pin
from promptship.release.bundle import DEFAULT_MAX_BYTES, VerifiedBundle, read_bundle, verify_bundle
from promptship.release.document import BundleDocuments, read_bundle_documents
from promptship.release.manifest import format_time
from promptship.release.sshsig import BUNDLE_NAMESPACE, MAX_SIGNATURE_BYTES, SigningKey, sign

__all__ = [
    "WrittenBundle",
    "expiry_warning",
    "inspect_bundle_file",
    "read_input",
    "sign_bundle_file",
    "signature_file",
    "verify_bundle_file",
    "write_bundle",
]


def read_input(path: Path, what: str, cap: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a file the user named, a regular file of at most ``cap`` bytes.

    Read with :func:`promptship.fs.read_file`: the size is checked before a byte is
    read, and a FIFO or device is refused rather than waited on or read forever.

    Raises:
        UsageError: It cannot be read, is not a regular file, or is over ``cap``.
    """
    return read_file(path, cap, what=what)


def signature_file(tar: Path) -> Path:
    """Where a bundle file's signature lives by default: ``TAR.sig``."""
    return tar.with_name(tar.name + ".sig")


def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data, make_parents=True, apply_umask=True)


@dataclass(frozen=True)
class WrittenBundle:
    """A bundle built from git and written to a folder.

    Attributes:
        built: The bundle, and the plan and policy that decided it.
        tar: Where the bundle was written.
        signature: Where its signature was written, when it was signed.
    """

    built: Built
    tar: Path
    signature: Path | None


def write_bundle(
    repo: GitRepo, env: str, out_dir: Path, *, ref: str = "HEAD", key: SigningKey | None = None
) -> WrittenBundle:
    """Build ``env``'s bundle for ``ref`` into ``out_dir/ENV.tar`` (and sign it with ``key``).

    Raises:
        ValidationFailed: The registry at the source commit has errors.
        BundleError: A pinned environment's rebuild does not match its pin (nothing
            is written then).
        FileWriteError: A file cannot be written.
    """
    built = build_from_git(repo, env, ref)
    check_pin(built)
    tar = out_dir / f"{env}.tar"
    _write(tar, built.bundle.tar)
    if key is None:
        return WrittenBundle(built, tar, None)
    signature = signature_file(tar)
    _write(signature, sign(key, built.bundle.manifest, BUNDLE_NAMESPACE).encode())
    return WrittenBundle(built, tar, signature)


WARN_DAYS = 14
"""``bundle build`` warns when a bundle expires within this many days (or a shorter channel lifetime)."""


def expiry_warning(built: Built, now: datetime) -> str | None:
    """Why a freshly built bundle is already unusable or nearly so, or ``None``.

    A bundle expires ``bundle_expiry_days`` after its *source commit*, not
    after the build: building an old commit (a rollback, a quiet registry)
    can make a bundle that ``verify`` and clients refuse at once, or that no
    channel can keep serving for long.
    """
    fix = (
        "build a newer commit, or raise policy.bundle_expiry_days through review "
        "(it counts from the source commit)"
    )
    source = f"{built.plan.source_commit[:12]} of {format_time(built.plan.created)}"
    if built.expires <= now:
        return (
            f"the bundle expired at {format_time(built.expires)}: its source commit {source} is "
            f"older than bundle_expiry_days, so verify and every client refuse it; {fix}"
        )
    window = timedelta(days=min(built.channel_expiry_days, WARN_DAYS))
    if built.expires - now < window:
        days = (built.expires - now).days
        return (
            f"the bundle expires at {format_time(built.expires)}, in {days} day(s) (source commit "
            f"{source}): no channel can serve it for long, and a baked copy stops loading then; "
            f"{fix}"
        )
    return None


def sign_bundle_file(tar: Path, key: SigningKey) -> VerifiedBundle:
    """Sign a bundle file's manifest, writing ``TAR.sig``; the bundle is checked first.

    Raises:
        UsageError: The file cannot be read.
        BundleError: It is not an intact bundle.
        FileWriteError: The signature cannot be written.
    """
    verified = read_bundle(read_input(tar, "the bundle"))
    _write(signature_file(tar), sign(key, verified.manifest_bytes, BUNDLE_NAMESPACE).encode())
    return verified


def verify_bundle_file(
    tar: Path, signature: Path | None, allowed: AllowedSigners, *, env: str, now: datetime
) -> VerifiedBundle:
    """Verify a bundle file and its signature (default ``TAR.sig``) for ``env``, as a client does.

    Raises:
        UsageError: A file cannot be read.
        BundleError, SignatureError: It fails a check.
    """
    data = read_input(tar, "the bundle")  # a missing bundle is named before its signature
    sig = read_input(signature or signature_file(tar), "the signature", MAX_SIGNATURE_BYTES)
    text = sig.decode("ascii", "replace")
    return verify_bundle(data, text, allowed, environment=env, now=now)


def inspect_bundle_file(tar: Path) -> tuple[VerifiedBundle, BundleDocuments]:
    """A bundle file checked for integrity (not its signature), and its documents, read strictly.

    Raises:
        UsageError: The file cannot be read.
        BundleError: It is not an intact bundle, or a document is not what promptship writes.
    """
    verified = read_bundle(read_input(tar, "the bundle"))
    m = verified.manifest
    return verified, read_bundle_documents(verified.files, env=m.environment, release=m.release)
