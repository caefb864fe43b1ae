"""Local stand-ins for hosted prompt services, speaking their documented wire formats.

:class:`PromptService` serves, on 127.0.0.1 only:

* Langfuse's public prompts API: ``GET /api/public/v2/prompts?page=&limit=``
  (``{data: [{name, type, versions, labels, tags, lastUpdatedAt, lastConfig}],
  meta: {page, limit, totalItems, totalPages}}``) and ``GET
  /api/public/v2/prompts/{name}?version=N&resolve=false`` (one prompt version),
  behind HTTP Basic auth with the project's public and secret key;
* OpenAI-style prompt objects: ``GET /v1/prompts?limit=&after=`` and ``GET
  /v1/prompts/{id}/versions?limit=&after=`` (``{object: list, data, first_id,
  last_id, has_more}``), behind a Bearer key.

Faults are switches on the instance: a 429 with ``Retry-After`` before the
first N answers, a malformed page, a listing that never ends.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

__all__ = ["PromptService", "serve"]


@dataclass
class PromptService:
    """The data and the faults of one stand-in service."""

    langfuse: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # name -> versions
    openai: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # prompt id -> versions
    public_key: str = "pk-lf-test"
    secret_key: str = "sk-lf-test"
    api_key: str = "sk-test"
    page_size: int = 2
    rate_limit_first: int = 0
    retry_after: str = "3"
    malformed: bool = False
    endless: bool = False
    requests: list[str] = field(default_factory=list)

    def answer(
        self, path: str, query: dict[str, str], auth: str
    ) -> tuple[int, dict[str, str], Any]:
        self.requests.append(path)
        if self.rate_limit_first > 0:
            self.rate_limit_first -= 1
            return 429, {"Retry-After": self.retry_after}, {"error": "rate limited"}
        if path.startswith("/api/public/"):
            expected = (
                "Basic "
                + base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
            )
            if auth != expected:
                return 401, {}, {"message": "Invalid credentials"}
            return self._langfuse(path, query)
        if auth != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"message": "Incorrect API key provided"}}
        return self._openai(path, query)

    def _langfuse(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if path == "/api/public/v2/prompts":
            page = int(query.get("page", "1"))
            if self.malformed:
                return 200, {}, {"data": "not a list", "meta": {}}
            names = sorted(self.langfuse)
            total = 10**9 if self.endless else max(1, -(-len(names) // self.page_size))
            chunk = (
                names[(page - 1) * self.page_size : page * self.page_size]
                if not self.endless
                else names[:1]
            )
            data = [
                {
                    "name": n,
                    "type": self.langfuse[n][-1]["type"],
                    "versions": [v["version"] for v in self.langfuse[n]],
                    "labels": sorted({label for v in self.langfuse[n] for label in v["labels"]}),
                    "tags": [],
                    "lastUpdatedAt": "2026-01-01T00:00:00.000Z",
                    "lastConfig": {},
                }
                for n in chunk
            ]
            return (
                200,
                {},
                {
                    "data": data,
                    "meta": {
                        "page": page,
                        "limit": self.page_size,
                        "totalItems": len(names),
                        "totalPages": total,
                    },
                },
            )
        name = unquote(path.removeprefix("/api/public/v2/prompts/"))
        version = int(query.get("version", "0"))
        for v in self.langfuse.get(name, []):
            if v["version"] == version:
                return 200, {}, v
        return 404, {}, {"message": "Prompt not found"}

    def _openai(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if path == "/v1/prompts":
            items = [
                {"id": pid, "object": "prompt", "name": versions[-1].get("name")}
                for pid, versions in sorted(self.openai.items())
            ]
        else:
            pid = unquote(path.removeprefix("/v1/prompts/").removesuffix("/versions"))
            items = self.openai.get(pid, [])
        if self.malformed:
            return 200, {}, {"object": "list", "data": [{"no": "id"}], "has_more": False}
        after = query.get("after")
        start = next(
            (
                i + 1
                for i, item in enumerate(items)
                if item["id"] + str(item.get("version", "")) == after or item["id"] == after
            ),
            0,
        )
        chunk = items[start : start + self.page_size]
        has_more = start + self.page_size < len(items)
        last = (
            chunk[-1]["id"] + (str(chunk[-1].get("version", "")) if path != "/v1/prompts" else "")
            if chunk
            else None
        )
        if self.endless:
            has_more, last = True, "same-cursor"
        return (
            200,
            {},
            {
                "object": "list",
                "data": chunk,
                "first_id": chunk[0]["id"] if chunk else None,
                "last_id": last,
                "has_more": has_more,
            },
        )


class _Handler(BaseHTTPRequestHandler):
    service: PromptService

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        status, headers, body = self.service.answer(
            url.path, query, self.headers.get("Authorization", "")
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(service: PromptService) -> Iterator[str]:
    """Serve ``service`` on 127.0.0.1 (a free port) while the block runs; yields its base URL."""
    handler = type("Handler", (_Handler,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # A short poll: shutdown() waits for the loop to notice it (0.5 s by default, every test).
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
