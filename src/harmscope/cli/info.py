"""``harmscope suites``, ``harmscope targets`` and ``harmscope transforms``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from harmscope.cli._common import err, out, print_json
from harmscope.cli._options import DataDirOption, JsonOption
from harmscope.errors import HarmscopeError

__all__ = ["suites", "targets", "transforms"]


def suites(
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the registered suites with their sizes."""
    from harmscope.suites import registry

    rows: list[dict[str, Any]] = []
    for name in registry.names():
        try:
            suite = registry.get(name)(data_dir=data_dir)
            refuse = sum(c.expected == "refuse" for c in suite.cases)
            rows.append(
                {
                    "name": name,
                    "version": suite.version,
                    "cases": len(suite.cases),
                    "refuse": refuse,
                    "comply": len(suite.cases) - refuse,
                    "description": suite.description,
                    "available": True,
                }
            )
        except HarmscopeError as exc:
            rows.append({"name": name, "available": False, "reason": str(exc)})
    if as_json:
        print_json({"suites": rows})
        return
    table = Table("suite", "version", "cases", "refuse", "comply", "description")
    for r in rows:
        if r["available"]:
            table.add_row(
                r["name"],
                r["version"],
                str(r["cases"]),
                str(r["refuse"]),
                str(r["comply"]),
                r["description"],
            )
        else:
            table.add_row(r["name"], "–", "–", "–", "–", f"[dim]unavailable: {r['reason']}[/]")
    out.print(table)
    err.print("Any JSONL file of cases or labelled prompts also works: --suite path.jsonl")


def targets() -> None:
    """List target providers (with their default concurrency) and the model aliases of ``hf/``."""
    from harmscope.targets import registry
    from harmscope.targets.base import TargetProvider

    table = Table("target", "what")
    for name in registry.names():
        factory = registry.get(name)
        if isinstance(factory, TargetProvider):  # a bare plugin factory declares nothing
            table.add_row(name, f"{factory.description} [{factory.concurrency} in flight]")
        else:
            table.add_row(name, "plugin")
    try:
        from harmscope.targets.models import MODEL_ALIASES

        for alias, what in MODEL_ALIASES.items():
            table.add_row(f"hf/{alias}", what)
    except ImportError:
        pass
    out.print(table)


def transforms(
    family: Annotated[
        str | None, typer.Option(help="Only this family (e.g. encode, persona).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the attack transforms with their families and descriptions.

    Any id, family or ``a+b`` composition shown here is a ``scan --transforms`` spec.
    """
    from harmscope.transforms import families, list_transforms

    known = families()
    if family is not None and family not in known:
        raise HarmscopeError(f"unknown transform family {family!r} (known: {', '.join(known)})")
    rows = [
        {"id": t.id, "family": t.family, "description": t.description}
        for t in list_transforms()
        if family is None or t.family == family
    ]
    if as_json:
        print_json({"transforms": rows, "families": {f: len(ids) for f, ids in known.items()}})
        return
    table = Table("transform", "family", "description")
    for r in rows:
        table.add_row(r["id"], r["family"], r["description"])
    out.print(table)
    err.print(
        f"{len(rows)} transforms in {len({r['family'] for r in rows})} families; "
        "--transforms takes an id, a family or a+b"
    )
