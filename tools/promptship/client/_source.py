"""What a store source is (it reads unverified bytes), and the armor its signatures must be.

Imported by the directory, HTTP and OCI sources alike; it imports none of them.
"""

from __future__ import annotations

from promptship.core.errors import StoreError

__all__ = ["Source", "armor"]


class Source:
    """Where a channel and its bundles are read from (unverified bytes)."""

    location: str

    def where(self, rel: str) -> str:
        """How a file of the store (``channels/production.json``) is named in messages."""
        return self.location.rstrip("/") + "/" + rel

    def channel(self, env: str, etag: str | None) -> tuple[bytes | None, str | None]:
        """The channel file's bytes (``None`` when unchanged since ``etag``) and its etag.

        Raises:
            StoreError, ChannelError: It cannot be read.
        """
        raise NotImplementedError

    def bundle(self, digest: str) -> tuple[bytes, str]:
        """A bundle's bytes and its signature's text.

        Raises:
            StoreError: Either cannot be read.
        """
        raise NotImplementedError

    def signature(self, digest: str) -> str:
        """The current signature of a bundle (re-signed after a key rotation, say).

        Raises:
            StoreError: It cannot be read.
        """
        return self.bundle(digest)[1]

    def close(self) -> None:
        """Release connections."""


def armor(data: bytes, where: str, digest: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise StoreError(f"{where}: the signature of {digest} is not ASCII armor") from None
