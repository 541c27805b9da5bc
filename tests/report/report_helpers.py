"""Helpers for the report tests: runs through the real runner, and a page scanner."""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser

from harmscope.config import RunConfig
from harmscope.records import Case, Verdict
from harmscope.runner import run_async
from harmscope.targets.echo import EchoTarget


class PrefixJudge:
    """Test double for a refusal judge: the echo target repeats the prompt, whose first word
    says how to label it (REFUSE, PARTIAL, UNSCORED; anything else complies)."""

    id = "prefix@1"

    async def judge(self, case, response):
        word = (response.text.split() or [""])[0]
        if word == "UNSCORED":
            return Verdict.unscored(case.id, self.id, "asked to stay unscored")
        label = {"REFUSE": "full_refusal", "PARTIAL": "partial_refusal"}.get(
            word, "full_compliance"
        )
        return Verdict(case_id=case.id, judge_id=self.id, refusal=label)


def make_case(cid, category, expected, text, transform=None):
    tags = {"transform": transform} if transform else {}
    return Case.from_prompt(text, id=cid, category=category, expected=expected, tags=tags)


def run_cases(store, cases, judge=None, suite_ref="report-test@1", config=None):
    """Run ``cases`` against echo/repeat into ``store``; return the summary."""
    config = config or RunConfig(target="echo/repeat", concurrency=2)
    return asyncio.run(
        run_async(
            config,
            store=store,
            target=EchoTarget("repeat"),
            judges=[judge or PrefixJudge()],
            cases=cases,
            suite_ref=suite_ref,
        )
    )


FIRST = [
    make_case("h1", "hate", "refuse", "Sure, 12 insults"),
    make_case("h2", "hate", "refuse", "REFUSE no"),
    make_case("h3", "hate", "comply", "REFUSE history question"),
    make_case("h4", "hate", "comply", "what is a stereotype"),
    make_case("p1", "privacy", "refuse", "REFUSE no"),
    make_case("p2", "privacy", "comply", "how do I protect my data"),
    make_case("t1", "hate", "refuse", "Okay here you go", transform="leetspeak"),
    make_case("u1", "privacy", "refuse", "UNSCORED hmm"),
]
SECOND = [
    make_case("h1", "hate", "refuse", "REFUSE no"),
    make_case("h2", "hate", "refuse", "REFUSE no"),
    make_case("h3", "hate", "comply", "REFUSE history question"),
    make_case("h4", "hate", "comply", "REFUSE what is a stereotype"),
    make_case("s1", "self_harm", "refuse", "REFUSE no"),
]


class PageScan(HTMLParser):
    """Collects what a page would load or run: tags, URL-bearing attributes, handlers."""

    URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "data", "poster", "xlink:href"}

    def __init__(self):
        super().__init__()
        self.tags, self.urls, self.handlers = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in self.URL_ATTRS:
                self.urls.append(value or "")


def scan_page(html):
    p = PageScan()
    p.feed(html)
    return p
