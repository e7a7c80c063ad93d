"""course_lib: the shared library of the course "Recurrent neural networks from scratch".

Each module holds one concern: `data` (vocabularies, one-hot, batching), `corpora`
(bundled texts), `layers` (RNN, LSTM, GRU as forward/backward functions), `models`
(a language model), `optim`, `train`, `sampling`, `metrics`, `gradcheck`, `plots`,
`widgets`, `progress` and `grading`.
"""
from threadpoolctl import threadpool_limits

from .data import Vocabulary, one_hot
from .exercises import check
from .models import LanguageModel
from .optim import SGD, AdaGrad, Adam, AdamW, clip_gradients
from .sampling import sample
from .train import History, train

__version__ = "0.1.0"


def set_blas_threads(n):
    """Let NumPy's matrix products use n threads (course_lib sets 1 on import).

    A recurrent network multiplies small matrices one time step at a time. There a
    multi-threaded BLAS spends longer waking and syncing its threads than computing: on
    a 2-core machine with other programs running, a 64x64 @ 64x256 product took 7 ms
    with two OpenBLAS threads and 0.07 ms with one.
    """
    threadpool_limits(n, user_api="blas")


set_blas_threads(1)
