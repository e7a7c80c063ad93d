"""The cells agree with torch.nn.RNN/LSTM/GRU, forward and backward (float64).

Runs only where torch is installed (`pip install torch==2.13.0`); torch is never required.
"""
import numpy as np
import pytest

from course_lib import layers
from course_lib.gradcheck import rel_error

torch = pytest.importorskip("torch", reason="torch not installed: the cross-check against torch.nn is optional")

N, T, D, H = 3, 6, 4, 5
TOL = 1e-9


def torch_run(module, x, h0, c0=None):
    """Forward and backward through a torch module with the upstream gradient dh."""
    x_t = torch.tensor(x, requires_grad=True)
    h0_t = torch.tensor(h0[None], requires_grad=True)
    state = h0_t if c0 is None else (h0_t, torch.tensor(c0[None]))
    out, _ = module(x_t, state)
    dh = np.random.default_rng(1).normal(size=out.shape)
    out.backward(torch.tensor(dh))
    return out.detach().numpy(), dh, x_t.grad.numpy(), h0_t.grad.numpy()[0]


def weights(module):
    return (getattr(module, name).detach().numpy() for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))


def grads(module):
    return (getattr(module, name).grad.numpy() for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))


@pytest.fixture
def inputs():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    return rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))


def test_rnn_matches_torch(inputs):
    x, h0, _ = inputs
    module = torch.nn.RNN(D, H, batch_first=True).double()
    out, dh, dx_t, dh0_t = torch_run(module, x, h0)
    W_ih, W_hh, b_ih, b_hh = weights(module)
    h, cache = layers.rnn_forward(x, h0, W_ih.T, W_hh.T, b_ih + b_hh)
    dx, dh0, dWx, dWh, db = layers.rnn_backward(dh, cache)
    gW_ih, gW_hh, gb_ih, _ = grads(module)
    for ours, theirs in [(h, out), (dx, dx_t), (dh0, dh0_t), (dWx, gW_ih.T), (dWh, gW_hh.T), (db, gb_ih)]:
        assert rel_error(ours, theirs) < TOL


def torch_lstm_order(a, H):
    """torch orders the LSTM's gate blocks i, f, g, o; course_lib uses i, f, o, g."""
    i, f, g, o = (a[k * H:(k + 1) * H] for k in range(4))
    return np.concatenate([i, f, o, g])


def test_lstm_matches_torch(inputs):
    x, h0, c0 = inputs
    module = torch.nn.LSTM(D, H, batch_first=True).double()
    out, dh, dx_t, dh0_t = torch_run(module, x, h0, c0)
    W_ih, W_hh, b_ih, b_hh = (torch_lstm_order(w, H) for w in weights(module))
    h, cache = layers.lstm_forward(x, h0, W_ih.T, W_hh.T, b_ih + b_hh, c0=c0)
    dx, dh0, dWx, dWh, db = layers.lstm_backward(dh, cache)
    gW_ih, gW_hh, gb_ih, _ = (torch_lstm_order(g, H) for g in grads(module))
    for ours, theirs in [(h, out), (dx, dx_t), (dh0, dh0_t), (dWx, gW_ih.T), (dWh, gW_hh.T), (db, gb_ih)]:
        assert rel_error(ours, theirs) < TOL


def test_gru_matches_torch(inputs):
    x, h0, _ = inputs
    module = torch.nn.GRU(D, H, batch_first=True).double()
    out, dh, dx_t, dh0_t = torch_run(module, x, h0)
    W_ih, W_hh, b_ih, b_hh = weights(module)
    b = b_ih + np.concatenate([b_hh[:2 * H], np.zeros(H)])
    h, cache = layers.gru_forward(x, h0, W_ih.T, W_hh.T, b, b_hh[2 * H:])
    dx, dh0, dWx, dWh, db, dbhn = layers.gru_backward(dh, cache)
    gW_ih, gW_hh, gb_ih, gb_hh = grads(module)
    for ours, theirs in [(h, out), (dx, dx_t), (dh0, dh0_t), (dWx, gW_ih.T), (dWh, gW_hh.T), (db, gb_ih),
                         (dbhn, gb_hh[2 * H:])]:
        assert rel_error(ours, theirs) < TOL
