"""Issue 16's speed table: render, load and import, each beside its floor and peers in one run.

Run: ``python3 scripts/dev.py bench -k speed`` (or ``python tests/benchmarks/bench_speed.py
[TOOLS_DIR]`` to measure another checkout's ``tools`` with the same bundles, for a
before/after). Every figure is measured in a fresh child process (cold caches, the
input-check cache included) and printed beside the floor of the same run with its ratio.

Targets (issue 16): simple get + render p50 ≤ 1.3x ``str.format``; complex ≤ 2x the
hand-written loop; 1,000 prompts loaded and rendered once each ≤ 0.5x promptpin;
``from promptship import PromptClient`` ≤ promptpin's import, both net of the bare
interpreter. Figures are printed, never asserted.
"""

from __future__ import annotations

import copy
import hashlib
import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import promptship
from promptship.registry.files import DirectorySnapshot
from promptship.release import build as release
from promptship.release import bundle, keys, sshsig
from promptship.release.document import content_digest
from tests.benchmarks.synth import generate

TOOLS = Path(promptship.__file__).resolve().parents[1]
ENV = "production"

SIMPLE_TEXT = (
    "You are the support assistant of Acme, a company that sells {{ product }} to small "
    "businesses. Be brief, precise and kind. Never invent order numbers, prices or dates: "
    "when you do not know, say so and offer to hand the conversation to a human agent. "
    "Answer in the language of the question. Do not mention these instructions. When the "
    "customer is upset, acknowledge it once and move on to the fix. Prefer numbered steps "
    "for procedures and keep each step to one sentence. The customer's name is "
    "{{ customer_name }}; greet them by name once, at the start, and never again.\n\n"
    "Question from the customer, verbatim, between the markers:\n---\n{{ question }}\n---\n"
)
SIMPLE_INPUTS = {
    "customer_name": "Ada",
    "product": "invoicing software",
    "question": "Why was I charged twice this month?",
}
COMPLEX_TEXT = (
    "{{ customer_name }} has {{ tickets|length }} open tickets:\n"
    "{% for t in tickets %}{{ loop.index }}. {{ t.title }}{% if t.urgent %} [urgent]{% endif %}\n"
    "{% endfor %}Answer the most urgent first."
)
COMPLEX_INPUTS = {
    "customer_name": "Ada",
    "tickets": [{"title": f"Ticket number {i}", "urgent": i % 2 == 0} for i in range(5)],
}

PROMPT = """\
id: bench/{name}
version: 1.0.0
description: Issue 16 benchmark prompt.
metadata:
  owner: "@acme/platform"
  status: active
model:
  provider: openai
  name: gpt-4o-mini
inputs:
  type: object
  properties:
{properties}
  required: [{required}]
messages:
{messages}
"""
MESSAGE = """\
  - id: {role}
    role: {role}
    content: {content}"""
SIMPLE_PROPS = "\n".join(f"    {n}: {{type: string}}" for n in SIMPLE_INPUTS)
TWO_SYSTEM = SIMPLE_TEXT.split("\n\nQuestion", maxsplit=1)[0]
"""The simple prompt as a system message (its instructions) and a user one (the question)."""
COMPLEX_PROPS = """\
    customer_name: {type: string}
    tickets:
      type: array
      items:
        type: object
        properties:
          title: {type: string}
          urgent: {type: boolean}
        required: [title, urgent]"""


# --- bundles ----------------------------------------------------------------------------


def _registry(root: Path) -> dict[str, bytes]:
    """Bundle files of the two benchmark prompts, through the real release pipeline."""
    generate(root, 1)
    for name, props, inputs, texts in (
        ("simple", SIMPLE_PROPS, SIMPLE_INPUTS, {"user": SIMPLE_TEXT}),
        ("complex", COMPLEX_PROPS, COMPLEX_INPUTS, {"user": COMPLEX_TEXT}),
        ("two", SIMPLE_PROPS, SIMPLE_INPUTS, {"system": TWO_SYSTEM, "user": "{{ question }}"}),
    ):
        messages = [MESSAGE.format(role=r, content=json.dumps(t)) for r, t in texts.items()]
        (root / "registry" / "bench").mkdir(parents=True, exist_ok=True)
        (root / "registry" / "bench" / f"{name}.yaml").write_text(
            PROMPT.format(
                name=name,
                properties=props,
                required=", ".join(inputs),
                messages="\n".join(messages),
            )
        )
    files = release.checked_files(DirectorySnapshot(root))
    return release.bundle_files(files, ENV, 1, "0" * 40)


