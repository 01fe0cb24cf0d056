"""An on-disk cache for computed features, keyed by the parameters that made them
(chapter: Getting started).

``cached("fsdd-logmel", params, compute)`` returns ``compute()``'s tensors, computing them at
most once: the file name holds a hash of ``params`` (every argument that changes the result),
so asking for 64 mel bands never reuses the file made with 40. Files are written atomically
(temporary file, then ``os.replace``) and read with ``torch.load(weights_only=True)``; a file
that cannot be read, or whose stored parameters differ, is deleted and computed again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import torch

from utils.config import config
from utils.files import atomic_write

# bump when a feature computation changes, so that old cache files are not reused
CACHE_VERSION = 1


def features_dir() -> Path:
    """Where feature caches live: ``<COURSE_DATA_DIR>/features``."""
    return config.data_dir / "features"


def cache_path(kind: str, params: dict) -> Path:
    """The cache file for ``kind`` made with ``params``: ``features/<kind>-<hash>.pt``."""
    return features_dir() / f"{kind}-{_params_hash(params)}.pt"


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
    path = cache_path(kind, params)
    if path.exists():
        try:
            return _read(path, params)
        except Exception as error:  # truncated, not a torch file, wrong content: recompute
            print(f"{kind}: cached features {path.name} are unreadable ({error}); recomputing.")
            path.unlink(missing_ok=True)
    tensors = compute()
    _write(path, params, tensors)
    return tensors


def clear_cache(kind: str | None = None) -> int:
    """Delete cached feature files (all, or those of one ``kind``); return how many."""
    folder = features_dir()
    if not folder.is_dir():
        return 0
    files = list(folder.glob(f"{kind}-*.pt" if kind else "*.pt"))
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)
