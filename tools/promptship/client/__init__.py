"""The application client: pull a channel's bundle, verify it, render prompts.

    from promptship.client import PromptClient

    client = PromptClient.from_channel(
        "https://prompts.example.com/store", env="production",
        allowed_signers="allowed_signers", cache_dir="/var/cache/promptship",
    )
    result = client.get("support/triage").render(subject=..., channel="email", customer_message=...)
    openai.chat.completions.create(**result.to_openai())
    log.info("served", extra=result.ref.to_dict())

Reads never block: a refresh verifies a new bundle off to the side and swaps
it in with one reference assignment, so a render always sees one whole bundle.
Any failed refresh keeps the last good bundle and is reported by :meth:`status`.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from promptship import bundle as bundles
from promptship.client._fetch import Fetched, LastGoodCache, Source, make_source
from promptship.client._loaded import BASE, LoadedBundle, PromptEntry
from promptship.errors import ChannelError, PromptshipError, UsageError
from promptship.events import FeedbackEvent, OutcomeEvent, RenderEvent
from promptship.render import PromptRef, Rendered
from promptship.signing import AllowedSigners, parse_allowed_signers
from promptship.sinks import Sink

__all__ = ["ClientStatus", "Prompt", "PromptClient", "PromptRef", "Rendered"]

DEFAULT_MAX_BUNDLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class ClientStatus:
    """What the client serves and how its last refresh went.

    Attributes:
        env: The environment.
        release: Release number being served.
        bundle_digest: Digest of the bundle being served.
        seq: The channel sequence number it came from (``None`` for a baked bundle).
        source: Where it came from (``channel``, ``cache``, ``bundle``, ``registry``).
        loaded_at: When this bundle was swapped in.
        age_s: Seconds since then.
        last_refresh: When a refresh was last attempted, if ever.
        last_error: Why the last refresh failed, or ``None`` when it succeeded.
        prompts: Number of prompts in the bundle.
    """

    env: str
    release: int
    bundle_digest: str
    seq: int | None
    source: str
    loaded_at: datetime
    age_s: float
    last_refresh: datetime | None
    last_error: str | None
    prompts: int


class Prompt:
    """A prompt chosen for a caller (and a unit, in an experiment); call :meth:`render`."""

    __slots__ = ("_bundle", "_client", "_entry", "_experiment", "_unit")

    def __init__(
        self,
        client: PromptClient,
        bundle: LoadedBundle,
        entry: PromptEntry,
        experiment: str | None,
        unit: str | None,
    ) -> None:
        self._client = client
        self._bundle = bundle
        self._entry = entry
        self._experiment = experiment
        self._unit = unit

    @property
    def id(self) -> str:
        """The prompt id."""
        return self._entry.prompt_id

    @property
    def version(self) -> str:
        """The prompt's version."""
        return self._entry.version

    @property
    def variant(self) -> str | None:
        """The variant chosen (``None`` = the base prompt)."""
        return self._entry.variant

    @property
    def view(self) -> Mapping[str, Any]:
        """The resolved prompt document (read-only by convention)."""
        return self._entry.compiled.view

    def render(self, **inputs: Any) -> Rendered:
        """Check ``inputs`` against the prompt's schema and fill its templates.

        Returns:
            Messages in OpenAI chat shape (or text), model, parameters and ``ref``.

        Raises:
            InputError: Inputs are missing, unknown or of the wrong type.
            TemplateError: A template failed while rendering.
        """
        client = self._client
        entry = self._entry
        bundle = self._bundle
        start = time.perf_counter_ns() if client._sink is not None else 0
        ref = PromptRef(
            entry.prompt_id,
            entry.version,
            entry.content_digest,
            entry.variant,
            self._experiment,
            bundle.env,
            bundle.release,
            bundle.digest,
            client._request_id(),
        )
        result = entry.compiled.render(inputs, ref)
        if client._sink is not None:
            client._emit(
                RenderEvent(
                    client._clock(),
                    ref.request_id,
                    entry.prompt_id,
                    entry.version,
                    entry.content_digest,
                    bundle.env,
                    bundle.release,
                    bundle.digest,
                    inputs,
                    entry.sensitive,
                    self._experiment,
                    entry.variant,
                    self._unit,
                    client._unit_key,
                    (time.perf_counter_ns() - start) // 1000,
                )
            )
        return result


