"""A bundle's documents, ``prompts/<id>.json`` and ``environment.json``: the writers and the readers; pure.

The writers (:func:`prompt_document`, :func:`environment_document`) turn a registry's
resolved views into the JSON a bundle ships. The readers (:func:`read_prompt_document`,
:func:`read_environment_document`) are the one way back: every consumer (the client,
evals of a bundle, ``bundle inspect``, ``bundle diff``) gets the same typed, checked
values, and a document that is not what the writer writes (a missing or unknown field,
a wrong type, an impossible value, nesting too deep to parse) is a ``BundleError``
naming the bundle file. A signature proves who built a bundle, not that its builder
wrote sound documents.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from promptship.core import jsonlimits
from promptship.core.errors import BundleError, ValidationFailed
from promptship.release.canonical import MAX_DOCUMENT_DEPTH, Checker, canonical, show

if TYPE_CHECKING:  # the writers' (core.views too): a client reading a bundle never loads them
    from promptship.core.model import RegistryFiles
    from promptship.core.templates import TemplateEngine
    from promptship.registry.checks import ResolvedViews

__all__ = [
    "BUNDLE_ENV_SCHEMA",
    "BUNDLE_PROMPT_SCHEMA",
    "ENVIRONMENT_MEMBER",
    "BundleDocuments",
    "BundleExperiment",
    "EnvironmentDocument",
    "PromptDocument",
    "content_digest",
    "environment_document",
    "prompt_document",
    "prompt_id_of",
    "prompt_ids",
    "prompt_member",
    "read_bundle_documents",
    "read_environment_document",
    "read_prompt_document",
]

BUNDLE_PROMPT_SCHEMA = "promptship.bundle-prompt/v1"
BUNDLE_ENV_SCHEMA = "promptship.bundle-environment/v1"
ENVIRONMENT_MEMBER = "environment.json"
"""The bundle file holding the environment's policy and experiments."""

_PREFIX, _SUFFIX = "prompts/", ".json"
_PROMPT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}/[a-z0-9][a-z0-9_-]{0,63}\Z")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_VERSION = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?\Z")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}\Z")
_COMMIT = re.compile(r"^[0-9a-f]{40}\Z")
_TEXT = re.compile(r".", re.DOTALL)  # a non-empty string
_HINT = "the bundle was not built by promptship, or its documents were altered before signing"


# --- members ------------------------------------------------------------------------


def prompt_member(prompt_id: str) -> str:
    """The bundle file of a prompt: ``prompts/<id>.json``."""
    return f"{_PREFIX}{prompt_id}{_SUFFIX}"


def prompt_id_of(path: str) -> str | None:
    """The prompt id a bundle file holds, or ``None`` when it is not a prompt document."""
    if path.startswith(_PREFIX) and path.endswith(_SUFFIX):
        return path[len(_PREFIX) : -len(_SUFFIX)]
    return None


def prompt_ids(files: Mapping[str, bytes]) -> list[str]:
    """The ids of every prompt document among a bundle's files, sorted."""
    return sorted(pid for path in files if (pid := prompt_id_of(path)) is not None)


# --- writing ------------------------------------------------------------------------


def content_digest(
    view: Mapping[str, Any], variants: Mapping[str, Any], fragments: Mapping[str, str]
) -> str:
    """``sha256:…`` of what a prompt serves: its view, its variants and the fragments it includes."""
    body = canonical({"view": view, "variants": variants, "fragments": fragments})
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _includes(
    engine: TemplateEngine, view: Mapping[str, Any], resolved: ResolvedViews | None
) -> set[str]:
    """The fragments a view's templates include: from validation's analyses when it made them."""
    from promptship.core.views import template_sources

    names: set[str] = set()
    for _, source in template_sources(view):
        analysis = resolved.analyses.get(source) if resolved is not None else None
        names |= analysis.includes if analysis is not None else engine.includes(source)
    return names


def _view(
    files: RegistryFiles,
    prompt_id: str,
    env: str,
    variant: str | None,
    resolved: ResolvedViews | None,
) -> Mapping[str, Any]:
    """A view of the prompt: the one validation resolved, when it did; else resolved here."""
    if resolved is not None and resolved.env == env:
        kept = resolved.views.get((prompt_id, variant))
        if kept is not None:
            return kept
    from promptship.core.views import resolve

    view, problems = resolve(files, prompt_id, env, variant)
    if problems and variant is None:
        raise ValidationFailed(
            f"{prompt_id} does not resolve in {env}: {problems[0].message}",
            location=problems[0].location,
        )
    if problems:
        raise ValidationFailed(
            f"{prompt_id} variant {variant} does not resolve in {env}: {problems[0].message}"
        )
    return view.data


