"""Every figure is a Figure with labelled axes; widgets fall back to a static figure."""

import colorsys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from utils import plots, widgets
from utils.data.spec import Split, TaskData, TaskSpec
from utils.train import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled(fig):
    """Every axes with visible ticks has both axis labels."""
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel(), (
            ax.get_title(),
            ax.get_xlabel(),
            ax.get_ylabel(),
        )
    return True


def history(name, offset=0.0):
    return History(
        name=name,
        train_loss=[1.0, 0.5],
        val_loss=[1.1, 0.7],
        train_metric=[0.5, 0.8],
        val_metric=[0.4 + offset, 0.7],
        best_epoch=1,
    )


def test_learning_curves_of_several_models():
    fig = plots.learning_curves([history("gru"), history("cnn", 0.1)])
    assert labelled(fig) and len(fig.axes) == 2
    assert len(fig.axes[1].get_legend().get_texts()) == 2
    assert "cross-entropy" in fig.axes[0].get_ylabel()


def test_learning_curves_name_the_loss_and_mark_a_single_epoch():
    one = History(
        name="crnn",
        train_loss=[2.0],
        val_loss=[1.9],
        train_metric=[1.0],
        val_metric=[0.9],
        best_epoch=0,
        loss="CTC",
    )
    fig = plots.learning_curves([one])
    loss_ax = fig.axes[0]
    assert "CTC" in loss_ax.get_ylabel() and "cross-entropy" not in loss_ax.get_ylabel()
    assert [line.get_marker() for line in loss_ax.get_lines()] == ["o", "o"]  # visible
    two = plots.learning_curves([history("gru")])
    assert {line.get_marker() for line in two.axes[0].get_lines()} == {"None"}


def test_plot_confusion_matrix_and_results_charts():
    assert labelled(
        plots.plot_confusion_matrix(torch.tensor([[3, 1], [0, 4]]), ["no", "yes"])
    )
    results = [
        {"name": "gru", "accuracy": 0.98, "parameters": 42_000, "train_seconds": 37.0},
        {
            "name": "crnn",
            "accuracy": 0.997,
            "parameters": 154_000,
            "train_seconds": 88.0,
        },
    ]
    assert labelled(plots.results_scatter(results))
    assert labelled(plots.results_bars(results, lower=0.9))


def test_inputs_figures():
    fig = plots.spectrogram(
        torch.randn(64, 40),
        hop_seconds=0.008,
        waveform=torch.randn(4000),
        sample_rate=8000,
    )
    assert labelled(fig) and fig.axes[1].get_xlabel() == "time (s)"
    grid = plots.image_grid(
        torch.rand(5, 1, 28, 28), [0, 1, 2, 3, 4], [0, 1, 2, 0, 4], ncols=3
    )
    assert "✗ 0" in grid.axes[3].get_title() and grid.axes[0].get_title() == "0"
    assert "audio" in plots.audio_player(torch.randn(800), 8000)._repr_html_()


def test_dna_logos_and_plot_receptive_field():
    pfms = torch.softmax(torch.randn(3, 6, 4), dim=-1)
    assert labelled(plots.filter_logos(pfms, ncols=2))
    onehot = torch.nn.functional.one_hot(torch.randint(0, 4, (30,)), 4).T.float()
    assert labelled(plots.saliency_logo(onehot, torch.randn(30), start=5, end=25))
    fig = plots.plot_receptive_field([3, 3, 3], [1, 2, 4])
    assert "15 steps" in fig.axes[0].get_title() and fig.axes[0].get_xlabel()


def test_importing_plots_changes_no_global_style():
    import subprocess
    import sys

    code = (
        "import matplotlib as m; before = dict(m.rcParams); import utils.plots; "
        "print(before == dict(m.rcParams))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


def test_widgets_fall_back_to_a_static_figure(capsys):
    assert not widgets.has_live_kernel()
    widgets.length_slider(
        lambda length: plots.plot_receptive_field([3] * 2, length=length),
        lengths=(8, 16),
    )
    assert "Figure" in capsys.readouterr().out
    spec = TaskSpec("toy", "sequence", (8, 3), 2, ("a", "b"))
    split = Split(torch.randn(16, 8, 3), torch.arange(16) % 2)
    widgets.architecture_picker(
        TaskData(spec, split, split, split), archs=("gru",), epochs=1, device="cpu"
    )
    assert "Figure" in capsys.readouterr().out


def _luminance(hex_colour: str) -> float:
    """Relative luminance (WCAG 2): linearised sRGB weighted by the eye's sensitivity."""
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    low, high = sorted([_luminance(a), _luminance(b)])
    return (high + 0.05) / (low + 0.05)


def test_every_series_colour_reads_on_white_and_on_the_dark_theme():
    # the formula, by its extremes
    assert _contrast("#FFFFFF", "#000000") == pytest.approx(21)
    for colour in plots.PALETTE:
        assert _contrast(colour, "#FFFFFF") >= 3, f"{colour} is too pale on white"
        assert _contrast(colour, plots.DARK_BACKGROUND) >= 3, (
            f"{colour} is too dark on dark"
        )
    assert "#F0E442" not in plots.PALETTE  # Okabe-Ito yellow: nearly invisible on white
    assert len(set(plots.PALETTE)) == len(plots.PALETTE)


def test_logo_letters_read_on_white_and_dark_and_apart_from_each_other():
    colours = plots.BASE_COLORS
    for base, colour in colours.items():
        assert _contrast(colour, "#FFFFFF") >= 3, (
            f"{base} ({colour}) is too pale on white"
        )
        assert _contrast(colour, plots.DARK_BACKGROUND) >= 3, (
            f"{base} ({colour}) on dark"
        )
    # G and T (amber and red in the usual scheme) must not be two shades of one orange:
    # their hues at least 20 degrees apart (Okabe-Ito's orange and vermilion are 15 apart)
    g, t = (colorsys.rgb_to_hsv(*_rgb(colours[b]))[0] * 360 for b in "GT")
    assert abs(g - t) >= 20, f"G and T hues {g:.0f} and {t:.0f} degrees: too alike"


def _rgb(hex_colour: str) -> list[float]:
    return [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]


def test_plot_pipelines_spans_a_merged_cell_over_both_stages():
    rows = {
        "ConvLSTM": [
            ("maps", "input"),
            ("cell", "convolutional recurrence"),
            ("maps", "output"),
        ],
        "CRNN": [
            ("image", "input"),
            ("CNN", "convolution"),
            ("BiLSTM", "recurrence"),
            ("letters", "output"),
        ],
    }
    fig = plots.plot_pipelines(rows, title="Hybrids", description="two rows")
    texts = {t.get_text(): t.get_position() for t in fig.axes[0].texts}
    conv, rnn, cell = texts["CNN"], texts["BiLSTM"], texts["cell"]
    assert cell[0] == pytest.approx((conv[0] + rnn[0]) / 2)  # between the two stages
    assert texts["ConvLSTM:\nmaps"][0] == texts["CRNN:\nimage"][0]  # inputs line up
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == 3 and "recurrent stage" in legend
    assert fig.get_label() == "two rows"
    with pytest.raises(ValueError, match="same number of columns"):
        plots.plot_pipelines({"a": rows["CRNN"], "b": rows["CRNN"][:3]})
    with pytest.raises(ValueError, match="unknown stage kinds"):
        plots.plot_pipelines({"a": [("x", "attention")]})
