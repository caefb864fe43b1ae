"""Reports for people and CI: text, markdown (PR comment, step summary) and JUnit XML.

Everything a model wrote is hostile here: in markdown it is escaped so it can
neither close an HTML block, inject markup nor @-mention anyone; in XML the
characters XML 1.0 forbids are dropped and the rest is escaped by ElementTree.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["MAX_MARKDOWN_FAILURES", "to_junit", "to_markdown", "to_text"]

MAX_MARKDOWN_FAILURES = 50
"""Failures listed in markdown; a PR comment holds at most 65,536 characters."""

_MESSAGE_CHARS = 300
_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def _clip(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """Text made inert in GitHub markdown: no HTML, no markup, no mentions, one line."""
    text = _clip(text, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("@", "&#64;")


def _label(suite: Mapping[str, Any]) -> str:
    where = suite["env"] + (f", {suite['variant']}" if suite["variant"] else "")
    return f"{suite['prompt']} [{where}]"


def _failures(result: Mapping[str, Any]) -> list[str]:
    if result["error"] is not None:
        return [f"error: {result['error']}"]
    return [f"{a['type']}: {a['message']}" for a in result["assertions"] if not a["ok"]]


def _source_label(report: Mapping[str, Any]) -> str:
    src = report["source"]
    if src["bundle_digest"]:
        return f"bundle {src['bundle_digest'][:19]}… (release {src['release']})"
    if src["commit"]:
        return f"commit {src['commit'][:12]}"
    return "working tree"


def _provider_label(report: Mapping[str, Any]) -> str:
    p = report["provider"]
    extra = [x for x in (p["model"], p["base_url"]) if x]
    return str(p["name"]) + (f" ({', '.join(extra)})" if extra else "")


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%" if value in (0, 1) else f"{value * 100:.1f}%"


def to_text(report: Mapping[str, Any]) -> str:
    """A terminal summary: one line per suite, then each failure under it."""
    s = report["summary"]
    lines = [f"promptship eval: {_provider_label(report)} on {_source_label(report)}"]
    shard = report["shard"]
    if shard["count"] > 1:
        lines.append(
            f"shard {shard['index']}/{shard['count']}: partial, merge the shards for the verdict"
        )
    width = max((len(_label(x)) for x in report["suites"]), default=0)
    for suite in report["suites"]:
        mark = "ok  " if suite["ok"] else "FAIL"
        counts = f"{suite['passed']}/{suite['cases']}"
        skipped = f", {suite['skipped']} skipped" if suite.get("skipped") else ""
        lines.append(
            f"{mark} {_label(suite):<{width}}  {counts:>7}  {_pct(suite['pass_rate']):>6} "
            f"(min {_pct(suite['min_pass_rate'])}{skipped})"
        )
        for result in suite["results"]:
            for failure in _failures(result):
                lines.append(f"       {result['case']}: {_clip(failure)}")
    if s.get("without_suite"):
        lines.append(f"no eval suite: {', '.join(s['without_suite'])}")
    failed_cases = s["cases"] - s["passed"]
    lines.append(
        f"{s['suites']} suite(s): {s['suites'] - len(s['failed_suites'])} passed, "
        f"{len(s['failed_suites'])} failed; {s['cases']} case(s): {s['passed']} passed, "
        f"{failed_cases} failed, {s.get('skipped', 0)} skipped"
    )
    return "\n".join(lines) + "\n"


def to_markdown(report: Mapping[str, Any]) -> str:
    """A PR comment or ``$GITHUB_STEP_SUMMARY`` section: verdict, table, failures."""
    s = report["summary"]
    total, failed = s["suites"], len(s["failed_suites"])
    head = (
        f"✅ promptship eval: {total} of {total} suites passed"
        if s["ok"]
        else f"❌ promptship eval: {failed} of {total} suites failed"
    )
    out = [f"### {head}", ""]
    out.append(
        f"{_md(_source_label(report))} · provider {_md(_provider_label(report))} · "
        f"{s['cases']} cases run, {s['passed']} passed, {s.get('skipped', 0)} skipped"
    )
    shard = report["shard"]
    if shard["count"] > 1:
        out += [
            "",
            f"> Shard {shard['index']} of {shard['count']}: partial results; merge the shards for the verdict.",
        ]
    if s.get("without_suite"):
        names = ", ".join(f"`{p}`" for p in s["without_suite"])
        out += ["", f"⚠️ No eval suite: {names}"]
    if report["suites"]:
        out += [
            "",
            "| | prompt | env | variant | passed | pass rate | min |",
            "|---|---|---|---|--:|--:|--:|",
        ]
        for suite in report["suites"]:
            out.append(
                f"| {'✅' if suite['ok'] else '❌'} | `{suite['prompt']}` | {suite['env']} | "
                f"{_md(suite['variant'] or 'base')} | {suite['passed']}/{suite['cases']} | "
                f"{_pct(suite['pass_rate'])} | {_pct(suite['min_pass_rate'])} |"
            )
    failures = [
        (suite, result, failure)
        for suite in report["suites"]
        for result in suite["results"]
        for failure in _failures(result)[:1]
    ]
    if failures:
        out += ["", f"<details><summary>{len(failures)} failed case(s)</summary>", ""]
        for suite, result, failure in failures[:MAX_MARKDOWN_FAILURES]:
            out.append(
                f"- `{suite['prompt']}` {_md(suite['env'])} `{result['case']}`: {_md(failure)}"
            )
        if len(failures) > MAX_MARKDOWN_FAILURES:
            out.append(
                f"- … and {len(failures) - MAX_MARKDOWN_FAILURES} more (see the JSON report)"
            )
        out += ["", "</details>"]
    return "\n".join(out) + "\n"


def _xml(text: str) -> str:
    return _XML_BAD.sub("\ufffd", text)


def _seconds(results: Sequence[Mapping[str, Any]]) -> float:
    """The results' model latency in seconds (unknown latencies count as zero)."""
    return sum(r["latency_ms"] or 0 for r in results) / 1000


