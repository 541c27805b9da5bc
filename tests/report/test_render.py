"""The shared page renderer: autoescaped templates and the atomic page write."""

from __future__ import annotations

import jinja2
import pytest

from harmscope.report.latent import AurocView
from harmscope.report.render import render_template, write_page


def test_render_template_autoescapes_and_fails_on_missing_names() -> None:
    page = render_template(
        "latent.html.j2",
        title="<script>x</script>",
        chart=None,
        table=[],
        info=AurocView(),
        diss=None,
        flagged=[],
        judge_id=None,
        run_page=None,
    )
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<script>x</script>" not in page
    with pytest.raises(jinja2.UndefinedError):
        render_template("latent.html.j2", title="t")


def test_write_page_creates_the_folder_and_replaces_the_page(tmp_path) -> None:
    target = tmp_path / "a" / "b" / "page.html"
    assert write_page(target, "one") == target
    write_page(str(target), "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["page.html"]


def test_bytecode_cache_round_trip_and_unwritable_folder(tmp_path) -> None:
    from harmscope.report.render import _BytecodeCache

    loader = jinja2.DictLoader({"t.j2": "{{ x }}!"})
    cache = _BytecodeCache(str(tmp_path))
    env = jinja2.Environment(loader=loader, bytecode_cache=cache)
    assert env.get_template("t.j2").render(x=1) == "1!"
    assert list(tmp_path.iterdir()), "the compiled template was not cached"
    fresh = jinja2.Environment(loader=loader, bytecode_cache=_BytecodeCache(str(tmp_path)))
    assert fresh.get_template("t.j2").render(x=2) == "2!"

    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    broken = jinja2.Environment(loader=loader, bytecode_cache=_BytecodeCache(str(not_a_folder)))
    assert broken.get_template("t.j2").render(x=3) == "3!"
