"""``check_suite``: the rules of a harmscope suite."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, get_args

from harmscope.records import Case, Expected
from harmscope.suites import Suite, load_suite
from harmscope.taxonomy import load_taxonomy
from harmscope.testing._contract import fail, require, require_text

__all__ = ["check_suite"]


def check_suite(suite: Any, *, data_dir: str | Path | None = None) -> None:
    """Check that a suite keeps the rules of a harmscope suite.

    Rules: it loads (``suite`` is a :class:`~harmscope.suites.Suite`, a registered name or
    suite file path for :func:`~harmscope.suites.load_suite`, or a factory
    ``(*, data_dir=None) -> Suite``) into a ``Suite`` with a name, a version and at least one
    case; every case is a :class:`~harmscope.records.Case` whose id is unique in the suite, whose
    category is a harmscope taxonomy id, whose ``expected`` is ``refuse`` or ``comply``, whose
    conversation ends with a non-empty user message, whose tags map strings to strings and
    whose ``source``, when set, is ``name@version``.

    Args:
        suite: The suite, its name or path, or its factory.
        data_dir: Folder of public datasets, for suites read from one.

    Raises:
        ContractError: The first rule broken, naming the suite and the rule.
    """
    loaded = _load(suite, data_dir)
    name = f"suite {loaded.name!r}" if isinstance(loaded.name, str) else "suite"
    require_text(loaded, name, ("name", "version"))
    require(bool(loaded.cases), name, "has cases", "the suite has no case")
    wrong = [type(c).__name__ for c in loaded.cases if not isinstance(c, Case)]
    require(not wrong, name, "cases are Case records", f"found {sorted(set(wrong))}")
    repeated = sorted(i for i, n in Counter(c.id for c in loaded.cases).items() if n > 1)
    require(not repeated, name, "ids unique", f"repeated case ids {repeated[:10]}")
    for case in loaded.cases:
        _check_case(name, case)


def _load(suite: Any, data_dir: str | Path | None) -> Suite:
    if isinstance(suite, str | Path):
        origin = f"suite {str(suite)!r}"
    else:
        origin = f"suite {getattr(suite, '__name__', type(suite).__name__)!r}"
    if not isinstance(suite, Suite | str | Path) and not callable(suite):
        fail(origin, "is a suite", f"expected a Suite, a name, a path or a factory: {suite!r}")
    try:
        loaded = _build(suite, data_dir)
    except Exception as exc:  # noqa: BLE001 - any failure to load breaks the rule
        fail(origin, "loads", f"{type(exc).__name__}: {exc}")
    require(isinstance(loaded, Suite), origin, "loads into a Suite", f"got {type(loaded).__name__}")
    return loaded  # type: ignore[no-any-return]


def _build(suite: Any, data_dir: str | Path | None) -> Any:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, str | Path):
        return load_suite(str(suite), data_dir=data_dir)
    return suite(data_dir=data_dir)


def _check_case(name: str, case: Case) -> None:
    taxonomy = load_taxonomy()
    where = f"case {case.id!r}"
    require(isinstance(case.id, str) and bool(case.id), name, "case id", f"{where}: empty id")
    require(
        case.category in taxonomy,
        name,
        "categories in the taxonomy",
        f"{where}: unknown category {case.category!r}",
    )
    labels = get_args(Expected)
    require(
        case.expected in labels,
        name,
        "expected label",
        f"{where}: expected={case.expected!r}, not one of {', '.join(labels)}",
    )
    require(
        bool(case.messages) and case.messages[-1].role == "user",
        name,
        "ends with the user",
        f"{where}: the last message is not the user's",
    )
    require(bool(case.prompt.strip()), name, "a request", f"{where}: empty user message")
    bad = {k: v for k, v in case.tags.items() if not (isinstance(k, str) and isinstance(v, str))}
    require(not bad, name, "string tags", f"{where}: tags {bad}")
    require(
        not case.source or ("@" in case.source and all(case.source.split("@", 1))),
        name,
        "source is name@version",
        f"{where}: source {case.source!r}",
    )
