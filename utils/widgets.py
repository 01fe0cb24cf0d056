"""Interactive controls for the notebooks, with a static fallback (chapter: Getting started).

Each helper first shows a static figure for its default setting, so the published book (where
no kernel answers the controls) still shows something meaningful; then, when a live Jupyter
kernel and ``ipywidgets`` are present, it adds controls that redraw the figure below them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

# ----------------------------------------------------------------------------- helpers


def has_live_kernel() -> bool:
    """True inside a running Jupyter kernel with ``ipywidgets`` importable."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show(fig) -> None:
    """Display a figure once (closed in pyplot so it is not shown a second time)."""
    from IPython.display import display

    display(fig)
    plt.close(fig)


def interactive_figure(
    draw, controls: dict, *, live: bool | None = None
) -> dict | None:
    """Show ``draw(**defaults)`` and, with a live kernel, controls that redraw it
    (chapter: Getting started).

    ``draw(**values)`` returns a matplotlib figure; ``controls`` maps each keyword to an
    ``ipywidgets`` control, or to a plain default value when no widgets are wanted (the value of
    each widget is its default). ``live=None`` detects the kernel. Returns the active controls
    (``{keyword: widget}``, so that a test can move them), or ``None`` when only the static
    figure was shown.
    """
    defaults = {k: getattr(c, "value", c) for k, c in controls.items()}
    _show(draw(**defaults))
    if not (has_live_kernel() if live is None else live):
        return None
    import ipywidgets as widgets
    from IPython.display import display

    active = {k: c for k, c in controls.items() if isinstance(c, widgets.ValueWidget)}
    output = widgets.Output()

    def redraw(_change=None):
        values = defaults | {k: c.value for k, c in active.items()}
        with output:
            output.clear_output(wait=True)
            _show(draw(**values))

    for control in active.values():
        control.observe(redraw, names="value")
    display(widgets.VBox([widgets.HBox(list(active.values())), output]))
    return active


# ----------------------------------------------------------------------------- helpers for chapters


