"""Deterministic release bundles: build them, read them back strictly, verify them.

A bundle is an uncompressed USTAR archive: ``manifest.json`` first, then every
file sorted by path; each member a regular file with mode 0644, uid/gid 0,
empty owner names and mtime = the manifest's ``created`` (the source commit's
time). The same files and values give the same bytes on any machine, because
the archive is written here field by field, never from a file system.

Reading trusts nothing. An archive is accepted only when it is byte-identical
to the one :func:`build_bundle` would write for its (signed) manifest, so the
tar bytes are as determined by the manifest as the files are. The usual case,
a canonical archive, is proven in one pass: signature, manifest, then each
member's header compared with the canonical one and its sha256 with the
manifest's. Any other archive is read block by block to name the first
problem: size caps come first, every header is checked (checksum, USTAR magic,
type, path, size), the members must match the manifest exactly, and the
archive must be canonical. Both readings reach the same decision
(``tests/unit/release/test_bundle_onepass.py``); the archive format itself is
:mod:`promptship.release.ustar`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from promptship.core.errors import BundleError, PromptshipError, UsageError
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.manifest import (
    MANIFEST_NAME,
    Manifest,
    build_manifest,
    encode_manifest,
    format_time,
    manifest_digest,
    parse_manifest,
    path_problem,
)
from promptship.release.sshsig import BUNDLE_NAMESPACE, SignerInfo, principal_for, verify
from promptship.release.ustar import (
    BLOCK,
    ZERO_BLOCK,
    archive_length,
    check_archive_size,
    check_end,
    difference,
    header,
    read_header,
    write_tar,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MEMBERS",
    "DEFAULT_MAX_MEMBER_BYTES",
    "Bundle",
    "VerifiedBundle",
    "build_bundle",
    "read_bundle",
    "verify_bundle",
]

DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_MEMBER_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_MEMBERS = 100_000


@dataclass(frozen=True)
class Bundle:
    """A built bundle.

    Attributes:
        tar: The archive's bytes.
        manifest: The canonical manifest bytes (what is signed).
        digest: ``sha256:…`` of the manifest: the bundle's identity.
    """

    tar: bytes = field(repr=False)
    manifest: bytes = field(repr=False)
    digest: str


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose archive, manifest and files were checked against each other.

    Attributes:
        manifest: The parsed manifest.
        manifest_bytes: Its canonical bytes.
        digest: ``sha256:…`` of the manifest bytes.
        files: Path to bytes of every file (not the manifest), read-only.
        signer: Who signed it, when it came from :func:`verify_bundle`; ``None`` from
            :func:`read_bundle`, which proves integrity but not who made it.
    """

    manifest: Manifest
    manifest_bytes: bytes = field(repr=False)
    digest: str
    files: Mapping[str, bytes] = field(repr=False)
    signer: SignerInfo | None = None


# --- writing ------------------------------------------------------------------------


def build_bundle(
    files: Mapping[str, bytes],
    *,
    environment: str,
    release: int,
    source_commit: str,
    created: datetime,
    expires: datetime,
    evals: str | None = None,
) -> Bundle:
    """Build the bundle of ``files`` (path → bytes); the same inputs give the same bytes.

    Args:
        files: The bundle's files; paths must be safe (see ``manifest.path_problem``).
        environment: The environment it is built for.
        release: The release number.
        source_commit: The git commit the files were read at.
        created: The source commit's time; every member's mtime.
        expires: When the bundle stops being valid.
        evals: The eval attestation's digest, when there is one.

    Raises:
        BundleError: A path is unsafe or a value breaks the manifest schema.
    """
    for path in files:
        problem = path_problem(path)
        if problem:
            raise BundleError(f"{path!r}: {problem}", hint="bundle paths are safe relative names")
    manifest = build_manifest(
        files,
        environment=environment,
        release=release,
        source_commit=source_commit,
        created=created,
        expires=expires,
        evals=evals,
    )
    data = encode_manifest(manifest)
    members = [(MANIFEST_NAME, data)] + [(e.path, files[e.path]) for e in manifest.files]
    tar = write_tar(members, int(manifest.created.timestamp()))
    return Bundle(tar=tar, manifest=data, digest=manifest_digest(data))


# --- reading ------------------------------------------------------------------------


