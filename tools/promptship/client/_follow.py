"""Following an environment's channel: the trust chain, the replay floor, ETags, the cache.

Checks, in the order of DESIGN §6: size caps (in the source); the channel's
envelope, signature (key, namespace, principal), environment, expiry, and
``seq`` not below the highest seen; the bundle's manifest digest equal to the
channel's; the manifest's signature; the canonical manifest; every member
listed, regular, safely named, of the right size and sha256; the environment
and expiry of the bundle; the release equal to the channel's. Nothing changes
(state, cache, what is served) until all of them pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from promptship.client._cache import Fetched, LastGoodCache
from promptship.client._loaded import LoadedBundle, load_bundle
from promptship.client._source import Source
from promptship.core.errors import ChannelError, PromptshipError
from promptship.release import bundle as bundles
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.channel import Channel, verify_channel, verify_channel_bundle

__all__ = ["Accepted", "ChannelFollower"]


@dataclass(frozen=True)
class Accepted:
    """A bundle that passed every check, and where it came from.

    Attributes:
        bundle: The bundle, loaded; ``None`` when only the channel moved (same bundle).
        channel: The channel that named it (``None`` for a baked bundle).
        origin: ``channel`` (the store), ``cache`` or ``bundle`` (the baked fallback).
        cache_error: Why the cache could not be written, if it could not.
    """

    bundle: LoadedBundle | None
    channel: Channel | None
    origin: str
    cache_error: str | None = None


class ChannelFollower:
    """Polls one environment's channel in a store; not thread-safe (the client serialises it).

    Args:
        source: The store.
        env: The environment.
        allowed: Who may sign its channel and bundles.
        cache: The last-good cache, if any.
        clock: Seconds since the epoch.
        max_bundle_bytes: Largest bundle accepted.
    """

    def __init__(  # noqa: PLR0917 - built in one place from the client's own parts
        self,
        source: Source,
        env: str,
        allowed: AllowedSigners,
        cache: LastGoodCache | None,
        clock: Callable[[], float],
        max_bundle_bytes: int,
    ) -> None:
        self.source = source
        self.env = env
        self.allowed = allowed
        self.cache = cache
        self.clock = clock
        self.max_bundle_bytes = max_bundle_bytes
        self.etag: str | None = None
        self.seq = 0
        """The replay floor: the highest seq accepted (or remembered by the cache)."""
        self.channel: Channel | None = None
        """The channel of the bundle being served."""

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def _read(
        self, now: datetime, etag: str | None, have_digest: str | None
    ) -> tuple[Channel, bytes, str | None, Fetched | None] | None:
        """Read and verify the channel, then its bundle unless it is ``have_digest``.

        Returns:
            ``None`` when the channel is unchanged since ``etag``; else the channel,
            its bytes, its etag, and the fetched bundle (``None`` when it is ``have_digest``).
        """
        data, new_etag = self.source.channel(self.env, etag)
        if data is None:
            return None
        channel = verify_channel(
            data,
            self.allowed,
            env=self.env,
            now=now,
            min_seq=self.seq,
            source=self.source.where(f"channels/{self.env}.json"),
        )
        digest = channel.pointer.bundle_digest
        if digest == have_digest:
            return channel, data, new_etag, self._resigned(channel, data, now)
        tar, signature = self.source.bundle(digest)
        try:
            verified = verify_channel_bundle(
                channel, tar, signature, self.allowed, now=now, max_bytes=self.max_bundle_bytes
            )
        except PromptshipError as e:
            where = self.source.where(f"bundles/sha256/{digest.removeprefix('sha256:')}.tar")
            raise type(e)(f"{where}: {e.message}", hint=e.hint) from e
        return channel, data, new_etag, Fetched(data, channel, tar, signature, verified)

    def _resigned(self, channel: Channel, data: bytes, now: datetime) -> Fetched | None:
        """The cached bundle with the store's new signature, when the same bundle was re-signed.

        A channel that names the bundle already served may come with the bundle
        re-signed (a key rotation): the cache must then keep the new signature,
        or a restart during a store outage, once the old key is removed, finds
        nothing it can verify. ``None`` when nothing changed or anything fails
        (the served bundle stays; the next poll tries again).
        """
        if self.cache is None:
            return None
        try:
            cached, _ = self.cache.load(self.allowed, now=now)
            if cached is None or cached.bundle.digest != channel.pointer.bundle_digest:
                return None
            signature = self.source.signature(channel.pointer.bundle_digest)
            if signature == cached.signature:
                return None
            verified = verify_channel_bundle(channel, cached.tar, signature, self.allowed, now=now)
        except PromptshipError:
            return None
        return Fetched(data, channel, cached.tar, signature, verified)

    def _commit(
        self, channel: Channel, data: bytes, etag: str | None, fetched: Fetched | None
    ) -> str | None:
        """Adopt a verified channel (and bundle); returns why the cache was not written."""
        self.etag = etag
        self.seq = channel.pointer.seq
        self.channel = channel
        if self.cache is None:
            return None
        now = self._now()
        try:
            if fetched is not None:
                self.cache.save(fetched, self.allowed, now=now)
            else:
                self.cache.save_channel(data, channel.pointer.seq, self.allowed, now=now)
        except (OSError, PromptshipError) as e:  # FileWriteError from fs.write_atomic
            return f"serving the new bundle, but cache_dir cannot be written: {e}"
        return None

    def start(
        self, fallback: Callable[[], bundles.VerifiedBundle] | None
    ) -> tuple[Accepted, str | None]:
        """The first bundle: from the store; if that fails, the cache or the baked fallback.

        Returns:
            What to serve, and the store's error when something else serves.

        Raises:
            ChannelError: Nothing can be served; the message gives every reason.
        """
        now = self._now()
        cached: Fetched | None = None
        why_not_cached = "no cache_dir is configured"
        if self.cache is not None:
            self.seq = self.cache.seq_floor(self.allowed, now=now)
            cached, why_not_cached = self.cache.load(self.allowed, now=now)
        try:
            got = self._read(now, None, cached.bundle.digest if cached else None)
            assert got is not None  # no etag was sent
            channel, data, etag, fetched = got
            if fetched is None:
                assert cached is not None
                fetched = Fetched(data, channel, cached.tar, cached.signature, cached.bundle)
            loaded = load_bundle(fetched.bundle)
        except PromptshipError as e:
            return self._fall_back(e, cached, why_not_cached, fallback), str(e)
        cache_error = self._commit(channel, data, etag, fetched)
        return Accepted(loaded, channel, "channel", cache_error), None

    def _fall_back(
        self,
        error: PromptshipError,
        cached: Fetched | None,
        why_not_cached: str,
        fallback: Callable[[], bundles.VerifiedBundle] | None,
    ) -> Accepted:
        baked: LoadedBundle | None = None
        why_not_baked = "no fallback bundle is configured"
        if fallback is not None:
            try:
                baked = load_bundle(fallback())
            except PromptshipError as e:
                why_not_baked = f"the fallback bundle fails: {e}"
        from_cache: LoadedBundle | None = None
        if cached is not None:
            try:
                from_cache = load_bundle(cached.bundle)
            except PromptshipError as e:
                why_not_cached = f"cached: {e}"
        newest_cached = baked is None or (
            from_cache is not None and from_cache.release >= baked.release
        )
        if cached is not None and from_cache is not None and newest_cached:
            self.seq = cached.channel.pointer.seq
            self.channel = cached.channel
            return Accepted(from_cache, cached.channel, "cache")
        if baked is not None:
            return Accepted(baked, None, "bundle")
        raise ChannelError(
            f"cannot start: the store failed ({error}); {why_not_cached}; {why_not_baked}",
            hint="check the store URL, the network and the allowed signers; "
            "or pass fallback_bundle= (a bundle baked into the image), or use from_bundle",
        ) from error

    def poll(self, have_digest: str) -> Accepted | None:
        """Check the channel; a verified newer channel (and bundle, if it changed), or ``None``.

        A channel that is unchanged (HTTP 304) is not trusted past its expiry: once
        the channel in use has expired the follower asks again without the etag, so
        the store's actual file is verified (and its expiry reported).

        Raises:
            PromptshipError: A check failed or the store cannot be read; nothing changed.
        """
        now = self._now()
        got = self._read(now, self.etag, have_digest)
        if got is None and self.channel is not None and now >= self.channel.pointer.expires:
            self.etag = None
            got = self._read(now, None, have_digest)
        if got is None:
            return None
        channel, data, etag, fetched = got
        changed = fetched is not None and fetched.bundle.digest != have_digest
        loaded = load_bundle(fetched.bundle) if fetched is not None and changed else None
        cache_error = self._commit(channel, data, etag, fetched)
        return Accepted(loaded, channel, "channel", cache_error)
