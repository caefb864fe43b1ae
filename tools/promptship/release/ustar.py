"""The USTAR archive format of bundles: write an archive field by field, read headers strictly; pure.

Writing (:func:`write_tar`) gives the one canonical archive of a list of members:
each a regular file with mode 0644, uid/gid 0, empty owner names and the given
mtime, zero padding, two zero blocks and zero padding to a 10,240-byte record.
Reading checks one header on its own (:func:`read_header`: checksum, type,
USTAR magic, safe path, size cap); :func:`difference` names where an archive
departs from its canonical form. :mod:`promptship.release.bundle` holds the
bundle's rules (the manifest first, members as it lists them).
"""

from __future__ import annotations

from promptship.core.errors import BundleError
from promptship.release.manifest import path_problem

__all__ = [
    "BLOCK",
    "ZERO_BLOCK",
    "archive_length",
    "check_archive_size",
    "check_end",
    "difference",
    "header",
    "read_header",
    "write_tar",
]

BLOCK = 512
_RECORD = 20 * BLOCK
ZERO_BLOCK = bytes(BLOCK)
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


_MODE_IDS = b"0000644\x00" + b"0000000\x00" * 2
"""Mode 0644, uid 0 and gid 0: the same in every header."""
_FIXED_SUM = sum(_MODE_IDS) + 8 * 32 + ord("0") + sum(_MAGIC)
"""What the checksum counts besides name, prefix, size and mtime (the checksum field as spaces)."""
_PAD_UNTIL_MAGIC = bytes(100)  # linkname
_OWNERS = bytes(80)  # uname, gname, devmajor, devminor: no owner names, not a device


def header(path: str, size: int, mtime: int) -> bytes:
    """The canonical header of a member (a regular file, mode 0644, uid/gid 0, no owner names).

    Raises:
        BundleError: ``path`` cannot be stored (``path_problem`` rules such paths out).
    """
    prefix, name = _split_name(path)
    size_field = b"%011o\x00" % size
    mtime_field = b"%011o\x00" % mtime
    checksum = _FIXED_SUM + sum(name) + sum(prefix) + sum(size_field) + sum(mtime_field)
    return b"".join(
        (
            name.ljust(100, b"\x00"),
            _MODE_IDS,
            size_field,
            mtime_field,
            b"%06o\x00 " % checksum,
            b"0",
            _PAD_UNTIL_MAGIC,
            _MAGIC,
            _OWNERS,
            prefix.ljust(167, b"\x00"),  # the prefix field (155) and 12 unused bytes
        )
    )


def archive_length(end_of_members: int) -> int:
    """The length of a canonical archive whose last member ends (padded) at ``end_of_members``."""
    length = end_of_members + 2 * BLOCK
    return length + (-length % _RECORD)


def write_tar(members: list[tuple[str, bytes]], mtime: int) -> bytes:
    """The canonical archive of ``members`` (path, bytes), in their order.

    Raises:
        BundleError: A member is too large for a USTAR header.
    """
    out = bytearray()
    for path, data in members:
        if len(data) >= 8**11:
            raise BundleError(f"{path}: {len(data)} bytes is too large for a USTAR member")
        out += header(path, len(data), mtime)
        out += data
        out += bytes(-len(data) % BLOCK)
    out += bytes(2 * BLOCK)
    out += bytes(-len(out) % _RECORD)
    return bytes(out)


def _octal(field_bytes: bytes, what: str, offset: int) -> int:
    text = field_bytes.rstrip(b"\x00 ").lstrip(b" ")
    if not text or any(c not in b"01234567" for c in text):
        raise BundleError(f"tar header at byte {offset}: {what} is not an octal number")
    return int(text, 8)


def _cstring(field_bytes: bytes) -> bytes:
    return field_bytes.split(b"\x00", 1)[0]


def check_archive_size(tar: bytes, max_bytes: int) -> None:
    """Refuse an archive over ``max_bytes`` or not a whole number of blocks.

    Raises:
        BundleError: Saying which.
    """
    if len(tar) > max_bytes:
        raise BundleError(
            f"bundle is {len(tar)} bytes, over the cap of {max_bytes}",
            hint="raise max_bytes only if the registry really is that large",
        )
    if len(tar) % BLOCK:
        raise BundleError(f"bundle is {len(tar)} bytes, not a whole number of 512-byte blocks")


def check_end(tar: bytes, pos: int) -> None:
    """What follows the first zero block at ``pos``: zeros only, two blocks at least.

    Raises:
        BundleError: Data after the marker, or an incomplete marker.
    """
    if tar[pos:] != bytes(len(tar) - pos):
        raise BundleError(f"bundle has data after the end-of-archive marker (byte {pos})")
    if len(tar) - pos < 2 * BLOCK:
        raise BundleError("bundle is truncated: incomplete end-of-archive marker")


def _member_name(block: bytes) -> str:
    raw_name = _cstring(block[345:500]) + b"/" if block[345] else b""
    raw_name += _cstring(block[0:100])
    try:
        return raw_name.decode("ascii")
    except UnicodeDecodeError:
        return raw_name.decode("ascii", "backslashreplace")


def read_header(block: bytes, pos: int, max_member_bytes: int) -> tuple[str, int]:
    """A member's path and size, after checking its header on its own (in this order).

    Raises:
        BundleError: A bad checksum, a member that is not a regular file, a non-USTAR
            header, an unsafe path, or a size that is not octal or over ``max_member_bytes``.
    """
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


def difference(canonical: bytes, tar: bytes, members: list[tuple[str, bytes]]) -> str:
    """Where ``tar`` first departs from ``canonical``, named by member and header field."""
    at = next(
        (i for i, (x, y) in enumerate(zip(canonical, tar, strict=False)) if x != y),
        min(len(canonical), len(tar)),
    )
    pos = 0
    for name, data in members:
        if at < pos + BLOCK:
            differ, start = [], 0
            for end, field_name in _FIELDS:
                if canonical[pos + start : pos + end] != tar[pos + start : pos + end]:
                    differ.append(field_name)
                start = end
            shown = [f for f in differ if f != "checksum"] or differ
            return f"member {name!r} header field {shown[0]} differs (byte {at})"
        pos += BLOCK + len(data)
        padded = pos + (-len(data) % BLOCK)
        if at < padded:
            return f"padding after member {name!r} is not zero (byte {at})"
        pos = padded
    return f"end-of-archive blocks or record padding differ (byte {at})"
