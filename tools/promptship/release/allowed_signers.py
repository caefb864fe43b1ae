"""OpenSSH allowed-signers files and the SSH wire encoding they share with signatures.

Pure: takes the file's text and returns values. An allowed-signers line reads
``principals [options] key-type base64-key [comment]`` (``ssh-keygen(1)``,
ALLOWED SIGNERS); :mod:`promptship.release.sshsig` makes and checks signatures
against the result.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from promptship.core.errors import (
    Location,
    SignatureError,
    SignatureKeyNotAllowed,
    SignatureMalformed,
    SignatureUnknownKey,
)

if TYPE_CHECKING:  # a skipped line's warning: the model is imported when one is made
    from promptship.core.model import Finding

__all__ = [
    "ED25519",
    "MAX_KEY_FILE_BYTES",
    "AllowedSigner",
    "AllowedSigners",
    "WireReader",
    "allowed_signer_for",
    "ed25519_blob",
    "ed25519_raw",
    "key_fingerprint",
    "match_pattern_list",
    "parse_allowed_signers",
    "ssh_string",
]

ED25519 = "ssh-ed25519"
_MAX_SIGNERS_CHARS = 1024 * 1024
_KNOWN_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
_TIME_RE = re.compile(r"^(\d{8})(\d{4}(\d{2})?)?([Zz])?$")

MAX_KEY_FILE_BYTES = 1024 * 1024
"""A private key or allowed-signers file larger than this is refused unread."""


def ssh_string(data: bytes) -> bytes:
    """An SSH ``string``: a big-endian uint32 length, then the bytes."""
    return struct.pack(">I", len(data)) + data


class WireReader:
    """Reads SSH wire fields from bytes; a short read or leftover bytes is a malformed signature.

    Args:
        data: The encoded bytes.
        what: What they are, for messages (``signature``, ``key``).
    """

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        if n > len(self._data) - self._pos:
            raise SignatureMalformed(f"{self._what} is truncated")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def uint32(self) -> int:
        """The next big-endian uint32."""
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        """The next SSH ``string``."""
        return self.take(self.uint32())

    def end(self) -> None:
        """Fail unless every byte was read."""
        if self._pos != len(self._data):
            raise SignatureMalformed(f"{self._what} has {len(self._data) - self._pos} extra bytes")


def key_fingerprint(blob: bytes) -> str:
    """``SHA256:…`` of a wire-encoded public key, as ``ssh-keygen -l`` prints it."""
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def ed25519_blob(raw: bytes) -> bytes:
    """The SSH wire encoding of a 32-byte Ed25519 public key."""
    return ssh_string(ED25519.encode()) + ssh_string(raw)


def ed25519_raw(blob: bytes) -> bytes:
    """The 32-byte Ed25519 public key inside its SSH wire encoding.

    Raises:
        SignatureMalformed: The blob is not an ``ssh-ed25519`` key.
    """
    reader = WireReader(blob, "public key")
    if reader.string() != ED25519.encode():
        raise SignatureMalformed("the public key is not an ssh-ed25519 key")
    raw = reader.string()
    reader.end()
    if len(raw) != 32:
        raise SignatureMalformed("an Ed25519 public key must be 32 bytes")
    return raw


@dataclass(frozen=True, slots=True)
class AllowedSigner:
    """One usable line of an allowed-signers file.

    Attributes:
        principals: The principal patterns (``*`` and ``?`` wildcards, ``!`` negates).
        namespaces: Namespace patterns the key may sign in, or ``None`` for any.
        valid_after: The key is valid from this time on, when set.
        valid_before: The key is valid until this time (inclusive), when set.
        key_blob: The public key in SSH wire encoding.
        fingerprint: ``SHA256:…`` of the key.
        location: The file and line it came from.
    """

    principals: tuple[str, ...]
    namespaces: tuple[str, ...] | None
    valid_after: datetime | None
    valid_before: datetime | None
    key_blob: bytes
    fingerprint: str
    location: Location


@dataclass(frozen=True, slots=True)
class AllowedSigners:
    """A parsed allowed-signers file.

    Attributes:
        source: The file's name, for messages.
        signers: The usable lines, in file order.
        findings: Lines that were skipped (certificate authorities, key types
            promptship cannot verify), as warnings.
    """

    source: str
    signers: tuple[AllowedSigner, ...]
    findings: tuple[Finding, ...] = ()


def _match_pattern(text: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def match_pattern_list(text: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH pattern-list semantics: a matching ``!pattern`` denies; else any match allows."""
    allowed = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _match_pattern(text, pattern[1:]):
                return False
        elif _match_pattern(text, pattern):
            allowed = True
    return allowed


