"""Deterministic release bundles: build them, read them back strictly, verify them.

A bundle is an uncompressed USTAR archive: ``manifest.json`` first, then every
file sorted by path; each member a regular file with mode 0644, uid/gid 0,
empty owner names and mtime = the manifest's ``created`` (the source commit's
time). The same files and values give the same bytes on any machine, because
the archive is written here field by field, never from a file system.

Reading parses the archive block by block and trusts nothing: size caps come
first, every header is checked (checksum, USTAR magic, type, path, size), and
the members must match the manifest exactly. Finally the archive must be
byte-identical to the one :func:`build_bundle` would write for that manifest,
so the tar bytes are as determined by the signed manifest as the files are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from promptship.core.errors import BundleError, UsageError
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

_BLOCK = 512
_RECORD = 20 * _BLOCK
_ZERO_BLOCK = bytes(_BLOCK)
_MAGIC = b"ustar\x0000"
_TYPES = {
    b"1": "a hard link",
    b"2": "a symbolic link",
    b"3": "a character device",
    b"4": "a block device",
    b"5": "a directory",
    b"6": "a FIFO",
    b"7": "a contiguous file",
    b"\x00": "an old-style (pre-POSIX) file entry",
    b"x": "a pax extended header",
    b"g": "a pax global header",
    b"L": "a GNU long-name header",
    b"K": "a GNU long-link header",
    b"S": "a GNU sparse file",
    b"V": "a GNU volume header",
    b"M": "a GNU multi-volume continuation",
}


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


def _split_name(path: str) -> tuple[bytes, bytes]:
    """USTAR (prefix, name): the shortest prefix that leaves a name of at most 100 bytes."""
    raw = path.encode("ascii")
    if len(raw) <= 100:
        return b"", raw
    parts = path.split("/")
    for i in range(1, len(parts)):
        prefix, name = "/".join(parts[:i]).encode(), "/".join(parts[i:]).encode()
        if len(prefix) <= 155 and len(name) <= 100:
            return prefix, name
    raise BundleError(f"{path}: too long for a USTAR header")  # path_problem rules this out


def _header(path: str, size: int, mtime: int) -> bytes:
    prefix, name = _split_name(path)
    buf = bytearray(_BLOCK)
    buf[0 : len(name)] = name
    buf[100:108] = b"0000644\x00"
    buf[108:116] = b"0000000\x00"
    buf[116:124] = b"0000000\x00"
    buf[124:136] = b"%011o\x00" % size
    buf[136:148] = b"%011o\x00" % mtime
    buf[148:156] = b" " * 8
    buf[156:157] = b"0"
    buf[257:265] = _MAGIC
    # uname, gname, devmajor and devminor stay NUL: no owner names, not a device
    buf[345 : 345 + len(prefix)] = prefix
    buf[148:156] = b"%06o\x00 " % sum(buf)
    return bytes(buf)


def _write_tar(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    out = bytearray()
    for path, data in members:
        if len(data) >= 8**11:
            raise BundleError(f"{path}: {len(data)} bytes is too large for a USTAR member")
        out += _header(path, len(data), mtime)
        out += data
        out += bytes(-len(data) % _BLOCK)
    out += bytes(2 * _BLOCK)
    out += bytes(-len(out) % _RECORD)
    return bytes(out)


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
    tar = _write_tar(members, int(manifest.created.timestamp()))
    return Bundle(tar=tar, manifest=data, digest=manifest_digest(data))


# --- reading ------------------------------------------------------------------------


def _octal(field_bytes: bytes, what: str, offset: int) -> int:
    text = field_bytes.rstrip(b"\x00 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        raise BundleError(f"tar header at byte {offset}: {what} is not an octal number")
    return int(text, 8)


def _cstring(field_bytes: bytes) -> bytes:
    return field_bytes.split(b"\x00", 1)[0]


def _check_archive_size(tar: bytes, max_bytes: int) -> None:
    if len(tar) > max_bytes:
        raise BundleError(
            f"bundle is {len(tar)} bytes, over the cap of {max_bytes}",
            hint="raise max_bytes only if the registry really is that large",
        )
    if len(tar) % _BLOCK:
        raise BundleError(f"bundle is {len(tar)} bytes, not a whole number of 512-byte blocks")


def _check_end(tar: bytes, pos: int) -> None:
    """What follows the first zero block at ``pos``: zeros only, two blocks at least."""
    if tar[pos:] != bytes(len(tar) - pos):
        raise BundleError(f"bundle has data after the end-of-archive marker (byte {pos})")
    if len(tar) - pos < 2 * _BLOCK:
        raise BundleError("bundle is truncated: incomplete end-of-archive marker")


def _member_name(block: bytes) -> str:
    raw_name = _cstring(block[345:500]) + b"/" if block[345] else b""
    raw_name += _cstring(block[0:100])
    try:
        return raw_name.decode("ascii")
    except UnicodeDecodeError:
        return raw_name.decode("ascii", "backslashreplace")


def _read_header(block: bytes, pos: int, max_member_bytes: int) -> tuple[str, int]:
    """A member's path and size, after checking its header on its own (in this order)."""
    stored = _octal(block[148:156], "checksum", pos)
    if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
        raise BundleError(f"tar header at byte {pos} has a bad checksum")
    name = _member_name(block)
    typeflag = block[156:157]
    if typeflag != b"0":
        kind = _TYPES.get(typeflag, f"of unknown type {typeflag!r}")
        raise BundleError(
            f"member {name!r} is {kind}; bundles hold regular files only",
            hint="links, devices, directories and extension headers are never bundled",
        )
    if block[257:265] != _MAGIC:
        kind = "GNU tar" if block[257:265] == b"ustar  \x00" else "non-USTAR"
        raise BundleError(f"member {name!r} has a {kind} header; bundles are plain USTAR")
    problem = path_problem(name)
    if problem:
        raise BundleError(f"member {name!r} has an unsafe path: {problem}")
    size = _octal(block[124:136], f"size of {name!r}", pos)
    if size > max_member_bytes:
        raise BundleError(
            f"member {name!r} is {size} bytes, over the per-member cap of {max_member_bytes}"
        )
    return name, size


