"""course_lib.sampling and course_lib.metrics."""
import math

import numpy as np
import pytest

from course_lib import metrics
from course_lib.data import Vocabulary, anbn_forced_batch
from course_lib.models import LanguageModel
from course_lib.sampling import sample, sample_next, softmax_with_temperature, top_k_filter


def test_temperature_sharpens_and_flattens():
    logits = np.array([2.0, 1.0, 0.0])
    cold, warm = softmax_with_temperature(logits, 0.5), softmax_with_temperature(logits, 5.0)
    base = softmax_with_temperature(logits, 1.0)
    assert cold[0] > base[0] > warm[0]
    assert cold.sum() == pytest.approx(1) and warm.sum() == pytest.approx(1)


def test_top_k_keeps_only_the_k_largest():
    out = top_k_filter(np.array([[0.1, 3.0, -1.0, 2.0]]), 2)
    np.testing.assert_array_equal(np.isfinite(out), [[False, True, False, True]])


def test_sample_next_draws_by_probability_and_greedy_picks_argmax():
    rng = np.random.default_rng(0)
    logits = np.log(np.array([[0.7, 0.2, 0.1]]))
    draws = np.array([sample_next(logits, rng)[0] for _ in range(4000)])
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 4000, [0.7, 0.2, 0.1], atol=0.03)
    assert sample_next(logits, rng, temperature=0)[0] == 0
    assert set(sample_next(np.repeat(logits, 200, 0), rng, top_k=1)) == {0}


def test_sample_is_seeded_and_starts_with_the_prefix():
    vocab = Vocabulary.build("abcdef ", specials=("<pad>", "<eos>"))
    model = LanguageModel(len(vocab), 8, seed=0)
    text = sample(model, vocab, prefix="ab", length=20, seed=4)
    assert text.startswith("ab") and len(text) == 22, "20 tokens of one character each, <eos> as a line break"
    assert set(text) <= set("abcdef \n")
    assert text == sample(model, vocab, prefix="ab", length=20, seed=4)
    assert text != sample(model, vocab, prefix="ab", length=20, seed=5)


def test_sample_with_unknown_prefix_without_unk_is_an_error():
    vocab = Vocabulary.build("ab", specials=("<pad>", "<eos>"))
    with pytest.raises(KeyError, match="unknown token 'z'"):
        sample(LanguageModel(len(vocab), 4), vocab, prefix="z")


def test_unigram_and_bigram_baselines_are_exact_on_a_known_stream():
    ids = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    assert metrics.unigram_loss(ids, ids, 2, alpha=0) == pytest.approx(math.log(2))
    assert metrics.bigram_loss(ids, ids, 2, alpha=1e-9) == pytest.approx(0, abs=1e-6)


def test_perplexity_and_bits():
    assert metrics.perplexity(math.log(50)) == pytest.approx(50)
    assert metrics.bits_per_token(math.log(2)) == pytest.approx(1)


def test_untrained_model_does_not_solve_anbn():
    model = LanguageModel(4, 4, cell="lstm", seed=0)
    assert metrics.longest_solved_n(model, 5) < 5


def test_stream_loss_carries_state_across_windows():
    """With the state carried, reading a stream in windows scores it as one long sequence does."""
    model = LanguageModel(6, 8, cell="gru", seed=0, dtype=np.float64)
    ids = np.random.default_rng(0).integers(0, 6, 2 * 40 + 1)
    whole, _ = model.loss(ids[:-1].reshape(2, 40), ids[1:].reshape(2, 40))
    assert metrics.stream_loss(model, ids, batch_size=2, seq_len=10) == pytest.approx(whole, rel=1e-12)


def test_word_samples_are_separated_from_the_prefix_by_a_space():
    vocab = Vocabulary.build("the king is dead long live the king", level="word", specials=("<pad>", "<eos>"))
    text = sample(LanguageModel(len(vocab), 8, seed=0), vocab, prefix="the king", length=5, seed=0)
    assert text.startswith("the king ") and not text.startswith("the king  ")


def test_anbn_predictions_spell_the_forced_guesses():
    class Oracle:
        """Predicts b at every step, except <eos> at the last input position."""

        def forward(self, x):
            logits = np.zeros(x.shape + (4,))
            logits[..., 3] = 1.0
            logits[:, -1, 3], logits[:, -1, 1] = 0.0, 1.0
            return logits, None, None

    assert metrics.anbn_predictions(Oracle(), 4) == "bbbE"
    assert metrics.anbn_solved(Oracle(), 4)


def test_anbn_report_scores_longer_sentences():
    model = LanguageModel(4, 4, cell="lstm", seed=0)
    report = metrics.anbn_report(model, val_ns=[3, 4], n_max=5)
    x, y, pad = anbn_forced_batch([3, 4])
    assert report["val loss"] == pytest.approx(model.loss(x, y, ignore_index=pad)[0])
    assert report["val solved"] == metrics.anbn_solved(model, 3) + metrics.anbn_solved(model, 4)
    assert report["longest n solved"] == metrics.longest_solved_n(model, 5)
