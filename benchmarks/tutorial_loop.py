"""The baseline: a language-model training step written the way from-scratch tutorials write it.

One sequence at a time, one time step at a time, column vectors, dicts of per-step
values keyed by t, a one-hot vector built for every input and multiplied densely, the
LSTM and GRU gates each with their own matrix acting on the stacked [h; x] (the
min-char-rnn / "W_f . [h_{t-1}, x_t] + b_f" style). Nothing here is slowed on purpose:
it is correct, float32 throughout, and computes exactly the loss and gradients of
course_lib's LanguageModel with one-hot input (tests/test_benchmarks.py checks that).

It lives in benchmarks/ on purpose: it is the thing course_lib must beat, not course code.

Layout (column-vector convention, H hidden units, V vocabulary):
  rnn:  Wxh (H, V), Whh (H, H), bh (H, 1)
  lstm: Wi, Wf, Wo, Wg (H, H+V) on [h; x], bi, bf, bo, bg (H, 1)
  gru:  Wr, Wz (H, H+V) on [h; x], br, bz (H, 1); Wnx (H, V), Wnh (H, H), bn, bhn (H, 1)
  all:  Why (V, H), by (V, 1)
"""
import numpy as np

LSTM_GATES = ("i", "f", "o", "g")  # course_lib's column order


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def one_hot_column(token, V, dtype):
    x = np.zeros((V, 1), dtype=dtype)
    x[token] = 1
    return x


def softmax_column(scores):
    e = np.exp(scores - np.max(scores))
    return e / np.sum(e)


def rnn_sequence(inputs, targets, p, h_start):
    """Summed loss and gradients of one sequence through a tanh RNN. inputs, targets: (T,) ids."""
    V = p["Why"].shape[0]
    xs, hs, ps = {}, {-1: h_start}, {}
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = one_hot_column(inputs[t], V, h_start.dtype)
        hs[t] = np.tanh(np.dot(p["Wxh"], xs[t]) + np.dot(p["Whh"], hs[t - 1]) + p["bh"])
        ps[t] = softmax_column(np.dot(p["Why"], hs[t]) + p["by"])
        loss -= np.log(ps[t][targets[t], 0])

    g = {name: np.zeros_like(value) for name, value in p.items()}
    dh_later = np.zeros_like(h_start)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        g["Why"] += np.dot(dy, hs[t].T)
        g["by"] += dy
        dh = np.dot(p["Why"].T, dy) + dh_later
        da = (1 - hs[t] * hs[t]) * dh
        g["Wxh"] += np.dot(da, xs[t].T)
        g["Whh"] += np.dot(da, hs[t - 1].T)
        g["bh"] += da
        dh_later = np.dot(p["Whh"].T, da)
    return loss, g


def lstm_sequence(inputs, targets, p, h_start):
    """Summed loss and gradients of one sequence through an LSTM (gates i, f, o, g)."""
    V, H = p["Why"].shape
    zs, hs, cs, ps = {}, {-1: h_start}, {-1: np.zeros_like(h_start)}, {}
    i, f, o, g, tanh_c = {}, {}, {}, {}, {}
    loss = 0.0
    for t in range(len(inputs)):
        zs[t] = np.vstack((hs[t - 1], one_hot_column(inputs[t], V, h_start.dtype)))
        i[t] = sigmoid(np.dot(p["Wi"], zs[t]) + p["bi"])
        f[t] = sigmoid(np.dot(p["Wf"], zs[t]) + p["bf"])
        o[t] = sigmoid(np.dot(p["Wo"], zs[t]) + p["bo"])
        g[t] = np.tanh(np.dot(p["Wg"], zs[t]) + p["bg"])
        cs[t] = f[t] * cs[t - 1] + i[t] * g[t]
        tanh_c[t] = np.tanh(cs[t])
        hs[t] = o[t] * tanh_c[t]
        ps[t] = softmax_column(np.dot(p["Why"], hs[t]) + p["by"])
        loss -= np.log(ps[t][targets[t], 0])

    d = {name: np.zeros_like(value) for name, value in p.items()}
    dh_later, dc_later = np.zeros_like(h_start), np.zeros_like(h_start)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        d["Why"] += np.dot(dy, hs[t].T)
        d["by"] += dy
        dh = np.dot(p["Why"].T, dy) + dh_later
        dc = dc_later + dh * o[t] * (1 - tanh_c[t] ** 2)
        da = {
            "i": dc * g[t] * i[t] * (1 - i[t]),
            "f": dc * cs[t - 1] * f[t] * (1 - f[t]),
            "o": dh * tanh_c[t] * o[t] * (1 - o[t]),
            "g": dc * i[t] * (1 - g[t] ** 2),
        }
        dz = np.zeros_like(zs[t])
        for gate in LSTM_GATES:
            d["W" + gate] += np.dot(da[gate], zs[t].T)
            d["b" + gate] += da[gate]
            dz += np.dot(p["W" + gate].T, da[gate])
        dh_later = dz[:H]
        dc_later = f[t] * dc
    return loss, d


