"""The local review page: ``promptship review serve`` (Starlette on uvicorn, loopback only).

One reviewer rates one queue in a browser. The page (plain HTML, CSS and
JavaScript shipped in ``review/static``; no build step, nothing fetched from
the network) asks ``/api/state`` for the current item and posts each
decision to ``/api/verdict``, ``/api/skip`` or ``/api/undo``; the server
appends it to the ratings file, fsyncs it, and only then answers (see
:class:`promptship.review.ratings.RatingsLog`), so killing the browser or
the server loses nothing that was acknowledged, and a restart resumes at the
first undecided item.

Defences, each tested:

* it binds a loopback address only, and answers only requests whose ``Host``
  is that address (or ``localhost``) and port, which defeats DNS rebinding;
* every ``/api`` request carries the per-session token the page was served
  with (``X-Review-Token``), and a write also needs a JSON body, an
  ``Origin`` (when sent) of the page's own origin and a ``Sec-Fetch-Site``
  (when sent) of ``same-origin``: a page on another origin can neither read
  the token nor post a verdict (the custom header forces a CORS preflight,
  which is never granted);
* request bodies are capped (``Content-Length`` checked first, then the
  stream counted);
* the page puts every value it shows into the DOM as text
  (``textContent``), never as markup, and a Content-Security-Policy allows
  only the page's own script and styles, so a response holding ``<script>``
  or HTML is shown as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import re
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from promptship.core.errors import PromptshipError, UsageError
from promptship.review.queue import Queue, read_queue
from promptship.review.ratings import Progress, RatingsLog
from promptship.review.verdicts import Record

__all__ = ["MAX_BODY", "ServeOptions", "Served", "build_app", "check_host", "ratings_path", "serve"]

MAX_BODY = 64 * 1024
"""Largest request body accepted: a verdict with a long comment is a few kilobytes."""
_REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_STATIC = {"review.js": "text/javascript", "review.css": "text/css"}


def check_host(host: str) -> str:
    """``host`` if it is a loopback address (or ``localhost``); the server binds nothing else.

    Raises:
        UsageError: Any other address.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise UsageError(
        f"the review server binds loopback addresses only, not {host!r}",
        hint="use 127.0.0.1 (the default) or ::1; reviewers open the page on their own machine",
    )


def check_reviewer(name: str) -> str:
    """A reviewer name fit for file names and logs.

    Raises:
        UsageError: Not 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit).
    """
    if not _REVIEWER.match(name):
        raise UsageError(
            f"reviewer name {name[:80]!r} is not 1-64 letters, digits, '.', '_' or '-'",
            hint="a short name or pseudonym, e.g. --reviewer ann",
        )
    return name


def ratings_path(queue: Path, reviewer: str) -> Path:
    """The default ratings file of a reviewer: ``queue.ratings-<reviewer>.jsonl`` beside the queue."""
    return queue.with_name(f"{queue.stem}.ratings-{reviewer}.jsonl")


def _rubric_view(queue: Queue, prompt: str) -> dict[str, Any]:
    rubric = queue.header.rubrics[prompt]
    return {
        "instructions": rubric.instructions,
        "criteria": [
            {
                "name": c.name,
                "guidance": c.guidance,
                "kind": c.kind,
                "options": list(c.options),
                "passing": sorted(c.passing, key=c.options.index),
            }
            for c in rubric.criteria
        ],
    }


def _state(log: RatingsLog, prefill: Record | None = None) -> dict[str, Any]:
    p: Progress = log.progress()
    item = p.current
    out: dict[str, Any] = {
        "reviewer": log.header.reviewer,
        "kind": log.queue.header.kind,
        "progress": {
            "position": p.position,
            "total": p.total,
            "rated": p.rated,
            "skipped": p.skipped,
            "can_undo": p.can_undo,
        },
        "item": None,
        "prefill": None,
    }
    if item is not None:
        out["item"] = {**item.to_dict(), "rubric": _rubric_view(log.queue, item.prompt)}
        if prefill is not None and prefill.item == item.item and prefill.type == "verdict":
            out["prefill"] = {"scores": dict(prefill.scores), "comment": prefill.comment or ""}
    return out


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_HEADERS)


@dataclass(frozen=True)
class _Guard:
    """Who may talk to the server: its own origin, with the session's token."""

    token: str
    hosts: frozenset[str]
    origins: frozenset[str]
    max_body: int

    def refuse(self, request: Request, *, write: bool) -> JSONResponse | None:
        """The response refusing ``request``, or ``None`` when it may proceed."""
        if request.headers.get("host", "") not in self.hosts:
            return _error(421, "unexpected Host header")
        if request.url.path.startswith("/api/"):
            given = request.headers.get("x-review-token", "")
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                return _error(403, "missing or wrong session token: reload the page")
        if not write:
            return None
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.origins:
            return _error(403, "cross-origin writes are refused")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site != "same-origin":
            return _error(403, "cross-site writes are refused")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _error(415, "send JSON (Content-Type: application/json)")
        return None

    async def body(self, request: Request) -> dict[str, Any]:
        """The request's JSON object, read up to the cap.

        Raises:
            _TooLarge: The body is over the cap.
            _BadBody: It is not a JSON object.
        """
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            raise _TooLarge
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > self.max_body:
                raise _TooLarge
        try:
            value = json.loads(bytes(data).decode("utf-8"))
        except (ValueError, RecursionError):
            raise _BadBody("the request body is not JSON") from None
        if not isinstance(value, dict):
            raise _BadBody("the request body must be a JSON object")
        return value


