"""Masking of secrets and personal data in values bound for logs, pure.

:func:`redact_inputs` prepares a prompt's render inputs for an event: inputs the
prompt marks ``x-sensitive`` (and any key whose name looks like a credential)
are replaced by :data:`SENSITIVE`; every other string, at any depth, has API
keys, bearer tokens, JWTs, private keys, email addresses, phone numbers and
payment card numbers (Luhn-checked) masked. Work is bounded whatever the input:
strings are cut at a length cap before scanning, containers at a depth and item
cap, and every pattern is written so that matching stays linear (no nested
quantifiers, bounded repetition, lookbehinds that anchor each attempt at the
start of a run). See ``docs/events.md`` for the list of shapes and what is not
caught.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_LIMITS",
    "MASK_CARD",
    "MASK_EMAIL",
    "MASK_PHONE",
    "MASK_SECRET",
    "SENSITIVE",
    "Limits",
    "is_secret_name",
    "luhn_ok",
    "pseudonymize",
    "redact_inputs",
    "redact_text",
    "redact_value",
]

SENSITIVE = "[sensitive]"
"""Replaces the whole value of a sensitive input."""
MASK_SECRET = "[secret]"  # noqa: S105 - the mask, not a password
MASK_EMAIL = "[email]"
MASK_PHONE = "[phone]"
MASK_CARD = "[card]"
_TOO_DEEP = "[truncated: nested too deep]"
_OUT_OF_BUDGET = "[truncated: event too large]"
_MORE_KEY = "[truncated]"

# Characters scanned past the cut, so that a secret straddling the cut is still
# recognised (and masked) before the output is cut.
_MARGIN = 256


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work and output of one redaction.

    Attributes:
        max_string: Characters kept of one string (more are cut, with a marker).
        max_depth: Container nesting kept (deeper values become a marker).
        max_items: Items kept of one dict or list (the rest are summarised).
        max_total: Characters kept across all strings of one call.
    """

    max_string: int = 4096
    max_depth: int = 6
    max_items: int = 64
    max_total: int = 65_536


DEFAULT_LIMITS = Limits()

# --- patterns ---------------------------------------------------------------
# Compiled once. Each family runs only when a cheap substring test says it
# could match. Every attempt is anchored by a lookbehind (a match starts only at
# the start of a run) and every repetition is bounded or followed by a
# character its own class excludes, so matching is linear in the input. Where
# a pattern starts with a character class and then looks behind, the regex
# engine can skip quickly to candidate positions.

_PEM = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----"
    r"(?:[\s\S]*?-----END[A-Z0-9 ]{0,40}PRIVATE KEY-----|[\s\S]*)"
)
_BEARER = re.compile(
    r"((?i:\bbearer)[ \t]{1,8})(?=[A-Za-z0-9._~+/=-]{0,4096}?[0-9])[A-Za-z0-9._~+/=-]{8,}"
)
_ASSIGN = re.compile(
    r"""([pscarPSCAR](?<![A-Za-z0-9][pscarPSCAR])"""  # a key name, maybe after db_ or x-
    r"""(?i:(?<=p)(?:assword|asswd|wd|assphrase)|(?<=s)ecret|(?<=c)lient[_-]?secret"""
    r"""|(?<=a)(?:pi[_-]?key|ccess[_-]?token|uth[_-]?token|ws_secret_access_key)"""
    r"""|(?<=r)efresh[_-]?token)\b"""
    r"""["']?[ \t]{0,8}[:=][ \t]{0,8}["']?)[^\s"',;&]{1,512}"""
)
_TOKEN = re.compile(
    r"""
    [esrgxA](?<![A-Za-z0-9_-][esrgxA])  # a token starts a run of token characters
    (?:(?<=e)yJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*  # JWT
      | (?<=s)k-[A-Za-z0-9_-]{20,}                                  # OpenAI, Anthropic
      | (?<=[sr])k_(?:live|test)_[A-Za-z0-9]{16,}                   # Stripe
      | (?<=g)h[pousr]_[A-Za-z0-9]{30,}                             # GitHub
      | (?<=g)ithub_pat_[A-Za-z0-9_]{22,}                           # GitHub fine-grained
      | (?<=x)ox[abposr]-[A-Za-z0-9-]{10,}                          # Slack
      | (?<=A)Iza[0-9A-Za-z_-]{35}                                  # Google
      | (?<=A)(?:KIA|SIA)[A-Z0-9]{16}(?![A-Za-z0-9])                # AWS access key id
    )
    """,
    re.VERBOSE,
)
_KEEP_PREFIX = r"\1" + MASK_SECRET  # "Bearer " / "password=" stay, the value goes
# Substrings one of which every _TOKEN match contains.
_TOKEN_HINTS = ("eyJ", "sk-", "k_", "gh", "github_pat_", "xox", "AIza", "AKIA", "ASIA")
_ASSIGN_HINTS = ("pass", "pwd", "secret", "api", "token")

