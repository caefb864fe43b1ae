"""Ed25519 signatures in OpenSSH's SSHSIG format, over bytes, with given keys; pure.

Signatures made here verify with ``ssh-keygen -Y verify`` and the reverse
(``PROTOCOL.sshsig`` in openssh-portable). Who may sign what is an OpenSSH
allowed-signers file (:mod:`promptship.release.allowed_signers`): the identity
that may sign for environment ``E`` is the principal ``E@promptship``
(:func:`principal_for`), and the namespace says what was signed
(:data:`BUNDLE_NAMESPACE`, :data:`CHANNEL_NAMESPACE`). Keys are generated,
loaded and written by :mod:`promptship.release.keys`.

Private key material never appears in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from promptship.core.errors import (
    Location,
    SignatureInvalid,
    SignatureMalformed,
    SignatureNamespaceMismatch,
    UsageError,
)
from promptship.release.allowed_signers import (
    ED25519,
    AllowedSigners,
    WireReader,
    allowed_signer_for,
    ed25519_blob,
    key_fingerprint,
    ssh_string,
)

__all__ = [
    "BUNDLE_NAMESPACE",
    "CHANNEL_NAMESPACE",
    "MAX_SIGNATURE_BYTES",
    "SignerInfo",
    "SigningKey",
    "principal_for",
    "sign",
    "sign_raw",
    "verify",
]

BUNDLE_NAMESPACE = "promptship-bundle@v1"
"""SSHSIG namespace of a signature over a bundle's ``manifest.json`` bytes."""

CHANNEL_NAMESPACE = "promptship-channel@v1"
"""SSHSIG namespace of a signature over a channel pointer's bytes."""

MAX_SIGNATURE_BYTES = 16 * 1024
"""The cap on an armored signature: every reader (file, HTTP, OCI) refuses a larger one."""

_MAGIC = b"SSHSIG"
_VERSION = 1
_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"
_ENV_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


def principal_for(env: str) -> str:
    """The allowed-signers principal that may sign for environment ``env`` (``E@promptship``)."""
    if not _ENV_RE.fullmatch(env):
        raise UsageError(
            f"{env!r} is not an environment name",
            hint="environment names are lowercase letters, digits and '-', starting with a letter",
        )
    return f"{env}@promptship"


@dataclass(frozen=True, eq=False)
class SigningKey:
    """A loaded Ed25519 private key; its ``repr`` shows only where it came from and its fingerprint.

    Attributes:
        source: Where the key was read from (a file path or ``env:NAME``), for messages.
        public_key: The public half as an OpenSSH line (``ssh-ed25519 AAAA…``).
        fingerprint: ``SHA256:…`` as ``ssh-keygen -l`` prints it.
    """

    source: str
    public_key: str
    fingerprint: str
    _key: Ed25519PrivateKey = field(repr=False)

    def __repr__(self) -> str:
        return f"SigningKey(source={self.source!r}, fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a SigningKey cannot be pickled or copied: it holds private key material")

    @classmethod
    def from_private_key(cls, key: Ed25519PrivateKey, *, source: str) -> SigningKey:
        """Wrap a loaded Ed25519 private key; ``source`` names where it came from, for messages."""
        line, blob = _public_line(key.public_key())
        return cls(source=source, public_key=line, fingerprint=key_fingerprint(blob), _key=key)


def _public_line(public: Ed25519PublicKey) -> tuple[str, bytes]:
    # signing only: verifying never loads the serialization module (its SSH part loads ciphers)
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    blob = ed25519_blob(raw)
    return f"{ED25519} {base64.b64encode(blob).decode()}", blob


def _signed_data(namespace: bytes, hash_alg: bytes, message_hash: bytes, reserved: bytes) -> bytes:
    return (
        _MAGIC
        + ssh_string(namespace)
        + ssh_string(reserved)
        + ssh_string(hash_alg)
        + ssh_string(message_hash)
    )


def _check_namespace(namespace: str) -> bytes:
    if not namespace or any(c.isspace() for c in namespace):
        raise UsageError(f"{namespace!r} is not a signature namespace", hint="use e.g. 'x@domain'")
    return namespace.encode()


