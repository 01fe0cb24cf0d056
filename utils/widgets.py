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


def interactive_figure(draw, controls: dict, *, live: bool | None = None) -> None:
    """Show ``draw(**defaults)`` and, with a live kernel, controls that redraw it
    (chapter: Getting started).

    ``draw(**values)`` returns a matplotlib figure; ``controls`` maps each keyword to an
    ``ipywidgets`` control, or to a plain default value when no widgets are wanted (the value of
    each widget is its default). ``live=None`` detects the kernel.
    """
    defaults = {k: getattr(c, "value", c) for k, c in controls.items()}
    _show(draw(**defaults))
    if not (has_live_kernel() if live is None else live):
        return
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

        control = widgets.Dropdown(options=list(archs), value=control, description="model")
    interactive_figure(draw, {"arch": control})
