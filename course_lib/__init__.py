"""course_lib: the shared library of the course "Recurrent neural networks from scratch".

Each module holds one concern: `data` (vocabularies, one-hot, batching), `corpora`
(bundled texts), `layers` (RNN, LSTM, GRU as forward/backward functions), `models`
(a language model), `optim`, `train`, `sampling`, `metrics`, `gradcheck`, `plots`,
`widgets`, `progress` and `grading`.
"""
from .data import Vocabulary, one_hot
from .models import LanguageModel
from .optim import SGD, AdaGrad, Adam, AdamW, clip_gradients
from .sampling import sample
from .train import History, train

__version__ = "0.1.0"
