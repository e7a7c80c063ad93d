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

For speed (benchmarks/rnn_speed.py measures it) the sequence functions store what they
allocate so that a time step works on contiguous blocks (time-major; the LSTM's and GRU's
gates gate by gate), the cells compute in place, and a training step may reuse its
arrays from call to call (Workspace).
"""
import numpy as np

from . import checks


def sigmoid(a, out=None):
    """Logistic function, written with tanh: no overflow for large |a|, and cheap.

    out: an array to write the result into (may be `a` itself, for in-place use).
    """
    if out is None:
        return 0.5 * np.tanh(0.5 * a) + 0.5
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def softmax(logits, axis=-1):
    """Softmax along `axis`, shifted by the max for numerical safety."""
    logits = checks.float_array("logits", logits)
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -- argument checks shared by the cells -------------------------------------------------

def _check_cell_inputs(x, h, Wx, Wh, b, gates, x_ndim, h_name):
    """Check a cell's input (N, D) or (N, T, D), state h: (N, H) and weights for `gates` gates."""
    x = checks.float_array("x", x, ndim=x_ndim)
    h = checks.float_array(h_name, h, ndim=2)
    N, D, H = x.shape[0], x.shape[-1], h.shape[1]
    checks.shape(h_name, h, (("N", N), ("H", None)))
    checks.shape("Wx", checks.float_array("Wx", Wx), (("D", D), (f"{gates}H", gates * H)))
    checks.shape("Wh", checks.float_array("Wh", Wh), (("H", H), (f"{gates}H", gates * H)))
    checks.shape("b", checks.float_array("b", b), ((f"{gates}H", gates * H),))
    return x, h


def _check_step(x, prev_h, Wx, Wh, b, gates):
    return _check_cell_inputs(x, prev_h, Wx, Wh, b, gates, x_ndim=2, h_name="prev_h")


def _check_sequence(x, h0, Wx, Wh, b, gates):
    return _check_cell_inputs(x, h0, Wx, Wh, b, gates, x_ndim=3, h_name="h0")


def _check_grad(name, d, like):
    d = checks.float_array(name, d)
    checks.shape(name, d, tuple((f"dim{i}", s) for i, s in enumerate(like.shape)))
    return d


# -- time-major storage ------------------------------------------------------------------
# Arrays of a whole sequence are indexed (N, T, ...) everywhere, as in the notebooks, but the
# ones the layers allocate are *stored* time-major: the slice [:, t] that a time step reads
# or writes is then one contiguous block, which BLAS and NumPy's ufuncs handle fastest, and
# all N*T rows flatten without a copy for the matmuls done once per sequence.

class Workspace:
    """Arrays that a training step reuses from one call to the next, by name.

    Every step allocates the same large arrays again, and memory fresh from the system
    costs a page fault per 4 KiB page when first written: for an LSTM step that was a
    quarter of its time. Whoever passes a workspace promises that nothing taken from it
    outlives the call (LanguageModel.loss_and_grads returns only new arrays).
    """

    def __init__(self):
        self._arrays = {}

    def empty(self, name, shape, dtype):
        """An uninitialised array, the one of the last call under this name if it fits."""
        a = self._arrays.get(name)
        if a is None or a.shape != tuple(shape) or a.dtype != dtype:
            a = self._arrays[name] = np.empty(shape, dtype=dtype)
        return a


def _empty(shape, dtype, workspace=None, name=None):
    if workspace is None:
        return np.empty(shape, dtype=dtype)
    return workspace.empty(name, shape, dtype)


def _time_major_empty(shape, dtype, workspace=None, name=None):
    """An uninitialised array indexed (N, T, ...) and stored as (T, N, ...)."""
    N, T, *rest = shape
    return _empty((T, N, *rest), dtype, workspace, name).swapaxes(0, 1)


def _is_time_major(a):
    return a.swapaxes(0, 1).flags.c_contiguous


def _rows(*arrays):
    """Flatten (N, T, ...) arrays to (N*T, ...), all in one order of the positions.

    The order is time-major when every array is stored that way (no copy is made),
    batch-major otherwise. Returns (time_major, list of flattened arrays). Sums over
    positions, such as weight gradients, do not depend on the order.
    """
    if all(_is_time_major(a) for a in arrays):
        return True, [a.swapaxes(0, 1).reshape(-1, *a.shape[2:]) for a in arrays]
    return False, [a.reshape(-1, *a.shape[2:]) for a in arrays]