# Emails are found from each "@": the domain forwards, the local part backwards
# (at most 64 characters), so the work is bounded per "@".
_EMAIL_LOCAL_REVERSED = re.compile(r"[\w!#$%&'*+/=?^`{|}~.-]{1,64}")
_EMAIL_DOMAIN = re.compile(r"\w[\w-]{0,62}(?:\.[\w-]{1,63}){1,8}")

# Digit runs joined by single spaces or dashes; the callback looks for 13-19
# digits passing the Luhn check among them. A run of more than 19 digits is never
# part of a candidate (it is an id, a hash, not a card).
_CARD = re.compile(r"[0-9](?<![0-9][0-9])(?=[0-9 -]{12})[0-9]{0,18}(?:[ -][0-9]{1,19})*(?![0-9])")
_CARD_PARTS = re.compile(r"([ -])")

# International: + then 8-15 digits with common separators (counted in the callback).
_PHONE_INTL = re.compile(r"\+(?<![\w+]\+)[1-9][0-9 ().-]{6,22}[0-9](?![0-9])")
_END = r"(?![\w/-]|[.:][0-9])"
_PHONE_NATIONAL = re.compile(
    r"[(0-9](?<![\w+./:-][(0-9])"  # not inside a word, a number or a path
    r"(?=[0-9 ().-]{9})"  # long enough to be a phone number
    # North American: 1-800-555-1234, (415) 555-2671, 415-555-2671, 415.555.2671
    rf"(?:(?<=1)[ .-](?:\([0-9]{{3}}\)[ .-]?|[0-9]{{3}}[ .-])[0-9]{{3}}[ .-][0-9]{{4}}{_END}"
    rf"|(?<=\()[0-9]{{3}}\)[ .-]?[0-9]{{3}}[ .-][0-9]{{4}}{_END}"
    rf"|(?<=[0-9])[0-9]{{2}}[ .-][0-9]{{3}}[ .-][0-9]{{4}}{_END}"
    # national with a trunk 0, no separators: 07700900123
    rf"|(?<=0)[1-9][0-9]{{8,10}}{_END}"
    # national with a trunk 0 and one consistent separator: 020 7946 0958, 06 12 34 56 78
    rf"|(?<=0)[1-9][0-9]{{0,4}}(?P<sep>[ .-])[0-9]{{2,8}}(?:(?P=sep)[0-9]{{2,8}}){{0,4}}{_END})"
)
_PHONE_PARTS = re.compile(r"([ .-])")
_NOT_DIGIT = re.compile(r"[^0-9]")
_HAS_DIGIT = re.compile(r"[0-9]")

_SECRET_NAME_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
    "authorization",
    "cookie",
)
_SECRET_NAME_ENDS = ("token", "auth", "sessionid")
_SECRET_NAMES = frozenset({"pwd", "pin", "cvv", "cvc", "ssn"})


