"""The authored starter library of Risk Cards (``cards/data/library.yaml``).

Descriptions come from the library; placement in other schemes comes from the taxonomy, so
a crosswalk code is written in exactly one place.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from harmscope._yaml import safe_load
from harmscope.cards.model import CardKind, Categorisation, ExamplePair, RiskCard
from harmscope.errors import DataError
from harmscope.taxonomy import Taxonomy, load_taxonomy

__all__ = ["Library", "load_library"]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    title: str
    description: str
    harm_types: tuple[str, ...] = ()
    actors: tuple[str, ...] = ()
    actions_required: tuple[str, ...] = ()
    examples: tuple[ExamplePair, ...] = ()

    def card(self, card_id: str, kind: CardKind, categorisation: Categorisation) -> RiskCard:
        """The unmeasured card of this entry, as ``card_id``."""
        return RiskCard(
            id=card_id,
            kind=kind,
            title=self.title,
            description=self.description,
            categorisation=categorisation,
            harm_types=self.harm_types,
            actors=self.actors,
            actions_required=self.actions_required,
            example_pairs=self.examples,
        )


class _CategoryEntry(_Entry):
    lookalike: str


class _RiskEntry(_Entry):
    harmscope: tuple[str, ...] = ()


class _LibraryFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    categories: dict[str, _CategoryEntry]
    weidinger: dict[str, _RiskEntry]


def _covers(parent: str, category: str) -> bool:
    """Whether ``parent`` is ``category`` or one of its ancestors."""
    return category == parent or category.startswith(parent + ".")


class Library:
    """Card templates: one per harmscope category, its over-refusal pair, one per risk."""

    def __init__(self, data: _LibraryFile, taxonomy: Taxonomy) -> None:
        self.version = data.version
        self.taxonomy = taxonomy
        self._cats = data.categories
        self._risks = data.weidinger
        for cid in self._cats:
            taxonomy.get(cid)
        for key, risk in self._risks.items():
            if key.split(".")[0] not in taxonomy.weidinger_areas:
                raise DataError(f"library risk {key!r}: no Weidinger area {key.split('.')[0]!r}")
            for cid in risk.harmscope:
                taxonomy.get(cid)

    @property
    def category_ids(self) -> list[str]:
        """Categories with a card, in library order."""
        return list(self._cats)

    @property
    def risk_ids(self) -> list[str]:
        """Weidinger risk keys (``"4.2"``), in library order."""
        return list(self._risks)

    def risk_name(self, key: str) -> str:
        """``"4.2 Fraud, scams and targeted manipulation"``."""
        return f"{key} {self._risks[key].title}"

    def risk_categories(self, key: str) -> tuple[str, ...]:
        """The harmscope categories whose results serve as the risk's evidence."""
        return self._risks[key].harmscope

    def risks_of(self, category_id: str) -> tuple[str, ...]:
        """Weidinger risks that list ``category_id`` (or an ancestor of it)."""
        return tuple(
            key
            for key, risk in self._risks.items()
            if any(_covers(c, category_id) for c in risk.harmscope)
        )

    def _area(self, code: str | None) -> str | None:
        if not code:
            return None
        return f"{code} {self.taxonomy.weidinger_areas[code]}"

    def _placement(self, categories: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for scheme in ("ailuminate", "llamaguard3", "openai", "aegis2"):
            codes: list[str] = []
            for cid in categories:
                codes += [c for c in self.taxonomy.from_harmscope(cid, scheme) if c not in codes]
            out[scheme] = tuple(codes)
        return out

    def _categorisation(
        self, categories: tuple[str, ...], area: str | None, risks: tuple[str, ...]
    ) -> Categorisation:
        """A card on ``categories``: Weidinger area code ``area`` and ``risks``, crosswalked."""
        return Categorisation(
            harmscope=categories,
            weidinger_area=self._area(area),
            weidinger_risks=risks,
            **self._placement(categories),
        )

    def category_card(self, category_id: str) -> RiskCard:
        """The unmeasured card of a harmscope category."""
        area = self.taxonomy.from_harmscope(category_id, "weidinger")
        where = self._categorisation(
            (category_id,),
            area[0] if area else None,
            tuple(self.risk_name(k) for k in self.risks_of(category_id)),
        )
        return self._cats[category_id].card(f"harmscope.{category_id}", "category", where)

    def over_refusal_card(self, category_id: str) -> RiskCard:
        """The paired card: safe look-alike requests in the category that get refused."""
        base = self.category_card(category_id)
        name = self.taxonomy.get(category_id).name
        return base.model_copy(
            update={
                "id": f"harmscope.{category_id}.over_refusal",
                "kind": "over_refusal",
                "title": f"Over-refusal near {name.lower()}",
                "description": (
                    f"The model refuses safe requests that only resemble {name.lower()}. "
                    f"Look-alikes: {self._cats[category_id].lookalike} Refusing them withholds "
                    "help, pushes users to less careful sources and hides real risk behind "
                    "blanket caution."
                ),
                "harm_types": ("allocative", "quality of service"),
                "actors": ("benign user", "deployer"),
                "actions_required": ("a benign user needs the answer",),
                "example_pairs": (),
            }
        )

    def risk_card(self, key: str) -> RiskCard:
        """The unmeasured card of a Weidinger et al. risk."""
        e = self._risks[key]
        where = self._categorisation(e.harmscope, key.split(".")[0], (self.risk_name(key),))
        return e.card(f"weidinger.{key}", "weidinger_risk", where)


def _read(text: str, where: str) -> _LibraryFile:
    try:
        return _LibraryFile.model_validate(safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise DataError(f"{where}: not a valid card library ({exc})") from None


@cache
def _packaged() -> Library:
    text = resources.files("harmscope.cards").joinpath("data/library.yaml").read_text("utf-8")
    return Library(_read(text, "library.yaml"), load_taxonomy())


def load_library(path: str | Path | None = None) -> Library:
    """The packaged library, or one read from ``path``.

    Raises:
        DataError: The file is malformed or names unknown categories.
    """
    if path is None:
        return _packaged()
    p = Path(path)
    return Library(_read(p.read_text("utf-8"), str(p)), load_taxonomy())
