"""The benchmark protocol (utils.protocol, python -m utils.bench protocol): the results
file's schema and provenance, resuming, appends from several processes, merging,
estimates without training, the full protocol's choice on validation, clear errors for
bad names."""

import json
import multiprocessing
import os
import subprocess
import sys

import pytest
import torch

from utils import bench, protocol
from utils.config import REPO_ROOT

CELL_FIELDS = {
    "key", "protocol", "stage", "task", "split", "family", "architecture", "budget",
    "budget_parameters", "parameters", "seed", "settings", "recipe", "train_examples",
    "metric", "val_metric", "epochs", "seconds_per_epoch", "train_seconds",
    "train_examples_per_second", "latency_ms_batch1", "latency_ms_batch256",
    "examples_per_second_batch256", "peak_memory_mb", "total_seconds", "machine", "finished",
    "test_set", "test", "test_metric",
}  # fmt: skip
MACHINE_FIELDS = {
    "cpu",
    "cores",
    "threads",
    "torch",
    "device",
    "commit",
    "load_average",
}


def fake_record(key, **fields):
    task, family, budget, last = key.split("/")
    record = {"key": key, "task": task, "family": family, "budget": budget}
    seed = int(last.removeprefix("seed")) if last.startswith("seed") else 0
    record |= {"stage": "final", "seed": seed, "settings": {}}
    record |= {"seconds_per_epoch": 2.0, "train_examples": 400, "train_seconds": 4.0}
    record |= {"total_seconds": 10.0, "metric": "accuracy", "test_metric": 0.5}
    record |= {"parameters": 100, "latency_ms_batch1": 1.0}
    return record | fields


def test_a_quick_run_writes_complete_records_with_provenance(quick_mode, tmp_path):
    results = tmp_path / "results.jsonl"
    keys = protocol.run_protocol(
        "reduced", results, tasks=["speech"], families=["cnn"], seeds=[0], workers=0,
        progress=False,
    )  # fmt: skip
    assert keys == ["speech/cnn/matched/seed0"]
    (record,) = protocol.read_results(results)
    assert set(record) >= CELL_FIELDS, CELL_FIELDS - set(record)
    assert set(record["machine"]) >= MACHINE_FIELDS
    assert len(record["machine"]["commit"]) == 40
    assert record["test_set"] == "test" and record["split"].startswith("new speaker")
    assert record["test_metric"] == record["test"]["test"]["accuracy"]
    assert set(record["test"]) == {"test", "noise_10db", "noise_0db", "late_200ms"}
    assert abs(record["parameters"] - record["budget_parameters"]) <= 0.05 * 10_000
    assert record["train_seconds"] <= record["total_seconds"]
    assert record["latency_ms_batch1"] < record["latency_ms_batch256"]

    # resuming: every cell is in the file, so a second run trains nothing
    def no_training(*args, **kwargs):
        raise AssertionError("a finished cell was trained again")

    before = results.read_text()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol, "run_cell", no_training)
        assert protocol.run_protocol("reduced", results, tasks=["speech"],
                                     families=["cnn"], seeds=[0], workers=0) == []  # fmt: skip
    assert results.read_text() == before


def _append_many(path, writer):
    for i in range(200):
        protocol.append_record(path, {"key": f"{writer}/{i}", "padding": "x" * 3000})


def test_appends_from_two_processes_never_interleave(tmp_path):
    path = tmp_path / "results.jsonl"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(path, w)) for w in "ab"]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 400
    assert {json.loads(line)["key"] for line in lines} == {
        f"{w}/{i}" for w in "ab" for i in range(200)
    }


def test_a_line_cut_by_a_crash_is_skipped_so_that_cell_runs_again(tmp_path):
    path = tmp_path / "results.jsonl"
    protocol.append_record(path, fake_record("speech/cnn/matched/seed0"))
    with open(path, "a") as f:
        # no newline: cut short
        f.write('{"key": "speech/cnn/matched/seed1", "task": "spe')
    assert [r["key"] for r in protocol.read_results(path)] == [
        "speech/cnn/matched/seed0"
    ]


