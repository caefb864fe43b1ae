"""Bundles and channels in an OCI registry, through ORAS (DESIGN §5).

A repository ``oci://HOST[:PORT]/REPO`` holds two kinds of artifact, each an
OCI image manifest whose config media type says what it is:

=====================  ================================================  ==========================
tag                    layers (media type, title)                        config media type
=====================  ================================================  ==========================
``sha256-<hex>``       the bundle tar (``bundle.tar``) and its            ``…promptship.bundle…``
                       signature (``bundle.tar.sig``); ``<hex>`` is the
                       bundle digest, the sha256 of its manifest
``channel-<env>``      the signed channel envelope (``<env>.json``)       ``…promptship.channel…``
=====================  ================================================  ==========================

The registry is trusted for nothing. Every read is capped before it is
downloaded, each blob must have the size and sha256 its descriptor names, and
then the bytes go through exactly the checks of the directory store
(:func:`promptship.store.verify_channel`, :func:`promptship.bundle.verify_bundle`,
:func:`promptship.store.verify_channel_bundle`). Publishing shares
:func:`promptship.store.plan_channel` with the directory store and pushes the
channel last.

Plain HTTP is used only when asked for (``plain_http=True``) and only for a
registry on the loopback interface (``localhost``, ``127.0.0.1``, ``[::1]``).
Credentials come from the Docker configuration (``~/.docker/config.json``, as
``docker login`` or ``oras login`` writes it). Needs the ``oci`` extra
(``pip install 'promptship[oci]'``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import oras.container
import oras.provider
import requests
import requests.adapters

from promptship.bundle import Bundle, VerifiedBundle, verify_bundle
from promptship.errors import BundleError, ChannelError, PromptshipError, StoreError, UsageError
from promptship.manifest import DEFAULT_MAX_CHANNEL_BYTES, encode_envelope
from promptship.signing import AllowedSigners, SigningKey, principal_for
from promptship.store import (
    DEFAULT_MAX_BUNDLE_BYTES,
    MAX_SIGNATURE_BYTES,
    Channel,
    plan_channel,
    verify_channel,
    verify_channel_bundle,
)

__all__ = [
    "BUNDLE_CONFIG_TYPE",
    "BUNDLE_LAYER_TYPE",
    "CHANNEL_CONFIG_TYPE",
    "CHANNEL_LAYER_TYPE",
    "LOOPBACK_HOSTS",
    "MAX_MANIFEST_BYTES",
    "SIGNATURE_LAYER_TYPE",
    "OciTarget",
    "bundle_tag",
    "channel_tag",
    "is_oci_url",
    "open_channel_bundle",
    "parse_target",
    "publish",
    "pull_bundle",
    "pull_channel",
    "push_bundle",
    "push_channel",
]

BUNDLE_CONFIG_TYPE = "application/vnd.promptship.bundle.config.v1+json"
BUNDLE_LAYER_TYPE = "application/vnd.promptship.bundle.v1.tar"
SIGNATURE_LAYER_TYPE = "application/vnd.promptship.bundle.signature.v1"
CHANNEL_CONFIG_TYPE = "application/vnd.promptship.channel.config.v1+json"
CHANNEL_LAYER_TYPE = "application/vnd.promptship.channel.v1+json"
MAX_MANIFEST_BYTES = 64 * 1024
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_SCHEME = "oci://"
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\]")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# The distribution spec's repository name grammar.
_REPO_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})\Z")
_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
_CHUNK = 64 * 1024

Kind = Literal["bundle", "channel"]
_LAYERS: dict[Kind, tuple[str, tuple[str, ...]]] = {
    "bundle": (BUNDLE_CONFIG_TYPE, (BUNDLE_LAYER_TYPE, SIGNATURE_LAYER_TYPE)),
    "channel": (CHANNEL_CONFIG_TYPE, (CHANNEL_LAYER_TYPE,)),
}

# oras reports registry errors through its logger before raising; promptship turns
# the exception into a StoreError and prints once, so the library stays quiet
# unless the application configures logging.
logging.getLogger("oras").addHandler(logging.NullHandler())


@dataclass(frozen=True)
class OciTarget:
    """A repository in an OCI registry.

    Attributes:
        host: ``HOST`` or ``HOST:PORT`` (an IPv6 address in brackets).
        repository: The repository path (``promptship/registry``).
        plain_http: Talk HTTP instead of HTTPS (loopback registries only).
    """

    host: str
    repository: str
    plain_http: bool = False

    @property
    def url(self) -> str:
        """``oci://HOST[:PORT]/REPO``."""
        return f"{_SCHEME}{self.host}/{self.repository}"

    def ref(self, tag: str) -> str:
        """``oci://HOST[:PORT]/REPO:TAG``, for messages."""
        return f"{self.url}:{tag}"


