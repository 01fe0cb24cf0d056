"""One entry point for every task: ``load_task(name, ...)`` and ``describe(name)``
(chapter: Getting started).

- ``speech``: FSDD spoken digits as log-mel or MFCC frames, layout ``sequence``; options
  ``features="logmel"|"mfcc"``, ``n_mels``, ``holdout_speaker``, ``val_speaker`` (see
  ``load_speech``).
- ``images``: Fashion-MNIST, layout ``image`` or, with ``view="rows"``, ``sequence``.
- ``promoters``: CNNProm promoters vs non-promoters, layout ``dna``; option ``organism``.
- ``motif_grammar``: JASPAR motifs planted in random DNA, layout ``dna``; option
  ``variant="presence"|"order"``.
- ``digit_strings``: FSDD recordings strung into 3-7 digit strings, layout ``sequence``,
  targets ``[N, S]`` padded with -1 for CTC; ``extra_tests["new_voice"]`` (see
  ``load_digit_strings``).
"""

from __future__ import annotations

import difflib

from utils.data.digit_strings import load_digit_strings
from utils.data.download import MANIFEST
from utils.data.images import load_images
from utils.data.motifs import jaspar_info, load_motif_grammar
from utils.data.promoters import load_promoters
from utils.data.spec import TaskData
from utils.data.speech import load_speech

TASKS = {
    "speech": load_speech,
    "images": load_images,
    "promoters": load_promoters,
    "motif_grammar": load_motif_grammar,
    "digit_strings": load_digit_strings,
}
DEFAULT_SPLITS = {
    "speech": "official",
    "images": "official",
    "promoters": "random",
    "motif_grammar": "random",
    "digit_strings": "speaker",
}
DATASET_OF = {"speech": "fsdd", "images": "fashion-mnist", "promoters": "promoters"}


def _unknown(name: str, known) -> ValueError:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(f"Unknown task {name!r}.{hint} Known tasks: {', '.join(known)}.")


def load_task(
    name: str,
    *,
    split: str | None = None,
    quick: bool | None = None,
    seed: int = 0,
    **options,
) -> TaskData:
    """Load a task's train/val/test tensors and metadata (chapter: Getting started).

    ``name``: ``"speech"``, ``"images"``, ``"promoters"`` or ``"motif_grammar"``.
    ``split``: ``None`` for the task's usual split; speech also offers ``"speaker"``
    (``holdout_speaker=...`` implies it). ``quick=None`` follows ``config.quick`` (small
    stratified subsets of the same data). ``options`` go to the task's loader, e.g.
    ``load_task("speech", features="mfcc")``, ``load_task("images", view="rows")``,
    ``load_task("promoters", organism="mouse")``, ``load_task("motif_grammar", variant="order")``.
    """
    if name not in TASKS:
        raise _unknown(name, TASKS)
    if split is None:
        split = "speaker" if options.get("holdout_speaker") else DEFAULT_SPLITS[name]
    return TASKS[name](split=split, quick=quick, seed=seed, **options)


def dataset_card(name: str) -> str:
    """A task's or dataset's card as text: source, version, size, licence, citation, splits."""
    dataset = DATASET_OF.get(name, name)
    if dataset == "motif_grammar":
        info = jaspar_info()
        return "\n".join(
            [
                "motif_grammar: synthetic DNA with real JASPAR motifs planted in random background",
                f"  motifs:    {info['source']}, release {info['release']}",
                f"  licence:   {info['licence']}",
                f"  citation:  {info['citation']}",
                "  generated: deterministic from seed; variants 'presence' and 'order' share the",
                "             same motif content (see utils/data/motifs.py)",
                "  splits:    'random' 80/10/10, stratified by label, seeded",
            ]
        )
    if dataset == "digit_strings":
        return "\n".join(
            [
                "digit_strings: spoken digit strings (3-7 digits) made from FSDD recordings",
                "  task:      load_task('digit_strings')",
                f"  source:    {MANIFEST['fsdd'].title}, {MANIFEST['fsdd'].homepage}",
                f"  licence:   {MANIFEST['fsdd'].licence}",
                "  generated: deterministic from seed; one speaker per string, ends trimmed,",
                "             random gaps, gains of +-3 dB, white noise at 25-40 dB SNR",
                "  splits:    five speakers: takes 10-49 train, 5-9 val, 0-4 test (known voices);",
                "             extra_tests['new_voice']: the sixth speaker (default theo)",
            ]
        )
    if dataset not in MANIFEST:
        raise _unknown(name, [*TASKS, *MANIFEST])
    d = MANIFEST[dataset]
    task = next((t for t, ds in DATASET_OF.items() if ds == dataset), None)
    splits = {
        "speech": "'official' (takes 0-4 test, 5-49 train) or 'speaker' (one speaker held out)",
        "images": "'official' (60,000 train / 10,000 test), 5,000 of train for validation",
        "promoters": "'random' 80/10/10, de-duplicated, stratified by label, seeded",
    }[task]
    lines = [
        f"{d.name}: {d.title}",
        f"  task:      load_task({task!r})",
        f"  homepage:  {d.homepage}",
        f"  licence:   {d.licence}",
        f"  citation:  {d.citation}",
        f"  size:      {d.size / 1e6:.1f} MB in {len(d.resources)} file(s)",
        f"  splits:    {splits}",
        "  files (sha256; for an archive, one digest over its extracted files):",
        *(f"    {r.target}  {r.sha256}" for r in d.resources),
    ]
    return "\n".join(lines)


def describe(name: str) -> None:
    """Print a dataset card: ``describe("speech")`` (chapter: Getting started)."""
    print(dataset_card(name))
