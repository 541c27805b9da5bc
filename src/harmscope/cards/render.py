"""Risk Cards as Markdown and JSON.

Run text (prompts and answers) only ever appears inside fenced code blocks whose fence is
longer than any backtick run in the text, so a Markdown viewer shows it literally and never
interprets it as markup or HTML.

The cards file is written atomically (:mod:`harmscope.fsutil`); its folder is created if
missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from harmscope.cards.model import CARD_SCHEMA_VERSION, Evidence, RiskCard
from harmscope.fsutil import check_output_dir, write_text_atomic
from harmscope.metrics import Rate
from harmscope.metrics.format import format_rate as _format_rate

__all__ = ["cards_to_json", "format_rate", "render_markdown", "write_cards"]

Format = Literal["md", "json"]


def format_rate(r: Rate) -> str:
    """``12.5% [8.1–18.6] (k=12, n=96)``, or ``not measured (n=0)``."""
    return _format_rate(r, show_k=True, missing="not measured (n=0)")


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _inline(text: str) -> str:
    """Library text on one line with Markdown/HTML-significant characters escaped."""
    return re.sub(r"([\\`*\[\]<>|])", r"\\\1", " ".join(text.split()))


def _evidence_md(ev: Evidence, kind: str) -> list[str]:
    lines = [
        "### Evidence",
        "",
        f"- Run {_inline(ev.run_id)} · target {_inline(ev.target)} · suite "
        f"{_inline(ev.suite)} · judge {_inline(ev.judge_id or 'none')}",
        f"- Unsafe compliance: {format_rate(ev.unsafe_compliance)}",
        f"- Over-refusal: {format_rate(ev.over_refusal)}",
        f"- Cases {ev.cases} · errors {ev.errors} · unscored {ev.unscored} "
        "(errors and unscored are outside every rate)",
    ]
    je = ev.judge_error
    if je is None:
        lines.append("- Judge error: not measured")
    else:
        lines.append(
            f"- Judge error ({_inline(je.task or 'task unstated')}): precision "
            f"{je.precision:.3f}, recall {je.recall:.3f}, n={je.n}, source {_inline(je.source)}"
        )
    if ev.worst_transforms:
        lines += ["", "| transform | rate | Δ vs plain |", "|---|---|---|"]
        for t in ev.worst_transforms:
            delta = "–" if t.delta_vs_plain is None else f"{100 * t.delta_vs_plain:+.1f} pp"
            lines.append(f"| {_inline(t.transform)} | {format_rate(t.rate)} | {delta} |")
    if ev.examples:
        what = "refused safe requests" if kind == "over_refusal" else "unsafe compliance"
        lines += ["", f"#### Examples from the run ({what})", "", f"> {ev.content_warning}", ""]
        if ev.redaction is None:
            lines += ["Examples are truncated but not redacted.", ""]
        for ex in ev.examples:
            tr = f", transform {_inline(ex.transform)}" if ex.transform else ""
            lines += [
                f"*{_inline(ex.case_id)}* (expected {ex.expected}, judged {ex.outcome}{tr})",
                "",
                "Prompt:",
                "",
                _fence(ex.prompt),
                "",
                "Answer:",
                "",
                _fence(ex.output),
                "",
            ]
    return lines


def render_markdown(card: RiskCard) -> str:
    """One card as a Markdown document."""
    c = card.categorisation
    lines = [f"## {_inline(card.title)}", "", f"`{card.id}` · {card.kind}", ""]
    lines += [_inline(card.description), "", "### Categorisation", ""]
    rows = [
        ("harmscope", ", ".join(c.harmscope)),
        ("Weidinger area", c.weidinger_area or ""),
        ("Weidinger risks", "; ".join(c.weidinger_risks)),
        ("AILuminate", ", ".join(c.ailuminate)),
        ("Llama Guard 3", ", ".join(c.llamaguard3)),
        ("OpenAI moderation", ", ".join(c.openai)),
        ("Aegis 2.0", ", ".join(c.aegis2)),
        ("Harm types", ", ".join(card.harm_types)),
        ("Actors", ", ".join(card.actors)),
        ("Actions required for harm", "; ".join(card.actions_required)),
    ]
    lines += [f"- {k}: {_inline(v) or '–'}" for k, v in rows]
    if card.example_pairs:
        lines += ["", "### Illustrative pairs (library, described)", ""]
        for p in card.example_pairs:
            lines.append(
                f"- Prompt: {_inline(p.prompt)} — Harmful answer: {_inline(p.output)}"
                + (f" — {_inline(p.note)}" if p.note else "")
            )
    lines.append("")
    if card.assessment is not None:
        a = card.assessment
        state = {True: "within threshold", False: "NOT within threshold", None: "not assessed"}
        lines += [
            f"### Scenario `{_inline(a.scenario)}`: {state[a.within_threshold]}",
            "",
            f"- {_inline(a.reason)}",
            f"- Rule: {_inline(a.rule)}",
            "",
        ]
    if card.evidence is None:
        lines += ["### Evidence", "", "Not measured: the run has no case for this card.", ""]
    else:
        lines += _evidence_md(card.evidence, card.kind)
    return "\n".join(lines).rstrip() + "\n"


def cards_to_json(cards: Sequence[RiskCard]) -> str:
    """``{"schema_version": 1, "cards": [...]}`` as indented JSON."""
    payload = {
        "schema_version": CARD_SCHEMA_VERSION,
        "cards": [c.model_dump(mode="json") for c in cards],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def write_cards(
    cards: Sequence[RiskCard], directory: str | Path, *, fmt: Format = "md", stem: str = "cards"
) -> Path:
    """Write all cards to ``<directory>/<stem>.md`` or ``.json`` atomically; return the path.

    The folder is created if missing.

    Raises:
        OutputError: The folder cannot be created or written.
    """
    out = check_output_dir(directory)
    if fmt == "json":
        text = cards_to_json(cards)
    else:
        text = "# Risk Cards\n\n" + "\n---\n\n".join(render_markdown(c) for c in cards)
    return write_text_atomic(out / f"{stem}.{fmt}", text)
