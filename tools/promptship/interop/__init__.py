"""Moving prompts between promptship and other systems: ``import`` and ``export``.

Owns: the template converter (:mod:`.templates`: mustache, Handlebars,
f-string and double-brace templates to the sandbox's Jinja with literal text
escaped, pure), source prompts and what they become (:mod:`.model`, pure),
source names as ids (:mod:`.names`, pure), overlays between versions
(:mod:`.overlays`, pure), one reader per source system (:mod:`.sources`:
Dotprompt, Prompty, OpenAI prompt objects, Langfuse, MLflow, LangChain,
promptfoo; pure), the hosted services' APIs (:mod:`.services`, HTTP), the plan
of an import (:mod:`.plan`), the all-or-nothing import (:mod:`.imports`) and
the exporters (:mod:`.exports`).

May import: :mod:`promptship.core`, :mod:`promptship.fs`, :mod:`promptship.git`,
:mod:`promptship.schemas`, :mod:`promptship.registry`.
"""