def luhn_ok(digits: str) -> bool:
    """Whether a string of ASCII digits passes the Luhn check (as card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@functools.lru_cache(maxsize=1024)
def is_secret_name(name: str) -> bool:
    """Whether a key name looks like it holds a credential (``api_key``, ``authToken``, ...).

    The name is lower-cased and stripped of everything but letters and digits,
    then matched against a short list (``password``, ``secret``, ``apikey``,
    ``...token``, ``cvv``, ...). ``max_tokens`` and ``author`` do not match.
    """
    norm = "".join(ch for ch in name.lower() if ch.isalnum())
    return (
        norm in _SECRET_NAMES
        or norm.endswith(_SECRET_NAME_ENDS)
        or any(part in norm for part in _SECRET_NAME_PARTS)
    )


def pseudonymize(value: str, key: bytes = b"") -> str:
    """A stable pseudonym of ``value``: ``b2:`` and 32 hex digits of keyed BLAKE2b.

    With a secret ``key`` the pseudonym cannot be reversed by hashing guesses;
    without one it still hides the raw value but guessable values (sequential
    ids, known emails) can be confirmed.

    Args:
        value: The raw value (an experiment unit such as a user id).
        key: Secret key; keys over 64 bytes are hashed down first.

    Returns:
        The pseudonym.
    """
    if len(key) > 64:
        key = hashlib.blake2b(key).digest()
    data = value.encode("utf-8", "surrogatepass")
    return "b2:" + hashlib.blake2b(data, key=key, digest_size=16).hexdigest()


# --- strings -----------------------------------------------------------------


def _card_groups(groups: list[str]) -> list[bool]:
    """Which digit groups belong to some run of 13-19 digits passing Luhn.

    Groups of one or two digits may only end such a run (``4111 1111 1111 1``),
    so lists of small numbers are not read as cards.

    Taking the union (rather than one leftmost choice) means digits next to a
    card can never "use up" part of it and leave the rest visible.
    """
    n = len(groups)
    masked = [False] * n
    for i in range(n):
        digits = ""
        for j in range(i, n):
            digits += groups[j]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_ok(digits):
                masked[i : j + 1] = [True] * (j + 1 - i)
            if len(groups[j]) < 3:  # a group of 1-2 digits can only end a card
                break
    return masked


def _card_repl(m: re.Match[str]) -> str:
    """Mask every group that belongs to a card number (see :func:`_card_groups`)."""
    parts = _CARD_PARTS.split(m.group())
    groups, seps = parts[0::2], parts[1::2]
    masked = _card_groups(groups)
    if not any(masked):
        return m.group()
    n = len(groups)
    out: list[str] = []
    for k in range(n):
        if not masked[k]:
            out.append(groups[k])
        elif k == 0 or not masked[k - 1]:
            out.append(MASK_CARD)
        if k < n - 1 and not (masked[k] and masked[k + 1]):
            out.append(seps[k])
    return "".join(out)


def _intl_repl(m: re.Match[str]) -> str:
    text = m.group()
    if "((" in text or "))" in text or "  " in text or "--" in text or ".." in text:
        return text
    if _digits(text) > 15:  # an international number followed by more digits: trim groups
        parts = _PHONE_PARTS.split(text)
        keep = len(parts)
        while keep > 1 and _digits("".join(parts[:keep])) > 15:
            keep -= 2
        head = "".join(parts[:keep])
        return MASK_PHONE + text[len(head) :] if _digits(head) >= 8 else text
    return MASK_PHONE if _digits(text) >= 8 else text


def _national_repl(m: re.Match[str]) -> str:
    text = m.group()
    if text.startswith("0"):
        return MASK_PHONE if 10 <= _digits(text) <= 12 else text
    return MASK_PHONE  # North American shape: 10 or 11 digits by construction


def _mask_emails(text: str) -> str:
    out: list[str] = []
    done = 0  # text before this index is settled
    at = text.find("@")
    while at != -1:
        domain = _EMAIL_DOMAIN.match(text, at + 1)
        if domain:
            local = _EMAIL_LOCAL_REVERSED.match(text[max(done, at - 64) : at][::-1])
            if local:
                out.append(text[done : at - local.end()])
                out.append(MASK_EMAIL)
                done = domain.end()
                at = text.find("@", done)
                continue
        at = text.find("@", at + 1)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _digits(text: str) -> int:
    return len(_NOT_DIGIT.sub("", text))


def _contains_any(text: str, hints: tuple[str, ...]) -> bool:
    for hint in hints:  # noqa: SIM110 - a plain loop beats any() on this hot path
        if hint in text:
            return True
    return False


def _scrub(text: str) -> str:
    if "-----BEGIN" in text:
        text = _PEM.sub(MASK_SECRET, text)
    if _contains_any(text, _TOKEN_HINTS):
        text = _TOKEN.sub(MASK_SECRET, text)
    lower = text.lower()
    if "bearer" in lower:
        text = _BEARER.sub(_KEEP_PREFIX, text)
    if _contains_any(lower, _ASSIGN_HINTS):
        text = _ASSIGN.sub(_KEEP_PREFIX, text)
    if "@" in text:
        text = _mask_emails(text)
    if _HAS_DIGIT.search(text):
        text = _CARD.sub(_card_repl, text)
        if "+" in text:
            text = _PHONE_INTL.sub(_intl_repl, text)
        text = _PHONE_NATIONAL.sub(_national_repl, text)
    return text


def redact_text(text: str, max_chars: int = DEFAULT_LIMITS.max_string) -> str:
    """``text`` with secrets, emails, phone numbers and card numbers masked, and cut.

    At most ``max_chars`` (plus a small margin, so that a secret straddling the
    cut is still recognised) characters are scanned, whatever the length of
    ``text``; a longer text is cut and ends with a ``[truncated ...]`` marker.

    Args:
        text: Any text.
        max_chars: Characters kept.

    Returns:
        The masked (and possibly cut) text.
    """
    if len(text) <= max_chars:
        return _scrub(text)
    out = _scrub(text[: max_chars + _MARGIN])[:max_chars]
    return f"{out}…[truncated, {len(text)} chars in all]"


# --- structures --------------------------------------------------------------


class _Budget:
    __slots__ = ("chars", "limits")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.chars = limits.max_total

    def text(self, value: str) -> str:
        if self.chars <= 0:
            return _OUT_OF_BUDGET
        out = redact_text(value, min(self.limits.max_string, self.chars))
        self.chars -= len(out)
        return out


def _key(name: object, budget: _Budget) -> str:
    if isinstance(name, str):
        return _scrub_key(name) if len(name) <= 256 else budget.text(name)
    if isinstance(name, int) and name.bit_length() > 64:
        return "[int]"
    if name is None or isinstance(name, bool | int | float):
        return _scrub_key(str(name))
    return f"[{type(name).__name__}]"


@functools.lru_cache(maxsize=1024)
def _scrub_key(name: str) -> str:
    return _scrub(name)


def _int(value: int) -> Any:
    if 10**12 <= abs(value) < 10**19 and luhn_ok(str(abs(value))):
        return MASK_CARD
    if value.bit_length() > 256:
        return "[int]"
    return value


def _walk(value: Any, depth: int, budget: _Budget) -> Any:  # noqa: PLR0911 - one return per value type, flatter than nesting
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return budget.text(value)
    if isinstance(value, int):
        return _int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"[bytes: {len(value)}]"
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if depth > budget.limits.max_depth:
            return _TOO_DEEP
        if budget.chars <= 0:
            return _OUT_OF_BUDGET
        if isinstance(value, Mapping):
            return _walk_mapping(value, depth, budget, frozenset())
        out: list[Any] = []
        for i, item in enumerate(value):
            if i >= budget.limits.max_items:
                out.append(f"[truncated: {len(value) - i} more items]")
                break
            out.append(_walk(item, depth + 1, budget))
        return out
    return f"[{type(value).__name__}]"


def _walk_mapping(
    value: Mapping[Any, Any], depth: int, budget: _Budget, sensitive: frozenset[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (name, item) in enumerate(value.items()):
        if i >= budget.limits.max_items:
            out[_MORE_KEY] = f"{len(value) - i} more keys"
            break
        key = _key(name, budget)
        if key in out:  # two keys masked to the same text: keep both
            key = f"{key}#{i}"
        if name in sensitive or is_secret_name(key):
            out[key] = SENSITIVE
        else:
            out[key] = _walk(item, depth + 1, budget)
    return out


def redact_value(value: Any, limits: Limits = DEFAULT_LIMITS) -> Any:
    """A JSON-ready copy of ``value`` with secrets and personal data masked.

    Strings are masked as by :func:`redact_text`; dicts, lists, tuples and sets
    are copied (as dicts and lists) up to the depth and item limits; values of
    keys that look like credentials (:func:`is_secret_name`) become
    :data:`SENSITIVE`; integers that are card numbers are masked; bytes and
    other objects become a ``[type]`` marker (their text is never logged).

    Args:
        value: Plain values (the kind that come out of JSON or YAML, and tuples, sets).
        limits: Bounds on work and output.

    Returns:
        The masked copy.
    """
    return _walk(value, 0, _Budget(limits))


def redact_inputs(
    inputs: Mapping[str, Any], sensitive: frozenset[str], limits: Limits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Render inputs made safe to log.

    Inputs named in ``sensitive`` (the prompt's ``x-sensitive`` inputs) and keys
    that look like credentials, at any depth, are replaced by
    :data:`SENSITIVE`; everything else is masked as by :func:`redact_value`.

    Args:
        inputs: Input name to value, as passed to ``render``.
        sensitive: Names of inputs that are never logged.
        limits: Bounds on work and output.

    Returns:
        A new dict, JSON-ready.
    """
    return _walk_mapping(inputs, 0, _Budget(limits), sensitive)