def prompt_document(
    files: RegistryFiles,
    prompt_id: str,
    env: str,
    engine: TemplateEngine,
    resolved: ResolvedViews | None = None,
) -> dict[str, Any]:
    """The bundle document of one prompt in one environment (JSON values).

    Args:
        files: The registry.
        prompt_id: The prompt.
        env: The environment.
        engine: A template engine over the registry's fragments.
        resolved: What validating ``files`` resolved and analysed (a bundle build
            passes it, so no view is resolved and no template analysed twice).

    Raises:
        ValidationFailed: The prompt or one of its variants does not resolve in ``env``.
    """
    from promptship.core.views import variant_names

    view = _view(files, prompt_id, env, None, resolved)
    variants: dict[str, Any] = {}
    used = _includes(engine, view, resolved)
    for name in variant_names(files, prompt_id):
        variants[name] = _view(files, prompt_id, env, name, resolved)
        used |= _includes(engine, variants[name], resolved)
    fragments = {name: engine.fragments[name] for name in sorted(used)}
    return {
        "schema": BUNDLE_PROMPT_SCHEMA,
        "id": prompt_id,
        "version": view["version"],
        "env": env,
        "content_digest": content_digest(view, variants, fragments),
        "view": view,
        "variants": variants,
        "fragments": fragments,
    }


def environment_document(
    files: RegistryFiles, env: str, release: int, source_commit: str
) -> dict[str, Any]:
    """``environment.json``: what the client needs to know of the environment (JSON values)."""
    data = files.environments[env].data
    doc: dict[str, Any] = {
        "schema": BUNDLE_ENV_SCHEMA,
        "environment": env,
        "release": release,
        "source_commit": source_commit,
        "policy": data.get("policy", {}),
        "experiments": data.get("experiments", []),
    }
    if "promotes_from" in data:
        doc["promotes_from"] = data["promotes_from"]
    return doc


