"""Service metrics in the Prometheus text exposition format (written here, no dependency).

Exposed at ``GET /metrics``:

* ``harmscope_guard_requests_total{endpoint,status}`` — HTTP requests answered;
* ``harmscope_guard_texts_total{endpoint}`` — texts checked;
* ``harmscope_guard_flagged_total{category}`` — flagged texts per harmscope category (``any``
  counts every flagged text);
* ``harmscope_guard_request_seconds`` — latency histogram of requests (all endpoints);
* ``harmscope_guard_shed_total{reason}`` — requests answered without checking their texts:
  ``queue_full`` (503 at admission), ``queue_timeout`` (503 after waiting past the deadline),
  ``disconnected`` (the client left before the answer; its texts were dropped);
* ``harmscope_guard_queue_depth`` — texts waiting for the detector now.

Label sets are fixed by the service (endpoints, status codes, categories, shed reasons), so
the registry stays bounded whatever clients send.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable

__all__ = ["LATENCY_BUCKETS", "Metrics"]

LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds (seconds) of the latency histogram."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    """Counters and a histogram, safe to update from several threads."""

    def __init__(
        self,
        buckets: Iterable[float] = LATENCY_BUCKETS,
        *,
        queue_depth: Callable[[], int] | None = None,
    ) -> None:
        self.buckets = tuple(sorted(buckets))
        self.queue_depth = queue_depth
        self.shed: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.texts: Counter[str] = Counter()
        self.flagged: Counter[str] = Counter()
        self._bucket_counts = [0] * len(self.buckets)
        self._latency_sum = 0.0
        self._latency_count = 0

    def observe_request(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        with self._lock:
            self.requests[(endpoint, status)] += 1
            self._latency_sum += seconds
            self._latency_count += 1
            for i, bound in enumerate(self.buckets):
                if seconds <= bound:
                    self._bucket_counts[i] += 1

    def observe_shed(self, reason: str) -> None:
        """Count one request shed for ``reason`` (its texts were not checked)."""
        with self._lock:
            self.shed[reason] += 1

    def observe_texts(self, endpoint: str, flagged_categories: Iterable[Iterable[str]]) -> None:
        """Count checked texts; each item lists the categories of one text (empty: safe)."""
        with self._lock:
            for cats in flagged_categories:
                self.texts[endpoint] += 1
                cats = list(cats)
                if cats:
                    self.flagged["any"] += 1
                for cat in cats:
                    if cat != "any":
                        self.flagged[cat] += 1

    def render(self) -> str:
        """The exposition text."""
        with self._lock:
            lines = [
                "# HELP harmscope_guard_requests_total HTTP requests answered.",
                "# TYPE harmscope_guard_requests_total counter",
            ]
            for (endpoint, status), n in sorted(self.requests.items()):
                lines.append(
                    f'harmscope_guard_requests_total{{endpoint="{_escape(endpoint)}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP harmscope_guard_texts_total Texts checked.",
                "# TYPE harmscope_guard_texts_total counter",
            ]
            for endpoint, n in sorted(self.texts.items()):
                lines.append(f'harmscope_guard_texts_total{{endpoint="{_escape(endpoint)}"}} {n}')
            lines += [
                "# HELP harmscope_guard_flagged_total Flagged texts per category.",
                "# TYPE harmscope_guard_flagged_total counter",
            ]
            for cat, n in sorted(self.flagged.items()):
                lines.append(f'harmscope_guard_flagged_total{{category="{_escape(cat)}"}} {n}')
            lines += [
                "# HELP harmscope_guard_request_seconds Request latency.",
                "# TYPE harmscope_guard_request_seconds histogram",
            ]
            for bound, n in zip(self.buckets, self._bucket_counts, strict=True):
                lines.append(f'harmscope_guard_request_seconds_bucket{{le="{bound:g}"}} {n}')
            lines.append(
                f'harmscope_guard_request_seconds_bucket{{le="+Inf"}} {self._latency_count}'
            )
            lines.append(f"harmscope_guard_request_seconds_sum {self._latency_sum:.6f}")
            lines.append(f"harmscope_guard_request_seconds_count {self._latency_count}")
            lines += [
                "# HELP harmscope_guard_shed_total Requests shed without checking their texts.",
                "# TYPE harmscope_guard_shed_total counter",
            ]
            for reason in sorted({"queue_full", "queue_timeout", "disconnected", *self.shed}):
                lines.append(
                    f'harmscope_guard_shed_total{{reason="{_escape(reason)}"}} {self.shed[reason]}'
                )
            if self.queue_depth is not None:
                lines += [
                    "# HELP harmscope_guard_queue_depth Texts waiting for the detector.",
                    "# TYPE harmscope_guard_queue_depth gauge",
                    f"harmscope_guard_queue_depth {self.queue_depth()}",
                ]
        return "\n".join(lines) + "\n"
