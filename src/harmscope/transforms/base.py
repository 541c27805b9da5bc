"""The Transform protocol and the helpers every transform shares.

A transform is a pure, deterministic mutation of a :class:`~harmscope.records.Case`: it returns
a new case (or several) that asks for the same thing in another way. A derived case

* gets the id ``<root id>~<transform chain>`` where the chain is the ids of every transform
  applied since the untransformed case, joined by ``+`` (``core.x.u01~persona.historical``,
  ``core.x.u01~format.python+encode.base64``);
* keeps the untransformed case's id as ``parent_id`` (the root parent when composed);
* carries the tags ``transform=<chain>`` and ``family=<families joined by +>``.

Where a transform chooses among variants (a persona, a template, typo positions) the choice is
seeded by the case id, so a run is reproducible and two cases get different variants.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, runtime_checkable

from harmscope.records import Case, Message

__all__ = [
    "Composed",
    "PromptTransform",
    "Transform",
    "compose",
    "derive",
    "pick",
    "rng_for",
    "root_id",
    "run_transform",
    "templated",
    "with_prompt",
]

_T = TypeVar("_T")


@runtime_checkable
class Transform(Protocol):
    """Anything that rewrites a case.

    ``id`` is a stable dotted name (``encode.base64``), ``family`` the part before the dot,
    ``description`` names the technique (with a literature pointer where one exists).
    ``apply`` must be pure and deterministic.
    """

    @property
    def id(self) -> str:
        """Stable dotted id, e.g. ``encode.base64``."""
        ...

    @property
    def description(self) -> str:
        """The technique, with a literature pointer where apt."""
        ...

    @property
    def family(self) -> str:
        """The family (``encode``, ``persona``...)."""
        ...

    def apply(self, case: Case) -> Case | list[Case]:
        """Return the rewritten case (or cases)."""
        ...


def rng_for(case: Case, transform_id: str) -> random.Random:
    """A random generator seeded by the case id and the transform id (stable across runs)."""
    digest = hashlib.sha256(f"{transform_id}|{case.id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def pick(case: Case, transform_id: str, options: Sequence[_T]) -> _T:
    """Choose one of ``options`` deterministically for ``case``."""
    return options[rng_for(case, transform_id).randrange(len(options))]


def root_id(case: Case) -> str:
    """The id of the untransformed case ``case`` descends from."""
    if "transform" in case.tags and case.parent_id:
        return case.parent_id
    return case.id


def derive(
    case: Case,
    transform_id: str,
    family: str,
    messages: Sequence[Message],
    *,
    tags: dict[str, str] | None = None,
    variant: str | None = None,
) -> Case:
    """Build the case a transform derives from ``case``.

    Args:
        case: The input case (plain or already transformed).
        transform_id: The transform's id, appended to the chain.
        family: The transform's family, appended to the family chain.
        messages: The new conversation.
        tags: Extra tags (``persona``, ``language``, ``encoding``...).
        variant: For a transform returning several cases, a key that keeps their ids apart.
    """
    chain = _extend(case.tags.get("transform"), transform_id)
    families = _extend(case.tags.get("family"), family)
    new_tags = {**case.tags, **(tags or {}), "transform": chain, "family": families}
    root = root_id(case)
    new_id = f"{root}~{chain}"
    if variant is not None:
        new_tags["variant"] = _extend(case.tags.get("variant"), variant)
    if "variant" in new_tags:
        new_id = f"{new_id}#{new_tags['variant']}"
    return case.model_copy(
        update={"id": new_id, "messages": tuple(messages), "tags": new_tags, "parent_id": root}
    )


def with_prompt(case: Case, prompt: str) -> tuple[Message, ...]:
    """The case's messages with the last (user) message replaced by ``prompt``."""
    return (*case.messages[:-1], Message(role="user", content=prompt))


def _extend(chain: str | None, item: str) -> str:
    return f"{chain}+{item}" if chain else item


def run_transform(transform: Transform, case: Case) -> list[Case]:
    """Apply ``transform`` and always return a list."""
    out = transform.apply(case)
    return out if isinstance(out, list) else [out]


@dataclass(frozen=True, slots=True)
class PromptTransform:
    """A transform that rewrites the last user message with a pure function.

    ``rewrite(prompt, rng)`` returns the new prompt; ``rng`` is seeded by the case id so that
    template and variant choices are reproducible.
    """

    id: str
    """Stable dotted id."""
    description: str
    """The technique, with a literature pointer where apt."""
    rewrite: Callable[[str, random.Random], str] = field(repr=False)
    """The pure rewrite of the request."""
    tags: dict[str, str] = field(default_factory=dict)
    """Extra tags set on every derived case."""

    @property
    def family(self) -> str:
        """The part of the id before the first dot."""
        return self.id.split(".", 1)[0]

    def apply(self, case: Case) -> Case:
        """Rewrite the case's last user message."""
        prompt = self.rewrite(case.prompt, rng_for(case, self.id))
        return derive(case, self.id, self.family, with_prompt(case, prompt), tags=self.tags)


def templated(
    transform_id: str,
    description: str,
    templates: Sequence[str],
    *,
    tags: dict[str, str] | None = None,
) -> PromptTransform:
    """A transform that puts the request into one of ``templates`` (chosen per case).

    Each template holds the literal slot ``{request}``; no other braces are interpreted.

    Raises:
        ValueError: A template without the ``{request}`` slot.
    """
    options = tuple(templates)
    for template in options:
        if "{request}" not in template:
            raise ValueError(f"{transform_id}: template without a {{request}} slot")

    def rewrite(prompt: str, rng: random.Random) -> str:
        return options[rng.randrange(len(options))].replace("{request}", prompt)

    return PromptTransform(transform_id, description, rewrite, dict(tags or {}))


@dataclass(frozen=True, slots=True)
class Composed:
    """``first`` then ``second``; ids and families join with ``+``."""

    first: Transform
    """Applied first."""
    second: Transform
    """Applied to every case ``first`` produced."""

    @property
    def id(self) -> str:
        """``<first id>+<second id>``."""
        return f"{self.first.id}+{self.second.id}"

    @property
    def family(self) -> str:
        """``<first family>+<second family>``."""
        return f"{self.first.family}+{self.second.family}"

    @property
    def description(self) -> str:
        """Both descriptions, in order of application."""
        return f"{self.first.description} Then: {self.second.description}"

    def apply(self, case: Case) -> Case | list[Case]:
        """Apply ``first``, then ``second`` to each result."""
        out = [
            c for mid in run_transform(self.first, case) for c in run_transform(self.second, mid)
        ]
        return out[0] if len(out) == 1 else out


def compose(*transforms: Transform) -> Transform:
    """Compose transforms left to right: ``compose(a, b)`` applies ``a`` first, then ``b``.

    Raises:
        ValueError: No transform given.
    """
    if not transforms:
        raise ValueError("compose needs at least one transform")
    result = transforms[0]
    for nxt in transforms[1:]:
        result = Composed(result, nxt)
    return result