# --- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptDocument:
    """A prompt as its bundle serves it (``prompts/<id>.json``), checked.

    Attributes:
        id: The prompt's id.
        version: Its version.
        env: The environment it was resolved for.
        content_digest: ``sha256:…`` of its view, variants and fragments.
        view: The resolved prompt (defaults and overlays applied).
        variants: Each variant's resolved prompt, by name.
        fragments: The text of every fragment its templates include, by id.
    """

    id: str
    version: str
    env: str
    content_digest: str
    view: Mapping[str, Any]
    variants: Mapping[str, Mapping[str, Any]]
    fragments: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, as :func:`prompt_document` writes it."""
        return {
            "schema": BUNDLE_PROMPT_SCHEMA,
            "id": self.id,
            "version": self.version,
            "env": self.env,
            "content_digest": self.content_digest,
            "view": self.view,
            "variants": dict(self.variants),
            "fragments": dict(self.fragments),
        }


@dataclass(frozen=True)
class BundleExperiment:
    """An experiment as ``environment.json`` states it (the client compiles its split).

    Attributes:
        id: The experiment's id.
        prompt: The prompt it runs on.
        unit: What is randomised (the key callers pass as ``unit=``).
        split: Arm (``base`` or a variant name) to its weight.
        description: What it is for, when given.
    """

    id: str
    prompt: str
    unit: str
    split: Mapping[str, int]
    description: str | None = None


@dataclass(frozen=True)
class EnvironmentDocument:
    """A bundle's ``environment.json``, checked.

    Attributes:
        environment: The environment.
        release: The release number.
        source_commit: The commit the content was read at.
        policy: The environment's policy (``min_pass_rate``, expiry days, ``x-`` fields …).
        experiments: Its experiments.
        promotes_from: The environment it is promoted from, if any.
    """

    environment: str
    release: int
    source_commit: str
    policy: Mapping[str, Any]
    experiments: tuple[BundleExperiment, ...]
    promotes_from: str | None = None


def _parse(data: bytes, member: str) -> dict[str, Any]:
    """The JSON object a bundle file holds. ``NaN`` and ``Infinity`` are refused."""
    try:
        doc = jsonlimits.loads(data, max_depth=MAX_DOCUMENT_DEPTH)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise BundleError(f"bundle file {member} is not JSON: {str(e)[:200]}", hint=_HINT) from None
    if not isinstance(doc, dict):
        raise BundleError(f"bundle file {member} is not a JSON object", hint=_HINT)
    return doc


def _checker(member: str, schema: str) -> Checker:
    return Checker(f"bundle file {member} is not a {schema} document", BundleError, hint=_HINT)


def _schema(c: Checker, doc: Mapping[str, Any], schema: str) -> None:
    if doc["schema"] != schema:
        raise c.fail("schema", f"must be {schema!r}, not {show(doc['schema'])}")


def _check_model(c: Checker, value: Any, where: str) -> None:
    model = c.mapping(value, where)
    c.string(model.get("provider"), f"{where}.provider", _TEXT, "a non-empty string")
    c.string(model.get("name"), f"{where}.name", _TEXT, "a non-empty string")
    if "parameters" in model:
        c.mapping(model["parameters"], f"{where}.parameters")


def _check_inputs(c: Checker, value: Any, where: str) -> None:
    inputs = c.mapping(value, where)
    properties = c.mapping(inputs.get("properties", {}), f"{where}.properties")
    for name, prop in properties.items():
        c.mapping(prop, f"{where}.properties.{name}")
    required = inputs.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise c.fail(f"{where}.required", f"must be a list of input names, not {show(required)}")


def _check_templates(c: Checker, view: Mapping[str, Any], where: str) -> None:
    if ("text" in view) == ("messages" in view):
        raise c.fail(where, "must have either text or messages")
    if "text" in view:
        c.string(view["text"], f"{where}.text", _TEXT, "a non-empty string")
        return
    messages = view["messages"]
    if not isinstance(messages, list) or not messages:
        raise c.fail(f"{where}.messages", f"must be a non-empty list, not {show(messages)}")
    for i, item in enumerate(messages):
        at = f"{where}.messages[{i}]"
        message = c.mapping(item, at)
        c.string(message.get("role"), f"{at}.role", _TEXT, "a non-empty string")
        content = message.get("content")
        if isinstance(content, list) and content:
            for j, part in enumerate(content):
                _check_part(c, part, f"{at}.content[{j}]")
        else:
            c.string(content, f"{at}.content", _TEXT, "a non-empty string or a list of parts")


def _check_part(c: Checker, value: Any, at: str) -> None:
    part = c.mapping(value, at)
    kind = part.get("type")
    if kind not in ("text", "image", "file"):
        raise c.fail(f"{at}.type", f"must be text, image or file, not {show(kind)}")
    key = "text" if kind == "text" else "input"
    c.string(part.get(key), f"{at}.{key}", _TEXT, "a non-empty string")


def _check_tools(c: Checker, value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise c.fail(where, f"must be a list of tools, not {show(value)}")
    for i, item in enumerate(value):
        tool = c.mapping(item, f"{where}[{i}]")
        for key in ("name", "description"):
            c.string(tool.get(key), f"{where}[{i}].{key}", _TEXT, "a non-empty string")
        c.mapping(tool.get("parameters"), f"{where}[{i}].parameters")


def _check_view(c: Checker, value: Any, where: str) -> dict[str, Any]:
    """The parts of a resolved prompt its consumers rely on; other fields are the prompt's own."""
    view = c.mapping(value, where)
    _check_model(c, view.get("model"), f"{where}.model")
    _check_inputs(c, view.get("inputs"), f"{where}.inputs")
    if "output" in view:
        c.mapping(view["output"], f"{where}.output")
    if "tools" in view:
        _check_tools(c, view["tools"], f"{where}.tools")
    _check_templates(c, view, where)
    return view


def _check_variants(c: Checker, value: Any) -> dict[str, Mapping[str, Any]]:
    variants = c.mapping(value, "variants")
    for name, view in variants.items():
        c.string(name, "variants", _NAME, "a map of variant names")
        _check_view(c, view, f"variants.{name}")
    return variants


def _check_fragments(c: Checker, value: Any) -> dict[str, str]:
    fragments = c.mapping(value, "fragments")
    for name, text in fragments.items():
        if not isinstance(text, str):
            raise c.fail(f"fragments.{name}", f"must be a string, not {show(text)}")
    return fragments


def read_prompt_document(data: bytes, *, prompt_id: str, env: str) -> PromptDocument:
    """Read ``prompts/<prompt_id>.json`` of a bundle for ``env``, strictly.

    Raises:
        BundleError: Naming the bundle file: not JSON (or nested too deep), not an
            object, a missing or unknown field, a field of the wrong type or form,
            or an id or environment other than the file's.
    """
    member = prompt_member(prompt_id)
    doc = _parse(data, member)
    c = _checker(member, BUNDLE_PROMPT_SCHEMA)
    fields = {"schema", "id", "version", "env", "content_digest", "view", "variants", "fragments"}
    c.keys(doc, fields, set())
    _schema(c, doc, BUNDLE_PROMPT_SCHEMA)
    if c.string(doc["id"], "id", _PROMPT_ID, "a prompt id") != prompt_id:
        raise c.fail("id", f"must be the file's prompt id {prompt_id!r}, not {show(doc['id'])}")
    if c.string(doc["env"], "env", _ENV, "an environment name") != env:
        raise c.fail("env", f"must be the bundle's environment {env!r}, not {show(doc['env'])}")
    return PromptDocument(
        id=prompt_id,
        version=c.string(doc["version"], "version", _VERSION, "a MAJOR.MINOR.PATCH version"),
        env=env,
        content_digest=c.string(
            doc["content_digest"], "content_digest", _DIGEST, "a sha256:<64 hex> digest"
        ),
        view=_check_view(c, doc["view"], "view"),
        variants=_check_variants(c, doc["variants"]),
        fragments=_check_fragments(c, doc["fragments"]),
    )


