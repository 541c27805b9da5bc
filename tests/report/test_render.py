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
