"""Signing keys and allowed signers on disk and in the environment: generate, write, load.

The I/O half of signing. :mod:`promptship.release.sshsig` signs and verifies
bytes with the keys loaded here, and :mod:`promptship.release.allowed_signers`
parses the allowed-signers text read here; both are pure.

Private key material never appears in a message, a ``repr`` or a log line: a
key file is written with mode 0600, and an error about a damaged key names only
where it came from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from promptship.core.errors import KeyFileError, UsageError
from promptship.fs import read_file, write_atomic
from promptship.release.allowed_signers import (
    MAX_KEY_FILE_BYTES,
    AllowedSigners,
    parse_allowed_signers,
)
from promptship.release.attestation import ATTESTATION_NAMESPACE
from promptship.release.sshsig import (
    BUNDLE_NAMESPACE,
    CHANNEL_NAMESPACE,
    SigningKey,
    principal_for,
)

__all__ = [
    "KEY_ENV",
    "generate_keypair",
    "load_private_key",
    "read_allowed_signers",
    "read_signing_key",
    "write_keypair",
]

KEY_ENV = "PROMPTSHIP_SIGNING_KEY"
"""The environment variable that holds the private key when no key file is given."""


def generate_keypair(comment: str) -> tuple[bytes, str]:
    """A new Ed25519 key pair.

    Args:
        comment: Appended to the public key line (for example ``production@promptship``).

    Returns:
        The private key as an unencrypted OpenSSH PEM file's bytes, and the public
        key line ``ssh-ed25519 AAAA… comment``.
    """
    if any(c in comment for c in "\r\n\0"):
        raise UsageError("a key comment must be a single line", hint="remove the line break")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    line = SigningKey.from_private_key(private, source="generated").public_key
    return pem, f"{line} {comment}".rstrip()


def load_private_key(data: bytes, *, source: str) -> SigningKey:
    """Load an unencrypted OpenSSH Ed25519 private key from a file's bytes or a variable's value.

    Args:
        data: The key file's contents (``-----BEGIN OPENSSH PRIVATE KEY-----`` …).
        source: Where it came from (a path, or ``env:PROMPTSHIP_SIGNING_KEY``), for messages.

    Raises:
        KeyFileError: The data is not such a key; the message never quotes it.
    """
    text = data.replace(b"\r\n", b"\n").strip()
    if not text.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
        raise KeyFileError(
            f"{source}: not an OpenSSH private key",
            hint="generate one with `promptship keys generate` or `ssh-keygen -t ed25519`",
        )
    try:
        key = serialization.load_ssh_private_key(text + b"\n", password=None)
    except TypeError as e:  # cryptography raises TypeError for an encrypted key
        raise KeyFileError(
            f"{source}: the private key is encrypted",
            hint="CI cannot type a passphrase: store an unencrypted key in the secret; "
            "`ssh-keygen -p -N '' -f KEY` removes the passphrase",
        ) from e
    except (ValueError, UnsupportedAlgorithm) as e:
        raise KeyFileError(
            f"{source}: the private key cannot be read (damaged or truncated)",
            hint="copy the whole file, including the BEGIN and END lines",
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(
            f"{source}: the private key is not Ed25519",
            hint="promptship signs with Ed25519 only: `ssh-keygen -t ed25519`",
        )
    return SigningKey.from_private_key(key, source=source)


def _read(path: Path, what: str) -> bytes:
    return read_file(path, MAX_KEY_FILE_BYTES, what=what)


def read_signing_key(
    key_file: Path | None, key_env: str = KEY_ENV, environ: Mapping[str, str] | None = None
) -> SigningKey:
    """The signing key from ``key_file``, or else from the environment variable ``key_env``.

    Raises:
        UsageError: Neither is given, or the file cannot be read.
        KeyFileError: The key is not an unencrypted OpenSSH Ed25519 key.
    """
    if key_file is not None:
        return load_private_key(_read(key_file, "the signing key"), source=str(key_file))
    value = (os.environ if environ is None else environ).get(key_env)
    if not value:
        raise UsageError(
            "no signing key",
            hint=f"pass --key FILE, or put the private key in ${key_env} (CI: from a secret)",
        )
    return load_private_key(value.encode(), source=f"${key_env}")


def read_allowed_signers(path: Path) -> AllowedSigners:
    """Read and parse an allowed-signers file.

    Raises:
        UsageError: The file cannot be read.
        SignatureError: A line is malformed.
    """
    text = _read(path, "allowed signers").decode("utf-8", "replace")
    return parse_allowed_signers(text, source=str(path))


def write_keypair(out: Path, envs: Iterable[str], comment: str, *, force: bool = False) -> str:
    """Write a new key pair to ``out`` (mode 0600) and ``out.pub``; its allowed-signers line.

    The line allows the key to sign for every environment of ``envs`` in the
    bundle, channel and attestation namespaces.

    Raises:
        UsageError: ``out`` exists, or lies in a git work tree without being
            ignored (``git add .`` would commit the private key), and ``force``
            is false; or an environment name is invalid (checked before
            anything is written).
        FileWriteError: A file cannot be written.
    """
    if out.exists() and not force:
        raise UsageError(f"{out} exists", hint="pass --force to replace it, or choose another path")
    from promptship.git import tracking  # pygit2: only when writing a key, never in the client

    place = tracking(out)
    if place is not None and not place.ignored and not force:
        raise UsageError(
            f"{out} is inside the git work tree {place.root} and not ignored: "
            "`git add .` would commit the private key",
            hint=f"write it outside the repository (-o ~/.config/promptship/{out.name}), or "
            f"ignore it first: echo '/{place.relative}' >> {place.root / '.gitignore'}"
            "; --force writes it anyway",
        )
    principals = ",".join(principal_for(e) for e in envs)
    private, public = generate_keypair(comment)
    write_atomic(out, private, mode=0o600, make_parents=True)
    write_atomic(out.with_name(out.name + ".pub"), (public + "\n").encode(), make_parents=True)
    namespaces = ",".join((BUNDLE_NAMESPACE, CHANNEL_NAMESPACE, ATTESTATION_NAMESPACE))
    return f'{principals} namespaces="{namespaces}" {public}'
