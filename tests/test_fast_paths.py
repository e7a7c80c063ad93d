"""The speed-ups of the training step (issue 3) change no result.

The gradient checks in test_layers.py and test_models.py run every cell through the fast
code; these tests pin what they do not: arrays reused between training steps never leak
into results, arrays stored time-major or gate by gate give the same numbers as plain
ones, and the sort-based embedding gradient equals np.add.at.
"""
import numpy as np
import pytest

from course_lib import layers
from course_lib.models import LanguageModel

CELLS = ("rnn", "lstm", "gru")
V, H = 11, 6


def batch(seed, N=3, T=5):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (N, T)), rng.integers(0, V, (N, T))


def copies(grads):
    return {name: g.copy() for name, g in grads.items()}


@pytest.mark.parametrize("cell", CELLS)
def test_gradients_of_a_step_are_not_overwritten_by_the_next_step(cell):
    model = LanguageModel(V, H, cell=cell, num_layers=2, seed=0, dtype=np.float64)
    loss1, grads1, state1 = model.loss_and_grads(*batch(1))
    kept = copies(grads1)
    kept_state = [tuple(s.copy() for s in layer) if cell == "lstm" else layer.copy() for layer in state1]
    model.loss_and_grads(*batch(2))
    for name in kept:
        np.testing.assert_array_equal(grads1[name], kept[name], err_msg=name)
    for got, want in zip(state1, kept_state):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize("cell", CELLS)
def test_a_reused_model_computes_what_a_fresh_one_does_whatever_the_batch_shape(cell):
    model = LanguageModel(V, H, cell=cell, embedding_dim=4, seed=0, dtype=np.float64)
    for seed, (N, T) in enumerate([(3, 5), (2, 7), (3, 5), (1, 1)]):
        x, y = batch(seed, N, T)
        loss, grads, _ = model.loss_and_grads(x, y)
        fresh = LanguageModel(V, H, cell=cell, embedding_dim=4, seed=0, dtype=np.float64)
        fresh_loss, fresh_grads, _ = fresh.loss_and_grads(x, y)
        assert loss == fresh_loss
        for name in grads:
            np.testing.assert_array_equal(grads[name], fresh_grads[name], err_msg=f"{name} at {(N, T)}")
        assert model.loss(x, y)[0] == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_forward_results_survive_later_training_steps(cell):
    model = LanguageModel(V, H, cell=cell, seed=0, dtype=np.float64)
    x, _ = batch(3)
    logits, _, hidden = model.forward(x)
    kept_logits, kept_hidden = logits.copy(), hidden[0].copy()
    model.loss_and_grads(*batch(4))
    model.loss(*batch(5))
    np.testing.assert_array_equal(logits, kept_logits)
    np.testing.assert_array_equal(hidden[0], kept_hidden)


def test_workspace_hands_back_its_array_only_for_the_same_name_shape_and_dtype():
    ws = layers.Workspace()
    a = ws.empty("h", (2, 3), np.float32)
    assert ws.empty("h", (2, 3), np.float32) is a
    assert ws.empty("c", (2, 3), np.float32) is not a
    assert ws.empty("h", (3, 2), np.float32).shape == (3, 2)
    assert ws.empty("h", (3, 2), np.float64).dtype == np.float64


@pytest.mark.parametrize("V_, N, T", [(5, 4, 6), (50, 3, 4), (3, 1, 1)])
def test_embedding_backward_equals_add_at(rng, V_, N, T):
    ids = rng.integers(0, V_, (N, T))  # repeated ids, ids seen once, and (for 50) unused ids
    dout = rng.normal(size=(N, T, 4))
    _, cache = layers.embedding_forward(ids, np.zeros((V_, 4)))
    expected = np.zeros((V_, 4))
    np.add.at(expected, ids.reshape(-1), dout.reshape(-1, 4))
    np.testing.assert_allclose(layers.embedding_backward(dout, cache), expected, rtol=1e-12, atol=1e-15)
    time_major = np.ascontiguousarray(dout.swapaxes(0, 1)).swapaxes(0, 1)
    np.testing.assert_allclose(layers.embedding_backward(time_major, cache), expected, rtol=1e-12, atol=1e-15)


def test_input_projection_gives_the_same_numbers_for_any_storage_order(rng):
    x, Wx, b = rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 7)), rng.normal(size=7)
    dxw = rng.normal(size=(3, 4, 7))
    as_time_major = lambda a: np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)
    plain = layers.input_projection(x, Wx, b), *layers.input_projection_backward(dxw, x, Wx)
    mixed = layers.input_projection(as_time_major(x), Wx, b), *layers.input_projection_backward(dxw, as_time_major(x), Wx)
    both = layers.input_projection(as_time_major(x), Wx, b), *layers.input_projection_backward(
        as_time_major(dxw), as_time_major(x), Wx)
    for got in (mixed, both):
        for a, e in zip(got, plain):
            np.testing.assert_allclose(a, e, rtol=1e-12)


@pytest.mark.parametrize("cell, gates", [("lstm", 4), ("gru", 3)])
def test_sequence_cache_gates_equal_the_step_functions_gates(rng, cell, gates):
    N, T, D = 2, 3, 4
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = rng.normal(size=(D, gates * H)), rng.normal(size=(H, gates * H)), rng.normal(size=gates * H)
    if cell == "lstm":
        _, cache = layers.lstm_forward(x, h0, Wx, Wh, b)
        prev_h, prev_c = h0, np.zeros_like(h0)
        for t in range(T):
            prev_h, prev_c, step = layers.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
            np.testing.assert_allclose(cache["gates"][:, t], step[5], rtol=1e-12)
    else:
        bhn = rng.normal(size=H)
        _, cache = layers.gru_forward(x, h0, Wx, Wh, b, bhn)
        prev_h = h0
        for t in range(T):
            prev_h, step = layers.gru_step_forward(x[:, t], prev_h, Wx, Wh, b, bhn)
            np.testing.assert_allclose(cache["gates"][:, t], np.hstack(step[3][:3]), rtol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
def test_float32_training_step_stays_float32(cell):
    model = LanguageModel(V, H, cell=cell, num_layers=2, embedding_dim=3, seed=0)
    loss, grads, state = model.loss_and_grads(*batch(0))
    assert isinstance(loss, float)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert {np.asarray(s).dtype for s in state} == {np.dtype(np.float32)}


def test_a_copied_model_leaves_the_reused_arrays_behind_and_trains_alike():
    import copy
    import pickle

    model = LanguageModel(V, H, cell="lstm", seed=0, dtype=np.float64)
    untrained_size = len(pickle.dumps(model))
    x, y = batch(0)
    loss, grads, _ = model.loss_and_grads(x, y)
    assert len(pickle.dumps(model)) == untrained_size
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        clone_loss, clone_grads, _ = clone.loss_and_grads(x, y)
        assert clone_loss == loss
        for name in grads:
            np.testing.assert_array_equal(clone_grads[name], grads[name])
