"""utils.config: quick mode, paths, seeding, device choice."""

from pathlib import Path

import pytest
import torch

from utils.config import config, get_device, seed_everything


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("0", False), ("", False)]
)
def test_quick_mode_follows_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("COURSE_QUICK", value)
    assert config.quick is expected
    assert config.pick(full=15, quick=1) == (1 if expected else 15)


def test_quick_mode_rejects_a_value_that_is_not_yes_or_no(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK='maybe'.*COURSE_QUICK=1"):
        config.quick  # noqa: B018


def test_data_dir_can_be_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    assert config.data_dir == tmp_path.resolve()
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert config.data_dir.parts[-2:] == ("data", "cache")


def test_seed_everything_makes_runs_repeatable():
    seed_everything(123)
    first = torch.rand(5), torch.nn.Linear(3, 2).weight.detach().clone()
    seed_everything(123)
    second = torch.rand(5), torch.nn.Linear(3, 2).weight.detach().clone()
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_device_override(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_device_override_to_a_missing_accelerator_is_a_clear_error(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(
        RuntimeError, match="COURSE_DEVICE='cuda' but CUDA is not available"
    ):
        get_device()


def test_default_device_is_the_best_available(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else "mps"
        if torch.backends.mps.is_available()
        else "cpu"
    )
    assert get_device().type == expected


def test_printed_config_names_no_folder_of_the_machine(monkeypatch, tmp_path):
    """The set-up cells print the config into the published book: no builder's paths."""
    from utils.config import REPO_ROOT, public_path

    monkeypatch.setenv("COURSE_DATA_DIR", str(REPO_ROOT / "data" / "cache"))
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(tmp_path / "shared" / "data"))
    printed = repr(config)
    assert str(REPO_ROOT) not in printed and str(tmp_path) not in printed
    assert "data_dir='<course>/data/cache'" in printed
    assert "mirror='.../shared/data'" in printed
    assert public_path(Path.home() / "datasets") == "~/datasets"
    assert public_path("https://example.org/mirror") == "https://example.org/mirror"
    assert public_path(f"file://{tmp_path}/m") == f".../{tmp_path.name}/m"
