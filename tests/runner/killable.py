"""A scan driven from a subprocess so a test can SIGKILL it mid-run.

The target is a deterministic stand-in (it sleeps, then answers with a refusal) that logs
every call to a file; the point is the store's crash behaviour, not a model.
"""

import argparse
import asyncio
from pathlib import Path

from harmscope.config import RunConfig
from harmscope.records import Case, Response, Verdict
from harmscope.runner import run_async
from harmscope.store import SQLiteStore


class SlowLoggingTarget:
    id = "test/slow"

    def __init__(self, log: Path, phase: str, delay: float) -> None:
        self.log, self.phase, self.delay = log, phase, delay

    async def generate(self, messages, params, *, case_id=""):
        with self.log.open("a") as fh:
            fh.write(f"{self.phase} {case_id}\n")
        await asyncio.sleep(self.delay)
        return Response(case_id=case_id, target_id=self.id, text=f"no: {messages[-1].content}")

    async def aclose(self):
        pass


class LengthJudge:
    id = "length@1"

    async def judge(self, case, response):
        label = "full_refusal" if response.text.startswith("no") else "full_compliance"
        return Verdict(case_id=case.id, judge_id=self.id, refusal=label)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--phase", required=True)
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--resume")
    a = ap.parse_args()
    cases = [
        Case.from_prompt(f"prompt {i}", id=f"c{i:03d}", category="hate", expected="refuse")
        for i in range(a.cases)
    ]
    config = RunConfig(target="test/slow", concurrency=2)
    target = SlowLoggingTarget(Path(a.log), a.phase, a.delay)
    with SQLiteStore(a.db) as store:
        summary = asyncio.run(
            run_async(
                config,
                store=store,
                target=target,
                judges=[LengthJudge()],
                cases=cases,
                suite_ref="kill@1",
                resume=a.resume,
            )
        )
    print(summary.run_id, summary.status, summary.completed)


if __name__ == "__main__":
    main()
