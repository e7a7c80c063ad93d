"""A recurrent language model: tokens -> one-hot or embedding -> k recurrent layers -> logits.

Parameters live in a plain dict of arrays (`model.params`), and `loss_and_grads` returns
gradients in a dict with the same keys, so optimisers, gradient checks and the notebooks
can all look inside. Names: "W_embed" (V, E) when there is an embedding; per layer l
"Wx{l}", "Wh{l}", "b{l}" (and "bhn{l}" for the GRU); "W_out" (H, V), "b_out" (V,).
"""
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import checks, layers

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
FORMAT = "course_lib.LanguageModel/1"


def count_cell_parameters(cell, input_size, hidden_size):
    """Parameters of one recurrent layer with D inputs and H units.

    rnn: D*H + H*H + H;  lstm: 4 (D*H + H*H + H);  gru: 3 (D*H + H*H + H) + H (bhn).
    """
    checks.one_of("cell", cell, CELLS)
    D, H = checks.positive("input_size", input_size, integer=True), checks.positive("hidden_size", hidden_size, integer=True)
    return GATES[cell] * (D * H + H * H + H) + (H if cell == "gru" else 0)


class LanguageModel:
    """Predicts the next token at every position of (N, T) token-id batches.

    vocab_size: V; hidden_size: H; cell: "rnn", "lstm" or "gru"; num_layers: stacked layers;
    embedding_dim: E for a learned embedding, or None to feed one-hot vectors (then the
    first layer's input term one_hot(x) Wx0 is the row lookup Wx0[x]); seed: initial weights;
    dtype: float32 to train, float64 for gradient checks; forget_bias: the LSTM forget
    gate's initial bias (a large one keeps the cell's memory, and its gradient, for long).
    """

    def __init__(self, vocab_size, hidden_size=128, cell="lstm", num_layers=1,
                 embedding_dim=None, seed=0, dtype=np.float32, forget_bias=1.0):
        checks.positive("vocab_size", vocab_size, integer=True)
        checks.positive("hidden_size", hidden_size, integer=True)
        checks.positive("num_layers", num_layers, integer=True)
        checks.one_of("cell", cell, CELLS)
        if embedding_dim is not None:
            checks.positive("embedding_dim", embedding_dim, integer=True)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float, np.integer, np.floating)) \
                or not np.isfinite(forget_bias):
            raise ValueError(f"forget_bias must be a finite number, got {forget_bias!r}")
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"dtype must be a float type such as np.float32, got {dtype}")
        self.config = {"vocab_size": int(vocab_size), "hidden_size": int(hidden_size), "cell": cell,
                       "num_layers": int(num_layers),
                       "embedding_dim": None if embedding_dim is None else int(embedding_dim),
                       "seed": int(seed), "dtype": dtype.name, "forget_bias": float(forget_bias)}
        self.params = self._initial_params(np.random.default_rng(seed), dtype)

    def __repr__(self):
        c = self.config
        return (f"LanguageModel({c['cell'].upper()}, {c['num_layers']} layer(s) of {c['hidden_size']}, "
                f"vocab {c['vocab_size']}, {self.num_params():,} parameters)")

    @property
    def cell(self):
        return self.config["cell"]

    @property
    def dtype(self):
        return np.dtype(self.config["dtype"])

    def _initial_params(self, rng, dtype):
        # Uniform in +-1/sqrt(H), as torch.nn's recurrent layers do; the LSTM's forget
        # gate starts biased open (b_f = forget_bias, 1 by default) so early gradients
        # reach far back.
        c = self.config
        V, H, E = c["vocab_size"], c["hidden_size"], c["embedding_dim"]
        G = GATES[c["cell"]] * H
        k = 1 / np.sqrt(H)
        params = {}
        if E is not None:
            params["W_embed"] = rng.normal(0, 1, (V, E))
        for l in range(c["num_layers"]):
            D = (E or V) if l == 0 else H
            params[f"Wx{l}"] = rng.uniform(-k, k, (D, G))
            params[f"Wh{l}"] = rng.uniform(-k, k, (H, G))
            params[f"b{l}"] = np.zeros(G)
            if c["cell"] == "lstm":
                params[f"b{l}"][H : 2 * H] = c["forget_bias"]
            if c["cell"] == "gru":
                params[f"bhn{l}"] = np.zeros(H)
        params["W_out"] = rng.uniform(-k, k, (H, V))
        params["b_out"] = np.zeros(V)
        return {name: value.astype(dtype) for name, value in params.items()}

    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    # -- state ---------------------------------------------------------------------------

    def init_state(self, batch_size):
        """Zero state for a batch: a list with one (N, H) array per layer, (h, c) for the LSTM."""
        checks.positive("batch_size", batch_size, integer=True)
        H = self.config["hidden_size"]
        zeros = lambda: np.zeros((batch_size, H), dtype=self.dtype)
        return [(zeros(), zeros()) if self.cell == "lstm" else zeros() for _ in range(self.config["num_layers"])]

    def _check_state(self, state, N):
        if state is None:
            return self.init_state(N)
        if not isinstance(state, (list, tuple)) or len(state) != self.config["num_layers"]:
            raise ValueError(f"state must be a list with one entry per layer ({self.config['num_layers']}); "
                             "use model.init_state(batch_size) or the state the model returned")
        H = self.config["hidden_size"]
        for l, s in enumerate(state):
            for array in (s if self.cell == "lstm" else (s,)):
                checks.shape(f"state[{l}]", checks.float_array(f"state[{l}]", array), (("N", N), ("H", H)))
        return state

    # -- forward and backward ------------------------------------------------------------

    def _check_ids(self, name, ids):
        ids = checks.int_array(name, ids, ndim=2, upper=self.config["vocab_size"])
        if ids.shape[1] == 0:
            raise ValueError(f"{name} has no time steps: shape {ids.shape}")
        return ids

    def _layer_forward(self, l, xw, state, workspace):
        p = self.params
        if self.cell == "rnn":
            h, cache = layers.rnn_recurrence(xw, state, p[f"Wh{l}"], workspace)
            return h, h[:, -1].copy(), cache
        if self.cell == "lstm":
            h, cache = layers.lstm_recurrence(xw, state[0], state[1], p[f"Wh{l}"], workspace)
            return h, (h[:, -1].copy(), cache["c"][:, -1].copy()), cache
        h, cache = layers.gru_recurrence(xw, state, p[f"Wh{l}"], p[f"bhn{l}"], workspace)
        return h, h[:, -1].copy(), cache

    def _layer_backward(self, l, dh, cache, grads):
        if self.cell == "rnn":
            dxw, _, grads[f"Wh{l}"] = layers.rnn_recurrence_backward(dh, cache)
        elif self.cell == "lstm":
            dxw, _, grads[f"Wh{l}"] = layers.lstm_recurrence_backward(dh, cache)
        else:
            dxw, _, grads[f"Wh{l}"], grads[f"bhn{l}"] = layers.gru_recurrence_backward(dh, cache)
        return dxw

    def _workspaces(self):
        """One layers.Workspace per layer and one for the output, kept between training steps.

        Only loss_and_grads and loss use them: everything they return is a new array.
        """
        if getattr(self, "_workspace_list", None) is None:
            self._workspace_list = [layers.Workspace() for _ in range(self.config["num_layers"] + 1)]
        return self._workspace_list

    def __getstate__(self):
        # The workspaces are scratch space, not part of the model: copies and pickles leave them out.
        return {k: v for k, v in self.__dict__.items() if k != "_workspace_list"}

    def _forward(self, x, state, workspaces=None):
        """Run the network; returns logits (N, T, V), the new state, and what backward needs.

        The arrays are indexed (N, T, ...) but stored time-major, like those the layers
        allocate (see layers._time_major_empty): each time step then reads one contiguous
        block. Hence the lookups by x.T, viewed back as (N, T, ...) with swapaxes.
        workspaces: from self._workspaces(), for calls that return no array computed here.
        """
        p = self.params
        N, T = x.shape
        state = self._check_state(state, N)
        ws = workspaces or [None] * (self.config["num_layers"] + 1)
        if "W_embed" in p:
            inputs = p["W_embed"][x.T].swapaxes(0, 1)
            xw = layers.input_projection(inputs, p["Wx0"], p["b0"], ws[0])
        else:
            inputs = None
            Wx = p["Wx0"]  # one_hot(x) @ Wx0 is a lookup of Wx0's rows: no one-hot matrix needed
            xw = np.take(Wx, x.T, axis=0, mode="clip",  # x was checked: "clip" never clips, and skips a copy
                         out=layers._empty((T, N, Wx.shape[1]), Wx.dtype, ws[0], "xw"))
            xw = xw.swapaxes(0, 1)
            xw += p["b0"]
        new_state, caches, hs = [], [], []
        for l in range(self.config["num_layers"]):
            if l > 0:
                xw = layers.input_projection(hs[-1], p[f"Wx{l}"], p[f"b{l}"], ws[l])
            h, last, cache = self._layer_forward(l, xw, state[l], ws[l])
            hs.append(h)
            new_state.append(last)
            caches.append(cache)
        logits = layers.input_projection(hs[-1], p["W_out"], p["b_out"], ws[-1], "logits")
        return logits, new_state, (x, inputs, hs, caches)

    @staticmethod
    def _softmax_cross_entropy(logits, y, ignore_index, overwrite_logits=False):
        """The loss over logits stored time-major: it is a mean over all positions, so it can be
        taken over the (T, N, V) array as stored, with the targets transposed to match."""
        loss, dlogits = layers._softmax_cross_entropy(logits.swapaxes(0, 1), y.T, ignore_index, overwrite_logits)
        return loss, dlogits.swapaxes(0, 1)

    def forward(self, x, state=None):
        """x: (N, T) token ids. Returns logits (N, T, V), the final state, and the hidden
        states of every layer, a list of (N, T, H) arrays (for plots of what units do)."""
        x = self._check_ids("x", x)
        logits, new_state, (_, _, hs, _) = self._forward(x, state)
        return logits, new_state, hs

    def loss(self, x, y, state=None, ignore_index=None):
        """Mean loss in nats per counted target, without gradients. Returns loss, new_state."""
        x = self._check_ids("x", x)
        logits, new_state, _ = self._forward(x, state, self._workspaces())
        loss, _ = self._softmax_cross_entropy(logits, self._check_targets(x, y), ignore_index, overwrite_logits=True)
        return loss, new_state

    def _check_targets(self, x, y):
        y = checks.int_array("y", y, ndim=2)
        if y.shape != x.shape:
            raise ValueError(f"y must have the same shape as x {x.shape}, got {y.shape}")
        return y

    def loss_and_grads(self, x, y, state=None, ignore_index=None):
        """Loss and the gradient of every parameter, by backpropagation through time.

        x, y: (N, T) input and target ids; state: carried from the previous window for
        truncated BPTT (its gradient is not propagated); ignore_index: a target id not
        to score (padding). Returns loss (float), grads (dict like params), new_state.
        """
        x = self._check_ids("x", x)
        y = self._check_targets(x, y)
        p = self.params
        workspaces = self._workspaces()
        logits, new_state, (x, inputs, hs, caches) = self._forward(x, state, workspaces)
        loss, dlogits = self._softmax_cross_entropy(logits, y, ignore_index, overwrite_logits=True)
        ids = np.ascontiguousarray(x.T).swapaxes(0, 1)  # x stored time-major, like dxw below
        grads = {}
        dh, grads["W_out"], grads["b_out"] = layers.input_projection_backward(dlogits, hs[-1], p["W_out"], workspaces[-1])
        for l in reversed(range(self.config["num_layers"])):
            dxw = self._layer_backward(l, dh, caches[l], grads)
            grads[f"b{l}"] = dxw.sum(axis=(0, 1))
            if l > 0:
                dh, grads[f"Wx{l}"], _ = layers.input_projection_backward(dxw, hs[l - 1], p[f"Wx{l}"], workspaces[l])
            elif inputs is not None:
                dinputs, grads["Wx0"], _ = layers.input_projection_backward(dxw, inputs, p["Wx0"], workspaces[0])
                grads["W_embed"] = layers.embedding_backward(dinputs, (ids, p["W_embed"].shape))
            else:
                grads["Wx0"] = layers.embedding_backward(dxw, (ids, p["Wx0"].shape))
        return loss, {name: grads[name] for name in p}, new_state

    def step(self, ids, state=None):
        """One time step, for sampling. ids: (N,) token ids. Returns logits (N, V), new state."""
        ids = checks.int_array("ids", ids, ndim=1, upper=self.config["vocab_size"])
        logits, new_state, _ = self._forward(ids[:, None], state)
        return logits[:, 0], new_state

    # -- saving ---------------------------------------------------------------------------

    def save(self, path, overwrite=False):
        """Write the parameters and config to an .npz file. An existing file is kept
        unless overwrite=True; the write goes to a temporary file renamed into place."""
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"path must end in .npz, got {path.name!r}")
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it, or choose another name")
        fd, tmp = tempfile.mkstemp(suffix=".npz", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __format__=FORMAT, __config__=json.dumps(self.config), **self.params)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path):
        """Read a model written by save(); a corrupt or foreign file raises ValueError."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no model file at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as error:
            raise ValueError(f"{path} is not a readable .npz model file ({error})") from error
        if str(arrays.pop("__format__", "")) != FORMAT or "__config__" not in arrays:
            raise ValueError(f"{path} is an .npz file but not a course_lib LanguageModel (no model header)")
        config = json.loads(str(arrays.pop("__config__")))
        model = cls(**{k: v for k, v in config.items() if k != "dtype"}, dtype=config["dtype"])
        missing = set(model.params) - set(arrays)
        if missing or set(arrays) - set(model.params):
            raise ValueError(f"{path} does not match its own config: missing {sorted(missing)}, "
                             f"unexpected {sorted(set(arrays) - set(model.params))}")
        for name, value in arrays.items():
            if value.shape != model.params[name].shape:
                raise ValueError(f"{path}: parameter {name} has shape {value.shape}, "
                                 f"the config says {model.params[name].shape}")
            model.params[name] = value.astype(model.dtype)
        return model
