"""Tokens to numbers: vocabularies, one-hot vectors, the a^n b^n language, batching.

The bundled text corpora are in `course_lib.corpora`.
"""
import re
from collections import Counter

import numpy as np

from . import checks

PAD, EOS, UNK = "<pad>", "<eos>", "<unk>"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+|[^\sa-z0-9]")
_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?')\]])")


def tokenize_words(text):
    """Lower-cased words (with inner apostrophes), numbers, and each punctuation mark."""
    return _WORD.findall(text.lower())


def detokenize_words(tokens):
    """Join word tokens with spaces, without a space before closing punctuation."""
    return _NO_SPACE_BEFORE.sub(r"\1", " ".join(tokens))


class Vocabulary:
    """A two-way map between tokens and ids, for characters or words.

    The special tokens come first: <pad> = 0 pads short sequences, <eos> ends one,
    <unk> stands for every token left out of the vocabulary.
    """

    def __init__(self, tokens, level="char", specials=(PAD, EOS, UNK)):
        checks.one_of("level", level, ("char", "word"))
        self.level = level
        self.tokens = list(specials) + [t for t in tokens if t not in specials]
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("tokens must not repeat")
        self.stoi = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id, self.eos_id, self.unk_id = (self.stoi.get(s) for s in (PAD, EOS, UNK))

    @classmethod
    def build(cls, corpus, level="char", min_freq=1, max_size=None, specials=(PAD, EOS, UNK)):
        """Collect the vocabulary of a corpus: a string, or a list of strings / tokens.

        min_freq drops rarer tokens; max_size keeps the most frequent (specials included).
        Characters are sorted; words go by frequency, ties alphabetically.
        """
        checks.one_of("level", level, ("char", "word"))
        counts = Counter()
        pieces = [corpus] if isinstance(corpus, str) else list(corpus)
        for piece in pieces:
            counts.update(cls._split(piece, level))
        if not counts:
            raise ValueError("corpus is empty: there is nothing to build a vocabulary from")
        kept = [t for t, n in counts.items() if n >= min_freq and t not in specials]
        kept.sort(key=(lambda t: t) if level == "char" else (lambda t: (-counts[t], t)))
        if max_size is not None:
            checks.positive("max_size", max_size, integer=True)
            if max_size <= len(specials):
                raise ValueError(f"max_size must leave room beyond the {len(specials)} special tokens, got {max_size}")
            kept = sorted(kept, key=lambda t: (-counts[t], t))[: max_size - len(specials)]
            if level == "char":
                kept.sort()
        return cls(kept, level, specials)

    @staticmethod
    def _split(piece, level):
        if not isinstance(piece, str):
            raise TypeError(f"corpus must be a string or a list of strings, got an item of type {type(piece).__name__}")
        if level == "char":
            return list(piece)
        return tokenize_words(piece)

    def __len__(self):
        return len(self.tokens)

    def __contains__(self, token):
        return token in self.stoi

    def __repr__(self):
        shown = " ".join(repr(t) for t in self.tokens[:8])
        return f"Vocabulary({self.level}, {len(self)} tokens: {shown}{' ...' if len(self) > 8 else ''})"

    def tokenize(self, text):
        """Split text into this vocabulary's kind of token."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, got {type(text).__name__}")
        return list(text) if self.level == "char" else tokenize_words(text)

    def encode(self, text, add_eos=False):
        """Text (or a list of tokens) -> int64 ids. Unknown tokens map to <unk>, or raise
        when there is no <unk>."""
        tokens = self.tokenize(text) if isinstance(text, str) else list(text)
        ids = []
        for token in tokens:
            i = self.stoi.get(token, self.unk_id)
            if i is None:
                raise KeyError(f"unknown token {token!r}: it is not in the vocabulary, which has no {UNK} to "
                               "stand in for it (build the vocabulary with specials including '<unk>')")
            ids.append(i)
        if add_eos:
            if self.eos_id is None:
                raise ValueError(f"add_eos=True but the vocabulary has no {EOS} token")
            ids.append(self.eos_id)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids, skip_specials=False):
        """ids -> text. Padding is always dropped; other specials unless skip_specials."""
        ids = checks.int_array("ids", ids, upper=len(self)).reshape(-1)
        tokens = [self.tokens[i] for i in ids
                  if i != self.pad_id and not (skip_specials and self.tokens[i] in (EOS, UNK))]
        return "".join(tokens) if self.level == "char" else detokenize_words(tokens)

    def coverage(self, text):
        """Share of the text's tokens that the vocabulary knows (not mapped to <unk>)."""
        tokens = self.tokenize(text)
        if not tokens:
            raise ValueError("text is empty: coverage is undefined")
        return sum(t in self.stoi for t in tokens) / len(tokens)


def one_hot(ids, vocab_size, dtype=np.float32):
    """ids: any shape of ints in [0, V) -> (..., V) with a single 1 in each last-axis row."""
    checks.positive("vocab_size", vocab_size, integer=True)
    ids = checks.int_array("ids", ids, upper=vocab_size)
    out = np.zeros(ids.shape + (vocab_size,), dtype=dtype)
    np.put_along_axis(out, ids[..., None], 1, axis=-1)
    return out


# -- a^n b^n -----------------------------------------------------------------------------

def anbn_tokens(n):
    """The sentence a^n b^n of the toy language: n a's, n b's, then <eos>."""
    checks.positive("n", n, integer=True)
    return ["a"] * n + ["b"] * n + [EOS]


