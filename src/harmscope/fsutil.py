"""Atomic output files: every page, card file and export appears complete or not at all.

A file is written to a temporary beside its destination (``.<name>.<pid>.<token>.harmscope-tmp``),
flushed and fsynced, then renamed over the destination with :func:`os.replace`. A failure of
any kind removes the temporary; a process killed mid-write leaves one behind, and the next
write of the same file removes temporaries whose process is gone.

Operating-system errors become :class:`~harmscope.errors.OutputError` with a one-line message
naming the path.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from harmscope.errors import OutputError

__all__ = [
    "TMP_SUFFIX",
    "atomic_writer",
    "check_output_dir",
    "check_output_file",
    "remove_stale_temporaries",
    "write_text_atomic",
]

TMP_SUFFIX = ".harmscope-tmp"
"""How every temporary harmscope writes ends, so a stray one is recognisable."""

_TMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]+" + re.escape(TMP_SUFFIX) + "$")


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else type(exc).__name__


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's live process
        return True
    return True


def remove_stale_temporaries(dest: str | Path) -> list[Path]:
    """Remove temporaries of ``dest`` left by processes that no longer run; return them."""
    dest = Path(dest)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(dest.parent))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if m is None or m["name"] != dest.name or _pid_alive(int(m["pid"])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed.append(Path(entry.path))
    return removed


def check_output_dir(directory: str | Path, *, create: bool = True) -> Path:
    """Make sure ``directory`` is a folder harmscope can write into, creating it if missing.

    Args:
        directory: The output folder.
        create: Create it (and missing parents); when false only check that it could be.

    Raises:
        OutputError: It is a file, a parent is not a folder, or it cannot be created or
            written.
    """
    d = Path(directory)
    if d.exists() and not d.is_dir():
        raise OutputError(f"{d}: is a file, not a folder")
    if not create:
        existing = next((p for p in (d, *d.parents) if p.exists()), Path("."))
        if not existing.is_dir():
            raise OutputError(f"cannot create folder {d}: {existing} is not a folder")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write into folder {existing}: permission denied")
        return d
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {d}: {_reason(exc)}") from None
    if not os.access(d, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write into folder {d}: permission denied")
    return d


def check_output_file(path: str | Path, *, overwrite: bool = True) -> Path:
    """Make sure ``path`` can be written as a file; its folder must exist (none is created).

    Args:
        path: The destination file.
        overwrite: Whether an existing file may be replaced.

    Raises:
        OutputError: It is a folder, exists when ``overwrite`` is false, or its folder is
            missing or not writable.
    """
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{p}: is a folder; give a file name")
    if not overwrite and p.exists():
        raise OutputError(f"{p}: already exists (pass --force to replace it)")
    parent = p.parent
    if not parent.exists():
        raise OutputError(f"cannot write {p}: folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {p}: folder {parent} is not writable")
    return p


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a directory
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(dest: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary beside ``dest`` for binary writing; put it in place on success.

    On leaving the block normally the file is flushed, fsynced and renamed over ``dest``
    (keeping an existing file's permissions); on any exception, including
    ``KeyboardInterrupt``, the temporary is removed and ``dest`` is left as it was.

    Raises:
        OutputError: The temporary cannot be created, written or renamed into place.
    """
    dest = Path(dest)
    if dest.is_symlink():
        dest = dest.resolve()
    remove_stale_temporaries(dest)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}{TMP_SUFFIX}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(dest.stat().st_mode))
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {dest}: {_reason(exc)}") from None
        raise
    _fsync_dir(dest.parent)


def write_text_atomic(dest: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``dest`` atomically and return ``dest``.

    Raises:
        OutputError: As :func:`atomic_writer`.
    """
    with atomic_writer(dest) as fh:
        fh.write(text.encode("utf-8"))
    return Path(dest)
