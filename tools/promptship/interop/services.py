"""Reading prompts from hosted services over HTTP: Langfuse, OpenAI, MLflow.

Every request is bounded: a per-request timeout, a size cap on each answer
(read in chunks), a cap on the number of pages and items, and retries on 429
that honour ``Retry-After`` up to a limit. Authentication failures, malformed
pages and page sequences that never end are :class:`SourceError` values that
say what to do. Credentials and the sleep function are arguments.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from promptship.interop.model import SourcePrompt
from promptship.interop.plan import MAX_VERSIONS
from promptship.interop.sources import langfuse as langfuse_source
from promptship.interop.sources import mlflow as mlflow_source
from promptship.interop.sources import openai as openai_source
from promptship.interop.sources._common import MAX_SOURCE_BYTES, SourceError, load_json

__all__ = ["MAX_PAGES", "Client", "read_langfuse", "read_mlflow", "read_openai"]

MAX_PAGES = 1000
"""Most pages one listing may take; a service that never ends its pages stops here."""

MAX_RETRIES = 5
MAX_RETRY_AFTER = 60.0


@dataclass
class Client:
    """A bounded JSON client for one service.

    Args:
        base: The service's base URL (``http`` or ``https``).
        headers: Sent with every request (authentication).
        what: The service's name and the credential to check, for messages.
        timeout: Seconds per network operation.
        sleep: How to wait before a retry (tests pass a recorder).
        transport: An httpx transport (tests may pass one).
    """

    base: str
    headers: Mapping[str, str]
    what: tuple[str, str]
    timeout: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    requests: int = field(default=0, init=False)
    _http: httpx.Client | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.base.startswith(("http://", "https://")):
            raise SourceError(f"{self.base}: the service URL must start with http:// or https://")
        self.base = self.base.rstrip("/")

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections kept open between requests."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def _connection(self) -> httpx.Client:
        """One HTTP client for every request: connections (and TLS) are set up once."""
        if self._http is None:
            self._http = httpx.Client(
                timeout=self.timeout, transport=self.transport, follow_redirects=False
            )
        return self._http

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer of one GET, after retries on 429.

        Raises:
            SourceError: Unreachable, refused credentials, an error status, too large, or not JSON.
        """
        url = self.base + path
        for attempt in range(MAX_RETRIES + 1):
            status, body, retry_after = self._once(url, params)
            if status == 429 and attempt < MAX_RETRIES:
                self.sleep(min(retry_after, MAX_RETRY_AFTER))
                continue
            return self._answer(url, status, body)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, url: str, params: Mapping[str, Any] | None) -> tuple[int, bytes, float]:
        self.requests += 1
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            with self._connection().stream(
                "GET", url, params=query, headers=dict(self.headers)
            ) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_SOURCE_BYTES:
                        raise SourceError(f"{url}: the answer is over {MAX_SOURCE_BYTES} bytes")
                    chunks.append(chunk)
                return (
                    response.status_code,
                    b"".join(chunks),
                    _retry_after(response.headers.get("retry-after")),
                )
        except httpx.HTTPError as e:
            raise SourceError(
                f"{url}: {type(e).__name__}: {e}",
                hint=f"check the {self.what[0]} URL and that it is reachable",
            ) from None

    def _answer(self, url: str, status: int, body: bytes) -> Any:
        if status in (401, 403):
            raise SourceError(
                f"{url}: {self.what[0]} refused the credentials (HTTP {status})",
                hint=f"check {self.what[1]}",
            )
        if status == 429:
            raise SourceError(
                f"{url}: still rate limited after {MAX_RETRIES} retries", hint="try again later"
            )
        if status >= 400:
            raise SourceError(f"{url}: HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
        return load_json(body, url)


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def _dict(value: Any, where: str, *keys: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or any(k not in value for k in keys):
        raise SourceError(f"{where}: malformed page (expected an object with {', '.join(keys)})")
    return value


def basic_auth(user: str, password: str) -> dict[str, str]:
    """An ``Authorization: Basic`` header."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- Langfuse ---------------------------------------------------------------


def _langfuse_names(client: Client) -> Iterator[Mapping[str, Any]]:
    page = 1
    while True:
        if page > MAX_PAGES:
            raise SourceError(f"{client.base}: the prompt list did not end after {MAX_PAGES} pages")
        answer = _dict(
            client.get("/api/public/v2/prompts", {"page": page, "limit": 100}),
            f"prompts page {page}",
            "data",
            "meta",
        )
        data, meta = answer["data"], answer["meta"]
        if (
            not isinstance(data, list)
            or not isinstance(meta, Mapping)
            or not isinstance(meta.get("totalPages"), int)
        ):
            raise SourceError(
                f"{client.base}: prompts page {page}: malformed page (data or meta.totalPages)"
            )
        for item in data:
            yield _dict(item, f"prompts page {page}", "name", "versions")
        if page >= meta["totalPages"] or not data:
            return
        page += 1


def read_langfuse(client: Client) -> list[SourcePrompt]:
    """Every version of every prompt of a Langfuse project, references unresolved.

    Raises:
        SourceError: On any failure (nothing is returned half).
    """
    out: list[SourcePrompt] = []
    for meta in _langfuse_names(client):
        versions = meta["versions"]
        if not isinstance(versions, list) or not all(isinstance(v, int) for v in versions):
            raise SourceError(f"{client.base}: prompt {meta['name']!r}: malformed version list")
        if len(versions) > MAX_VERSIONS:
            raise SourceError(
                f"{client.base}: prompt {meta['name']!r} has {len(versions)} versions, over the limit of {MAX_VERSIONS}"
            )
        for number in sorted(versions):
            path = f"/api/public/v2/prompts/{quote(str(meta['name']), safe='')}"
            obj = client.get(path, {"version": number, "resolve": "false"})
            out.append(langfuse_source.parse(obj, f"{client.base}{path}?version={number}"))
    return out


# --- OpenAI -----------------------------------------------------------------


def _openai_list(client: Client, path: str) -> Iterator[Mapping[str, Any]]:
    after: str | None = None
    seen: set[str] = set()
    for page in range(MAX_PAGES):
        answer = _dict(
            client.get(path, {"limit": 100, "after": after}), f"{path} page {page + 1}", "data"
        )
        data = answer["data"]
        if not isinstance(data, list):
            raise SourceError(f"{client.base}{path}: malformed page (data is not a list)")
        for item in data:
            yield _dict(item, f"{path} page {page + 1}", "id")
        if not answer.get("has_more") or not data:
            return
        after = answer.get("last_id") or data[-1].get("id")
        if not isinstance(after, str) or after in seen:
            raise SourceError(
                f"{client.base}{path}: the page cursor repeats; the listing never ends"
            )
        seen.add(after)
    raise SourceError(f"{client.base}{path}: the listing did not end after {MAX_PAGES} pages")


def read_openai(client: Client) -> list[SourcePrompt]:
    """Every version of every reusable prompt of an OpenAI project.

    Raises:
        SourceError: On any failure.
    """
    out: list[SourcePrompt] = []
    for prompt in _openai_list(client, "/v1/prompts"):
        path = f"/v1/prompts/{quote(str(prompt['id']), safe='')}/versions"
        for count, version in enumerate(_openai_list(client, path), 1):
            if count > MAX_VERSIONS:
                raise SourceError(f"{client.base}{path}: over {MAX_VERSIONS} versions")
            merged = {**version, "name": version.get("name") or prompt.get("name") or prompt["id"]}
            out.append(openai_source.parse(merged, f"{client.base}{path}"))
    return out


# --- MLflow -----------------------------------------------------------------

_IS_PROMPT = "tags.`mlflow.prompt.is_prompt` = 'true'"


def _mlflow_pages(
    client: Client, path: str, key: str, params: Mapping[str, Any]
) -> Iterator[Mapping[str, Any]]:
    token: str | None = None
    seen: set[str] = set()
    for _page in range(MAX_PAGES):
        answer = client.get(path, {**params, "max_results": 100, "page_token": token})
        if not isinstance(answer, Mapping) or not isinstance(answer.get(key, []), list):
            raise SourceError(f"{client.base}{path}: malformed page (no list '{key}')")
        for item in answer.get(key, []):
            yield _dict(item, path, "name")
        token = answer.get("next_page_token")
        if not token:
            return
        if not isinstance(token, str) or token in seen:
            raise SourceError(
                f"{client.base}{path}: the page token repeats; the listing never ends"
            )
        seen.add(token)
    raise SourceError(f"{client.base}{path}: the listing did not end after {MAX_PAGES} pages")


def read_mlflow(client: Client) -> list[SourcePrompt]:
    """Every version of every prompt of an MLflow prompt registry (its REST API), aliases included.

    Raises:
        SourceError: On any failure.
    """
    out: list[SourcePrompt] = []
    models = "/api/2.0/mlflow/registered-models/search"
    versions = "/api/2.0/mlflow/model-versions/search"
    for model in _mlflow_pages(client, models, "registered_models", {"filter": _IS_PROMPT}):
        aliases = {
            str(a.get("alias")): str(a.get("version"))
            for a in model.get("aliases") or []
            if isinstance(a, Mapping)
        }
        name = str(model["name"]).replace("'", "\\'")
        pages = _mlflow_pages(
            client, versions, "model_versions", {"filter": f"name='{name}' AND {_IS_PROMPT}"}
        )
        for count, version in enumerate(pages, 1):
            if count > MAX_VERSIONS:
                raise SourceError(
                    f"{client.base}: prompt {model['name']!r} has over {MAX_VERSIONS} versions"
                )
            out.append(
                mlflow_source.parse(
                    version, aliases, f"{client.base}{versions}?name={model['name']}"
                )
            )
    return out
