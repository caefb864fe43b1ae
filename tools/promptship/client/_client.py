"""PromptClient: serve prompts from a verified bundle, follow a channel, log what was served."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from promptship.client._emitter import Emitter
from promptship.client._loaded import BASE
from promptship.client._prompt import Prompt
from promptship.client._status import Serving
from promptship.core.errors import PromptshipError, UsageError
from promptship.core.names import unknown_name

if TYPE_CHECKING:
    import httpx

    from promptship.client._follow import ChannelFollower
    from promptship.client._loaded import LoadedBundle
    from promptship.client._outcomes import Outcomes
    from promptship.client._status import ClientStatus
    from promptship.core.render import PromptRef, Rendered
    from promptship.events import ResponseCapture
    from promptship.events.sinks import Sink
    from promptship.release import bundle as bundles
    from promptship.release.allowed_signers import AllowedSigners
    from promptship.release.manifest import ChannelPointer

# Only what serving a prompt needs is imported with the client: fetching (httpx),
# verifying (cryptography), caching, outcome events and health reports are imported
# by the methods that use them, so `from promptship import PromptClient` stays cheap
# (tests/acceptance/test_client_app.py holds the list).

__all__ = ["DEFAULT_MAX_BUNDLE_BYTES", "PromptClient"]

DEFAULT_MAX_BUNDLE_BYTES = 256 * 1024 * 1024


class PromptClient:
    """Serves prompts from a verified bundle; thread-safe.

    Build one with :meth:`from_channel`, :meth:`from_bundle` or
    :meth:`from_registry`. Readers never block: a refresh verifies a new bundle
    off to the side and swaps it in with one reference assignment, so a render
    always sees one whole bundle. A failed refresh keeps the last good bundle
    and shows in :meth:`status`. Call :meth:`close` (or use the client as a
    context manager) to stop the background refresh and flush events.
    """

    def __init__(
        self,
        bundle: LoadedBundle,
        *,
        source: str,
        channel: ChannelPointer | None = None,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
        capture: ResponseCapture | None = None,
    ) -> None:
        self._serving = Serving(bundle, source, channel, clock())
        self._emitter = Emitter(sink, clock, unit_key)
        self._served: tuple[LoadedBundle, dict[str, Prompt]] = (bundle, {})  # base prompts
        self._capture = capture
        self._outcomes_made: Outcomes | None = None
        self._outcomes_lock = threading.Lock()
        self._clock = clock
        self._last_refresh: float | None = None
        self._last_error: str | None = None
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._follower: ChannelFollower | None = None

    # --- construction ----------------------------------------------------------

    @classmethod
    def from_channel(  # noqa: PLR0913 - the documented keyword options of the public constructor
        cls,
        location: str | os.PathLike[str],
        *,
        env: str,
        allowed_signers: str | os.PathLike[str] | AllowedSigners,
        cache_dir: str | os.PathLike[str] | None = None,
        fallback_bundle: str | os.PathLike[str] | None = None,
        refresh_interval: float | None = 60.0,
        timeout: float = 5.0,
        deadline: float = 60.0,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
        sink: Sink | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
        capture: ResponseCapture | None = None,
    ) -> PromptClient:
        """A client following ``env``'s channel in a store (an ``http(s)://`` URL or a folder).

        It starts on the channel's bundle. When the store fails, it starts on the
        last good bundle in ``cache_dir`` or on ``fallback_bundle``, whichever
        has the higher release, and keeps trying the store. With
        ``refresh_interval`` a daemon thread checks the channel that often.

        Args:
            location: The store's root: ``https://…`` or a directory.
            env: The environment to follow.
            allowed_signers: OpenSSH allowed-signers file (or parsed signers).
            cache_dir: Where the last good bundle is kept (shareable by processes).
            fallback_bundle: A bundle file baked into the image (``.sig`` beside it),
                served when neither the store nor the cache can be.
            refresh_interval: Seconds between background refreshes; ``None``: only
                when :meth:`refresh` is called.
            timeout: Seconds any one network operation may wait.
            deadline: Seconds one file's whole download may take.
            max_bundle_bytes: Largest bundle accepted.
            sink: Where render, outcome and feedback events go.
            http_client: An httpx client to use instead of the built-in one.
            clock: Seconds since the epoch (tests pass a fake).
            unit_key: Secret key for the experiment unit's pseudonym in events.
            capture: Which model responses outcome events may carry (``None``: none).

        Raises:
            ChannelError: Nothing can be served; the message gives every reason.
            UsageError: ``allowed_signers`` cannot be read.
        """
        from pathlib import Path

        from promptship.client._cache import LastGoodCache
        from promptship.client._fetch import make_source, read_bundle_file, read_signers
        from promptship.client._follow import ChannelFollower

        allowed = read_signers(allowed_signers)
        source = make_source(
            location,
            client=http_client,
            timeout_s=timeout,
            deadline_s=deadline,
            max_bundle_bytes=max_bundle_bytes,
        )
        cache = LastGoodCache(Path(cache_dir), env) if cache_dir is not None else None
        follower = ChannelFollower(source, env, allowed, cache, clock, max_bundle_bytes)

        def baked() -> bundles.VerifiedBundle:
            assert fallback_bundle is not None
            return read_bundle_file(fallback_bundle, None, allowed, env, clock, max_bundle_bytes)

        try:
            first, error = follower.start(baked if fallback_bundle is not None else None)
        except BaseException:
            source.close()
            raise
        assert first.bundle is not None
        client = cls(
            first.bundle,
            source=first.origin,
            channel=first.channel.pointer if first.channel else None,
            sink=sink,
            clock=clock,
            unit_key=unit_key,
            capture=capture,
        )
        client._follower = follower
        client._last_error = error or first.cache_error
        client._last_refresh = client._serving.loaded_at
        if refresh_interval:
            client._start_refresh(refresh_interval)
        return client

    @classmethod
    def from_bundle(  # noqa: PLR0913 - every option of a baked client, keyword-only
        cls,
        path: str | os.PathLike[str],
        *,
        env: str,
        allowed_signers: str | os.PathLike[str] | AllowedSigners,
        signature: str | os.PathLike[str] | None = None,
        max_bundle_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
        max_bundle_age: float | None = None,
        capture: ResponseCapture | None = None,
    ) -> PromptClient:
        """A client serving one bundle file (baked into an image; no network).

        The bundle is a long-lived release: it stays usable until its own
        ``expires`` (``bundle_expiry_days`` after its source commit).
        ``status().bundle_age_s`` says how old its content is; pass
        ``max_bundle_age`` to refuse one older than you accept.

        Args:
            path: The bundle (``ENV.tar`` from ``promptship bundle build``).
            env: The environment it must be for.
            allowed_signers: OpenSSH allowed-signers file (or parsed signers).
            signature: Its signature file (default: ``PATH.sig``).
            max_bundle_bytes: Largest bundle accepted.
            sink: Where events go.
            clock: Seconds since the epoch.
            unit_key: Secret key for the experiment unit's pseudonym in events.
            max_bundle_age: Refuse a bundle whose source commit is older than this
                many seconds (``None``: only its own expiry limits it).
            capture: Which model responses outcome events may carry (``None``: none).

        Raises:
            BundleError, SignatureError: The bundle fails verification, has expired,
                or is older than ``max_bundle_age``.
            UsageError: A file cannot be read.
        """
        from promptship.client._fetch import check_bundle_age, read_bundle_file, read_signers
        from promptship.client._loaded import load_bundle

        verified = read_bundle_file(
            path, signature, read_signers(allowed_signers), env, clock, max_bundle_bytes
        )
        check_bundle_age(verified, clock(), max_bundle_age)
        return cls(
            load_bundle(verified),
            source="bundle",
            sink=sink,
            clock=clock,
            unit_key=unit_key,
            capture=capture,
        )

    @classmethod
    def from_registry(
        cls,
        path: str | os.PathLike[str],
        *,
        env: str,
        sink: Sink | None = None,
        clock: Callable[[], float] = time.time,
        unit_key: bytes = b"",
        capture: ResponseCapture | None = None,
    ) -> PromptClient:
        """A development client reading a registry checkout's YAML (no signatures, no git).

        Args:
            path: The registry's root (or a folder inside it).
            env: The environment whose view to serve.
            sink: Where events go.
            clock: Seconds since the epoch.
            unit_key: Secret key for the experiment unit's pseudonym in events.
            capture: Which model responses outcome events may carry (``None``: none).

        Raises:
            ValidationFailed: The registry has errors.
        """
        from pathlib import Path

        from promptship.client._loaded import LoadedBundle
        from promptship.registry.files import DirectorySnapshot, find_root
        from promptship.release import build as release

        files = release.checked_files(DirectorySnapshot(find_root(Path(path))))
        if env not in files.environments:
            raise unknown_name("environment", env, files.environments)
        contents = release.bundle_files(files, env, 0, "0" * 40)
        loaded = LoadedBundle(contents, digest="sha256:" + "0" * 64, env=env, release=0)
        return cls(
            loaded, source="registry", sink=sink, clock=clock, unit_key=unit_key, capture=capture
        )

    # --- serving ---------------------------------------------------------------

    def get(
        self, prompt_id: str, unit: str | int | None = None, *, variant: str | None = None
    ) -> Prompt:
        """The prompt ``prompt_id`` from the bundle being served.

        When the prompt is in an experiment, ``unit`` (the experiment's unit, such
        as a user id) picks the variant by a stable hash of (experiment id, unit):
        the same unit always gets the same variant. Without a unit, the base
        prompt is served and no experiment is recorded.

        Args:
            prompt_id: The prompt's id (``ns/name``).
            unit: The experiment unit's value, converted with ``str``.
            variant: Serve this variant outside any experiment (previews, evals).

        Raises:
            UsageError: For an unknown prompt or variant, or both ``unit`` and ``variant``.
        """
        bundle = self._serving.bundle
        if unit is None and variant is None:  # the hot path: one Prompt per id and bundle
            served = self._served
            if served[0] is not bundle:  # swapped: the new bundle's prompts from now on
                served = self._served = (bundle, {})
            found = served[1].get(prompt_id)  # a Prompt is immutable: one per id is enough
            if found is None:
                entry = bundle.entry(prompt_id, None)
                found = served[1][prompt_id] = Prompt(
                    self._emitter, bundle, entry, None, None, None
                )
            return found
        if variant is not None:
            if unit is not None:
                raise UsageError("pass unit (to let the experiment choose) or variant, not both")
            entry = bundle.entry(prompt_id, None if variant == BASE else variant)
            return Prompt(self._emitter, bundle, entry, None, variant, None)
        experiment = bundle.experiments.get(prompt_id) if unit is not None else None
        if experiment is None:
            return Prompt(self._emitter, bundle, bundle.entry(prompt_id, None), None, None, None)
        key = unit if type(unit) is str else str(unit)
        arm = experiment.splitter.assign(key)
        entry = bundle.entry(prompt_id, None if arm == BASE else arm)
        return Prompt(self._emitter, bundle, entry, experiment.id, arm, key)

    def prompt_ids(self) -> list[str]:
        """Every prompt id being served, sorted."""
        return self._serving.bundle.prompt_ids()

    def record_outcome(  # noqa: PLR0913 - one keyword per documented outcome field
        self,
        request: str | PromptRef | Rendered,
        *,
        error: str | None = None,
        latency_ms: float | None = None,
        accepted: bool | None = None,
        tokens_in: int | None = None,
        tokens_out: int | None = None,
        cost: float | None = None,
        tokens_cached_in: int | None = None,
        abandoned: bool | None = None,
        metrics: Mapping[str, float] | None = None,
        response: str | None = None,
        model: str | None = None,
        provider: str | None = None,
    ) -> None:
        """Log how the model call for a render went (an ``outcome`` event).

        Args:
            request: The render's result, its ``ref``, or its ``request_id``.
            error: What went wrong (masked before it is written), ``None`` on success.
            latency_ms: How long the model call took.
            accepted: Whether the application accepted the output.
            tokens_in: Prompt tokens (cached ones included).
            tokens_out: Completion tokens.
            cost: Cost of the call.
            tokens_cached_in: Prompt tokens read from the provider's cache.
            abandoned: Whether the user walked away from the output.
            metrics: Custom numeric KPIs by name (``[a-z][a-z0-9_]*``).
            response: The model's output. Remembered in memory for
                ``feedback(edited_text=…)``; written only when the client's
                ``capture`` policy samples it, masked and cut.
            model: The model called (default: the render's, given a result).
            provider: The provider called (default: the render's, given a result).

        Raises:
            UsageError: A metric's name or value is not allowed.
        """
        from promptship.client._outcomes import OutcomeDetails

        self._outcomes().outcome(
            request,
            OutcomeDetails(
                error,
                latency_ms,
                accepted,
                abandoned,
                tokens_in,
                tokens_out,
                tokens_cached_in,
                cost,
                metrics,
                response,
                model,
                provider,
            ),
        )

    def feedback(
        self,
        request: str | PromptRef | Rendered,
        score: float | None = None,
        comment: str | None = None,
        *,
        edited_text: str | None = None,
        output: str | None = None,
        criterion: str | None = None,
        source: str | None = None,
        reviewer: str | None = None,
    ) -> None:
        """Log a judgement of the answer to a render (a ``feedback`` event).

        Args:
            request: The render's result, its ``ref``, or its ``request_id``.
            score: The rating, on the application's scale.
            comment: Free text (masked before it is written).
            edited_text: What the user kept of the output: the event records the
                normalised edit distance (0 kept as is, 1 nothing kept), and the
                text itself only when ``capture.edited_text`` allows it.
            output: The output the user edited (default: the ``response`` given
                to :meth:`record_outcome` for this request, remembered in memory).
            criterion: The rubric criterion rated.
            source: Who rated: ``user`` (default meaning), ``review``, ``eval``, …
            reviewer: A pseudonym of the rater.

        Raises:
            UsageError: ``score`` is not a finite number, nothing is rated, or
                ``edited_text`` is given for a request whose output is unknown.
        """
        self._outcomes().feedback(
            request,
            score,
            comment,
            edited_text=edited_text,
            output=output,
            criterion=criterion,
            source=source,
            reviewer=reviewer,
        )

    # --- refresh ---------------------------------------------------------------

    def refresh(self) -> bool:
        """Check the channel now; swap in a newer bundle once it passes every check.

        Returns:
            Whether a new bundle was swapped in. Failures never raise: the last good
            bundle stays, and :meth:`status` says why.
        """
        follower = self._follower
        if follower is None:
            return False
        with self._refresh_lock:
            error: str | None = None
            swapped = False
            try:
                accepted = follower.poll(self._serving.bundle.digest)
            except PromptshipError as e:
                error = str(e)
            except Exception as e:  # a refresh must never take the application down
                error = f"unexpected {type(e).__name__}: {e}"
            else:
                if accepted is not None:
                    assert accepted.channel is not None
                    pointer = accepted.channel.pointer
                    error = accepted.cache_error
                    current = self._serving
                    if accepted.bundle is not None:
                        self._serving = Serving(accepted.bundle, "channel", pointer, self._clock())
                        swapped = True
                    else:
                        self._serving = current._replace(channel=pointer, source="channel")
            self._last_refresh = self._clock()
            self._last_error = error
            return swapped

    def _start_refresh(self, interval: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                self.refresh()

        self._thread = threading.Thread(target=loop, name="promptship-refresh", daemon=True)
        self._thread.start()

    def _outcomes(self) -> Outcomes:
        """The outcome and feedback recorder, made on first use (it imports the event types)."""
        made = self._outcomes_made
        if made is None:
            from promptship.client._outcomes import Outcomes

            with self._outcomes_lock:
                made = self._outcomes_made
                if made is None:
                    made = self._outcomes_made = Outcomes(self._emitter, self._clock, self._capture)
        return made

    def status(self) -> ClientStatus:
        """What is being served, how old it is, and why it is not fresh (if it is not)."""
        from promptship.client._status import client_status

        return client_status(self._serving, self._clock(), self._last_refresh, self._last_error)

    def close(self) -> None:
        """Stop refreshing, close connections and flush the event sink (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        # a refresh stuck on a slow store would hold the lock up to its deadline: then the
        # connections are left to the daemon thread, which ends with the process
        if self._follower is not None and self._refresh_lock.acquire(timeout=1.0):
            try:
                self._follower.source.close()
            finally:
                self._refresh_lock.release()
        sink = self._emitter.sink
        if sink is not None:
            sink.close()

    def __enter__(self) -> PromptClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
