"""Recurrent layers as plain functions, CS231n style.

Every forward function returns its output and a `cache`; the matching backward function
takes the upstream gradient and that cache, and nothing else couples the two.

Shapes: N sequences in a batch, T time steps, D input features, H hidden units,
V vocabulary size. Inputs may be float32 (training) or float64 (gradient checks);
outputs keep the dtype of the inputs.

Two forms of each cell live here:
- `*_step_forward/backward`: one time step, the equations exactly as the notebooks write them.
- `*_forward/backward`: a whole sequence. The input term x_t Wx + b of every step is one
  matmul before the time loop, and the weight gradients are one matmul after it; only
  the recurrent part h_{t-1} Wh has to wait for the previous step. The time loop is
  explicit, and the step's non-linear part is shared with the step functions.
"""
import numpy as np

from . import checks


def sigmoid(a):
    """Logistic function, written with tanh: one ufunc pass and no overflow for large |a|."""
    return 0.5 * np.tanh(0.5 * a) + 0.5


def softmax(logits, axis=-1):
    """Softmax along `axis`, shifted by the max for numerical safety."""
    logits = checks.float_array("logits", logits)
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -- argument checks shared by the cells -------------------------------------------------

def _check_step(x, prev_h, Wx, Wh, b, gates):
    x = checks.float_array("x", x, ndim=2)
    prev_h = checks.float_array("prev_h", prev_h, ndim=2)
    N, D = x.shape
    H = prev_h.shape[1]
    checks.shape("prev_h", prev_h, (("N", N), ("H", None)))
    checks.shape("Wx", checks.float_array("Wx", Wx), (("D", D), (f"{gates}H", gates * H)))
    checks.shape("Wh", checks.float_array("Wh", Wh), (("H", H), (f"{gates}H", gates * H)))
    checks.shape("b", checks.float_array("b", b), ((f"{gates}H", gates * H),))
    return x, prev_h


def _check_sequence(x, h0, Wx, Wh, b, gates):
    x = checks.float_array("x", x, ndim=3)
    h0 = checks.float_array("h0", h0, ndim=2)
    N, T, D = x.shape
    H = h0.shape[1]
    checks.shape("h0", h0, (("N", N), ("H", None)))
    checks.shape("Wx", checks.float_array("Wx", Wx), (("D", D), (f"{gates}H", gates * H)))
    checks.shape("Wh", checks.float_array("Wh", Wh), (("H", H), (f"{gates}H", gates * H)))
    checks.shape("b", checks.float_array("b", b), ((f"{gates}H", gates * H),))
    return x, h0


def _check_grad(name, d, like):
    d = checks.float_array(name, d)
    checks.shape(name, d, tuple((f"dim{i}", s) for i, s in enumerate(like.shape)))
    return d


def input_projection(x, Wx, b):
    """x: (N, T, D) -> x Wx + b: (N, T, G) for all time steps in one matmul."""
    return x @ Wx + b


def input_projection_backward(dxw, x, Wx):
    """Gradients of input_projection. dxw: (N, T, G) -> dx (N, T, D), dWx (D, G), db (G,)."""
    G = dxw.shape[-1]
    flat = dxw.reshape(-1, G)
    return dxw @ Wx.T, x.reshape(-1, x.shape[-1]).T @ flat, flat.sum(axis=0)


def _previous_states(h0, h):
    """(N, H) and (N, T, H) -> the state entering each step, h_{t-1}: (N, T, H)."""
    return np.concatenate([h0[:, None, :], h[:, :-1]], axis=1)


