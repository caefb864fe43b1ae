"""Bounded reads: regular files only, never a FIFO's wait or a device's endless bytes, capped."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path

import pytest

from promptship.core.errors import StoreError, UsageError
from promptship.fs import TooLarge, read_file, read_stream, read_text


def test_reads_a_regular_file_whole(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_bytes(b"x" * 3_000_000)  # more than one chunk
    assert read_file(f, 3_000_000, what="report") == b"x" * 3_000_000


def test_a_file_over_the_cap_is_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "big.tar"
    with f.open("wb") as out:  # sparse: 64 GiB that take no space
        out.truncate(64 << 30)
    with pytest.raises(UsageError) as e:
        read_file(f, 1 << 20, what="bundle")
    assert (
        "cannot read bundle: 68,719,476,736 bytes is over the limit of 1,048,576" in e.value.message
    )
    assert str(f) in e.value.message


@pytest.mark.timeout(30)
def test_a_fifo_is_refused_at_once_without_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "reviews.json"
    os.mkfifo(fifo)
    with pytest.raises(UsageError) as e:
        read_file(fifo, 1 << 20, what="reviews")
    assert "cannot read reviews: it is a FIFO (named pipe), not a regular file" in e.value.message


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} missing")
    with pytest.raises(UsageError) as e:
        read_file(Path(device), 1 << 20, what="inputs")
    assert "character device" in e.value.message


def test_a_folder_and_a_socket_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="folder"):
        read_file(tmp_path, 100)
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(UsageError):
            read_file(path, 100)


def test_missing_file_and_error_class(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as e:
        read_file(tmp_path / "nope", 10, what="channel", error=StoreError)
    assert "cannot read channel: no such file" in e.value.message


def test_links_are_followed_unless_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"ok")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert read_file(tmp_path / "link", 10) == b"ok"
    with pytest.raises(UsageError, match="symbolic link"):
        read_file(tmp_path / "link", 10, follow_symlinks=False)


def test_read_text_refuses_non_utf8(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"caf\xe9")
    with pytest.raises(UsageError, match="not UTF-8 text"):
        read_text(tmp_path / "t", 10, what="inputs")


def test_a_stream_is_read_in_chunks_and_stopped_past_its_cap() -> None:
    assert read_stream(io.BytesIO(b"abc"), 3) == b"abc"
    with pytest.raises(TooLarge):
        read_stream(io.BytesIO(b"abcd"), 3)