def _split_list(value: str, what: str, loc: Location) -> tuple[str, ...]:
    items = tuple(value.split(","))
    if any(not item or item == "!" for item in items):
        raise SignatureError(f"empty entry in the {what} list {value!r}", location=loc)
    return items


def _parse_time(value: str, option: str, loc: Location) -> datetime:
    m = _TIME_RE.fullmatch(value)
    if m is None:
        raise SignatureError(
            f'invalid {option} time "{value}"',
            hint="use YYYYMMDD[HHMM[SS]]Z",
            location=loc,
        )
    if m.group(4) is None:
        raise SignatureError(
            f'{option} time "{value}" has no Z suffix',
            hint="ssh-keygen reads such a time in the local time zone, so its meaning depends "
            "on the machine; append Z and give it in UTC",
            location=loc,
        )
    digits = m.group(1) + (m.group(2) or "0000")
    if len(digits) == 12:
        digits += "00"
    try:
        return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError as e:
        raise SignatureError(f'invalid {option} time "{value}"', location=loc) from e


def _next_token(rest: str, loc: Location, what: str) -> tuple[str, str]:
    """Split off one whitespace-delimited token; double quotes may contain spaces."""
    i, quoted = 0, False
    while i < len(rest) and (quoted or rest[i] not in " \t"):
        if rest[i] == '"':
            quoted = not quoted
        i += 1
    if quoted:
        raise SignatureError(f"unterminated quote in the {what}", location=loc)
    return rest[:i], rest[i:].lstrip(" \t")


def _split_options(text: str) -> list[str]:
    """The comma-separated options of a line; a comma inside double quotes does not split."""
    options: list[str] = []
    current, quoted = "", False
    for c in text:
        if c == '"':
            quoted = not quoted
        if c == "," and not quoted:
            options.append(current)
            current = ""
        else:
            current += c
    options.append(current)
    return options


def _option_value(opt: str, loc: Location) -> tuple[str, str]:
    """A ``name="value"`` option's lower-cased name and unquoted value (names known only)."""
    name, eq, value = opt.partition("=")
    lname = name.lower()
    if lname not in ("namespaces", "valid-after", "valid-before") or not eq:
        raise SignatureError(
            f"unknown option {opt!r}",
            hint="allowed-signers options are cert-authority, namespaces=, "
            "valid-after=, valid-before=",
            location=loc,
        )
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        raise SignatureError(f"the value of {lname} must be in double quotes", location=loc)
    return lname, value[1:-1]


@dataclass(frozen=True, slots=True)
class _Options:
    """The options of an allowed-signers line."""

    cert_authority: bool = False
    namespaces: tuple[str, ...] | None = None
    valid_after: datetime | None = None
    valid_before: datetime | None = None


