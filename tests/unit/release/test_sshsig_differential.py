"""SSHSIG parsing makes the same decision as ``ssh-keygen -Y verify``, field by field.

A signature is taken apart into its wire fields, one field is changed (and,
where it matters, the signature made again over what the changed field now
says), and both promptship and the real ``ssh-keygen`` judge the result: they
must agree on every mutation. The reserved field is the case that once
differed: OpenSSH reads it and ignores it, signing and verifying over an empty
one (``sshsig.c``: ``sshsig_wrap_verify``).
"""

from __future__ import annotations

import base64
import hashlib
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.core.errors import SignatureError
from promptship.release import allowed_signers, sshsig
from signkeys import KeyPair

NOW = datetime.now(UTC)
PROD = "production@promptship"
NS = sshsig.BUNDLE_NAMESPACE
MESSAGE = b'{"environment":"production","files":[]}'


def _s(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


@dataclass(frozen=True)
class Fields:
    """The wire fields of an SSHSIG blob (PROTOCOL.sshsig), each changeable."""

    magic: bytes
    version: int
    key_type: bytes
    key_raw: bytes
    key_tail: bytes
    namespace: bytes
    reserved: bytes
    hash_alg: bytes
    sig_type: bytes
    sig_raw: bytes
    sig_tail: bytes
    tail: bytes

    def blob(self) -> bytes:
        pub = _s(self.key_type) + _s(self.key_raw) + self.key_tail
        sig = _s(self.sig_type) + _s(self.sig_raw) + self.sig_tail
        return (
            self.magic
            + struct.pack(">I", self.version)
            + _s(pub)
            + _s(self.namespace)
            + _s(self.reserved)
            + _s(self.hash_alg)
            + _s(sig)
            + self.tail
        )

    def armored(self) -> str:
        b64 = base64.b64encode(self.blob()).decode()
        lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
        return "\n".join(["-----BEGIN SSH SIGNATURE-----", *lines, "-----END SSH SIGNATURE-----\n"])


def _signed_data(namespace: bytes, reserved: bytes, hash_alg: bytes, message: bytes) -> bytes:
    hasher = hashlib.sha256 if hash_alg == b"sha256" else hashlib.sha512
    return b"SSHSIG" + _s(namespace) + _s(reserved) + _s(hash_alg) + _s(hasher(message).digest())


def _base(pair: KeyPair) -> Fields:
    pub_raw = base64.b64decode(pair.public.split()[1])[4 + 11 + 4 :]
    fields = Fields(
        b"SSHSIG", 1, b"ssh-ed25519", pub_raw, b"", NS.encode(), b"", b"sha512",
        b"ssh-ed25519", b"", b"", b"",
    )  # fmt: skip
    return _resign(fields, pair)


def _resign(
    f: Fields, pair: KeyPair, *, reserved: bytes = b"", hash_alg: bytes | None = None
) -> Fields:
    """``f`` with a valid signature over what its namespace and hash say (and ``reserved``)."""
    data = _signed_data(f.namespace, reserved, hash_alg or f.hash_alg, MESSAGE)
    return replace(f, sig_raw=sshsig.sign_raw(pair.key, data))


Mutation = Callable[[Fields, KeyPair], Fields]

MUTATIONS: dict[str, Mutation] = {
    "unchanged": lambda f, k: f,
    # the reserved field: ignored by ssh-keygen, the signature always over an empty one
    "reserved set, signed over empty": lambda f, k: replace(f, reserved=b"x"),
    "reserved set, signed over it": lambda f, k: _resign(
        replace(f, reserved=b"x"), k, reserved=b"x"
    ),
    "reserved long, signed over empty": lambda f, k: replace(f, reserved=b"\0" * 300),
    # the preamble
    "magic lower case": lambda f, k: replace(f, magic=b"sshsig"),
    "magic short": lambda f, k: replace(f, magic=b"SSHSI"),
    "version 0": lambda f, k: replace(f, version=0),
    "version 2": lambda f, k: replace(f, version=2),
    "version 2**32-1": lambda f, k: replace(f, version=2**32 - 1),
    # the namespace
    "namespace other": lambda f, k: _resign(replace(f, namespace=b"file"), k),
    "namespace with NUL, signed over it": lambda f, k: _resign(
        replace(f, namespace=NS.encode() + b"\0"), k
    ),
    "namespace with trailing NUL": lambda f, k: replace(f, namespace=NS.encode() + b"\0"),
    "namespace with inner NUL": lambda f, k: replace(f, namespace=b"promptship\0-bundle@v1"),
    "namespace empty": lambda f, k: _resign(replace(f, namespace=b""), k),
    # the hash
    "hash sha256": lambda f, k: _resign(replace(f, hash_alg=b"sha256"), k),
    "hash SHA512": lambda f, k: _resign(replace(f, hash_alg=b"SHA512"), k, hash_alg=b"sha512"),
    "hash sha1": lambda f, k: _resign(replace(f, hash_alg=b"sha1"), k, hash_alg=b"sha512"),
    "hash sha512 with trailing NUL": lambda f, k: replace(f, hash_alg=b"sha512\0"),
    "hash with inner NUL": lambda f, k: replace(f, hash_alg=b"sha\x00512"),
    "hash claims sha256, signed sha512": lambda f, k: replace(f, hash_alg=b"sha256"),
    # the public key
    "key type rsa": lambda f, k: replace(f, key_type=b"ssh-rsa"),
    "key type with trailing NUL": lambda f, k: replace(f, key_type=b"ssh-ed25519\0"),
    "key type with inner NUL": lambda f, k: replace(f, key_type=b"ssh-ed\x0025519"),
    "key short": lambda f, k: replace(f, key_raw=f.key_raw[:31]),
    "key long": lambda f, k: replace(f, key_raw=f.key_raw + b"\0"),
    "key trailing bytes": lambda f, k: replace(f, key_tail=b"\0\0\0\0"),
    "key flipped bit": lambda f, k: replace(f, key_raw=bytes([f.key_raw[0] ^ 1]) + f.key_raw[1:]),
    # the signature value
    "signature type other": lambda f, k: replace(f, sig_type=b"ssh-rsa"),
    "signature type with trailing NUL": lambda f, k: replace(f, sig_type=b"ssh-ed25519\0"),
    "signature short": lambda f, k: replace(f, sig_raw=f.sig_raw[:63]),
    "signature long": lambda f, k: replace(f, sig_raw=f.sig_raw + b"\0"),
    "signature trailing bytes": lambda f, k: replace(f, sig_tail=b"\0\0\0\0"),
    "signature flipped bit": lambda f, k: replace(
        f, sig_raw=f.sig_raw[:10] + bytes([f.sig_raw[10] ^ 1]) + f.sig_raw[11:]
    ),
    # the blob
    "trailing bytes after the blob": lambda f, k: replace(f, tail=b"\0"),
}


def _ssh_keygen_accepts(ssh_keygen: str, tmp_path: Path, pair: KeyPair, armored: str) -> bool:
    (tmp_path / "allowed_signers").write_text(f"{PROD} {pair.public}\n")
    (tmp_path / "msg.sig").write_text(armored)
    done = subprocess.run(
        [
            *(ssh_keygen, "-Y", "verify", "-f", str(tmp_path / "allowed_signers")),
            *("-I", PROD, "-n", NS, "-s", str(tmp_path / "msg.sig")),
        ],
        input=MESSAGE,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return done.returncode == 0


def _promptship_accepts(pair: KeyPair, armored: str) -> bool:
    allowed = allowed_signers.parse_allowed_signers(f"{PROD} {pair.public}\n", source="test")
    try:
        sshsig.verify(allowed, MESSAGE, armored, principal=PROD, namespace=NS, now=NOW)
    except SignatureError:
        return False
    return True


def test_the_base_signature_is_what_sign_writes(keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    assert _base(pair).armored() == sshsig.sign(pair.key, MESSAGE, NS)


@pytest.mark.parametrize("name", MUTATIONS, ids=list(MUTATIONS))
def test_promptship_decides_as_ssh_keygen(
    name: str, keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    pair = keypairs["production"]
    armored = MUTATIONS[name](_base(pair), pair).armored()
    theirs = _ssh_keygen_accepts(ssh_keygen, tmp_path, pair, armored)
    ours = _promptship_accepts(pair, armored)
    assert ours == theirs, (
        f"{name}: ssh-keygen {'accepts' if theirs else 'refuses'}, promptship {'accepts' if ours else 'refuses'}"
    )


# One deliberate difference, not tested here: promptship reads CRLF line ends as LF (a
# signature checked out on Windows still verifies, tests/unit/release/test_signing.py);
# OpenSSH 9.2 refuses them.
ARMOR: dict[str, Callable[[str], str]] = {
    "no final newline": lambda a: a.rstrip("\n"),
    "blank lines around": lambda a: "\n\n" + a + "\n\n",
    "one long base64 line": lambda a: (
        a.split("\n")[0] + "\n" + "".join(a.split("\n")[1:-2]) + "\n" + a.split("\n")[-2] + "\n"
    ),
    "space inside the base64": lambda a: a.replace("\n", "\n ", 2).replace(
        "-----BEGIN SSH SIGNATURE-----\n ", "-----BEGIN SSH SIGNATURE-----\n", 1
    ),
    "lower-case header": lambda a: a.replace("BEGIN SSH SIGNATURE", "begin ssh signature"),
    "missing footer": lambda a: a.replace("-----END SSH SIGNATURE-----", ""),
    "text after the footer": lambda a: a + "trailing words\n",
    "padding removed": lambda a: a.replace("=", ""),
}


@pytest.mark.parametrize("name", ARMOR, ids=list(ARMOR))
def test_armor_variants_are_decided_as_ssh_keygen_decides(
    name: str, keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    pair = keypairs["production"]
    armored = ARMOR[name](_base(pair).armored())
    theirs = _ssh_keygen_accepts(ssh_keygen, tmp_path, pair, armored)
    ours = _promptship_accepts(pair, armored)
    assert ours == theirs, (
        f"{name}: ssh-keygen {'accepts' if theirs else 'refuses'}, promptship {'accepts' if ours else 'refuses'}"
    )
