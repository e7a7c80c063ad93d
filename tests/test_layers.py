"""course_lib.layers: shapes, gradients against numerical ones (float64), bad input.

Gradient checks compare each analytic gradient with a central-difference one and use the
relative error of whole arrays (course_lib.gradcheck.array_rel_error); the bar is 1e-7.
"""
import numpy as np
import pytest

from course_lib import layers
from course_lib.gradcheck import array_rel_error, numerical_gradient, rel_error

N, T, D, H, V = 3, 5, 4, 6, 7
TOL = 1e-7


def arrays(rng, *shapes):
    return [rng.normal(0, 0.5, s) for s in shapes]


def assert_gradients(f, inputs, analytic, df):
    for name, x in inputs.items():
        error = array_rel_error(analytic[name], numerical_gradient(f, x, df))
        assert error < TOL, f"d{name}: relative error {error:.2e}"


# -- steps ---------------------------------------------------------------------------------

def test_rnn_step_forward_computes_tanh_of_affine_terms(rng):
    x, h, Wx, Wh, b = arrays(rng, (N, D), (N, H), (D, H), (H, H), (H,))
    next_h, _ = layers.rnn_step_forward(x, h, Wx, Wh, b)
    expected = np.array([[np.tanh(x[n] @ Wx[:, j] + h[n] @ Wh[:, j] + b[j]) for j in range(H)] for n in range(N)])
    assert rel_error(next_h, expected) < 1e-12


def test_rnn_step_backward_matches_numerical_gradient(rng):
    x, h, Wx, Wh, b = arrays(rng, (N, D), (N, H), (D, H), (H, H), (H,))
    dnext = rng.normal(size=(N, H))
    _, cache = layers.rnn_step_forward(x, h, Wx, Wh, b)
    dx, dh, dWx, dWh, db = layers.rnn_step_backward(dnext, cache)
    f = lambda: layers.rnn_step_forward(x, h, Wx, Wh, b)[0]
    assert_gradients(f, dict(x=x, h=h, Wx=Wx, Wh=Wh, b=b), dict(x=dx, h=dh, Wx=dWx, Wh=dWh, b=db), dnext)


