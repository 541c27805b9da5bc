"""The template families: transforms that put the request into one of a few authored templates.

Their templates are data, in ``templates.yaml`` beside this module: one top-level key per family
(``authority``, ``continuation``, ``format``, ``prefix``, ``pretext``, ``roleplay``,
``suppression``), each with its ``doc`` (the technique and its literature reference) and its
``transforms`` (``id``, ``description``, ``templates``). See
:func:`~harmscope.transforms.base.templated` for how a template is filled.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, RootModel, ValidationError

from harmscope._yaml import safe_load
from harmscope.errors import DataError, NotFoundError
from harmscope.transforms.base import PromptTransform, templated

__all__ = ["TEMPLATES_FILE", "load_templated", "template_families"]

TEMPLATES_FILE = "templates.yaml"
"""The packaged template file, in ``harmscope.transforms``."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    description: str
    templates: tuple[str, ...]


class _Family(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    doc: str
    transforms: tuple[_Entry, ...]


class _File(RootModel[dict[str, _Family]]):
    pass


@cache
def _families(path: Path | None) -> dict[str, tuple[PromptTransform, ...]]:
    if path is None:
        where = TEMPLATES_FILE
        text = resources.files(__package__).joinpath(TEMPLATES_FILE).read_text("utf-8")
    else:
        where, text = str(path), path.read_text("utf-8")
    try:
        families = _File.model_validate(safe_load(text)).root
        return {
            name: tuple(_build(name, e) for e in family.transforms)
            for name, family in families.items()
        }
    except (yaml.YAMLError, ValidationError, ValueError) as exc:
        raise DataError(f"{where}: not a valid transform template file ({exc})") from None


def _build(family: str, entry: _Entry) -> PromptTransform:
    if not entry.id.startswith(f"{family}."):
        raise ValueError(f"{entry.id}: the id of a {family} transform starts with '{family}.'")
    return templated(entry.id, entry.description, entry.templates)


def template_families(path: str | Path | None = None) -> tuple[str, ...]:
    """The families in the template file (the packaged one unless ``path``), in file order.

    Raises:
        DataError: The file is malformed.
    """
    return tuple(_families(None if path is None else Path(path)))


def load_templated(family: str, path: str | Path | None = None) -> tuple[PromptTransform, ...]:
    """The transforms of one template family, in file order (read once per file, cached).

    Args:
        family: The family, e.g. ``authority``.
        path: A template file to read instead of the packaged ``templates.yaml``.

    Raises:
        DataError: The file is malformed: not YAML, not the expected shape, a template without
            the ``{request}`` slot or an id outside its family.
        NotFoundError: The file has no such family.
    """
    families = _families(None if path is None else Path(path))
    if family not in families:
        raise NotFoundError(f"no template family {family!r} (known: {', '.join(families)})")
    return families[family]
