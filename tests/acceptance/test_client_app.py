"""What an application sees: experiments, events without secrets, the public API, and the
complete example app of docs/client.md run against a local store and chat server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

import promptship
from promptship import PromptClient
from promptship.core.errors import InputError, UsageError
from promptship.events.sinks import JsonlSink, MemorySink
from publisher import SPLIT, Publisher

TOOLS = Path(promptship.__file__).resolve().parents[1]
DOCS = TOOLS.parent / "docs" / "client.md"
UNITS = 100_000


@pytest.fixture
def baked(publisher: Publisher, tmp_path: Path) -> Path:
    """A signed production bundle of the publisher's registry."""
    return publisher.build_signed("production", tmp_path / "image")


def _baked_client(publisher: Publisher, baked: Path, **kw: object) -> PromptClient:
    return PromptClient.from_bundle(
        baked,
        env="production",
        allowed_signers=publisher.signers,
        **kw,  # type: ignore[arg-type]
    )


# --- experiments ------------------------------------------------------------------------


def test_variant_shares_match_the_weights_within_one_point(
    publisher: Publisher, baked: Path
) -> None:
    with _baked_client(publisher, baked) as client:
        counts = Counter(
            client.get("growth/welcome", unit=f"user-{i}").variant for i in range(UNITS)
        )
    assert set(counts) == set(SPLIT)
    for variant, weight in SPLIT.items():
        share = 100 * counts[variant] / UNITS
        assert abs(share - weight) < 1.0, (variant, share, weight)


ASSIGN = """
import json, sys
from promptship import PromptClient
client = PromptClient.from_bundle(sys.argv[1], env="production", allowed_signers=sys.argv[2])
print(json.dumps([client.get("growth/welcome", unit=f"user-{i}").variant for i in range(2000)]))
"""