def test_lstm_step_forward_follows_the_gate_equations(rng):
    x, h, c, Wx, Wh, b = arrays(rng, (N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    next_h, next_c, _ = layers.lstm_step_forward(x, h, c, Wx, Wh, b)
    a = x @ Wx + h @ Wh + b
    sig = lambda z: 1 / (1 + np.exp(-z))
    i, f, o, g = sig(a[:, :H]), sig(a[:, H:2 * H]), sig(a[:, 2 * H:3 * H]), np.tanh(a[:, 3 * H:])
    assert rel_error(next_c, f * c + i * g) < 1e-12
    assert rel_error(next_h, o * np.tanh(f * c + i * g)) < 1e-12


def test_lstm_step_backward_matches_numerical_gradient(rng):
    x, h, c, Wx, Wh, b = arrays(rng, (N, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    dnh, dnc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, _, cache = layers.lstm_step_forward(x, h, c, Wx, Wh, b)
    dx, dh, dc, dWx, dWh, db = layers.lstm_step_backward(dnh, dnc, cache)

    def f():
        next_h, next_c, _ = layers.lstm_step_forward(x, h, c, Wx, Wh, b)
        return np.stack([next_h, next_c])

    df = np.stack([dnh, dnc])
    assert_gradients(f, dict(x=x, h=h, c=c, Wx=Wx, Wh=Wh, b=b), dict(x=dx, h=dh, c=dc, Wx=dWx, Wh=dWh, b=db), df)


def test_gru_step_forward_follows_torch_equations(rng):
    x, h, Wx, Wh, b, bhn = arrays(rng, (N, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (H,))
    next_h, _ = layers.gru_step_forward(x, h, Wx, Wh, b, bhn)
    sig = lambda z: 1 / (1 + np.exp(-z))
    xw, hw = x @ Wx + b, h @ Wh
    r, z = sig(xw[:, :H] + hw[:, :H]), sig(xw[:, H:2 * H] + hw[:, H:2 * H])
    n = np.tanh(xw[:, 2 * H:] + r * (hw[:, 2 * H:] + bhn))
    assert rel_error(next_h, (1 - z) * n + z * h) < 1e-12


def test_gru_step_backward_matches_numerical_gradient(rng):
    x, h, Wx, Wh, b, bhn = arrays(rng, (N, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (H,))
    dnext = rng.normal(size=(N, H))
    _, cache = layers.gru_step_forward(x, h, Wx, Wh, b, bhn)
    grads = layers.gru_step_backward(dnext, cache)
    f = lambda: layers.gru_step_forward(x, h, Wx, Wh, b, bhn)[0]
    names = ("x", "h", "Wx", "Wh", "b", "bhn")
    assert_gradients(f, dict(zip(names, (x, h, Wx, Wh, b, bhn))), dict(zip(names, grads)), dnext)


# -- sequences -----------------------------------------------------------------------------

def test_rnn_forward_equals_repeated_steps(rng):
    x, h0, Wx, Wh, b = arrays(rng, (N, T, D), (N, H), (D, H), (H, H), (H,))
    h, _ = layers.rnn_forward(x, h0, Wx, Wh, b)
    prev = h0
    for t in range(T):
        prev, _ = layers.rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        assert rel_error(h[:, t], prev) < 1e-12


def test_rnn_backward_matches_numerical_gradient(rng):
    x, h0, Wx, Wh, b = arrays(rng, (N, T, D), (N, H), (D, H), (H, H), (H,))
    dh = rng.normal(size=(N, T, H))
    _, cache = layers.rnn_forward(x, h0, Wx, Wh, b)
    grads = layers.rnn_backward(dh, cache)
    names = ("x", "h0", "Wx", "Wh", "b")
    f = lambda: layers.rnn_forward(x, h0, Wx, Wh, b)[0]
    assert_gradients(f, dict(zip(names, (x, h0, Wx, Wh, b))), dict(zip(names, grads)), dh)


def test_lstm_forward_equals_repeated_steps_and_exposes_cell_states(rng):
    x, h0, c0, Wx, Wh, b = arrays(rng, (N, T, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    h, cache = layers.lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    prev_h, prev_c = h0, c0
    for t in range(T):
        prev_h, prev_c, _ = layers.lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        assert rel_error(h[:, t], prev_h) < 1e-12
        assert rel_error(cache["c"][:, t], prev_c) < 1e-12
    assert cache["gates"].shape == (N, T, 4 * H)


def test_lstm_backward_matches_numerical_gradient(rng):
    x, h0, c0, Wx, Wh, b = arrays(rng, (N, T, D), (N, H), (N, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    dh = rng.normal(size=(N, T, H))
    _, cache = layers.lstm_forward(x, h0, Wx, Wh, b, c0=c0)
    grads = layers.lstm_backward(dh, cache)
    names = ("x", "h0", "Wx", "Wh", "b")
    f = lambda: layers.lstm_forward(x, h0, Wx, Wh, b, c0=c0)[0]
    assert_gradients(f, dict(zip(names, (x, h0, Wx, Wh, b))), dict(zip(names, grads)), dh)
    assert_gradients(f, {"c0": c0}, {"c0": cache["dc0"]}, dh)


def test_gru_forward_equals_repeated_steps(rng):
    x, h0, Wx, Wh, b, bhn = arrays(rng, (N, T, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (H,))
    h, _ = layers.gru_forward(x, h0, Wx, Wh, b, bhn)
    prev = h0
    for t in range(T):
        prev, _ = layers.gru_step_forward(x[:, t], prev, Wx, Wh, b, bhn)
        assert rel_error(h[:, t], prev) < 1e-12


def test_gru_backward_matches_numerical_gradient(rng):
    x, h0, Wx, Wh, b, bhn = arrays(rng, (N, T, D), (N, H), (D, 3 * H), (H, 3 * H), (3 * H,), (H,))
    dh = rng.normal(size=(N, T, H))
    _, cache = layers.gru_forward(x, h0, Wx, Wh, b, bhn)
    grads = layers.gru_backward(dh, cache)
    names = ("x", "h0", "Wx", "Wh", "b", "bhn")
    f = lambda: layers.gru_forward(x, h0, Wx, Wh, b, bhn)[0]
    assert_gradients(f, dict(zip(names, (x, h0, Wx, Wh, b, bhn))), dict(zip(names, grads)), dh)


@pytest.mark.parametrize("forward", [layers.rnn_forward, layers.lstm_forward])
def test_float32_in_gives_float32_out(rng, forward):
    gates = 4 if forward is layers.lstm_forward else 1
    x, h0, Wx, Wh, b = (a.astype(np.float32) for a in arrays(rng, (N, T, D), (N, H), (D, gates * H), (H, gates * H), (gates * H,)))
    h, _ = forward(x, h0, Wx, Wh, b)
    assert h.dtype == np.float32


# -- embedding, affine, loss -------------------------------------------------------------

def test_embedding_forward_is_one_hot_times_W(rng):
    ids = rng.integers(0, V, size=(N, T))
    W = rng.normal(size=(V, D))
    out, _ = layers.embedding_forward(ids, W)
    assert rel_error(out, np.eye(V)[ids] @ W) < 1e-12


def test_embedding_backward_accumulates_repeated_ids(rng):
    ids = np.array([[1, 1, 2], [1, 0, 2]])
    W = rng.normal(size=(V, D))
    dout = rng.normal(size=(2, 3, D))
    _, cache = layers.embedding_forward(ids, W)
    dW = layers.embedding_backward(dout, cache)
    f = lambda: layers.embedding_forward(ids, W)[0]
    assert array_rel_error(dW, numerical_gradient(f, W, dout)) < TOL
    assert rel_error(dW[1], dout[0, 0] + dout[0, 1] + dout[1, 0]) < 1e-12


def test_temporal_affine_backward_matches_numerical_gradient(rng):
    x, W, b = arrays(rng, (N, T, H), (H, V), (V,))
    dout = rng.normal(size=(N, T, V))
    _, cache = layers.temporal_affine_forward(x, W, b)
    grads = layers.temporal_affine_backward(dout, cache)
    f = lambda: layers.temporal_affine_forward(x, W, b)[0]
    assert_gradients(f, dict(x=x, W=W, b=b), dict(zip(("x", "W", "b"), grads)), dout)


def test_softmax_cross_entropy_is_uniform_log_v_at_zero_logits():
    loss, _ = layers.softmax_cross_entropy(np.zeros((2, 3, V)), np.zeros((2, 3), dtype=int))
    assert loss == pytest.approx(np.log(V), rel=1e-12)


def test_softmax_cross_entropy_gradient_and_ignore_index(rng):
    logits = rng.normal(size=(N, T, V))
    y = rng.integers(1, V, size=(N, T))
    y[0, :2] = 0
    loss, dlogits = layers.softmax_cross_entropy(logits, y, ignore_index=0)
    f = lambda: layers.softmax_cross_entropy(logits, y, ignore_index=0)[0]
    assert array_rel_error(dlogits, numerical_gradient(f, logits)) < TOL
    assert np.all(dlogits[0, :2] == 0)
    counted = y != 0
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    assert loss == pytest.approx(-np.log(np.take_along_axis(p, y[..., None], -1)[..., 0][counted]).mean(), rel=1e-12)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[[1000.0, 0.0, -1000.0]]])
    loss, dlogits = layers.softmax_cross_entropy(logits, np.array([[0]]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))


# -- bad input -----------------------------------------------------------------------------

def test_wrong_weight_shape_names_the_argument(rng):
    x, h, Wx, Wh, b = arrays(rng, (N, D), (N, H), (D, H), (H, H + 1), (H,))
    with pytest.raises(ValueError, match=r"Wh must have shape \(H, 1H\) = \(6, 6\), got \(6, 7\)"):
        layers.rnn_step_forward(x, h, Wx, Wh, b)


def test_wrong_rank_names_the_argument(rng):
    x, h0, Wx, Wh, b = arrays(rng, (N, D), (N, H), (D, H), (H, H), (H,))
    with pytest.raises(ValueError, match="x must have 3 dimensions, got shape"):
        layers.rnn_forward(x, h0, Wx, Wh, b)


def test_mismatched_batch_sizes_are_refused(rng):
    x, h0, Wx, Wh, b = arrays(rng, (N, T, D), (N + 1, H), (D, 4 * H), (H, 4 * H), (4 * H,))
    with pytest.raises(ValueError, match=r"h0 must have shape \(N, H\)"):
        layers.lstm_forward(x, h0, Wx, Wh, b)


def test_integer_inputs_are_refused_where_floats_are_needed(rng):
    Wx, Wh, b = arrays(rng, (D, H), (H, H), (H,))
    with pytest.raises(TypeError, match="x must be a float array, got dtype int64 .token ids"):
        layers.rnn_step_forward(np.ones((N, D), dtype=np.int64), np.zeros((N, H)), Wx, Wh, b)


def test_token_ids_out_of_range_are_refused(rng):
    with pytest.raises(ValueError, match=r"ids holds token id 7, outside the vocabulary \[0, 7\)"):
        layers.embedding_forward(np.array([[0, 7]]), rng.normal(size=(V, D)))
    with pytest.raises(ValueError, match=r"y holds token id -1"):
        layers.softmax_cross_entropy(np.zeros((1, 2, V)), np.array([[0, -1]]))


def test_loss_with_every_target_ignored_is_an_error():
    with pytest.raises(ValueError, match="no targets to score"):
        layers.softmax_cross_entropy(np.zeros((1, 2, V)), np.zeros((1, 2), dtype=int), ignore_index=0)


def test_float_targets_are_refused():
    with pytest.raises(TypeError, match="y must be an array of integer token ids"):
        layers.softmax_cross_entropy(np.zeros((1, 2, V)), np.zeros((1, 2)))