def sign(key: SigningKey, message: bytes, namespace: str) -> str:
    """Sign ``message`` in ``namespace``; returns an armored SSHSIG (hash sha512).

    The text is byte-identical to what ``ssh-keygen -Y sign`` writes for the same
    key, message and namespace (Ed25519 signatures are deterministic).
    """
    ns = _check_namespace(namespace)
    digest = hashlib.sha512(message).digest()
    raw = key._key.sign(_signed_data(ns, b"sha512", digest, b""))
    _, pub_blob = _public_line(key._key.public_key())
    blob = (
        _MAGIC
        + struct.pack(">I", _VERSION)
        + ssh_string(pub_blob)
        + ssh_string(ns)
        + ssh_string(b"")
        + ssh_string(b"sha512")
        + ssh_string(ssh_string(ED25519.encode()) + ssh_string(raw))
    )
    b64 = base64.b64encode(blob).decode()
    lines = [b64[i : i + 70] for i in range(0, len(b64), 70)]
    return "\n".join([_BEGIN, *lines, _END]) + "\n"


def sign_raw(key: SigningKey, data: bytes) -> bytes:
    """A bare Ed25519 signature (64 bytes) over ``data``.

    For envelopes that frame and domain-separate what they sign themselves,
    such as DSSE's pre-authentication encoding of eval attestations; anything
    else is signed with :func:`sign` (SSHSIG, with a namespace).
    """
    return key._key.sign(data)


@dataclass(frozen=True, slots=True)
class SignerInfo:
    """Who made a signature that verified.

    Attributes:
        principal: The principal it was verified for (``production@promptship``).
        namespace: The signature's namespace.
        fingerprint: ``SHA256:…`` of the signing key.
        location: The allowed-signers line that allowed it.
    """

    principal: str
    namespace: str
    fingerprint: str
    location: Location


def _dearmor(signature: str) -> bytes:
    """The blob inside the armor, read as ``ssh-keygen -Y verify`` reads it (OpenSSH 9.2).

    The text starts with the header and a newline; the body runs to the first
    newline followed by the footer (anything after the footer is ignored);
    whitespace inside the base64 is skipped; the base64 must be canonical.
    One deliberate difference: CRLF line ends are read as LF (a signature file
    checked out on Windows still verifies; OpenSSH 9.2 refuses it).
    """
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise SignatureMalformed(
            f"signature is {len(signature)} characters, over the {MAX_SIGNATURE_BYTES} cap"
        )
    signature = signature.replace("\r\n", "\n")
    if not signature.startswith(_BEGIN + "\n"):
        raise SignatureMalformed(f"signature armor does not start with {_BEGIN}")
    end = signature.find("\n" + _END, len(_BEGIN))
    if end == -1:
        raise SignatureMalformed(f"signature armor does not end with {_END}")
    joined = "".join(signature[len(_BEGIN) + 1 : end].split())
    try:
        blob = base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SignatureMalformed("signature armor is not valid base64") from e
    if base64.b64encode(blob).decode() != joined:
        raise SignatureMalformed("signature armor is not canonical base64 (stray padding bits)")
    return blob


@dataclass(frozen=True, slots=True)
class _Parsed:
    pub_blob: bytes
    pub_raw: bytes
    namespace: bytes
    reserved: bytes
    hash_alg: bytes
    raw_signature: bytes


def _cstring(value: bytes, what: str) -> bytes:
    """A string field read as OpenSSH's ``sshbuf_get_cstring`` reads it.

    One trailing NUL is allowed (and dropped); any other NUL makes the signature malformed.
    """
    at = value.find(b"\0")
    if at == -1:
        return value
    if at == len(value) - 1:
        return value[:-1]
    raise SignatureMalformed(f"signature {what} holds a NUL byte")


