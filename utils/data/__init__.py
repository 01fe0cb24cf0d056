"""The course's datasets as tensors (chapter: Setup).

``load_task(name, ...)`` returns a :class:`TaskData` (``spec``, ``train``, ``val``, ``test``) for
``"speech"``, ``"images"``, ``"promoters"`` or ``"motif_grammar"``; ``describe(name)`` prints a
dataset card; ``fetch(name)`` downloads and verifies the raw files. One module per concept:

- ``download``  fetch and verify raw files (``fetch``, ``MANIFEST``)
- ``spec``      the contract with the models (``TaskSpec``, ``Split``, ``TaskData``)
- ``splits``    seeded stratified splits and quick-mode subsets
- ``cache``     the on-disk feature cache
- ``audio``     log-mel spectrograms and MFCCs;  ``speech``: FSDD
- ``images``    Fashion-MNIST
- ``dna``       FASTA and one-hot DNA;  ``promoters``: CNNProm;  ``motifs``: JASPAR motif tasks
- ``tasks``     ``load_task`` and ``describe``
"""

from utils.data.download import MANIFEST, DownloadError, fetch
from utils.data.spec import Split, TaskData, TaskSpec
from utils.data.tasks import TASKS, describe, load_task

__all__ = [
    "MANIFEST",
    "TASKS",
    "DownloadError",
    "Split",
    "TaskData",
    "TaskSpec",
    "describe",
    "fetch",
    "load_task",
]
