"""SSHSIG signatures and allowed-signers files, checked against the real ssh-keygen."""

from __future__ import annotations

import base64
import pickle
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from promptship.core.errors import (
    KeyFileError,
    SignatureError,
    SignatureInvalid,
    SignatureKeyNotAllowed,
    SignatureMalformed,
    SignatureNamespaceMismatch,
    SignatureUnknownKey,
    UsageError,
)
from promptship.release import allowed_signers, keys, sshsig
from signkeys import KeyPair

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PROD = "production@promptship"
NS = sshsig.BUNDLE_NAMESPACE
MESSAGE = b'{"environment":"production","files":[]}'


def _ssh_verify(
    ssh_keygen: str,
    tmp_path: Path,
    allowed_text: str,
    message: bytes,
    signature: str,
    *,
    principal: str = PROD,
    namespace: str = NS,
) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "allowed_signers").write_text(allowed_text)
    (tmp_path / "msg.sig").write_text(signature)
    return subprocess.run(
        [
            *(ssh_keygen, "-Y", "verify", "-f", str(tmp_path / "allowed_signers")),
            *("-I", principal, "-n", namespace, "-s", str(tmp_path / "msg.sig")),
        ],
        input=message,
        capture_output=True,
        check=False,
    )


def _ssh_sign(ssh_keygen: str, tmp_path: Path, pem: bytes, message: bytes, *opts: str) -> str:
    key = tmp_path / "id_ed25519"
    key.write_bytes(pem)
    key.chmod(0o600)
    done = subprocess.run(
        [ssh_keygen, "-Y", "sign", "-f", str(key), "-n", NS, *opts],
        input=message,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


def _reblob(signature: str, blob: bytes) -> str:
    b64 = base64.b64encode(blob).decode()
    lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
    return "\n".join(["-----BEGIN SSH SIGNATURE-----", *lines, "-----END SSH SIGNATURE-----\n"])


def _blob(signature: str) -> bytes:
    body = signature.strip().splitlines()[1:-1]
    return base64.b64decode("".join(body))


# --- keys ----------------------------------------------------------------------


def test_generated_key_round_trips_and_matches_ssh_keygen(
    keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    pair = keypairs["production"]
    assert pair.public == f"{pair.key.public_key} production@promptship"
    key_file = tmp_path / "k"
    key_file.write_bytes(pair.pem)
    key_file.chmod(0o600)
    derived = subprocess.run(
        [ssh_keygen, "-y", "-f", str(key_file)], capture_output=True, check=True, text=True
    ).stdout.split()
    assert derived[:2] == pair.public.split()[:2]
    listed = subprocess.run(
        [ssh_keygen, "-l", "-f", str(key_file)], capture_output=True, check=True, text=True
    ).stdout.split()
    assert listed[1] == pair.key.fingerprint


def test_signing_key_never_shows_its_secret(keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    secret_lines = [ln for ln in pair.pem.decode().splitlines() if not ln.startswith("-----")]
    shown = repr(pair.key) + str(pair.key) + f"{pair.key}"
    for line in secret_lines:
        assert line[:16] not in shown
    assert "source='production.key'" in repr(pair.key)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(pair.key)


def test_key_from_an_environment_variable_with_crlf_and_padding(
    keypairs: dict[str, KeyPair],
) -> None:
    pem = keypairs["staging"].pem
    mangled = b"\n  " + pem.replace(b"\n", b"\r\n") + b"\r\n\r\n"
    key = keys.load_private_key(mangled, source="env:PROMPTSHIP_SIGNING_KEY")
    assert key.fingerprint == keypairs["staging"].key.fingerprint


def test_bad_private_keys_are_refused_without_quoting_them(
    keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    pem = keypairs["production"].pem
    truncated = pem[:150] + pem[-60:]
    subprocess.run(
        [ssh_keygen, "-q", "-t", "ed25519", "-N", "hunter22", "-f", str(tmp_path / "enc")],
        check=True,
    )
    subprocess.run(
        [ssh_keygen, "-q", "-t", "ecdsa", "-N", "", "-f", str(tmp_path / "ec")], check=True
    )
    cases = {
        b"not a key at all": "not an OpenSSH private key",
        truncated: "cannot be read",
        (tmp_path / "enc").read_bytes(): "is encrypted",
        (tmp_path / "ec").read_bytes(): "not Ed25519",
    }
    for data, expected in cases.items():
        with pytest.raises(KeyFileError, match=expected) as info:
            keys.load_private_key(data, source="ci-secret")
        text = str(info.value)
        assert text.startswith("ci-secret: ")
        body = [ln for ln in data.decode().splitlines() if ln and not ln.startswith("-----")]
        assert not any(ln[:12] in text for ln in body)


def test_comment_must_be_one_line() -> None:
    with pytest.raises(UsageError):
        keys.generate_keypair("a\nb")


def test_principal_for_environment() -> None:
    assert sshsig.principal_for("production") == PROD
    for bad in ("Production", "", "prod uction", "a@b", "x" * 40):
        with pytest.raises(UsageError):
            sshsig.principal_for(bad)


# --- interoperability ----------------------------------------------------------


def test_our_signature_verifies_with_ssh_keygen_and_is_byte_identical(
    keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    pair = keypairs["production"]
    ours = sshsig.sign(pair.key, MESSAGE, NS)
    allowed_text = f"{PROD} {pair.public}\n"
    done = _ssh_verify(ssh_keygen, tmp_path, allowed_text, MESSAGE, ours)
    assert done.returncode == 0, done.stderr
    assert b'Good "promptship-bundle@v1" signature for production@promptship' in done.stdout
    # Ed25519 is deterministic: ssh-keygen must produce exactly our text.
    assert _ssh_sign(ssh_keygen, tmp_path, pair.pem, MESSAGE) == ours
    # ssh-keygen refuses it for another principal, namespace or message, as we do.
    for kwargs in ({"principal": "staging@promptship"}, {"namespace": "file"}):
        assert _ssh_verify(ssh_keygen, tmp_path, allowed_text, MESSAGE, ours, **kwargs).returncode
    assert _ssh_verify(ssh_keygen, tmp_path, allowed_text, MESSAGE + b" ", ours).returncode


@pytest.mark.parametrize("hashalg", ["sha512", "sha256"])
def test_ssh_keygen_signature_verifies_with_ours(
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    ssh_keygen: str,
    tmp_path: Path,
    hashalg: str,
) -> None:
    pair = keypairs["production"]
    theirs = _ssh_sign(ssh_keygen, tmp_path, pair.pem, MESSAGE, "-O", f"hashalg={hashalg}")
    info = sshsig.verify(allowed, MESSAGE, theirs, principal=PROD, namespace=NS, now=NOW)
    assert info.principal == PROD
    assert info.fingerprint == pair.key.fingerprint
    assert info.location.line == 1
    with pytest.raises(SignatureInvalid):
        sshsig.verify(allowed, MESSAGE[:-1], theirs, principal=PROD, namespace=NS, now=NOW)


@pytest.mark.parametrize(
    ("options", "principal", "namespace"),
    [
        ("", PROD, NS),
        ("", "staging@promptship", NS),
        ('namespaces="promptship-bundle@v1"', PROD, NS),
        ('namespaces="promptship-channel@v1"', PROD, NS),
        ('namespaces="promptship-*@v1,!promptship-bundle@v1"', PROD, NS),
        ('valid-after="20000101Z"', PROD, NS),
        ('valid-after="20990101Z"', PROD, NS),
        ('valid-before="20000101010101Z"', PROD, NS),
        ('VALID-BEFORE="209901011200Z",cert-authority', PROD, NS),
    ],
)
@pytest.mark.parametrize("principals", [PROD, "*@promptship", "!production@*,*@promptship"])
def test_allowed_signers_decisions_match_ssh_keygen(
    keypairs: dict[str, KeyPair],
    ssh_keygen: str,
    tmp_path: Path,
    options: str,
    principals: str,
    principal: str,
    namespace: str,
) -> None:
    """Differential test: for each allowed_signers line, we accept exactly when ssh-keygen does."""
    pair = keypairs["production"]
    text = f"{principals} {options} {pair.public}\n".replace("  ", " ")
    sig = sshsig.sign(pair.key, MESSAGE, namespace)
    theirs = _ssh_verify(
        ssh_keygen, tmp_path, text, MESSAGE, sig, principal=principal, namespace=namespace
    )
    parsed = allowed_signers.parse_allowed_signers(text, source="allowed_signers")
    try:
        sshsig.verify(
            parsed,
            MESSAGE,
            sig,
            principal=principal,
            namespace=namespace,
            now=datetime.now(UTC),
        )
        ours = True
    except (SignatureKeyNotAllowed, SignatureUnknownKey):
        ours = False
    assert ours == (theirs.returncode == 0), theirs.stderr


# --- tampering -------------------------------------------------------------------


def test_every_flipped_message_byte_is_a_bad_signature(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS)
    for i in range(len(MESSAGE)):
        tampered = bytearray(MESSAGE)
        tampered[i] ^= 0x01
        with pytest.raises(SignatureInvalid, match="does not match the signed bytes"):
            sshsig.verify(allowed, bytes(tampered), sig, principal=PROD, namespace=NS, now=NOW)


def test_every_flipped_signature_byte_fails_with_a_specific_error(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS)
    blob = _blob(sig)
    specific = (
        SignatureMalformed,
        SignatureNamespaceMismatch,
        SignatureUnknownKey,
        SignatureKeyNotAllowed,
        SignatureInvalid,
    )
    seen: set[type[SignatureError]] = set()
    for i in range(len(blob)):
        for bit in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[i] ^= bit
            if 6 <= i < 10 and int.from_bytes(tampered[6:10], "big") <= 1:
                # version 0: ssh-keygen accepts any version up to 1, and so does promptship
                # (tests/unit/release/test_sshsig_differential.py)
                sshsig.verify(
                    allowed, MESSAGE, _reblob(sig, bytes(tampered)),
                    principal=PROD, namespace=NS, now=NOW,
                )  # fmt: skip
                continue
            with pytest.raises(SignatureError) as info:
                sshsig.verify(
                    allowed,
                    MESSAGE,
                    _reblob(sig, bytes(tampered)),
                    principal=PROD,
                    namespace=NS,
                    now=NOW,
                )
            assert isinstance(info.value, specific), (i, info.value)
            seen.add(type(info.value))
    # magic/version/lengths, namespace text, key bytes, signature bytes all reached
    assert seen == {
        SignatureMalformed,
        SignatureNamespaceMismatch,
        SignatureUnknownKey,
        SignatureInvalid,
    }


def test_every_flipped_armor_character_is_rejected(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS)
    for i, c in enumerate(sig):
        if c == "\n":
            continue
        tampered = sig[:i] + ("B" if c != "B" else "C") + sig[i + 1 :]
        with pytest.raises(SignatureError):
            sshsig.verify(allowed, MESSAGE, tampered, principal=PROD, namespace=NS, now=NOW)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda s: s.replace("-----BEGIN SSH SIGNATURE-----", "-----BEGIN PGP SIGNATURE-----"),
            "does not start with",
        ),
        (lambda s: s.replace("-----END SSH SIGNATURE-----", ""), "does not end with"),
        (lambda s: s.replace("\n", "\n*", 1), "not valid base64"),
        (lambda s: "junk\n" + s, "does not start with"),
        (lambda s: s + "x" * 20000, "over the"),
        (lambda s: "", "does not start with"),
    ],
)
def test_malformed_armor(
    keypairs: dict[str, KeyPair],
    allowed: allowed_signers.AllowedSigners,
    mutate: object,
    expected: str,
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS)
    assert callable(mutate)
    with pytest.raises(SignatureMalformed, match=expected):
        sshsig.verify(allowed, MESSAGE, mutate(sig), principal=PROD, namespace=NS, now=NOW)


def test_wrong_magic_version_and_trailing_bytes(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS)
    blob = _blob(sig)
    cases = {
        b"SSHSIH" + blob[6:]: "SSHSIG magic",
        blob[:6] + b"\x00\x00\x00\x02" + blob[10:]: "version 2",
        blob + b"\x00": "extra bytes",
        blob[:-3]: "truncated",
    }
    for tampered, expected in cases.items():
        with pytest.raises(SignatureMalformed, match=expected):
            sshsig.verify(
                allowed, MESSAGE, _reblob(sig, tampered), principal=PROD, namespace=NS, now=NOW
            )


def test_crlf_armor_still_verifies(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, NS).replace("\n", "\r\n")
    assert sshsig.verify(allowed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)


# --- who may sign ----------------------------------------------------------------------


def test_wrong_namespace(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["production"].key, MESSAGE, sshsig.CHANNEL_NAMESPACE)
    with pytest.raises(SignatureNamespaceMismatch, match="promptship-channel@v1"):
        sshsig.verify(allowed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)


def test_unknown_key(keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners) -> None:
    sig = sshsig.sign(keypairs["outsider"].key, MESSAGE, NS)
    with pytest.raises(SignatureUnknownKey, match=re.escape(keypairs["outsider"].key.fingerprint)):
        sshsig.verify(allowed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)


def test_staging_key_cannot_sign_for_production(
    keypairs: dict[str, KeyPair], allowed: allowed_signers.AllowedSigners
) -> None:
    sig = sshsig.sign(keypairs["staging"].key, MESSAGE, NS)
    with pytest.raises(
        SignatureKeyNotAllowed, match="not allowed to sign for production@promptship"
    ):
        sshsig.verify(allowed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)
    info = sshsig.verify(
        allowed, MESSAGE, sig, principal="staging@promptship", namespace=NS, now=NOW
    )
    assert info.location.line == 2


def test_validity_window_uses_now(keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    text = f'{PROD} valid-after="20250101Z",valid-before="20251231235959Z" {pair.public}\n'
    parsed = allowed_signers.parse_allowed_signers(text, source="a")
    sig = sshsig.sign(pair.key, MESSAGE, NS)
    assert sshsig.verify(parsed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)
    for when, expected in [
        (datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), "not valid before 2025-01-01T00:00:00Z"),
        (datetime(2026, 1, 1, tzinfo=UTC), "expired at 2025-12-31T23:59:59Z"),
    ]:
        with pytest.raises(SignatureKeyNotAllowed, match=expected):
            sshsig.verify(parsed, MESSAGE, sig, principal=PROD, namespace=NS, now=when)
    with pytest.raises(UsageError, match="time zone"):
        sshsig.verify(parsed, MESSAGE, sig, principal=PROD, namespace=NS, now=datetime(2025, 6, 1))


def test_namespaces_option_limits_a_key(keypairs: dict[str, KeyPair]) -> None:
    pair = keypairs["production"]
    parsed = allowed_signers.parse_allowed_signers(
        f'{PROD} namespaces="promptship-channel@v1" {pair.public}\n', source="a"
    )
    sig = sshsig.sign(pair.key, MESSAGE, NS)
    with pytest.raises(SignatureKeyNotAllowed, match="not allowed in namespace"):
        sshsig.verify(parsed, MESSAGE, sig, principal=PROD, namespace=NS, now=NOW)


# --- allowed_signers parsing -------------------------------------------------------------


def test_allowed_signers_file_with_comments_options_and_skipped_lines(
    keypairs: dict[str, KeyPair], ssh_keygen: str, tmp_path: Path
) -> None:
    subprocess.run(
        [ssh_keygen, "-q", "-t", "ecdsa", "-N", "", "-f", str(tmp_path / "ec")], check=True
    )
    ecdsa = (tmp_path / "ec.pub").read_text().strip()
    prod, stag = keypairs["production"].public, keypairs["staging"].public
    text = (
        "# who signs what\n"
        "\n"
        f'"production@promptship,release@promptship" namespaces="promptship-*" {prod}\n'
        f"   *@promptship cert-authority {stag}\n"
        f"ops@promptship {ecdsa}\n"
        f"staging@promptship {stag} trailing comment words\r\n"
    )
    parsed = allowed_signers.parse_allowed_signers(text, source="environments/allowed_signers")
    assert [s.location.line for s in parsed.signers] == [3, 6]
    assert parsed.signers[0].principals == ("production@promptship", "release@promptship")
    assert parsed.signers[0].namespaces == ("promptship-*",)
    assert [(f.code, f.location.line if f.location else 0) for f in parsed.findings] == [
        ("signers.cert-authority", 4),
        ("signers.key-type", 5),
    ]
    assert all(f.severity == "warning" for f in parsed.findings)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("production@promptship", "missing key"),
        ("production@promptship ssh-ed25519", "missing key"),
        ("production@promptship ssh-ed25519 !!!!", "not valid base64"),
        ("production@promptship ssh-ed25519 AAAA", "malformed"),
        ("production@promptship foo=bar {key}", "unknown option"),
        ("production@promptship namespaces=x {key}", "double quotes"),
        ('production@promptship namespaces="a",namespaces="b" {key}', "multiple"),
        ('production@promptship namespaces="a,,b" {key}', "empty entry"),
        ('production@promptship valid-after="20250101" {key}', "no Z suffix"),
        ('production@promptship valid-after="2025" {key}', "invalid valid-after"),
        ('production@promptship valid-after="20251399Z" {key}', "invalid valid-after"),
        (
            'production@promptship valid-after="20260101Z",valid-before="20250101Z" {key}',
            "before",
        ),
        ('production@promptship namespaces="a {key}', "unterminated quote"),
        ("production@promptship ssh-ed448 AAAA", "unknown key type"),
        ("production@promptship,,x {key}", "empty entry"),
        ("production@promptship ssh-rsa {b64}", "the line says 'ssh-rsa'"),
    ],
)
def test_bad_allowed_signers_lines_name_file_and_line(
    keypairs: dict[str, KeyPair], line: str, expected: str
) -> None:
    public = keypairs["production"].public
    b64 = public.split()[1]
    text = f"# ok\n{keypairs['staging'].public.replace('ssh-', 'staging@promptship ssh-')}\n"
    text += line.format(key=public, b64=b64) + "\n"
    with pytest.raises(SignatureError, match=expected) as info:
        allowed_signers.parse_allowed_signers(text, source="environments/allowed_signers")
    assert str(info.value).startswith("environments/allowed_signers:3:")


def test_oversized_allowed_signers_file() -> None:
    with pytest.raises(SignatureError, match="cap"):
        allowed_signers.parse_allowed_signers("#" * (2 * 1024 * 1024), source="a")


def test_bad_namespace_argument(keypairs: dict[str, KeyPair]) -> None:
    with pytest.raises(UsageError):
        sshsig.sign(keypairs["production"].key, MESSAGE, "")
