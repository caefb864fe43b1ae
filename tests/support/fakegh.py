"""A stand-in for the ``gh`` CLI: the few calls the workflows make, against a JSON file.

The pipeline test puts a ``gh`` shim on PATH that runs this file. The state
(pull requests, issue comments, reviews, the merge queue, teams) lives in
``$FAKE_GH_STATE`` (locked while a call runs, so jobs may run side by side);
every call is appended to its ``calls`` list with the token it came with, so
tests can assert what a workflow did on GitHub. As GitHub's REST API does,
lists come in pages of 30 (``--paginate`` prints every page's JSON back to
back, and applies ``--jq`` per page, as gh does; without it only the first
page), a comment records who posted it (the workflow token posts as
``github-actions[bot]``), and ``api graphql`` answers the merge-queue query.
``--jq`` filters run through the real ``jq -r``. Anything else exits 2, loudly.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any


def _state_path() -> Path:
    return Path(os.environ["FAKE_GH_STATE"])


def _load() -> dict[str, Any]:
    return json.loads(_state_path().read_text())


def _save(state: dict[str, Any]) -> None:
    _state_path().write_text(json.dumps(state, indent=2))


def _fail(message: str) -> int:
    print(f"fake gh: {message}", file=sys.stderr)
    return 2


PAGE = 30
"""GitHub's default page size."""
LOGINS = {
    "ghs_workflow_token": "github-actions[bot]",
    "ghs_app_installation_token": "promptship[bot]",
}
"""Who a token posts as."""


def _out(value: Any, jq: str | None) -> None:
    text = json.dumps(value)
    if jq is None:
        print(text)
        return
    done = subprocess.run(["jq", "-r", jq], input=text, capture_output=True, text=True, check=True)
    sys.stdout.write(done.stdout)


def _pages(items: list[Any], jq: str | None, paginate: bool) -> None:
    """A list as GitHub pages it: every page with --paginate, else the first."""
    pages = [items[i : i + PAGE] for i in range(0, len(items), PAGE)] or [[]]
    for page in pages if paginate else pages[:1]:
        _out(page, jq)


