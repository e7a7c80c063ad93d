"""course_lib.data: vocabularies, one-hot, a^n b^n, batching."""
import numpy as np
import pytest

from course_lib.data import (SequenceBatches, Vocabulary, anbn_batch, anbn_forced_batch, anbn_predictable, anbn_tokens,
                             anbn_vocabulary, one_hot, pad_batch, split, stream_batches, tokenize_words)


def test_char_vocabulary_puts_specials_first_and_sorts_characters():
    vocab = Vocabulary.build("hello world")
    assert vocab.tokens[:3] == ["<pad>", "<eos>", "<unk>"]
    assert vocab.tokens[3:] == sorted(set("hello world"))
    assert (vocab.pad_id, vocab.eos_id, vocab.unk_id) == (0, 1, 2)


def test_encode_decode_round_trip():
    vocab = Vocabulary.build("to be or not to be")
    ids = vocab.encode("not to be", add_eos=True)
    assert ids.dtype == np.int64 and ids[-1] == vocab.eos_id
    assert vocab.decode(ids, skip_specials=True) == "not to be"


def test_word_vocabulary_keeps_the_most_frequent_and_maps_the_rest_to_unk():
    text = "the cat sat on the mat . the end ."
    vocab = Vocabulary.build(text, level="word", max_size=6)
    assert vocab.tokens == ["<pad>", "<eos>", "<unk>", "the", ".", "cat"]
    assert vocab.decode(vocab.encode("the dog sat.")) == "the <unk> <unk>."
    assert vocab.coverage(text) == pytest.approx(6 / 10)  # the x3, . x2, cat


def test_min_freq_drops_rare_tokens():
    vocab = Vocabulary.build("aaab", min_freq=2)
    assert "a" in vocab and "b" not in vocab


def test_tokenize_words_splits_punctuation_and_keeps_contractions():
    assert tokenize_words("Don't stop, Romeo!") == ["don't", "stop", ",", "romeo", "!"]


def test_unknown_token_without_unk_is_an_error():
    vocab = Vocabulary.build("ab", specials=("<pad>", "<eos>"))
    with pytest.raises(KeyError, match=r"unknown token 'c'.*no <unk>"):
        vocab.encode("abc")


def test_empty_corpus_is_an_error():
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocabulary.build("")
    with pytest.raises(ValueError, match="corpus is empty"):
        Vocabulary.build([], level="word")


def test_decode_refuses_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 5\)"):
        Vocabulary.build("ab").decode([3, 9])


def test_one_hot_has_a_single_one_per_row():
    out = one_hot(np.array([[2, 0], [1, 1]]), 4)
    assert out.shape == (2, 2, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out.sum(-1), 1)
    np.testing.assert_array_equal(out.argmax(-1), [[2, 0], [1, 1]])


def test_one_hot_refuses_out_of_range_and_float_ids():
    with pytest.raises(ValueError, match="token id 4"):
        one_hot([0, 4], 4)
    with pytest.raises(TypeError, match="integer token ids"):
        one_hot(np.array([0.0, 1.0]), 4)


def test_anbn_tokens_and_predictable_positions():
    assert anbn_tokens(2) == ["a", "a", "b", "b", "<eos>"]
    np.testing.assert_array_equal(anbn_predictable(3), [False, False, False, True, True, True])
    with pytest.raises(ValueError, match="n must be a positive integer"):
        anbn_tokens(0)


def test_anbn_batch_pads_and_marks_forced_targets():
    vocab = anbn_vocabulary()
    x, y, predictable = anbn_batch([1, 3], vocab)
    assert x.shape == y.shape == predictable.shape == (2, 6)
    assert vocab.decode(x[0]) == "a b" and vocab.decode(y[0]) == "b <eos>"
    np.testing.assert_array_equal(y[0, 2:], vocab.pad_id)
    np.testing.assert_array_equal(predictable[1], [False, False, False, True, True, True])
    assert not predictable[0, 2:].any()


def test_stream_batches_carry_each_row_across_windows():
    ids = np.arange(41)
    windows = stream_batches(ids, batch_size=2, seq_len=5)
    assert len(windows) == 4
    (x0, y0), (x1, _) = windows[0], windows[1]
    np.testing.assert_array_equal(x0, [[0, 1, 2, 3, 4], [20, 21, 22, 23, 24]])
    np.testing.assert_array_equal(y0, x0 + 1)
    np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)


def test_stream_too_short_for_one_window_is_an_error():
    with pytest.raises(ValueError, match="too short for batch_size=4 x seq_len=8"):
        stream_batches(np.arange(20), 4, 8)


def test_sequence_batches_are_deterministic_and_cover_an_epoch():
    vocab = Vocabulary.build(["ann", "bob", "cy", "dee"])
    batches = SequenceBatches(["ann", "bob", "cy", "dee"], vocab, batch_size=2, seed=3)
    x, y, pad = batches(0)
    assert pad == vocab.pad_id and x.shape == y.shape
    np.testing.assert_array_equal(x[:, 0], vocab.eos_id)
    np.testing.assert_array_equal(batches(0)[0], SequenceBatches(["ann", "bob", "cy", "dee"], vocab, 2, seed=3)(0)[0])
    seen = {vocab.decode(row, skip_specials=True) for step in range(len(batches)) for row in batches(step)[0]}
    assert seen == {"ann", "bob", "cy", "dee"}


def test_pad_batch_right_pads():
    np.testing.assert_array_equal(pad_batch([np.array([1, 2, 3]), np.array([4])], 0), [[1, 2, 3], [4, 0, 0]])


def test_split_is_a_seeded_partition():
    items = list(range(100))
    train, val, test = split(items, (0.8, 0.1, 0.1), seed=1)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert sorted(train + val + test) == items
    assert split(items, seed=1) == (train, val, test)
    with pytest.raises(ValueError, match="summing to 1"):
        split(items, (0.5, 0.1, 0.1))


def test_anbn_forced_batch_keeps_only_forced_targets():
    vocab = anbn_vocabulary()
    x, y, pad = anbn_forced_batch([2, 3], vocab)
    _, y_all, predictable = anbn_batch([2, 3], vocab)
    assert pad == vocab.pad_id
    np.testing.assert_array_equal(y[predictable], y_all[predictable])
    assert np.all(y[~predictable] == pad)
    assert vocab.decode(y[1]) == "b b <eos>"
