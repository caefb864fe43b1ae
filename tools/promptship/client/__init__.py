"""The application client: follow a channel, verify bundles, render prompts, log what was served.

    from promptship import PromptClient

    client = PromptClient.from_channel(
        "https://prompts.example.com/store", env="production",
        allowed_signers="allowed_signers", cache_dir="/var/cache/promptship",
    )
    result = client.get("support/triage").render(subject=..., channel="email", customer_message=...)
    openai.chat.completions.create(**result.to_openai())
    log.info("served", extra=result.ref.to_dict())

See ``docs/client.md``.

May import: every package but :mod:`promptship.cli`; applications import this
one (through ``from promptship import PromptClient``).
"""

from __future__ import annotations

from promptship.client._client import DEFAULT_MAX_BUNDLE_BYTES, PromptClient
from promptship.client._prompt import Prompt
from promptship.client._status import ClientStatus
from promptship.core.render import PromptRef, Rendered, Served

__all__ = [
    "DEFAULT_MAX_BUNDLE_BYTES",
    "ClientStatus",
    "Prompt",
    "PromptClient",
    "PromptRef",
    "Rendered",
    "Served",
]
