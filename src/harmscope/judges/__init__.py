"""Judges: read a response and return a Verdict (refusal, harm, categories) or ``unscored``.

``load_judge(spec)`` takes a registered name with optional options, ``name`` or
``name:option=value,option=value`` (``llm:target=hf/default``). Registered:

* ``keyword`` — multilingual refusal phrases, the transparent baseline;
* ``embedding`` — refusal and harm classifiers on sentence embeddings (shipped weights);
* ``llm`` — an LLM-as-judge through any Target with a rubric prompt;
* ``ensemble`` — combines other judges;
* ``fixed`` — a deterministic fake for plumbing tests.
"""

from __future__ import annotations

from collections.abc import Callable

from harmscope.errors import HarmscopeError
from harmscope.judges.base import Judge
from harmscope.registry import Registry

__all__ = ["Judge", "JudgeFactory", "load_judge", "parse_judge_spec", "registry"]

JudgeFactory = Callable[..., Judge]
"""``factory(**options) -> Judge``; options come from the spec as strings."""

registry: Registry[JudgeFactory] = Registry("judge")
registry.add_lazy("keyword", "harmscope.judges.keyword:create")
registry.add_lazy("embedding", "harmscope.judges.embedding:create")
registry.add_lazy("llm", "harmscope.judges.llm:create")
registry.add_lazy("ensemble", "harmscope.judges.ensemble:create")
registry.add_lazy("fixed", "harmscope.judges.fixed:create")


def parse_judge_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``name:key=value,key=value`` into the name and its options.

    Raises:
        HarmscopeError: An option is not ``key=value``.
    """
    name, _, rest = spec.partition(":")
    options: dict[str, str] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise HarmscopeError(f"judge option {item!r} in {spec!r} is not key=value")
        options[key.strip()] = value.strip()
    return name.strip(), options


def load_judge(spec: str) -> Judge:
    """Build the judge named by ``spec``.

    Raises:
        NotFoundError: Unknown judge (with a did-you-mean hint).
        HarmscopeError: Bad options, or the judge could not be built.
    """
    name, options = parse_judge_spec(spec)
    return registry.get(name)(**options)
