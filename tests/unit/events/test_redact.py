"""Redaction of render inputs: what is masked, what is left alone, and bounded work."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptship.events.redact import (
    MASK_CARD,
    MASK_EMAIL,
    MASK_PHONE,
    MASK_SECRET,
    SENSITIVE,
    Limits,
    is_secret_name,
    luhn_ok,
    pseudonymize,
    redact_inputs,
    redact_text,
    redact_value,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (text, expected output): every shape the docs promise to mask.
POSITIVES = [
    ("key sk-abcdefghijklmnopqrstuvwxyz012345 end", f"key {MASK_SECRET} end"),
    ("sk-proj-Ab3_dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5z-ABC", MASK_SECRET),
    ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz", MASK_SECRET),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", f"stripe {MASK_SECRET}"),
    ("ghp_" + "A1b2C3d4" * 5, MASK_SECRET),
    ("gho_" + "z" * 36, MASK_SECRET),
    ("github_pat_11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789", MASK_SECRET),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl", f"slack {MASK_SECRET}"),
    ("xoxp-1234-5678-abcdefghij", MASK_SECRET),
    ("AWS AKIAIOSFODNN7EXAMPLE here", f"AWS {MASK_SECRET} here"),
    ("ASIAY34FZKBOKMUTVV7A", MASK_SECRET),
    ("AIzaSyA-1234567890abcdefghijklmnopqrstu", MASK_SECRET),
    ("Authorization: Bearer abc123.def456-ghi789", f"Authorization: Bearer {MASK_SECRET}"),
    ("authorization: bearer 0123456789abcdef", f"authorization: bearer {MASK_SECRET}"),
    (f"jwt {JWT} done", f"jwt {MASK_SECRET} done"),
    ("password=hunter2 next", f"password={MASK_SECRET} next"),
    ('{"api_key": "abc123xyz"}', f'{{"api_key": "{MASK_SECRET}"}}'),
    ("client_secret: s3cr3t;", f"client_secret: {MASK_SECRET};"),
    ("PASSWORD: 1234 ok", f"PASSWORD: {MASK_SECRET} ok"),
    ("db_password=hunter2", f"db_password={MASK_SECRET}"),
    ("X-Api-Key: abc123", f"X-Api-Key: {MASK_SECRET}"),
    ("refresh_token=abc.def", f"refresh_token={MASK_SECRET}"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG", f"aws_secret_access_key = {MASK_SECRET}"),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----!",
        f"{MASK_SECRET}!",
    ),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg (cut off)", MASK_SECRET),
    ("write to alice.smith+tag@mail.example.co.uk today", f"write to {MASK_EMAIL} today"),
    ("<bob@example.com>", f"<{MASK_EMAIL}>"),
    ("user_99@sub-domain.example.io.", f"{MASK_EMAIL}."),
    ("josé@exämple.de", MASK_EMAIL),
    ("call +44 20 7946 0958.", f"call {MASK_PHONE}."),
    ("+14155552671", MASK_PHONE),
    ("+1 (415) 555-2671", MASK_PHONE),
    ("+49 30 12345678", MASK_PHONE),
    ("+33 6 12 34 56 78", MASK_PHONE),
    ("(415) 555-2671", MASK_PHONE),
    ("415-555-2671 or 415.555.2671", f"{MASK_PHONE} or {MASK_PHONE}"),
    ("1-800-555-1234", MASK_PHONE),
    ("UK 020 7946 0958", f"UK {MASK_PHONE}"),
    ("mobile 07700 900123", f"mobile {MASK_PHONE}"),
    ("07700900123", MASK_PHONE),
    ("FR 06 12 34 56 78", f"FR {MASK_PHONE}"),
    ("DE 030 12345678", f"DE {MASK_PHONE}"),
    ("+44 20 7946 0958 123456", f"{MASK_PHONE} 123456"),
    ("card 4111 1111 1111 1111 exp 12/25", f"card {MASK_CARD} exp 12/25"),
    ("4111-1111-1111-1111", MASK_CARD),
    ("4111111111111111", MASK_CARD),
    ("amex 3782 822463 10005", f"amex {MASK_CARD}"),
    ("4111 1111 1111 1111 123", f"{MASK_CARD} 123"),
    ("visa13 4222222222222.", f"visa13 {MASK_CARD}."),
    ("19 digits 6221 2600 0000 0000 001", f"19 digits {MASK_CARD}"),
    ("maestro 6759649826438453", f"maestro {MASK_CARD}"),
    ("a 12345678901234567890 then 5555 5555 5555 4444", f"a 12345678901234567890 then {MASK_CARD}"),
    ("4111 1111 1111 1111 5555 5555 5555 4444", MASK_CARD),
]

# Must come through untouched: numbers that are not phones or cards, words that
# only resemble key prefixes, and so on.
NEGATIVES = [
    "The API is rapid; pass the token along",
    "The meeting is on 2024-01-15 at 12:30:45.",
    "Dates: 15/01/2024, 01.02.2024, 01-02-2024 12 items",
    "Order ORD-2024-000123 shipped; order #12345; ref 987654",
    "Timestamp 1700000000, epoch ms 1700000000123",
    "Bare 4155552671 without separators is an id here",
    "Pi is 3.14159265358979 and e is 2.718281828",
    "Amount 1,234,567.89 EUR, or 1 234 567,89",
    "IP 192.168.1.254, version 1.2.3, v10.20.300",
    "ISBN 978-3-16-148410-0",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Not a card: 4111111111111112 (Luhn fails)",
    "Twenty digits 12345678901234567890 are an id",
    "Use sk-learn and ghp_short tokens",
    "Bearer bonds and bearer instruments",
    "Reach me at alice at example dot com, or @alice",
    "user@localhost has no dot",
    "Score +5 points, then -3",
    "Room 101, floor 3, 42 chairs, 7 days",
    "Tracking 1Z999AA10123456784",
    "The author wrote 2000 words",
    "",
]


@pytest.mark.parametrize(("text", "want"), POSITIVES)
def test_masks_secrets_and_personal_data(text: str, want: str) -> None:
    assert redact_text(text) == want


@pytest.mark.parametrize("text", NEGATIVES)
def test_leaves_ordinary_text_alone(text: str) -> None:
    assert redact_text(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111")
    assert luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112")
    assert luhn_ok("0")


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("userPassword", True),
        ("api_key", True),
        ("apiKey", True),
        ("X-API-KEY", True),
        ("client_secret", True),
        ("access_token", True),
        ("authToken", True),
        ("Authorization", True),
        ("basic_auth", True),
        ("session_id", True),
        ("cvv", True),
        ("private-key", True),
        ("max_tokens", False),
        ("tokens", False),
        ("token_count", False),
        ("author", False),
        ("customer_name", False),
        ("ticket_text", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_redact_inputs_drops_sensitive_and_masks_the_rest() -> None:
    inputs = {
        "customer_name": "Ada Lovelace",
        "ssn": "078-05-1120",
        "ticket_text": "My card 4111 1111 1111 1111 was charged twice, mail ada@example.com",
        "history": [{"role": "user", "content": "call me on +44 20 7946 0958"}],
        "meta": {"api_key": "abc", "count": 3, "ratio": 0.5, "ok": True, "none": None},
    }
    out = redact_inputs(inputs, frozenset({"ssn"}))
    assert out == {
        "customer_name": "Ada Lovelace",
        "ssn": SENSITIVE,
        "ticket_text": f"My card {MASK_CARD} was charged twice, mail {MASK_EMAIL}",
        "history": [{"role": "user", "content": f"call me on {MASK_PHONE}"}],
        "meta": {"api_key": SENSITIVE, "count": 3, "ratio": 0.5, "ok": True, "none": None},
    }
    assert inputs["ssn"] == "078-05-1120"  # the caller's dict is not changed
    json.dumps(out, allow_nan=False)


def test_a_sensitive_input_is_dropped_whatever_its_type() -> None:
    out = redact_inputs({"blob": {"deep": ["x"]}, "n": 7}, frozenset({"blob", "n"}))
    assert out == {"blob": SENSITIVE, "n": SENSITIVE}


def test_non_json_values_become_markers_and_never_show_their_text() -> None:
    class Secretive:
        def __repr__(self) -> str:
            return "sk-abcdefghijklmnopqrstuvwxyz0123"

    out = redact_value(
        {
            "obj": Secretive(),
            "raw": b"password=hunter2",
            "tuple": (1, "a@example.com"),
            "set": frozenset({"x"}),
            "nan": float("nan"),
            "inf": float("-inf"),
            "card_int": 4111111111111111,
            "small_int": 1234567890123,
            "huge": 10**400,
            1: "int key",
            None: "none key",
            (1, 2): "tuple key",
            "a@example.com": "email key",
            "b@example.com": "another email key",
        }
    )
    assert out == {
        "obj": "[Secretive]",
        "raw": "[bytes: 16]",
        "tuple": [1, MASK_EMAIL],
        "set": ["x"],
        "nan": "nan",
        "inf": "-inf",
        "card_int": MASK_CARD,
        "small_int": 1234567890123,
        "huge": "[int]",
        "1": "int key",
        "None": "none key",
        "[tuple]": "tuple key",
        MASK_EMAIL: "email key",
        f"{MASK_EMAIL}#13": "another email key",
    }
    json.dumps(out, allow_nan=False)


def test_depth_items_and_total_size_are_bounded() -> None:
    deep: Any = "leaf"
    for _ in range(50):
        deep = [deep]
    limits = Limits(max_string=100, max_depth=3, max_items=5, max_total=250)
    out = redact_value(
        {"deep": deep, "wide": list(range(1000)), "map": {str(i): i for i in range(1000)}},
        limits,
    )
    assert out["deep"] == [[["[truncated: nested too deep]"]]]
    assert out["wide"] == [0, 1, 2, 3, 4, "[truncated: 995 more items]"]
    assert list(out["map"]) == ["0", "1", "2", "3", "4", "[truncated]"]
    many = redact_value(["x" * 100] * 5, limits)
    assert many[:2] == ["x" * 100] * 2
    assert many[2].startswith("x" * 50)
    assert "truncated" in many[2]
    assert many[3:] == ["[truncated: event too large]"] * 2


def test_self_referencing_structures_terminate() -> None:
    loop: list[Any] = []
    loop.append(loop)
    out = redact_value(loop)
    assert json.dumps(out).count("[") == 7 + 1  # six levels, then the marker


def test_long_strings_are_cut_with_a_marker() -> None:
    text = "y" * 10_000
    out = redact_text(text, 100)
    assert out == "y" * 100 + "…[truncated, 10000 chars in all]"


@pytest.mark.parametrize(
    "secret",
    [
        "4111 1111 1111 1111",
        "alice@example.com",
        "sk-abcdefghijklmnopqrstuvwxyz0123",
        "+44 20 7946 0958",
    ],
)
@pytest.mark.parametrize("offset", [-12, -5, -1, 0])
def test_a_secret_straddling_the_cut_is_masked(secret: str, offset: int) -> None:
    cap = 1000
    text = "z" * (cap + offset) + " " + secret + " tail " * 100
    out = redact_text(text, cap)
    assert secret not in out
    assert not re.search(r"1111|alice|abcdefgh|7946", out)


@pytest.mark.timeout(30)
def test_a_five_megabyte_string_is_cut_before_scanning() -> None:
    """Guard only: a full scan of 5 MB of digits and separators would take far longer."""
    text = ("4111 1111 1111 1111 a@b.co +44 20 7946 0958 " * 120_000)[:5_000_000]
    out = redact_value({"big": text, "list": [text] * 100})
    assert len(out["big"]) < 4096 + 64
    assert out["big"].endswith("…[truncated, 5000000 chars in all]")
    assert "1111" not in out["big"]
    assert all(len(s) < 4096 + 64 for s in out["list"])


PATHOLOGICAL = [
    "a" * 50_000 + "@",
    "a." * 25_000 + "@x",
    "@a." * 17_000,
    "a@" * 25_000,
    "a@" + "b." * 25_000,
    "1" * 50_000,
    "1 " * 25_000,
    "12-" * 17_000,
    "123 " * 12_500,
    "+1 " * 17_000,
    "+(1)" * 12_500,
    "01 " * 17_000,
    "0.1." * 12_500,
    "415-555-" * 6_000,
    "eyJ" * 17_000,
    "eyJaaaaaaaaaa." * 3_500,
    "sk-" * 17_000,
    "bearer " * 7_000,
    "Bearer " + "a" * 50_000,
    "-----BEGIN PRIVATE KEY-----" * 2_000,
    "password=" * 6_000,
    "api_key=" * 6_000,
    "gh" * 25_000,
    "k_live_" * 7_000,
    "xoxb-" * 10_000,
    "AKIA" * 12_500,
    "a1@-. +(0" * 6_000,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", PATHOLOGICAL, ids=lambda t: repr(t[:12]))
def test_no_pattern_backtracks_catastrophically(text: str) -> None:
    """Scan 50,000 hostile characters with the cut lifted.

    Every pattern is linear in its input, so each case takes milliseconds; one
    quadratic pattern would need billions of steps here and trip the timeout
    guard (a guard against hangs, not a speed assertion).
    """
    out = redact_text(text, max_chars=60_000)
    assert isinstance(out, str)


def _with_luhn(body: str) -> str:
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable")


@st.composite
def cards(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    number = _with_luhn(draw(st.sampled_from("23456")) + body[1:])
    style = draw(st.sampled_from(["plain", " ", "-"]))
    if style == "plain":
        return number
    return style.join(number[i : i + 4] for i in range(0, len(number), 4)).rstrip(" -")


filler = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.text(
    alphabet="0123456789 -+().@ab", max_size=40
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.emails() | cards(), min_size=1, max_size=4), filler, filler)
def test_no_generated_email_or_card_survives(secrets: list[str], before: str, after: str) -> None:
    text = before + " " + " , ".join(secrets) + " " + after
    inputs = {"text": text, "nested": {"list": [text, {"k": text}]}}
    out = json.dumps(redact_inputs(inputs, frozenset()))
    for secret in secrets:
        assert secret not in out
        digits = re.sub(r"[^0-9]", "", secret)
        if "@" not in secret:  # a card: its digits do not survive in one piece either
            assert digits not in re.sub(r"[^0-9]", "", redact_text(secret))


def test_pseudonymize_is_stable_keyed_and_hides_the_value() -> None:
    a = pseudonymize("user-42")
    assert a == pseudonymize("user-42")
    assert re.fullmatch(r"b2:[0-9a-f]{32}", a)
    assert "user-42" not in a
    assert pseudonymize("user-42", b"key-1") != a
    assert pseudonymize("user-42", b"key-1") != pseudonymize("user-42", b"key-2")
    assert pseudonymize("user-43") != a
    assert pseudonymize("x", b"k" * 200) == pseudonymize("x", b"k" * 200)
    assert pseudonymize("lone \udc80 surrogate").startswith("b2:")
