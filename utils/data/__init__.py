"""The course's datasets as tensors (chapter: Getting started).

``load_task(name, ...)`` returns a :class:`TaskData` (``spec``, ``train``, ``val``, ``test``) for
``"speech"``, ``"images"``, ``"promoters"`` or ``"motif_grammar"``; ``describe(name)`` prints a
dataset card; ``fetch(name)`` downloads and verifies the raw files. One module per concept:

- ``download``  fetch and verify raw files (``fetch``, ``MANIFEST``); standard library only
- ``spec``      the contract with the models (``TaskSpec``, ``Split``, ``TaskData``)
- ``splits``    seeded stratified splits and quick-mode subsets
- ``cache``     the on-disk feature cache
- ``audio``     log-mel spectrograms and MFCCs;  ``speech``: FSDD
- ``images``    Fashion-MNIST
- ``dna``       FASTA and one-hot DNA;  ``promoters``: CNNProm;  ``motifs``: JASPAR motif tasks
- ``tasks``     ``load_task`` and ``describe``
- ``digit_strings`` FSDD recordings strung into digit strings for CTC
- ``synthetic`` generated tasks, nothing to download: the adding problem, a pattern anywhere

Fetching data must not wait for PyTorch (``python -m utils.data fetch`` runs before anything is
trained, often on a slow shared disk), so this package imports its torch-backed names only when
they are first used: ``from utils.data import load_task`` works as usual, and a test checks that
fetching leaves ``torch`` unimported.
"""

import importlib

from utils.data.download import MANIFEST, DownloadError, fetch

_IMPORTED_ON_FIRST_USE = {  # name -> the module that defines it (and imports torch)
    "Split": "utils.data.spec",
    "TaskData": "utils.data.spec",
    "TaskSpec": "utils.data.spec",
    "TASKS": "utils.data.tasks",
    "describe": "utils.data.tasks",
    "load_task": "utils.data.tasks",
}

__all__ = ["MANIFEST", "DownloadError", "fetch", *_IMPORTED_ON_FIRST_USE]


def __getattr__(name: str):
    """``utils.data.load_task`` and the other torch-backed names, imported on first use."""
    if name in _IMPORTED_ON_FIRST_USE:
        return getattr(importlib.import_module(_IMPORTED_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'utils.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_IMPORTED_ON_FIRST_USE])
