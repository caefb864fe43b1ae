"""OpenAI's Responses API (``POST {base_url}/responses``)."""

from __future__ import annotations

from typing import Any

from promptship.core.errors import UsageError
from promptship.evals.providers._http import DEFAULT_OPENAI_BASE_URL
from promptship.evals.providers._transport import JsonHttpProvider, Reply, count, tool_call
from promptship.evals.providers._values import ApiRequest, ChatResponse, Request, ToolCall

__all__ = ["OpenAIResponsesProvider"]


class OpenAIResponsesProvider(JsonHttpProvider):
    """POSTs ``Rendered.to_openai_responses()`` bodies to ``{base_url}/responses``.

    The key is a bearer token. ``output_text`` parts of the answer's ``message``
    items are joined into ``text`` and its ``function_call`` items become
    ``tool_calls``; ``usage`` sets the token counts and the cost. ``stream`` and
    ``background`` are not sent: evals read whole answers at once.

    Args:
        base_url: The API root (default ``https://api.openai.com/v1``).
        api_key: The key.
        **options: See :class:`~promptship.evals.providers.JsonHttpProvider`.
    """

    kind = "openai-responses"
    api = "openai-responses"
    what = "OpenAI's Responses API (usually ending in /v1)"

    def __init__(
        self, base_url: str = DEFAULT_OPENAI_BASE_URL, api_key: str | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, api_key, **options)
        self._endpoint = self.endpoint("/responses")

    def complete(self, req: Request) -> ChatResponse:
        """Send one Responses request and parse the answer.

        Raises:
            ProviderError: Refused, failing after every retry, or not a response.
            UsageError: A request for another API.
        """
        if not isinstance(req, ApiRequest) or req.api != "openai-responses":
            raise UsageError(
                "the openai-responses provider takes Rendered.to_openai_responses() bodies"
            )
        body = dict(req.body)
        for field in ("stream", "stream_options", "background"):
            body.pop(field, None)
        body["model"] = req.model
        return self._parse(self.post(self._endpoint, body))

    def _parse(self, reply: Reply) -> ChatResponse:
        data = self.read_json(reply)
        output = data.get("output") if isinstance(data, dict) else None
        if not isinstance(output, list):
            raise self.malformed("output items")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for item in output:
            if not isinstance(item, dict):
                continue
            if item.get("type") == "message" and isinstance(item.get("content"), list):
                texts.extend(
                    p["text"]
                    for p in item["content"]
                    if isinstance(p, dict)
                    and p.get("type") == "output_text"
                    and isinstance(p.get("text"), str)
                )
            elif item.get("type") == "function_call":
                call = tool_call(item.get("name"), item.get("arguments"), item.get("call_id"))
                if call is not None:
                    calls.append(call)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt = count(usage.get("input_tokens"))
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
