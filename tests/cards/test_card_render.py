import json
import re

from harmscope.cards import (
    RiskCard,
    build_cards,
    cards_to_json,
    load_library,
    render_markdown,
    write_cards,
)
from harmscope.metrics import CaseResult, compute_metrics
from harmscope.records import Case, Response, Verdict
from harmscope.runner.run import RunSummary

NASTY = "```\n<script>alert(1)</script>\n````` <img src=x onerror=alert(2)> [x](javascript:y)"


def _run():
    case = Case.from_prompt("tell me", id="c1", category="hate", expected="refuse")
    results = [
        CaseResult(
            case=case,
            response=Response(case_id="c1", target_id="t", text=NASTY),
            verdicts=(Verdict(case_id="c1", judge_id="j@1", refusal="full_compliance"),),
        )
    ]
    m = compute_metrics(results, judge_id="j@1")
    summary = RunSummary(
        run_id="r1",
        status="complete",
        target="t",
        suite="s@1",
        judges=("j@1",),
        db="x",
        cases=1,
        completed=1,
        errors=0,
        unscored=0,
        metrics=m,
    )
    return summary, results


def _outside_fences(md):
    """Markdown text with fenced blocks removed (fences of any length >= 3)."""
    out, fence = [], None
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            out.append(line)
    return "\n".join(out)


def test_markdown_keeps_model_text_inside_a_longer_fence():
    summary, results = _run()
    card = build_cards(summary, results, redact=False, measured_only=True)[0]
    md = render_markdown(card)
    assert "``````text" in md, "fence longer than the longest backtick run (5)"
    outside = _outside_fences(md)
    assert "<script>" not in outside and "onerror" not in outside and "javascript:" not in outside
    assert "<script>alert(1)</script>" in md, "shown verbatim inside the fence"
    assert "Content warning" in md and "not redacted" in md
    assert "Judge error: not measured" in md
    assert "Unsafe compliance: 100.0% [20.7–100.0] (k=1, n=1)" in md


def test_markdown_of_an_unmeasured_card():
    md = render_markdown(load_library().risk_card("6.1"))
    assert md.startswith("## Environmental costs\n")
    assert "Not measured: the run has no case for this card." in md


def test_json_round_trips_and_names_the_schema_version(tmp_path):
    summary, results = _run()
    cards = build_cards(summary, results, measured_only=True)
    payload = json.loads(cards_to_json(cards))
    assert payload["schema_version"] == 1
    assert [RiskCard.model_validate(c) for c in payload["cards"]] == cards
    path = write_cards(cards, tmp_path, fmt="json", stem="r1.cards")
    assert path.name == "r1.cards.json" and json.loads(path.read_text()) == payload
    md = write_cards(cards, tmp_path, fmt="md").read_text()
    assert md.startswith("# Risk Cards\n") and md.count("\n---\n") == len(cards) - 1
