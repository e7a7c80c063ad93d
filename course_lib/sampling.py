"""Generating text from a language model: greedy, temperature and top-k sampling."""
import numpy as np

from . import checks
from .layers import softmax


def softmax_with_temperature(logits, temperature):
    """Probabilities softmax(logits / temperature) along the last axis.

    temperature < 1 sharpens the distribution towards the most likely token,
    temperature > 1 flattens it towards uniform. logits: (..., V).
    """
    checks.positive("temperature", temperature)
    return softmax(checks.float_array("logits", logits) / temperature)


def top_k_filter(logits, k):
    """A copy of logits with all but the k largest entries of the last axis set to -inf,
    so sampling only ever picks one of the k most likely tokens. logits: (..., V)."""
    logits = checks.float_array("logits", logits)
    checks.positive("k", k, integer=True)
    if k >= logits.shape[-1]:
        return logits.copy()
    kth_largest = np.partition(logits, -k, axis=-1)[..., -k, None]
    return np.where(logits < kth_largest, -np.inf, logits)


def sample_next(logits, rng, temperature=1.0, top_k=None):
    """Draw one token id per row of logits: (N, V) -> (N,). temperature=0 is greedy."""
    logits = checks.float_array("logits", logits, ndim=2).astype(np.float64)
    if temperature == 0:
        return logits.argmax(axis=1)
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    probs = softmax_with_temperature(logits, temperature)
    cumulative = probs.cumsum(axis=1)
    draws = rng.random((len(probs), 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(axis=1), probs.shape[1] - 1)


def sample(model, vocab, prefix="", length=200, temperature=1.0, top_k=None, seed=0, stop_at_eos=False):
    """Generate text: feed the prefix, then draw `length` tokens one at a time.

    An empty prefix starts from <eos>, the token that separates items in training.
    With stop_at_eos, generation ends at the first <eos> (whole names, say); otherwise
    each <eos> is written as a line break. <pad> is never drawn.
    Returns the prefix followed by the generated text.
    """
    checks.positive("length", length, integer=True)
    if temperature != 0:
        checks.positive("temperature", temperature)
    start = vocab.encode(prefix) if prefix else np.array([vocab.eos_id if vocab.eos_id is not None else 0])
    rng = np.random.default_rng(seed)
    state = None
    for token in start:
        logits, state = model.step(np.array([token]), state)
    lines, line = [], []
    for _ in range(length):
        if vocab.pad_id is not None:
            logits[:, vocab.pad_id] = -np.inf
        token = int(sample_next(logits, rng, temperature, top_k)[0])
        if token == vocab.eos_id:
            if stop_at_eos:
                break
            lines.append(line)
            line = []
        else:
            line.append(token)
        logits, state = model.step(np.array([token]), state)
    text = "\n".join(vocab.decode(np.array(ids, dtype=np.int64)) for ids in lines + [line])
    joiner = " " if vocab.level == "word" and prefix and text and not prefix[-1].isspace() else ""
    return prefix + joiner + text