def _scan(
    tar: bytes, *, max_bytes: int, max_member_bytes: int, max_members: int
) -> list[tuple[str, bytes]]:
    """Every member's (path, bytes), after checking each header on its own."""
    _check_archive_size(tar, max_bytes)
    members: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    pos = 0
    while True:
        if pos + _BLOCK > len(tar):
            raise BundleError("bundle is truncated: no end-of-archive marker")
        block = tar[pos : pos + _BLOCK]
        if block == _ZERO_BLOCK:
            _check_end(tar, pos)
            break
        name, size = _read_header(block, pos, max_member_bytes)
        start = pos + _BLOCK
        if start + size > len(tar):
            raise BundleError(f"bundle is truncated inside member {name!r}")
        if name in seen:
            raise BundleError(f"member {name!r} appears twice", hint="a reader could see either")
        seen.add(name)
        if len(members) >= max_members:
            raise BundleError(f"bundle has more than {max_members} members")
        members.append((name, tar[start : start + size]))
        pos = start + size + (-size % _BLOCK)
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
    canonical = _write_tar(
        [(MANIFEST_NAME, data)] + [(e.path, files[e.path]) for e in manifest.files],
        int(manifest.created.timestamp()),
    )
    if canonical != tar:
        raise BundleError(
            f"tar is not in canonical form: {_difference(canonical, tar, members)}",
            hint="members must have mode 0644, uid/gid 0, no owner names, "
            "mtime = the manifest's created time, and zero padding",
        )
    return VerifiedBundle(manifest, data, manifest_digest(data), MappingProxyType(files), signer)


_FIELDS = (
    (100, "name"),
    (108, "mode"),
    (116, "uid"),
    (124, "gid"),
    (136, "size"),
    (148, "mtime"),
    (156, "checksum"),
    (157, "type"),
    (257, "linkname"),
    (263, "magic"),
    (265, "version"),
    (297, "uname"),
    (329, "gname"),
    (337, "devmajor"),
    (345, "devminor"),
    (500, "prefix"),
    (512, "unused header bytes"),
)


def _difference(canonical: bytes, tar: bytes, members: list[tuple[str, bytes]]) -> str:
    """Where ``tar`` first departs from ``canonical``, named by member and header field."""
    at = next(
        (i for i, (x, y) in enumerate(zip(canonical, tar, strict=False)) if x != y),
        min(len(canonical), len(tar)),
    )
    pos = 0
    for name, data in members:
        if at < pos + _BLOCK:
            differ, start = [], 0
            for end, field_name in _FIELDS:
                if canonical[pos + start : pos + end] != tar[pos + start : pos + end]:
                    differ.append(field_name)
                start = end
            shown = [f for f in differ if f != "checksum"] or differ
            return f"member {name!r} header field {shown[0]} differs (byte {at})"
        pos += _BLOCK + len(data)
        padded = pos + (-len(data) % _BLOCK)
        if at < padded:
            return f"padding after member {name!r} is not zero (byte {at})"
        pos = padded
    return f"end-of-archive blocks or record padding differ (byte {at})"


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
    signer = verify(
        allowed,
        members[0][1],
        signature,
        principal=principal_for(environment),
        namespace=BUNDLE_NAMESPACE,
        now=now,
    )
    bundle = _check(tar, members, signer)
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