def _parse_blob(blob: bytes) -> _Parsed:
    """The fields of an SSHSIG blob, read as ``ssh-keygen -Y verify`` reads them.

    OpenSSH (``sshsig.c``) accepts any version up to 1, reads the namespace,
    the hash algorithm and the key and signature type names as C strings, and
    reads the reserved field without looking at it.
    """
    r = WireReader(blob, "signature")
    if r.take(6) != _MAGIC:
        raise SignatureMalformed("signature does not start with the SSHSIG magic")
    version = r.uint32()
    if version > _VERSION:
        raise SignatureMalformed(f"signature has SSHSIG version {version}; only 1 is supported")
    pub_blob, namespace, reserved, hash_alg, sig = (r.string() for _ in range(5))
    r.end()
    namespace = _cstring(namespace, "namespace")
    hash_alg = _cstring(hash_alg, "hash algorithm")
    if hash_alg not in (b"sha256", b"sha512"):
        raise SignatureMalformed(f"signature uses unsupported hash {hash_alg[:32]!r}")
    kr = WireReader(pub_blob, "signature key")
    key_type = _cstring(kr.string(), "key type")
    if key_type != ED25519.encode():
        raise SignatureMalformed(
            f"signature made with a {key_type[:64].decode('ascii', 'replace')!r} key; "
            "promptship verifies Ed25519 only"
        )
    pub_raw = kr.string()
    kr.end()
    if len(pub_raw) != 32:
        raise SignatureMalformed("an Ed25519 public key must be 32 bytes")
    sr = WireReader(sig, "signature value")
    if _cstring(sr.string(), "signature type") != ED25519.encode():
        raise SignatureMalformed("signature value is not an ssh-ed25519 signature")
    raw = sr.string()
    sr.end()
    if len(raw) != 64:
        raise SignatureMalformed("an Ed25519 signature value must be 64 bytes")
    # the key as OpenSSH compares it: decoded, so a type name with a trailing NUL is the same key
    return _Parsed(ed25519_blob(pub_raw), pub_raw, namespace, reserved, hash_alg, raw)


def verify(
    allowed: AllowedSigners,
    message: bytes,
    signature: str,
    *,
    principal: str,
    namespace: str,
    now: datetime,
) -> SignerInfo:
    """Check that ``signature`` is an SSHSIG over ``message`` by a key allowed for ``principal``.

    The same decision ``ssh-keygen -Y verify -f ALLOWED -I PRINCIPAL -n NAMESPACE``
    makes at time ``now``.

    Raises:
        SignatureMalformed: Bad armor, base64, magic, version or field layout.
        SignatureNamespaceMismatch: Signed for another namespace.
        SignatureUnknownKey: The key is on no line of ``allowed``.
        SignatureKeyNotAllowed: The key is listed, but not for this principal,
            namespace, or time.
        SignatureInvalid: The signature does not match the message.
    """
    if now.tzinfo is None:
        raise UsageError("verify needs a time zone-aware `now`", hint="pass datetime.now(UTC)")
    parsed = _parse_blob(_dearmor(signature))
    if parsed.namespace != namespace.encode():
        raise SignatureNamespaceMismatch(
            f"signature is for namespace {parsed.namespace[:64].decode('utf-8', 'replace')!r}, "
            f"expected {namespace!r}",
            hint="a signature made for one purpose is never accepted for another",
        )
    fingerprint = key_fingerprint(parsed.pub_blob)
    chosen = allowed_signer_for(
        allowed, parsed.pub_blob, principal=principal, namespace=namespace, now=now
    )
    hasher = hashlib.sha512 if parsed.hash_alg == b"sha512" else hashlib.sha256
    # ssh-keygen (sshsig.c, sshsig_wrap_verify) reads the reserved field and ignores it:
    # the signed data always holds an empty one. Doing the same keeps "the same decision
    # as ssh-keygen" (tests/unit/release/test_sshsig_differential.py).
    signed = _signed_data(parsed.namespace, parsed.hash_alg, hasher(message).digest(), b"")
    public = Ed25519PublicKey.from_public_bytes(parsed.pub_raw)
    try:
        public.verify(parsed.raw_signature, signed)
    except InvalidSignature as e:
        raise SignatureInvalid(
            f"signature by {fingerprint} does not match the signed bytes",
            hint="the message or the signature was altered after signing",
        ) from e
    return SignerInfo(principal, namespace, fingerprint, chosen.location)