def _check_split(c: Checker, value: Any, where: str) -> dict[str, int]:
    split = c.mapping(value, where)
    for arm, weight in split.items():
        c.string(arm, where, _NAME, "a map of arm names")
        c.integer(weight, f"{where}.{arm}", 0)
    return split


def _check_experiment(c: Checker, value: Any, where: str) -> BundleExperiment:
    item = c.mapping(value, where)
    c.keys(item, {"id", "prompt", "unit", "split"}, {"description"}, f"{where}.")
    description = item.get("description")
    if description is not None and not isinstance(description, str):
        raise c.fail(f"{where}.description", f"must be a string, not {show(description)}")
    return BundleExperiment(
        id=c.string(item["id"], f"{where}.id", _NAME, "an experiment id"),
        prompt=c.string(item["prompt"], f"{where}.prompt", _PROMPT_ID, "a prompt id"),
        unit=c.string(item["unit"], f"{where}.unit", _TEXT, "a non-empty string"),
        split=_check_split(c, item["split"], f"{where}.split"),
        description=description,
    )


def read_environment_document(
    files: Mapping[str, bytes], *, env: str, release: int
) -> EnvironmentDocument:
    """Read a bundle's ``environment.json`` (for environment ``env``, release ``release``), strictly.

    Raises:
        BundleError: Naming the file: missing, not JSON, not an object, a missing or
            unknown field, a field of the wrong type or form, or another environment
            or release than the bundle's.
    """
    if ENVIRONMENT_MEMBER not in files:
        raise BundleError(f"bundle has no {ENVIRONMENT_MEMBER}", hint=_HINT)
    doc = _parse(files[ENVIRONMENT_MEMBER], ENVIRONMENT_MEMBER)
    c = _checker(ENVIRONMENT_MEMBER, BUNDLE_ENV_SCHEMA)
    required = {"schema", "environment", "release", "source_commit", "policy", "experiments"}
    c.keys(doc, required, {"promotes_from"})
    _schema(c, doc, BUNDLE_ENV_SCHEMA)
    if c.string(doc["environment"], "environment", _ENV, "an environment name") != env:
        raise c.fail("environment", f"must be the bundle's {env!r}, not {show(doc['environment'])}")
    if c.integer(doc["release"], "release", 0) != release:
        raise c.fail("release", f"must be the bundle's {release}, not {show(doc['release'])}")
    promotes_from = doc.get("promotes_from")
    if promotes_from is not None:
        c.string(promotes_from, "promotes_from", _ENV, "an environment name")
    experiments = doc["experiments"]
    if not isinstance(experiments, list):
        raise c.fail("experiments", f"must be a list, not {show(experiments)}")
    return EnvironmentDocument(
        environment=env,
        release=release,
        source_commit=c.string(doc["source_commit"], "source_commit", _COMMIT, "40 hex digits"),
        policy=c.mapping(doc["policy"], "policy"),
        experiments=tuple(
            _check_experiment(c, item, f"experiments[{i}]") for i, item in enumerate(experiments)
        ),
        promotes_from=promotes_from,
    )


@dataclass(frozen=True)
class BundleDocuments:
    """Every document of a bundle, read strictly.

    Attributes:
        environment: Its ``environment.json``.
        prompts: Its prompt documents, in file path order.
    """

    environment: EnvironmentDocument
    prompts: tuple[PromptDocument, ...]


def read_bundle_documents(files: Mapping[str, bytes], *, env: str, release: int) -> BundleDocuments:
    """Read every document of a bundle for ``env`` and ``release`` (inspecting, comparing).

    Raises:
        BundleError: As :func:`read_environment_document` and :func:`read_prompt_document`,
            for the first bad document.
    """
    environment = read_environment_document(files, env=env, release=release)
    prompts = tuple(
        read_prompt_document(files[path], prompt_id=pid, env=env)
        for path in sorted(files)
        if (pid := prompt_id_of(path)) is not None
    )
    return BundleDocuments(environment, prompts)
