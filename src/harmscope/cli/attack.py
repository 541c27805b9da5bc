"""``harmscope attack``: bounded adaptive search over transforms for the cases a target refuses.

The search, its resume and its rows and summary live in :mod:`harmscope.attacks.run`; this
command parses the options, calls :func:`~harmscope.attacks.run.run_attack_sync` and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from harmscope.cli import _options as opt
from harmscope.cli._common import err, out, print_json

if TYPE_CHECKING:
    from harmscope.attacks.run import AttackResult, AttackRow, AttackStart

__all__ = ["attack"]

DEFAULT_TRANSFORMS = (
    "persona.unfiltered,format.pseudocode,roleplay.novel,authority.expert,pretext.research,"
    "suppression.rules,prefix.sure,continuation.sentence,negative.avoid,encode.base64,lang.fr,"
    "noise.typos,technical.jargon"
)


def attack(
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
    max_tokens: opt.MaxTokensOption = None,
    max_new_tokens: Annotated[int, typer.Option(min=1)] = 64,
    seed: Annotated[int, typer.Option()] = 0,
    data_dir: opt.DataDirOption = None,
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
    timeout: opt.TimeoutOption = None,
    retries: opt.RetriesOption = None,
    max_retry_wait: opt.MaxRetryWaitOption = None,
    as_json: opt.JsonOption = False,
) -> None:
    """Search transforms until the target complies, for each should-refuse case it refuses.

    Each case is sent plain first; a refused case is retried under the listed transforms
    (and ordered pairs with --max-depth 2), most successful first, until one is fully complied
    with or the budget runs out. Paths are appended to --out as each case ends, so a stopped
    search keeps what it found and --resume continues it. Before any request the plan is
    printed: the most requests and tokens the search could take.
    """
    from harmscope.attacks.run import run_attack_sync, should_refuse_cases
    from harmscope.config import TargetOptions
    from harmscope.judges import load_judge
    from harmscope.records import GenerationParams
    from harmscope.runner.budget import Budget
    from harmscope.transforms import resolve

    chosen = [t for spec in transforms.split(",") if spec.strip() for t in resolve(spec.strip())]
    cases = should_refuse_cases(suite, limit=limit, seed=seed, data_dir=data_dir)
    scorer = load_judge(judge)
    settings = TargetOptions(
        base_url=base_url, **opt.http_settings(timeout, retries, max_retry_wait)
    )
    caps = f"capped at {max_requests} requests" + (
        f" and {max_tokens} tokens" if max_tokens is not None else ""
    )
    progress = _Progress(output if resume else None, caps, quiet=as_json)
    result = run_attack_sync(
        target,
        cases,
        chosen,
        judge=scorer,
        options=settings,
        budget=Budget(max_requests=max_requests, max_tokens=max_tokens),
        params=GenerationParams(max_new_tokens=max_new_tokens, seed=seed),
        max_depth=max_depth,
        out=output,
        resume=resume,
        on_start=progress.start,
        on_row=progress.row,
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        _print_result(result)


class _Progress:
    """Prints the plan before any request and, unless quiet, a line as each case ends."""

    def __init__(self, resumed_from: Path | None, caps: str, *, quiet: bool) -> None:
        self.resumed_from = resumed_from
        self.caps = caps
        self.quiet = quiet
        self.total = 0
        self.seen = 0

    def start(self, start: AttackStart) -> None:
        self.total = start.to_search
        where = self.resumed_from
        err.print(
            f"plan: {start.to_search} cases to search"
            + (f" ({start.already_searched} already searched in {where})" if where else "")
            + f", ≤ {start.plan.requests} requests, ≤ {start.plan.max_total_tokens} tokens if "
            f"every attempt is refused; {self.caps}",
            highlight=False,
            soft_wrap=True,
        )

    def row(self, row: AttackRow) -> None:
        self.seen += 1
        if self.quiet:
            return
        err.print(
            f"[{self.seen}/{self.total}] {row.case_id}: {row.stop_reason}"
            + (f" via {row.winner}" if row.winner else "")
            + f" ({row.requests} requests)",
            highlight=False,
        )


def _print_result(result: AttackResult) -> None:
    """The human summary: one sentence, the transforms' ranking and the paths file."""
    from harmscope.report.terminal import format_rate

    out.print(
        f"{result.plain_compliance} of {result.searched} searched cases answered plain; "
        f"{result.refused_plain} refused, {result.broken} broken by a transform: attack "
        f"success {format_rate(result.attack_success_rate)} (of searches that ran to the end); "
        f"{result.stopped_by_budget} stopped by the budget; "
        f"{result.requests} requests.",
        highlight=False,
    )
    table = Table(title="Transforms by success so far", title_justify="left")
    for col in ("transform", "attempts", "successes"):
        table.add_column(col, justify="left" if col == "transform" else "right")
    for r in result.ranking[:15]:
        table.add_row(r.transform, str(r.attempts), str(r.successes))
    out.print(table)
    out.print(f"paths: {result.paths}", highlight=False)
