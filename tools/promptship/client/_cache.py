"""The last good channel and bundle on disk, shared safely by processes and threads.

Layout under ``cache_dir/<env>/``::

    bundles/<hex>.tar, bundles/<hex>.tar.sig   written once, before the channel names them
    channel.json                               the last verified channel, replaced atomically
    .lock                                      serialises writers (readers never take it)

Every file is written with :func:`promptship.fs.write_atomic` (a temporary file
in its folder, fsynced and renamed over its name), so a reader sees the old file
or the new one, never a part.
Writers hold an exclusive ``flock`` while they replace ``channel.json`` and
prune old bundles, and never replace a channel with one of a lower ``seq``: a
slow process cannot take the cache back in time. Everything read back is
verified again; the cache is a convenience, never a source of trust.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from promptship.core.errors import ChannelError, PromptshipError
from promptship.fs import write_atomic
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.channel import Channel, open_channel, verify_channel, verify_channel_bundle
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES, parse_channel, parse_envelope
from promptship.release.store import folder as store

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: renames are still atomic, writers unordered
    fcntl = None  # type: ignore[assignment]

__all__ = ["Fetched", "LastGoodCache"]


@dataclass(frozen=True)
class Fetched:
    """A channel and its bundle, both verified and matched to each other.

    Attributes:
        channel_bytes: The channel file as read.
        channel: The verified channel.
        tar: The bundle's bytes.
        signature: The bundle's signature.
        bundle: The verified bundle.
    """

    channel_bytes: bytes
    channel: Channel
    tar: bytes
    signature: str
    bundle: bundles.VerifiedBundle


class LastGoodCache:
    """One environment's last good channel and bundle in ``root/<env>/``.

    Args:
        root: The ``cache_dir``.
        env: The environment.
        keep: Bundles kept (the current one always is).
    """

    def __init__(self, root: Path, env: str, keep: int = 3) -> None:
        self.dir = root / env
        self.env = env
        self.keep = keep

    @property
    def channel_file(self) -> Path:
        """Where the cached channel lives."""
        return self.dir / "channel.json"

    def _bundle_file(self, digest: str, suffix: str = ".tar") -> Path:
        return self.dir / "bundles" / (store.bundle_path(Path(), digest).stem + suffix)

    # --- writing ----------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        # mode 0600: the cache is the application's own (as tempfile.mkstemp made it before)
        write_atomic(path, data, mode=0o600, make_parents=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "ab") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _cached_seq(self) -> int:
        """The seq of the channel on disk (as written by a writer that verified it), or -1."""
        try:
            data = self.channel_file.read_bytes()
            return parse_channel(parse_envelope(data)[0]).seq
        except (OSError, PromptshipError):
            return -1

    def save(self, fetched: Fetched) -> None:
        """Store a verified channel and its bundle: the bundle first, the channel last.

        Raises:
            OSError, FileWriteError: The cache cannot be written (the caller reports it).
        """
        digest = fetched.bundle.digest
        tar_file = self._bundle_file(digest)
        try:
            complete = tar_file.stat().st_size == len(fetched.tar)
        except OSError:
            complete = False
        if not complete:
            self._write(self._bundle_file(digest, ".tar.sig"), fetched.signature.encode("ascii"))
            self._write(tar_file, fetched.tar)
        self.save_channel(fetched.channel_bytes, fetched.channel.pointer.seq)

    def save_channel(self, data: bytes, seq: int) -> None:
        """Replace the cached channel with a verified one, unless the cache holds a higher seq.

        Raises:
            OSError, FileWriteError: The cache cannot be written.
        """
        with self._locked():
            if self._cached_seq() > seq:
                return
            self._write(self.channel_file, data)
            self._prune()

    def _prune(self) -> None:
        """Drop all but the newest ``keep`` bundles, never the one the cached channel names."""
        try:
            current = parse_channel(parse_envelope(self.channel_file.read_bytes())[0])
            keep_hex = store.bundle_path(Path(), current.bundle_digest).stem
        except (OSError, PromptshipError):
            return
        aged: list[tuple[int, Path]] = []
        for tar in (self.dir / "bundles").glob("*.tar"):
            with contextlib.suppress(OSError):
                aged.append((tar.stat().st_mtime_ns, tar))
        aged.sort(reverse=True)
        for _, old in aged[self.keep :]:
            if old.stem != keep_hex:
                for p in (old, old.with_name(old.name + ".sig")):
                    with contextlib.suppress(OSError):
                        p.unlink()

    # --- reading ----------------------------------------------------------------

    def seq_floor(self, allowed: AllowedSigners, *, now: datetime) -> int:
        """The seq of the cached channel if its signature verifies, expired or not; else 0.

        A restarted client refuses any channel below it: a replay stays a replay
        across restarts even once the cached channel has expired.
        """
        try:
            data = self.channel_file.read_bytes()
            return open_channel(data, allowed, env=self.env, now=now).pointer.seq
        except (OSError, PromptshipError):
            return 0

    def load(self, allowed: AllowedSigners, *, now: datetime) -> tuple[Fetched | None, str]:
        """The cached channel and bundle, verified again as of ``now``.

        Returns:
            The cached content, or ``None`` and why nothing valid is cached.
        """
        reason = f"{self.dir} holds no channel"
        for _ in range(3):  # a writer may prune the bundle between our two reads; read again
            try:
                data = self.channel_file.read_bytes()
            except OSError:
                return None, reason
            try:
                if len(data) > DEFAULT_MAX_CHANNEL_BYTES:
                    raise ChannelError(f"{self.channel_file}: over the size cap")
                channel = verify_channel(
                    data, allowed, env=self.env, now=now, source=str(self.channel_file)
                )
                digest = channel.pointer.bundle_digest
                tar = self._bundle_file(digest).read_bytes()
                sig = self._bundle_file(digest, ".tar.sig").read_text("ascii")
                verified = verify_channel_bundle(channel, tar, sig, allowed, now=now)
            except FileNotFoundError as e:
                reason = f"{e.filename}: missing"
                continue
            except (OSError, ValueError) as e:
                return None, f"{self.dir}: unreadable: {e}"
            except PromptshipError as e:
                return None, f"cached: {e.message}"
            return Fetched(data, channel, tar, sig, verified), ""
        return None, reason
