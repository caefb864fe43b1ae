"""Validation split across forked processes finds exactly what one process finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptship import registry
from promptship.core.errors import UsageError
from promptship.core.model import Finding
from promptship.registry.files import DirectorySnapshot
from tests.benchmarks.synth import generate, prompt_path


@pytest.fixture(scope="module")
def broken_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parallel")
    generate(root, 600)
    for i, (old, new) in {
        3: ("temperature: 0.3", "temperature: 9"),  # schema: over the maximum
        101: ("{{ question }}", "{{ questoin }}"),  # undeclared and unused inputs
        250: ("id: system", "id: user"),  # duplicate message id
        599: ('owner: "@acme/', 'owner: "@nobody/'),  # owner not in CODEOWNERS
    }.items():
        ns, name = prompt_path(i)
        path = root / "registry" / ns / f"{name}.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    # prompts that do not load (an overlay for the first stays: it names a prompt
    # whose file does not load), and experiments that make the shared checks read
    # prompts: one that loads, one that does not
    for i, text in {400: "id: [unclosed\n", 401: "- a list, not a mapping\n"}.items():
        ns, name = prompt_path(i)
        (root / "registry" / ns / f"{name}.yaml").write_text(text)
    experiments = "".join(
        f"  - id: e{i}\n    prompt: {'/'.join(prompt_path(i))}\n    unit: user_id\n"
        f"    split: {{base: 50, fast: 50}}\n"
        for i in (5, 400)
    )
    env = root / "environments" / "production.yaml"
    env.write_text(env.read_text() + "experiments:\n" + experiments)
    return root


def test_forked_validation_equals_serial(broken_registry: Path) -> None:
    # forked, workers parse and check their share of the prompts; this process
    # parses only the prompts the shared checks read
    loaded, serial = registry.validate(DirectorySnapshot(broken_registry), jobs=1)
    spread, forked = registry.validate(DirectorySnapshot(broken_registry), jobs=3)
    assert serial == forked
    assert sorted(spread.prompts) == sorted(loaded.prompts)  # the broken two are not prompts
    assert len(spread.prompts) == 598
    assert sorted(spread.findings, key=Finding.sort_key) == sorted(
        loaded.findings, key=Finding.sort_key
    )
    codes = {f.code for f in serial}
    assert {"inputs.undeclared", "inputs.unused", "owners.mismatch"} <= codes
    broken = {
        f.location.file for f in serial if f.location and f.location.file.startswith("registry/")
    }
    assert broken == {
        f"registry/{ns}/{name}.yaml"
        for ns, name in (prompt_path(i) for i in (3, 101, 250, 400, 401, 599))
    }
    assert {"yaml", "yaml.not-a-mapping", "experiment.variant", "experiment.prompt"} <= codes


def test_validate_leaves_the_garbage_collector_as_it_was(broken_registry: Path) -> None:
    # validate pauses cyclic collection while loading and freezes the loaded
    # registry while checking: both are undone, whichever way it returns.
    import gc

    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    registry.validate(DirectorySnapshot(broken_registry), jobs=1)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    with pytest.raises(AttributeError):
        registry.validate(None, jobs=1)  # type: ignore[arg-type]  # fails inside the load
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_file_no_worker_could_read_is_the_error_one_process_raises(tmp_path: Path) -> None:
    # workers read a working tree's files themselves; one they cannot read (a
    # symbolic link here) is read again by the parent, which raises its error:
    # the first such prompt's, as one process does
    generate(tmp_path, 600)
    for i in (321, 17):
        ns, name = prompt_path(i)
        path = tmp_path / "registry" / ns / f"{name}.yaml"
        path.unlink()
        path.symlink_to(tmp_path / "CODEOWNERS")
    errors = []
    for jobs in (1, 2):
        with pytest.raises(UsageError) as caught:
            registry.validate(DirectorySnapshot(tmp_path), jobs=jobs)
        errors.append((caught.value.message, caught.value.hint))
    ns, name = sorted([prompt_path(17), prompt_path(321)])[0]
    assert errors[0] == errors[1]
    assert errors[0][0] == f"registry/{ns}/{name}.yaml: symbolic links are not read"
