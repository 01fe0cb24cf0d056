"""Part I (Foundations): gradient norms through time, forward-and-backward timing, the
figures and explorers of the three chapters, and their exercise checks."""

import json
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from utils import checks, plots, widgets
from utils.course.timing import describe_cost
from utils.dynamics import gradient_norm_per_step, gradient_norms, recurrent_layer
from utils.evaluate import time_forward_backward
from utils.models.cnn import receptive_field


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- dynamics


def test_gradient_norm_per_step_matches_a_hand_computed_linear_rnn():
    """A one-unit ReLU RNN with positive inputs is linear: h_T = sum a^(T-1-t) x_t, so the
    gradient reaching step t is a^(T-1-t)."""
    rnn = nn.RNN(1, 1, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(1.0)
        rnn.weight_hh_l0.fill_(0.5)
        rnn.bias_ih_l0.zero_()
        rnn.bias_hh_l0.zero_()
    x = torch.rand(1, 6, 1) + 0.1  # positive: ReLU is the identity
    norms = gradient_norm_per_step(rnn, x)
    assert torch.allclose(norms, 0.5 ** torch.arange(5, -1, -1).float())
    assert rnn.weight_hh_l0.grad is None  # weights' gradients untouched


def test_gradient_norm_per_step_reads_a_models_outputs():
    model = nn.Sequential(nn.Flatten(), nn.Linear(5 * 2, 1))
    x = torch.randn(3, 5, 2)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x, lengths=None):
            return self.inner(x)

    norms = gradient_norm_per_step(Wrapped(), x)
    expected = model[1].weight.detach().view(5, 2).norm(dim=1)  # d(sum)/dx_t = w_t
    assert torch.allclose(norms, expected)
    with pytest.raises(ValueError, match="batch, time, features"):
        gradient_norm_per_step(Wrapped(), torch.randn(5, 2))


def test_recurrent_layer_scales_and_opens_the_forget_gate():
    layer = recurrent_layer("gru", input_size=3, hidden_size=8, recurrent_scale=1.5)
    for block in layer.weight_hh_l0.detach().split(8):
        assert torch.allclose(
            torch.linalg.svdvals(block), torch.full((8,), 1.5), atol=1e-5
        )
    lstm = recurrent_layer("lstm", hidden_size=4, forget_bias=3.0)
    forget = lstm.bias_ih_l0[4:8] + lstm.bias_hh_l0[4:8]
    assert torch.allclose(forget, torch.full((4,), 3.0))
    with pytest.raises(ValueError, match="LSTM only"):
        recurrent_layer("gru", forget_bias=1.0)
    with pytest.raises(ValueError, match="cell must be one of"):
        recurrent_layer("transformer")


def test_gradients_vanish_at_init_explode_when_stretched_and_survive_an_open_gate():
    default = gradient_norms(("rnn", "lstm"), length=60)
    assert default["rnn"][0] < 1e-6 * default["rnn"][-1]
    stretched = gradient_norms(("rnn",), length=60, recurrent_scale=1.5)["rnn"]
    assert stretched[0] > stretched[-1]
    open_gate = gradient_norms(("lstm",), length=60, forget_bias=5.0)["lstm"]
    assert open_gate[0] > 1e3 * default["lstm"][0]


# ----------------------------------------------------------------------------- timing


def test_time_forward_backward_times_and_clears_gradients():
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 2))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, x, lengths=None):
            return self.net(x)

    m = Model()
    seconds = time_forward_backward(m, torch.randn(4, 4, 2), repeats=2)
    assert 0 < seconds < 5
    assert all(p.grad is None for p in m.parameters())
    with pytest.raises(ValueError, match="repeats"):
        time_forward_backward(m, torch.randn(4, 4, 2), repeats=0)


