"""Canonical JSON (RFC 8785) and strict JSON reading, shared by every signed document; pure.

:func:`canonical` writes the one encoding of a value that signatures and
digests are taken over (manifests, channel pointers, a bundle's documents).
:func:`load_canonical` reads JSON back accepting only that encoding, and
:class:`Checker` reports the first schema violation of a document as an error
of the document's own class (``BundleError`` for a manifest, ``ChannelError``
for a channel). Every reader refuses duplicate keys (a JSON object with the
same key twice means different things to different readers) and the
non-JSON constants ``NaN`` and ``Infinity``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import rfc8785

from promptship.core.errors import PromptshipError
from promptship.core.jsonlimits import JsonLimitError, check_depth

__all__ = [
    "MAX_DOCUMENT_DEPTH",
    "MAX_SAFE_INT",
    "Checker",
    "canonical",
    "encode_checked",
    "load_canonical",
    "reject_duplicate_keys",
    "show",
]

MAX_SAFE_INT = 2**53 - 1
"""The largest integer I-JSON (RFC 7493), and so RFC 8785, represents exactly."""

MAX_DOCUMENT_DEPTH = 128
"""Deepest nesting a signed document may have (registry files are held to 64 levels, and a
bundle document nests a prompt's view a few levels down)."""


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``."""
    return bytes(rfc8785.dumps(value))


def show(value: Any) -> str:
    """A short, safe rendering of a JSON value for a message (at most 60 characters)."""
    text = json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A ``json.loads`` ``object_pairs_hook`` that refuses a key given twice (ValueError)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


class Checker:
    """Collects the first schema violation of a document as an error of one class.

    Args:
        what: The document, as messages name it (``manifest``, ``channel``).
        error: The error class to raise.
        hint: The hint of a schema violation (default: the document was not made
            by promptship, or was altered).
    """

    def __init__(self, what: str, error: type[PromptshipError], hint: str | None = None) -> None:
        self.what = what
        self.error = error
        self.hint = hint or (
            f"the {what} does not follow its schema; it was not made by promptship or was altered"
        )

    def fail(self, where: str, problem: str) -> PromptshipError:
        """The error for ``problem`` at field ``where`` (to be raised by the caller)."""
        return self.error(f"{self.what}: {where}: {problem}", hint=self.hint)

    def keys(
        self, doc: Mapping[str, Any], required: set[str], optional: set[str], where: str = ""
    ) -> None:
        """Fail on the first missing required field, then on the first unknown one."""
        missing = sorted(required - doc.keys())
        if missing:
            raise self.fail(where + missing[0], "required field missing")
        extra = sorted(doc.keys() - required - optional)
        if extra:
            raise self.fail(where + extra[0], "unknown field")

    def string(self, value: Any, where: str, pattern: re.Pattern[str], form: str) -> str:
        """``value``, when it is a string matching ``pattern`` (described as ``form``)."""
        if not isinstance(value, str) or not pattern.match(value):
            raise self.fail(where, f"must be {form}, not {show(value)}")
        return value

    def integer(self, value: Any, where: str, minimum: int) -> int:
        """``value``, when it is an integer (not a bool) from ``minimum`` to 2**53 - 1."""
        if type(value) is not int or not minimum <= value <= MAX_SAFE_INT:
            raise self.fail(where, f"must be an integer >= {minimum}, not {show(value)}")
        return value

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        """``value``, when it is a JSON object."""
        if not isinstance(value, dict):
            raise self.fail(where, f"must be an object, not {show(value)}")
        return value


def encode_checked(doc: Mapping[str, Any], c: Checker) -> bytes:
    """The canonical bytes of ``doc``; a value RFC 8785 cannot encode is ``c``'s error."""
    try:
        return canonical(doc)
    except rfc8785.CanonicalizationError as e:
        raise c.fail("document", f"cannot be canonicalised: {e}") from e


class _Decoder:
    """``json.loads`` hooks that refuse duplicates and constants and note what json.dumps cannot redo.

    ``plain`` stays true while json.dumps would write RFC 8785 bytes for the
    document: every key ASCII (code point order is then UTF-16 order), no float,
    every integer within I-JSON's range. rfc8785 (pure Python, ~15x slower)
    judges the rest.
    """

    def __init__(self, c: Checker) -> None:
        self.c = c
        self.plain = True

    def pairs(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if not key.isascii():
                self.plain = False
            if key in out:
                raise self.c.error(
                    f"{self.c.what} has the key {key!r} twice",
                    hint="a JSON object with duplicate keys means different things to "
                    "different readers",
                )
            out[key] = value
        return out

    def no_constant(self, name: str) -> Any:
        raise self.c.error(f"{self.c.what} contains {name}, which is not JSON")

    def a_float(self, literal: str) -> float:
        self.plain = False
        return float(literal)

    def an_int(self, literal: str) -> int:
        if len(literal) > 64:  # before int(): 5,000 digits would take a while and fail anyway
            raise self.c.error(f"{self.c.what} holds an integer of {len(literal):,} digits")
        value = int(literal)
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            self.plain = False
        return value

    def load(self, text: str) -> Any:
        try:
            doc = json.loads(
                text,
                object_pairs_hook=self.pairs,
                parse_constant=self.no_constant,
                parse_float=self.a_float,
                parse_int=self.an_int,
            )
            # json.loads stops near 1,000 levels; everything after it (canonical form,
            # schema checks, a client's walk) must never meet more than MAX_DOCUMENT_DEPTH
            check_depth(doc, MAX_DOCUMENT_DEPTH)
        except PromptshipError:
            raise
        except JsonLimitError as e:
            raise self.c.error(f"{self.c.what}: {e}") from None
        except (ValueError, RecursionError) as e:
            raise self.c.error(f"{self.c.what} is not valid JSON: {str(e)[:200]}") from None
        return doc


def _decode_text(data: bytes, c: Checker, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise c.error(
            f"{c.what} is {len(data)} bytes, over the cap of {max_bytes}",
            hint="raise the cap only if the bundle really is that large",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise c.error(f"{c.what} is not UTF-8 (byte {e.start})") from e


def _recanonical(doc: Any, plain: bool, c: Checker) -> bytes:
    """What the canonical encoding of a parsed document is (b"" for anything but an object)."""
    hint = "signed JSON must have exactly one encoding; rebuild it with promptship"
    if not isinstance(doc, dict):
        return b""
    if plain:
        try:
            return json.dumps(
                doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")
            ).encode("utf-8")
        except (UnicodeEncodeError, RecursionError):  # lone surrogates: let rfc8785 judge
            pass
    try:
        return canonical(doc)
    except rfc8785.CanonicalizationError as e:
        raise c.error(f"{c.what} is not in RFC 8785 canonical form: {e}", hint=hint) from e


def load_canonical(data: bytes, c: Checker, max_bytes: int) -> Any:
    """Parse ``data``, accepting only the RFC 8785 canonical encoding of a JSON object.

    Raises:
        PromptshipError: Of class ``c.error``: over ``max_bytes``, not UTF-8, not JSON,
            a duplicate key, a constant (``NaN``), or not canonical; each with its own message.
    """
    decoder = _Decoder(c)
    doc = decoder.load(_decode_text(data, c, max_bytes))
    if _recanonical(doc, decoder.plain, c) != data:
        raise c.error(
            f"{c.what} is not in RFC 8785 canonical form",
            hint="signed JSON must have exactly one encoding; rebuild it with promptship",
        )
    return doc
