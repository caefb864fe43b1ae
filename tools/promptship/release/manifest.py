"""Bundle manifests and channel pointers: building them and parsing them strictly.

Both are RFC 8785 canonical JSON, so the same values always give the same
bytes and a signature over the bytes is a signature over the values. Parsing
accepts only those exact bytes: duplicate keys, non-canonical encodings, extra
or missing fields, and oversize documents are each rejected with their own
message. The checks here mirror ``schemas/manifest.schema.json`` and
``schemas/channel.schema.json`` (a test holds them in agreement); this module
is pure and cannot read the schema files. Canonical JSON itself (writing it,
reading it strictly, reporting schema violations) is :mod:`promptship.release.canonical`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from promptship.core.errors import BundleError, ChannelError
from promptship.release.canonical import (
    MAX_SAFE_INT,
    Checker,
    encode_checked,
    load_canonical,
    show,
)

__all__ = [
    "CHANNEL_SCHEMA",
    "DEFAULT_MAX_CHANNEL_BYTES",
    "DEFAULT_MAX_MANIFEST_BYTES",
    "MANIFEST_NAME",
    "MANIFEST_SCHEMA",
    "ChannelPointer",
    "FileEntry",
    "Manifest",
    "build_manifest",
    "encode_channel",
    "encode_envelope",
    "encode_manifest",
    "format_time",
    "manifest_digest",
    "parse_channel",
    "parse_envelope",
    "parse_manifest",
    "parse_time",
    "path_problem",
]

MANIFEST_SCHEMA = "promptship.manifest/v1"
CHANNEL_SCHEMA = "promptship.channel/v1"
MANIFEST_NAME = "manifest.json"
"""The manifest's member name in a bundle; no bundled file may use it."""

DEFAULT_MAX_MANIFEST_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_CHANNEL_BYTES = 64 * 1024
_ENV_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}\Z")
_HEX_RE = re.compile(r"^[0-9a-f]{64}\Z")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._-]+\Z")
_MAX_PATH = 255
_PLAIN_PATH_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
"""A path ``path_problem`` accepts when it is at most 100 bytes (no segment starts with a dot)."""
_ENTRY_KEYS = frozenset({"path", "size", "sha256"})


