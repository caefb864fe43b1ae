"""What the release commands share: ``--key``, ``--allowed-signers``, ``--store`` and the clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from promptship.registry.files import find_root
from promptship.release.allowed_signers import AllowedSigners
from promptship.release.keys import KEY_ENV, read_allowed_signers, read_signing_key
from promptship.release.sshsig import SigningKey

__all__ = [
    "allowed_signers",
    "key_options",
    "now",
    "signers_option",
    "signing_key",
    "store_options",
]


def now() -> datetime:
    """The current time (UTC): what bundles and channels are checked against."""
    return datetime.now(UTC)


def signing_key(key_file: Path | None, key_env: str) -> SigningKey:
    """The signing key from ``--key FILE`` or the environment variable ``key_env``."""
    return read_signing_key(key_file, key_env)


def allowed_signers(path: Path | None, root: Path | None) -> AllowedSigners:
    """``--allowed-signers`` or the repository's ``environments/allowed_signers``."""
    if path is None:
        path = find_root(root or Path.cwd()) / "environments" / "allowed_signers"
    return read_allowed_signers(path)


def key_options(fn: Any) -> Any:
    """``--key`` and ``--key-env``."""
    fn = click.option(
        "--key-env",
        default=KEY_ENV,
        show_default=True,
        help="Environment variable holding the private key (when --key is not given).",
    )(fn)
    return click.option(
        "--key",
        "key_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="OpenSSH Ed25519 private key file.",
    )(fn)


def store_options(fn: Any) -> Any:
    """``--store`` (a folder or ``oci://HOST[:PORT]/REPO``) and ``--plain-http``."""
    fn = click.option(
        "--plain-http",
        is_flag=True,
        help="Reach an oci:// registry on localhost/127.0.0.1 over plain HTTP "
        "(refused for any other host).",
    )(fn)
    return click.option(
        "--store",
        "store_url",
        metavar="DIR|oci://HOST[:PORT]/REPO",
        required=True,
        help="Store directory (any static host can serve it) or OCI registry repository.",
    )(fn)


def signers_option(fn: Any) -> Any:
    """``--allowed-signers``."""
    return click.option(
        "--allowed-signers",
        "signers",
        type=click.Path(dir_okay=False, path_type=Path),
        help="OpenSSH allowed_signers file (default: environments/allowed_signers).",
    )(fn)