def gru_sequence(inputs, targets, p, h_start):
    """Summed loss and gradients of one sequence through a GRU (torch.nn.GRU's equations)."""
    V, H = p["Why"].shape
    xs, zs, hs, ps = {}, {}, {-1: h_start}, {}
    r, u, n, hn = {}, {}, {}, {}  # u is the update gate, called z in the equations
    loss = 0.0
    for t in range(len(inputs)):
        xs[t] = one_hot_column(inputs[t], V, h_start.dtype)
        zs[t] = np.vstack((hs[t - 1], xs[t]))
        r[t] = sigmoid(np.dot(p["Wr"], zs[t]) + p["br"])
        u[t] = sigmoid(np.dot(p["Wz"], zs[t]) + p["bz"])
        hn[t] = np.dot(p["Wnh"], hs[t - 1]) + p["bhn"]
        n[t] = np.tanh(np.dot(p["Wnx"], xs[t]) + p["bn"] + r[t] * hn[t])
        hs[t] = (1 - u[t]) * n[t] + u[t] * hs[t - 1]
        ps[t] = softmax_column(np.dot(p["Why"], hs[t]) + p["by"])
        loss -= np.log(ps[t][targets[t], 0])

    d = {name: np.zeros_like(value) for name, value in p.items()}
    dh_later = np.zeros_like(h_start)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        d["Why"] += np.dot(dy, hs[t].T)
        d["by"] += dy
        dh = np.dot(p["Why"].T, dy) + dh_later
        dan = dh * (1 - u[t]) * (1 - n[t] ** 2)
        dar = dan * hn[t] * r[t] * (1 - r[t])
        dau = dh * (hs[t - 1] - n[t]) * u[t] * (1 - u[t])
        dhn = dan * r[t]
        d["Wnx"] += np.dot(dan, xs[t].T)
        d["bn"] += dan
        d["Wnh"] += np.dot(dhn, hs[t - 1].T)
        d["bhn"] += dhn
        d["Wr"] += np.dot(dar, zs[t].T)
        d["br"] += dar
        d["Wz"] += np.dot(dau, zs[t].T)
        d["bz"] += dau
        dz = np.dot(p["Wr"].T, dar) + np.dot(p["Wz"].T, dau)
        dh_later = dh * u[t] + np.dot(p["Wnh"].T, dhn) + dz[:H]
    return loss, d


SEQUENCE_FUNCTIONS = {"rnn": rnn_sequence, "lstm": lstm_sequence, "gru": gru_sequence}


def loss_and_grads(cell, x, y, params):
    """A training step's loss and gradients over a batch, one sequence after another.

    x, y: (N, T) input and target ids. Every sequence starts from a zero state. Returns
    the mean loss per token and gradients of that mean (the same quantities as
    course_lib's LanguageModel.loss_and_grads).
    """
    N, T = x.shape
    H = params["Why"].shape[1]
    dtype = params["Why"].dtype
    total_loss = 0.0
    total = {name: np.zeros_like(value) for name, value in params.items()}
    for seq in range(N):
        loss, grads = SEQUENCE_FUNCTIONS[cell](x[seq], y[seq], params, np.zeros((H, 1), dtype=dtype))
        total_loss += loss
        for name in total:
            total[name] += grads[name]
    scale = dtype.type(1.0 / (N * T))
    return float(total_loss) / (N * T), {name: value * scale for name, value in total.items()}


# -- converting weights from and to course_lib's layout ----------------------------------

def from_course_lib(params, cell):
    """course_lib LanguageModel params (one layer, one-hot input) -> this file's layout."""
    Wx, Wh, b = params["Wx0"], params["Wh0"], params["b0"]
    H = Wh.shape[0]
    p = {"Why": params["W_out"].T.copy(), "by": params["b_out"][:, None].copy()}
    if cell == "rnn":
        p.update(Wxh=Wx.T.copy(), Whh=Wh.T.copy(), bh=b[:, None].copy())
    elif cell == "lstm":
        for k, gate in enumerate(LSTM_GATES):
            cols = slice(k * H, (k + 1) * H)
            p["W" + gate] = np.hstack((Wh[:, cols].T, Wx[:, cols].T))
            p["b" + gate] = b[cols, None].copy()
    else:
        for k, gate in enumerate(("r", "z")):
            cols = slice(k * H, (k + 1) * H)
            p["W" + gate] = np.hstack((Wh[:, cols].T, Wx[:, cols].T))
            p["b" + gate] = b[cols, None].copy()
        p.update(Wnx=Wx[:, 2 * H:].T.copy(), Wnh=Wh[:, 2 * H:].T.copy(),
                 bn=b[2 * H:, None].copy(), bhn=params["bhn0"][:, None].copy())
    return p


def to_course_lib(grads, cell):
    """Gradients in this file's layout -> course_lib's names and shapes (for comparisons)."""
    out = {"W_out": grads["Why"].T, "b_out": grads["by"][:, 0]}
    if cell == "rnn":
        out.update(Wx0=grads["Wxh"].T, Wh0=grads["Whh"].T, b0=grads["bh"][:, 0])
        return out
    H = grads["Why"].shape[1]
    gates = LSTM_GATES if cell == "lstm" else ("r", "z")
    Wx = [grads["W" + gate][:, H:].T for gate in gates]
    Wh = [grads["W" + gate][:, :H].T for gate in gates]
    b = [grads["b" + gate][:, 0] for gate in gates]
    if cell == "gru":
        Wx.append(grads["Wnx"].T)
        Wh.append(grads["Wnh"].T)
        b.append(grads["bn"][:, 0])
        out["bhn0"] = grads["bhn"][:, 0]
    out.update(Wx0=np.hstack(Wx), Wh0=np.hstack(Wh), b0=np.concatenate(b))
    return out