# -- vanilla RNN -----------------------------------------------------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b).

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)
    Returns next_h: (N, H) and the cache rnn_step_backward needs.
    """
    x, prev_h = _check_step(x, prev_h, Wx, Wh, b, gates=1)
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of rnn_step_forward.

    dnext_h: (N, H). Returns dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = _check_grad("dnext_h", dnext_h, next_h) * (1 - next_h**2)  # tanh' = 1 - tanh^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_recurrence(xw, h0, Wh):
    """The RNN's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, H), h0: (N, H), Wh: (H, H). Returns h: (N, T, H) and a cache.
    """
    N, T, H = xw.shape
    h = np.empty_like(xw)
    prev_h = h0
    for t in range(T):
        prev_h = h[:, t] = np.tanh(xw[:, t] + prev_h @ Wh)
    return h, (h0, Wh, h)


def rnn_recurrence_backward(dh, cache):
    """Backward through rnn_recurrence. dh: (N, T, H) -> dxw (N, T, H), dh0 (N, H), dWh (H, H)."""
    h0, Wh, h = cache
    N, T, H = h.shape
    da = np.empty_like(h)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        da[:, t] = (dh[:, t] + dprev_h) * (1 - h[:, t] ** 2)
        dprev_h = da[:, t] @ Wh.T
    dWh = _previous_states(h0, h).reshape(-1, H).T @ da.reshape(-1, H)
    return da, dprev_h, dWh


def rnn_forward(x, h0, Wx, Wh, b):
    """A tanh RNN over a whole sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)
    Returns h: (N, T, H), the hidden state at every step, and a cache.
    """
    x, h0 = _check_sequence(x, h0, Wx, Wh, b, gates=1)
    h, cache = rnn_recurrence(input_projection(x, Wx, b), h0, Wh)
    return h, (x, Wx, cache)


def rnn_backward(dh, cache):
    """Backpropagation through time for rnn_forward.

    dh: (N, T, H), the loss gradient reaching each hidden state from above.
    Returns dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, Wx, recurrence = cache
    dxw, dh0, dWh = rnn_recurrence_backward(_check_grad("dh", dh, recurrence[2]), recurrence)
    dx, dWx, db = input_projection_backward(dxw, x, Wx)
    return dx, dh0, dWx, dWh, db


# -- LSTM ------------------------------------------------------------------------------

def _lstm_cell(a, prev_c):
    """The LSTM's non-linear part. a: (N, 4H) pre-activations in gate order i, f, o, g.

    Returns gates (N, 4H) activated, next_c (N, H), tanh(next_c) (N, H), next_h (N, H).
    """
    H = prev_c.shape[1]
    gates = np.empty_like(a)
    gates[:, : 3 * H] = sigmoid(a[:, : 3 * H])
    gates[:, 3 * H :] = np.tanh(a[:, 3 * H :])
    i, f, o, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    return gates, next_c, tanh_c, o * tanh_c