def test_cells_run_by_two_processes_merge_into_one_file(quick_mode, tmp_path):
    """Two shards of one protocol, run at the same time by two processes, then merged."""
    command = [sys.executable, "-m", "utils.bench", "protocol", "--tasks", "motif_grammar",
               "--families", "cnn", "--seeds", "0", "1", "--workers", "0"]  # fmt: skip
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs = [
        subprocess.Popen(
            [*command, "--shard", f"{i}/2", "--results", str(tmp_path / f"part{i}.jsonl")],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for i in range(2)
    ]  # fmt: skip
    for run in runs:
        output = run.communicate(timeout=300)[0].decode()
        assert run.returncode == 0, output
    parts = [protocol.read_results(tmp_path / f"part{i}.jsonl") for i in range(2)]
    assert [[r["key"] for r in part] for part in parts] == [
        ["motif_grammar/cnn/matched/seed0"],
        ["motif_grammar/cnn/matched/seed1"],
    ]
    assert parts[0][0]["test_set"] == "length_800"
    assert set(parts[0][0]["test"]) == {"test", "length_400", "length_800"}
    # a copy of part 0 elsewhere (a rerun) does not duplicate its cell
    (tmp_path / "copy.jsonl").write_text((tmp_path / "part0.jsonl").read_text())
    out = tmp_path / "merged.jsonl"
    files = [str(tmp_path / f) for f in ("part1.jsonl", "part0.jsonl", "copy.jsonl")]
    bench.main(["merge", *files, "-o", str(out)])
    merged = protocol.read_results(out)
    assert [r["key"] for r in merged] == [
        "motif_grammar/cnn/matched/seed0",
        "motif_grammar/cnn/matched/seed1",
    ]
    assert merged[1] == parts[1][0]
    rows = protocol.summarise(merged)
    assert len(rows) == 1 and rows[0]["seeds"] == 2


def test_estimate_reads_measured_epochs_and_trains_nothing(quick_mode, tmp_path, monkeypatch,
                                                           capsys):  # fmt: skip
    import utils.train

    monkeypatch.setattr(utils.train, "fit", lambda *a, **k: pytest.fail("it trained"))
    path = tmp_path / "results.jsonl"
    protocol.append_record(path, fake_record("speech/cnn/matched/seed0"))
    cells = protocol.plan("reduced", ["speech"], ["cnn", "rnn"], seeds=[0, 1, 2])
    result = protocol.estimate(cells, protocol.read_results(path), "reduced")
    train = len(protocol.TASKS["speech"].load().train)
    # 2 s per epoch for 400 examples, 1 epoch in quick mode, 6 s outside training: per
    # seed
    assert result["seconds"] == pytest.approx(3 * (2.0 / 400 * train * 1 + 6.0))
    assert result["unmeasured"] == [f"speech/rnn/matched/seed{s}" for s in range(3)]
    bench.main(["protocol", "--estimate", "--tasks", "speech", "--families", "cnn",
                "--results", str(path)])  # fmt: skip
    assert "reduced protocol: 3 cells, about 0.0 CPU hours" in capsys.readouterr().out


def test_full_protocol_tunes_on_validation_then_runs_three_seeds():
    cells = protocol.plan("full", ["digit_strings"], ["cnn"])
    trials = len(protocol.TUNING["lr"]) * len(protocol.TUNING["dropout"])
    assert len(cells) == 2 * trials  # two budgets, the same trials for every family
    assert {c.stage for c in cells} == {"tune"}
    matched = [c for c in cells if c.budget == "matched"]
    records = [  # CTC: a lower character error rate is better; test metrics are never read
        fake_record(c.key, stage="tune", settings=dict(c.settings),
                    val_metric=0.5 - 0.01 * i, test_metric=None)
        for i, c in enumerate(matched)
    ]  # fmt: skip
    assert protocol.final_cells(records[:-1], cells) == []  # not every trial done yet
    finals = protocol.final_cells(records, cells)
    assert [c.seed for c in finals] == [0, 1, 2]
    assert {c.settings for c in finals} == {matched[-1].settings}
    assert finals[0].key == "digit_strings/cnn/matched/seed0"


def test_every_family_is_a_model_zoo_architecture_and_ctc_has_no_transformer():
    from utils.models import ARCHITECTURES

    for task in protocol.TASKS.values():
        assert set(task.families) <= set(protocol.FAMILY_NAMES)
        assert all(arch in ARCHITECTURES for arch, _, _ in task.families.values())
    cells = protocol.plan("reduced", ["digit_strings"], ["transformer", "hybrid"])
    assert {c.family for c in cells} == {"hybrid"}


def test_bad_names_are_refused_with_the_valid_ones(capsys):
    with pytest.raises(
        ValueError, match=r"unknown tasks \['speach'\]; choose from speech, "
    ):
        protocol.plan("reduced", tasks=["speach"])
    with pytest.raises(SystemExit):
        bench.main(["protocol", "--families", "cnn", "lstm", "--estimate"])
    assert "unknown families ['lstm']; choose from rnn, cnn, hybrid, transformer" in (
        capsys.readouterr().err
    )
    with pytest.raises(ValueError, match="protocol must be 'reduced' or 'full'"):
        protocol.run_protocol("quick", "unused.jsonl")


def test_sample_efficiency_points_train_on_a_fraction_of_the_training_set(quick_mode):
    cells = protocol.plan("reduced", ["images"], ["cnn"], seeds=[0, 1, 2])
    assert [c.key for c in cells if c.seed == 0] == [
        "images/cnn/matched/seed0",
        "images/cnn/matched/train0.01/seed0",
        "images/cnn/matched/train0.1/seed0",
    ]
    point = next(c for c in cells if c.fraction == 0.1)
    record = protocol.run_cell(point, "reduced")
    train = len(protocol.TASKS["images"].load().train)
    assert (
        record["train_examples"] == round(0.1 * train)
        and record["train_fraction"] == 0.1
    )
    (row,) = protocol.summarise([record])
    assert (row["train_fraction"], row["seeds"]) == (0.1, 1) and row["sd"] != row["sd"]


def test_speech_stress_sets_are_the_new_speakers_recordings_changed(quick_mode):
    """Recomputed without a change, the features are the loader's test set: only the
    noise or the delay differs between the columns of the robustness table."""
    from utils.data import speech

    data = protocol.TASKS["speech"].load()
    by_stem = {r.stem: r for r in speech.list_recordings()}
    stems = data.spec.extra["ids"]["test"]
    assert {by_stem[s].speaker for s in stems} == {"theo"}
    waves, lengths = speech.load_waveforms([by_stem[s] for s in stems])
    x, frames = speech.waveform_features(waves, lengths)
    assert torch.allclose(x, data.test.x.float(), atol=1e-2)
    assert torch.equal(frames, data.test.lengths)
    late = data.extra_tests["late_200ms"]
    assert torch.equal(late.lengths, (frames + 20).clamp(max=101))  # 200 ms = 20 frames
    assert not torch.allclose(
        data.extra_tests["noise_0db"].x, data.test.x.float(), atol=0.1
    )


def test_a_failing_cell_in_the_pool_is_reported_and_the_others_go_on(tmp_path):
    """Cells run in fresh processes; one that fails is named, and nothing is recorded for it
    (run again, it is retried)."""
    results = tmp_path / "results.jsonl"
    cells = [
        protocol.Cell("speech", f"no_such_family_{i}", "matched", "final", 0)
        for i in (1, 2)
    ]
    with pytest.raises(RuntimeError, match=r"2 cell\(s\) failed") as error:
        protocol.run_cells(cells, "reduced", results, workers=2, progress=False)
    for cell in cells:  # the second ran although the first had failed (or the reverse)
        assert cell.key in str(error.value)
    assert "KeyError" in str(error.value)
    assert protocol.read_results(results) == []


def test_latency_cells_time_each_family_against_length_and_train_nothing(
    quick_mode, tmp_path, monkeypatch
):
    import utils.train

    monkeypatch.setattr(utils.train, "fit", lambda *a, **k: pytest.fail("it trained"))
    cells = protocol.plan("reduced", ["latency"], ["rnn", "transformer"])
    assert [c.key for c in cells] == [
        "latency/rnn/matched/seed0",
        "latency/transformer/matched/seed0",
    ]
    assert [c.key for c in protocol.plan("full", ["latency"], ["cnn"])] == [
        "latency/cnn/matched/seed0"
    ]  # the same cells in both protocols: nothing to tune
    results = tmp_path / "results.jsonl"
    protocol.run_cells(cells[:1], "reduced", results, workers=0, progress=False)
    (record,) = protocol.read_results(results)
    assert record["stage"] == "latency" and record["architecture"] == "bigru"
    # quick mode times the two shortest lengths
    assert record["lengths"] == list(protocol.LATENCY_LENGTHS[:2])
    assert len(record["latency_ms_by_length"]) == len(record["lengths"])
    assert all(ms > 0 for ms in record["train_step_ms_by_length"])
    assert "test_metric" not in record and len(record["machine"]["commit"]) == 40
    assert protocol.summarise([record]) == []  # no test metric to summarise
    assert protocol.estimate(cells, [record], "reduced")["seconds"] == 0.0


def test_the_full_estimate_counts_final_cells_but_not_for_latency(quick_mode, capsys):
    records = [fake_record("speech/cnn/matched/seed0")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(protocol, "read_results", lambda path: records)
        bench.main(["protocol", "--protocol", "full", "--estimate", "--tasks", "speech",
                    "latency", "--families", "cnn", "--budgets", "matched"])  # fmt: skip
    out = capsys.readouterr().out
    # 6 tuning trials + 3 final seeds for speech/cnn, and the one latency cell
    assert "full protocol: 10 cells" in out