def _parse_options(text: str, loc: Location) -> _Options:
    ca = False
    namespaces: tuple[str, ...] | None = None
    times: dict[str, datetime] = {}
    for opt in _split_options(text):
        if opt.lower() == "cert-authority":
            ca = True
            continue
        lname, value = _option_value(opt, loc)
        if lname in times or (lname == "namespaces" and namespaces is not None):
            raise SignatureError(f'multiple "{lname}" clauses', location=loc)
        if lname == "namespaces":
            namespaces = _split_list(value, "namespaces", loc)
        else:
            times[lname] = _parse_time(value, lname, loc)
    after, before = times.get("valid-after"), times.get("valid-before")
    if after is not None and before is not None and before <= after:
        raise SignatureError('"valid-before" time is before "valid-after"', location=loc)
    return _Options(ca, namespaces, after, before)


_UNKNOWN_TYPE_HINT = "a line reads: principals [options] ssh-ed25519 AAAA…"


def _options_and_key_type(rest: str, loc: Location) -> tuple[_Options, str, str]:
    """The options (when the line has them), the key type and what follows it."""
    token, rest = _next_token(rest, loc, "options")
    options = _Options()
    if token not in _KNOWN_KEY_TYPES and "=" not in token and token.lower() != "cert-authority":
        raise SignatureError(f"unknown key type {token!r}", hint=_UNKNOWN_TYPE_HINT, location=loc)
    if token not in _KNOWN_KEY_TYPES:
        options = _parse_options(token, loc)
        token, rest = _next_token(rest, loc, "key type")
    if not token:
        raise SignatureError("missing key", location=loc)
    if token not in _KNOWN_KEY_TYPES:
        raise SignatureError(f"unknown key type {token!r}", hint=_UNKNOWN_TYPE_HINT, location=loc)
    return options, token, rest


def _key_blob(key_type: str, rest: str, loc: Location) -> bytes:
    """The line's public key in wire encoding, checked against its stated type."""
    b64, _comment = _next_token(rest, loc, "key")
    if not b64:
        raise SignatureError(
            "missing key", hint="key-type must be followed by the key", location=loc
        )
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SignatureError("the key is not valid base64", location=loc) from e
    reader = WireReader(blob, f"{loc}: key")
    try:
        embedded = reader.string()
        if embedded != key_type.encode():
            raise SignatureError(
                f"the key says it is {embedded.decode('ascii', 'replace')!r}, "
                f"the line says {key_type!r}",
                location=loc,
            )
        if key_type == ED25519:
            raw = reader.string()
            reader.end()
            if len(raw) != 32:
                raise SignatureError("an Ed25519 key must be 32 bytes", location=loc)
    except SignatureMalformed as e:
        raise SignatureError(f"the key is malformed: {e.message}", location=loc) from e
    return blob


def _skipped(ca: bool, key_type: str, fingerprint: str, loc: Location) -> Finding | None:
    """Why a well-formed line is not used (a certificate authority, not Ed25519), if it is not."""
    from promptship.core.model import Finding

    if ca:
        return Finding(
            code="signers.cert-authority",
            message=f"certificate authority {fingerprint} is ignored",
            location=loc,
            hint="promptship verifies plain Ed25519 keys; list the signing key itself",
            severity="warning",
        )
    if key_type != ED25519:
        return Finding(
            code="signers.key-type",
            message=f"{key_type} key {fingerprint} is ignored: promptship verifies Ed25519 only",
            location=loc,
            hint="sign with an Ed25519 key (`promptship keys generate`)",
            severity="warning",
        )
    return None


def _parse_signer_line(line: str, loc: Location) -> tuple[AllowedSigner | None, Finding | None]:
    principals_text, rest = _next_token(line, loc, "principals")
    if principals_text.startswith('"') and principals_text.endswith('"'):
        principals_text = principals_text[1:-1]
    if not rest:
        raise SignatureError(
            "missing key", hint="principals [options] key-type base64-key", location=loc
        )
    principals = _split_list(principals_text, "principals", loc)
    options, key_type, rest = _options_and_key_type(rest, loc)
    blob = _key_blob(key_type, rest, loc)
    fingerprint = key_fingerprint(blob)
    skipped = _skipped(options.cert_authority, key_type, fingerprint, loc)
    if skipped is not None:
        return None, skipped
    signer = AllowedSigner(
        principals,
        options.namespaces,
        options.valid_after,
        options.valid_before,
        blob,
        fingerprint,
        loc,
    )
    return signer, None


