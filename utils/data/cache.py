"""An on-disk cache for computed features, keyed by the parameters that made them
(chapter: Getting started).

``cached("fsdd-logmel", params, compute)`` returns ``compute()``'s tensors, computing them at
most once: the file name holds a hash of ``params`` (every argument that changes the result),
so asking for 64 mel bands never reuses the file made with 40. Files are written atomically
(temporary file, then ``os.replace``) and read with ``torch.load(weights_only=True)``; a file
that cannot be read, or whose stored parameters differ, is deleted and computed again.

**Where.** Reading the data never needs write access to the data folder, so a class can share
one read-only folder that an instructor filled. Cache files are looked for in
``COURSE_CACHE_DIR/features`` (if set), ``<data folder>/features`` and the per-user
``~/.cache/rnn-cnn-course/features``; a new one is written to the first of those that accepts
it, and when none does the features are kept in memory, with a one-line note.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import torch

from utils.config import config
from utils.files import WRITE_ERRORS, atomic_write

# bump when a feature computation changes, so that old cache files are not reused
CACHE_VERSION = 1


def features_dir() -> Path:
    """The data folder's own feature caches: ``<COURSE_DATA_DIR>/features``."""
    return config.data_dir / "features"


def user_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/rnn-cnn-course`` (``~/.cache/...``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "rnn-cnn-course"


def feature_dirs() -> list[Path]:
    """Where cache files may be, in the order they are read and tried for writing."""
    if config.cache_dir is not None:
        return [config.cache_dir / "features", features_dir()]
    return [features_dir(), user_cache_dir() / "features"]


def cache_path(kind: str, params: dict) -> Path:
    """Where :func:`cached` first tries to write ``kind`` made with ``params``:
    ``features/<kind>-<hash>.pt`` in the first of :func:`feature_dirs`."""
    return feature_dirs()[0] / _file_name(kind, params)


def _file_name(kind: str, params: dict) -> str:
    return f"{kind}-{_params_hash(params)}.pt"


def _params_json(params: dict) -> str:
    return json.dumps({"cache_version": CACHE_VERSION, **params}, sort_keys=True)


def _params_hash(params: dict) -> str:
    return hashlib.sha256(_params_json(params).encode()).hexdigest()[:16]


def _read(path: Path, params: dict) -> dict[str, torch.Tensor]:
    """Load a cache file; raise ``ValueError`` if it is not what ``params`` would have made."""
    payload = torch.load(path, weights_only=True)
    if not isinstance(payload, dict) or payload.get("params") != _params_json(params):
        raise ValueError("its stored parameters do not match the file name")
    tensors = payload.get("tensors")
    if not isinstance(tensors, dict) or not all(
        isinstance(t, torch.Tensor) for t in tensors.values()
    ):
        raise ValueError("it holds no tensors")
    return tensors


def _write(path: Path, params: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Write atomically: a reader sees the old file, no file, or the whole new file."""
    with atomic_write(path, "wb") as f:
        torch.save({"params": _params_json(params), "tensors": tensors}, f)


def cached(
    kind: str, params: dict, compute: Callable[[], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """``compute()``'s tensors, read from the cache if a good file exists
    (chapter: Getting started).

    ``params`` must be JSON-serialisable and name everything the result depends on.
    """
    name = _file_name(kind, params)
    for folder in feature_dirs():
        path = folder / name
        if not path.exists():
            continue
        try:
            return _read(path, params)
        except (
            Exception
        ) as error:  # truncated, not a torch file, wrong content: recompute
            print(
                f"{kind}: cached features {path.name} are unreadable ({error}); recomputing."
            )
            with contextlib.suppress(OSError):  # a read-only folder keeps its bad file
                path.unlink(missing_ok=True)
    tensors = compute()
    _store(kind, name, params, tensors)
    return tensors


def _store(
    kind: str, name: str, params: dict, tensors: dict[str, torch.Tensor]
) -> Path | None:
    """Write to the first cache folder that accepts the file; None (and a note) if none does."""
    refused = []
    for folder in feature_dirs():
        try:
            _write(folder / name, params, tensors)
            return folder / name
        except OSError as error:
            if error.errno not in WRITE_ERRORS:
                raise
            refused.append(f"{folder} ({error.strerror})")
    print(
        f"{kind}: features kept in memory only, no cache folder is writable "
        f"({'; '.join(refused)}); set COURSE_CACHE_DIR to keep them between runs."
    )
    return None


def clear_cache(kind: str | None = None) -> int:
    """Delete cached feature files (all, or those of one ``kind``) wherever this user can;
    return how many."""
    removed = 0
    for folder in feature_dirs():
        for path in folder.glob(f"{kind}-*.pt" if kind else "*.pt"):
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed
