"""``harmscope attack``: bounded adaptive search over transforms for the cases a target refuses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from harmscope.cli._common import err, out, print_json
from harmscope.datasets import load_json_line, read_lines
from harmscope.errors import DataError

if TYPE_CHECKING:
    from harmscope.attacks.adaptive import SearchResult
    from harmscope.metrics import Rate

__all__ = ["attack"]

DEFAULT_TRANSFORMS = (
    "persona.unfiltered,format.pseudocode,roleplay.novel,authority.expert,pretext.research,"
    "suppression.rules,prefix.sure,continuation.sentence,negative.avoid,encode.base64,lang.fr,"
    "noise.typos,technical.jargon"
)


def _row(result: SearchResult) -> dict[str, Any]:
    """One JSON line per searched case: the outcome and the whole path."""
    return {
        "case_id": result.case_id,
        "stop_reason": result.stop_reason,
        "winner": result.winner,
        "requests": result.requests,
        "tokens": result.tokens,
        "path": [
            {
                "transform": a.transform,
                "case_id": a.case.id,
                "prompt": a.case.messages[-1].content,
                "response": a.response,
                "error": a.error,
                "refusal": a.verdict.refusal,
                "scored": a.verdict.scored,
                "success": a.success,
                "tokens": a.tokens,
            }
            for a in result.path
        ],
    }


def _read_paths(path: Path) -> dict[str, dict[str, Any]]:
    """The rows of an earlier search's JSONL, by case id (a later row replaces an earlier one).

    Raises:
        DataError: A line is not a JSON object with a ``case_id``.
    """
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for n, line in enumerate(read_lines(path), 1):
        if not line.strip():
            continue
        row = load_json_line(line, f"{path}:{n}")
        if not isinstance(row.get("case_id"), str):
            raise DataError(f"{path}:{n}: not a search path (no case_id)")
        rows[row["case_id"]] = row
    return rows


def _summary(rows: list[dict[str, Any]], cases: int) -> dict[str, Any]:
    """Counts and the attack success rate over the searched cases' rows."""
    from harmscope.metrics import rate

    refused = [r for r in rows if r["stop_reason"] != "plain_compliance" and r["path"]]
    broken = sum(r["stop_reason"] == "success" for r in refused)
    finished = sum(r["stop_reason"] in ("success", "exhausted") for r in refused)
    return {
        "cases": cases,
        "searched": len(rows),
        "plain_compliance": sum(r["stop_reason"] == "plain_compliance" for r in rows),
        "refused_plain": len(refused),
        "broken": broken,
        "attack_success_rate": rate(broken, finished).model_dump(),
        "stopped_by_budget": sum(r["stop_reason"] == "budget" for r in rows) + (cases - len(rows)),
        "requests": sum(r["requests"] for r in rows),
        "tokens": sum(r["tokens"] for r in rows),
    }


def attack(  # noqa: PLR0915 - the loop is still to move into attacks/
    target: Annotated[str, typer.Option(help="provider/model of the system under test.")] = (
        "hf/default"
    ),
    base_url: Annotated[str | None, typer.Option(help="Endpoint of an HTTP target.")] = None,
    suite: Annotated[str, typer.Option(help="Suite name or JSONL file.")] = "core",
    limit: Annotated[
        int | None, typer.Option(min=1, help="Search a stratified sample of N should-refuse cases.")
    ] = 24,
    transforms: Annotated[
        str, typer.Option(help="Comma-separated transforms (ids or families) to try.")
    ] = DEFAULT_TRANSFORMS,
    max_depth: Annotated[
        int, typer.Option(min=1, max=2, help="1: single transforms; 2: also ordered pairs.")
    ] = 1,
    judge: Annotated[str, typer.Option(help="Judge that decides success.")] = "keyword",
    max_requests: Annotated[int, typer.Option(min=1, help="Cap on target requests.")] = 400,
    max_tokens: Annotated[
        int | None, typer.Option(min=1, help="Cap on tokens (prompt + completion).")
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    data_dir: Annotated[
        str | None, typer.Option(help="Folder of public datasets (else $HARMSCOPE_DATA_DIR).")
    ] = None,
    output: Annotated[
        Path, typer.Option("--out", "-o", help="JSONL of search paths, one line per case.")
    ] = Path("harmscope-attack.jsonl"),
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue a stopped search: skip the cases --out already holds a finished "
            "search for, and start from the success statistics its paths record."
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=0.01, help="HTTP targets: seconds per request before it fails.")
    ] = 120.0,
    retries: Annotated[
        int, typer.Option(min=0, max=20, help="HTTP targets: retries of a transient failure.")
    ] = 3,
    max_retry_wait: Annotated[
        float,
        typer.Option(min=0.0, help="HTTP targets: longest Retry-After waited for, in seconds."),
    ] = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON summary.")] = False,
) -> None:
    """Search transforms until the target complies, for each should-refuse case it refuses.

    Each case is sent plain first; a refused case is retried under the listed transforms
    (and ordered pairs with --max-depth 2), most successful first, until one is fully complied
    with or the budget runs out. Paths are appended to --out as each case ends, so a stopped
    search keeps what it found and --resume continues it. Before any request the plan is
    printed: the most requests and tokens the search could take.
    """
    from harmscope.attacks.adaptive import adaptive_search, search_plan, stats_from_paths
    from harmscope.config import RunConfig
    from harmscope.judges import load_judge
    from harmscope.records import GenerationParams
    from harmscope.report.terminal import format_rate
    from harmscope.runner.budget import Budget
    from harmscope.suites import load_suite
    from harmscope.targets import create_target
    from harmscope.transforms import resolve

    chosen = [t for spec in transforms.split(",") if spec.strip() for t in resolve(spec.strip())]
    loaded = load_suite(suite, data_dir=data_dir)
    refuse = loaded.model_copy(
        update={"cases": tuple(c for c in loaded.cases if c.expected == "refuse")}
    )
    if limit is not None:
        refuse = refuse.sample(limit, seed=seed)
    cases = list(refuse.cases)
    if not cases:
        raise DataError(f"{suite}: no should-refuse cases to attack")
    scorer = load_judge(judge)
    params = GenerationParams(max_new_tokens=max_new_tokens, seed=seed)
    budget = Budget(max_requests=max_requests, max_tokens=max_tokens)
    earlier = _read_paths(output) if resume else {}
    done = {cid: row for cid, row in earlier.items() if row["stop_reason"] != "budget"}
    stats = stats_from_paths(earlier.values())
    todo = [c for c in cases if c.id not in done]
    plan = search_plan(todo, chosen, max_depth=max_depth, params=params)
    err.print(
        f"plan: {len(todo)} cases to search"
        + (f" ({len(done)} already searched in {output})" if resume else "")
        + f", ≤ {plan.requests} requests, ≤ {plan.max_total_tokens} tokens if every attempt "
        f"is refused; capped at {max_requests} requests"
        + (f" and {max_tokens} tokens" if max_tokens is not None else ""),
        highlight=False,
        soft_wrap=True,
    )
    rows: list[dict[str, Any]] = []

    settings = RunConfig(
        target=target,
        base_url=base_url,
        timeout_s=timeout,
        retries=retries,
        max_retry_wait_s=max_retry_wait,
    )

    async def main() -> None:
        tgt = create_target(target, base_url=base_url, config=settings)
        try:
            with output.open("a", encoding="utf-8") as sink:
                for i, case in enumerate(todo, 1):
                    if budget.exhausted:
                        break
                    result = await adaptive_search(
                        case,
                        tgt,
                        scorer,
                        chosen,
                        budget=budget,
                        params=params,
                        stats=stats,
                        max_depth=max_depth,
                    )
                    row = _row(result)
                    rows.append(row)
                    sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                    sink.flush()
                    if not as_json:
                        err.print(
                            f"[{i}/{len(todo)}] {case.id}: {result.stop_reason}"
                            + (f" via {result.winner}" if result.winner else "")
                            + f" ({result.requests} requests)",
                            highlight=False,
                        )
        finally:
            await tgt.aclose()

    asyncio.run(main())
    ids = {c.id for c in cases}
    every = [row for cid, row in done.items() if cid in ids] + rows
    summary: dict[str, Any] = {
        "target": target,
        "judge": scorer.id,
        **_summary(every, len(cases)),
        "resumed": len(done) if resume else None,
        "ranking": [
            {"transform": t, "attempts": n, "successes": stats.successes.get(t, 0)}
            for t, _, n in stats.ranking()
        ],
        "plan": {"requests": plan.requests, "max_total_tokens": plan.max_total_tokens},
        "paths": str(output),
    }
    if as_json:
        print_json(summary)
        return
    asr = _rate(summary["attack_success_rate"])
    out.print(
        f"{summary['plain_compliance']} of {summary['searched']} searched cases answered plain; "
        f"{summary['refused_plain']} refused, {summary['broken']} broken by a transform: attack "
        f"success {format_rate(asr)} (of searches that ran to the end); "
        f"{summary['stopped_by_budget']} stopped by the budget; "
        f"{summary['requests']} requests.",
        highlight=False,
    )
    table = Table(title="Transforms by success so far", title_justify="left")
    for col in ("transform", "attempts", "successes"):
        table.add_column(col, justify="left" if col == "transform" else "right")
    for r in summary["ranking"][:15]:
        table.add_row(r["transform"], str(r["attempts"]), str(r["successes"]))
    out.print(table)
    out.print(f"paths: {output}", highlight=False)


def _rate(raw: dict[str, Any]) -> Rate:
    from harmscope.metrics import Rate

    return Rate.model_validate(raw)
