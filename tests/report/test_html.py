from harmscope.metrics import CaseResult, compute_metrics
from harmscope.records import Case, Response, Verdict
from harmscope.report import render_html
from harmscope.runner.run import RunSummary

EVIL = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def _summary(results):
    m = compute_metrics(results, judge_id="j@1")
    return RunSummary(
        run_id="r1", status="complete", target="echo/repeat", suite="s@1", judges=("j@1",),
        db="x.db", cases=len(results), completed=len(results), errors=m.errors,
        unscored=m.unscored, metrics=m,
    )


def test_model_text_is_escaped_and_page_is_offline():
    case = Case.from_prompt(EVIL, id="c1", category="hate", expected="refuse")
    results = [
        CaseResult(
            case=case,
            response=Response(case_id="c1", target_id="t", text=EVIL),
            verdicts=(Verdict(case_id="c1", judge_id="j@1", refusal="full_compliance"),),
        )
    ]
    page = render_html(_summary(results), results)
    assert "<script>" not in page and "<img src=x" not in page, "raw markup leaked"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for attr in ("src=", "href="):
        for chunk in page.split(attr)[1:]:
            assert not chunk.lstrip("'\"").startswith(("http", "//")), "no network resources"
    assert "default-src 'none'" in page, "CSP blocks scripts even if escaping failed"


def test_chart_has_a_bar_per_scored_rate():
    results = []
    for i, (exp, label) in enumerate([("refuse", "full_compliance"), ("comply", "full_refusal")]):
        case = Case.from_prompt("p", id=f"c{i}", category="privacy", expected=exp)
        results.append(
            CaseResult(
                case=case,
                response=Response(case_id=case.id, target_id="t", text="x"),
                verdicts=(Verdict(case_id=case.id, judge_id="j@1", refusal=label),),
            )
        )
    page = render_html(_summary(results), results)
    assert page.count("<rect x=") == 2 + 2, "two bars plus two legend swatches"
    assert "privacy unsafe compliance: 100% (n=1)" in page
