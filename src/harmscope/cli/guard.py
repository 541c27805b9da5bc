"""``harmscope guard``: serve the guard service, evaluate a guard on labelled data."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated, Literal

import typer

from harmscope.cli._common import err, out, print_json
from harmscope.cli._options import JsonOption, option, sub_app

__all__ = ["app"]

app = sub_app("guard", "Moderation service and chat proxy; guard evaluation.")

GuardOpt = Annotated[
    str,
    typer.Option(
        "--guard",
        "--detector",
        help="Detectors joined by '+': embedding (shipped heads), llm:<provider/model>, "
        "latent[:<local model>] (the Latent Guard on the model's hidden states), or any "
        "registered detector name (plugins in the entry-point group harmscope.detectors).",
    ),
]
PolicyOpt = Annotated[str | None, option("Policy file (YAML or JSON).")]
BaseUrlOpt = Annotated[str | None, option("Base URL for an llm:openai/... detector.")]
LatentProbeOpt = Annotated[
    str | None, option("Probe folder for a latent detector (default: the one shipped for it).")
]


@app.command("serve")
def serve(
    guard: GuardOpt = "embedding",
    policy: PolicyOpt = None,
    host: Annotated[str, option("Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, option("Port to listen on.")] = 8080,
    upstream_url: Annotated[
        str | None, option("OpenAI-compatible base URL (…/v1) behind /v1/chat/completions.")
    ] = None,
    upstream_key_env: Annotated[
        str, option("Environment variable holding the upstream API key.")
    ] = "OPENAI_API_KEY",
    auth_token_env: Annotated[
        str, option("Environment variable holding the bearer token clients must send.")
    ] = "HARMSCOPE_GUARD_TOKEN",
    max_body_bytes: Annotated[int, option("Largest request body.")] = 1_000_000,
    base_url: BaseUrlOpt = None,
    latent_probe: LatentProbeOpt = None,
    max_batch: Annotated[int, option("Most texts per detector call.")] = 8,
    max_queue: Annotated[
        int,
        option(
            "Most texts waiting for the detector; more get 503 with Retry-After at once "
            "(0: unbounded; a request into an empty queue is always taken)."
        ),
    ] = 8,
    queue_timeout: Annotated[
        float, option("Seconds a text may wait for the detector before 503 (0: no limit).")
    ] = 0.25,
    body_timeout: Annotated[
        float, option("Seconds to receive a request body before 408 (0: no limit).")
    ] = 5.0,
    max_header_bytes: Annotated[
        int, option("Largest request line plus headers; larger get 431.")
    ] = 16_384,
    max_connections: Annotated[
        int, option("Most open connections; more get 503 (0: unlimited).")
    ] = 1024,
    threads: Annotated[int, option("Torch threads for the detector (0: one per core).")] = 1,
    proxy_unknown_shapes: Annotated[
        Literal["block", "allow"],
        option(
            "Chat proxy: refuse message shapes it does not understand (400 / 502), or "
            "forward them after checking every string in them."
        ),
    ] = "block",
    proxy_non_text_parts: Annotated[
        Literal["block", "allow"],
        option("Chat proxy: refuse image, audio and file parts, or pass them."),
    ] = "block",
) -> None:
    """Serve /v1/moderations, the /v1/chat/completions proxy, /healthz and /metrics."""
    from harmscope.errors import HarmscopeError
    from harmscope.guard.app import serve as serve_app
    from harmscope.guard.engine import load_guard
    from harmscope.guard.proxy import ProxyOptions

    if min(max_queue, queue_timeout, body_timeout, max_connections, threads) < 0:
        raise HarmscopeError(
            "--max-queue, --queue-timeout, --body-timeout, --max-connections and --threads "
            "must be >= 0"
        )
    if max_header_bytes < 1 or max_batch < 1:
        raise HarmscopeError("--max-header-bytes and --max-batch must be at least 1")

    built = load_guard(guard, policy=policy, base_url=base_url, latent_probe=latent_probe)
    token = os.environ.get(auth_token_env) or None
    err.print(
        f"guard {built.name} at http://{host}:{port}/v1/moderations"
        + (f", proxying {upstream_url}" if upstream_url else "")
        + (" (bearer token required)" if token else ""),
        highlight=False,
    )
    serve_app(
        built,
        host=host,
        port=port,
        upstream_url=upstream_url,
        api_key=os.environ.get(upstream_key_env) or None,
        auth_token=token,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        max_queue=max_queue or None,
        queue_timeout_s=queue_timeout or None,
        body_timeout_s=body_timeout or None,
        max_header_bytes=max_header_bytes,
        max_connections=max_connections or None,
        threads=threads or None,
        proxy=ProxyOptions(proxy_unknown_shapes, proxy_non_text_parts),
    )


@app.command("eval")
def evaluate(
    data: Annotated[
        list[str],
        option(
            "Labelled JSONL file, public set name (held-out split) or 'core' (the "
            "authored suite); repeatable. Default: xstest, openai-moderation-dev, "
            "jailbreakbench, toxigen."
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
    guard: GuardOpt = "embedding",
    policy: PolicyOpt = None,
    base_url: BaseUrlOpt = None,
    latent_probe: LatentProbeOpt = None,
    card: Annotated[str | None, option("Write a guard card to PATH.md and PATH.json.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Precision, recall, F1, FPR, AUPRC, over-blocking and latency per labelled set."""
    from harmscope.guard.detectors import metadata_of
    from harmscope.guard.engine import load_guard
    from harmscope.guard.evaluate import guard_evaluation, load_eval_data, write_card

    specs = data or ["xstest", "openai-moderation-dev", "jailbreakbench", "toxigen"]
    sets = dict(load_eval_data(s) for s in specs)
    built = load_guard(guard, policy=policy, base_url=base_url, latent_probe=latent_probe)
    evaluation = asyncio.run(guard_evaluation(built, sets))
    result = evaluation.nested()
    if card:
        meta = metadata_of(built.detectors[0])
        md, _ = write_card(result, card, metadata=meta)
        err.print(f"wrote {md}", highlight=False)
    if as_json:
        print_json(evaluation.model_dump(mode="json"))
        return
    from rich.table import Table

    table = Table(title=f"guard {result['guard']}")
    columns = ("set", "n", "precision", "recall", "f1", "fpr", "auprc", "over-block",
               "look-alike", "ms/text")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "set" else "right")

    def fmt(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    for name, m in {**result["sets"], "overall": result.get("overall", {})}.items():
        if m:
            table.add_row(
                name, str(m["n"]), fmt(m["precision"]), fmt(m["recall"]), fmt(m["f1"]),
                fmt(m["fpr"]), fmt(m["auprc"]), fmt(m.get("over_blocking")),
                fmt(m.get("over_blocking_lookalike")),
                f"{m['latency_ms_per_text']:.1f}",
            )  # fmt: skip
    out.print(table)