def _unrows(rows, N, T, time_major):
    """(N*T, K) rows in the order _rows gave -> an (N, T, K) array (a view)."""
    if time_major:
        return rows.reshape(T, N, -1).swapaxes(0, 1)
    return rows.reshape(N, T, -1)


def input_projection(x, Wx, b, workspace=None, name="xw"):
    """x: (N, T, D) -> x Wx + b: (N, T, G) for all time steps in one matmul."""
    N, T, _ = x.shape
    time_major, (rows,) = _rows(x)
    out = np.matmul(rows, Wx, out=_empty((N * T, Wx.shape[1]), np.result_type(rows, Wx, b), workspace, name))
    out += b
    return _unrows(out, N, T, time_major)


def input_projection_backward(dxw, x, Wx, workspace=None, name="dx"):
    """Gradients of input_projection. dxw: (N, T, G) -> dx (N, T, D), dWx (D, G), db (G,)."""
    N, T, _ = dxw.shape
    time_major, (d, rows) = _rows(dxw, x)
    dx = np.matmul(d, Wx.T, out=_empty((N * T, Wx.shape[0]), np.result_type(d, Wx), workspace, name))
    return _unrows(dx, N, T, time_major), rows.T @ d, d.sum(axis=0)


def _recurrent_weight_gradient(h0, h, da):
    """dWh = sum over t of h_{t-1}^T da_t, as one matmul over all later steps plus step 0.

    h0: (N, H), h: (N, T, H) the states, da: (N, T, G) gradients of the pre-activations.
    """
    _, (prev, later) = _rows(h[:, :-1], da[:, 1:])
    return h0.T @ da[:, 0] + prev.T @ later


def _transposed(W):
    """W.T as a contiguous array: BLAS multiplies by it faster than by the transposed view."""
    return np.ascontiguousarray(W.T)


# The LSTM's and GRU's sequence functions keep each step's gates gate by gate, (gates, N, H):
# every gate is then one contiguous block for the elementwise work (several times faster
# than on a strided column block), and the recurrent term is one (N, H) x (H, H) matmul
# per gate, which BLAS runs at least as fast as a single (N, H) x (H, gates*H).

def _by_gate(a, gates):
    """(N, gates*H) -> (gates, N, H): a view with one gate's block of columns per leading index."""
    return a.reshape(a.shape[0], gates, -1).swapaxes(0, 1)


def _weights_by_gate(W, gates):
    """(H_in, gates*H) -> (gates, H_in, H), each gate's columns as its own contiguous matrix."""
    return np.ascontiguousarray(W.reshape(W.shape[0], gates, -1).swapaxes(0, 1))


def _by_position(by_gate, workspace=None, name=None):
    """(T, k, N, H) stored gate by gate -> (N, T, k*H), stored time-major (a copy)."""
    T, k, N, H = by_gate.shape
    out = _time_major_empty((N, T, k * H), by_gate.dtype, workspace, name)
    out.swapaxes(0, 1).reshape(T, N, k, H)[...] = by_gate.swapaxes(1, 2)
    return out


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


def rnn_recurrence(xw, h0, Wh, workspace=None):
    """The RNN's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, H), h0: (N, H), Wh: (H, H). Returns h: (N, T, H) and a cache.
    workspace: a Workspace to take the arrays from (see Workspace).
    """
    N, T, H = xw.shape
    h = _time_major_empty((N, T, H), xw.dtype, workspace, "h")
    prev_h = h0
    for t in range(T):
        # next_h = tanh(xw_t + prev_h Wh), computed in place in h[:, t]
        next_h = np.matmul(prev_h, Wh, out=h[:, t])
        next_h += xw[:, t]
        prev_h = np.tanh(next_h, out=next_h)
    return h, (h0, Wh, h, workspace)


def rnn_recurrence_backward(dh, cache):
    """Backward through rnn_recurrence. dh: (N, T, H) -> dxw (N, T, H), dh0 (N, H), dWh (H, H)."""
    h0, Wh, h, workspace = cache
    da = _time_major_empty(h.shape, h.dtype, workspace, "da")
    np.multiply(h, h, out=da)
    np.subtract(1, da, out=da)  # tanh' = 1 - tanh^2, for every step at once
    WhT = _transposed(Wh)
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(h.shape[1])):
        da[:, t] *= dh[:, t] + dprev_h
        dprev_h = da[:, t] @ WhT
    return da, dprev_h, _recurrent_weight_gradient(h0, h, da)


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