def test_describe_cost_reads_the_timing_report(tmp_path):
    report = tmp_path / "timing.json"
    assert "No timing report" in describe_cost("recurrent.ipynb", report)
    report.write_text(
        json.dumps(
            {
                "mode": "full",
                "machine": {"cpu_count": 2, "device": "cpu"},
                "notebooks": [
                    {
                        "notebook": "chapters/02_recurrent/recurrent.ipynb",
                        "seconds": 150.0,
                        "status": "ok",
                    }
                ],
            }
        )
    )
    assert describe_cost("recurrent.ipynb", report) == (
        "Last measured: 2.5 min at full settings on 2 CPU cores (cpu), ok."
    )
    assert "No timing report" in describe_cost("choosing.ipynb", report)


# ----------------------------------------------------------------------------- figures


def labelled(fig):
    axes = [ax for ax in fig.axes if ax.axison]
    assert axes
    for ax in axes:
        assert ax.get_xlabel() and ax.get_ylabel()
    return True


def test_foundation_figures_are_labelled():
    times = {"LSTM": {16: 0.01, 64: 0.03}, "CNN": {16: 0.005, 64: 0.01}}
    assert labelled(plots.plot_time_against_length(times))
    assert labelled(plots.plot_gradient_norms({"rnn": torch.tensor([0.0, 1e-3, 1.0])}))
    fig = plots.plot_against_length(
        {"RNN": {10: 0.1, 25: 0.2}}, ylabel="MSE", baseline=1 / 6
    )
    assert labelled(fig)
    fig = plots.plot_kernels_1d(
        torch.randn(5, 1, 3), patterns=torch.randn(2, 9), ncols=4
    )
    for ax in fig.axes:  # small multiples: the outer row and column carry the labels
        spec = ax.get_subplotspec()
        assert not spec.is_first_col() or ax.get_ylabel() == "weight"
        assert not spec.is_last_row() or ax.get_xlabel() == "step"
    with pytest.raises(ValueError, match="conv.weight"):
        plots.plot_kernels_1d(torch.randn(5, 3))


def test_plot_diagram_draws_every_box_and_arrow():
    boxes = {
        "a": (0.5, 0.8, "question?"),
        "b": (0.3, 0.2, "yes", "answer:1"),
        "c": (0.7, 0.2, "×", "op"),
    }
    fig = plots.plot_diagram(
        boxes, [("a", "b", "yes"), ("a", "c")], description="a test"
    )
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"question?", "yes", "×"} <= texts
    assert (
        len([c for c in fig.axes[0].get_children() if type(c).__name__ == "Annotation"])
        == 2
    )
    assert fig.get_label() == "a test"


# ----------------------------------------------------------------------------- explorers


@pytest.mark.parametrize(
    ("explorer", "control", "value"),
    [
        (widgets.gradient_norm_explorer, "cell", "lstm"),
        (widgets.receptive_field_explorer, "depth", 4),
    ],
)
def test_explorers_show_a_static_figure_and_live_controls_redraw(
    explorer, control, value, capsys
):
    assert explorer(live=False) is None  # the published book: a figure, no controls
    assert "Figure" in capsys.readouterr().out
    controls = explorer(live=True)  # a live kernel: the same figure, then controls
    assert "Figure" in capsys.readouterr().out
    assert control in controls
    controls[control].value = value  # moving a control draws the figure again
    assert "Figure" in capsys.readouterr().out


# ----------------------------------------------------------------------------- checks


def test_check_flattened_size_against_a_real_network():
    net = nn.Sequential(
        nn.Conv1d(4, 32, 5, padding=2),
        nn.MaxPool1d(2, ceil_mode=True),
        nn.Conv1d(32, 32, 5, padding=2),
        nn.MaxPool1d(2, ceil_mode=True),
        nn.Flatten(),
    )
    size = net(torch.randn(1, 4, 63)).shape[1]
    assert checks.check_flattened_size(size, channels=32, length=63, pools=[2, 2])
    result = checks.check_flattened_size(32 * 63, channels=32, length=63, pools=[2, 2])
    assert not result and "pools" in result.feedback
    result = checks.check_flattened_size(16, channels=32, length=63, pools=[2, 2])
    assert not result and "channels" in result.feedback
    assert not checks.check_flattened_size("many", channels=32, length=63, pools=[2, 2])