def is_oci_url(value: str) -> bool:
    """Whether a ``--store`` value names an OCI registry (``oci://…``) rather than a folder."""
    return value.startswith(_SCHEME)


def parse_target(url: str, *, plain_http: bool = False) -> OciTarget:
    """Parse ``oci://HOST[:PORT]/REPO``.

    Args:
        url: The registry repository.
        plain_http: Use HTTP instead of HTTPS; allowed only for ``localhost``,
            ``127.0.0.1`` and ``[::1]``.

    Raises:
        UsageError: The URL is malformed, names a tag or digest, or asks for plain
            HTTP to a host that is not the loopback interface.
    """
    hint = "expected oci://HOST[:PORT]/REPO, e.g. oci://ghcr.io/acme/prompts"
    if not is_oci_url(url):
        raise UsageError(f"{url!r} is not an OCI registry URL", hint=hint)
    rest = url[len(_SCHEME) :]
    authority, slash, repository = rest.partition("/")
    host, colon, port = authority, "", ""
    if authority.startswith("["):
        close = authority.find("]")
        after = authority[close + 1 :]
        if close < 0 or (after and not after.startswith(":")):
            raise UsageError(f"{url!r}: malformed IPv6 host", hint=hint)
        host, colon, port = authority[: close + 1], after[:1], after[1:]
    else:
        host, colon, port = authority.partition(":")
    if not slash or not repository:
        raise UsageError(f"{url!r} names no repository", hint=hint)
    if not _HOST_RE.fullmatch(host) or len(host) > 253:
        raise UsageError(f"{url!r}: {host!r} is not a host name", hint=hint)
    if colon and (not _PORT_RE.fullmatch(port) or not 0 < int(port) < 65536):
        raise UsageError(f"{url!r}: {port!r} is not a port", hint=hint)
    if ":" in repository or "@" in repository:
        raise UsageError(
            f"{url!r} names a tag or digest",
            hint="give the repository only: promptship names the tags (sha256-<hex>, channel-<env>)",
        )
    if not _REPO_RE.fullmatch(repository) or len(repository) > 255:
        raise UsageError(
            f"{url!r}: {repository!r} is not a repository name",
            hint="lowercase letters, digits and . _ - separators, path segments joined by /",
        )
    if plain_http and host.lower() not in LOOPBACK_HOSTS:
        raise UsageError(
            f"plain HTTP refused for {host}: only a registry on localhost or 127.0.0.1 may "
            "be reached without TLS",
            hint="drop the plain-HTTP option; remote registries are reached over HTTPS",
        )
    return OciTarget(f"{host.lower()}:{port}" if port else host.lower(), repository, plain_http)


def bundle_tag(digest: str) -> str:
    """The tag of the bundle whose digest is ``sha256:<hex>``: ``sha256-<hex>``."""
    m = _DIGEST_RE.match(digest)
    if m is None:
        raise UsageError(f"{digest!r} is not a bundle digest", hint="expected sha256:<64 hex>")
    return f"sha256-{m.group(1)}"


def channel_tag(env: str) -> str:
    """The tag of environment ``env``'s channel: ``channel-<env>``."""
    principal_for(env)  # validates the name: it becomes a tag
    return f"channel-{env}"


# --- HTTP through oras ------------------------------------------------------------------


class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Every request gets a timeout: oras passes none, and a silent registry would hang us."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = _TIMEOUT
        return super().send(request, *args, **kwargs)


# oras retries every failed request five times, sleeping 3 s to 83 s in between:
# about two minutes before a refused connection is reported. A publish should fail
# fast and clearly (the pipeline retries the job), so requests are made once.
_ONCE = getattr(oras.provider.Registry.do_request, "__wrapped__", oras.provider.Registry.do_request)