def _lstm_cell(a, prev_c, next_c, tanh_c, next_h):
    """The LSTM's non-linear part, in place.

    a: (4, N, H) pre-activations of the gates i, f, o, g, overwritten by the activated
    gates; prev_c: (N, H). Writes next_c, tanh(next_c) and next_h, each (N, H).
    """
    sigmoid(a[:3], out=a[:3])
    np.tanh(a[3], out=a[3])
    i, f, o, g = a
    np.multiply(f, prev_c, out=next_c)
    next_c += i * g
    np.tanh(next_c, out=tanh_c)
    np.multiply(o, tanh_c, out=next_h)


def _lstm_cell_backward(dnext_h, dnext_c, gates, prev_c, tanh_c, da):
    """Backward through _lstm_cell. gates: (4, N, H) activated i, f, o, g.

    Writes da (4, N, H), the gradients of the pre-activations, and returns dprev_c (N, H).
    """
    i, f, o, g = gates
    da_i, da_f, da_o, da_g = da
    dc = dnext_h * o
    dc *= 1 - tanh_c * tanh_c  # tanh' = 1 - tanh^2
    dc += dnext_c
    np.multiply(dc, g, out=da_i)
    np.multiply(dc, prev_c, out=da_f)
    np.multiply(dnext_h, tanh_c, out=da_o)
    da[:3] *= gates[:3] * (1 - gates[:3])  # sigmoid' = s (1 - s) for i, f, o at once
    np.multiply(dc, i, out=da_g)
    da_g *= 1 - g * g
    return dc * f


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
    gates = x @ Wx + prev_h @ Wh + b
    next_c, tanh_c, next_h = (np.empty_like(prev_h) for _ in range(3))
    _lstm_cell(_by_gate(gates, 4), prev_c, next_c, tanh_c, next_h)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of lstm_step_forward.

    dnext_h, dnext_c: (N, H).
    Returns dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = cache
    dnext_h = _check_grad("dnext_h", dnext_h, prev_c)
    dnext_c = _check_grad("dnext_c", dnext_c, prev_c)
    da = np.empty_like(gates)
    dprev_c = _lstm_cell_backward(dnext_h, dnext_c, _by_gate(gates, 4), prev_c, tanh_c, _by_gate(da, 4))
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_recurrence(xw, h0, c0, Wh, workspace=None):
    """The LSTM's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, 4H), h0, c0: (N, H), Wh: (H, 4H).
    Returns h: (N, T, H) and a cache holding the cell states c (N, T, H) and the activated
    gates of each step gate by gate, cache["gates_by_gate"] (T, 4, N, H).
    workspace: a Workspace to take the arrays from (see Workspace).
    """
    N, T, H4 = xw.shape
    H = H4 // 4
    gates = _empty((T, 4, N, H), xw.dtype, workspace, "gates")
    h, c, tanh_c = (_time_major_empty((N, T, H), xw.dtype, workspace, name) for name in ("h", "c", "tanh_c"))
    Wh_gates = _weights_by_gate(Wh, 4)
    prev_h, prev_c = h0, c0
    for t in range(T):
        a = np.matmul(prev_h, Wh_gates, out=gates[t])
        a += _by_gate(xw[:, t], 4)
        _lstm_cell(a, prev_c, c[:, t], tanh_c[:, t], h[:, t])
        prev_h, prev_c = h[:, t], c[:, t]
    return h, {"h0": h0, "c0": c0, "Wh": Wh, "h": h, "c": c, "tanh_c": tanh_c, "gates_by_gate": gates,
                "workspace": workspace}


def lstm_recurrence_backward(dh, cache):
    """Backward through lstm_recurrence. dh: (N, T, H) -> dxw (N, T, 4H), dh0 (N, H), dWh (H, 4H).

    The gradient reaching c0 is kept in cache["dc0"] for callers that need it.
    """
    h0, c0, Wh, h, c, gates, workspace = (cache[k] for k in ("h0", "c0", "Wh", "h", "c", "gates_by_gate", "workspace"))
    da = _empty(gates.shape, gates.dtype, workspace, "da")
    WhT_gates = _weights_by_gate(Wh, 4).swapaxes(1, 2).copy()  # each gate's block of Wh, transposed
    dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(h.shape[1])):
        prev_c = c[:, t - 1] if t > 0 else c0
        dprev_c = _lstm_cell_backward(dh[:, t] + dprev_h, dprev_c, gates[t], prev_c, cache["tanh_c"][:, t], da[t])
        dprev_h = np.matmul(da[t], WhT_gates).sum(axis=0)
    cache["dc0"] = dprev_c
    dxw = _by_position(da, workspace, "dxw")
    return dxw, dprev_h, _recurrent_weight_gradient(h0, h, dxw)


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
    cache.update(x=x, Wx=Wx, gates=_by_position(cache["gates_by_gate"]))
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