def test_check_lstm_parameters_against_pytorch():
    n = sum(p.numel() for p in nn.LSTM(2, 32).parameters())
    assert checks.check_lstm_parameters(n, input_size=2, hidden_size=32)
    gru = sum(p.numel() for p in nn.GRU(2, 32).parameters())
    result = checks.check_lstm_parameters(gru, input_size=2, hidden_size=32)
    assert not result and "GRU" in result.feedback
    result = checks.check_lstm_parameters(
        4 * (64 + 1024 + 32), input_size=2, hidden_size=32
    )
    assert not result and "two bias" in result.feedback


def test_check_adding_baseline_against_a_simulation():
    g = torch.Generator().manual_seed(0)
    simulated = (
        torch.rand(400_000, generator=g) + torch.rand(400_000, generator=g) - 1
    ).pow(2)
    assert checks.check_adding_baseline(simulated.mean().item())
    result = checks.check_adding_baseline(1 / 12)
    assert not result and "one uniform" in result.feedback
    result = checks.check_adding_baseline(math.sqrt(1 / 6))
    assert not result and "standard deviation" in result.feedback
    assert not checks.check_adding_baseline(0.5)
    # the exercise's variant, on [0, 2): the answer the page prints for [0, 1) does not pass
    wide = (
        2 * torch.rand(400_000, generator=g) + 2 * torch.rand(400_000, generator=g) - 2
    ).pow(2)
    assert checks.check_adding_baseline(wide.mean().item(), high=2.0)
    copied = checks.check_adding_baseline(1 / 6, high=2.0)
    assert not copied and "[0, 1) task" in copied.feedback
    assert not checks.check_adding_baseline(4 / 12, high=2.0)  # one uniform's variance


@pytest.mark.parametrize(
    ("length", "kernel", "stride", "padding", "dilation"),
    [(200, 7, 3, 2, 2), (100, 5, 1, 0, 1), (64, 3, 2, 1, 4), (31, 4, 2, 0, 1)],
)
def test_check_conv_output_length_against_pytorch(
    length, kernel, stride, padding, dilation
):
    conv = nn.Conv1d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    actual = conv(torch.randn(1, 1, length)).shape[-1]
    settings = dict(
        length=length,
        kernel_size=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    assert checks.check_conv_output_length(actual, **settings)
    assert not checks.check_conv_output_length(actual + 1, **settings)
    assert not checks.check_conv_output_length(actual - 1, **settings)


def test_check_conv_output_length_names_the_likely_mistakes():
    settings = dict(length=200, kernel_size=7, stride=3, padding=2, dilation=2)
    no_padding = (200 - 12 - 1) // 3 + 1
    result = checks.check_conv_output_length(no_padding, **settings)
    assert not result and "padding" in result.feedback
    no_dilation = (204 - 6 - 1) // 3 + 1
    result = checks.check_conv_output_length(no_dilation, **settings)
    assert not result and "dilation" in result.feedback


def test_check_conv_parameters_against_pytorch():
    n = sum(p.numel() for p in nn.Conv2d(3, 16, 5).parameters())
    assert checks.check_conv_parameters(
        n, in_channels=3, out_channels=16, kernel_size=5
    )
    result = checks.check_conv_parameters(
        n - 16, in_channels=3, out_channels=16, kernel_size=5
    )
    assert not result and "bias" in result.feedback
    n1 = sum(p.numel() for p in nn.Conv1d(3, 16, 5).parameters())
    assert checks.check_conv_parameters(
        n1, in_channels=3, out_channels=16, kernel_size=5, dims=1
    )


def test_receptive_field_of_the_chapter_exercise():
    assert receptive_field([3] * 4, [1, 2, 4, 8]) == 31
