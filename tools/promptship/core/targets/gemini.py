"""Google Gemini ``models.generateContent``: the request body of a rendered prompt.

The model is not a body field: it is part of the URL
(``/v1beta/models/{model}:generateContent``), so the body has no ``model``.
Cache breakpoints are a no-op: Gemini caches implicitly, and explicit caching
is a separate ``cachedContents`` resource. Gemini has one ``systemInstruction``:
every system (or developer) message goes there, in order, wherever it stood in
the conversation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from promptship.core.targets._common import (
    Features,
    Param,
    RenderedLike,
    exact_type,
    map_parameters,
    merge_extra,
)

__all__ = ["API", "MAPPED", "OWNED", "PASSTHROUGH", "body"]

API = "gemini"
OWNED = frozenset({"model", "contents", "systemInstruction", "tools", "toolConfig"})
_G = "generationConfig"
_SYSTEM = ("system", "developer")
MAPPED: dict[str, Param | None] = {
    "temperature": Param((_G, "temperature"), 0, 2),
    "top_p": Param((_G, "topP"), 0, 1),
    "top_k": Param((_G, "topK"), 1),
    "max_tokens": Param((_G, "maxOutputTokens"), 1),
    "stop": Param((_G, "stopSequences"), max_items=5),
    "seed": Param((_G, "seed")),
    "presence_penalty": Param((_G, "presencePenalty")),
    "frequency_penalty": Param((_G, "frequencyPenalty")),
    "response_format": None,
}
PASSTHROUGH: dict[str, tuple[str, ...]] = {
    **{
        name: (_G, name)
        for name in (
            "candidateCount",
            "enableEnhancedCivicAnswers",
            "imageConfig",
            "logprobs",
            "mediaResolution",
            "responseLogprobs",
            "responseModalities",
            "speechConfig",
            "thinkingConfig",
        )
    },
    "safetySettings": ("safetySettings",),
    "cachedContent": ("cachedContent",),
}


def _part(part: Mapping[str, Any]) -> dict[str, Any]:
    if part["type"] == "text":
        return {"text": part["text"]}
    if "url" in part:
        return {"fileData": {"mimeType": exact_type(API, part), "fileUri": part["url"]}}
    return {"inlineData": {"mimeType": part["media_type"], "data": part["data"]}}


def _parts(m: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = m["content"]
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(p) for p in content]


def _tools(features: Features, out: dict[str, Any]) -> None:
    if features.tools:
        out["tools"] = [
            {
                "functionDeclarations": [
                    {
                        "name": t["name"],
                        "description": t["description"],
                        "parametersJsonSchema": t["parameters"],
                    }
                    for t in features.tools
                ]
            }
        ]
    choice = features.tool_choice
    if isinstance(choice, Mapping):
        config = {"mode": "ANY", "allowedFunctionNames": [choice["tool"]]}
        out["toolConfig"] = {"functionCallingConfig": config}
    elif choice is not None:
        mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice]
        out["toolConfig"] = {"functionCallingConfig": {"mode": mode}}


def body(r: RenderedLike) -> dict[str, Any]:
    """The request body (without the model, which goes in the URL).

    Raises:
        TargetError: A parameter Gemini lacks, a value out of range, or a media
            URL without an exact media type.
    """
    out: dict[str, Any] = {}
    map_parameters(API, r.parameters, out, mapped=MAPPED, passthrough=PASSTHROUGH, owned=OWNED)
    messages: list[dict[str, Any]] = (
        r.messages if r.messages is not None else [{"role": "user", "content": r.text}]
    )
    system = [p for m in messages if m["role"] in _SYSTEM for p in _parts(m)]
    if system:
        out["systemInstruction"] = {"parts": system}
    out["contents"] = [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": _parts(m)}
        for m in messages
        if m["role"] not in _SYSTEM
    ]
    if r.output_schema is not None or r.output_format == "json":
        config = out.setdefault(_G, {})
        config["responseMimeType"] = "application/json"
        if r.output_schema is not None:
            config["responseJsonSchema"] = r.output_schema
    features = r.features
    if features is not None:
        _tools(features, out)
        extra = features.extra_body.get(API)
        if extra:
            merge_extra(API, out, extra, OWNED)
    return out
