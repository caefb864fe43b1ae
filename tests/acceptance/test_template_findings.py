"""Template mistakes never stop ``validate``: every finding of the run is reported (issue 17).

An unknown filter once ended the run with ``internal error:
TemplateAssertionError`` (exit 3) and ``--format json`` printed nothing, so the
other findings of the run were lost. Here one prompt has an unknown filter in
a literal block, an unknown test in an overlay, and a second prompt a
misspelled field: all three come back, each at its own line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .conftest import Cli

OVERLAY = """\
messages:
  - id: user
    content: |
      Ticket: {{ ticket }}
      {% if ticket is definde %}(no text){% endif %}
"""


def test_validate_reports_every_template_mistake_and_the_rest(
    cli: Cli, copy_case: Callable[[str, str], Path]
) -> None:
    root = copy_case("minimal_chat", "positive")
    prompt = root / "registry/support/triage.yaml"
    prompt.write_text(
        prompt.read_text().replace(
            "    content: You sort tickets.\n",
            "    content: |\n      You sort tickets.\n      Be {{ 'brief' | uppper }}.\n",
        )
    )
    other = root / "registry/support/second.yaml"
    other.write_text(
        prompt.read_text()
        .replace("id: support/triage", "id: support/second")
        .replace("description:", "descripton:")
        .replace(" | uppper", "")
    )
    overlay = root / "environments/staging/support/triage.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(OVERLAY)
    result = cli("validate", "--root", root, "--format", "json")
    assert result.exit == 1, result.err
    found = {(f["file"], f["line"], f["col"], f["message"]) for f in result.json()["findings"]}
    assert found >= {
        (
            "registry/support/triage.yaml",
            24,
            7,
            "template line 2: unknown filter 'uppper'; did you mean 'upper'?",
        ),
        (
            "environments/staging/support/triage.yaml",
            5,
            7,
            "template line 2: unknown test 'definde'; did you mean 'defined'? (in staging)",
        ),
        (
            "registry/support/second.yaml",
            3,
            1,
            "unknown field 'descripton' in prompt: did you mean 'description'?",
        ),
    }, found