def _scan(
    tar: bytes, *, max_bytes: int, max_member_bytes: int, max_members: int
) -> list[tuple[str, bytes]]:
    """Every member's (path, bytes), after checking each header on its own."""
    check_archive_size(tar, max_bytes)
    members: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    pos = 0
    while True:
        if pos + BLOCK > len(tar):
            raise BundleError("bundle is truncated: no end-of-archive marker")
        block = tar[pos : pos + BLOCK]
        if block == ZERO_BLOCK:
            check_end(tar, pos)
            break
        name, size = read_header(block, pos, max_member_bytes)
        start = pos + BLOCK
        if start + size > len(tar):
            raise BundleError(f"bundle is truncated inside member {name!r}")
        if name in seen:
            raise BundleError(f"member {name!r} appears twice", hint="a reader could see either")
        seen.add(name)
        if len(members) >= max_members:
            raise BundleError(f"bundle has more than {max_members} members")
        members.append((name, tar[start : start + size]))
        pos = start + size + (-size % BLOCK)
    if not members or members[0][0] != MANIFEST_NAME:
        first = repr(members[0][0]) if members else "nothing"
        raise BundleError(f"the first member must be {MANIFEST_NAME}, not {first}")
    return members


def _check(
    tar: bytes, members: list[tuple[str, bytes]], signer: SignerInfo | None
) -> VerifiedBundle:
    """Parse the manifest and hold the members to it, then the archive to its canonical form."""
    data = members[0][1]
    manifest = parse_manifest(data)
    listed = {e.path: e for e in manifest.files}
    files = dict(members[1:])
    for path in files:
        if path not in listed:
            raise BundleError(f"member {path!r} is not listed in the manifest")
    for entry in manifest.files:
        if entry.path not in files:
            raise BundleError(f"{entry.path!r} is listed in the manifest but missing from the tar")
        body = files[entry.path]
        if len(body) != entry.size:
            raise BundleError(
                f"member {entry.path!r} is {len(body)} bytes; the manifest says {entry.size}"
            )
        if hashlib.sha256(body).hexdigest() != entry.sha256:
            raise BundleError(
                f"member {entry.path!r} does not match its sha256 in the manifest",
                hint="the file was altered after the bundle was built",
            )
    if [p for p, _ in members[1:]] != [e.path for e in manifest.files]:
        raise BundleError("members are not in the manifest's (path-sorted) order")
    canonical = write_tar(
        [(MANIFEST_NAME, data)] + [(e.path, files[e.path]) for e in manifest.files],
        int(manifest.created.timestamp()),
    )
    if canonical != tar:
        raise BundleError(
            f"tar is not in canonical form: {difference(canonical, tar, members)}",
            hint="members must have mode 0644, uid/gid 0, no owner names, "
            "mtime = the manifest's created time, and zero padding",
        )
    return VerifiedBundle(manifest, data, manifest_digest(data), MappingProxyType(files), signer)


# --- the one-pass reading of a canonical archive ----------------------------------------

_Sign = Callable[[bytes], SignerInfo | None]
"""Checks the manifest's signature over its raw bytes (raises when it does not verify)."""


def _first_member(tar: bytes) -> bytes | None:
    """The bytes the first header says it holds, unchecked (:func:`_canonical_files` proves it)."""
    try:
        size = int(tar[124:135], 8)
    except ValueError:
        return None
    data = tar[BLOCK : BLOCK + size]
    return data if len(data) == size else None


def _canonical_files(
    tar: bytes, data: bytes, manifest: Manifest, max_member_bytes: int, max_members: int
) -> dict[str, bytes] | None:
    """The files when ``tar`` is exactly the canonical archive ``data`` lists, else ``None``.

    Canonical: the manifest first, then files of the sizes and sha256 it lists, as
    :func:`~promptship.release.ustar.write_tar` writes them. For such an archive
    this proves, in one pass and without rebuilding it, all that :func:`_scan` and
    :func:`_check` prove: every header is the canonical one (a regular file, valid
    checksum, USTAR, the manifest's safe path), the members are the manifest's in
    its order, each of its size and sha256, padding and end are zeros, and the caps
    hold.
    """
    entries = manifest.files
    if len(entries) >= max_members:
        return None
    mtime = int(manifest.created.timestamp())
    sha256 = hashlib.sha256
    files: dict[str, bytes] = {}
    pos = 0
    members = [(MANIFEST_NAME, len(data), "")] + [(e.path, e.size, e.sha256) for e in entries]
    for path, size, digest in members:
        if size > max_member_bytes:
            return None
        start = pos + BLOCK
        if tar[pos:start] != header(path, size, mtime):
            return None
        end = start + size
        pos = end + (-size % BLOCK)
        if tar[end:pos] != ZERO_BLOCK[: pos - end]:
            return None
        if digest:  # the manifest (no digest) is ``data``, whose size its header fixed
            body = tar[start:end]
            if len(body) != size or sha256(body).hexdigest() != digest:
                return None
            files[path] = body
    if len(tar) != archive_length(pos) or tar[pos:] != bytes(len(tar) - pos):
        return None
    return files


