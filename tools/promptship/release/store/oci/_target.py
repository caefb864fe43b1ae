"""Where an OCI backend lives: ``oci://HOST[:PORT]/REPO``, and the tags promptship uses."""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptship.core.errors import UsageError
from promptship.release.sshsig import principal_for

__all__ = ["LOOPBACK_HOSTS", "OciTarget", "bundle_tag", "channel_tag", "is_oci_url", "parse_target"]

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})

_SCHEME = "oci://"
_HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9a-fA-F:.]+\]")
_PORT_RE = re.compile(r"[0-9]{1,5}")
# The distribution spec's repository name grammar.
_REPO_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_DIGEST_RE = re.compile(r"sha256:([0-9a-f]{64})\Z")


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


_HINT = "expected oci://HOST[:PORT]/REPO, e.g. oci://ghcr.io/acme/prompts"


def _split_authority(url: str, authority: str) -> tuple[str, str, str]:
    """``HOST[:PORT]`` (an IPv6 host in brackets) as host, ``":"`` or ``""``, and port."""
    if not authority.startswith("["):
        return authority.partition(":")
    close = authority.find("]")
    after = authority[close + 1 :]
    if close < 0 or (after and not after.startswith(":")):
        raise UsageError(f"{url!r}: malformed IPv6 host", hint=_HINT)
    return authority[: close + 1], after[:1], after[1:]


def _check_host(url: str, host: str, colon: str, port: str) -> None:
    if not _HOST_RE.fullmatch(host) or len(host) > 253:
        raise UsageError(f"{url!r}: {host!r} is not a host name", hint=_HINT)
    if colon and (not _PORT_RE.fullmatch(port) or not 0 < int(port) < 65536):
        raise UsageError(f"{url!r}: {port!r} is not a port", hint=_HINT)


def _check_repository(url: str, repository: str) -> None:
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
    if not is_oci_url(url):
        raise UsageError(f"{url!r} is not an OCI registry URL", hint=_HINT)
    authority, slash, repository = url[len(_SCHEME) :].partition("/")
    host, colon, port = _split_authority(url, authority)
    if not slash or not repository:
        raise UsageError(f"{url!r} names no repository", hint=_HINT)
    _check_host(url, host, colon, port)
    _check_repository(url, repository)
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
