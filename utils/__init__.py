"""Shared machinery of the course *Choosing and Combining RNNs and CNNs*.

Importing ``utils`` is cheap and has no side effects; import the submodule you need. Imports run
one way, from the top of this list to the bottom (a test checks that there is no cycle):

- ``utils.widgets``, ``utils.bench``  interactive figures; how fast each family trains
- ``utils.protocol``  the benchmark protocol: every family on every task, cells and results
- ``utils.train``     the training loop (``fit``), its ``Recipe`` and its ``History``
- ``utils.evaluate``  predictions, the kinds of model output, scores, speed measurements
- ``utils.metrics``, ``utils.ctc``  classification metrics; CTC loss, decoding, error rates
- ``utils.plots``, ``utils.interpret``, ``utils.dynamics``  figures, model inspection, gradients
  through time
- ``utils.models``    recurrent, convolutional and hybrid networks (``build_model``)
- ``utils.data``      the datasets: download, loaders, features (``load_task``)
- ``utils.checks``    automatic checks for the exercises
- ``utils.config``, ``utils.files``  quick mode, seeding, devices; atomic file writes

``utils.course`` is the course's own tooling (notebook upkeep, the student edition, the grader,
chapter timing): notebooks and git, not tensors, and no module above imports it.
"""

__version__ = "0.1.0"