def test_the_same_unit_always_gets_the_same_variant(publisher: Publisher, baked: Path) -> None:
    with _baked_client(publisher, baked) as one, _baked_client(publisher, baked) as two:
        first = [one.get("growth/welcome", unit=f"user-{i}").variant for i in range(2000)]
        assert first == [one.get("growth/welcome", unit=f"user-{i}").variant for i in range(2000)]
        assert first == [two.get("growth/welcome", unit=f"user-{i}").variant for i in range(2000)]
        assert (
            one.get("growth/welcome", unit=42).variant
            == one.get("growth/welcome", unit="42").variant
        )
    # another process, another hash seed: the same assignment
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", ASSIGN, str(baked), str(publisher.signers)],
            env={**os.environ, "PYTHONPATH": str(TOOLS), "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert json.loads(out) == first


def test_each_variant_renders_its_own_text_and_names_itself(
    publisher: Publisher, baked: Path
) -> None:
    with _baked_client(publisher, baked) as client:
        texts = {
            "base": "Write the welcome email for Ada.",
            "warm": "Write a warm welcome email for Ada.",
            "short": "Write a two-line welcome email for Ada.",
        }
        seen = set()
        for i in range(200):
            prompt = client.get("growth/welcome", unit=f"u{i}")
            result = prompt.render(first_name="Ada")
            assert result.ref is not None
            assert result.messages is not None
            assert (result.ref.experiment, result.ref.variant) == ("welcome-tone", prompt.variant)
            assert result.messages[0]["content"] == texts[prompt.variant or ""]
            seen.add(prompt.variant)
        assert seen == set(texts)
        # no unit: the base prompt, no experiment recorded
        plain = client.get("growth/welcome").render(first_name="Ada")
        assert plain.ref is not None
        assert (plain.ref.experiment, plain.ref.variant) == (None, None)
        # a chosen variant outside the experiment
        warm = client.get("growth/welcome", variant="warm").render(first_name="Ada")
        assert warm.ref is not None
        assert (warm.ref.experiment, warm.ref.variant) == (None, "warm")
        with pytest.raises(UsageError, match="not both"):
            client.get("growth/welcome", unit="u1", variant="warm")
        with pytest.raises(UsageError, match="no variant 'loud'") as caught:
            client.get("growth/welcome", variant="loud")
        assert caught.value.hint == "its variants: short, warm"
        with pytest.raises(UsageError, match="no prompt 'growth/nope'"):
            client.get("growth/nope")


def test_inputs_are_checked_before_rendering(publisher: Publisher, baked: Path) -> None:
    with _baked_client(publisher, baked) as client:
        prompt = client.get("support/reply")
        with pytest.raises(InputError, match="missing required input"):
            prompt.render(customer_name="Ada")
        with pytest.raises(InputError, match=r"unknown input 'tikcet': did you mean 'ticket'\?"):
            prompt.render(customer_name="Ada", ticket="t", tikcet="t")
        with pytest.raises(InputError, match="history"):
            prompt.render(customer_name="Ada", ticket="t", history="not a list")
        # an input named like render's own parameter is just an input
        with pytest.raises(InputError, match="unknown input 'self'"):
            prompt.render(customer_name="Ada", ticket="t", self="x")


# --- events -----------------------------------------------------------------------------

SECRETS = {
    "ticket": "TICKET-7f3a: my password is hunter2-Zebra",  # x-sensitive
    "card": "4111 1111 1111 1111",
    "email": "ada.lovelace@example.com",
    "api_key": "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123456789",
    "unit": "user-8675309",
}


def test_events_share_the_request_id_and_keep_secrets_in_the_process(
    publisher: Publisher, baked: Path, tmp_path: Path
) -> None:
    log = tmp_path / "events.jsonl"
    with _baked_client(publisher, baked, sink=JsonlSink(log), unit_key=b"k" * 32) as client:
        result = client.get("support/reply").render(
            customer_name=SECRETS["email"],
            ticket=SECRETS["ticket"],
            history=[f"card {SECRETS['card']}", f"key {SECRETS['api_key']}"],
        )
        client.record_outcome(
            result, error=f"upstream said: Bearer {SECRETS['api_key']}", latency_ms=12.5
        )
        assert result.ref is not None
        client.feedback(result.ref, 0.5, comment=f"mail me at {SECRETS['email']}")
        client.feedback(result.ref.request_id, 1.0)
        welcome = client.get("growth/welcome", unit=SECRETS["unit"]).render(first_name="Ada")
    raw = log.read_bytes()
    for name, secret in SECRETS.items():
        assert secret.encode() not in raw, f"{name} leaked into the event log"
    assert b"hunter2" not in raw
    events = [json.loads(line) for line in raw.splitlines()]
    assert [e["type"] for e in events] == ["render", "outcome", "feedback", "feedback", "render"]
    rid = result.ref.request_id
    assert {e["request_id"] for e in events[:4]} == {rid}
    render = events[0]
    assert render["inputs"]["ticket"] == "[sensitive]"
    assert render["inputs"]["customer_name"] == "[email]"
    assert "[card]" in render["inputs"]["history"][0]
    assert render["bundle_digest"] == result.ref.bundle_digest
    assert (render["prompt_id"], render["version"]) == ("support/reply", "1.0.0")
    assert events[1]["latency_ms"] == 12.5
    assert welcome.ref is not None
    assert events[4]["request_id"] == welcome.ref.request_id != rid
    assert events[4]["experiment"] == "welcome-tone"
    assert events[4]["variant"] == welcome.ref.variant
    assert events[4]["unit"].startswith("b2:")


class _StuckStream:
    """A binary stream whose writes block until released: a disk that stalls."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.data = bytearray()

    def write(self, data: bytes) -> int:
        self.release.wait()
        self.data += data
        return len(data)

    def flush(self) -> None:
        pass


class _BrokenSink(MemorySink):
    def emit(self, event: object) -> None:
        raise RuntimeError("sink bug")


def test_a_stalled_or_broken_sink_never_blocks_or_breaks_a_render(
    publisher: Publisher, baked: Path
) -> None:
    stream = _StuckStream()
    sink = JsonlSink(stream, max_queue=10)  # type: ignore[arg-type]
    with _baked_client(publisher, baked, sink=sink) as client:
        for i in range(200):  # the writer is stuck on its first write: the rest is dropped
            client.get("support/simple").render(question="q", customer_name=f"c{i}")
        assert sink.dropped >= 180
        stream.release.set()
    assert stream.data.count(b"\n") == 200 - sink.dropped
    with _baked_client(publisher, baked, sink=_BrokenSink()) as client:
        result = client.get("support/simple").render(question="q", customer_name="c")
        assert result.messages == [{"role": "user", "content": "Answer q for c."}]
        client.record_outcome(result, accepted=True)


# --- the public API ---------------------------------------------------------------------


IMPORTED = r"""
import json, sys
before = set(sys.modules)
from promptship import PromptClient, Prompt, Rendered, PromptRef, ClientStatus
imported = set(sys.modules) - before
if len(sys.argv) > 1:  # open a bundle and render: still no network, YAML, telemetry or SQL
    client = PromptClient.from_bundle(sys.argv[1], env="production", allowed_signers=sys.argv[2])
    client.get("support/reply").render(customer_name="Ada", ticket="t")
loaded = set(sys.modules) - before
def outside(names):
    return sorted({m.split(".")[0] for m in names} - set(sys.stdlib_module_names) - {"promptship"})
print(json.dumps({
    "promptship": sorted(m for m in imported if m.startswith("promptship")),
    "third_party": outside(imported),
    "after_render": outside(loaded),
}))
"""

# Exactly what ``from promptship import PromptClient`` loads of promptship: the client, and
# the pure core it renders with. HTTP, OCI, telemetry, YAML, Jinja, JSON Schema: when used.
CLIENT_IMPORT = [
    "promptship.client",
    "promptship.client._client",
    "promptship.client._emitter",
    "promptship.client._loaded",
    "promptship.client._prompt",
    "promptship.client._status",
    "promptship.core",
    "promptship.core.budget",
    "promptship.core.errors",
    "promptship.core.input_check",
    "promptship.core.input_code",
    "promptship.core.names",
    "promptship.core.render",
    "promptship.core.schema_compile",
    "promptship.core.variants",
]


def _imports(*args: str) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", "import promptship\n" + IMPORTED, *args],
        env={**os.environ, "PYTHONPATH": str(TOOLS)},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found: dict[str, list[str]] = json.loads(out)
    return found


def test_from_promptship_import_promptclient_loads_only_the_client_and_the_standard_library() -> (
    None
):
    found = _imports()
    assert found["promptship"] == CLIENT_IMPORT
    assert found["third_party"] == []


def test_serving_from_a_bundle_loads_no_network_yaml_telemetry_or_sql_library(
    publisher: Publisher, baked: Path
) -> None:
    found = _imports(str(baked), str(publisher.signers))
    heavy = {"httpx", "httpcore", "opentelemetry", "yaml", "ruamel", "duckdb", "chdb", "oras"}
    assert heavy.isdisjoint(found["after_render"]), found["after_render"]
    assert found["third_party"] == []


def test_the_package_root_names_only_what_it_exports() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        promptship.Nope  # type: ignore[attr-defined]  # noqa: B018


def test_from_registry_serves_the_working_tree(publisher: Publisher) -> None:
    with PromptClient.from_registry(publisher.workdir, env="production") as client:
        result = client.get("support/reply").render(customer_name="Ada", ticket="t")
        assert result.messages is not None
        assert result.messages[0]["content"].startswith("Release marker: marker-0.")
        assert client.status().source == "registry"
        assert client.prompt_ids() == ["growth/welcome", "support/reply", "support/simple"]
    with pytest.raises(UsageError, match="unknown environment 'prod'"):
        PromptClient.from_registry(publisher.workdir, env="prod")


# The example application of docs/client.md runs in tests/acceptance/test_examples.py,
# on the example registry's store (test_the_client_app_runs).
