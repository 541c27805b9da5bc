"""The ``harmscope`` command line: thin commands over the library."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from harmscope.cli import attack, cards, guard, info, judge, latent, runs, scan, serve
from harmscope.cli._common import fail, os_error_message
from harmscope.cli._options import sub_app
from harmscope.errors import HarmscopeError

__all__ = ["QUIET_ENV", "app", "main"]

QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # transformers' "Loading weights" and hub bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TQDM_DISABLE": "1",
}
"""Set (where unset) before any command runs, unless ``--verbose``: third-party progress bars
and informational lines stay off the user's terminal; harmscope's own progress is rich's."""

app = sub_app("harmscope", "Scan, judge, document and guard language models for harm.")


@app.callback()
def _root(
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Let libraries print their own progress bars and messages."
        ),
    ] = False,
) -> None:
    """Scan, judge, document and guard language models for harm."""
    if not verbose:
        for key, value in QUIET_ENV.items():
            os.environ.setdefault(key, value)


app.command("scan")(scan.scan)
app.command("suites")(info.suites)
app.command("targets")(info.targets)
app.command("transforms")(info.transforms)
app.command("runs")(runs.list_runs)
app.command("report")(runs.report)
app.command("export")(runs.export)
app.command("cards")(cards.cards)
app.command("attack")(attack.attack)
app.command("serve-model")(serve.serve_model)
app.add_typer(guard.app, name="guard", help="Moderation service, chat proxy and guard evaluation.")
app.add_typer(judge.app, name="judge", help="Measure judges against human-labelled data.")
app.add_typer(
    latent.app, name="latent", help="Harmfulness and refusal directions, probes and steering."
)


def main() -> None:
    """Entry point: run the app, turning harmscope and file errors into one-line messages."""
    try:
        app()
    except HarmscopeError as exc:
        fail(str(exc))
    except OSError as exc:  # a file or folder that cannot be read or written: name it
        fail(os_error_message(exc))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
