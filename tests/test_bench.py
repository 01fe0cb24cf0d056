"""utils.bench: the speed table runs end to end on real (quick) data."""

from utils import bench


def test_smoke_bench_times_a_family_at_a_budget(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_QUICK", "1")
    rows = bench.main(["--smoke", "--tasks", "speech", "--archs", "cnn1d", "gru",
                       "--examples", "64", "--budget", "20000", "--threads", "1"])  # fmt: skip
    assert [r["name"] for r in rows] == ["cnn1d", "gru"]
    for row in rows:
        assert abs(row["parameters"] - 20_000) <= 0.05 * 20_000
        assert row["train_examples"] == 64
        assert row["seconds_per_epoch"] > 0 and row["latency_ms"] > 0
    out = capsys.readouterr().out
    assert "speech: sequence [101, 40], quick subsets" in out


def test_seeds_repeat_each_family(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    rows = bench.main(["--smoke", "--tasks", "speech", "--archs", "cnn1d", "--examples", "32",
                       "--seeds", "2", "--seed", "5", "--threads", "1"])  # fmt: skip
    assert [(r["name"], r["seed"]) for r in rows] == [("cnn1d", 5), ("cnn1d", 6)]