def _options(args: list[str], flags: set[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``--name value`` pairs (repeatable) and the positional words; ``flags`` take no value."""
    opts: dict[str, list[str]] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and a not in flags:
            opts.setdefault(a, []).append(args[i + 1])
            i += 2
        elif a in flags:
            opts.setdefault(a, []).append("")
            i += 1
        else:
            rest.append(a)
            i += 1
    return opts, rest


def _field(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        key, _, value = v.partition("=")
        out[key] = Path(value[1:]).read_text() if value.startswith("@") else value
    return out


def _pr(state: dict[str, Any], number: int) -> dict[str, Any]:
    for pr in state["prs"]:
        if pr["number"] == number:
            return pr
    raise SystemExit(_fail(f"no pull request {number}"))


def api(state: dict[str, Any], args: list[str]) -> int:
    opts, rest = _options(args, {"--paginate"})
    method = opts.get("--method", ["GET"])[0]
    jq = opts.get("--jq", [None])[0]
    paginate = "--paginate" in opts
    fields = _field(opts.get("-F", []) + opts.get("-f", []))
    (path,) = rest
    if path == "graphql":
        return _graphql(state, fields, jq)
    repo = re.escape(state["repo"])
    if m := re.fullmatch(rf"repos/{repo}/issues/(\d+)/comments", path):
        number = int(m[1])
        if method == "GET":
            found = [c for c in state["comments"] if c["issue"] == number]
            shown = [
                {"id": c["id"], "user": {"login": c["user"]}, "body": c["body"]} for c in found
            ]
            _pages(shown, jq, paginate)
            return 0
        if method == "POST":
            state["next_id"] += 1
            user = LOGINS.get(os.environ.get("GH_TOKEN", ""), "someone")
            comment = {
                "id": state["next_id"],
                "issue": number,
                "user": user,
                "body": fields["body"],
            }
            state["comments"].append(comment)
            _out(comment, jq)
            return 0
    if (m := re.fullmatch(rf"repos/{repo}/issues/comments/(\d+)", path)) and method == "PATCH":
        for c in state["comments"]:
            if c["id"] == int(m[1]):
                c["body"] = fields["body"]
                _out(c, jq)
                return 0
        return _fail(f"no comment {m[1]}")
    if (m := re.fullmatch(rf"repos/{repo}/pulls/(\d+)/reviews", path)) and method == "GET":
        _pages(_pr(state, int(m[1])).get("reviews", []), jq, paginate)
        return 0
    if (m := re.fullmatch(r"orgs/([\w.-]+)/teams", path)) and method == "GET":
        teams = state.get("teams", {}).get(m[1], {})
        _pages([{"slug": slug} for slug in teams], jq, paginate)
        return 0
    if (m := re.fullmatch(r"orgs/([\w.-]+)/teams/([\w.-]+)/members", path)) and method == "GET":
        members = state.get("teams", {}).get(m[1], {}).get(m[2], [])
        _pages([{"login": login} for login in members], jq, paginate)
        return 0
    return _fail(f"unsupported api call {method} {path}")


def _graphql(state: dict[str, Any], fields: dict[str, str], jq: str | None) -> int:
    """The merge-queue query of pr.yml (entries of the queue of one branch)."""
    if "mergeQueue" not in fields.get("query", "") or fields.get("branch") is None:
        return _fail("unsupported graphql query")
    if f"{fields['owner']}/{fields['name']}" != state["repo"]:
        return _fail("graphql: wrong repository")
    entries = state.get("merge_queue", [])
    nodes = [
        {
            "position": e["position"],
            "baseCommit": {"oid": e["base"]},
            "headCommit": {"oid": e["head"]},
            "pullRequest": {
                "number": e["number"],
                "headRefOid": _pr(state, e["number"])["head_sha"],
                "author": {"login": _pr(state, e["number"])["author"]},
            },
        }
        for e in entries
    ]
    data = {"data": {"repository": {"mergeQueue": {"entries": {"nodes": nodes}}}}}
    _out(data, jq)
    return 0


def pr(state: dict[str, Any], args: list[str]) -> int:
    verb, *args = args
    opts, rest = _options(args, set())
    if opts.get("--repo", [state["repo"]])[0] != state["repo"]:
        return _fail("wrong --repo")
    jq = opts.get("--jq", [None])[0]
    if verb == "view":
        p = _pr(state, int(rest[0]))
        _out(
            {"number": p["number"], "author": {"login": p["author"]}, "headRefOid": p["head_sha"]},
            jq,
        )
        return 0
    if verb == "list":
        head, status = opts["--head"][0], opts["--state"][0].upper()
        found = [p for p in state["prs"] if p["head"] == head and p["state"] == status]
        _out([{"number": p["number"]} for p in found], jq)
        return 0
    if verb == "create":
        number = max([p["number"] for p in state["prs"]], default=0) + 1
        body = Path(opts["--body-file"][0]).read_text()
        state["prs"].append(
            {
                "number": number,
                "author": "promptship-bot[bot]",
                "head": opts["--head"][0],
                "base": opts["--base"][0],
                "title": opts["--title"][0],
                "body": body,
                "state": "OPEN",
                "head_sha": None,
                "reviews": [],
            }
        )
        print(f"https://github.example/{state['repo']}/pull/{number}")
        return 0
    if verb == "edit":
        p = _pr(state, int(rest[0]))
        p["title"] = opts["--title"][0]
        p["body"] = Path(opts["--body-file"][0]).read_text()
        return 0
    return _fail(f"unsupported pr {verb}")


def main(argv: list[str]) -> int:
    with open(str(_state_path()) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = _load()
        state["calls"].append({"args": argv, "token": os.environ.get("GH_TOKEN")})
        try:
            if argv[:1] == ["api"]:
                rc = api(state, argv[1:])
            elif argv[:1] == ["pr"]:
                rc = pr(state, argv[1:])
            else:
                rc = _fail(f"unsupported command {argv[:2]}")
        finally:
            _save(state)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