def anbn_predictable(n):
    """Which next-token targets of a^n b^n are determined by what came before: (2n,) bool.

    Input position t predicts token t+1. While reading a's, another a or the first b may
    follow, so no a-position is predictable; once the first b is read, n is known and the
    remaining b's and the <eos> are forced: positions n .. 2n-1.
    """
    checks.positive("n", n, integer=True)
    return np.arange(2 * n) >= n


def anbn_vocabulary():
    """<pad>, <eos>, a, b."""
    return Vocabulary(["a", "b"], level="word", specials=(PAD, EOS))


def anbn_batch(ns, vocab=None):
    """A padded batch of a^n b^n sentences, one per n in ns.

    Returns x, y: (len(ns), 2 max(n)) ids (inputs and next-token targets, padded with
    <pad>) and predictable: (len(ns), 2 max(n)) bool, True where the target is forced.
    Use ignore_index=vocab.pad_id in the loss.
    """
    vocab = vocab or anbn_vocabulary()
    ns = [checks.positive("ns", int(n), integer=True) for n in ns]
    if not ns:
        raise ValueError("ns is empty: give at least one n")
    T = 2 * max(ns)
    x = np.full((len(ns), T), vocab.pad_id, dtype=np.int64)
    y, predictable = x.copy(), np.zeros((len(ns), T), dtype=bool)
    for row, n in enumerate(ns):
        ids = vocab.encode(anbn_tokens(n))
        x[row, : 2 * n], y[row, : 2 * n] = ids[:-1], ids[1:]
        predictable[row, : 2 * n] = anbn_predictable(n)
    return x, y, predictable


def anbn_forced_batch(ns, vocab=None):
    """A training batch of a^n b^n that scores only the forced targets.

    Returns (x, y, pad_id) for train(): y keeps the targets at forced positions and is
    <pad> (ignored by the loss) elsewhere. The unforced targets only teach how long the
    training sentences tend to be, which is exactly what must not carry over to larger n.
    """
    vocab = vocab or anbn_vocabulary()
    x, y, predictable = anbn_batch(ns, vocab)
    return x, np.where(predictable, y, vocab.pad_id), vocab.pad_id


# -- batching ----------------------------------------------------------------------------

def stream_batches(ids, batch_size, seq_len):
    """Cut a token stream into (batch_size, seq_len) windows for truncated BPTT.

    The stream is split into batch_size contiguous tracks; window k holds the k-th piece
    of every track, so row r of window k+1 continues row r of window k and the hidden
    state can be carried across. Returns a list of (x, y), y being x shifted by one.
    """
    ids = checks.int_array("ids", ids, ndim=1)
    checks.positive("batch_size", batch_size, integer=True)
    checks.positive("seq_len", seq_len, integer=True)
    track = (len(ids) - 1) // batch_size
    if track < seq_len:
        raise ValueError(f"a stream of {len(ids)} tokens is too short for batch_size={batch_size} "
                         f"x seq_len={seq_len}: it needs at least {batch_size * seq_len + 1}")
    x = ids[: batch_size * track].reshape(batch_size, track)
    y = ids[1 : batch_size * track + 1].reshape(batch_size, track)
    return [(x[:, s : s + seq_len], y[:, s : s + seq_len]) for s in range(0, track - seq_len + 1, seq_len)]


def pad_batch(sequences, pad_id):
    """A list of 1-D id arrays -> (N, max length) int64, right-padded with pad_id."""
    if len(sequences) == 0:
        raise ValueError("sequences is empty")
    T = max(len(s) for s in sequences)
    out = np.full((len(sequences), T), pad_id, dtype=np.int64)
    for row, s in enumerate(sequences):
        out[row, : len(s)] = s
    return out


class SequenceBatches:
    """Random minibatches of whole sequences (names, sentences), reshuffled every epoch.

    Each item is encoded as <eos> item <eos>: the first <eos> acts as a start token, so
    the model also learns how sequences begin. Calling the object with a step number gives
    (x, y, pad_id) for that step, the same every time for the same seed.
    """

    def __init__(self, items, vocab, batch_size, seed=0):
        if len(items) == 0:
            raise ValueError("items is empty: there is nothing to batch")
        if vocab.eos_id is None or vocab.pad_id is None:
            raise ValueError("vocab needs <pad> and <eos> tokens to batch whole sequences")
        self.vocab = vocab
        self.batch_size = min(checks.positive("batch_size", batch_size, integer=True), len(items))
        self.sequences = [np.concatenate([[vocab.eos_id], vocab.encode(item, add_eos=True)]) for item in items]
        self.seed = seed
        self._orders = {}

    def __len__(self):
        """Steps per epoch."""
        return len(self.sequences) // self.batch_size

    def __call__(self, step):
        epoch, k = divmod(step, len(self))
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng((self.seed, epoch)).permutation(len(self.sequences))}
        chosen = self._orders[epoch][k * self.batch_size : (k + 1) * self.batch_size]
        batch = pad_batch([self.sequences[i] for i in chosen], self.vocab.pad_id)
        return batch[:, :-1], batch[:, 1:], self.vocab.pad_id

    def all(self):
        """Every sequence in one padded batch (x, y, pad_id), for evaluation."""
        batch = pad_batch(self.sequences, self.vocab.pad_id)
        return batch[:, :-1], batch[:, 1:], self.vocab.pad_id


def split(items, fractions=(0.8, 0.1, 0.1), seed=0):
    """Shuffle items with a seed and cut them into train/val/test lists by fractions."""
    if len(items) == 0:
        raise ValueError("items is empty: there is nothing to split")
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    order = np.random.default_rng(seed).permutation(len(items))
    a = int(round(fractions[0] * len(items)))
    b = a + int(round(fractions[1] * len(items)))
    return tuple([items[i] for i in order[lo:hi]] for lo, hi in ((0, a), (a, b), (b, len(items))))
