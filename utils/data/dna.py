"""DNA sequences as tensors: a FASTA reader, one-hot and integer encodings (chapter: DNA).

**Letters.** Upper or lower case are accepted (lower case often marks repeats; we ignore the
mark). Besides A, C, G and T, the IUPAC ambiguity codes are allowed: ``N`` (any base) and
``R Y S W K M B D H V`` (two or three possible bases). Anything else (``U``, gaps ``-``,
digits, ``X``) is an error that names the record and the character.

**Our choice for ambiguous letters** (one-hot): spread the column uniformly over the bases the
letter allows, so ``N`` is ``[0.25, 0.25, 0.25, 0.25]`` and ``R`` (A or G) is
``[0.5, 0, 0.5, 0]``; every column still sums to 1, the expected one-hot under ignorance.
(The other common choice, an all-zero column, tells a CNN "no evidence" but makes ``N`` look
unlike any real base to a model that reads column sums.) As integer tokens, A, C, G, T are
0-3 and every ambiguous letter is 4 (``N``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

ALPHABET = "ACGT"
N_TOKEN = 4  # the token of N and every other ambiguous letter
IUPAC = {
    "A": "A", "C": "C", "G": "G", "T": "T",
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}  # fmt: skip
COMPLEMENT = str.maketrans("ACGTRYSWKMBDHVN", "TGCAYRSWMKVHDBN")


@functools.cache
def _lookup_tables() -> tuple[np.ndarray, np.ndarray]:
    """The one-hot column ``[256, 4]`` and the token ``[256]`` of every letter, indexed by ASCII
    code (-1: not a DNA letter); built on first use."""
    one_hot = np.zeros((256, 4), dtype=np.float32)
    token = np.full(256, -1, dtype=np.int64)
    for letter, bases in IUPAC.items():
        for code in (ord(letter), ord(letter.lower())):
            one_hot[code, [ALPHABET.index(b) for b in bases]] = 1.0 / len(bases)
            token[code] = ALPHABET.index(letter) if letter in ALPHABET else N_TOKEN
    return one_hot, token


# ----------------------------------------------------------------------------- reading


def read_fasta(path: Path, *, length: int | None = None) -> list[tuple[str, str]]:
    """Records of a FASTA file as ``(header, SEQUENCE)`` pairs, upper case (chapter: DNA).

    Sequence lines may be wrapped; blank lines are skipped. Raises ``ValueError`` for an empty
    file, text before the first ``>``, a record without sequence, a letter outside IUPAC, or,
    if ``length`` is given, a sequence of another length.
    """
    path = Path(path)
    records: list[tuple[str, list[str]]] = []
    with open(path, encoding="ascii", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                records.append((line[1:].strip(), []))
            elif not records:
                raise ValueError(
                    f"{path.name}, line {number}: sequence before the first '>' header"
                )
            else:
                records[-1][1].append(line)
    if not records:
        raise ValueError(f"{path.name}: no FASTA records (empty file?)")
    out = []
    for header, lines in records:
        sequence = "".join(lines).upper()
        if not sequence:
            raise ValueError(f"{path.name}: record {header!r} has no sequence")
        check_sequence(sequence, where=f"{path.name}: record {header!r}")
        if length is not None and len(sequence) != length:
            raise ValueError(
                f"{path.name}: record {header!r} has {len(sequence)} bases, expected {length}"
            )
        out.append((header, sequence))
    return out


def check_sequence(sequence: str, *, where: str = "sequence") -> None:
    """Raise ``ValueError`` if ``sequence`` holds a letter that is not IUPAC DNA (chapter: DNA)."""
    codes = np.frombuffer(sequence.encode("ascii", errors="replace"), dtype=np.uint8)
    bad = np.nonzero(_lookup_tables()[1][codes] < 0)[0]
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"{where}: character {sequence[i]!r} at position {i + 1} is not an IUPAC DNA letter "
            f"(allowed: {''.join(IUPAC)}, upper or lower case)"
        )


# ----------------------------------------------------------------------------- encodings


def _codes(sequences: list[str]) -> np.ndarray:
    """ASCII codes ``[N, L]`` of equal-length sequences."""
    lengths = {len(s) for s in sequences}
    if len(lengths) > 1:
        raise ValueError(
            f"sequences must have one length to stack, got lengths {sorted(lengths)}"
        )
    text = "".join(sequences).encode("ascii", errors="replace")
    codes = np.frombuffer(text, dtype=np.uint8).reshape(len(sequences), -1)
    bad = np.nonzero(_lookup_tables()[1][codes] < 0)[0]
    if len(bad):  # name the first offending sequence
        check_sequence(sequences[int(bad[0])], where=f"sequence {int(bad[0])}")
    return codes


def one_hot(sequences: list[str]) -> torch.Tensor:
    """Equal-length sequences -> one-hot ``[N, 4, L]`` float32 over A, C, G, T, ambiguous
    letters spread uniformly (chapter: DNA)."""
    encoded = _lookup_tables()[0][_codes(sequences)]  # [N, L, 4]
    # [N, 4, L]
    return torch.from_numpy(np.ascontiguousarray(encoded.transpose(0, 2, 1)))


def tokens(sequences: list[str]) -> torch.Tensor:
    """Equal-length sequences -> integer tokens ``[N, L]`` int64: A=0, C=1, G=2, T=3, other=4
    (chapter: DNA)."""
    return torch.from_numpy(_lookup_tables()[1][_codes(sequences)])


def tokens_to_one_hot(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens ``[N, L]`` (0-4) -> one-hot ``[N, 4, L]`` float32, token 4 (N) as 0.25 each
    (chapter: DNA)."""
    table = torch.tensor(
        [[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0.25] * 4]
    )
    return table[tokens].transpose(1, 2).contiguous()  # [N, L, 4] -> [N, 4, L]


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """Reverse complement of one-hot DNA ``[N, 4, L]``: reverse the positions and swap A<->T,
    C<->G, which in ACGT order is flipping the channel axis too (chapter: DNA)."""
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"expected one-hot DNA [N, 4, L], got shape {list(x.shape)}")
    return torch.flip(x, dims=(1, 2))


def reverse_complement_sequence(sequence: str) -> str:
    """``"AACG" -> "CGTT"``, IUPAC letters included (chapter: DNA)."""
    return sequence.upper().translate(COMPLEMENT)[::-1]


def gc_content(x: torch.Tensor) -> torch.Tensor:
    """Fraction of G and C in each one-hot sequence ``[N, 4, L]`` -> ``[N]`` (chapter: DNA). An
    ``N`` (0.25 on each base) counts as half a G or C."""
    if x.ndim != 3 or x.shape[1] != 4:
        raise ValueError(f"expected one-hot DNA [N, 4, L], got shape {list(x.shape)}")
    # C and G rows, over all positions -> [N]
    return x[:, 1:3].sum(dim=(1, 2)) / x.shape[2]


def iupac_pfm(consensus: str) -> torch.Tensor:
    """A position frequency matrix ``[k, 4]`` from an IUPAC consensus, each letter's bases
    equally likely: ``"TATAWAWR"`` (the TATA box) has ``W`` = A or T at 0.5 each (chapter: DNA)."""
    check_sequence(consensus, where=f"consensus {consensus!r}")
    table = torch.from_numpy(_lookup_tables()[0])  # [256, 4]
    return table[list(consensus.upper().encode("ascii"))]  # [k, 4]
