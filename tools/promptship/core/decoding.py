"""HTTP content decoding with a running cap on what comes out; pure.

An HTTP client that decodes ``Content-Encoding`` for its caller (httpx's
``iter_bytes``) hands each received chunk to ``zlib`` whole: 797 bytes of
``gzip, gzip`` inflate to hundreds of megabytes before a size cap on the
decoded body sees any of it. promptship asks for ``identity`` encoding; a
server that compresses anyway is decoded here, layer by layer, never
producing more than the cap (plus one small step) in memory: each
decompressor is asked for at most what the cap still allows.
"""

from __future__ import annotations

import zlib

__all__ = ["SUPPORTED_ENCODINGS", "BoundedDecoder", "DecodeLimitError", "DecodedTooLarge"]

SUPPORTED_ENCODINGS = frozenset({"identity", "gzip", "x-gzip", "deflate"})
"""What a server may still compress with although asked for ``identity``."""

_MAX_LAYERS = 2
_STEP = 64 * 1024


class DecodeLimitError(ValueError):
    """A body that decodes past its cap, uses an encoding we do not decode, or is corrupt."""


class DecodedTooLarge(DecodeLimitError):
    """A body that decodes past its cap."""


def _decompressor(name: str) -> zlib._Decompress:
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    return zlib.decompressobj()  # deflate: a zlib stream


class BoundedDecoder:
    """Decodes a body sent with ``Content-Encoding: <encodings>``, refusing to exceed ``cap``.

    Args:
        encodings: The header's value (``None`` or ``identity``: nothing to decode).
        cap: The most decoded bytes accepted.

    Raises:
        DecodeLimitError: More than two layers, or an encoding other than gzip and deflate.
    """

    def __init__(self, encodings: str | None, cap: int) -> None:
        names = [e.strip().lower() for e in (encodings or "").split(",") if e.strip()]
        names = [n for n in names if n != "identity"]
        unknown = sorted(set(names) - SUPPORTED_ENCODINGS)
        if unknown:
            raise DecodeLimitError(f"content-encoding {', '.join(unknown)} is not accepted")
        if len(names) > _MAX_LAYERS:
            raise DecodeLimitError(f"content-encoding has {len(names)} layers")
        # the last encoding applied is the first to undo
        self._layers = [_decompressor(n) for n in reversed(names)]
        self.cap = cap
        self.produced = 0

    def _through(self, layer: int, data: bytes, room: int) -> bytes:
        """``data`` through layers ``layer…``, at most ``room + 1`` bytes out."""
        if layer == len(self._layers):
            return data[: room + 1]
        d = self._layers[layer]
        out: list[bytes] = []
        made = 0
        pending = data
        while made <= room:
            try:
                piece = d.decompress(pending, min(_STEP, room + 1 - made))
            except zlib.error as e:
                raise DecodeLimitError(f"the body does not decode: {e}") from None
            pending = d.unconsumed_tail
            if piece:
                inner = self._through(layer + 1, piece, room - made)
                out.append(inner)
                made += len(inner)
            if not pending and not piece:
                break
        return b"".join(out)

    def feed(self, chunk: bytes) -> bytes:
        """The decoded bytes of the next received ``chunk``.

        Raises:
            DecodeLimitError: The decoded body passed ``cap``, or is corrupt.
        """
        room = self.cap - self.produced
        out = self._through(0, chunk, room) if self._layers else chunk
        self.produced += len(out)
        if self.produced > self.cap:
            raise DecodedTooLarge(f"the body decodes to over {self.cap:,} bytes")
        return out

    def finish(self) -> bytes:
        """What the decompressors still hold at the end of the body.

        Raises:
            DecodeLimitError: It passes ``cap``, or the body was cut short.
        """
        if not self._layers:
            return b""
        out = self.feed(b"")
        if not self._layers[0].eof:
            raise DecodeLimitError("the compressed body is truncated")
        return out
