"""Shared machinery of the course *Choosing and Combining RNNs and CNNs*.

Importing ``utils`` is cheap and has no side effects; import the submodule you need:
``utils.config`` (quick mode, seeding, device) and ``utils.data`` (datasets).
"""

__version__ = "0.1.0"
