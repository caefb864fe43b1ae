"""The client serves prompts with tools and media from a verified bundle, and converts
one render to every API's body without rendering again."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import promptship
from promptship import PromptClient
from promptship.core.errors import InputError, TargetError
from promptship.registry.files import DirectorySnapshot
from promptship.release import allowed_signers, bundle, sshsig
from promptship.release import build as release
from signkeys import make_keypair
from wirespecs import errors

ROOT = Path(promptship.__file__).resolve().parents[2]
ENV = "production"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> PromptClient:
    tmp = tmp_path_factory.mktemp("bundle")
    pair = make_keypair(ENV)
    files = release.checked_files(DirectorySnapshot(ROOT))
    contents = release.bundle_files(files, ENV, 1, "0" * 40)
    now = datetime.now(UTC).replace(microsecond=0)
    built = bundle.build_bundle(
        contents, environment=ENV, release=1, source_commit="0" * 40, created=now,
        expires=now + timedelta(days=30),
    )  # fmt: skip
    tar = tmp / f"{ENV}.tar"
    tar.write_bytes(built.tar)
    tar.with_name(tar.name + ".sig").write_text(
        sshsig.sign(pair.key, built.manifest, "promptship-bundle@v1")
    )
    signers = allowed_signers.parse_allowed_signers(
        f"{sshsig.principal_for(ENV)} {pair.public}\n", source="allowed_signers"
    )
    return PromptClient.from_bundle(tar, env=ENV, allowed_signers=signers)


def test_a_tool_prompt_from_the_bundle_converts_to_every_api(client: PromptClient) -> None:
    result = client.get("support/order_status").render(
        customer_name="Ada", question="Where is my order?", order_ids=["ORD-104233"]
    )
    assert result.api == "anthropic"
    assert [t["name"] for t in result.tools] == ["get_order", "get_shipment"]
    assert result.ref is not None
    assert result.ref.prompt_id == "support/order_status"
    body = result.to_api()
    assert body == result.to_anthropic()
    assert not errors("anthropic", body)
    for api in ("openai-chat", "openai-responses", "gemini"):
        assert not errors(api, result.to_api(api)), api
    # production's defaults set store: false for the OpenAI APIs only
    assert result.to_openai_chat()["store"] is False
    assert "store" not in body


def test_an_image_prompt_checks_its_media_and_converts(client: PromptClient) -> None:
    prompt = client.get("support/receipt_check")
    result = prompt.render(claimed_total="7.75 EUR", receipt_image=f"data:image/png;base64,{PNG}")
    assert result.api == "gemini"
    part = result.to_gemini()["contents"][0]["parts"][1]
    assert part == {"inlineData": {"mimeType": "image/png", "data": PNG}}
    assert not errors("gemini", result.to_gemini())
    with pytest.raises(InputError, match="a https: URL is refused"):
        prompt.render(claimed_total="1", receipt_image="https://169.254.169.254/latest")
    with pytest.raises(TargetError, match="anthropic: has no parameter temperature"):
        result.to_anthropic()
