"""Anthropic's Messages API (``POST /v1/messages``)."""

from __future__ import annotations

from typing import Any

from promptship.core.errors import UsageError
from promptship.core.targets.anthropic import API_VERSION
from promptship.evals.providers._transport import JsonHttpProvider, Reply, count, tool_call
from promptship.evals.providers._values import ApiRequest, ChatResponse, Request, ToolCall

__all__ = ["DEFAULT_ANTHROPIC_BASE_URL", "AnthropicProvider"]

DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"


class AnthropicProvider(JsonHttpProvider):
    """POSTs ``Rendered.to_anthropic()`` bodies to ``{base_url}/v1/messages``.

    Sends the key as ``x-api-key`` and ``anthropic-version`` as the bodies are
    written for. The answer's text blocks are joined into ``text`` and its
    ``tool_use`` blocks become ``tool_calls``; ``usage.input_tokens`` (plus cache
    reads and writes) and ``output_tokens`` set the cost. HTTP 529
    (``overloaded_error``) is retried like any 5xx, honouring ``retry-after``.

    Args:
        base_url: The API root (default ``https://api.anthropic.com``).
        api_key: The key.
        **options: See :class:`~promptship.evals.providers.JsonHttpProvider`.
    """

    kind = "anthropic"
    api = "anthropic"
    what = "Anthropic's Messages API"

    def __init__(
        self, base_url: str = DEFAULT_ANTHROPIC_BASE_URL, api_key: str | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self._endpoint = self.endpoint("/v1/messages")

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if key is not None:
            headers["x-api-key"] = key
        return headers

    def _status_hints(self) -> dict[int, str]:
        return {
            413: "the request is over Anthropic's 32 MB limit: pass media by URL",
            529: "Anthropic is overloaded; retry later",
        }

    def complete(self, req: Request) -> ChatResponse:
        """Send one Messages request and parse the answer.

        Raises:
            ProviderError: Refused, failing after every retry, or not a message.
            UsageError: A request for another API.
        """
        if not isinstance(req, ApiRequest) or req.api != "anthropic":
            raise UsageError("the anthropic provider takes Rendered.to_anthropic() bodies")
        body = dict(req.body)
        body.pop("stream", None)
        body["model"] = req.model
        return self._parse(self.post(self._endpoint, body))

    def _parse(self, reply: Reply) -> ChatResponse:
        data = self.read_json(reply)
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise self.malformed("content blocks")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_use":
                call = tool_call(block.get("name"), block.get("input"), block.get("id"))
                if call is not None:
                    calls.append(call)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        inputs = [
            count(usage.get(k))
            for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        ]
        prompt = None if inputs[0] is None else sum(n or 0 for n in inputs)
        completion = count(usage.get("output_tokens"))
        return ChatResponse(
            text="".join(texts),
            latency_ms=reply.elapsed_ms,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=self.cost(prompt, completion),
            cached=False,
            raw=data,
            tool_calls=tuple(calls),
        )