def _gru_cell(xw, hw, prev_h, bhn, hn, next_h):
    """The GRU's non-linear part, in place.

    xw: (3, N, H) input terms x Wx + b of r, z, n; hw: (3, N, H) recurrent terms
    prev_h Wh, overwritten by the activated r, z, n; prev_h: (N, H).
    Writes hn = prev_h Wh_n + bhn and next_h, each (N, H).
    """
    rz, n = hw[:2], hw[2]
    np.add(n, bhn, out=hn)
    rz += xw[:2]
    sigmoid(rz, out=rz)
    r, z = rz
    np.multiply(r, hn, out=n)
    n += xw[2]
    np.tanh(n, out=n)
    np.subtract(prev_h, n, out=next_h)  # next_h = (1 - z) * n + z * prev_h = n + z * (prev_h - n)
    next_h *= z
    next_h += n


def _gru_cell_backward(dnext_h, r, z, n, hn, prev_h, dxw, dhw):
    """Backward through _gru_cell. Writes dxw and dhw (3, N, H), the gradients of the input
    and recurrent terms; returns the part of dprev_h that flows through z * prev_h."""
    dar, daz, dan = dxw
    np.multiply(dnext_h * (1 - z), 1 - n * n, out=dan)  # through n = tanh(...)
    np.multiply(dan * hn, r * (1 - r), out=dar)  # through r
    np.multiply(dnext_h * (prev_h - n), z * (1 - z), out=daz)  # through z
    dhw[:2] = dxw[:2]
    np.multiply(dan, r, out=dhw[2])  # the reset gate scales the recurrent term
    return dnext_h * z


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
    rzn = prev_h @ Wh
    hn, next_h = np.empty_like(prev_h, dtype=rzn.dtype), np.empty_like(prev_h, dtype=rzn.dtype)
    _gru_cell(_by_gate(x @ Wx + b, 3), _by_gate(rzn, 3), prev_h, bhn, hn, next_h)
    r, z, n = _by_gate(rzn, 3)
    return next_h, (x, Wx, Wh, (r, z, n, hn, prev_h))


def gru_step_backward(dnext_h, cache):
    """Backward pass of gru_step_forward.

    dnext_h: (N, H). Returns dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H),
    db (3H,), dbhn (H,).
    """
    x, Wx, Wh, step = cache
    prev_h = step[-1]
    dnext_h = _check_grad("dnext_h", dnext_h, prev_h)
    H = prev_h.shape[1]
    dxw = np.empty(dnext_h.shape[:1] + (3 * H,), dtype=dnext_h.dtype)
    dhw = np.empty_like(dxw)
    dprev_h = _gru_cell_backward(dnext_h, *step, _by_gate(dxw, 3), _by_gate(dhw, 3))
    return (dxw @ Wx.T, dprev_h + dhw @ Wh.T, x.T @ dxw, prev_h.T @ dhw,
            dxw.sum(axis=0), dhw[:, 2 * H :].sum(axis=0))


def gru_recurrence(xw, h0, Wh, bhn, workspace=None):
    """The GRU's time loop, given every step's input term xw_t = x_t Wx + b.

    xw: (N, T, 3H), h0: (N, H), Wh: (H, 3H), bhn: (H,). Returns h: (N, T, H) and a cache
    holding the activated gates of each step gate by gate, cache["gates_by_gate"]
    (T, 3, N, H).
    workspace: a Workspace to take the arrays from (see Workspace).
    """
    N, T, H3 = xw.shape
    H = H3 // 3
    gates = _empty((T, 3, N, H), xw.dtype, workspace, "gates")
    h, hn = (_time_major_empty((N, T, H), xw.dtype, workspace, name) for name in ("h", "hn"))
    Wh_gates = _weights_by_gate(Wh, 3)
    prev_h = h0
    for t in range(T):
        hw = np.matmul(prev_h, Wh_gates, out=gates[t])
        _gru_cell(_by_gate(xw[:, t], 3), hw, prev_h, bhn, hn[:, t], h[:, t])
        prev_h = h[:, t]
    return h, {"h0": h0, "Wh": Wh, "h": h, "gates_by_gate": gates, "hn": hn, "workspace": workspace}


