"""Media inputs are checked, never fetched: hostile URLs, huge data, the wrong media type."""

from __future__ import annotations

import base64
import re
import resource
import time
from typing import Any

import pytest

from promptship.core.errors import InputError
from promptship.core.media import MAX_MEDIA_CHARS, check_media, media_spec
from promptship.core.render import CompiledPrompt
from promptship.core.templates import TemplateEngine

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
PDF = base64.b64encode(b"%PDF-1.7\n" + bytes(16)).decode()
GIF = base64.b64encode(b"GIF89a" + bytes(16)).decode()


def spec(**declared: Any) -> Any:
    return media_spec("photo", {"type": "string", "contentMediaType": "image/*", **declared})


@pytest.mark.parametrize(
    ("declared", "value", "message"),
    [
        ({"format": "uri"}, "file:///etc/passwd", "a file: URL is refused (accepted: https)"),
        ({"format": "uri"}, "http://169.254.169.254/latest/meta-data/", "a http: URL is refused"),
        ({"format": "uri"}, "gopher://x", "a gopher: URL is refused"),
        ({"format": "uri"}, "data:image/png;base64," + PNG, "a data: URL is refused"),
        ({"format": "uri"}, "not a url", "not a URL is refused"),
        ({"format": "uri"}, "https://x.example/a b.png", "holding spaces or control characters"),
        ({"format": "uri"}, "https:x.example", "https URL without a host"),
        (
            {"format": "uri", "x-url-schemes": ["data"]},
            "data:application/pdf;base64," + PDF,
            "the data URL is application/pdf, not image/*",
        ),
        (
            {"format": "uri", "x-url-schemes": ["data"]},
            "data:image/svg+xml,<svg onload=alert(1)>",
            "must be data:<type>;base64,<data>",
        ),
        (
            {"format": "uri", "x-url-schemes": ["data"]},
            "data:image/png;base64," + PDF,
            "the data is application/pdf, not image/png",
        ),
        ({"contentEncoding": "base64"}, PDF, "the data is application/pdf, not image/*"),
        ({"contentEncoding": "base64"}, "file:///etc/passwd", "not base64 data"),
        ({"contentEncoding": "base64"}, "aGVsbG8=", "cannot tell which image/* the data is"),
        (
            {"contentEncoding": "base64", "contentMediaType": "image/png"},
            GIF,
            "the data is image/gif, not image/png",
        ),
        (
            {"contentEncoding": "base64", "contentMediaType": "image/png"},
            "aGVsbG8=",
            "the data is not image/png",
        ),
    ],
)
def test_hostile_and_mistyped_values_are_refused(
    declared: dict[str, Any], value: str, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        check_media(spec(**declared), value)


def test_a_scheme_the_input_declares_is_accepted_and_never_fetched() -> None:
    found = check_media(
        spec(format="uri", **{"x-url-schemes": ["http"]}), "http://169.254.169.254/x"
    )
    assert found == {
        "media_type": "image/*",
        "url": "http://169.254.169.254/x",
    }  # the API fetches, not us


def test_data_is_typed_by_its_first_bytes() -> None:
    assert check_media(spec(contentEncoding="base64"), PNG) == {
        "media_type": "image/png",
        "data": PNG,
    }
    assert check_media(
        spec(format="uri", **{"x-url-schemes": ["data"]}), f"data:image/png;base64,{PNG}"
    ) == {"media_type": "image/png", "data": PNG}


def _prompt() -> CompiledPrompt:
    view = {
        "model": {"provider": "openai", "name": "m"},
        "inputs": {
            "type": "object",
            "properties": {
                "photo": {
                    "type": "string",
                    "format": "uri",
                    "contentMediaType": "image/*",
                    "x-url-schemes": ["data"],
                }
            },
        },
        "messages": [{"id": "u", "role": "user", "content": [{"type": "image", "input": "photo"}]}],
    }
    return CompiledPrompt(view, TemplateEngine({}))


def test_a_100_mb_data_url_is_refused_before_it_is_read() -> None:
    huge = "data:image/png;base64," + "A" * (100 * 1024 * 1024)
    prompt = _prompt()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.process_time()
    with pytest.raises(InputError, match=f"media inputs take at most {MAX_MEDIA_CHARS:,}"):
        prompt.render({"photo": huge})
    # Refused on its length: no copy, decode or regex over 100 MB (bounded, not timed).
    assert time.process_time() - start < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024


def test_an_image_input_given_another_media_type_fails_the_render() -> None:
    with pytest.raises(InputError, match="not image/\\*"):
        _prompt().render({"photo": "data:application/pdf;base64," + PDF})
