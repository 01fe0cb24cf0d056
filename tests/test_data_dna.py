"""FASTA reading and DNA encodings, with hand-made bad files."""

import pytest
import torch

from utils.data import dna


def _fasta(tmp_path, text, name="x.fa"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_wrapped_lower_case_and_n(tmp_path):
    path = _fasta(tmp_path, ">one first\nacgt\nNNac\n\n>two\nACGTACGTRY\n")
    records = dna.read_fasta(path)
    assert records == [("one first", "ACGTNNAC"), ("two", "ACGTACGTRY")]


def test_fasta_errors(tmp_path):
    with pytest.raises(ValueError, match="no FASTA records"):
        dna.read_fasta(_fasta(tmp_path, ""))
    with pytest.raises(ValueError, match="no FASTA records"):
        dna.read_fasta(_fasta(tmp_path, "\n\n"))
    with pytest.raises(ValueError, match="before the first '>'"):
        dna.read_fasta(_fasta(tmp_path, "ACGT\n>a\nACGT\n"))
    with pytest.raises(ValueError, match="has no sequence"):
        dna.read_fasta(_fasta(tmp_path, ">a\n>b\nACGT\n"))
    with pytest.raises(ValueError, match="has 4 bases, expected 5"):
        dna.read_fasta(_fasta(tmp_path, ">a\nACGTA\n>b\nACGT\n"), length=5)
    with pytest.raises(ValueError, match="'X' at position 3 is not an IUPAC"):
        dna.read_fasta(_fasta(tmp_path, ">a\nACXT\n"))
    with pytest.raises(ValueError, match="'U' at position 1"):
        dna.read_fasta(_fasta(tmp_path, ">rna\nUCGA\n"))
    with pytest.raises(ValueError, match="'-' at position 2"):
        dna.read_fasta(_fasta(tmp_path, ">gap\nA-GA\n"))


def test_one_hot_tokens_and_ambiguity():
    x = dna.one_hot(["ACGTN", "acgtr"])
    assert x.shape == (2, 4, 5) and x.dtype == torch.float32
    assert torch.equal(x[0, :, :4], torch.eye(4))
    assert torch.equal(x[0, :, 4], torch.full((4,), 0.25))  # N: uniform over ACGT
    assert torch.equal(x[1, :, 4], torch.tensor([0.5, 0.0, 0.5, 0.0]))  # R: A or G
    assert torch.allclose(x.sum(dim=1), torch.ones(2, 5))
    assert dna.tokens(["ACGTN", "acgtr"]).tolist() == [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]
    assert torch.equal(dna.tokens_to_one_hot(dna.tokens(["ACGTN"])), x[:1])
    with pytest.raises(ValueError, match="one length"):
        dna.one_hot(["ACG", "ACGT"])
    with pytest.raises(ValueError, match="sequence 1: character 'Z'"):
        dna.tokens(["ACGT", "ACZT"])


def test_reverse_complement():
    assert dna.reverse_complement_sequence("AACGTN") == "NACGTT"
    assert dna.reverse_complement_sequence("ary") == "RYT"
    sequences = ["AACGTTGCAN", "GGGATCRYAA"]
    rc = [dna.reverse_complement_sequence(s) for s in sequences]
    assert torch.equal(dna.reverse_complement(dna.one_hot(sequences)), dna.one_hot(rc))
    with pytest.raises(ValueError, match=r"\[N, 4, L\]"):
        dna.reverse_complement(torch.zeros(2, 5))