def gru_recurrence_backward(dh, cache):
    """Backward through gru_recurrence.

    dh: (N, T, H) -> dxw (N, T, 3H), dh0 (N, H), dWh (H, 3H), dbhn (H,).
    """
    h0, Wh, h, gates, hn, workspace = (cache[k] for k in ("h0", "Wh", "h", "gates_by_gate", "hn", "workspace"))
    dxw, dhw = (_empty(gates.shape, gates.dtype, workspace, name) for name in ("dxw_by_gate", "dhw_by_gate"))
    WhT_gates = _weights_by_gate(Wh, 3).swapaxes(1, 2).copy()  # each gate's block of Wh, transposed
    dprev_h = np.zeros_like(h0)
    for t in reversed(range(h.shape[1])):
        prev_h = h[:, t - 1] if t > 0 else h0
        r, z, n = gates[t]
        dprev_z = _gru_cell_backward(dh[:, t] + dprev_h, r, z, n, hn[:, t], prev_h, dxw[t], dhw[t])
        dprev_h = np.matmul(dhw[t], WhT_gates).sum(axis=0)
        dprev_h += dprev_z
    dbhn = dhw[:, 2].sum(axis=(0, 1))
    dhw = _by_position(dhw, workspace, "dhw")
    return _by_position(dxw, workspace, "dxw"), dprev_h, _recurrent_weight_gradient(h0, h, dhw), dbhn


def gru_forward(x, h0, Wx, Wh, b, bhn):
    """A GRU over a whole sequence.

    x: (N, T, D), h0: (N, H), Wx: (D, 3H), Wh: (H, 3H), b: (3H,), bhn: (H,)
    Returns h: (N, T, H) and a cache; cache["gates"] (N, T, 3H) holds the activated
    gates r, z, n.
    """
    x, h0 = _check_sequence(x, h0, Wx, Wh, b, gates=3)
    bhn = _check_bhn(bhn, h0.shape[1])
    h, cache = gru_recurrence(input_projection(x, Wx, b), h0, Wh, bhn)
    cache.update(x=x, Wx=Wx, gates=_by_position(cache["gates_by_gate"]))
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

    A token that appears several times collects the sum of its gradients. np.add.at
    says exactly that, but slowly; grouping the positions by token (a sort) and summing
    each group gives the same sums several times faster.
    """
    ids, (V, D) = cache
    dout = checks.float_array("dout", dout)
    checks.shape("dout", dout, tuple((f"dim{i}", s) for i, s in enumerate(ids.shape)) + (("D", D),))
    if ids.ndim >= 2:
        _, (ids, dout) = _rows(ids, dout)
    ids, dout = ids.reshape(-1), dout.reshape(-1, D)
    order = np.argsort(ids, kind="stable")  # positions grouped by token
    starts = np.flatnonzero(np.diff(ids[order], prepend=-1))  # where each token's group begins
    ends = np.append(starts[1:], len(ids))
    dW = np.zeros((V, D), dtype=dout.dtype)
    once = ends - starts == 1
    seen_once = order[starts[once]]
    dW[ids[seen_once]] = dout[seen_once]  # a token seen once: its row as it is
    for start, end in zip(starts[~once].tolist(), ends[~once].tolist()):
        positions = order[start:end]
        dout[positions].sum(axis=0, out=dW[ids[positions[0]]])
    return dW


def temporal_affine_forward(x, W, b):
    """The same affine map at every time step. x: (N, T, H), W: (H, V), b: (V,) -> out: (N, T, V)."""
    x = checks.float_array("x", x, ndim=3)
    checks.shape("W", checks.float_array("W", W), (("H", x.shape[2]), ("V", None)))
    checks.shape("b", checks.float_array("b", b), (("V", W.shape[1]),))
    return input_projection(x, W, b), (x, W)


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
    return _softmax_cross_entropy(logits, y, ignore_index, overwrite_logits=False)


def _softmax_cross_entropy(logits, y, ignore_index, overwrite_logits):
    """softmax_cross_entropy; with overwrite_logits, dlogits is written over the logits.

    The language model's training step overwrites: for a large vocabulary the logits are
    the biggest array of the step, and reusing them saves an allocation and a pass.
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
    shifted = np.subtract(flat, flat.max(axis=1, keepdims=True), out=flat if overwrite_logits else None)
    rows = np.arange(flat.shape[0])
    target_scores = shifted[rows, targets]
    probs = np.exp(shifted, out=shifted)
    total = probs.sum(axis=1)
    weight = counted.reshape(-1).astype(logits.dtype) / n_counted
    loss = -float(np.dot((target_scores - np.log(total)).astype(np.float64), weight))
    probs *= (weight / total)[:, None]  # softmax, times the position's weight in the mean
    probs[rows, targets] -= weight
    return loss, probs.reshape(N, T, V)
