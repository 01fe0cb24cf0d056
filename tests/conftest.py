"""Shared fixtures for the tests."""

import os
from pathlib import Path

import pytest

from utils.config import REPO_ROOT

# CI and developers have ../shared beside it
SHARED_MIRROR = REPO_ROOT.parent / "shared" / "data"
# the offline mirror tests read real data from: COURSE_DATA_MIRROR if it is a folder, else ../shared
MIRROR = next(
    (
        Path(p)
        for p in (os.environ.get("COURSE_DATA_MIRROR"), SHARED_MIRROR)
        if p and Path(p).is_dir()
    ),
    SHARED_MIRROR,
)


@pytest.fixture
def quick_mode(monkeypatch):
    """Quick mode, reading the real datasets from the offline mirror when one sits beside the
    repository and no other mirror is set (an online machine downloads instead)."""
    monkeypatch.setenv("COURSE_QUICK", "1")
    if not os.environ.get("COURSE_DATA_MIRROR") and SHARED_MIRROR.is_dir():
        monkeypatch.setenv("COURSE_DATA_MIRROR", str(SHARED_MIRROR))
