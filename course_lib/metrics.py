"""Numbers to judge a language model by, and the baselines it has to beat."""
import math

import numpy as np

from . import checks
from .data import anbn_batch, anbn_forced_batch, anbn_vocabulary, stream_batches


def perplexity(mean_nll):
    """exp(mean negative log-likelihood in nats): the effective number of choices per token."""
    return math.exp(mean_nll)


def bits_per_token(mean_nll):
    """Nats to bits: divide by ln 2."""
    return mean_nll / math.log(2)


def unigram_loss(train_ids, eval_ids, vocab_size, alpha=1.0):
    """Mean nats per token of the best context-free model: token frequencies of the
    training ids with add-alpha smoothing, scored on eval_ids."""
    train_ids = checks.int_array("train_ids", train_ids, ndim=1, upper=vocab_size)
    eval_ids = checks.int_array("eval_ids", eval_ids, ndim=1, upper=vocab_size)
    counts = np.bincount(train_ids, minlength=vocab_size) + alpha
    return float(-np.log(counts / counts.sum())[eval_ids].mean())


def bigram_loss(train_ids, eval_ids, vocab_size, alpha=0.1):
    """Mean nats per token of a bigram model p(next | current) with add-alpha smoothing,
    counted on train_ids and scored on eval_ids (each consecutive pair)."""
    train_ids = checks.int_array("train_ids", train_ids, ndim=1, upper=vocab_size)
    eval_ids = checks.int_array("eval_ids", eval_ids, ndim=1, upper=vocab_size)
    if len(train_ids) < 2 or len(eval_ids) < 2:
        raise ValueError("train_ids and eval_ids need at least two tokens each to form a pair")
    counts = np.full((vocab_size, vocab_size), alpha)
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    log_probs = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_probs[eval_ids[:-1], eval_ids[1:]].mean())


def stream_loss(model, ids, batch_size=16, seq_len=128):
    """Mean nats per token of a model over a whole token stream (validation text, say).

    The stream is read in (batch_size, seq_len) windows with the hidden state carried from
    each window to the next, as in training, so every token is predicted with the context
    of everything before it in its track. Returns the mean of the windows' losses.
    """
    state, losses = None, []
    for x, y in stream_batches(ids, batch_size, seq_len):
        loss, state = model.loss(x, y, state)
        losses.append(loss)
    return float(np.mean(losses))


def anbn_solved(model, n, vocab=None):
    """Does the model predict (by argmax) every forced token of a^n b^n correctly?"""
    x, y, predictable = anbn_batch([n], vocab)
    logits, _, _ = model.forward(x)
    return bool(np.all(logits.argmax(axis=-1)[predictable] == y[predictable]))


def anbn_predictions(model, n, vocab=None):
    """The model's argmax guesses at the forced positions of a^n b^n, as text such as
    "bbbE" (E for <eos>): what a correct model writes is n-1 b's and then E."""
    vocab = vocab or anbn_vocabulary()
    x, _, predictable = anbn_batch([n], vocab)
    logits, _, _ = model.forward(x)
    return "".join("E" if i == vocab.eos_id else vocab.tokens[i] for i in logits.argmax(axis=-1)[predictable])


def longest_solved_n(model, n_max, vocab=None):
    """The largest n such that a^m b^m is solved for every m = 1..n (0 if even n = 1 fails)."""
    for n in range(1, n_max + 1):
        if not anbn_solved(model, n, vocab):
            return n - 1
    return n_max


def anbn_report(model, val_ns=range(11, 21), n_max=100, vocab=None):
    """How a model trained on short a^n b^n sentences does on longer ones.

    Returns {"val loss": mean nats per forced target over the sentences val_ns,
    "val solved": how many of them it solves, "longest n solved": longest_solved_n up to n_max}.
    """
    x, y, pad_id = anbn_forced_batch(val_ns, vocab)
    return {"val loss": model.loss(x, y, ignore_index=pad_id)[0],
            "val solved": sum(anbn_solved(model, n, vocab) for n in val_ns),
            "longest n solved": longest_solved_n(model, n_max, vocab)}
