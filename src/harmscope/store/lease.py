"""Run leases: who may work on a run, and when a holder counts as gone."""

from __future__ import annotations

import os
import socket
import time
import uuid

__all__ = ["LEASE_TIMEOUT_S", "lease_is_stale", "lease_owner"]

LEASE_TIMEOUT_S = 60.0
"""A lease whose heartbeat is older than this is stale and may be taken over."""


def lease_owner() -> str:
    """A new lease owner id for this process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def lease_is_stale(host: str, pid: int, heartbeat: float, timeout_s: float) -> bool:
    """Whether a lease may be taken over (old heartbeat, or an owner here whose process is gone)."""
    if time.time() - float(heartbeat) > timeout_s:
        return True
    return host == socket.gethostname() and not _pid_alive(int(pid))
