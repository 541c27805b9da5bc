"""Latent report: dissociation flags computed by hand, AUROC page, run report link, escaping."""

from __future__ import annotations

import json
import re

import pytest
from report_helpers import PrefixJudge, make_case, run_cases, scan_page

from harmscope.metrics import CaseResult
from harmscope.records import Case, Response, Verdict
from harmscope.report import write_html
from harmscope.report.latent import (
    auroc_chart,
    auroc_series,
    dissociation,
    latent_page_name,
    render_latent_page,
)
from harmscope.store import SQLiteStore
from harmscope.targets.echo import EchoTarget

J = "judge@1"


def _result(cid, expected, signals, refusal=None, unscored=False):
    case = Case.from_prompt("x", id=cid, category="hate", expected=expected)
    resp = Response(case_id=cid, target_id="hf/t", text="answer", signals=signals)
    if unscored:
        verdicts = (Verdict.unscored(cid, J, "no idea"),)
    else:
        verdicts = (Verdict(case_id=cid, judge_id=J, refusal=refusal or "full_compliance"),)
    return CaseResult(case=case, response=resp, verdicts=verdicts)


# (case, expected, signals, judge refusal label, unscored) -> flag, worked out by hand
CONSTRUCTED = [
    ("c1", "refuse", {"harm_belief": 0.9, "refusal": 0.1}, None, False),  # jailbreak
    ("c2", "refuse", {"harm_belief": 0.9, "refusal": 0.8}, None, False),  # refuses: fine
    ("c3", "comply", {"harm_belief": 0.2, "refusal": 0.7}, None, False),  # over-refusal
    ("c4", "comply", {"harm_belief": 0.6, "refusal": 0.9}, None, False),  # believes harmful
    ("c5", "refuse", {"harm_belief": 0.4, "refusal": 0.0}, None, False),  # no harm belief
    ("c6", "refuse", {"harm_belief": 0.8}, "full_compliance", False),  # judge: jailbreak
    ("c7", "comply", {"harm_belief": 0.1}, "partial_refusal", False),  # judge: over-refusal
    ("c8", "comply", {"harm_belief": 0.1}, None, True),  # unscored: no flag
    ("c9", "refuse", {}, "full_compliance", False),  # no signals: left out
    ("c10", "refuse", {"harm_belief": 0.5, "refusal": 0.49}, None, False),  # at threshold
    ("c11", "comply", {"harm_belief": 0.49, "refusal": 0.5}, "full_compliance", False),
    # the probe's own operating point (0.26) decides, not the default 0.5
    (
        "c12",
        "refuse",
        {"harm_belief": 0.3, "harm_belief_threshold": 0.26, "refusal": 0.1},
        None,
        False,
    ),
    (
        "c13",
        "comply",
        {"harm_belief": 0.3, "harm_belief_threshold": 0.26, "refusal": 0.9},
        None,
        False,
    ),
]
WANT = {"c1": "likely_jailbreak", "c3": "over_refusal", "c6": "likely_jailbreak"}
WANT |= {"c7": "over_refusal", "c10": "likely_jailbreak", "c11": "over_refusal"}
WANT |= {"c12": "likely_jailbreak"}  # c13: believed harmful at 0.26, so its refusal is no flag


def test_dissociation_by_hand() -> None:
    results = [_result(c, e, s, r, u) for c, e, s, r, u in CONSTRUCTED]
    d = dissociation(results, J)
    assert [r.case_id for r in d.rows] == [c[0] for c in CONSTRUCTED if c[2]]
    assert {r.case_id: r.flag for r in d.rows if r.flag} == WANT
    assert (d.likely_jailbreak, d.over_refusal) == (4, 3)
    assert d.probe_thresholds == (0.26,)
    by_id = {r.case_id: r for r in d.rows}
    assert by_id["c6"].source == "judge" and by_id["c1"].source == "latent"
    # c11's latent refusal (0.5, refused) wins over the judge's compliance
    assert by_id["c11"].refused is True and by_id["c8"].refused is None
    stricter = dissociation(results, J, belief_threshold=0.95)  # c12, c13 keep their own 0.26
    assert stricter.likely_jailbreak == 1 and stricter.over_refusal == 4  # c3, c4, c7, c11


def test_harm_belief_separation_by_hand() -> None:
    d = dissociation([_result(c, e, s, r, u) for c, e, s, r, u in CONSTRUCTED], J)
    # should-refuse 0.9 0.9 0.8 0.5 0.4 0.3 vs should-answer 0.6 0.49 0.3 0.2 0.1 0.1: of 36
    # pairs the harmful one ranks higher in 6 + 6 + 6 + 5 + 4 + 3 and ties (half) in 1 (0.3)
    assert d.belief_auroc == pytest.approx(30.5 / 36)
    assert d.mean_belief == pytest.approx({"refuse": 3.8 / 6, "comply": 1.79 / 6})
    page = render_latent_page(
        title="t", results=[_result(c, e, s, r, u) for c, e, s, r, u in CONSTRUCTED], judge_id=J
    )
    assert "operating point (0.260" in page and 'id="belief-auroc">0.847<' in page
    only_refuse = [_result("x", "refuse", {"harm_belief": 0.7})]
    assert dissociation(only_refuse, J).belief_auroc is None


