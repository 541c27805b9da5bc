"""The shared command-group builder and one-line options used by ``harmscope guard``."""

from __future__ import annotations

from typing import Annotated

from typer.testing import CliRunner

from harmscope.cli._options import option, sub_app


def test_sub_app_shows_help_when_bare_and_option_carries_help_and_names() -> None:
    app = sub_app("demo", "A demo group.")

    @app.command("echo")
    def echo(word: Annotated[str, option("The word to print.", "--word", "-w")] = "hi") -> None:
        print(word)

    @app.command("other")
    def other() -> None:
        pass

    runner = CliRunner()
    bare = runner.invoke(app, [])
    assert "A demo group." in bare.output
    assert runner.invoke(app, ["echo", "-w", "yo"]).output.strip() == "yo"
    assert "The word to print." in runner.invoke(app, ["echo", "--help"]).output
