"""Shared machinery of the course *Choosing and Combining RNNs and CNNs*.

Importing ``utils`` is cheap and has no side effects; import the submodule you need:

- ``utils.config``    quick mode, seeding, device choice
- ``utils.data``      the datasets: download, loaders, features (``load_task``)
- ``utils.models``    recurrent, convolutional and hybrid networks (``build_model``)
- ``utils.train``     the training loop (``fit``) and its ``History``
- ``utils.evaluate``  metrics, CTC decoding, speed measurements
- ``utils.plots``, ``utils.widgets``, ``utils.interpret``  figures and model inspection
- ``utils.checks``    automatic checks for the exercises
- ``utils.bench``, ``utils.timing``  how fast models train and chapters execute
- ``utils.notebooks``, ``utils.student``, ``utils.grade``  notebook upkeep and coursework
"""

__version__ = "0.1.0"
