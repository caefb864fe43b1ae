"""Shared fixtures: signing keys per environment, the real ssh-keygen."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import pytest

from promptship import signing


@dataclass(frozen=True)
class KeyPair:
    pem: bytes = field(repr=False)
    public: str
    key: signing.SigningKey


@pytest.fixture(scope="session")
def keypairs() -> dict[str, KeyPair]:
    """One Ed25519 key per environment name (plus an outsider nobody lists)."""
    out: dict[str, KeyPair] = {}
    for env in ("production", "staging", "outsider"):
        pem, public = signing.generate_keypair(f"{env}@promptship")
        out[env] = KeyPair(pem, public, signing.load_private_key(pem, source=f"{env}.key"))
    return out


@pytest.fixture(scope="session")
def allowed(keypairs: dict[str, KeyPair]) -> signing.AllowedSigners:
    """Production's and staging's keys, each allowed for its own environment only."""
    text = "".join(
        f"{signing.principal_for(env)} {keypairs[env].public}\n"
        for env in ("production", "staging")
    )
    return signing.parse_allowed_signers(text, source="allowed_signers")


@pytest.fixture(scope="session")
def ssh_keygen() -> str:
    """Path of the real ssh-keygen; skipped when absent, unless CI is set (then it fails)."""
    path = shutil.which("ssh-keygen")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("ssh-keygen is required in CI for the interoperability tests")
        pytest.skip("ssh-keygen not installed (apt-get install openssh-client)")
    return path
