"""Media inputs (images, files) checked at render time, pure: promptship never fetches them.

A media input is a string input declared with ``contentMediaType`` (an exact
type such as ``image/png``, or ``image/*``) and how its value is given:

* ``contentEncoding: base64``: the media's bytes in base64;
* ``format: uri``: a URL whose scheme is one of ``x-url-schemes`` (default
  ``https``); the model API fetches it, promptship never does. List ``data`` to
  accept ``data:`` URLs (``data:image/png;base64,...``), which carry the bytes.

Checks, each ending in an :class:`~promptship.core.errors.InputError` naming
the input: the size (at most :data:`MAX_MEDIA_CHARS`, checked before anything
reads the value), the scheme, the base64 alphabet, the media type of a
``data:`` URL against the declared one, and the first bytes of the data
against the media types they can be told from (PNG, JPEG, GIF, WebP, PDF).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from promptship.core.errors import InputError

__all__ = ["MAX_MEDIA_CHARS", "MediaSpec", "check_media", "media_spec", "sniff"]

MAX_MEDIA_CHARS = 20_000_000
"""Largest media value (URL or base64 text) a render takes: about 15 MB of data,
under every API's request limit (Gemini's inline data: 20 MB per request)."""

MAX_URL_CHARS = 8192
DEFAULT_SCHEMES = ("https",)

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_DATA_URL = re.compile(
    r"data:([A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)((?:;[^;,]*)*),", re.ASCII
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31}):")
_URL_SAFE = re.compile(r"[^\x00-\x20\x7f]+")
_MAGIC: tuple[tuple[str, bytes, int], ...] = (
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/gif", b"GIF87a", 0),
    ("image/gif", b"GIF89a", 0),
    ("application/pdf", b"%PDF-", 0),
    ("image/webp", b"WEBP", 8),
)
SNIFFABLE = frozenset(t for t, _, _ in _MAGIC)
"""Media types whose data promptship recognises by its first bytes."""


@dataclass(frozen=True, slots=True)
class MediaSpec:
    """How a media input is declared.

    Attributes:
        name: The input's name.
        media_type: ``contentMediaType``: exact (``image/png``) or ``type/*``.
        base64: Whether it takes base64 data (``contentEncoding: base64``).
        uri: Whether it takes URLs (``format: uri``).
        schemes: The URL schemes it accepts.
    """

    name: str
    media_type: str
    base64: bool
    uri: bool
    schemes: tuple[str, ...]


def media_spec(name: str, schema: Mapping[str, Any]) -> MediaSpec:
    """The media declaration of input ``name`` (its property schema), for :func:`check_media`."""
    schemes = schema.get("x-url-schemes")
    return MediaSpec(
        name,
        str(schema.get("contentMediaType", "")),
        schema.get("contentEncoding") == "base64",
        schema.get("format") == "uri",
        tuple(schemes) if isinstance(schemes, list) else DEFAULT_SCHEMES,
    )


def _matches(declared: str, actual: str) -> bool:
    if declared.endswith("/*"):
        return actual.startswith(declared[:-1])
    return actual == declared


def sniff(data: str) -> str | None:
    """The media type the first bytes of base64 ``data`` show, or ``None`` when unknown."""
    try:
        head = base64.b64decode(data[:24])
    except (binascii.Error, ValueError):
        return None
    for media_type, magic, offset in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return media_type
    return None


def _check_base64(spec: MediaSpec, data: str, media_type: str) -> str:
    """The media type of base64 ``data`` claimed to be ``media_type``, checked."""
    if len(data) % 4 or not _BASE64.fullmatch(data):
        raise InputError(f"input {spec.name}: not base64 data", hint=_hint(spec))
    found = sniff(data)
    if found is not None and not _matches(media_type, found):
        raise InputError(
            f"input {spec.name}: the data is {found}, not {media_type}",
            hint=f"give a {spec.media_type} input",
        )
    if media_type.endswith("/*"):
        if found is None:
            raise InputError(
                f"input {spec.name}: cannot tell which {media_type} the data is",
                hint="pass a data: URL naming its media type, or declare an exact contentMediaType",
            )
        media_type = found
    if media_type in SNIFFABLE and found is None:
        raise InputError(f"input {spec.name}: the data is not {media_type}", hint=_hint(spec))
    return media_type


def _hint(spec: MediaSpec) -> str:
    forms = []
    if spec.base64:
        forms.append("base64 data")
    if spec.uri:
        forms.append(f"a URL ({', '.join(s + ':' for s in spec.schemes)})")
    return f"input {spec.name} takes " + " or ".join(forms or ["nothing: declare it"])


def _data_url(spec: MediaSpec, value: str) -> dict[str, Any]:
    match = _DATA_URL.match(value)
    if match is None or ";base64" not in match.group(2).lower():
        raise InputError(
            f"input {spec.name}: a data: URL must be data:<type>;base64,<data>", hint=_hint(spec)
        )
    claimed = match.group(1).lower()
    if not _matches(spec.media_type, claimed):
        raise InputError(
            f"input {spec.name}: the data URL is {claimed}, not {spec.media_type}",
            hint=f"give a {spec.media_type} input",
        )
    data = value[match.end() :]
    return {"media_type": _check_base64(spec, data, claimed), "data": data}


def _url(spec: MediaSpec, value: str) -> dict[str, Any]:
    scheme = _SCHEME.match(value)
    name = scheme.group(1).lower() if scheme else ""
    if name not in spec.schemes:
        what = f"a {name}: URL" if name else "not a URL"
        raise InputError(
            f"input {spec.name}: {what} is refused (accepted: {', '.join(spec.schemes)})",
            hint="promptship never fetches media; list the scheme in the input's x-url-schemes to allow it",
        )
    if len(value) > MAX_URL_CHARS or not _URL_SAFE.fullmatch(value):
        raise InputError(
            f"input {spec.name}: not a URL (longer than {MAX_URL_CHARS} characters, "
            "or holding spaces or control characters)",
            hint=_hint(spec),
        )
    if name in ("http", "https") and not value[scheme.end() if scheme else 0 :].startswith("//"):
        raise InputError(f"input {spec.name}: {name} URL without a host", hint=_hint(spec))
    return {"media_type": spec.media_type, "url": value}


def check_media(spec: MediaSpec, value: Any) -> dict[str, Any]:
    """The media part's source for ``value`` of the input ``spec`` describes.

    Returns:
        ``{"media_type", "data"}`` (base64) or ``{"media_type", "url"}``; the
        media type is exact for data, and the declared one for a URL.

    Raises:
        InputError: The value is too large, of another media type, not base64,
            or a URL whose scheme the input does not accept.
    """
    if not isinstance(value, str):
        raise InputError(f"input {spec.name}: must be a string", hint=_hint(spec))
    if len(value) > MAX_MEDIA_CHARS:
        raise InputError(
            f"input {spec.name}: {len(value):,} characters; media inputs take at most "
            f"{MAX_MEDIA_CHARS:,}",
            hint="pass a URL instead of the data, or a smaller file",
        )
    if spec.uri and value[:5].lower() == "data:" and "data" in spec.schemes:
        return _data_url(spec, value)
    if spec.uri and _SCHEME.match(value):
        return _url(spec, value)
    if spec.base64:
        return {"media_type": _check_base64(spec, value, spec.media_type), "data": value}
    if spec.uri:
        return _url(spec, value)
    raise InputError(f"input {spec.name}: not a media value", hint=_hint(spec))
