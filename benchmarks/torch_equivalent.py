"""The same language model and training step in PyTorch, built from torch.nn modules.

Imported only when torch is installed; course_lib never needs it.

course_lib's model feeds one-hot vectors: its input term one_hot(x) Wx is a row lookup
of Wx, so it costs no matmul. torch.nn.RNN/LSTM/GRU cannot take a precomputed input
term; they always multiply their input by weight_ih. The two honest ways to give them
the same job are:

  "one-hot":   one_hot(x) -> cell(input_size=V): the very same model and parameters,
               torch pays a dense (N*T, V) x (V, G) matmul and its weight gradient;
  "embedding": nn.Embedding(V, H) -> cell(input_size=H): how torch users write a
               language model; an extra (N*T, H) x (H, G) matmul forward and two backward,
               but none proportional to V.

The benchmark times both and credits torch with the faster one, per cell and size.
Both end in nn.Linear(H, V) and the mean cross-entropy, and the step is forward plus
loss.backward() with the gradients reset to None first; no optimiser update (course_lib
and the baseline do none either).
"""
import torch
import torch.nn.functional as F
from torch import nn

CELL_MODULES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
INPUT_MODES = ("one-hot", "embedding")
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class TorchLanguageModel(nn.Module):
    def __init__(self, vocab_size, hidden_size, cell, input_mode="one-hot"):
        super().__init__()
        if input_mode not in INPUT_MODES:
            raise ValueError(f"input_mode must be one of {INPUT_MODES}, got {input_mode!r}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, hidden_size) if input_mode == "embedding" else None
        input_size = vocab_size if self.embed is None else hidden_size
        self.rnn = CELL_MODULES[cell](input_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, x):
        """x: (N, T) int64 ids -> logits (N, T, V)."""
        if self.embed is None:
            inputs = F.one_hot(x, self.vocab_size).to(self.out.weight.dtype)
        else:
            inputs = self.embed(x)
        h, _ = self.rnn(inputs)
        return self.out(h)


def training_step(model, x, y):
    """Returns a function that runs one step (forward, loss, backward) and returns the loss."""
    x, y = torch.as_tensor(x, dtype=torch.int64), torch.as_tensor(y, dtype=torch.int64)
    V = model.vocab_size

    def step():
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        return loss.item()

    return step


def make_model(vocab_size, hidden_size, cell, input_mode, dtype, seed=0):
    torch.manual_seed(seed)
    return TorchLanguageModel(vocab_size, hidden_size, cell, input_mode).to(TORCH_DTYPES[dtype])


def load_course_lib_params(model, params, cell):
    """Copy a one-layer, one-hot course_lib LanguageModel's weights into a "one-hot" model.

    torch keeps two biases per gate where course_lib keeps their sum (b_ih = b,
    b_hh = 0), except the GRU's candidate, whose recurrent bias is course_lib's bhn.
    torch's LSTM gate order is i, f, g, o; course_lib's is i, f, o, g.
    """
    H = params["Wh0"].shape[0]
    order = {"lstm": [0, 1, 3, 2]}.get(cell)

    def gates(w):
        w = torch.as_tensor(w)
        if order is None:
            return w
        return torch.cat([w[..., k * H:(k + 1) * H] for k in order], dim=-1)

    with torch.no_grad():
        model.rnn.weight_ih_l0.copy_(gates(params["Wx0"]).T)
        model.rnn.weight_hh_l0.copy_(gates(params["Wh0"]).T)
        model.rnn.bias_ih_l0.copy_(gates(params["b0"]))
        model.rnn.bias_hh_l0.zero_()
        if cell == "gru":
            model.rnn.bias_hh_l0[2 * H:] = torch.as_tensor(params["bhn0"])
        model.out.weight.copy_(torch.as_tensor(params["W_out"]).T)
        model.out.bias.copy_(torch.as_tensor(params["b_out"]))
