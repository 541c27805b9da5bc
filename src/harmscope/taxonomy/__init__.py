"""The harmscope hazard taxonomy and its crosswalks to other schemes.

One taxonomy serves scan categories, judge labels, guard flags and card sections::

    >>> from harmscope.taxonomy import load_taxonomy
    >>> tax = load_taxonomy()
    >>> tax.to_harmscope("llamaguard3", "S9")[0].id
    'indiscriminate_weapons'
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from harmscope._yaml import safe_load
from harmscope.errors import DataError, UnknownCategoryError

__all__ = ["SCHEMES", "Category", "Taxonomy", "load_taxonomy"]

SCHEMES = (
    "ailuminate",
    "llamaguard3",
    "openai",
    "openai_eval",
    "aegis2",
    "weidinger",
    "harmbench",
    "jailbreakbench",
    "strongreject",
    "simplesafetytests",
)
"""Every scheme the crosswalks know."""


class Category(BaseModel):
    """One hazard category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)*$")
    """Stable dotted id; ``a.b`` is a sub-category of ``a``."""
    name: str
    """Short human name."""
    definition: str
    """One-sentence definition."""
    crosswalk: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Codes of this category in other schemes."""

    @property
    def parent(self) -> str | None:
        """The parent id, or ``None`` for a top-level category."""
        return self.id.rpartition(".")[0] or None


class _TaxonomyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    weidinger_areas: dict[str, str]
    categories: list[Category]


class Taxonomy:
    """The loaded taxonomy: lookup by id and mapping to and from other schemes."""

    def __init__(self, *, version: int, categories: list[Category], areas: dict[str, str]):
        self.version = version
        self.weidinger_areas = areas
        self._by_id = {c.id: c for c in categories}
        if len(self._by_id) != len(categories):
            raise DataError("taxonomy has duplicate category ids")
        self._index: dict[tuple[str, str], list[Category]] = {}
        for cat in categories:
            if cat.parent and cat.parent not in self._by_id:
                raise DataError(f"category {cat.id!r} has no parent {cat.parent!r}")
            for scheme, codes in cat.crosswalk.items():
                if scheme not in SCHEMES:
                    raise DataError(f"category {cat.id!r}: unknown scheme {scheme!r}")
                for code in codes:
                    self._index.setdefault((scheme, _norm(code)), []).append(cat)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, category_id: object) -> bool:
        return category_id in self._by_id

    @property
    def ids(self) -> list[str]:
        """All category ids in file order."""
        return list(self._by_id)

    def get(self, category_id: str) -> Category:
        """The category with this id.

        Raises:
            UnknownCategoryError: The id is not in the taxonomy.
        """
        try:
            return self._by_id[category_id]
        except KeyError:
            raise UnknownCategoryError(
                f"unknown category {category_id!r}; known: {', '.join(self._by_id)}"
            ) from None

    def top_level(self, category_id: str) -> str:
        """The top-level ancestor of ``category_id``."""
        return self.get(category_id).id.split(".")[0]

    def to_harmscope(self, scheme: str, code: str) -> tuple[Category, ...]:
        """Map a code of another scheme to harmscope categories, primary first.

        Matching ignores case and surrounding space.

        Raises:
            UnknownCategoryError: Unknown scheme, or the code is not in the crosswalk.
        """
        if scheme == "harmscope":
            return (self.get(code),)
        if scheme not in SCHEMES:
            raise UnknownCategoryError(
                f"unknown scheme {scheme!r}; known: harmscope, {', '.join(SCHEMES)}"
            )
        found = self._index.get((scheme, _norm(code)))
        if not found:
            raise UnknownCategoryError(f"{scheme} category {code!r} has no harmscope mapping")
        return tuple(found)

    def from_harmscope(self, category_id: str, scheme: str) -> tuple[str, ...]:
        """Codes of ``scheme`` for a harmscope category (falling back to its ancestors).

        Returns an empty tuple where the scheme has no counterpart.
        """
        if scheme not in SCHEMES:
            raise UnknownCategoryError(f"unknown scheme {scheme!r}")
        cat: Category | None = self.get(category_id)
        while cat is not None:
            if scheme in cat.crosswalk:
                return cat.crosswalk[scheme]
            cat = self._by_id.get(cat.parent) if cat.parent else None
        return ()


def _norm(code: str) -> str:
    return code.strip().casefold()


@cache
def load_taxonomy() -> Taxonomy:
    """Load (once) the taxonomy shipped with harmscope."""
    text = resources.files(__package__).joinpath("data/harmscope.yaml").read_text("utf-8")
    raw = _TaxonomyFile.model_validate(safe_load(text))
    return Taxonomy(version=raw.version, categories=raw.categories, areas=raw.weidinger_areas)
