"""Shared fixtures: signing keys per environment (ssh-keygen is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from promptship.release import allowed_signers, sshsig
from signkeys import KeyPair, make_keypair


@pytest.fixture(scope="session")
def keypairs() -> dict[str, KeyPair]:
    """One Ed25519 key per environment name (plus an outsider nobody lists)."""
    return {env: make_keypair(env) for env in ("production", "staging", "outsider")}


@pytest.fixture(scope="session")
def allowed(keypairs: dict[str, KeyPair]) -> allowed_signers.AllowedSigners:
    """Production's and staging's keys, each allowed for its own environment only."""
    text = "".join(
        f"{sshsig.principal_for(env)} {keypairs[env].public}\n" for env in ("production", "staging")
    )
    return allowed_signers.parse_allowed_signers(text, source="allowed_signers")
