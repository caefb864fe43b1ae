"""Google's Gemini API (``POST /v1beta/models/{model}:generateContent``)."""

from __future__ import annotations

import re
from typing import Any

from promptship.core.errors import UsageError
from promptship.evals.providers._transport import JsonHttpProvider, Reply, count, tool_call
from promptship.evals.providers._values import ApiRequest, ChatResponse, Request, ToolCall

__all__ = ["DEFAULT_GEMINI_BASE_URL", "GeminiProvider"]

DEFAULT_GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
_MODEL = re.compile(r"(?:models/)?([A-Za-z0-9][A-Za-z0-9._-]{0,127})")


class GeminiProvider(JsonHttpProvider):
    """POSTs ``Rendered.to_gemini()`` bodies to ``{base_url}/v1beta/models/{model}:generateContent``.

    Sends the key as ``x-goog-api-key``. The first candidate's text parts are
    joined into ``text`` and its ``functionCall`` parts become ``tool_calls``;
    ``usageMetadata`` sets the token counts and the cost.

    Args:
        base_url: The API root (default ``https://generativelanguage.googleapis.com``).
        api_key: The key.
        **options: See :class:`~promptship.evals.providers.JsonHttpProvider`.
    """

    kind = "gemini"
    api = "gemini"
    what = "Google's Gemini API"

    def __init__(
        self, base_url: str = DEFAULT_GEMINI_BASE_URL, api_key: str | None = None, **options: Any
    ) -> None:
        super().__init__(base_url, api_key, **options)

    def _auth_headers(self, key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": key} if key is not None else {}

    def complete(self, req: Request) -> ChatResponse:
        """Send one ``generateContent`` request and parse the answer.

        Raises:
            ProviderError: Refused, failing after every retry, or not a response.
            UsageError: A request for another API, or a model name unfit for a URL path.
        """
        if not isinstance(req, ApiRequest) or req.api != "gemini":
            raise UsageError("the gemini provider takes Rendered.to_gemini() bodies")
        match = _MODEL.fullmatch(req.model)
        if match is None:
            raise UsageError(
                f"gemini model {req.model[:80]!r} is not a model name",
                hint="letters, digits, '.', '_' and '-', e.g. gemini-2.5-flash",
            )
        url = self.endpoint(f"/v1beta/models/{match.group(1)}:generateContent")
        return self._parse(self.post(url, dict(req.body)))

    def _parse(self, reply: Reply) -> ChatResponse:
        data = self.read_json(reply)
        candidates = data.get("candidates") if isinstance(data, dict) else None
        first = candidates[0] if isinstance(candidates, list) and candidates else None
        content = first.get("content") if isinstance(first, dict) else None
        parts = content.get("parts") if isinstance(content, dict) else None
        if not isinstance(parts, list):
            raise self.malformed("candidates[0].content.parts")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for part in parts:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str) and not part.get("thought"):
                texts.append(part["text"])
            call = part.get("functionCall")
            if isinstance(call, dict):
                found = tool_call(call.get("name"), call.get("args", {}), call.get("id"))
                if found is not None:
                    calls.append(found)
        usage = data.get("usageMetadata") if isinstance(data.get("usageMetadata"), dict) else {}
        prompt = count(usage.get("promptTokenCount"))
        completion = count(usage.get("candidatesTokenCount"))
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
