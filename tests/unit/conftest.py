"""Shared fixtures: signing keys per environment, the real ssh-keygen."""

from __future__ import annotations

import os
import shutil

import pytest

from promptship import signing
from signkeys import KeyPair, make_keypair


@pytest.fixture(scope="session")
def keypairs() -> dict[str, KeyPair]:
    """One Ed25519 key per environment name (plus an outsider nobody lists)."""
    return {env: make_keypair(env) for env in ("production", "staging", "outsider")}


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
