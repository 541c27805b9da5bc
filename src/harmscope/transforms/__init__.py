"""Transforms: pure, deterministic mutations of cases (attacks, framings, encodings).

A transform spec is a transform id (``encode.base64``), a family name (``encode``: every
transform in the family) or a composition ``a+b`` (``a`` first, then ``b``; each side may be a
family, which composes every pair). :func:`apply_transforms` expands specs over cases.

Families: ``persona``, ``format``, ``roleplay``, ``authority``, ``pretext``, ``negative``,
``suppression``, ``prefix``, ``continuation``, ``encode``, ``lang``, ``noise``, ``technical``,
``multiturn``. The template families (``format``, ``roleplay``, ``authority``, ``pretext``,
``suppression``, ``prefix``, ``continuation``) are data: :mod:`harmscope.transforms.templated`
reads them from ``templates.yaml``. Third-party transforms register through the
``harmscope.transforms`` entry-point group.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import random
from collections.abc import Iterable, Sequence

from harmscope.errors import NotFoundError
from harmscope.records import Case
from harmscope.registry import Registry
from harmscope.transforms import encode, lang, multiturn, negative, noise, persona, technical
from harmscope.transforms.base import Composed, Transform, compose, run_transform
from harmscope.transforms.templated import load_templated, template_families

__all__ = [
    "Composed",
    "Transform",
    "apply_transforms",
    "compose",
    "families",
    "get_transform",
    "list_transforms",
    "registry",
    "resolve",
]

log = logging.getLogger(__name__)

registry: Registry[Transform] = Registry("transform")
"""Every registered transform by id."""

_built_in: tuple[Sequence[Transform], ...] = (
    persona.TRANSFORMS,
    negative.TRANSFORMS,
    encode.TRANSFORMS,
    lang.TRANSFORMS,
    noise.TRANSFORMS,
    technical.TRANSFORMS,
    multiturn.TRANSFORMS,
    *(load_templated(family) for family in template_families()),
)
for _transforms in _built_in:
    for _transform in _transforms:
        registry.add(_transform.id, _transform)


def list_transforms() -> list[Transform]:
    """Every registered transform, sorted by id."""
    return [registry.get(name) for name in registry.names()]


def families() -> dict[str, list[str]]:
    """Family name → the ids of its transforms, sorted."""
    out: dict[str, list[str]] = {}
    for transform in list_transforms():
        out.setdefault(transform.family, []).append(transform.id)
    return out


def get_transform(spec: str) -> Transform:
    """One transform by id, or the composition ``a+b+...`` of several ids.

    Raises:
        NotFoundError: An unknown id; the message suggests close matches.
    """
    parts = [_lookup(part) for part in spec.split("+")]
    return compose(*parts)


def resolve(spec: str) -> list[Transform]:
    """All transforms a spec names: an id, a family, or ``a+b`` (families expand pairwise).

    Raises:
        NotFoundError: A part is neither a transform id nor a family.
    """
    options = [_expand(part) for part in spec.split("+")]
    return [compose(*combo) for combo in itertools.product(*options)]


def apply_transforms(
    cases: Iterable[Case],
    specs: Sequence[str],
    *,
    product: bool = False,
    max_compositions: int = 64,
    include_plain: bool = True,
    seed: int = 0,
) -> list[Case]:
    """Expand cases by transforms.

    Args:
        cases: The cases to transform.
        specs: Transform specs (ids, families, ``a+b`` compositions).
        product: Besides each spec's transforms on their own, also run the compositions that
            take one transform from each spec (in spec order), at most ``max_compositions``.
        max_compositions: Most compositions added by ``product``; when the specs give more,
            a deterministic sample (by ``seed``) of this many is kept, in order.
        include_plain: Keep each untransformed case before its transformed versions.
        seed: Seed of that sample.

    Returns:
        Cases in case-major order: a case, then its transformed versions (single
        transforms first, then compositions).

    Raises:
        NotFoundError: A spec names no transform or family.
        ValueError: ``max_compositions`` below 1.
    """
    if max_compositions < 1:
        raise ValueError("max_compositions must be at least 1")
    chains = _chains(specs, product=product, max_compositions=max_compositions, seed=seed)
    out: list[Case] = []
    for case in cases:
        if include_plain:
            out.append(case)
        for chain in chains:
            out.extend(run_transform(chain, case))
    return out


def _chains(
    specs: Sequence[str], *, product: bool, max_compositions: int, seed: int
) -> list[Transform]:
    resolved = [resolve(spec) for spec in specs]
    chains = [t for options in resolved for t in options]
    if product and len(resolved) > 1:
        combos = [compose(*combo) for combo in itertools.product(*resolved)]
        if len(combos) > max_compositions:
            keep = sorted(random.Random(seed).sample(range(len(combos)), max_compositions))
            log.info("%d transform compositions, keeping %d", len(combos), max_compositions)
            combos = [combos[i] for i in keep]
        chains += combos
    unique: dict[str, Transform] = {}
    for chain in chains:
        unique.setdefault(chain.id, chain)
    return list(unique.values())


def _expand(part: str) -> list[Transform]:
    part = part.strip()
    if part in registry:
        return [registry.get(part)]
    members = families().get(part)
    if members:
        return [registry.get(name) for name in members]
    return [_lookup(part)]


def _lookup(name: str) -> Transform:
    name = name.strip()
    try:
        return registry.get(name)
    except NotFoundError:
        pass
    known = [*registry.names(), *families()]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise NotFoundError(
        f"unknown transform {name!r}{hint} (families: {', '.join(sorted(families()))})"
    ) from None