class PromptClient:
    """Serves prompts from a verified bundle; see the module docstring.

    Build one with :meth:`from_channel`, :meth:`from_bundle` or
    :meth:`from_registry`; it is thread-safe. Call :meth:`close` (or use it as a
    context manager) to stop the background refresh and flush events.
    """

    def __init__(
        self,
        bundle: LoadedBundle,
        *,
        source: str,
        seq: int | None = None,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
    ) -> None:
        self._current = bundle
        self._origin = source
        self._seq = seq
        self._sink = sink
        self._clock = clock
        self._unit_key = unit_key
        self._loaded_at = clock()
        self._last_refresh: float | None = None
        self._last_error: str | None = None
        self._prefix = os.urandom(6).hex()
        self._counter = itertools.count(1)
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fetcher: _ChannelFetcher | None = None

    # --- construction ----------------------------------------------------------

    @classmethod
    def from_channel(
        cls,
        location: str | os.PathLike[str],
        *,
        env: str,
        allowed_signers: str | os.PathLike[str] | AllowedSigners,
        cache_dir: str | os.PathLike[str] | None = None,
        refresh_interval: float | None = 60.0,
        timeout: float = 5.0,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
        sink: Sink | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
    ) -> PromptClient:
        """A client following ``env``'s channel in a store (an ``http(s)://`` URL or a folder).

        On start it serves the channel's bundle, or, when the store cannot be
        reached or fails a check, the last good bundle from ``cache_dir``. With
        ``refresh_interval`` a daemon thread checks the channel that often.

        Raises:
            ChannelError: Nothing could be loaded: the store failed and nothing
                valid is cached (the message names both reasons).
        """
        allowed = _signers(allowed_signers)
        src = make_source(
            location, client=http_client, timeout_s=timeout, max_bundle_bytes=max_bundle_bytes
        )
        cache = LastGoodCache(Path(cache_dir), env) if cache_dir is not None else None
        fetcher = _ChannelFetcher(src, env, allowed, cache, clock)
        first, origin, error = fetcher.start()
        client = cls(
            _load(first, env),
            source=origin,
            seq=first.channel.pointer.seq,
            sink=sink,
            clock=clock,
            unit_key=unit_key,
        )
        client._fetcher = fetcher
        client._last_error = error
        client._last_refresh = clock()
        if refresh_interval:
            client._start_refresh(refresh_interval)
        return client

    @classmethod
    def from_bundle(
        cls,
        path: str | os.PathLike[str],
        *,
        env: str,
        allowed_signers: str | os.PathLike[str] | AllowedSigners,
        signature: str | os.PathLike[str] | None = None,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
    ) -> PromptClient:
        """A client serving one bundle file (baked into the image; no network).

        Raises:
            BundleError, SignatureError: The bundle fails verification.
            UsageError: A file cannot be read.
        """
        tar_path = Path(path)
        sig_path = (
            Path(signature) if signature is not None else tar_path.with_name(tar_path.name + ".sig")
        )
        try:
            tar, sig = tar_path.read_bytes(), sig_path.read_text("ascii")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read the bundle or its signature: {e}") from None
        now = datetime.fromtimestamp(clock(), UTC)
        verified = bundles.verify_bundle(
            tar, sig, _signers(allowed_signers), environment=env, now=now
        )
        loaded = LoadedBundle(
            verified.files, digest=verified.digest, env=env, release=verified.manifest.release
        )
        return cls(loaded, source="bundle", sink=sink, clock=clock, unit_key=unit_key)

    @classmethod
    def from_registry(
        cls,
        path: str | os.PathLike[str],
        env: str,
        *,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
    ) -> PromptClient:
        """A development client reading the registry's YAML directly (no signatures).

        Raises:
            ValidationFailed: The registry has errors.
        """
        from promptship import release
        from promptship.fssource import DirectorySnapshot, find_root

        files = release.checked_files(DirectorySnapshot(find_root(Path(path))))
        contents = release.bundle_files(files, env, 0, "0" * 40)
        loaded = LoadedBundle(contents, digest="sha256:" + "0" * 64, env=env, release=0)
        return cls(loaded, source="registry", sink=sink, clock=clock)

    # --- serving ---------------------------------------------------------------

    def get(self, prompt_id: str, unit: str | None = None) -> Prompt:
        """The prompt ``prompt_id`` for ``unit``.

        When the prompt is in an experiment, ``unit`` (the experiment's unit, e.g.
        a user id) picks the variant by a stable hash; without a unit the base
        prompt is served and no experiment is recorded.

        Raises:
            UsageError: For an unknown prompt.
        """
        bundle = self._current
        experiment = bundle.experiments.get(prompt_id) if unit is not None else None
        if experiment is None:
            return Prompt(self, bundle, bundle.entry(prompt_id, None), None, None)
        assert unit is not None
        chosen = experiment.splitter.assign(unit)
        entry = bundle.entry(prompt_id, None if chosen == BASE else chosen)
        return Prompt(self, bundle, entry, experiment.id, unit)

    def prompt_ids(self) -> list[str]:
        """Every prompt id being served."""
        return self._current.prompt_ids()

    def _request_id(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"

    def _emit(self, event: Any) -> None:
        sink = self._sink
        if sink is not None:
            sink.emit(event)

    def record_outcome(
        self,
        request_id: str,
        *,
        error: str | None = None,
        latency_ms: float | None = None,
        accepted: bool | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        cost: float | None = None,
    ) -> None:
        """Log how the model call behind ``request_id`` went."""
        self._emit(
            OutcomeEvent(
                self._clock(), request_id, error, latency_ms, accepted, tokens_in, tokens_out, cost
            )
        )

    def feedback(self, request_id: str, score: float, comment: str | None = None) -> None:
        """Log a user's rating of the answer to ``request_id``."""
        self._emit(FeedbackEvent(self._clock(), request_id, score, comment))

    # --- refresh ---------------------------------------------------------------

    def refresh(self) -> bool:
        """Check the channel now; swap in a newer verified bundle.

        Returns:
            Whether a new bundle was swapped in. Failures never raise: they keep
            the last good bundle and show in :meth:`status`.
        """
        fetcher = self._fetcher
        if fetcher is None:
            return False
        with self._refresh_lock:
            self._last_refresh = self._clock()
            try:
                fetched, seq = fetcher.poll(self._current.digest)
            except PromptshipError as e:
                self._last_error = str(e)
                return False
            except Exception as e:  # a refresh must never take the application down
                self._last_error = f"{type(e).__name__}: {e}"
                return False
            self._last_error = None
            self._seq = seq
            if fetched is None:
                return False
            self._current = _load(fetched, self._current.env)
            self._origin = "channel"
            self._loaded_at = self._clock()
            return True

    def _start_refresh(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="promptship-refresh", daemon=True)
        self._thread.start()

    def status(self) -> ClientStatus:
        """What is being served, its age, and how the last refresh went."""
        bundle = self._current
        now = self._clock()
        return ClientStatus(
            env=bundle.env,
            release=bundle.release,
            bundle_digest=bundle.digest,
            seq=self._seq,
            source=self._origin,
            loaded_at=datetime.fromtimestamp(self._loaded_at, UTC),
            age_s=max(0.0, now - self._loaded_at),
            last_refresh=datetime.fromtimestamp(self._last_refresh, UTC)
            if self._last_refresh
            else None,
            last_error=self._last_error,
            prompts=len(bundle),
        )

    def close(self) -> None:
        """Stop refreshing and flush the event sink."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sink is not None:
            self._sink.close()

    def __enter__(self) -> PromptClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _signers(value: str | os.PathLike[str] | AllowedSigners) -> AllowedSigners:
    if isinstance(value, AllowedSigners):
        return value
    path = Path(value)
    try:
        text = path.read_text("utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read allowed signers: {e.strerror}") from None
    return parse_allowed_signers(text, source=str(path))


def _load(fetched: Fetched, env: str) -> LoadedBundle:
    b = fetched.bundle
    return LoadedBundle(b.files, digest=b.digest, env=env, release=b.manifest.release)


class _ChannelFetcher:
    """Channel polling with replay protection, ETags and the last-good cache."""

    def __init__(
        self,
        source: Source,
        env: str,
        allowed: AllowedSigners,
        cache: LastGoodCache | None,
        clock: Callable[[], float],
    ) -> None:
        self.source = source
        self.env = env
        self.allowed = allowed
        self.cache = cache
        self.clock = clock
        self.etag: str | None = None
        self.seq = 0

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def start(self) -> tuple[Fetched, str, str | None]:
        """The first bundle: from the store, else from the cache.

        Returns:
            The bundle, where it came from, and the store's error when the cache served.
        """
        cached = self.cache.load(self.env, self.allowed, now=self._now()) if self.cache else None
        if cached is not None:
            self.seq = cached.channel.pointer.seq
        try:
            channel, _, fetched, etag = self.source.fetch(
                self.env,
                self.allowed,
                now=self._now(),
                min_seq=self.seq,
                etag=None,
                have_digest=None,
            )
        except PromptshipError as e:
            if cached is None:
                where = "no valid cache" if self.cache else "no cache_dir configured"
                raise ChannelError(
                    f"cannot start: the store failed ({e}) and there is {where}",
                    hint="check the store URL, network and allowed signers, or bake a bundle with from_bundle",
                ) from e
            return cached, "cache", str(e)
        assert fetched is not None
        assert channel is not None
        self.etag = etag
        self.seq = channel.pointer.seq
        if self.cache is not None:
            self.cache.save(fetched)
        return fetched, "channel", None

    def poll(self, have_digest: str) -> tuple[Fetched | None, int]:
        """Check the channel; a verified newer bundle, or ``None`` when nothing changed."""
        channel, data, fetched, etag = self.source.fetch(
            self.env,
            self.allowed,
            now=self._now(),
            min_seq=self.seq,
            etag=self.etag,
            have_digest=have_digest,
        )
        if channel is None:
            return None, self.seq
        self.etag = etag
        self.seq = channel.pointer.seq
        if self.cache is not None:
            if fetched is not None:
                self.cache.save(fetched)
            elif data is not None:
                self.cache.save_channel(data)
        return fetched, self.seq