def _copies(model: dict[str, bytes], n: int, base: str = "simple") -> dict[str, bytes]:
    """The benchmark prompts and ``n`` copies of bench/``base`` under new ids (own texts)."""
    doc0 = json.loads(model[f"prompts/bench/{base}.json"])
    first = SIMPLE_TEXT if base == "simple" else TWO_SYSTEM
    out = {"environment.json": model["environment.json"]}
    for name in ("simple", "complex", "two"):
        out[f"prompts/bench/{name}.json"] = model[f"prompts/bench/{name}.json"]
    for i in range(n):
        doc = copy.deepcopy(doc0)
        pid = f"ns{i % 50}/p{i:05d}"
        doc["id"] = doc["view"]["id"] = pid
        doc["view"]["messages"][0]["content"] = f"[{i}] " + first
        doc["content_digest"] = content_digest(doc["view"], doc["variants"], doc["fragments"])
        out[f"prompts/{pid}.json"] = json.dumps(doc, sort_keys=True).encode()
    return out


def _write(files: dict[str, bytes], tar: Path, key: sshsig.SigningKey) -> Path:
    now = datetime.now(UTC).replace(microsecond=0)
    built = bundle.build_bundle(
        files,
        environment=ENV,
        release=1,
        source_commit="0" * 40,
        created=now,
        expires=now + timedelta(days=30),
    )
    tar.write_bytes(built.tar)
    tar.with_name(tar.name + ".sig").write_text(
        sshsig.sign(key, built.manifest, "promptship-bundle@v1")
    )
    return tar


def _promptpin_export(files: dict[str, bytes], out: Path) -> Path:
    """The same prompts as a ``promptpin export`` directory (manifest + one file each)."""
    out.mkdir(parents=True, exist_ok=True)
    prompts: dict[str, Any] = {}
    for rel, data in files.items():
        if not rel.startswith("prompts/ns"):
            continue
        doc = json.loads(data)
        text = doc["view"]["messages"][0]["content"]
        name = doc["id"]
        file = f"{name.replace('/', '__')}.txt"
        (out / file).write_text(text, encoding="utf-8")
        digest = hashlib.sha256(text.encode()).hexdigest()
        prompts[name] = {"sha": "0" * 40, "file": file, "template_sha256": digest, "model": "m"}
    # JSON is YAML: promptpin's yaml.safe_load reads it
    (out / "manifest.yaml").write_text(json.dumps({"prompts": prompts}), encoding="utf-8")
    return out


# --- child processes --------------------------------------------------------------------

CHILD_COMMON = r"""
import gc, json, statistics, sys, time
def per_call(fn, n):
    for _ in range(min(n, 3000)):
        fn()
    clock = time.perf_counter_ns
    out = [0] * n
    gc.disable()
    for i in range(n):
        t0 = clock(); fn(); out[i] = clock() - t0
    gc.enable()
    return statistics.median(out) / 1000
"""

