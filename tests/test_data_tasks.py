"""load_task and describe across tasks, and the feature cache on its own."""

import errno

import pytest
import torch

from utils.data import TASKS, cache, describe, load_task

pytestmark = pytest.mark.usefixtures("quick_mode")  # see conftest.py


def test_unknown_task_suggests_a_name():
    with pytest.raises(ValueError, match="Unknown task 'image'. Did you mean 'images'"):
        load_task("image")
    with pytest.raises(ValueError, match="Known tasks: speech, images"):
        describe("weather")


def test_unknown_split_is_a_clear_error():
    with pytest.raises(ValueError, match="'official' and 'speaker'"):
        load_task("speech", split="random")
    with pytest.raises(ValueError, match="'random'"):
        load_task("promoters", split="official")


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_meets_the_contract(name):
    data = load_task(name)
    spec = data.spec
    assert spec.name == name and spec.extra["quick"] is True
    for part in (data.train, data.val, data.test):
        assert tuple(part.x.shape[1:]) == spec.input_shape
        assert part.y.dtype == torch.int64 and int(part.y.max()) < spec.num_classes
        if spec.layout == "sequence":
            assert part.lengths is not None and part.lengths.dtype == torch.int64
        batch = part.batch(torch.arange(4))
        assert batch.x.dtype == torch.float32
    assert len(data.train) + len(data.val) + len(data.test) == 600


def test_quick_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "0")
    data = load_task("motif_grammar", n=2000)
    assert len(data.train) == 1600  # full mode: 80 % of n


def test_describe_prints_a_card(capsys):
    describe("speech")
    card = capsys.readouterr().out
    assert "CC BY-SA 4.0" in card and "zenodo" in card
    describe("motif_grammar")
    assert "JASPAR2024" in capsys.readouterr().out


def test_cache_recomputes_corrupt_and_mismatched_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    calls = []

    def compute():
        calls.append(1)
        return {"x": torch.arange(6.0)}

    params = {"n_mels": 40}
    assert torch.equal(cache.cached("demo", params, compute)["x"], torch.arange(6.0))
    assert torch.equal(cache.cached("demo", params, compute)["x"], torch.arange(6.0))
    assert len(calls) == 1  # the second call read the file
    path = cache.cache_path("demo", params)
    assert path.parent == tmp_path / "features" and path.exists()
    # a new parameter, a new file
    assert cache.cache_path("demo", {"n_mels": 64}) != path
    path.write_bytes(b"not a torch file")
    assert torch.equal(cache.cached("demo", params, compute)["x"], torch.arange(6.0))
    assert len(calls) == 2 and "unreadable" in capsys.readouterr().out
    cache.cached("demo", {"n_mels": 64}, compute)
    path.rename(cache.cache_path("demo", {"n_mels": 64}))  # a file under the wrong name
    cache.cached("demo", {"n_mels": 64}, compute)
    assert len(calls) == 4 and "do not match" in capsys.readouterr().out
    remaining = [p.name for p in (tmp_path / "features").iterdir()]
    assert remaining == [
        cache.cache_path("demo", {"n_mels": 64}).name
    ]  # no temporary files


def test_cache_falls_back_to_a_writable_folder(tmp_path, monkeypatch, capsys):
    """A data folder that refuses the file sends it to the per-user cache; a chosen
    COURSE_CACHE_DIR comes first; when nothing accepts it, it stays in memory with a note."""
    blocked = tmp_path / "data"
    blocked.mkdir()
    monkeypatch.setenv("COURSE_DATA_DIR", str(blocked))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user"))
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)

    def compute():
        return {"x": torch.ones(3)}

    real_write = cache._write

    def write(
        path, params, tensors
    ):  # the data folder behaves as a read-only mount would
        if blocked in path.parents:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_write(path, params, tensors)

    monkeypatch.setattr(cache, "_write", write)
    cache.cached("demo", {"k": 1}, compute)
    assert list((tmp_path / "user/rnn-cnn-course/features").glob("demo-*.pt"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "chosen"))
    cache.cached("demo", {"k": 2}, compute)
    assert list((tmp_path / "chosen/features").glob("demo-*.pt"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocked / "inside"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked / "home"))
    assert torch.equal(cache.cached("demo", {"k": 3}, compute)["x"], torch.ones(3))
    assert "kept in memory only" in capsys.readouterr().out
