"""HTTP bodies decoded with a running cap: a compression bomb never grows past it."""

from __future__ import annotations

import gzip
import zlib

import pytest

from promptship.core.decoding import BoundedDecoder, DecodedTooLarge, DecodeLimitError


def _feed(decoder: BoundedDecoder, data: bytes, step: int = 512) -> bytes:
    out = b"".join(decoder.feed(data[i : i + step]) for i in range(0, len(data), step))
    return out + decoder.finish()


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "gzip, deflate", "identity"])
def test_decodes_what_servers_send(encoding: str) -> None:
    body = b'{"seq": 1}' * 1000
    data = body
    for name in [e.strip() for e in encoding.split(",")]:
        if name in ("gzip", "x-gzip"):
            data = gzip.compress(data)
        elif name == "deflate":
            data = zlib.compress(data)
    assert _feed(BoundedDecoder(encoding, 1 << 20), data) == body


def test_a_double_gzip_bomb_stops_at_the_cap() -> None:
    bomb = gzip.compress(gzip.compress(b"\0" * (200 << 20)))  # 200 MiB from ~200 bytes
    assert len(bomb) < 1000
    decoder = BoundedDecoder("gzip, gzip", 64 * 1024)
    with pytest.raises(DecodedTooLarge):
        _feed(decoder, bomb)
    assert decoder.produced <= 64 * 1024 + 1


@pytest.mark.parametrize(
    ("encoding", "data", "message"),
    [
        ("br", b"x", "br is not accepted"),
        ("gzip, gzip, gzip", b"x", "3 layers"),
        ("gzip", b"not gzip at all", "does not decode"),
        ("gzip", gzip.compress(b"x" * 1000)[:20], "truncated"),
    ],
)
def test_refusals(encoding: str, data: bytes, message: str) -> None:
    with pytest.raises(DecodeLimitError, match=message):
        _feed(BoundedDecoder(encoding, 1 << 20), data)