def length_slider(
    draw, *, lengths=(16, 32, 64, 128, 256), value=None, description="length"
) -> None:
    """A slider over sequence length: ``draw(length)`` returns a figure (chapter: Recurrent
    networks, e.g. how gradients or timing change with the number of steps)."""
    value = value if value is not None else lengths[len(lengths) // 2]
    control = value
    if has_live_kernel():
        import ipywidgets as widgets

        control = widgets.SelectionSlider(
            options=list(lengths), value=value, description=description
        )
    interactive_figure(lambda length: draw(length), {"length": control})


def architecture_picker(
    data, *, archs=("gru", "cnn2d", "crnn"), default=None, epochs=3, **fit_kwargs
):
    """Pick an architecture, train it briefly on ``data`` (a :class:`~utils.data.spec.TaskData`)
    and see its learning curves (chapter: Choosing between RNNs and CNNs). The static version shows
    ``default`` (the first of ``archs``)."""
    from utils.models import build_model
    from utils.plots import learning_curves
    from utils.train import fit

    fit_kwargs = {"epochs": epochs, "quiet": True} | fit_kwargs

    def draw(arch):
        model = build_model(arch, data.spec)
        history = fit(model, data.train, data.val, name=arch, **fit_kwargs)
        return learning_curves({arch: history})

    control = default or archs[0]
    if has_live_kernel():
        import ipywidgets as widgets

        control = widgets.Dropdown(
            options=list(archs), value=control, description="model"
        )
    interactive_figure(draw, {"arch": control})


def gradient_norm_explorer(
    *,
    cell: str = "rnn",
    length: int = 100,
    scale: float = 1.0,
    live: bool | None = None,
) -> dict | None:
    """Cell type, sequence length and the scale of the recurrent weights -> the gradient norm
    at every step (chapter: Recurrent networks). The static figure shows the defaults.

    ``scale`` multiplies a random orthogonal hidden-to-hidden matrix (see
    :func:`utils.dynamics.recurrent_layer`): below 1 gradients vanish, above 1 a vanilla RNN's
    explode. Returns the controls in a live kernel (see :func:`interactive_figure`).
    """
    from utils.dynamics import gradient_norms
    from utils.plots import plot_gradient_norms

    def draw(cell, length, scale):
        norms = gradient_norms((cell,), length=length, recurrent_scale=scale)
        norms = {name.upper(): norm for name, norm in norms.items()}
        return plot_gradient_norms(
            norms,
            title=f"{cell.upper()}, {length} steps, recurrent weights × {scale:g}",
        )

    controls = {"cell": cell, "length": length, "scale": scale}
    live = has_live_kernel() if live is None else live
    if live:
        import ipywidgets as widgets

        controls = {
            "cell": widgets.Dropdown(
                options=["rnn", "lstm", "gru"], value=cell, description="cell"
            ),
            "length": widgets.SelectionSlider(
                options=[10, 25, 50, 100, 200, 400], value=length, description="length"
            ),
            "scale": widgets.FloatSlider(
                value=scale, min=0.5, max=2.0, step=0.1, description="weights ×"
            ),
        }
    return interactive_figure(draw, controls, live=live)


def receptive_field_explorer(
    *,
    kernel_size: int = 3,
    depth: int = 3,
    dilated: bool = False,
    live: bool | None = None,
) -> dict | None:
    """Kernel size, depth and dilation -> the inputs one output of a stack of 1-D convolutions
    sees, drawn on the input (chapter: Convolutional networks). ``dilated`` doubles the
    dilation at every layer (1, 2, 4, ...), as a TCN does. Returns the controls in a live
    kernel (see :func:`interactive_figure`)."""
    from utils.plots import plot_receptive_field

    def draw(kernel_size, depth, dilated):
        dilations = [2**i if dilated else 1 for i in range(depth)]
        return plot_receptive_field([kernel_size] * depth, dilations)

    controls = {"kernel_size": kernel_size, "depth": depth, "dilated": dilated}
    live = has_live_kernel() if live is None else live
    if live:
        import ipywidgets as widgets

        controls = {
            "kernel_size": widgets.IntSlider(
                value=kernel_size, min=2, max=7, description="kernel"
            ),
            "depth": widgets.IntSlider(value=depth, min=1, max=5, description="layers"),
            "dilated": widgets.Checkbox(
                value=dilated, description="dilation 1, 2, 4, ..."
            ),
        }
    return interactive_figure(draw, controls, live=live)


def decision_guide(
    records,
    *,
    kind: str = "audio clip",
    length: int = 100,
    examples: int = 2000,
    latency_ms: float | None = None,
    streaming: bool = False,
    live: bool | None = None,
) -> dict | None:
    """Describe your data, get a recommendation and the evidence behind it (chapter:
    Choosing in practice): :func:`utils.comparison.recommend` on the benchmark's
    ``records``, drawn as its reasons beside the evidence task's scores. Returns the
    controls in a live kernel (see :func:`interactive_figure`)."""
    from utils import comparison

    def draw(kind, length, examples, latency_ms, streaming):
        data = comparison.DataDescription(kind, length, examples, latency_ms, streaming)
        advice = comparison.recommend(data, records)
        return comparison.plot_recommendation(advice, records, data)

    values = dict(kind=kind, length=length, examples=examples)
    values |= dict(latency_ms=latency_ms, streaming=streaming)
    live = has_live_kernel() if live is None else live
    controls = dict(values)
    if live:
        import ipywidgets as widgets

        style = {"description_width": "initial"}
        controls = {
            "kind": widgets.Dropdown(
                options=list(comparison.KINDS),
                value=kind,
                description="data",
                style=style,
            ),
            "length": widgets.Dropdown(
                options=sorted({50, 100, 250, 1000, 4000, 16000, length}),
                value=length,
                description="steps per example",
                style=style,
            ),
            "examples": widgets.Dropdown(
                options=sorted({300, 1000, 3000, 10000, 50000, examples}),
                value=examples,
                description="training examples",
                style=style,
            ),
            "latency_ms": widgets.Dropdown(
                options=[
                    ("no limit", None),
                    ("1 ms", 1.0),
                    ("5 ms", 5.0),
                    ("20 ms", 20.0),
                ],
                value=latency_ms,
                description="latency budget",
                style=style,
            ),
            "streaming": widgets.Checkbox(value=streaming, description="streaming"),
        }
    return interactive_figure(draw, controls, live=live)
