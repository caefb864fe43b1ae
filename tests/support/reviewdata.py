"""Review rounds on the repository's own example registry, for the review tests and docs.

:func:`example_registry` copies this repository's registry (``registry/``,
``environments/``, ``CODEOWNERS``) into a folder; :func:`log_requests` serves
``support/triage`` from it through the real client (``PromptClient.from_registry``)
and writes the event log an application would, each outcome carrying the
``response`` the client captured (``ResponseCapture``: masked and cut); :data:`HOSTILE` is a response that tries to run
script on the review page. :func:`triage_answer` is the model stand-in: a
plausible JSON classification of a ticket (it is also the
``--provider command`` program when run as a script).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from promptship import PromptClient
from promptship.events import ResponseCapture
from promptship.events.sinks import MemorySink

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "support/triage"
HOSTILE = (
    '<script>window.__pwned = "script"</script><img src=x onerror="window.__pwned = \'img\'">'
    "<b>bold?</b> &amp; {{ not a template }}"
)

TICKETS: list[dict[str, str]] = [
    {
        "subject": "Charged twice for March",
        "customer_message": "My card was charged twice for March. Please refund one.",
        "channel": "email",
        "customer_tier": "pro",
    },
    {
        "subject": "",
        "customer_message": "I can't log in, the 2FA code never arrives.",
        "channel": "chat",
    },
    {
        "subject": "Export",
        "customer_message": "How do I export a project as CSV?",
        "channel": "web_form",
        "customer_tier": "business",
    },
    {
        "subject": "Dark mode",
        "customer_message": "Please add a dark mode, my eyes hurt at night.",
        "channel": "social",
    },
    {
        "subject": "Cancel",
        "customer_message": "Cancel my subscription today, and write to me at jo@example.com.",
        "channel": "email",
        "customer_tier": "free",
    },
    {
        "subject": "Someone is in our account",
        "customer_message": "Somebody logged into our admin account from abroad and changed the billing email.",
        "channel": "email",
        "customer_tier": "enterprise",
    },
    {
        "subject": "Broken charts",
        "customer_message": "The dashboard charts are blank since this morning.",
        "channel": "web_form",
        "customer_tier": "business",
    },
    {
        "subject": "Invoice VAT",
        "customer_message": "Our invoice lacks our VAT id, can you add it?",
        "channel": "email",
        "customer_tier": "pro",
    },
    {
        "subject": "Frage",
        "customer_message": "Wie kann ich ein Projekt als CSV exportieren?",
        "channel": "email",
        "customer_tier": "business",
    },
    {
        "subject": "refund",
        "customer_message": "Why was I billed $20 after I cancelled?",
        "channel": "web_form",
        "customer_tier": "free",
    },
]

_RULES = [
    ("billed", ("billing", "p3")),
    ("charged", ("billing", "p3")),
    ("invoice", ("billing", "p3")),
    ("log in", ("account_access", "p2")),
    ("logged into", ("security", "p1")),
    ("cancel", ("cancellation", "p3")),
    ("export", ("how_to", "p4")),
    ("exportieren", ("how_to", "p4")),
    ("add a", ("feature_request", "p4")),
    ("blank", ("bug", "p2")),
]


def triage_answer(inputs: Mapping[str, Any]) -> str:
    """A plausible ``support/triage`` answer for a ticket (category and priority by keyword)."""
    text = str(inputs.get("customer_message", "")).lower()
    category, priority = next((found for word, found in _RULES if word in text), ("other", "p4"))
    answer = {
        "category": category,
        "priority": priority,
        "sentiment": "negative"
        if any(w in text for w in ("why", "can't", "blank", "hurt"))
        else "neutral",
        "language": "de" if "wie " in text else "en",
        "needs_human": category == "security",
        "summary": f"The customer writes about {category.replace('_', ' ')}.",
    }
    return json.dumps(answer)


def example_registry(dest: Path) -> Path:
    """A copy of this repository's registry at ``dest`` (registry, environments, CODEOWNERS)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in ("registry", "environments"):
        shutil.copytree(ROOT / part, dest / part)
    shutil.copy(ROOT / "CODEOWNERS", dest / "CODEOWNERS")
    return dest


def _clock() -> Iterator[float]:
    t = 1_717_000_000.0
    while True:
        t += 7.25
        yield t


def log_requests(
    root: Path,
    events: Path,
    count: int = 24,
    *,
    env: str = "staging",
    hostile_at: Sequence[int] = (),
    no_response_at: Sequence[int] = (),
) -> list[str]:
    """Serve ``count`` triage requests from ``root`` and write their events to ``events``.

    Returns the request ids, in order. Requests at ``hostile_at`` get
    :data:`HOSTILE` as their response; those at ``no_response_at`` log an
    outcome without one (they cannot be reviewed).
    """
    sink = MemorySink()
    ticks = _clock()
    client = PromptClient.from_registry(
        root, env=env, sink=sink, clock=lambda: next(ticks), capture=ResponseCapture()
    )
    ids = []
    for i in range(count):
        ticket = TICKETS[i % len(TICKETS)]
        result = client.get(PROMPT).render(**ticket)
        assert result.ref is not None
        rid = result.ref.request_id
        ids.append(rid)
        response = None
        if i not in no_response_at:
            response = HOSTILE if i in hostile_at else triage_answer(ticket)
        client.record_outcome(
            result,
            latency_ms=420.0 + i,
            accepted=True,
            tokens_in=900,
            tokens_out=60,
            response=response,
        )
    client.close()
    lines = [json.dumps(event, ensure_ascii=False) for event in sink.events]
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def _answer(request: Mapping[str, Any]) -> str:
    """The model stand-in's answer to one chat request: a triage, or a judge's grade."""
    last = str(request["messages"][-1]["content"])
    if "<customer_message>" not in last:
        return json.dumps({"score": 0.9, "reason": "a clean one-liner"})
    body = last.split("<customer_message>\n", 1)[-1].split("\n</customer_message>", 1)[0]
    return triage_answer({"customer_message": body})


if __name__ == "__main__":  # `--provider command`: request JSON on stdin, {"text": …} on stdout
    print(json.dumps({"text": _answer(json.load(sys.stdin))}))