def _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c):
    """Backward through _lstm_cell. Returns da (N, 4H) and dprev_c (N, H)."""
    H = prev_c.shape[1]
    i, f, o, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    dc = dnext_c + dnext_h * o * (1 - tanh_c**2)
    da = np.empty_like(gates)
    da[:, :H] = dc * g * i * (1 - i)
    da[:, H : 2 * H] = dc * prev_c * f * (1 - f)
    da[:, 2 * H : 3 * H] = dnext_h * tanh_c * o * (1 - o)
    da[:, 3 * H :] = dc * i * (1 - g**2)
    return da, dc * f


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step. Gates i, f, o, g are the four H-wide blocks of the 4H columns:

        a = x Wx + prev_h Wh + b;  i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
        next_c = f * prev_c + i * g;  next_h = o * tanh(next_c)

    x: (N, D), prev_h, prev_c: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,)
    Returns next_h: (N, H), next_c: (N, H) and a cache.
    """
    x, prev_h = _check_step(x, prev_h, Wx, Wh, b, gates=4)
    prev_c = checks.float_array("prev_c", prev_c)
    checks.shape("prev_c", prev_c, (("N", x.shape[0]), ("H", prev_h.shape[1])))
    gates, next_c, tanh_c, next_h = _lstm_cell(x @ Wx + prev_h @ Wh + b, prev_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of lstm_step_forward.

    dnext_h, dnext_c: (N, H).
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = cache
    dnext_h = _check_grad("dnext_h", dnext_h, prev_c)
    dnext_c = _check_grad("dnext_c", dnext_c, prev_c)
    da, dprev_c = _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_recurrence(xw, h0, c0, Wh):
    """The LSTM's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, 4H), h0, c0: (N, H), Wh: (H, 4H).
    Returns h: (N, T, H) and a cache holding the cell states c (N, T, H) and the
    activated gates (N, T, 4H), which the notebooks plot.
    """
    N, T, H4 = xw.shape
    H = H4 // 4
    h = np.empty((N, T, H), dtype=xw.dtype)
    c, tanh_c, gates = np.empty_like(h), np.empty_like(h), np.empty_like(xw)
    prev_h, prev_c = h0, c0
    for t in range(T):
        gates[:, t], prev_c, tanh_c[:, t], prev_h = _lstm_cell(xw[:, t] + prev_h @ Wh, prev_c)
        c[:, t], h[:, t] = prev_c, prev_h
    return h, {"h0": h0, "c0": c0, "Wh": Wh, "h": h, "c": c, "tanh_c": tanh_c, "gates": gates}


def lstm_recurrence_backward(dh, cache):
    """Backward through lstm_recurrence. dh: (N, T, H) -> dxw (N, T, 4H), dh0 (N, H), dWh (H, 4H).

    The gradient reaching c0 is kept in cache["dc0"] for callers that need it.
    """
    h0, c0, Wh, h, c, gates = (cache[k] for k in ("h0", "c0", "Wh", "h", "c", "gates"))
    N, T, H = h.shape
    dxw = np.empty_like(gates)
    dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        prev_c = c[:, t - 1] if t > 0 else c0
        dxw[:, t], dprev_c = _lstm_cell_backward(
            dh[:, t] + dprev_h, dprev_c, gates[:, t], prev_c, cache["tanh_c"][:, t]
        )
        dprev_h = dxw[:, t] @ Wh.T
    cache["dc0"] = dprev_c
    dWh = _previous_states(h0, h).reshape(-1, H).T @ dxw.reshape(-1, 4 * H)
    return dxw, dprev_h, dWh


def lstm_forward(x, h0, Wx, Wh, b, c0=None):
    """An LSTM over a whole sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, 4H), Wh: (H, 4H), b: (4H,),
    c0: (N, H) initial cell state (zeros when None; pass the last one to carry state).
    Returns h: (N, T, H) and a cache; cache["c"] (N, T, H) holds every cell state and
    cache["gates"] (N, T, 4H) the activated gates i, f, o, g.
    """
    x, h0 = _check_sequence(x, h0, Wx, Wh, b, gates=4)
    if c0 is None:
        c0 = np.zeros_like(h0)
    c0 = checks.float_array("c0", c0)
    checks.shape("c0", c0, (("N", h0.shape[0]), ("H", h0.shape[1])))
    h, cache = lstm_recurrence(input_projection(x, Wx, b), h0, c0, Wh)
    cache.update(x=x, Wx=Wx)
    return h, cache


def lstm_backward(dh, cache):
    """Backpropagation through time for lstm_forward.

    dh: (N, T, H). Returns dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    dxw, dh0, dWh = lstm_recurrence_backward(_check_grad("dh", dh, cache["h"]), cache)
    dx, dWx, db = input_projection_backward(dxw, cache["x"], cache["Wx"])
    return dx, dh0, dWx, dWh, db


# -- GRU -------------------------------------------------------------------------------
# Layout (the equations of torch.nn.GRU): the 3H columns of Wx, Wh and b are the reset
# gate r, the update gate z and the candidate n, in that order.
#   r = sigmoid(x Wx_r + h Wh_r + b_r)      z = sigmoid(x Wx_z + h Wh_z + b_z)
#   n = tanh(x Wx_n + b_n + r * (h Wh_n + bhn))
#   next_h = (1 - z) * n + z * h
# b folds torch's b_ih + b_hh for r and z; for n it is b_ih only, because the reset gate
# multiplies the recurrent term after its matmul, so its bias bhn (torch's b_hh for n)
# has to stay separate.

def _gru_cell(xw, hw, prev_h, bhn):
    """The GRU's non-linear part. xw, hw: (N, 3H) input and recurrent terms.

    Returns next_h (N, H) and the step's cache (r, z, n, hn, prev_h).
    """
    H = prev_h.shape[1]
    rz = sigmoid(xw[:, : 2 * H] + hw[:, : 2 * H])
    r, z = rz[:, :H], rz[:, H:]
    hn = hw[:, 2 * H :] + bhn
    n = np.tanh(xw[:, 2 * H :] + r * hn)
    return n + z * (prev_h - n), (r, z, n, hn, prev_h)


