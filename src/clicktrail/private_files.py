"""The data directory and what is in it (SQLite file, secret key, click spool) are readable by
their owner only (API.md, Data lifecycle): a shared host's other users see nothing of it.

Modes are set explicitly, not left to the umask, and tightened on files and directories made
by an earlier version with the default 0644 / 0755.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger("clicktrail")

DIR_MODE, FILE_MODE = 0o700, 0o600


def private_dir(path: Path) -> Path:
    """Make `path` (and its parents) if missing; the directory itself is left owner-only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _restrict(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make `path` as an empty owner-only file if missing, else make the existing one owner-only."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    except OSError as exc:
        log.warning("could not create %s: %s", path, exc)
        return path
    _restrict(path, FILE_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open with an owner-only mode for a file it creates."""
    return os.open(path, flags, FILE_MODE)


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite URL (sqlite+aiosqlite:///path), None for memory databases."""
    if not database_url.startswith("sqlite"):
        return None
    path = database_url.partition(":///")[2].partition("?")[0]
    return Path(path) if path and path != ":memory:" else None


def private_sqlite(database_url: str) -> None:
    """The SQLite file, made owner-only before SQLite opens it. Its -wal and -shm files, which
    SQLite creates with the database file's mode, are tightened if an older version left them."""
    path = sqlite_file(database_url)
    if path is None:
        return
    private_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _restrict(companion, FILE_MODE)


def _restrict(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError as exc:  # not ours (a directory given by the operator): say so, go on
        log.warning("could not make %s readable by its owner only: %s", path, exc)
