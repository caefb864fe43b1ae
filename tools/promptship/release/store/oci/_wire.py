"""Artifacts in an OCI registry over HTTP, through oras; the registry is trusted for nothing.

An artifact is an OCI image manifest whose config media type names its kind
(:data:`KINDS`). Reading caps the manifest, checks its shape, refuses a
layer whose declared size is over its cap before downloading it, counts the
download as it arrives and checks its sha256. Requests are made once, with
timeouts: oras's own retry loop would wait about two minutes on a refused
connection.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import oras.container
import oras.provider
import requests
import requests.adapters

from promptship.core import jsonlimits
from promptship.core.errors import PromptshipError, StoreError
from promptship.release.canonical import reject_duplicate_keys
from promptship.release.manifest import DEFAULT_MAX_CHANNEL_BYTES
from promptship.release.sshsig import MAX_SIGNATURE_BYTES
from promptship.release.store.oci._target import OciTarget, bundle_tag, channel_tag

__all__ = [
    "BUNDLE_CONFIG_TYPE",
    "BUNDLE_LAYER_TYPE",
    "CHANNEL_CONFIG_TYPE",
    "CHANNEL_LAYER_TYPE",
    "KINDS",
    "MAX_MANIFEST_BYTES",
    "SIGNATURE_LAYER_TYPE",
    "Kind",
    "Layer",
    "Registry",
    "fetch_bundle",
    "fetch_channel",
    "manifest_layers",
    "push_artifact",
]

BUNDLE_CONFIG_TYPE = "application/vnd.promptship.bundle.config.v1+json"
BUNDLE_LAYER_TYPE = "application/vnd.promptship.bundle.v1.tar"
SIGNATURE_LAYER_TYPE = "application/vnd.promptship.bundle.signature.v1"
CHANNEL_CONFIG_TYPE = "application/vnd.promptship.channel.config.v1+json"
CHANNEL_LAYER_TYPE = "application/vnd.promptship.channel.v1+json"
MAX_MANIFEST_BYTES = 64 * 1024

Kind = Literal["bundle", "channel"]
KINDS: dict[Kind, tuple[str, tuple[str, ...]]] = {
    "bundle": (BUNDLE_CONFIG_TYPE, (BUNDLE_LAYER_TYPE, SIGNATURE_LAYER_TYPE)),
    "channel": (CHANNEL_CONFIG_TYPE, (CHANNEL_LAYER_TYPE,)),
}
"""Each kind's config media type and its layers' media types, in push order."""

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")
_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
_CHUNK = 64 * 1024

# oras reports registry errors through its logger before raising; promptship turns
# the exception into a StoreError and prints once, so the library stays quiet
# unless the application configures logging.
logging.getLogger("oras").addHandler(logging.NullHandler())


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


class Registry(oras.provider.Registry):  # type: ignore[misc]  # oras is untyped
    """oras's registry client with timeouts and without its retry loop."""

    def __init__(self, target: OciTarget) -> None:
        super().__init__(hostname=target.host, insecure=target.plain_http)
        adapter = _TimeoutAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def do_request(  # noqa: PLR0917 - overrides oras's Registry.do_request with its signature
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


def container(target: OciTarget, tag: str) -> Any:
    """An oras container for ``target:tag``, built field by field (no name guessing)."""
    ref = oras.container.Container("promptship", registry=target.host)
    namespace, _, name = target.repository.rpartition("/")
    ref.namespace = namespace or None
    ref.repository = name
    ref.tag = tag
    ref.digest = None
    return ref


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


@dataclass(frozen=True)
class Layer:
    """A layer descriptor as the registry states it (not yet downloaded)."""

    media_type: str
    digest: str
    size: int


def _manifest_document(data: bytes, where: str) -> dict[str, Any]:
    """The OCI image manifest as JSON (no duplicate keys), schema version 2, OCI's media type."""
    try:
        doc = jsonlimits.loads(data, object_pairs_hook=reject_duplicate_keys)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise StoreError(f"{where}: the OCI manifest is not valid JSON: {str(e)[:200]}") from None
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise StoreError(f"{where}: not an OCI image manifest (schemaVersion 2)")
    if doc.get("mediaType", _OCI_MANIFEST) != _OCI_MANIFEST:
        raise StoreError(f"{where}: manifest media type {doc.get('mediaType')!r} is not OCI's")
    return doc


def _check_config(doc: dict[str, Any], kind: Kind, where: str) -> None:
    """The config's media type must be ``kind``'s; another promptship kind is named as such."""
    config = doc.get("config")
    found = config.get("mediaType") if isinstance(config, dict) else None
    if found == KINDS[kind][0]:
        return
    other = next((k for k, (c, _) in KINDS.items() if c == found), None)
    what = f"holds a promptship {other}, not a {kind}" if other else f"is not a promptship {kind}"
    raise StoreError(
        f"{where}: {what} (config media type {found!r})",
        hint="bundles are tagged sha256-<hex>, channels channel-<env>",
    )


def _layer(item: Any, layer_types: tuple[str, ...], seen: dict[str, Layer], where: str) -> Layer:
    """One layer descriptor: a media type of this kind not ``seen`` yet, a sha256 digest, a size."""
    fields = item if isinstance(item, dict) else {}
    media, digest, size = fields.get("mediaType"), fields.get("digest"), fields.get("size")
    if media not in layer_types:
        raise StoreError(f"{where}: unexpected layer of media type {media!r}")
    if media in seen:
        raise StoreError(f"{where}: two layers of media type {media!r}")
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise StoreError(f"{where}: layer {media} has digest {digest!r}, not sha256:<hex>")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise StoreError(f"{where}: layer {media} has size {size!r}")
    return Layer(media, digest, size)


def _parse_manifest(data: bytes, kind: Kind, where: str) -> dict[str, Layer]:
    """The layers of an artifact's OCI manifest, by media type; the registry is untrusted."""
    doc = _manifest_document(data, where)
    _check_config(doc, kind, where)
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise StoreError(f"{where}: the OCI manifest has no layer list")
    layer_types = KINDS[kind][1]
    out: dict[str, Layer] = {}
    for item in layers:
        layer = _layer(item, layer_types, out, where)
        out[layer.media_type] = layer
    missing = [t for t in layer_types if t not in out]
    if missing:
        raise StoreError(f"{where}: no layer of media type {missing[0]!r}")
    return out


def manifest_layers(
    registry: Registry, target: OciTarget, tag: str, kind: Kind
) -> dict[str, Layer] | None:
    """The artifact's layers, or ``None`` when the tag does not exist."""
    ref = container(target, tag)
    where = target.ref(tag)
    try:
        registry.auth.load_configs(ref)
        url = f"{registry.prefix}://{ref.manifest_url()}"
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


def _blob(registry: Registry, target: OciTarget, tag: str, layer: Layer, cap: int) -> bytes:
    where = f"{target.ref(tag)} layer {layer.media_type}"
    if layer.size > cap:
        raise StoreError(f"{where}: {layer.size} bytes is over the cap of {cap}")
    try:
        with registry.get_blob(container(target, tag), layer.digest, stream=True) as r:
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


def fetch_bundle(
    registry: Registry, target: OciTarget, digest: str, max_bytes: int
) -> tuple[bytes, str]:
    """The tar and the signature text tagged for ``digest``, checked against their descriptors only.

    Raises:
        StoreError: Missing, unreachable, malformed, over a cap, or not matching a descriptor.
    """
    tag = bundle_tag(digest)
    layers = manifest_layers(registry, target, tag, "bundle")
    if layers is None:
        raise StoreError(f"{target.ref(tag)}: not in the registry")
    tar = _blob(registry, target, tag, layers[BUNDLE_LAYER_TYPE], max_bytes)
    raw = _blob(registry, target, tag, layers[SIGNATURE_LAYER_TYPE], MAX_SIGNATURE_BYTES)
    try:
        return tar, raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise StoreError(f"{target.ref(tag)}: the signature is not an armored signature") from e


def fetch_channel(registry: Registry, target: OciTarget, env: str) -> bytes | None:
    """The envelope tagged ``channel-<env>`` (unverified), or ``None`` when there is none.

    Raises:
        StoreError: Unreachable, malformed, over the cap, or not matching its descriptor.
    """
    tag = channel_tag(env)
    layers = manifest_layers(registry, target, tag, "channel")
    if layers is None:
        return None
    return _blob(registry, target, tag, layers[CHANNEL_LAYER_TYPE], DEFAULT_MAX_CHANNEL_BYTES)


# --- writing ----------------------------------------------------------------------------


def push_artifact(  # noqa: PLR0917 - private helper with one caller
    registry: Registry,
    target: OciTarget,
    tag: str,
    kind: Kind,
    blobs: list[tuple[str, str, bytes]],
    annotations: dict[str, str],
) -> None:
    """Push one artifact of ``kind`` under ``tag``, replacing what the tag held.

    Args:
        registry: The client.
        target: The repository.
        tag: The tag to write.
        kind: The artifact's kind (its config media type).
        blobs: Its layers as (title, media type, bytes).
        annotations: Manifest annotations (informative only: readers never trust them).

    Raises:
        StoreError: The files cannot be staged or the registry refuses the push.
    """
    config_type = KINDS[kind][0]
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
                container(target, tag),
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