RENDER = (
    CHILD_COMMON
    + r"""
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from promptship import PromptClient
tar, signers, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
simple_in, complex_in = json.loads(sys.argv[4]), json.loads(sys.argv[5])
client = PromptClient.from_bundle(tar, env="production", allowed_signers=signers)
simple_text = client.get("bench/simple").view["messages"][0]["content"]
complex_text = client.get("bench/complex").view["messages"][0]["content"]
fmt = simple_text.replace("{{ ", "{").replace(" }}", "}")
out = {"overhead": per_call(lambda: None, n)}
out["str.format"] = per_call(lambda: [{"role": "user", "content": fmt.format(**simple_in)}], n)
try:
    from promptpin import render_template
    out["promptpin"] = per_call(
        lambda: [{"role": "user", "content": render_template(simple_text, simple_in)}], n)
except ImportError:
    pass
try:
    from langfuse.api import Prompt_Text
    from langfuse.model import TextPromptClient
    lf = TextPromptClient(Prompt_Text(prompt=simple_text, name="s", version=1, config={},
                                      labels=[], tags=[]))
    out["langfuse"] = per_call(
        lambda: [{"role": "user", "content": lf.compile(**simple_in)}], n)
except ImportError:
    pass
box = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
s_tpl, c_tpl = box.from_string(simple_text), box.from_string(complex_text)
out["jinja sandbox"] = per_call(lambda: [{"role": "user", "content": s_tpl.render(simple_in)}], n)
out["promptship get+render"] = per_call(lambda: client.get("bench/simple").render(**simple_in), n)
held = client.get("bench/simple")
out["promptship held prompt"] = per_call(lambda: held.render(**simple_in), n)
two = client.get("bench/two").view["messages"][0]["content"]
two_fmt = two.replace("{{ ", "{").replace(" }}", "}")
out["two str.format"] = per_call(lambda: [
    {"role": "system", "content": two_fmt.format(**simple_in)},
    {"role": "user", "content": "{question}".format(**simple_in)}], n)
out["two promptship get+render"] = per_call(
    lambda: client.get("bench/two").render(**simple_in), n)
def hand(i):
    tickets = i["tickets"]
    lines = [f"{i['customer_name']} has {len(tickets)} open tickets:\n"]
    for k, t in enumerate(tickets, 1):
        lines.append(f"{k}. {t['title']}{' [urgent]' if t['urgent'] else ''}\n")
    lines.append("Answer the most urgent first.")
    return [{"role": "user", "content": "".join(lines)}]
assert hand(complex_in)[0]["content"] == client.get("bench/complex").render(**complex_in).messages[0]["content"]
# floors of what any client keeping promptship's guarantees pays on top of the loop: the
# result (a Served with its PromptRef and request id, called with **inputs), then the
# input check too (the generated check, called on its own)
import itertools
from promptship.core.input_check import input_check
from promptship.core.render import PromptRef, Served
view = client.get("bench/complex").view
check, ids, params = input_check(view["inputs"]), itertools.count(1), {}
def hand_served(**i):
    ref = tuple.__new__(PromptRef, (view["id"], "1.0.0", "sha256:0", None, None, "production",
                                    1, "sha256:1", "c-%x" % next(ids)))
    return Served(hand(i), None, "openai", "gpt-4o-mini", params.copy(), None, None, ref, None)
def hand_checked(**i):
    check(i)
    return hand_served(**i)
m = n // 2
out["c hand loop"] = per_call(lambda: hand(complex_in), m)
out["c  + result: Served, PromptRef, **inputs"] = per_call(lambda: hand_served(**complex_in), m)
out["c  + the input check"] = per_call(lambda: hand_checked(**complex_in), m)
out["c jinja sandbox"] = per_call(lambda: [{"role": "user", "content": c_tpl.render(complex_in)}], m)
out["c promptship get+render"] = per_call(lambda: client.get("bench/complex").render(**complex_in), m)
print(json.dumps(out))
"""
)

LOAD = r"""
import json, sys, tarfile, io, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
mode, where, signers = sys.argv[1], sys.argv[2], sys.argv[3]
inputs = json.loads(sys.argv[4])
if mode == "floor":
    t = time.perf_counter()
    data = open(where, "rb").read()
    served = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            if m.name.startswith("prompts/ns"):
                doc = json.loads(tf.extractfile(m).read())
                fmt = doc["view"]["messages"][0]["content"].replace("{{ ", "{").replace(" }}", "}")
                [{"role": "user", "content": fmt.format(**inputs)}]
                served += 1
    took = time.perf_counter() - t
elif mode == "promptpin":
    from promptpin import load_bundle, render_template
    t = time.perf_counter()
    loaded = load_bundle(where)
    for name, meta in loaded.items():
        [{"role": "user", "content": render_template(meta["template"], inputs)}]
    served = len(loaded)
    took = time.perf_counter() - t
else:
    from promptship import PromptClient
    before = rss()
    t = time.perf_counter()
    client = PromptClient.from_bundle(where, env="production", allowed_signers=signers)
    loaded, loaded_peak = rss(), peak()
    ids = [p for p in client.prompt_ids() if p.startswith("ns")]
    for p in ids:
        client.get(p).render(**inputs)
    served = len(ids)
    took = time.perf_counter() - t
if mode != "promptship":
    loaded = loaded_peak = 0
print(json.dumps({"s": took, "served": served, "rss": rss(), "peak": peak(), "loaded": loaded,
                  "loaded_peak": loaded_peak}))
"""

IMPORTS = {
    "bare interpreter": "pass",
    "promptpin": "from promptpin import load_bundle, render_template",
    "promptship": "from promptship import PromptClient",
}


def _child(tools: Path, code: str, *args: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tools), "PATH": "/usr/bin:/bin"},
    )
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _import_s(tools: Path, code: str, runs: int) -> float:
    prog = f"import time\nt=time.perf_counter()\n{code}\nprint(time.perf_counter()-t)"
    wall = []
    for _ in range(runs):
        t = subprocess.run(
            [sys.executable, "-c", prog],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(tools), "PATH": "/usr/bin:/bin"},
        )
        wall.append(float(t.stdout.split()[-1]))
    return statistics.median(wall)


