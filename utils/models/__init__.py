"""The model zoo: recurrent, convolutional, hybrid and Transformer networks, and a builder
that sizes any of them for any task (chapters: Recurrent networks, Convolutional networks,
Hybrids, Choosing between RNNs and CNNs).

Every model's ``forward(x, lengths=None)`` takes a batch and optional per-example lengths, so one
training loop (:func:`utils.train.fit`) fits them all.
"""

from utils.models.builder import (
    ARCHITECTURES,
    LayoutAdapter,
    build_model,
    count_parameters,
    match_parameters,
)
from utils.models.cnn import TCN, CNN1d, CNN2d, receptive_field
from utils.models.common import SequencePool
from utils.models.hybrid import (
    CRNN,
    CTCBiGRU,
    CTCConvBiGRU,
    CTCConvNet,
    CTCOutput,
    CTCRecognizer,
    DanQ,
)
from utils.models.rnn import RNNClassifier, RNNEncoder, RNNTagger
from utils.models.transformer import TransformerClassifier, sinusoidal_positions

__all__ = [
    "ARCHITECTURES",
    "CRNN",
    "TCN",
    "CNN1d",
    "CNN2d",
    "CTCBiGRU",
    "CTCConvBiGRU",
    "CTCConvNet",
    "CTCOutput",
    "CTCRecognizer",
    "DanQ",
    "LayoutAdapter",
    "RNNClassifier",
    "RNNEncoder",
    "RNNTagger",
    "SequencePool",
    "TransformerClassifier",
    "build_model",
    "count_parameters",
    "match_parameters",
    "receptive_field",
    "sinusoidal_positions",
]