def _gru_cell_backward(dnext_h, step):
    """Backward through _gru_cell. Returns dxw (N, 3H), dhw (N, 3H), dprev_h through z only."""
    r, z, n, hn, prev_h = step
    H = prev_h.shape[1]
    dan = dnext_h * (1 - z) * (1 - n**2)
    dxw = np.empty(dnext_h.shape[:1] + (3 * H,), dtype=dnext_h.dtype)
    dxw[:, :H] = dan * hn * r * (1 - r)
    dxw[:, H : 2 * H] = dnext_h * (prev_h - n) * z * (1 - z)
    dxw[:, 2 * H :] = dan
    dhw = dxw.copy()
    dhw[:, 2 * H :] = dan * r
    return dxw, dhw, dnext_h * z


def _check_bhn(bhn, H):
    bhn = checks.float_array("bhn", bhn)
    checks.shape("bhn", bhn, (("H", H),))
    return bhn


def gru_step_forward(x, prev_h, Wx, Wh, b, bhn):
    """One GRU step (torch.nn.GRU's equations, see the layout note above).

    x: (N, D), prev_h: (N, H), Wx: (D, 3H), Wh: (H, 3H), b: (3H,), bhn: (H,)
    Returns next_h: (N, H) and a cache.
    """
    x, prev_h = _check_step(x, prev_h, Wx, Wh, b, gates=3)
    bhn = _check_bhn(bhn, prev_h.shape[1])
    next_h, step = _gru_cell(x @ Wx + b, prev_h @ Wh, prev_h, bhn)
    return next_h, (x, Wx, Wh, step)


def gru_step_backward(dnext_h, cache):
    """Backward pass of gru_step_forward.

    dnext_h: (N, H). Returns dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H),
    db (3H,), dbhn (H,).
    """
    x, Wx, Wh, step = cache
    prev_h = step[-1]
    dxw, dhw, dprev_h = _gru_cell_backward(_check_grad("dnext_h", dnext_h, prev_h), step)
    H = prev_h.shape[1]
    return (dxw @ Wx.T, dprev_h + dhw @ Wh.T, x.T @ dxw, prev_h.T @ dhw,
            dxw.sum(axis=0), dhw[:, 2 * H :].sum(axis=0))