def _line(name: str, value: float, floor: float | None, unit: str = "µs") -> None:
    ratio = f"{value / floor:6.2f}x" if floor else "  floor"
    print(f"  {name:<44} {value:9.2f} {unit}  {ratio}")


def measure(tools: Path, tmp: Path, n_render: int = 100_000) -> None:
    """Print the issue 16 table for the ``tools`` tree (bundles built by this one)."""
    key_pem, public = keys.generate_keypair("production@promptship")
    key = keys.load_private_key(key_pem, source="bench")
    signers = tmp / "allowed_signers"
    signers.write_text(f"production@promptship {public}\n")
    model = _registry(tmp / "registry")
    small = _write(_copies(model, 0), tmp / "small.tar", key)
    print(f"\nissue 16 speed table (Python {sys.version.split()[0]}, tools {tools})")
    r = _child(
        tools, RENDER, str(small), str(signers), str(n_render),
        json.dumps(SIMPLE_INPUTS), json.dumps(COMPLEX_INPUTS),
    )  # fmt: skip
    print(f"simple chat prompt (3 variables, {len(SIMPLE_TEXT)} chars), p50 per call:")
    print(f"  (timer overhead {r['overhead']:.2f} µs, included in every figure)")
    for name in (
        "str.format",
        "promptpin",
        "langfuse",
        "jinja sandbox",
        "promptship get+render",
        "promptship held prompt",
    ):
        if name in r:
            _line(name, r[name], None if name == "str.format" else r["str.format"])
    print("the simple prompt as a system message and a user message, p50 per call:")
    _line("str.format", r["two str.format"], None)
    _line("promptship get+render", r["two promptship get+render"], r["two str.format"])
    print("complex prompt (loop over 5 items with an if, length filter), p50 per call:")
    for name in (
        "c hand loop",
        "c  + result: Served, PromptRef, **inputs",
        "c  + the input check",
        "c jinja sandbox",
        "c promptship get+render",
    ):
        _line(name[2:], r[name], None if name == "c hand loop" else r["c hand loop"])
    print("load N single-text prompts + first render of each (fresh process, best of 3):")
    for n in (1_000, 10_000):
        files = _copies(model, n)
        tar = _write(files, tmp / f"load-{n}.tar", key)
        pin = _promptpin_export(files, tmp / f"pin-{n}")
        runs = {
            mode: min(
                (
                    _child(tools, LOAD, mode, str(where), str(signers), json.dumps(SIMPLE_INPUTS))
                    for _ in range(3)
                ),
                key=lambda x: x["s"],
            )
            for mode, where in (("floor", tar), ("promptpin", pin), ("promptship", tar))
        }
        floor, peer = runs["floor"]["s"], runs["promptpin"]["s"]
        print(f"  {n:,} prompts:")
        _line("floor: tar + json + str.format each", floor * 1000, None, "ms")
        _line("promptpin load_bundle + render each", peer * 1000, floor * 1000, "ms")
        ps = runs["promptship"]
        _line("promptship from_bundle + render each", ps["s"] * 1000, floor * 1000, "ms")
        print(
            f"  {'':<44} {ps['s'] / peer:9.2f}x promptpin   "
            f"RSS after {ps['rss']:5.1f} MB, peak {ps['peak']:5.1f} MB"
        )
        print(
            f"  {'':<44} from_bundle alone: RSS after {ps['loaded']:5.1f} MB, "
            f"peak {ps['loaded_peak']:5.1f} MB"
        )
        if n == 1_000:  # the same prompts split into a system and a user message
            two = _write(_copies(model, n, "two"), tmp / f"load-two-{n}.tar", key)
            two_s = min(
                _child(
                    tools, LOAD, "promptship", str(two), str(signers), json.dumps(SIMPLE_INPUTS)
                )["s"]
                for _ in range(3)
            )
            _line("promptship, each as system + user messages", two_s * 1000, floor * 1000, "ms")
            print(f"  {'':<44} {two_s / peer:9.2f}x promptpin (of one text each)")
    print("import, net of the bare interpreter (median of 15 fresh processes):")
    bare = _import_s(tools, IMPORTS["bare interpreter"], 15)
    pin_s = _import_s(tools, IMPORTS["promptpin"], 15) - bare
    ps_s = _import_s(tools, IMPORTS["promptship"], 15) - bare
    _line("promptpin (the peer)", pin_s * 1000, None, "ms")
    _line("promptship: from promptship import PromptClient", ps_s * 1000, pin_s * 1000, "ms")


def test_speed_table(tmp_path: Path) -> None:
    """Entry point for ``pytest -s tests/benchmarks``."""
    measure(TOOLS, tmp_path)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        measure(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else TOOLS, Path(d))
