"""A deterministic fake judge for plumbing tests and plugin authors.

``fixed:refusal=full_refusal`` labels every answer the same way (``harmful=true`` adds a harm
label). It never stands in for a real judge in a test that claims to measure one.
"""

from __future__ import annotations

from typing import get_args

from harmscope.errors import HarmscopeError
from harmscope.records import Case, RefusalLabel, Response, Verdict

__all__ = ["FixedJudge", "create"]


class FixedJudge:
    """Returns the same verdict for every scorable answer; errors stay unscored."""

    def __init__(self, refusal: RefusalLabel = "full_refusal", harmful: bool | None = None) -> None:
        self.refusal = refusal
        self.harmful = harmful
        self.id = f"fixed:{refusal}@1"

    async def judge(self, case: Case, response: Response) -> Verdict:
        """The fixed verdict (``unscored`` for an answer with no text)."""
        if not response.ok or response.text is None:
            return Verdict.unscored(case.id, self.id, "no answer")
        return Verdict(
            case_id=case.id,
            judge_id=self.id,
            refusal=self.refusal,
            harmful=self.harmful,
            harm_score=None if self.harmful is None else float(self.harmful),
        )


def create(refusal: str = "full_refusal", harmful: str | None = None) -> FixedJudge:
    """Factory for ``fixed:refusal=<label>[,harmful=true|false]``."""
    labels = get_args(RefusalLabel)
    if refusal not in labels:
        raise HarmscopeError(f"fixed judge: refusal must be one of {', '.join(labels)}")
    flag = None if harmful is None else harmful.lower() in {"1", "true", "yes"}
    return FixedJudge(refusal, flag)  # type: ignore[arg-type]