def _properties(ts: ET.Element, suite: Mapping[str, Any]) -> None:
    """The suite's digests, pass rate and verdict as ``<property>`` elements."""
    props = ET.SubElement(ts, "properties")
    for name in ("prompt", "env", "variant", "version", "suite_digest", "content_digest"):
        value = suite.get(name)
        ET.SubElement(props, "property", name=name, value=_xml(str(value or "")))
    for name in ("pass_rate", "min_pass_rate", "ok", "skipped"):
        ET.SubElement(props, "property", name=name, value=str(suite.get(name, 0)).lower())


def _testcase(ts: ET.Element, classname: str, result: Mapping[str, Any]) -> None:
    """One case: ``<error>`` when it could not be checked, ``<failure>`` when a check failed."""
    tc = ET.SubElement(
        ts,
        "testcase",
        classname=_xml(classname),
        name=_xml(result["case"]),
        time=f"{(result['latency_ms'] or 0) / 1000:.3f}",
    )
    if result["error"] is not None:
        el = ET.SubElement(tc, "error", message=_xml(_clip(result["error"])), type="error")
        el.text = _xml(result["error"])
    elif not result["ok"]:
        failed = _failures(result)
        el = ET.SubElement(
            tc,
            "failure",
            message=_xml(_clip(failed[0] if failed else "failed")),
            type="assertion",
        )
        el.text = _xml("\n".join(failed))


def _testsuite(root: ET.Element, suite: Mapping[str, Any]) -> None:
    """One suite: its counts, its properties and a ``testcase`` per result."""
    results = suite["results"]
    n_err = sum(1 for r in results if r["error"] is not None)
    n_fail = sum(1 for r in results if not r["ok"] and r["error"] is None)
    ts = ET.SubElement(
        root,
        "testsuite",
        name=_xml(_label(suite)),
        tests=str(len(results)),
        failures=str(n_fail),
        errors=str(n_err),
        skipped="0",
        time=f"{_seconds(results):.3f}",
    )
    _properties(ts, suite)
    classname = ".".join(x for x in (suite["prompt"], suite["env"], suite["variant"]) if x)
    for result in results:
        _testcase(ts, classname, result)


def to_junit(report: Mapping[str, Any]) -> bytes:
    """JUnit XML: one ``testsuite`` per prompt, environment and variant; one ``testcase`` per case.

    Assertion failures are ``<failure>``, cases that could not be checked
    ``<error>``; the suite's digests and pass rate are ``<property>`` values.
    """
    s = report["summary"]
    errors = s.get("errors", 0)
    total_time = _seconds([r for x in report["suites"] for r in x["results"]])
    root = ET.Element(
        "testsuites",
        name="promptship eval",
        tests=str(s["cases"]),
        failures=str(s["cases"] - s["passed"] - errors),
        errors=str(errors),
        time=f"{total_time:.3f}",
    )
    for suite in report["suites"]:
        _testsuite(root, suite)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
