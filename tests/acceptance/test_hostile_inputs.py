"""Hostile files, streams, values and patterns: every one a clean error or finding, within bounds.

Each class is one table of cases run in a child process capped in memory and
CPU, with an alarm per case (``tests/support/bounded.py``): a case that read
``/dev/zero`` to its end, waited on a FIFO, recursed past the stack or
backtracked for hours would be reported missing or hung. Every case must end
with exit 1 or 2 (a finding or a usage error), no "internal error" and no
traceback; cases about a file name it, and findings carry file and line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import evalregistry
from bounded import Case, Outcome, run_cases

HUGE_SPARSE = 64 << 30


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with suites, a FIFO, a sparse 64 GiB file, deep and huge JSON files."""
    base = tmp_path_factory.mktemp("hostile-inputs")
    evalregistry.write(base / "reg")
    os.mkfifo(base / "fifo")
    with (base / "sparse.tar").open("wb") as f:
        f.truncate(HUGE_SPARSE)
    (base / "deep.json").write_text('{"name": ' + _deep(100_000) + "}")
    (base / "big.json").write_bytes(b'{"name": "' + b"x" * (20 << 20) + b'"}')
    (base / "store" / "channels").mkdir(parents=True)
    os.mkfifo(base / "store" / "channels" / "staging.json")
    (base / "sparse.tar.sig").write_text("-----BEGIN SSH SIGNATURE-----\n")
    (base / "signers").write_text(
        "staging@promptship ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIG1JL0Y6XoV9XxvF6a3Vhd7m0K2ZzQy7yC6f2k7tQWc6 k\n"
    )
    (base / "shout.py").write_text("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    return base


def _run(lab: Path, cases: list[Case]) -> dict[str, Outcome]:
    found = run_cases(cases, cwd=lab / "reg", home=lab / "home")
    assert list((lab / "home").iterdir()) == [], "a case wrote into HOME"
    return found


def _greet(*extra: str | Path) -> tuple[str | Path, ...]:
    return ("render", "demo/greet", "--env", "staging", *extra)


# --- unbounded reads ---------------------------------------------------------------------

READS: dict[str, tuple[Callable[[Path], tuple[str | Path, ...]], int, str]] = {
    "inputs-dev-zero": (lambda lab: _greet("--inputs", "/dev/zero"), 2, "character device"),
    "inputs-fifo": (lambda lab: _greet("--inputs", lab / "fifo"), 2, "FIFO"),
    "inputs-folder": (lambda lab: _greet("--inputs", lab), 2, "is a directory"),
    "inputs-20mb": (lambda lab: _greet("--inputs", lab / "big.json"), 2, "over the limit"),
    "bundle-verify-sparse": (
        lambda lab: (
            "bundle",
            "verify",
            lab / "sparse.tar",
            "--env",
            "staging",
            "--allowed-signers",
            lab / "fifo",
        ),
        2,
        "FIFO",
    ),
    "bundle-verify-sparse-signed": (
        lambda lab: (
            "bundle",
            "verify",
            lab / "sparse.tar",
            "--env",
            "staging",
            "--allowed-signers",
            lab / "signers",
        ),
        2,
        "68,719,476,736 bytes is over the limit",
    ),
    "bundle-inspect-sparse": (
        lambda lab: ("bundle", "inspect", lab / "sparse.tar"),
        2,
        "68,719,476,736 bytes",
    ),
    "bundle-inspect-fifo": (lambda lab: ("bundle", "inspect", lab / "fifo"), 2, "FIFO"),
    "bundle-inspect-device": (lambda lab: ("bundle", "inspect", "/dev/zero"), 2, "device"),
    "bundle-sign-key-device": (
        lambda lab: ("bundle", "sign", lab / "sparse.tar", "--key", "/dev/zero"),
        2,
        "device",
    ),
    "eval-merge-fifo": (lambda lab: ("eval", "merge", lab / "fifo"), 2, "FIFO"),
    "eval-merge-device": (lambda lab: ("eval", "merge", "/dev/urandom"), 2, "device"),
    "channel-show-fifo": (
        lambda lab: (
            "channel",
            "show",
            "staging",
            "--store",
            lab / "store",
            "--allowed-signers",
            lab / "fifo",
        ),
        2,
        "FIFO",
    ),
    "import-device": (
        lambda lab: ("import", "/dev/zero", "--from", "dotprompt", "--dry-run"),
        1,
        "it is a character device",
    ),
    "import-fifo": (
        lambda lab: ("import", lab / "fifo", "--from", "prompty", "--dry-run"),
        1,
        "FIFO",
    ),
    "import-sparse": (
        lambda lab: ("import", lab / "sparse.tar", "--from", "dotprompt", "--dry-run"),
        1,
        "68,719,476,736 bytes is over the limit",
    ),
    "eval-command-floods-stdout": (
        lambda lab: (
            "eval",
            "--provider",
            "command",
            "--command",
            f"{sys.executable} {lab / 'shout.py'}",
            "--prompt",
            "demo/greet",
            "--env",
            "staging",
            "--format",
            "json",
        ),
        1,
        "printed more than",
    ),
}


@pytest.fixture(scope="module")
def reads(lab: Path) -> dict[str, Outcome]:
    return _run(lab, [Case(name, make(lab)) for name, (make, _, _) in READS.items()])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", READS, ids=list(READS))
def test_unbounded_reads_are_refused(name: str, reads: dict[str, Outcome]) -> None:
    _, code, says = READS[name]
    got = reads[name]
    assert got.clean, (got.code, got.err[-1500:])
    assert got.code == code, (got.code, got.err[-1500:])
    assert says in got.err + got.out, (got.err[-1500:], got.out[-1500:])


# --- deep and huge values ---------------------------------------------------------------

GREET = "registry/demo/greet.yaml"


def _with(lab: Path, name: str, old: str, new: str) -> Path:
    """A copy of the registry with one line of greet.yaml changed."""
    root = lab / f"values-{name}"
    if not root.exists():
        evalregistry.write(root)
        prompt = root / GREET
        text = prompt.read_text()
        assert old in text
        prompt.write_text(text.replace(old, new, 1))
    return root


VALUES: dict[str, tuple[Callable[[Path], tuple[str | Path, ...]], int, str]] = {
    "input-60000-deep": (lambda lab: _greet("--input", "name:=" + _deep(60_000)), 2, "nesting"),
    "input-985-deep": (lambda lab: _greet("--input", "name:=" + _deep(985)), 2, "nesting"),
    "inputs-file-100000-deep": (lambda lab: _greet("--inputs", lab / "deep.json"), 2, "nesting"),
    "input-5000-digits": (lambda lab: _greet("--input", "name:=" + "9" * 5000), 2, "digits"),
    "input-infinite": (lambda lab: _greet("--input", "name:=1e999"), 2, "too large"),
    "input-nan": (lambda lab: _greet("--input", "name:=NaN"), 2, "NaN"),
    "yaml-5000-digits": (
        lambda lab: (
            "validate",
            "--root",
            _with(lab, "digits", "temperature: 0.5", "temperature: " + "9" * 5000),
        ),
        1,
        "5,000 digits",
    ),
    "yaml-nan-temperature": (
        lambda lab: (
            "validate",
            "--root",
            _with(lab, "nan", "temperature: 0.5", "temperature: .nan"),
        ),
        1,
        "not a number JSON can carry",
    ),
    "yaml-infinite-temperature": (
        lambda lab: (
            "validate",
            "--root",
            _with(lab, "inf", "temperature: 0.5", "temperature: 1e999"),
        ),
        1,
        "too large",
    ),
    "yaml-2**64-minlength": (
        lambda lab: (
            "validate",
            "--root",
            _with(lab, "big", "minLength: 1", f"minLength: {2**64}"),
        ),
        1,
        "too large",
    ),
    "eval-merge-deep-report": (lambda lab: ("eval", "merge", lab / "deep.json"), 2, "nesting"),
    "import-deep-json": (
        lambda lab: ("import", lab / "deep.json", "--from", "langfuse", "--dry-run"),
        1,
        "nesting deeper than 64 levels",
    ),
    "render-nan-temperature": (
        lambda lab: (
            "render",
            "demo/greet",
            "--env",
            "staging",
            "--input",
            "name=x",
            "--root",
            _with(lab, "nan", "temperature: 0.5", "temperature: .nan"),
        ),
        1,
        "not a number JSON can carry",  # the file's own error, not "unknown prompt" (issue 17)
    ),
}


@pytest.fixture(scope="module")
def values(lab: Path) -> dict[str, Outcome]:
    return _run(lab, [Case(name, make(lab)) for name, (make, _, _) in VALUES.items()])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", VALUES, ids=list(VALUES))
def test_deep_and_huge_values_are_refused(name: str, values: dict[str, Outcome]) -> None:
    _, code, says = VALUES[name]
    got = values[name]
    assert got.clean, (got.code, got.err[-1500:])
    assert got.code == code, (got.code, got.err[-1500:], got.out[-1500:])
    assert says in got.err + got.out, (got.err[-1500:], got.out[-1500:])
    if name.startswith("yaml-"):
        findings = json.loads(got.out)["findings"] if got.out.startswith("{") else None
        assert findings is None or all(f["file"] == GREET for f in findings)
        assert f"{GREET}:" in got.out  # the finding names the file and its line


# --- regular expressions ----------------------------------------------------------------

STARS = "*a" * 40 + "b"
EVIL_SUITE = """\
prompt: demo/greet
cases:
  - id: backtracking
    inputs: {name: "NAME"}
    assert:
      - {type: regex, pattern: "(a+)+$"}
      - {type: regex, pattern: "(a|aa)+(b+)*c"}
      - {type: not-regex, pattern: "(.*a){20}"}
"""


def _regex_registry(lab: Path, name: str, changes: dict[str, str]) -> Path:
    root = lab / f"regex-{name}"
    if not root.exists():
        evalregistry.write(root, changes)
    return root


REGEX: dict[str, tuple[Callable[[Path], tuple[str | Path, ...]], int, str]] = {
    "codeowners-many-stars": (
        lambda lab: (
            "validate",
            "--root",
            _regex_registry(lab, "stars", {"CODEOWNERS": f"* @acme/team\n{STARS} @acme/x\n"}),
        ),
        0,
        "ok:",
    ),
    "codeowners-unterminated-class": (
        lambda lab: (
            "validate",
            "--root",
            _regex_registry(lab, "class", {"CODEOWNERS": "* @acme/team\n[abc @acme/x\n"}),
        ),
        0,
        "owners.pattern",
    ),
    "regex-backreference": (
        lambda lab: (
            "validate",
            "--root",
            _regex_registry(
                lab,
                "backref",
                {
                    "registry/demo/greet.evals.yaml": evalregistry.GREET_SUITE.replace(
                        '{type: contains, value: "Bob"}', r"{type: regex, pattern: '(a)\1'}"
                    )
                },
            ),
        ),
        1,
        "invalid pattern",
    ),
    "regex-backtracking-answer": (
        lambda lab: (
            "eval",
            "--provider",
            "echo",
            "--prompt",
            "demo/greet",
            "--env",
            "staging",
            "--root",
            _regex_registry(
                lab,
                "answer",
                {"registry/demo/greet.evals.yaml": EVIL_SUITE.replace("NAME", "a" * 40_000 + "!")},
            ),
        ),
        1,
        "no match",
    ),
    # the render's input check runs the schema's pattern: on RE2, never Python's re
    "input-pattern-backtracking-render": (
        lambda lab: (
            "render",
            "demo/greet",
            "--env",
            "staging",
            "--input",
            "name=" + "a" * 40_000 + "!",
            "--root",
            _regex_registry(
                lab,
                "input",
                {
                    "registry/demo/greet.yaml": evalregistry.GREET.replace(
                        "      minLength: 1\n", "      minLength: 1\n      pattern: '^(a+)+$'\n"
                    )
                },
            ),
        ),
        1,
        "must match pattern",
    ),
    "input-pattern-lookahead-validate": (
        lambda lab: (
            "validate",
            "--root",
            _regex_registry(
                lab,
                "lookahead",
                {
                    "registry/demo/greet.yaml": evalregistry.GREET.replace(
                        "      minLength: 1\n", "      minLength: 1\n      pattern: '^(?=a)'\n"
                    )
                },
            ),
        ),
        1,
        "prompt.input-pattern",
    ),
}


@pytest.fixture(scope="module")
def regexes(lab: Path) -> dict[str, Outcome]:
    return _run(lab, [Case(name, make(lab)) for name, (make, _, _) in REGEX.items()])


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", REGEX, ids=list(REGEX))
def test_user_patterns_never_backtrack(name: str, regexes: dict[str, Outcome]) -> None:
    _, code, says = REGEX[name]
    got = regexes[name]
    assert got.code == code, (got.code, got.err[-1500:], got.out[-1500:])
    assert "internal error" not in got.err
    assert says in got.err + got.out
    assert got.cpu < 60  # the child's RLIMIT_CPU is the bound; this names the case that neared it


# --- quadratic validate -----------------------------------------------------------------


def _wide(lab: Path, messages: int, variants: int) -> Path:
    root = lab / f"wide-{messages}x{variants}"
    msgs = "".join(
        f'  - id: m{i}\n    role: user\n    content: "{{{{ name }}}} {i}"\n'
        for i in range(messages)
    )
    variant = "".join(
        f"  v{i}: {{model: {{parameters: {{temperature: 0.1}}}}}}\n" for i in range(variants)
    )
    text = evalregistry.GREET.split("messages:")[0] + "messages:\n" + msgs + "variants:\n" + variant
    evalregistry.write(root, {GREET: text, "registry/demo/greet.evals.yaml": None})
    return root


WIDE = {"5000x5000": (5000, 5000), "1000x1000": (1000, 1000)}


@pytest.fixture(scope="module")
def wide(lab: Path) -> dict[str, Outcome]:
    cases = [
        Case(name, ("validate", "--root", _wide(lab, m, v), "--format", "json"))
        for name, (m, v) in WIDE.items()
    ]
    return _run(lab, cases)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", WIDE, ids=list(WIDE))
def test_messages_times_variants_is_one_finding_not_minutes(
    name: str, wide: dict[str, Outcome]
) -> None:
    got = wide[name]
    assert got.clean, (got.code, got.err[-1500:])
    findings = json.loads(got.out)["findings"]
    too_large = [f for f in findings if f["code"] == "prompt.too-large"]
    assert len(too_large) == 1, findings[:3]
    assert too_large[0]["file"] == GREET
    assert too_large[0]["line"] > 0
    assert got.cpu < 30


def test_every_class_has_its_table() -> None:
    assert len(READS) >= 12
    assert len(VALUES) >= 10
    assert len(REGEX) >= 4