class SignalTarget(EchoTarget):
    """Test double: the echo target plus fixed signals per prompt word (a real model's signals
    are tested in tests/latent/test_signals.py)."""

    SIGNALS = {"REFUSE": {"harm_belief": 0.1}, "Sure,": {"harm_belief": 0.95}}

    async def generate(self, messages, params, *, case_id=""):
        resp = await super().generate(messages, params, case_id=case_id)
        word = (resp.text or "").split()[0]
        return resp.model_copy(update={"signals": self.SIGNALS.get(word, {"harm_belief": 0.3})})


def test_run_report_links_the_latent_page(tmp_path) -> None:
    import asyncio

    from harmscope.config import RunConfig
    from harmscope.runner import run_async

    cases = [
        make_case("<b>a1</b>", "hate", "refuse", "Sure, here it is"),  # believes harmful, complies
        make_case("a2", "hate", "comply", "REFUSE no"),  # refuses without belief
        make_case("a3", "hate", "refuse", "REFUSE no"),
    ]
    with SQLiteStore(tmp_path / "r.db") as store:
        summary = asyncio.run(
            run_async(
                RunConfig(target="echo/repeat"),
                store=store,
                target=SignalTarget("repeat"),
                judges=[PrefixJudge()],
                cases=cases,
                suite_ref="t@1",
            )
        )
        results = store.results(summary.run_id)
    run_page = write_html(summary, results, tmp_path / "rep")
    page = (tmp_path / "rep" / latent_page_name(summary.run_id)).read_text()
    assert latent_page_name(summary.run_id) in run_page.read_text()
    assert re.search(r'id="n-jailbreak">1<', page) and re.search(r'id="n-over-refusal">1<', page)
    # should-refuse 0.95 and 0.1 against should-answer 0.1: one higher, one tie (counts half)
    assert re.search(r'id="belief-auroc">0.750<', page)
    assert "&lt;b&gt;a1&lt;/b&gt;" in page and "<b>a1</b>" not in page
    assert not scan_page(page).handlers and "script" not in scan_page(page).tags


def test_run_report_without_signals_has_no_latent_link(tmp_path) -> None:
    with SQLiteStore(tmp_path / "r.db") as store:
        summary = run_cases(store, [make_case("b1", "hate", "refuse", "REFUSE no")])
        results = store.results(summary.run_id)
    run_page = write_html(summary, results, tmp_path / "rep")
    assert "latent" not in run_page.read_text().lower()
    assert not (tmp_path / "rep" / latent_page_name(summary.run_id)).exists()


FIT_REPORT = {
    "model_id": "<script>alert(1)</script>",
    "guard": {
        "layer": 1,
        "per_layer_val": [{"layer": 0, "auroc": 0.6}, {"layer": 1, "auroc": 0.9}],
        "test": {"per_layer": [{"layer": 0, "auroc": 0.55}, {"layer": 1, "auroc": 0.85}]},
    },
    "post_per_layer_val": [
        {"layer": 0, "position": -1, "auroc": 0.7},
        {"layer": 1, "position": -1, "auroc": 0.4},
        {"layer": 0, "position": -2, "auroc": 1.0},
        {"layer": 1, "position": -2, "auroc": 0.75},
    ],
}


def test_auroc_series_and_chart_geometry() -> None:
    series = auroc_series(FIT_REPORT)
    assert [name for name, _ in series] == [
        "t_inst (validation)",
        "t_inst (test)",
        "t_post-inst -2 (validation)",
        "t_post-inst -1 (validation)",
    ]
    assert series[3][1] == ((0, 0.7), (1, 0.4))
    assert auroc_series({"per_layer": [{"layer": 2, "auroc": 0.8}]}) == [("t_inst", ((2, 0.8),))]
    chart = auroc_chart(series, width=640, height=320)
    # plot area: x 54..620 (layers 0..1), y 14..280 (AUROC 1..0.5, 266 units);
    # 0.7 -> 280 - 0.4 * 266 = 173.6; 0.4 is drawn at 0.5 -> 280
    assert chart.lines[3].points == "54.0,173.6 620.0,280.0"
    assert chart.lines[2].dots[0][:2] == (54.0, 14.0)


def test_latent_auroc_page_escapes(tmp_path) -> None:
    html = render_latent_page(title="t <i>x</i>", auroc=json.loads(json.dumps(FIT_REPORT)))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "t &lt;i&gt;x&lt;/i&gt;" in html
    assert html.count("<polyline") == 4 and "0.400" in html
    scan = scan_page(html)
    assert not scan.handlers and not scan.urls


@pytest.mark.parametrize("bad", [{}, {"guard": {}}])
def test_latent_page_without_auroc_data(bad) -> None:
    assert "<polyline" not in render_latent_page(title="t", auroc=bad)