def format_time(when: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC; sub-second parts are dropped.

    Raises:
        BundleError: ``when`` has no time zone, or lies outside the years 1970 to 9999.
    """
    if when.tzinfo is None:
        raise BundleError(
            f"time {when.isoformat()} has no time zone", hint="pass an aware datetime (UTC)"
        )
    utc = when.astimezone(UTC)
    if not 1970 <= utc.year <= 9999:
        raise BundleError(f"time {utc.isoformat()} is outside the years 1970-9999")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Read a ``YYYY-MM-DDTHH:MM:SSZ`` time (UTC); raises ValueError on any other form."""
    if not _TIME_RE.match(text):
        raise ValueError(f"{text!r} is not a YYYY-MM-DDTHH:MM:SSZ time")
    # the fields by position (the pattern fixed them): strptime would load _strptime for this
    return datetime(
        int(text[0:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[14:16]),
        int(text[17:19]),
        tzinfo=UTC,
    )


def path_problem(path: str) -> str | None:  # noqa: PLR0911 - one return per path rule, each its own message
    """Why ``path`` may not name a file in a bundle, or ``None`` when it is safe.

    Safe: relative, ``/``-separated, ASCII ``[A-Za-z0-9._-]`` segments, none empty,
    ``.`` or ``..``, at most 255 bytes and storable in a USTAR header (a name of at
    most 100 bytes after an optional prefix of at most 155 bytes split at a ``/``).
    """
    if not path:
        return "empty path"
    if path.startswith("/"):
        return "absolute path"
    if "\\" in path:
        return "backslash in path"
    segments = path.split("/")
    if ".." in segments:
        return "'..' segment in path"
    if "" in segments:
        return "empty segment in path"
    if "." in segments:
        return "'.' segment in path"
    if not all(_SEGMENT_RE.match(s) for s in segments):
        return "path has characters outside [A-Za-z0-9._/-]"
    if len(path) > _MAX_PATH:
        return f"path is {len(path)} bytes, over {_MAX_PATH}"
    if len(path) > 100 and not any(
        len("/".join(segments[:i])) <= 155 and len("/".join(segments[i:])) <= 100
        for i in range(1, len(segments))
    ):
        return "path cannot be split into a USTAR prefix (155 bytes) and name (100 bytes)"
    return None


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a bundle as its manifest lists it.

    Attributes:
        path: The member name (see :func:`path_problem`).
        size: Its length in bytes.
        sha256: Lowercase hex SHA-256 of its bytes.
    """

    path: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a bundle holds and for whom; its canonical bytes are what gets signed.

    Attributes:
        environment: The environment the bundle was built for.
        release: The release number.
        source_commit: The git commit the content was read at (40 hex digits).
        created: The source commit's time; also every tar member's mtime.
        expires: After this the bundle must not be served.
        files: Every file, sorted by path.
        evals: Digest (``sha256:…``) of the eval attestation, when there is one.
    """

    environment: str
    release: int
    source_commit: str
    created: datetime
    expires: datetime
    files: tuple[FileEntry, ...]
    evals: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``evals`` omitted when absent)."""
        doc: dict[str, Any] = {
            "schema": MANIFEST_SCHEMA,
            "environment": self.environment,
            "release": self.release,
            "source_commit": self.source_commit,
            "created": format_time(self.created),
            "expires": format_time(self.expires),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }
        if self.evals is not None:
            doc["evals"] = self.evals
        return doc


@dataclass(frozen=True, slots=True)
class ChannelPointer:
    """A channel's signed statement: environment ``env`` now serves this bundle.

    Attributes:
        env: The environment.
        seq: Rises by one on every publish (rollbacks included); clients refuse lower.
        release: The release number of the bundle.
        bundle_digest: ``sha256:…`` of the bundle's manifest.
        published: When it was published.
        expires: After this the pointer is stale and must not be trusted.
    """

    env: str
    seq: int
    release: int
    bundle_digest: str
    published: datetime
    expires: datetime

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "schema": CHANNEL_SCHEMA,
            "env": self.env,
            "seq": self.seq,
            "release": self.release,
            "bundle_digest": self.bundle_digest,
            "published": format_time(self.published),
            "expires": format_time(self.expires),
        }


def manifest_digest(data: bytes) -> str:
    """The bundle's identity: ``sha256:<hex>`` of its manifest bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- checks shared by building and parsing ------------------------------------------


def _time(c: Checker, value: Any, where: str) -> datetime:
    try:
        return parse_time(value if isinstance(value, str) else "")
    except ValueError:
        problem = f"must be a YYYY-MM-DDTHH:MM:SSZ time, not {show(value)}"
        raise c.fail(where, problem) from None


def _check_manifest(doc: Any, c: Checker) -> Manifest:
    if not isinstance(doc, dict):
        raise c.fail("document", "must be a JSON object")
    c.keys(
        doc,
        {"schema", "environment", "release", "source_commit", "created", "expires", "files"},
        {"evals"},
    )
    if doc["schema"] != MANIFEST_SCHEMA:
        raise c.fail("schema", f"must be {MANIFEST_SCHEMA!r}, not {show(doc['schema'])}")
    env = c.string(doc["environment"], "environment", _ENV_RE, "an environment name")
    release = c.integer(doc["release"], "release", 0)
    commit = c.string(doc["source_commit"], "source_commit", _COMMIT_RE, "40 lowercase hex digits")
    created = _time(c, doc["created"], "created")
    expires = _time(c, doc["expires"], "expires")
    if expires <= created:
        raise c.fail("expires", "must be later than created")
    evals = None
    if "evals" in doc:
        evals = c.string(doc["evals"], "evals", _DIGEST_RE, "a sha256:<64 hex> digest")
    if not isinstance(doc["files"], list):
        raise c.fail("files", "must be a list")
    entries: list[FileEntry] = []
    for i, item in enumerate(doc["files"]):
        if _plain_entry(item):  # the usual entry, at a fraction of the checks' cost
            entries.append(FileEntry(item["path"], item["size"], item["sha256"]))
            continue
        where = f"files[{i}]"
        if not isinstance(item, dict):
            raise c.fail(where, "must be an object")
        c.keys(item, {"path", "size", "sha256"}, set(), f"{where}.")
        path = item["path"]
        if not isinstance(path, str):
            raise c.fail(f"{where}.path", "must be a string")
        problem = path_problem(path)
        if problem:
            raise c.fail(f"{where}.path", f"{problem}: {show(path)}")
        if path == MANIFEST_NAME:
            raise c.fail(f"{where}.path", f"{MANIFEST_NAME!r} is reserved for the manifest")
        size = c.integer(item["size"], f"{where}.size", 0)
        digest = c.string(item["sha256"], f"{where}.sha256", _HEX_RE, "64 lowercase hex digits")
        entries.append(FileEntry(path, size, digest))
    _check_paths(entries, c)
    return Manifest(env, release, commit, created, expires, tuple(entries), evals)


def _plain_entry(item: Any) -> bool:
    """Whether a ``files`` entry passes every check below (``False``: they say why, or pass it)."""
    if type(item) is not dict or item.keys() != _ENTRY_KEYS:
        return False
    path, size, digest = item["path"], item["size"], item["sha256"]
    return (
        type(path) is str
        and len(path) <= 100
        and _PLAIN_PATH_RE.fullmatch(path) is not None
        and path != MANIFEST_NAME
        and type(size) is int
        and 0 <= size <= MAX_SAFE_INT
        and type(digest) is str
        and _HEX_RE.match(digest) is not None
    )


def _check_paths(entries: list[FileEntry], c: Checker) -> None:
    """Sorted, unique, and extractable on any file system (no case clash, file vs folder)."""
    folded: dict[str, str] = {}
    paths = {e.path for e in entries}
    for i, e in enumerate(entries):
        if i and e.path <= entries[i - 1].path:
            what = "duplicate path" if e.path == entries[i - 1].path else "not sorted by path"
            raise c.fail(f"files[{i}].path", f"{what}: {show(e.path)}")
        other = folded.setdefault(e.path.lower(), e.path)
        if other != e.path:
            raise c.fail(f"files[{i}].path", f"{e.path!r} and {other!r} differ only in case")
        parts = e.path.split("/")
        for j in range(1, len(parts)):
            if "/".join(parts[:j]) in paths:
                raise c.fail(
                    f"files[{i}].path", f"{e.path!r} is inside {'/'.join(parts[:j])!r}, a file"
                )


def _check_channel(doc: Any, c: Checker) -> ChannelPointer:
    if not isinstance(doc, dict):
        raise c.fail("document", "must be a JSON object")
    c.keys(doc, {"schema", "env", "seq", "release", "bundle_digest", "published", "expires"}, set())
    if doc["schema"] != CHANNEL_SCHEMA:
        raise c.fail("schema", f"must be {CHANNEL_SCHEMA!r}, not {show(doc['schema'])}")
    pointer = ChannelPointer(
        env=c.string(doc["env"], "env", _ENV_RE, "an environment name"),
        seq=c.integer(doc["seq"], "seq", 1),
        release=c.integer(doc["release"], "release", 0),
        bundle_digest=c.string(
            doc["bundle_digest"], "bundle_digest", _DIGEST_RE, "a sha256:<64 hex> digest"
        ),
        published=_time(c, doc["published"], "published"),
        expires=_time(c, doc["expires"], "expires"),
    )
    if pointer.expires <= pointer.published:
        raise c.fail("expires", "must be later than published")
    return pointer


# --- public API ---------------------------------------------------------------------


def build_manifest(
    files: Mapping[str, bytes],
    *,
    environment: str,
    release: int,
    source_commit: str,
    created: datetime,
    expires: datetime,
    evals: str | None = None,
) -> Manifest:
    """The manifest of a bundle holding ``files`` (path → bytes), validated like a parsed one.

    Raises:
        BundleError: A path is unsafe, or a value breaks the manifest schema.
    """
    entries = [
        {"path": p, "size": len(files[p]), "sha256": hashlib.sha256(files[p]).hexdigest()}
        for p in sorted(files)
    ]
    doc: dict[str, Any] = {
        "schema": MANIFEST_SCHEMA,
        "environment": environment,
        "release": release,
        "source_commit": source_commit,
        "created": format_time(created),
        "expires": format_time(expires),
        "files": entries,
    }
    if evals is not None:
        doc["evals"] = evals
    return _check_manifest(doc, Checker("manifest", BundleError))


def encode_manifest(manifest: Manifest) -> bytes:
    """The manifest's canonical bytes (what is signed and hashed)."""
    return encode_checked(manifest.to_dict(), Checker("manifest", BundleError))


def parse_manifest(data: bytes, *, max_bytes: int = DEFAULT_MAX_MANIFEST_BYTES) -> Manifest:
    """Read a manifest, accepting only canonical, schema-valid bytes.

    Raises:
        BundleError: Oversize, not UTF-8 or JSON, duplicate keys, not canonical, or
            a schema violation; each with its own message.
    """
    c = Checker("manifest", BundleError)
    return _check_manifest(load_canonical(data, c, max_bytes), c)


def encode_channel(pointer: ChannelPointer) -> bytes:
    """The channel pointer's canonical bytes (what is signed)."""
    c = Checker("channel", ChannelError)
    _check_channel(pointer.to_dict(), c)
    return encode_checked(pointer.to_dict(), c)


def parse_channel(data: bytes, *, max_bytes: int = DEFAULT_MAX_CHANNEL_BYTES) -> ChannelPointer:
    """Read a channel pointer, accepting only canonical, schema-valid bytes.

    Raises:
        ChannelError: Oversize, not JSON, duplicate keys, not canonical, or a schema
            violation; each with its own message.
    """
    c = Checker("channel", ChannelError)
    return _check_channel(load_canonical(data, c, max_bytes), c)


def encode_envelope(payload: bytes, signature: str) -> bytes:
    """A signed channel file: canonical ``{"payload": <pointer JSON as a string>, "signature": …}``.

    One file carries both, so replacing it is one atomic step (a pointer and a
    separate ``.sig`` could be seen half-updated).
    """
    c = Checker("channel envelope", ChannelError)
    return encode_checked({"payload": payload.decode("utf-8"), "signature": signature}, c)


def parse_envelope(data: bytes, *, max_bytes: int = DEFAULT_MAX_CHANNEL_BYTES) -> tuple[bytes, str]:
    """The payload bytes and armored signature of a channel file; nothing is verified yet.

    Raises:
        ChannelError: Oversize, not JSON, duplicate keys, not canonical, or not
            exactly the two string fields.
    """
    c = Checker("channel envelope", ChannelError)
    doc = load_canonical(data, c, max_bytes)
    c.keys(doc, {"payload", "signature"}, set())
    if not isinstance(doc["payload"], str):
        raise c.fail("payload", "must be a string")
    if not isinstance(doc["signature"], str):
        raise c.fail("signature", "must be a string")
    return doc["payload"].encode("utf-8"), doc["signature"]
