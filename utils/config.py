"""The course's one configuration object: quick mode, paths, seeding and device
(chapter: Getting started).

Everything that depends on the environment is read here, once, from these variables:

- ``COURSE_QUICK=1``      quick mode: tiny data subsets and one epoch (tests, CI); unset for the
                          full settings the published book uses.
- ``COURSE_DATA_DIR``     where downloads and feature caches go (default: ``data/cache``).
- ``COURSE_CACHE_DIR``    where derived caches (computed features) go; default: the data folder
                          when it is writable, else ``~/.cache/rnn-cnn-course``.
- ``COURSE_DATA_MIRROR``  a folder, ``file://`` URL or ``https://`` base that replaces the
                          canonical dataset hosts (offline classrooms, CI).
- ``COURSE_DEVICE``       force a device (``cpu``, ``cuda``, ``mps``); default: the best available.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={value!r} is not a yes/no value: use {name}=1 or leave it unset."
    )


class Config:
    """Settings read from the environment each time they are asked for (so a test or a
    notebook can change ``os.environ`` and see the effect); see the module docstring."""

    @property
    def quick(self) -> bool:
        return _env_flag("COURSE_QUICK")

    @property
    def data_dir(self) -> Path:
        data_dir = os.environ.get("COURSE_DATA_DIR") or REPO_ROOT / "data" / "cache"
        return Path(data_dir).expanduser().resolve()

    @property
    def cache_dir(self) -> Path | None:
        value = os.environ.get("COURSE_CACHE_DIR")
        return Path(value).expanduser().resolve() if value else None

    @property
    def mirror(self) -> str | None:
        return os.environ.get("COURSE_DATA_MIRROR") or None

    @property
    def device_override(self) -> str | None:
        return os.environ.get("COURSE_DEVICE") or None

    def pick(self, *, full, quick):
        """``quick`` in quick mode, else ``full``: ``epochs = config.pick(full=15, quick=1)``."""
        return quick if self.quick else full

    def __repr__(self) -> str:
        """Paths shown without the machine's own folders (the chapters print the
        config into the published book); the properties hold the full paths."""
        mode = "quick" if self.quick else "full"
        mirror = self.mirror and public_path(self.mirror)
        data_dir = public_path(self.data_dir)
        return f"Config(mode={mode}, data_dir={data_dir!r}, mirror={mirror!r})"


def public_path(path: str | Path) -> str:
    """``path`` as a published page may print it: relative to the course folder
    (``<course>/data/cache``) or home (``~/data``), else its last two parts
    (``.../shared/data``); URLs unchanged (chapter: Getting started)."""
    if "://" in str(path) and not str(path).startswith("file://"):
        return str(path)
    path = Path(str(path).removeprefix("file://")).expanduser().resolve()
    for folder, name in ((REPO_ROOT, "<course>"), (Path.home().resolve(), "~")):
        if path.is_relative_to(folder):
            return Path(name, path.relative_to(folder)).as_posix()
    return ".../" + "/".join(path.parts[-2:])


config = Config()


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that a run can be repeated exactly on the same machine.

    (String hashing, ``PYTHONHASHSEED``, is fixed when the interpreter starts and cannot be
    seeded from here; nothing in the course depends on the order of a set of strings.)"""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def get_device(override: str | None = None):
    """The device to train on: ``COURSE_DEVICE`` if set, else cuda > mps > cpu."""
    import torch

    name = override or config.device_override
    if name:
        device = torch.device(name)  # raises on a malformed name
        if device.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(
                f"COURSE_DEVICE={name!r} but CUDA is not available on this machine."
            )
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise RuntimeError(
                f"COURSE_DEVICE={name!r} but MPS is not available on this machine."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device=None):
    """A ``torch.device`` from a device, a name (``"cpu"``, ``"cuda"``) or ``None`` (the best
    available, as :func:`get_device`)."""
    return get_device(device) if device is None or isinstance(device, str) else device