def parse_allowed_signers(text: str, *, source: str) -> AllowedSigners:
    """Parse an OpenSSH allowed-signers file.

    Lines read ``principals [options] key-type base64-key [comment]``; ``#``
    starts a comment line. Options: ``namespaces="…"``, ``valid-after="…Z"``,
    ``valid-before="…Z"``; ``cert-authority`` lines and non-Ed25519 keys are
    skipped with a warning finding.

    Args:
        text: The file's text.
        source: Its name, used in every message as ``source:line``.

    Raises:
        SignatureError: A line is malformed; the message carries file:line.
    """
    if len(text) > _MAX_SIGNERS_CHARS:
        raise SignatureError(
            f"{source}: {len(text)} characters is over the {_MAX_SIGNERS_CHARS} cap",
            hint="an allowed-signers file lists a few keys; this is not one",
        )
    signers: list[AllowedSigner] = []
    findings: list[Finding] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip(" \t\r")
        if not line or line.startswith("#"):
            continue
        signer, finding = _parse_signer_line(line, Location(source, number, 1))
        if signer is not None:
            signers.append(signer)
        if finding is not None:
            findings.append(finding)
    return AllowedSigners(source, tuple(signers), tuple(findings))


def _describe_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _why_not_now(signer: AllowedSigner, namespace: str, now: datetime) -> str | None:
    """Why a line listing the key does not allow it in ``namespace`` at ``now``, if it does not."""
    if signer.namespaces is not None and not match_pattern_list(namespace, signer.namespaces):
        return f"not allowed in namespace {namespace!r}"
    if signer.valid_after is not None and now < signer.valid_after:
        return f"not valid before {_describe_time(signer.valid_after)}"
    if signer.valid_before is not None and now > signer.valid_before:
        return f"expired at {_describe_time(signer.valid_before)}"
    return None


def allowed_signer_for(
    allowed: AllowedSigners, key_blob: bytes, *, principal: str, namespace: str, now: datetime
) -> AllowedSigner:
    """The allowed-signers line that lets ``key_blob`` sign for ``principal`` in ``namespace`` at ``now``.

    The decision ``ssh-keygen -Y verify`` makes before it checks the signature
    itself: the key must be listed, for a matching principal, with a matching
    ``namespaces=`` (when set) and inside ``valid-after``/``valid-before``.

    Raises:
        SignatureUnknownKey: No line lists the key.
        SignatureKeyNotAllowed: Lines list it, but none for this principal,
            namespace and time.
    """
    fingerprint = key_fingerprint(key_blob)
    with_key = [s for s in allowed.signers if s.key_blob == key_blob]
    if not with_key:
        raise SignatureUnknownKey(
            f"signed by key {fingerprint}, which {allowed.source} does not list",
            hint="add its public key with the principal it signs for, or sign with a listed key",
        )
    for_principal = [s for s in with_key if match_pattern_list(principal, s.principals)]
    if not for_principal:
        others = ", ".join(sorted({p for s in with_key for p in s.principals}))
        raise SignatureKeyNotAllowed(
            f"key {fingerprint} is not allowed to sign for {principal} "
            f"({allowed.source} allows it for {others})",
            hint="each environment's bundles and channels must be signed by that environment's key",
        )
    problems: list[str] = []
    for s in for_principal:
        problem = _why_not_now(s, namespace, now)
        if problem is None:
            return s
        problems.append(f"{s.location}: {problem}")
    raise SignatureKeyNotAllowed(
        f"key {fingerprint} may not sign for {principal} here: " + "; ".join(problems),
        hint="check the key's namespaces=, valid-after= and valid-before= options",
    )
