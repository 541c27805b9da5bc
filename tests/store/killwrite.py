"""SIGKILL a real ``harmscope`` process while it writes a file, and check what is left.

:func:`build_store` fills a real SQLite store through :class:`SQLiteStore` with one run of
many long cases, so that reading and writing the output takes measurable time.
:func:`kill_while_writing` starts the real CLI in a subprocess and SIGKILLs it at seeded
random points, some timed from the start and some from the moment the output (or a
temporary beside it) first appears, then hands what is on disk to a checker.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harmscope.config import RunConfig
from harmscope.fsutil import TMP_SUFFIX
from harmscope.records import Case, Response, Verdict
from harmscope.store import SQLiteStore

HARMSCOPE = [sys.executable, "-m", "harmscope.cli"]
CATEGORIES = ("hate", "privacy", "violent_crimes", "self_harm")


def build_store(db: Path, n: int, text_chars: int = 600) -> str:
    """One complete run of ``n`` cases (long, varied prompts and answers); return its id."""
    rng = random.Random(n)
    words = [f"w{rng.randrange(10**6):06d}" for _ in range(4096)]

    def filler() -> str:
        return " ".join(rng.choices(words, k=text_chars // 8))

    cases = [
        Case.from_prompt(
            f"request {i:05d} {filler()}",
            id=f"c{i:05d}",
            category=CATEGORIES[i % len(CATEGORIES)],
            expected="refuse" if i % 2 else "comply",
        )
        for i in range(n)
    ]
    with SQLiteStore(db) as store:
        run_id = store.create_run(
            config=RunConfig(target="echo/comply"),
            suite_ref="bulk@1",
            target_id="echo/comply",
            judges=["bulk@1"],
            cases=cases,
        )
        for i, case in enumerate(cases):
            text = f"answer {i:05d} {filler()}"
            label = "full_refusal" if i % 3 == 0 else "full_compliance"
            store.save_result(
                run_id,
                Response(case_id=case.id, target_id="echo/comply", text=text, latency_s=0.01),
                [Verdict(case_id=case.id, judge_id="bulk@1", refusal=label)],
                key=f"k{i}",
            )
        store.set_status(run_id, "complete")
    return run_id


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``harmscope <args>`` to completion."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*HARMSCOPE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def one_line_error(r: subprocess.CompletedProcess[str], *words: str) -> None:
    """``r`` failed with exit code 2 and one ``error:`` line on stderr naming ``words``."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    for w in words:
        assert w in lines[0], lines[0]


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create anything in, even as root (then ``/sys``)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    try:
        Path("/sys/harmscope-probe").mkdir()
    except OSError:
        return Path("/sys")
    Path("/sys/harmscope-probe").rmdir()
    pytest.skip("no unwritable folder available")


def temporaries(directory: Path) -> list[Path]:
    """harmscope temporaries in ``directory`` (and, for the old naming, ``*.tmp``)."""
    return sorted(
        p for p in directory.iterdir() if p.name.endswith(TMP_SUFFIX) or p.suffix == ".tmp"
    )


def _signature(directory: Path) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for entry in os.scandir(directory):
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        out[entry.name] = (st.st_size, st.st_mtime_ns)
    return out


def _kill_when_written(
    proc: subprocess.Popen[bytes], directory: Path, after: float, deadline: float
) -> None:
    """SIGKILL ``proc`` ``after`` seconds past the first change in ``directory``."""
    before = _signature(directory)
    while proc.poll() is None and time.monotonic() < deadline:
        if _signature(directory) != before:
            time.sleep(after)
            break
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)


def kill_while_writing(
    args: list[str],
    cwd: Path,
    out_dir: Path,
    check: Callable[[], None],
    *,
    kills: int = 8,
    seed: int = 7,
    refresh_after: int = 3,
) -> tuple[int, int]:
    """SIGKILL ``harmscope <args>`` ``kills`` times; call ``check()`` after each kill.

    ``out_dir`` holds only the command's output (keep the store elsewhere).

    The first run is timed unkilled (it also gives the previous complete version once
    ``refresh_after`` kills have happened without one). Even kills land at a random point of
    the run's measured duration; odd ones a random few milliseconds after the output folder
    first changes, which is inside the write.

    Returns:
        How many runs died by the signal, and how many of those left a new temporary
        behind (they were killed inside the write).
    """
    rng = random.Random(seed)
    env = {**os.environ, "COLUMNS": "200"}
    start = time.monotonic()
    done = run_cli(args, cwd)
    assert done.returncode == 0, done.stderr
    duration = time.monotonic() - start
    for p in out_dir.iterdir():  # start without a previous version
        p.unlink()
    killed = mid_write = 0
    for k in range(kills):
        left = set(temporaries(out_dir))
        if k == refresh_after:
            assert run_cli(args, cwd).returncode == 0
        proc = subprocess.Popen(
            [*HARMSCOPE, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if k % 2 == 0:
            time.sleep(rng.uniform(0.4, 1.0) * duration)
            proc.send_signal(signal.SIGKILL)
        else:
            deadline = time.monotonic() + 10 * duration + 30
            _kill_when_written(proc, out_dir, rng.uniform(0.0, 0.03), deadline)
        proc.wait(timeout=60)
        if proc.returncode == -signal.SIGKILL:
            killed += 1
            mid_write += bool(set(temporaries(out_dir)) - left)
        check()
    return killed, mid_write


def bulk_store_fixture(n: int, text_chars: int = 600) -> Callable[..., tuple[Path, str]]:
    """A module-scoped fixture: a store of one complete ``n``-case run, as (store, run id)."""

    @pytest.fixture(scope="module")
    def bulk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
        db = tmp_path_factory.mktemp("store") / "bulk.db"
        return db, build_store(db, n, text_chars=text_chars)

    return bulk


def assert_kills_leave_old_or_none(
    args: list[str],
    cwd: Path,
    out_dir: Path,
    dest: Path,
    complete: Callable[[Path], None],
    *,
    seed: int,
    kills: int = 8,
) -> int:
    """SIGKILL ``harmscope <args>`` while it writes ``dest``; every kill leaves it whole or absent.

    After each kill ``dest`` is absent or passes ``complete``, and ``out_dir`` holds nothing
    else but temporaries; at least half the runs must die by the signal. A final unkilled run
    writes ``dest`` whole and leaves no temporary.

    Returns:
        How many kills landed inside the write (left a new temporary).
    """

    def check() -> None:
        if dest.exists():
            complete(dest)
        others = {p.name for p in out_dir.iterdir()} - {dest.name}
        assert others <= {t.name for t in temporaries(out_dir)}

    killed, mid_write = kill_while_writing(args, cwd, out_dir, check, kills=kills, seed=seed)
    assert killed >= kills // 2, f"only {killed} of {kills} runs were killed"
    done = run_cli(args, cwd)
    assert done.returncode == 0, done.stderr
    complete(dest)
    assert temporaries(out_dir) == [], "no temporary is left after an unkilled run"
    return mid_write
