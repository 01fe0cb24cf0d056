"""Atomic file writes: a reader sees the old file, no file, or the whole new file, never half of
one, and a failed write leaves nothing behind (chapter: Getting started).

Every file the course writes (feature caches, histories, checkpoints, results, notebooks, the
grader's CSV) goes through :func:`atomic_write`::

    with atomic_write(path, "wb") as f:
        torch.save(tensors, f)

The data goes to a temporary file in the same folder (so the final rename never crosses file
systems), which is flushed to disk and then renamed over ``path`` in one step (``os.replace``).
If anything fails before the rename, the temporary file is removed and ``path`` is untouched.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# errors that mean "this folder cannot take the file" (no permission, read-only, full), as
# opposed to a bug: callers fall back to another folder or say which setting to change
WRITE_ERRORS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}
)


@contextmanager
def atomic_write(path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` (``mode`` ``"w"`` or ``"wb"``); when the ``with``
    block ends normally it replaces ``path``, when it raises it is deleted. Parent folders are
    created. Text mode defaults to UTF-8."""
    if mode not in ("w", "wb"):
        raise ValueError(
            f"atomic_write writes a whole new file: mode 'w' or 'wb', got {mode!r}"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return the path."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)
