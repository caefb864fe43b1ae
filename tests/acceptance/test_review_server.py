"""The review server's defences, against the real ``promptship review serve`` on 127.0.0.1.

It binds loopback only, answers only its own Host (DNS rebinding), wants the
session token on every API call, refuses writes from another origin (also
from a real page on another origin in Chromium), caps request bodies, and
answers malformed or wrong verdicts with a clean error that changes nothing.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.support.ui import WebDriverWait

import reviewdata
from promptship.cli import main
from promptship.core.errors import UsageError
from promptship.review.server import MAX_BODY, check_host
from reviewserver import ReviewServer, chromium


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ReviewServer, Path, str]]:
    tmp = tmp_path_factory.mktemp("review-server")
    root = reviewdata.example_registry(tmp / "registry")
    events = tmp / "events.jsonl"
    reviewdata.log_requests(root, events, 3)
    queue = tmp / "queue.jsonl"
    args = ["review", "sample", str(events), "--prompt", "support/triage", "--seed", "s"]
    assert main([*args, "-o", str(queue), "--root", str(root)]) == 0
    ratings = tmp / "ratings.jsonl"
    with ReviewServer(queue, "ann", ratings) as server:
        page = httpx.get(server.url, timeout=10).text
        token = re.search(r'name="review-token" content="([^"]+)"', page)
        assert token is not None
        yield server, ratings, token.group(1)


def _post(server: ReviewServer, path: str, body: Any, token: str, **headers: str) -> httpx.Response:
    send = {"X-Review-Token": token, "Content-Type": "application/json", **headers}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path.lstrip("/"), content=data, headers=send, timeout=10)


def _state(server: ReviewServer, token: str) -> dict[str, Any]:
    r = httpx.get(server.url + "api/state", headers={"X-Review-Token": token}, timeout=10)
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    assert check_host(host) in {host, "127.0.0.1"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.1.5", "example.com", ""])
def test_other_hosts_are_refused(host: str) -> None:
    with pytest.raises(UsageError, match="loopback"):
        check_host(host)


def test_serve_on_a_public_address_is_a_usage_error(
    served: tuple[ReviewServer, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    server, _, _ = served
    queue = Path(server.proc.args[5])  # type: ignore[index]
    rc = main(["review", "serve", str(queue), "--reviewer", "ann", "--host", "0.0.0.0"])
    assert rc == 2
    assert "binds loopback addresses only" in capsys.readouterr().err


def test_it_listens_on_127_0_0_1_and_sends_a_strict_page(
    served: tuple[ReviewServer, Path, str],
) -> None:
    server, _, _ = served
    assert server.url.startswith("http://127.0.0.1:")
    r = httpx.get(server.url, timeout=10)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/review.js"' in r.text
    js = httpx.get(server.url + "static/review.js", timeout=10).text
    assert "innerHTML" not in js
    assert "textContent" in js


def test_the_api_needs_the_session_token(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, token = served
    assert httpx.get(server.url + "api/state", timeout=10).status_code == 403
    wrong = {"X-Review-Token": token[:-1] + ("A" if token[-1] != "A" else "B")}
    assert httpx.get(server.url + "api/state", headers=wrong, timeout=10).status_code == 403
    assert _state(server, token)["progress"]["total"] == 3


def test_another_host_name_is_refused(served: tuple[ReviewServer, Path, str]) -> None:
    server, _, token = served
    headers = {"Host": "attacker.example:80", "X-Review-Token": token}
    r = httpx.get(server.url + "api/state", headers=headers, timeout=10)
    assert r.status_code == 421
    assert (
        httpx.get(server.url, headers={"Host": "attacker.example"}, timeout=10).status_code == 421
    )


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://attacker.example"}, 403),
        ({"Origin": "http://127.0.0.1:1"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"X-Review-Token": ""}, 403),
    ],
)
def test_cross_origin_and_form_writes_are_refused(
    served: tuple[ReviewServer, Path, str], headers: dict[str, str], status: int
) -> None:
    server, ratings, token = served
    before = ratings.read_bytes()
    item = _state(server, token)["item"]["item"]
    scores = {"category": "pass", "priority": "right", "summary": "5"}
    r = _post(server, "api/verdict", {"item": item, "scores": scores}, token, **headers)
    assert r.status_code == status
    assert ratings.read_bytes() == before


def test_request_bodies_are_capped(served: tuple[ReviewServer, Path, str]) -> None:
    server, ratings, token = served
    before = ratings.read_bytes()
    big = json.dumps({"item": "x", "comment": "a" * (MAX_BODY + 10)}).encode()
    assert _post(server, "api/verdict", big, token).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"item": "x", "comment": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    headers = {"X-Review-Token": token, "Content-Type": "application/json"}
    r = httpx.post(server.url + "api/verdict", content=chunks(), headers=headers, timeout=10)
    assert r.status_code == 413
    assert ratings.read_bytes() == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b"[" * 20_000 + b"]" * 20_000, 400, "not JSON"),
        (b"\xff\xfe", 400, "not JSON"),
        ({"item": "not-the-current-one", "scores": {}}, 409, "not the item to decide now"),
        ("CURRENT:missing", 409, "missing priority, summary"),
        ("CURRENT:option", 409, "'6' is not an option of summary"),
        ("CURRENT:comment", 409, "comment must be text"),
    ],
)
def test_bad_verdicts_are_refused_and_change_nothing(
    served: tuple[ReviewServer, Path, str], body: Any, status: int, message: str
) -> None:
    server, ratings, token = served
    before = ratings.read_bytes()
    if isinstance(body, str):
        item = _state(server, token)["item"]["item"]
        good = {"category": "pass", "priority": "right", "summary": "5"}
        body = {
            "CURRENT:missing": {"item": item, "scores": {"category": "pass"}},
            "CURRENT:option": {"item": item, "scores": {**good, "summary": "6"}},
            "CURRENT:comment": {"item": item, "scores": good, "comment": 7},
        }[body]
    r = _post(server, "api/verdict", body, token)
    assert r.status_code == status
    assert message in r.json()["error"]
    assert ratings.read_bytes() == before


def test_undo_with_nothing_to_undo(served: tuple[ReviewServer, Path, str]) -> None:
    server, ratings, token = served
    before = ratings.read_bytes()
    r = _post(server, "api/undo", {}, token)
    assert r.status_code == 409
    assert r.json()["error"] == "nothing to undo"
    assert ratings.read_bytes() == before


_EVIL = """<!doctype html><html><body>
<form id="f" method="POST" action="{target}api/verdict" enctype="text/plain" target="sink">
<input name='{{"item":"{item}","scores":{{"category":"fail","priority":"too_low","summary":"1"}},"x":"' value='"}}'>
</form><iframe name="sink"></iframe>
<script>
const target = "{target}";
const body = JSON.stringify({{item: "{item}", scores: {{category: "fail", priority: "too_low", summary: "1"}}}});
const tries = [
  fetch(target + "api/verdict", {{method: "POST", headers: {{"Content-Type": "application/json", "X-Review-Token": "guess"}}, body}}),
  fetch(target + "api/verdict", {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}}),
  fetch(target + "api/skip", {{method: "POST", mode: "no-cors", body: JSON.stringify({{item: "{item}"}})}}),
  fetch(target + "api/state").then((r) => r.text()),
];
Promise.allSettled(tries).then((results) => {{
  window.outcomes = results.map((r) => r.status + ":" + (r.reason || r.value && (r.value.type || "text")));
  document.getElementById("f").submit();
  setTimeout(() => {{ document.title = "attacked"; }}, 500);
}});
</script></body></html>"""


def test_a_page_on_another_origin_cannot_post_verdicts(
    served: tuple[ReviewServer, Path, str],
) -> None:
    server, ratings, token = served
    before = ratings.read_bytes()
    item = _state(server, token)["item"]["item"]
    page = _EVIL.format(target=server.url, item=item).encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium() as driver:
            driver.get(f"http://127.0.0.1:{httpd.server_address[1]}/")
            WebDriverWait(driver, 30).until(lambda d: d.title == "attacked")
            outcomes = driver.execute_script("return window.outcomes")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert outcomes[0].startswith("rejected")  # the preflight is never granted
    assert outcomes[3].startswith("rejected")  # nor may it read the state
    assert ratings.read_bytes() == before
    assert _state(server, token)["progress"]["rated"] == 0