class _Registry(oras.provider.Registry):  # type: ignore[misc]  # oras is untyped
    """oras's registry client with timeouts and without its retry loop."""

    def __init__(self, target: OciTarget) -> None:
        super().__init__(hostname=target.host, insecure=target.plain_http)
        adapter = _TimeoutAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def do_request(
        self,
        url: str,
        method: str = "GET",
        data: Any = None,
        headers: dict[str, str] | None = None,
        json: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        response: requests.Response = _ONCE(self, url, method, data, headers, json, stream)
        return response


def _container(target: OciTarget, tag: str) -> Any:
    """An oras container for ``target:tag``, built field by field (no name guessing)."""
    container = oras.container.Container("promptship", registry=target.host)
    namespace, _, name = target.repository.rpartition("/")
    container.namespace = namespace or None
    container.repository = name
    container.tag = tag
    container.digest = None
    return container


def _wrap(target: OciTarget, tag: str, what: str, e: Exception) -> StoreError:
    reason: object = e
    if isinstance(e, requests.exceptions.SSLError):
        hint = "check the registry's certificate; plain HTTP is only for a loopback registry"
    elif isinstance(e, requests.ConnectionError | requests.Timeout):
        hint = "is the registry running and reachable? It is reached over HTTPS unless plain HTTP was asked for"
    else:
        hint = "check the registry URL and your credentials: docker login or oras login"
    if isinstance(e, requests.RequestException) and e.args:
        reason = getattr(e.args[0], "reason", None) or e  # urllib3's MaxRetryError wraps the cause
    return StoreError(f"{target.ref(tag)}: cannot {what}: {reason}", hint=hint)


# --- reading ----------------------------------------------------------------------------


def _read_capped(response: requests.Response, cap: int, where: str) -> bytes:
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise StoreError(f"{where}: registry announces {length} bytes, over the cap of {cap}")
    out = bytearray()
    for chunk in response.iter_content(_CHUNK):
        out += chunk
        if len(out) > cap:
            raise StoreError(f"{where}: registry sent more than the cap of {cap} bytes")
    return bytes(out)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


@dataclass(frozen=True)
class _Layer:
    media_type: str
    digest: str
    size: int


def _parse_manifest(data: bytes, kind: Kind, where: str) -> dict[str, _Layer]:
    """The layers of an artifact's OCI manifest, by media type; the registry is untrusted."""
    try:
        doc = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, UnicodeDecodeError) as e:
        raise StoreError(f"{where}: the OCI manifest is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise StoreError(f"{where}: not an OCI image manifest (schemaVersion 2)")
    if doc.get("mediaType", _OCI_MANIFEST) != _OCI_MANIFEST:
        raise StoreError(f"{where}: manifest media type {doc.get('mediaType')!r} is not OCI's")
    config_type, layer_types = _LAYERS[kind]
    config = doc.get("config")
    found = config.get("mediaType") if isinstance(config, dict) else None
    if found != config_type:
        other = next((k for k, (c, _) in _LAYERS.items() if c == found), None)
        raise StoreError(
            f"{where}: "
            + (
                f"holds a promptship {other}, not a {kind}"
                if other
                else f"is not a promptship {kind}"
            )
            + f" (config media type {found!r})",
            hint="bundles are tagged sha256-<hex>, channels channel-<env>",
        )
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise StoreError(f"{where}: the OCI manifest has no layer list")
    out: dict[str, _Layer] = {}
    for item in layers:
        media = item.get("mediaType") if isinstance(item, dict) else None
        digest = item.get("digest") if isinstance(item, dict) else None
        size = item.get("size") if isinstance(item, dict) else None
        if media not in layer_types:
            raise StoreError(f"{where}: unexpected layer of media type {media!r}")
        if media in out:
            raise StoreError(f"{where}: two layers of media type {media!r}")
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
            raise StoreError(f"{where}: layer {media} has digest {digest!r}, not sha256:<hex>")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise StoreError(f"{where}: layer {media} has size {size!r}")
        out[media] = _Layer(media, digest, size)
    missing = [t for t in layer_types if t not in out]
    if missing:
        raise StoreError(f"{where}: no layer of media type {missing[0]!r}")
    return out


def _manifest(
    registry: _Registry, target: OciTarget, tag: str, kind: Kind
) -> dict[str, _Layer] | None:
    """The artifact's layers, or ``None`` when the tag does not exist."""
    container = _container(target, tag)
    where = target.ref(tag)
    try:
        registry.auth.load_configs(container)
        url = f"{registry.prefix}://{container.manifest_url()}"
        with registry.do_request(url, "GET", headers={"Accept": _OCI_MANIFEST}, stream=True) as r:
            if r.status_code == 404:
                return None
            if r.status_code != 200:
                raise StoreError(f"{where}: registry answered {r.status_code} {r.reason}")
            data = _read_capped(r, MAX_MANIFEST_BYTES, where)
    except PromptshipError:
        raise
    except Exception as e:  # requests, oras (ValueError) and its auth errors
        raise _wrap(target, tag, "read the manifest", e) from e
    return _parse_manifest(data, kind, where)


def _blob(registry: _Registry, target: OciTarget, tag: str, layer: _Layer, cap: int) -> bytes:
    where = f"{target.ref(tag)} layer {layer.media_type}"
    if layer.size > cap:
        raise StoreError(f"{where}: {layer.size} bytes is over the cap of {cap}")
    try:
        with registry.get_blob(_container(target, tag), layer.digest, stream=True) as r:
            if r.status_code != 200:
                raise StoreError(f"{where}: registry answered {r.status_code} {r.reason}")
            data = _read_capped(r, layer.size, where)
    except PromptshipError:
        raise
    except Exception as e:
        raise _wrap(target, tag, "download a blob", e) from e
    if len(data) != layer.size:
        raise StoreError(f"{where}: got {len(data)} bytes, the manifest says {layer.size}")
    if "sha256:" + hashlib.sha256(data).hexdigest() != layer.digest:
        raise StoreError(
            f"{where}: content does not match its digest {layer.digest}",
            hint="the registry or something between us altered the blob",
        )
    return data


def _fetch_bundle(
    registry: _Registry, target: OciTarget, digest: str, max_bytes: int
) -> tuple[bytes, str]:
    tag = bundle_tag(digest)
    layers = _manifest(registry, target, tag, "bundle")
    if layers is None:
        raise StoreError(f"{target.ref(tag)}: not in the registry")
    tar = _blob(registry, target, tag, layers[BUNDLE_LAYER_TYPE], max_bytes)
    raw = _blob(registry, target, tag, layers[SIGNATURE_LAYER_TYPE], MAX_SIGNATURE_BYTES)
    try:
        return tar, raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise StoreError(f"{target.ref(tag)}: the signature is not an armored signature") from e


def _fetch_channel(registry: _Registry, target: OciTarget, env: str) -> bytes | None:
    tag = channel_tag(env)
    layers = _manifest(registry, target, tag, "channel")
    if layers is None:
        return None
    return _blob(registry, target, tag, layers[CHANNEL_LAYER_TYPE], DEFAULT_MAX_CHANNEL_BYTES)


def pull_bundle(
    target: OciTarget,
    digest: str,
    allowed: AllowedSigners,
    *,
    env: str,
    now: datetime,
    max_bytes: int = DEFAULT_MAX_BUNDLE_BYTES,
) -> VerifiedBundle:
    """Download the bundle tagged for ``digest`` and verify it as the directory store does.

    Raises:
        StoreError: Missing, unreachable, over the caps, or a blob that does not
            match its descriptor.
        BundleError: The bundle fails a check of :func:`~promptship.bundle.verify_bundle`,
            or is not the bundle ``digest`` names.
        SignatureError: Its signature does not verify for ``env``.
    """
    tar, signature = _fetch_bundle(_Registry(target), target, digest, max_bytes)
    verified = verify_bundle(tar, signature, allowed, environment=env, now=now)
    if verified.digest != digest:
        raise BundleError(
            f"{target.ref(bundle_tag(digest))} holds bundle {verified.digest}, not {digest}",
            hint="the registry was tampered with: a tag was moved to other content",
        )
    return verified


def pull_channel(
    target: OciTarget, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> Channel:
    """Download ``env``'s channel and verify it (see :func:`promptship.store.verify_channel`).

    Raises:
        ChannelError: No channel is published, or it fails a check.
        StoreError: The registry cannot be read, or sent something malformed.
    """
    tag = channel_tag(env)
    data = _fetch_channel(_Registry(target), target, env)
    if data is None:
        raise ChannelError(
            f"{target.ref(tag)}: no channel published for {env!r}",
            hint="run publish for this environment",
        )
    return verify_channel(data, allowed, env=env, now=now, min_seq=min_seq, source=target.ref(tag))


def open_channel_bundle(
    target: OciTarget, env: str, allowed: AllowedSigners, *, now: datetime, min_seq: int = 0
) -> tuple[Channel, VerifiedBundle]:
    """The whole read path: the channel, then its bundle, verified and matched to it.

    Raises:
        ChannelError: The channel fails a check or names a bundle that does not match it.
        BundleError, SignatureError: The bundle fails a check.
        StoreError: The registry cannot be read, or sent something malformed.
    """
    channel = pull_channel(target, env, allowed, now=now, min_seq=min_seq)
    tar, signature = _fetch_bundle(
        _Registry(target), target, channel.pointer.bundle_digest, DEFAULT_MAX_BUNDLE_BYTES
    )
    return channel, verify_channel_bundle(channel, tar, signature, allowed, now=now)


# --- writing ----------------------------------------------------------------------------


def _push(
    registry: _Registry,
    target: OciTarget,
    tag: str,
    kind: Kind,
    blobs: list[tuple[str, str, bytes]],
    annotations: dict[str, str],
) -> None:
    """Push one artifact: ``blobs`` are (title, media type, bytes) layers."""
    config_type = _LAYERS[kind][0]
    try:
        with tempfile.TemporaryDirectory(prefix="promptship-oci-") as tmp:
            folder = Path(tmp)
            files = []
            for title, media_type, data in blobs:
                (folder / title).write_bytes(data)
                files.append(f"{folder / title}:{media_type}")
            config = folder / "config.json"
            config.write_bytes(b"{}")
            registry.push(
                _container(target, tag),
                files=files,
                disable_path_validation=True,
                manifest_config=f"{config}:{config_type}",
                manifest_annotations=annotations,
                quiet=True,
            )
    except OSError as e:
        raise StoreError(f"cannot stage files for {target.ref(tag)}: {e}") from e
    except Exception as e:  # requests, oras (ValueError, jsonschema) and its auth errors
        raise _wrap(target, tag, "push", e) from e


def push_bundle(target: OciTarget, bundle: Bundle, signature: str) -> None:
    """Push a bundle and its signature as the artifact tagged ``sha256-<hex>``.

    Like the directory store's content-addressed files, the tag is written once:
    the same bundle again is fine (a new signature over it, from a rotated key,
    replaces the old one), other content under the tag is refused.
    :func:`publish` verifies the bundle before pushing; this function does not.

    Raises:
        StoreError: The registry cannot be written, or the tag holds another bundle.
    """
    tag = bundle_tag(bundle.digest)
    registry = _Registry(target)
    sig = signature.encode("ascii")
    existing = _manifest(registry, target, tag, "bundle")
    if existing is not None:
        held = existing[BUNDLE_LAYER_TYPE]
        if held.digest != "sha256:" + hashlib.sha256(bundle.tar).hexdigest():
            raise StoreError(
                f"{target.ref(tag)} exists with different content",
                hint="content-addressed tags never change; the registry was tampered with",
            )
        if existing[SIGNATURE_LAYER_TYPE].digest == "sha256:" + hashlib.sha256(sig).hexdigest():
            return
    _push(
        registry,
        target,
        tag,
        "bundle",
        [
            ("bundle.tar", BUNDLE_LAYER_TYPE, bundle.tar),
            ("bundle.tar.sig", SIGNATURE_LAYER_TYPE, sig),
        ],
        {"dev.promptship.bundle.digest": bundle.digest},
    )


def push_channel(target: OciTarget, channel: Channel) -> None:
    """Push a channel's signed envelope as the artifact tagged ``channel-<env>``.

    Raises:
        StoreError: The registry cannot be written.
    """
    env = channel.pointer.env
    _push(
        _Registry(target),
        target,
        channel_tag(env),
        "channel",
        [(f"{env}.json", CHANNEL_LAYER_TYPE, encode_envelope(channel.payload, channel.signature))],
        {"dev.promptship.channel.seq": str(channel.pointer.seq)},
    )


def publish(
    target: OciTarget,
    bundle: Bundle,
    signature: str,
    channel_key: SigningKey,
    *,
    env: str,
    release: int,
    now: datetime,
    expiry_days: int,
    allowed: AllowedSigners,
) -> Channel:
    """Push a signed bundle and move ``env``'s channel to it, as :func:`promptship.store.publish`.

    The bundle, the current channel and the new one are checked by
    :func:`promptship.store.plan_channel` before anything is pushed; the bundle
    goes first and the channel last, so a failure leaves the previous channel
    in place and valid.

    Raises:
        BundleError, SignatureError: The bundle or its signature does not verify for ``env``.
        ChannelError: ``release`` disagrees with the bundle, or the current channel
            cannot be verified.
        StoreError: The registry cannot be read or written.
    """
    current = _fetch_channel(_Registry(target), target, env)
    channel = plan_channel(
        bundle,
        signature,
        channel_key,
        env=env,
        release=release,
        now=now,
        expiry_days=expiry_days,
        allowed=allowed,
        current=current,
        source=target.ref(channel_tag(env)),
    )
    push_bundle(target, bundle, signature)
    push_channel(target, channel)
    return channel