class _TooLarge(Exception):
    """A request body over the cap."""


class _BadBody(Exception):
    """A request body that is not a JSON object."""


def _page(token: str) -> bytes:
    html = (resources.files("promptship.review") / "static" / "index.html").read_text("utf-8")
    return html.replace("{{TOKEN}}", token).encode()


class _Handlers:
    """The endpoints of the review app over one ratings log, admitting only what the guard allows."""

    def __init__(self, log: RatingsLog, guard: _Guard) -> None:
        self.log = log
        self.guard = guard
        self.lock = asyncio.Lock()
        self.page = _page(guard.token)

    async def index(self, request: Request) -> Response:
        refused = self.guard.refuse(request, write=False)
        html = "text/html; charset=utf-8"
        return refused or Response(self.page, media_type=html, headers=_HEADERS)

    async def static(self, request: Request) -> Response:
        refused = self.guard.refuse(request, write=False)
        name = request.path_params["name"]
        if refused is not None:
            return refused
        if name not in _STATIC:
            return _error(404, "not found")
        data = (resources.files("promptship.review") / "static" / name).read_bytes()
        return Response(data, media_type=_STATIC[name], headers=_HEADERS)

    async def favicon(self, request: Request) -> Response:
        return self.guard.refuse(request, write=False) or Response(
            status_code=204, headers=_HEADERS
        )

    async def state(self, request: Request) -> Response:
        refused = self.guard.refuse(request, write=False)
        return refused or JSONResponse(_state(self.log), headers=_HEADERS)

    def action(
        self, run: Callable[[Mapping[str, Any]], Record | None]
    ) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that checks the request, runs ``run`` on its body and answers the new state."""

        async def endpoint(request: Request) -> Response:
            refused = self.guard.refuse(request, write=True)
            if refused is not None:
                return refused
            try:
                data = await self.guard.body(request)
                async with self.lock:
                    prefill = run(data)
                    return JSONResponse(_state(self.log, prefill), headers=_HEADERS)
            except _TooLarge:
                return _error(413, f"request body over {self.guard.max_body} bytes")
            except _BadBody as e:
                return _error(400, str(e))
            except PromptshipError as e:
                return _error(409, e.message)

        return endpoint

    def verdict(self, data: Mapping[str, Any]) -> None:
        self.log.verdict(str(data.get("item", "")), data.get("scores") or {}, data.get("comment"))

    def skip(self, data: Mapping[str, Any]) -> None:
        self.log.skip(str(data.get("item", "")))

    def undo(self, data: Mapping[str, Any]) -> Record:
        return self.log.undo()


def build_app(log: RatingsLog, guard: _Guard) -> Starlette:
    """The review app over one ratings log, admitting only what ``guard`` allows."""
    h = _Handlers(log, guard)
    return Starlette(
        routes=[
            Route("/", h.index),
            Route("/static/{name}", h.static),
            Route("/favicon.ico", h.favicon),
            Route("/api/state", h.state),
            Route("/api/verdict", h.action(h.verdict), methods=["POST"]),
            Route("/api/skip", h.action(h.skip), methods=["POST"]),
            Route("/api/undo", h.action(h.undo), methods=["POST"]),
        ]
    )


@dataclass(frozen=True)
class ServeOptions:
    """What ``review serve`` is asked to do.

    Attributes:
        queue: The queue file.
        reviewer: The reviewer's name (or pseudonym).
        ratings: The ratings file (default: :func:`ratings_path`).
        host: The loopback address to bind.
        port: The port (0: any free one).
        max_body: The request body cap.
    """

    queue: Path
    reviewer: str
    ratings: Path | None = None
    host: str = "127.0.0.1"
    port: int = 0
    max_body: int = MAX_BODY


@dataclass(frozen=True)
class Served:
    """Where the ratings went and how far the reviewer got."""

    ratings: Path
    rated: int
    skipped: int
    total: int


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port} ({e.strerror})", hint="try --port 0"
        ) from e
    sock.listen(16)
    return sock


def serve(
    options: ServeOptions,
    *,
    token: str,
    clock: Callable[[], float],
    announce: Callable[[str], None],
) -> Served:
    """Serve the review page until interrupted (Ctrl+C or SIGTERM).

    Args:
        options: The queue, reviewer, ratings file and address.
        token: The session token the page must send back (random, from the caller).
        clock: Seconds since the epoch, for the ratings' times.
        announce: Told the page's URL once the server listens.

    Raises:
        UsageError: A bad option, an unreadable queue, a ratings file of
            another queue or reviewer, or an address that cannot be bound.
        FileWriteError: The ratings file cannot be opened.
    """
    host = check_host(options.host)
    reviewer = check_reviewer(options.reviewer)
    queue = read_queue(options.queue)
    path = options.ratings or ratings_path(options.queue, reviewer)
    log = RatingsLog(path, queue, reviewer, clock)
    try:
        sock = _bind(host, options.port)
        port = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        names = {f"{shown}:{port}"} | ({f"localhost:{port}"} if host == "127.0.0.1" else set())
        guard = _Guard(
            token, frozenset(names), frozenset(f"http://{n}" for n in names), options.max_body
        )
        config = uvicorn.Config(
            build_app(log, guard),
            http="h11",
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            date_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,
            limit_concurrency=32,
            h11_max_incomplete_event_size=16 * 1024,
        )
        announce(f"http://{shown}:{port}/")
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl+C once it has stopped
            uvicorn.Server(config).run(sockets=[sock])
        done = log.progress()
        return Served(path, done.rated, done.skipped, done.total)
    finally:
        log.close()
