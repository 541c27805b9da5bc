"""The embedded run store: one SQLite file in WAL mode.

Every response is committed together with its verdicts the moment it is judged, so a run
killed at any instant (even by SIGKILL) keeps everything finished before it and can be
resumed without redoing or duplicating a case. A response cache keyed by
(target and its endpoint, conversation, generation parameters) is shared across runs.

A run being worked on is *leased*: one process at a time holds it (owner ``host:pid:random``,
heartbeat renewed while it runs). A second worker is refused while the lease is live; a lease
whose owner died on this host, or whose heartbeat is older than ``lease_timeout_s``, is taken
over in one ``BEGIN IMMEDIATE`` transaction, so two workers never both win it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harmscope.config import RunConfig
from harmscope.errors import NotFoundError, RunBusyError, StoreError
from harmscope.metrics import CaseResult
from harmscope.records import SCHEMA_VERSION, Case, Response, Verdict
from harmscope.store.lease import LEASE_TIMEOUT_S, lease_is_stale, lease_owner
from harmscope.store.schema import SCHEMA, RunInfo, RunStatus, cache_key

__all__ = ["LEASE_TIMEOUT_S", "RunInfo", "RunStatus", "SQLiteStore", "cache_key", "lease_owner"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLiteStore:
    """Runs, cases, responses and verdicts in one SQLite file.

    Args:
        path: The database file, or ``":memory:"``.
        create: Create the file (and its folder) if missing; ``False`` refuses a missing file.
        lease_timeout_s: Heartbeat age after which another worker's lease is stale.

    Raises:
        StoreError: The file is missing (``create=False``), cannot be created, or is not a
            harmscope store of this schema version.
    """

    def __init__(
        self, path: str | Path, *, create: bool = True, lease_timeout_s: float = LEASE_TIMEOUT_S
    ) -> None:
        self.path = str(path)
        self.lease_timeout_s = lease_timeout_s
        if self.path != ":memory:" and not create and not Path(self.path).is_file():
            raise StoreError(f"{self.path}: no such store")
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{self.path}: cannot create the store's folder ({_why(exc)})"
            ) from None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(SCHEMA)
            self._check_version()
        except sqlite3.OperationalError as exc:
            raise StoreError(
                f"{self.path}: cannot open the store ({exc}); the file and its folder must be "
                "writable"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable harmscope database ({exc})") from None

    def check_writable(self) -> None:
        """Fail now, before any work, if the store cannot be written.

        Raises:
            StoreError: The file or its folder is read-only (SQLite's WAL needs both).
        """
        try:
            with self._tx():
                self._db.execute("DELETE FROM meta WHERE key='write-check'")
        except sqlite3.Error as exc:
            raise StoreError(
                f"{self.path}: the store is not writable ({exc}); the file and its folder must "
                "be writable, or choose another --db"
            ) from None

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {row[0]}, this harmscope reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        *,
        config: RunConfig,
        suite_ref: str,
        target_id: str,
        judges: Sequence[str],
        cases: Sequence[Case],
        owner: str | None = None,
    ) -> str:
        """Store a new run and its cases in one transaction; return its id.

        ``owner`` (see :func:`lease_owner`) leases the new run to its creator at once.
        """
        run_id = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        with self._tx():
            self._db.execute(
                "INSERT INTO runs VALUES (?, ?, NULL, 'running', ?, ?, ?, ?, ?, NULL)",
                (
                    run_id,
                    _now(),
                    config.model_dump_json(),
                    suite_ref,
                    target_id,
                    json.dumps(list(judges)),
                    SCHEMA_VERSION,
                ),
            )
            self._db.executemany(
                "INSERT INTO run_cases VALUES (?, ?, ?, ?)",
                [(run_id, i, c.id, c.model_dump_json()) for i, c in enumerate(cases)],
            )
            if owner is not None:
                self._put_lease(run_id, owner)
        return run_id

    # -- leases -----------------------------------------------------------------------------

    def acquire_lease(self, run_id: str, owner: str) -> None:
        """Lease ``run_id`` to ``owner``, taking over a stale lease (an atomic check-and-set).

        Raises:
            RunBusyError: Another live worker holds the run.
        """
        with self._tx():  # BEGIN IMMEDIATE: nobody else can read-then-write in between
            row = self._db.execute(
                "SELECT owner, host, pid, heartbeat FROM leases WHERE run_id=?", (run_id,)
            ).fetchone()
            if row is not None and row[0] != owner and not self._stale(*row[1:]):
                age = max(0.0, time.time() - float(row[3]))
                raise RunBusyError(
                    f"run {run_id} is being worked on by {row[1]} pid {row[2]} (heartbeat "
                    f"{age:.0f} s ago); wait for it to finish or stop it (a lease silent for "
                    f"{self.lease_timeout_s:.0f} s is taken over)"
                )
            self._put_lease(run_id, owner)

    def renew_lease(self, run_id: str, owner: str) -> bool:
        """Renew ``owner``'s heartbeat; ``False`` if the lease is no longer ``owner``'s."""
        cur = self._db.execute(
            "UPDATE leases SET heartbeat=? WHERE run_id=? AND owner=?", (time.time(), run_id, owner)
        )
        return cur.rowcount == 1

    def release_lease(self, run_id: str, owner: str) -> None:
        """Give the run up (only if ``owner`` still holds it)."""
        self._db.execute("DELETE FROM leases WHERE run_id=? AND owner=?", (run_id, owner))

    def lease(self, run_id: str) -> str | None:
        """The owner currently holding ``run_id``, live or stale, if any."""
        row = self._db.execute("SELECT owner FROM leases WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else str(row[0])

    def _put_lease(self, run_id: str, owner: str) -> None:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        pid = pid if pid.isdigit() else str(os.getpid())
        self._db.execute(
            "INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
            (run_id, owner, host, int(pid), time.time()),
        )

    def _stale(self, host: str, pid: int, heartbeat: float) -> bool:
        return lease_is_stale(host, pid, heartbeat, self.lease_timeout_s)

    def set_status(self, run_id: str, status: RunStatus) -> None:
        """Mark a run ``complete`` (stamping the time) or ``stopped``."""
        finished = _now() if status == "complete" else None
        self._db.execute(
            "UPDATE runs SET status=?, finished_at=? WHERE run_id=?", (status, finished, run_id)
        )

    def set_judges(self, run_id: str, judges: Sequence[str]) -> None:
        """Record the judges that score a run (when a resume adds one)."""
        self._db.execute(
            "UPDATE runs SET judges=? WHERE run_id=?", (json.dumps(list(judges)), run_id)
        )

    def set_judge_error(
        self, run_id: str, judge_id: str, task: str, report: dict[str, Any]
    ) -> None:
        """Store a judge's measured error (a meta-evaluation report) with a run."""
        self._db.execute(
            "INSERT OR REPLACE INTO judge_errors VALUES (?, ?, ?, ?)",
            (run_id, judge_id, task, json.dumps(report)),
        )

    def judge_errors(self, run_id: str) -> dict[tuple[str, str], dict[str, Any]]:
        """Measured judge errors stored with ``run_id``, by ``(judge_id, task)``."""
        rows = self._db.execute(
            "SELECT judge_id, task, report_json FROM judge_errors WHERE run_id=?", (run_id,)
        )
        return {(j, t): json.loads(r) for j, t, r in rows}

    def run(self, run_id: str) -> RunInfo:
        """The header of ``run_id`` (``latest`` for the newest run).

        Raises:
            NotFoundError: No such run.
        """
        if run_id == "latest":
            row = self._db.execute(
                "SELECT * FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        else:
            row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no run {run_id!r} in {self.path}")
        return self._info(row)

    def runs(self) -> list[RunInfo]:
        """Every run, newest first."""
        rows = self._db.execute("SELECT * FROM runs ORDER BY created_at DESC, rowid DESC")
        return [self._info(r) for r in rows.fetchall()]

    def _info(self, row: tuple[object, ...]) -> RunInfo:
        try:
            return RunInfo(
                run_id=str(row[0]),
                created_at=str(row[1]),
                finished_at=None if row[2] is None else str(row[2]),
                status=row[3],
                config=RunConfig.model_validate_json(str(row[4])),
                suite_ref=str(row[5]),
                target_id=str(row[6]),
                judges=tuple(json.loads(str(row[7]))),
            )
        except (ValidationError, ValueError) as exc:
            raise StoreError(f"{self.path}: run {row[0]} is unreadable ({exc})") from None

    # -- cases and results ----------------------------------------------------------------

    def cases(self, run_id: str) -> list[Case]:
        """The run's cases in their original order."""
        rows = self._db.execute(
            "SELECT case_json FROM run_cases WHERE run_id=? ORDER BY ord", (run_id,)
        )
        return [Case.model_validate_json(r[0]) for r in rows]

    def save_result(
        self,
        run_id: str,
        response: Response,
        verdicts: Sequence[Verdict],
        *,
        key: str,
        cache: bool = True,
    ) -> None:
        """Store a response and its verdicts atomically; cache a successful response.

        ``cache=False`` stores the result without adding it to the response cache.
        """
        with self._tx():
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                (run_id, response.case_id, key, response.model_dump_json(), _now()),
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                [(run_id, v.case_id, v.judge_id, v.model_dump_json()) for v in verdicts],
            )
            if response.ok and cache:
                self._db.execute(
                    "INSERT OR REPLACE INTO cache VALUES (?, ?, ?)",
                    (key, response.model_dump_json(), _now()),
                )

    def cached(self, key: str) -> Response | None:
        """A cached successful response, if any."""
        row = self._db.execute("SELECT response_json FROM cache WHERE cache_key=?", (key,))
        found = row.fetchone()
        return None if found is None else Response.model_validate_json(found[0])

    def results(self, run_id: str) -> list[CaseResult]:
        """Every case of the run with its response (``None`` if pending) and verdicts."""
        responses = {
            cid: Response.model_validate_json(js)
            for cid, js in self._db.execute(
                "SELECT case_id, response_json FROM responses WHERE run_id=?", (run_id,)
            )
        }
        verdicts: dict[str, list[Verdict]] = {}
        for cid, js in self._db.execute(
            "SELECT case_id, verdict_json FROM verdicts WHERE run_id=? ORDER BY judge_id",
            (run_id,),
        ):
            verdicts.setdefault(cid, []).append(Verdict.model_validate_json(js))
        return [
            CaseResult(case=c, response=responses.get(c.id), verdicts=tuple(verdicts.get(c.id, ())))
            for c in self.cases(run_id)
        ]

    def iter_rows(self, run_id: str) -> Iterator[dict[str, object]]:
        """Export rows: case, response and verdicts per case, with the record layout version."""
        for r in self.results(run_id):
            yield {
                "schema_version": SCHEMA_VERSION,
                "run_id": run_id,
                "case": r.case.model_dump(mode="json"),
                "response": None if r.response is None else r.response.model_dump(mode="json"),
                "verdicts": [v.model_dump(mode="json") for v in r.verdicts],
            }

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)
