"""Signing keys for tests: one Ed25519 key pair per environment name."""

from __future__ import annotations

from dataclasses import dataclass, field

from promptship.release import keys, sshsig


@dataclass(frozen=True)
class KeyPair:
    """A generated key: the private file's bytes, the public line, and the loaded key."""

    pem: bytes = field(repr=False)
    public: str
    key: sshsig.SigningKey


def make_keypair(env: str) -> KeyPair:
    """A fresh key pair whose comment is ``<env>@promptship``."""
    pem, public = keys.generate_keypair(f"{env}@promptship")
    return KeyPair(pem, public, keys.load_private_key(pem, source=f"{env}.key"))
