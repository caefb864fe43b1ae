"""A deterministic offline provider that answers with what it was asked."""

from __future__ import annotations

import json

from promptship.evals.providers._values import ChatRequest, ChatResponse, content_text

__all__ = ["ECHO_KEY", "EchoProvider"]

ECHO_KEY = "echo"
"""The key of the last user message in the echo's JSON answers."""

_JSON_FORMATS = frozenset({"json_object", "json_schema"})


class EchoProvider:
    """Answers every request with its own rendered messages, for offline smoke runs.

    A plain request is answered with one ``role: content`` line per message
    (a text prompt with the prompt itself), so ``contains`` assertions can
    prove that instructions and inputs reach the model. A request whose
    ``response_format`` type is ``json_object`` or ``json_schema`` is answered
    with a JSON object ``{"echo": <last user message>, "messages": [...]}``
    (keys sorted), so the JSON assertions have something to parse. A message
    of content parts shows its text parts as they are and each image or file as
    one ``[image image/png]``, ``[image <url>]`` or ``[file <name>]`` line
    (never its data).
    Latency and cost are 0 and token counts are whitespace word counts: the
    same request always gets the same response.
    """

    @property
    def name(self) -> str:
        """``echo``."""
        return "echo"

    def __repr__(self) -> str:
        return "EchoProvider()"

    def complete(self, req: ChatRequest) -> ChatResponse:
        """Echo the request back."""
        messages = [
            {"role": m["role"], "content": content_text(m["content"])} for m in req.chat_messages()
        ]
        fmt = req.response_format or {}
        if fmt.get("type") in _JSON_FORMATS:
            users = [m["content"] for m in messages if m["role"] == "user"]
            text = json.dumps(
                {ECHO_KEY: users[-1] if users else "", "messages": messages},
                ensure_ascii=False,
                sort_keys=True,
            )
        elif req.prompt is not None:
            text = req.prompt
        else:
            text = "\n".join(f"{m['role']}: {m['content']}" for m in messages)
        prompt_words = sum(len(m["content"].split()) for m in messages)
        return ChatResponse(
            text=text,
            latency_ms=0.0,
            prompt_tokens=prompt_words,
            completion_tokens=len(text.split()),
            cost_usd=0.0,
            cached=False,
            raw={"provider": "echo", "model": req.model},
        )
