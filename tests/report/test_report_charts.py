import pytest

from harmscope.metrics import rate
from harmscope.report.charts import FrontierItem, frontier_chart


def test_frontier_geometry_by_hand():
    # width 560, height 420 -> plot 482 x 360 from (54, 16); wilson(1, 4) upper = 0.69936
    items = [
        FrontierItem("a", 0, rate(1, 4), rate(0, 4)),
        FrontierItem("b", 0, rate(0, 0), rate(1, 2)),
        FrontierItem("all", 0, rate(1, 4), rate(1, 6), overall=True),
    ]
    f = frontier_chart(items, series=("r",))
    assert [p.label for p in f.points] == ["all", "a"], "overall first; b cannot be placed"
    assert f.left_out == ("b",)
    a = f.points[1]
    assert a.x == pytest.approx(54) and a.y == pytest.approx(16 + 360 * 0.75)
    assert a.y_hi == pytest.approx(16 + 360 * (1 - 0.69936), abs=0.01)
    assert f.xticks[-1] == (pytest.approx(54 + 482), "100%")


def test_frontier_scale_shrinks_to_fit():
    items = [FrontierItem("a", 0, rate(0, 400), rate(1, 400))]
    f = frontier_chart(items, series=("r",))
    # wilson(1, 400) upper = 0.01406 -> the 10 % scale; x = 0.0025 / 0.1 * 482
    assert f.xticks[-1][1] == "10%"
    assert f.points[0].x == pytest.approx(54 + 0.025 * 482)


def test_plot_area_inside_margins_and_its_parts() -> None:
    from harmscope.report.charts import PlotArea

    area = PlotArea.inside(640, 320, (54, 14, 20, 40))
    assert (area.plot_w, area.plot_h) == (566, 266)
    assert area.parts() == (640, 320, 54, 14, 566, 266)