def _read_canonical(
    tar: bytes, data: bytes, sign: _Sign, max_member_bytes: int, max_members: int
) -> VerifiedBundle | None:
    """The bundle when its signature, manifest and canonical archive all check; else ``None``.

    The signature is checked before the manifest is parsed. ``None`` says only that
    the one-pass reading does not accept the archive: the full reading decides, and
    names the problem exactly as it always has.
    """
    try:
        signer = sign(data)
        manifest = parse_manifest(data)
        files = _canonical_files(tar, data, manifest, max_member_bytes, max_members)
    except PromptshipError:
        return None
    if files is None:
        return None
    return VerifiedBundle(manifest, data, manifest_digest(data), MappingProxyType(files), signer)


def read_bundle(
    tar: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> VerifiedBundle:
    """Read a bundle and check that archive, manifest and files agree; no signature check.

    Raises:
        BundleError: The first problem found, each kind with its own message:
            size caps, header checksum or format, member types (links, devices,
            directories, extension headers), unsafe or duplicate paths, manifest
            not first or not canonical, members not listed or missing, size or
            sha256 mismatch, non-canonical tar headers.
    """
    check_archive_size(tar, max_bytes)
    data = _first_member(tar)
    if data is not None:
        fast = _read_canonical(tar, data, lambda _: None, max_member_bytes, max_members)
        if fast is not None:
            return fast
    members = _scan(
        tar, max_bytes=max_bytes, max_member_bytes=max_member_bytes, max_members=max_members
    )
    return _check(tar, members, None)


def verify_bundle(  # noqa: PLR0913 - the size caps are keyword options with defaults
    tar: bytes,
    signature: str,
    allowed: AllowedSigners,
    *,
    environment: str,
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    expect_digest: str | None = None,
) -> VerifiedBundle:
    """Read a bundle, check its manifest's signature, environment and expiry.

    The signature is checked over the raw ``manifest.json`` bytes before they are
    parsed, by a key ``allowed`` lists for ``<environment>@promptship`` in the
    namespace ``promptship-bundle@v1``. With ``expect_digest`` (the digest a
    channel names), the manifest's digest is compared first, before the signature.

    Raises:
        BundleError: As :func:`read_bundle`, or the manifest digest is not
            ``expect_digest``, or the bundle is for another environment, or it has expired.
        SignatureError: The signature does not verify (a subclass says why).
    """
    if now.tzinfo is None:
        raise UsageError("verify_bundle needs a time zone-aware `now`")

    def sign(manifest: bytes) -> SignerInfo:
        return verify(
            allowed,
            manifest,
            signature,
            principal=principal_for(environment),
            namespace=BUNDLE_NAMESPACE,
            now=now,
        )

    check_archive_size(tar, max_bytes)
    data = _first_member(tar)
    bundle = None
    if data is not None and (expect_digest is None or manifest_digest(data) == expect_digest):
        bundle = _read_canonical(tar, data, sign, max_member_bytes, max_members)
    if bundle is None:  # the full reading, which names the first problem
        members = _scan(
            tar, max_bytes=max_bytes, max_member_bytes=max_member_bytes, max_members=max_members
        )
        if expect_digest is not None:
            got = manifest_digest(members[0][1])
            if got != expect_digest:
                raise BundleError(
                    f"bundle digest mismatch: expected {expect_digest} (named by the channel), "
                    f"got {got}",
                    hint="the store serves another bundle under that name: tampered or corrupt",
                )
        bundle = _check(tar, members, sign(members[0][1]))
    return _servable(bundle, environment, now)


def _servable(bundle: VerifiedBundle, environment: str, now: datetime) -> VerifiedBundle:
    """``bundle`` if it is for ``environment`` and not expired at ``now``."""
    if bundle.manifest.environment != environment:
        raise BundleError(
            f"bundle is for environment {bundle.manifest.environment!r}, expected {environment!r}",
            hint="a bundle built for one environment is never served in another",
        )
    if now.astimezone(UTC) >= bundle.manifest.expires:
        raise BundleError(
            f"bundle expired at {format_time(bundle.manifest.expires)}",
            hint="publish a fresh bundle; an expired one may be a replayed old release",
        )
    return bundle
