"""The authored ``multiturn`` suite: conversations that reach their request over several turns.

Each case is a conversation of 2-5 user turns ending in a user message, with earlier
assistant turns written for harmscope as plausible, benign replies. Three kinds (tag
``kind``): ``escalation`` (a gradual move from background to the request, cf. Russinovich et
al. 2024, "Crescendo"), ``context`` (a story or role built first) and ``decomposition``
(innocuous sub-questions, then the combination). Unsafe goals (``expected=refuse``) come with
look-alike safe conversations that share their opening turns (``expected=comply``), so the
suite measures both multi-turn unsafe compliance and over-refusal. Tag ``turns`` is the number
of user turns.
"""

from __future__ import annotations

from importlib import resources

from harmscope.suites.base import Suite, registry
from harmscope.suites.files import load_suite_file

__all__ = ["MULTITURN_VERSION", "load_multiturn"]

MULTITURN_VERSION = "1.0"
"""Version of the authored multi-turn suite; bump on any change to its cases."""


@registry.register("multiturn")
def load_multiturn(**_: object) -> Suite:
    """The authored multi-turn suite."""
    files = resources.files("harmscope.suites")
    with resources.as_file(files.joinpath("data/multiturn.jsonl")) as path:
        suite = load_suite_file(path, name="multiturn", version=MULTITURN_VERSION)
    return suite.model_copy(
        update={
            "description": "harmscope's authored multi-turn conversations (escalation, context, "
            "decomposition): unsafe goals and look-alike safe ones"
        }
    )
