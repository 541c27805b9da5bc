"""The Judge protocol: turns a case and a response into a Verdict."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from harmscope.records import Case, Response, Verdict

__all__ = ["Judge"]


@runtime_checkable
class Judge(Protocol):
    """Anything that reads a response.

    ``id`` is ``name@version`` and is stored with every verdict, so a run always says which
    judge scored it. A judge that cannot decide returns ``Verdict.unscored(...)`` with a
    reason; it never guesses "safe".
    """

    id: str

    async def judge(self, case: Case, response: Response) -> Verdict:
        """Read ``response`` to ``case``."""
        ...
