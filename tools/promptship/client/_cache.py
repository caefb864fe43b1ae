"""The last good channel and bundle on disk, shared safely by processes and threads.

Layout under ``cache_dir/<env>/``::

    bundles/<hex>.tar, bundles/<hex>.tar.sig   written once, before the channel names them
    channel.json                               the last verified channel, replaced atomically
    .lock                                      serialises writers (readers never take it)

Every file is written with :func:`promptship.fs.write_atomic` (a temporary file
in its folder, fsynced and renamed over its name), so a reader sees the old file
or the new one, never a part, and read with :func:`promptship.fs.read_file`
(regular files only, no links, within a cap). ``<env>/`` and ``<env>/bundles/``
must be real folders: a symbolic link there is refused (the cache is then
neither read nor written), so pruning never deletes files elsewhere.
Writers hold an exclusive ``flock`` while they replace ``channel.json`` and
prune old bundles, and never replace a channel with one of a lower ``seq`` —
the ``seq`` of a cached channel whose signature verifies: a planted, unsigned
one is no floor. A bundle or signature already cached is compared byte for
byte with the verified one and rewritten when it differs (a re-signed bundle
after a key rotation, a damaged file). Everything read back is verified again;
the cache is a convenience, never a source of trust.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from promptship.core.errors import PromptshipError, StoreError
from promptship.fs import read_file, refuse_links, write_atomic
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.channel import Channel, open_channel, verify_channel, verify_channel_bundle
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES, parse_channel, parse_envelope
from promptship.release.sshsig import MAX_SIGNATURE_BYTES
from promptship.release.store import folder as store

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: renames are still atomic, writers unordered
    fcntl = None  # type: ignore[assignment]

__all__ = ["Fetched", "LastGoodCache"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


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
        self.root = root
        self.dir = root / env
        self.env = env
        self.keep = keep

    @property
    def channel_file(self) -> Path:
        """Where the cached channel lives."""
        return self.dir / "channel.json"

    def _bundle_file(self, digest: str, suffix: str = ".tar") -> Path:
        return self.dir / "bundles" / (store.bundle_path(Path(), digest).stem + suffix)

    def _check_folders(self) -> None:
        """Refuse ``<env>/`` or ``<env>/bundles/`` when a symbolic link (or not a folder).

        Raises:
            StoreError: Naming the link; the cache is then neither read nor written.
        """
        refuse_links(self.root, self.dir / "bundles", what="cache_dir", error=StoreError)

    def _read(self, path: Path, cap: int) -> bytes:
        """A cache file (a regular file, no link), at most ``cap`` bytes; FileNotFoundError if absent."""
        if not os.path.lexists(path):
            raise FileNotFoundError(errno.ENOENT, "missing", str(path))
        return read_file(path, cap, what="the cached file", error=StoreError, follow_symlinks=False)

    # --- writing ----------------------------------------------------------------

    def _write(self, path: Path, data: bytes) -> None:
        # mode 0600: the cache is the application's own (as tempfile.mkstemp made it before)
        write_atomic(path, data, mode=0o600, make_parents=True)

    def _write_if_different(self, path: Path, data: bytes, cap: int) -> None:
        """Write ``path`` unless it holds exactly ``data`` (compared byte for byte)."""
        try:
            same = self._read(path, cap) == data
        except (OSError, PromptshipError):
            same = False
        if not same:
            self._write(path, data)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self._check_folders()
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_WRONLY | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o600)
        with os.fdopen(fd, "ab") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _cached_seq(self, allowed: AllowedSigners, now: datetime) -> int:
        """The seq of the channel on disk if its signature verifies, else -1.

        An unsigned or forged ``channel.json`` planted in the cache must not
        stop every later write (a huge ``seq`` that nobody signed is no floor).
        """
        try:
            data = self._read(self.channel_file, DEFAULT_MAX_CHANNEL_BYTES)
            return open_channel(data, allowed, env=self.env, now=now).pointer.seq
        except (OSError, PromptshipError):
            return -1

    def save(self, fetched: Fetched, allowed: AllowedSigners, *, now: datetime) -> None:
        """Store a verified channel and its bundle: the bundle first, the channel last.

        Files already there are compared byte for byte and rewritten when they
        differ (a bundle re-signed with a rotated key, a damaged file), never
        trusted for having the right size.

        Raises:
            OSError, PromptshipError: The cache cannot be written (the caller reports it).
        """
        self._check_folders()
        digest = fetched.bundle.digest
        self._write_if_different(self._bundle_file(digest), fetched.tar, bundles.DEFAULT_MAX_BYTES)
        self._write_if_different(
            self._bundle_file(digest, ".tar.sig"),
            fetched.signature.encode("ascii"),
            MAX_SIGNATURE_BYTES,
        )
        self.save_channel(fetched.channel_bytes, fetched.channel.pointer.seq, allowed, now=now)

    def save_channel(
        self, data: bytes, seq: int, allowed: AllowedSigners, *, now: datetime
    ) -> None:
        """Replace the cached channel with a verified one, unless the cache holds a higher seq.

        Raises:
            OSError, PromptshipError: The cache cannot be written.
        """
        with self._locked():
            if self._cached_seq(allowed, now) > seq:
                return
            self._write(self.channel_file, data)
            self._prune()

    def _prune(self) -> None:
        """Drop all but the newest ``keep`` bundles, never the one the cached channel names."""
        try:
            current = parse_channel(
                parse_envelope(self._read(self.channel_file, DEFAULT_MAX_CHANNEL_BYTES))[0]
            )
            keep_hex = store.bundle_path(Path(), current.bundle_digest).stem
        except (OSError, PromptshipError):
            return
        aged: list[tuple[int, Path]] = []
        for tar in (self.dir / "bundles").glob("*.tar"):
            with contextlib.suppress(OSError):
                aged.append((tar.lstat().st_mtime_ns, tar))
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
        return max(self._cached_seq(allowed, now), 0)

    def load(self, allowed: AllowedSigners, *, now: datetime) -> tuple[Fetched | None, str]:
        """The cached channel and bundle, verified again as of ``now``.

        Returns:
            The cached content, or ``None`` and why nothing valid is cached.
        """
        reason = f"{self.dir} holds no channel"
        try:
            self._check_folders()
        except PromptshipError as e:
            return None, e.message
        for _ in range(3):  # a writer may prune the bundle between our two reads; read again
            try:
                data = self._read(self.channel_file, DEFAULT_MAX_CHANNEL_BYTES)
            except FileNotFoundError:
                return None, reason
            except (OSError, PromptshipError) as e:
                return None, f"{self.dir}: unreadable: {e}"
            try:
                channel = verify_channel(
                    data, allowed, env=self.env, now=now, source=str(self.channel_file)
                )
                digest = channel.pointer.bundle_digest
                tar = self._read(self._bundle_file(digest), bundles.DEFAULT_MAX_BYTES)
                raw = self._read(self._bundle_file(digest, ".tar.sig"), MAX_SIGNATURE_BYTES)
                sig = raw.decode("ascii")
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