def gru_recurrence(xw, h0, Wh, bhn):
    """The GRU's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, 3H), h0: (N, H), Wh: (H, 3H), bhn: (H,). Returns h: (N, T, H) and a cache.
    """
    N, T, H3 = xw.shape
    h = np.empty((N, T, H3 // 3), dtype=xw.dtype)
    steps = []
    prev_h = h0
    for t in range(T):
        prev_h, step = _gru_cell(xw[:, t], prev_h @ Wh, prev_h, bhn)
        h[:, t] = prev_h
        steps.append(step)
    return h, {"h0": h0, "Wh": Wh, "h": h, "steps": steps}


def gru_recurrence_backward(dh, cache):
    """Backward through gru_recurrence.

    dh: (N, T, H) -> dxw (N, T, 3H), dh0 (N, H), dWh (H, 3H), dbhn (H,).
    """
    h0, Wh, h, steps = cache["h0"], cache["Wh"], cache["h"], cache["steps"]
    N, T, H = h.shape
    dxw = np.empty((N, T, 3 * H), dtype=h.dtype)
    dhw = np.empty_like(dxw)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(T)):
        dxw[:, t], dhw[:, t], dprev_z = _gru_cell_backward(dh[:, t] + dprev_h, steps[t])
        dprev_h = dprev_z + dhw[:, t] @ Wh.T
    dWh = _previous_states(h0, h).reshape(-1, H).T @ dhw.reshape(-1, 3 * H)
    return dxw, dprev_h, dWh, dhw[:, :, 2 * H :].sum(axis=(0, 1))


def gru_forward(x, h0, Wx, Wh, b, bhn):
    """A GRU over a whole sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), b: (3H,), bhn: (H,)
    Returns h: (N, T, H) and a cache.
    """
    x, h0 = _check_sequence(x, h0, Wx, Wh, b, gates=3)
    bhn = _check_bhn(bhn, h0.shape[1])
    h, cache = gru_recurrence(input_projection(x, Wx, b), h0, Wh, bhn)
    cache.update(x=x, Wx=Wx)
    return h, cache


def gru_backward(dh, cache):
    """Backpropagation through time for gru_forward.

    dh: (N, T, H). Returns dx (N, T, D), dh0 (N, H), dWx (D, 3H), dWh (H, 3H),
    db (3H,), dbhn (H,).
    """
    dxw, dh0, dWh, dbhn = gru_recurrence_backward(_check_grad("dh", dh, cache["h"]), cache)
    dx, dWx, db = input_projection_backward(dxw, cache["x"], cache["Wx"])
    return dx, dh0, dWx, dWh, db, dbhn


# -- embedding, output layer, loss -------------------------------------------------------

def embedding_forward(ids, W):
    """Look up a vector for every token id: the same as one_hot(ids) @ W, without the zeros.

    ids: (N, T) ints in [0, V), W: (V, D). Returns out: (N, T, D) and a cache.
    """
    W = checks.float_array("W", W, ndim=2)
    ids = checks.int_array("ids", ids, upper=W.shape[0])
    return W[ids], (ids, W.shape)


def embedding_backward(dout, cache):
    """Gradient of embedding_forward. dout: (N, T, D) -> dW: (V, D).

    A token that appears several times collects the sum of its gradients, hence add.at
    rather than plain fancy-index assignment.
    """
    ids, (V, D) = cache
    dout = checks.float_array("dout", dout)
    checks.shape("dout", dout, tuple((f"dim{i}", s) for i, s in enumerate(ids.shape)) + (("D", D),))
    dW = np.zeros((V, D), dtype=dout.dtype)
    np.add.at(dW, ids.reshape(-1), dout.reshape(-1, D))
    return dW


def temporal_affine_forward(x, W, b):
    """The same affine map at every time step. x: (N, T, H), W: (H, V), b: (V,) -> out: (N, T, V)."""
    x = checks.float_array("x", x, ndim=3)
    checks.shape("W", checks.float_array("W", W), (("H", x.shape[2]), ("V", None)))
    checks.shape("b", checks.float_array("b", b), (("V", W.shape[1]),))
    return x @ W + b, (x, W)


def temporal_affine_backward(dout, cache):
    """Gradients of temporal_affine_forward. dout: (N, T, V) -> dx (N, T, H), dW (H, V), db (V,)."""
    x, W = cache
    dout = checks.float_array("dout", dout, ndim=3)
    checks.shape("dout", dout, (("N", x.shape[0]), ("T", x.shape[1]), ("V", W.shape[1])))
    dx, dW, db = input_projection_backward(dout, x, W)
    return dx, dW, db


def softmax_cross_entropy(logits, y, ignore_index=None):
    """Mean negative log-likelihood of the targets, in nats per counted token.

    logits: (N, T, V), y: (N, T) ints in [0, V). Targets equal to `ignore_index`
    (padding) are not counted. Returns loss (float) and dlogits: (N, T, V).
    """
    logits = checks.float_array("logits", logits, ndim=3)
    N, T, V = logits.shape
    y = checks.int_array("y", y, ndim=2)
    checks.shape("y", y, (("N", N), ("T", T)))
    counted = np.ones(y.shape, dtype=bool) if ignore_index is None else y != ignore_index
    n_counted = int(counted.sum())
    if n_counted == 0:
        raise ValueError("y has no targets to score: every position equals ignore_index")
    checks.int_array("y", y[counted], upper=V)
    flat, targets = logits.reshape(-1, V), np.where(counted, y, 0).reshape(-1)
    shifted = flat - flat.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    total = probs.sum(axis=1, keepdims=True)
    rows = np.arange(flat.shape[0])
    log_likelihood = shifted[rows, targets] - np.log(total[:, 0])
    weight = counted.reshape(-1).astype(logits.dtype) / n_counted
    loss = -float(np.dot(log_likelihood.astype(np.float64), weight))
    probs /= total
    probs[rows, targets] -= 1
    probs *= weight[:, None]
    return loss, probs.reshape(N, T, V)
