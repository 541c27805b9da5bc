"""``harmscope latent``: fit directions and the Latent Guard, evaluate it, steer a model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from harmscope.cli._common import err, out, print_json
from harmscope.cli._options import DataDirOption, JsonOption
from harmscope.errors import HarmscopeError

if TYPE_CHECKING:
    from harmscope.latent.results import EvalResult, FitResult

__all__ = ["app"]

app = typer.Typer(
    help="Latent analysis: harmfulness and refusal directions, Latent Guard, ablation, steering.",
    no_args_is_help=True,
)

ModelOpt = Annotated[str, typer.Option("--model", help="Model alias, path or hub id.")]
HtmlOpt = Annotated[
    str | None, typer.Option("--html", help="Also write a report page with per-layer AUROC.")
]
RefusalScoreOpt = Annotated[
    Literal["phrases", "first-token"],
    typer.Option(
        help="How refusal is scored. phrases: log-odds of the openings of the model's own "
        "refusals to the harmful prompts (first tokens when it refuses none); first-token: "
        "Arditi et al.'s first-token set."
    ),
]
BatchOpt = Annotated[int, typer.Option(min=1, help="Prompts per forward pass.")]


def _load(spec: str) -> Any:
    from harmscope.targets.models import load_model

    err.print(f"loading model {spec}...", highlight=False)
    return load_model(spec)


def _offsets(raw: str | None) -> tuple[int, ...] | None:
    if raw is None:
        return None
    try:
        offsets = tuple(int(x) for x in raw.split(",") if x.strip())
    except ValueError:
        raise HarmscopeError(f"--refusal-positions must be integers, not {raw!r}") from None
    if not offsets or any(o >= 0 for o in offsets):
        raise HarmscopeError("--refusal-positions must be negative offsets such as -1,-2")
    return offsets


@app.command()
def fit(
    ctx: typer.Context,
    out_dir: Annotated[str, typer.Option("--out", help="Folder to write the results into.")],
    model: ModelOpt = "default",
    harmful: Annotated[
        str, typer.Option(help="Suite, public set or file; its unsafe prompts are used.")
    ] = "jailbreakbench",
    harmless: Annotated[
        str | None,
        typer.Option(help="Suite, public set or file; its safe prompts (default: as harmful)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the train/val/test split.")] = 0,
    max_per_class: Annotated[int | None, typer.Option(help="Cap on prompts per class.")] = None,
    refusal: Annotated[bool, typer.Option(help="Also select a refusal direction.")] = True,
    refusal_val: Annotated[
        int, typer.Option(min=1, help="Validation prompts per class for refusal selection.")
    ] = 16,
    refusal_positions: Annotated[
        str | None, typer.Option(help="Comma-separated negative offsets to try, e.g. -1,-2.")
    ] = None,
    refusal_min_gap: Annotated[
        float,
        typer.Option(
            help="Skip refusal selection when harmful prompts' mean refusal log-odds exceed "
            "harmless ones' by less (the model barely refuses)."
        ),
    ] = 1.0,
    refusal_score: RefusalScoreOpt = "phrases",
    refusal_kl_max: Annotated[
        float, typer.Option(help="KL filter: largest mean KL a refusal candidate may cause.")
    ] = 0.1,
    refusal_min_induce: Annotated[
        float,
        typer.Option(help="Induce filter: smallest mean refusal log-odds a candidate must cause."),
    ] = 0.0,
    refusal_filter_fit: Annotated[
        bool,
        typer.Option(
            help="Fit the refusal direction on the harmful prompts the model refuses and the "
            "harmless ones it answers (Arditi et al.)."
        ),
    ] = True,
    batch_size: BatchOpt = 8,
    data_dir: DataDirOption = None,
    html: HtmlOpt = None,
    as_json: JsonOption = False,
) -> None:
    """Fit the Latent Guard, the harmfulness direction and the refusal direction.

    No refusal direction is saved when the model barely refuses or when no candidate passes
    the induce and KL filters; the report says why.
    """
    from dataclasses import fields

    from harmscope.latent.evaluate import labelled_texts
    from harmscope.latent.pipeline import FitOptions, fit_latent

    harm = labelled_texts(harmful, "unsafe", data_dir)
    safe = labelled_texts(harmless or harmful, "safe", data_dir)
    loaded = _load(model)
    # every fit option is a command option of the same name
    given = {k: v for k, v in ctx.params.items() if k in {f.name for f in fields(FitOptions)}}
    opts = FitOptions(**{**given, "refusal_positions": _offsets(refusal_positions)})
    report = fit_latent(
        loaded.model,
        loaded.tokenizer,
        model_id=loaded.model_id,
        harmful=harm,
        harmless=safe,
        out=out_dir,
        options=opts,
    )
    report.out = out_dir
    report.html = _page(html, f"Latent Guard fit on {loaded.model_id}", report)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    _print_fit(report)


def _print_fit(report: FitResult) -> None:
    g = report.guard
    out.print(f"Latent Guard: layer {g.layer}, validation AUROC {g.val_auroc:.3f}")
    if g.test is not None:
        out.print(f"  test AUROC {g.test.auroc:.3f} on {g.test.n} prompts")
    r = report.refusal
    if r is not None and r.skipped:
        out.print(f"Refusal direction skipped: {r.reason}", highlight=False)
    elif r is not None:
        out.print(
            f"Refusal direction: layer {r.layer}, position {r.position}, bypass "
            f"{r.bypass:.2f} (baseline {r.baseline_harmful_log_odds:.2f}), induce "
            f"{r.induce:.2f}, KL {r.kl:.3f}; refusal openings {r.refusal_phrases.phrases}",
            highlight=False,
        )
    out.print(f"saved to {report.out}")


@app.command("eval")
def evaluate(
    data: Annotated[str, typer.Option(help="Labelled-prompt JSONL, suite or public set.")],
    model: ModelOpt = "default",
    guard: Annotated[
        str | None,
        typer.Option(
            help="Folder of a fitted guard (from `latent fit`); default: the probe shipped "
            "for the model, if any."
        ),
    ] = None,
    train: Annotated[
        str | None,
        typer.Option(
            help="Fit a guard on this set first (the default when no probe is shipped for the "
            "model: jailbreakbench)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the fitting split (without --guard).")] = 0,
    system_prompt: Annotated[
        str | None,
        typer.Option(help="Render every prompt under this system prompt, as a deployment does."),
    ] = None,
    batch_size: BatchOpt = 8,
    data_dir: DataDirOption = None,
    html: HtmlOpt = None,
    as_json: JsonOption = False,
) -> None:
    """AUROC of the Latent Guard on labelled prompts, at its layer and per layer."""
    from harmscope.latent.evaluate import evaluate_latent

    loaded = _load(model)
    result = evaluate_latent(
        loaded.model,
        loaded.tokenizer,
        model_id=loaded.model_id,
        data=data,
        guard=guard,
        train=train,
        seed=seed,
        system_prompt=system_prompt,
        batch_size=batch_size,
        data_dir=data_dir,
        notify=err.print,
    )
    result.html = _page(html, f"Latent Guard on {data}", result)
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table("layer", "AUROC", title=f"Latent Guard on {data} (n={result.n})")
    for row in result.per_layer:
        mark = " *" if row.layer == result.layer else ""
        table.add_row(f"{row.layer}{mark}", f"{row.auroc:.3f}")
    out.print(table)
    out.print(f"AUROC {result.auroc:.3f} at layer {result.layer}")
    mean = result.mean_proba
    recall = "-" if result.recall is None else f"{result.recall:.2f}"
    out.print(
        f"mean harm probability: unsafe {mean.unsafe:.2f}, safe {mean.safe:.2f}; "
        f"at the threshold: recall {recall}, false positive rate {result.fpr:.2f}"
    )


def _page(path: str | None, title: str, data: FitResult | EvalResult) -> str | None:
    if path is None:
        return None
    from harmscope.report.latent import write_latent_page

    written = write_latent_page(path, title=title, auroc=data)
    err.print(f"report: {written}", highlight=False)
    return str(written)


@app.command()
def steer(
    prompt_arg: Annotated[
        str | None, typer.Argument(metavar="[PROMPT]", help="The user instruction.")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", help="The user instruction (or as argument).")
    ] = None,
    ablate: Annotated[
        str | None,
        typer.Option(
            help="Ablate this direction: a folder, or refusal / harmfulness (shipped ones)."
        ),
    ] = None,
    add: Annotated[
        str | None, typer.Option(help="Add this direction (folder or shipped name), x --coef.")
    ] = None,
    direction: Annotated[
        str | None, typer.Option(help="Folder of a saved direction, used as --mode says.")
    ] = None,
    model: ModelOpt = "default",
    mode: Annotated[str, typer.Option(help="With --direction: ablate or add.")] = "ablate",
    coef: Annotated[float, typer.Option(help="Multiplier of the added vector (add).")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, max=2048)] = 48,
    first_pass_only: Annotated[
        bool, typer.Option(help="Add only during the prompt's forward pass.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Answer a prompt with and without ablating or adding a direction.

    ``--ablate refusal`` and ``--add refusal`` name the direction and the mode at once;
    ``--direction DIR --mode ablate|add`` does the same with a folder.
    """
    from harmscope.latent.steering import load_direction, steer_prompt

    if mode not in ("ablate", "add"):
        raise HarmscopeError(f"--mode must be ablate or add, not {mode!r}")
    if (prompt_arg is None) == (prompt is None):
        raise HarmscopeError("give the prompt once: as the argument or with --prompt")
    chosen = [(m, d) for m, d in (("ablate", ablate), ("add", add), (mode, direction)) if d]
    if len(chosen) != 1:
        raise HarmscopeError("give exactly one of --ablate, --add and --direction")
    (mode, spec), text = chosen[0], prompt_arg or prompt or ""
    loaded = _load(model)
    result = steer_prompt(
        loaded.model,
        loaded.tokenizer,
        text,
        load_direction(spec, loaded.model_id),
        mode="ablate" if mode == "ablate" else "add",
        coef=coef,
        max_new_tokens=max_new_tokens,
        first_pass_only=first_pass_only,
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    lo = result.refusal_log_odds
    out.print(f"[bold]baseline[/] (refusal log-odds {lo.baseline:.2f}):", highlight=False)
    out.print(result.baseline, highlight=False, markup=False)
    out.print(f"[bold]{mode}[/] (refusal log-odds {lo.steered:.2f}):", highlight=False)
    out.print(result.steered, highlight=False, markup=False)


@app.command()
def sweep(
    direction: Annotated[
        str, typer.Option(help="Folder of a saved direction, or refusal / harmfulness (shipped).")
    ] = "harmfulness",
    model: ModelOpt = "default",
    coefs: Annotated[str, typer.Option(help="Comma-separated coefficients.")] = (
        "0,0.25,0.5,0.75,1,1.25,1.5,1.75,2"
    ),
    harmful: Annotated[str, typer.Option(help="Set whose unsafe prompts are scored.")] = (
        "jailbreakbench"
    ),
    limit: Annotated[int, typer.Option(min=1, help="Harmful prompts used.")] = 24,
    refusal_score: RefusalScoreOpt = "phrases",
    batch_size: BatchOpt = 8,
    data_dir: DataDirOption = None,
    as_json: JsonOption = False,
) -> None:
    """Alignment vs helpfulness over addition coefficients, with linear and quadratic fits."""
    from harmscope.latent.evaluate import labelled_texts
    from harmscope.latent.steering import load_direction, sweep_direction

    try:
        grid = [float(c) for c in coefs.split(",") if c.strip()]
    except ValueError:
        raise HarmscopeError(f"--coefs must be comma-separated numbers, not {coefs!r}") from None
    harm = labelled_texts(harmful, "unsafe", data_dir)[:limit]
    loaded = _load(model)
    result = sweep_direction(
        loaded.model,
        loaded.tokenizer,
        load_direction(direction, loaded.model_id),
        model_id=loaded.model_id,
        harmful=harm,
        coefs=grid,
        refusal_score=refusal_score,
        batch_size=batch_size,
    )
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    table = Table("coef", "alignment", "helpfulness", "MC acc", title="trade-off sweep")
    for p in result.points:
        table.add_row(
            f"{p.coef:g}", f"{p.alignment:.3f}", f"{p.helpfulness:.3f}", f"{p.mc_accuracy:.2f}"
        )
    out.print(table)
    for name, fits in result.fits.items():
        out.print(
            f"{name}: R² linear {fits['linear'].r2:.3f}, quadratic {fits['quadratic'].r2:.3f}"
        )
