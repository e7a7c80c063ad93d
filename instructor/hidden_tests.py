"""Hidden tests: what `python -m course_lib grade` scores every exercise with.

Instructor-only: `release` never copies this folder into the student edition. Stronger
than the public cases in course_lib.exercises: more shapes, other seeds, edge cases
(size-one dimensions, saturated activations, repeated ids, overflow-prone logits), and
for the backward exercises, expected gradients taken numerically from the forward pass
rather than from course_lib's backward.

CASES maps each exercise name to a function returning its cases. A case without an
`expected` gets course_lib's own answer; the grader checks that course_lib's own
version passes every case before it grades anyone.
"""
import math

import numpy as np

from course_lib import layers
from course_lib.exercises import Case
from course_lib.gradcheck import numerical_gradient

GRADIENT_TOLERANCE = {"rtol": 1e-5, "atol": 1e-8}


def _normal(rng, *shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def one_hot():
    rng = np.random.default_rng(101)
    return [
        Case("every id once, shuffled, vocab_size=10", (rng.permutation(10), 10)),
        Case("the same id four times", (np.array([2, 2, 2, 2]), 4)),
        Case("vocab_size=1", (np.array([0, 0, 0]), 1)),
        Case("200 ids, vocab_size=50", (rng.integers(0, 50, 200), 50)),
        Case("no ids at all", (np.array([], dtype=np.int64), 3)),
    ]


def row_lookup():
    rng = np.random.default_rng(102)
    return [
        Case("20 ids, W of shape (7, 5)", (rng.integers(0, 7, 20), _normal(rng, 7, 5))),
        Case("one id, W of shape (1, 3)", (np.array([0]), _normal(rng, 1, 3))),
        Case("the same id three times", (np.array([4, 4, 4]), _normal(rng, 6, 2))),
        Case("ids 0..V-1 give W back", (np.arange(5), _normal(rng, 5, 4))),
    ]


def anbn_sequence():
    return [Case(f"n={n}", (n,)) for n in (1, 2, 5, 17)]


def predictable_positions():
    return [Case(f"n={n}", (n,)) for n in (1, 3, 8, 25)]


def _rnn_step_inputs(rng, N, D, H, gates=1, scale=0.5):
    return (_normal(rng, N, D), _normal(rng, N, H), _normal(rng, D, gates * H, scale=scale),
            _normal(rng, H, gates * H, scale=scale), _normal(rng, gates * H, scale=0.1))


def rnn_step_forward():
    rng = np.random.default_rng(103)
    x, _, Wx, Wh, b = _rnn_step_inputs(rng, 5, 2, 6)
    return [
        Case("N=1, D=1, H=1", _rnn_step_inputs(rng, 1, 1, 1)),
        Case("N=4, D=3, H=5", _rnn_step_inputs(rng, 4, 3, 5)),
        Case("N=3, D=7, H=2, large weights (tanh saturates)", _rnn_step_inputs(rng, 3, 7, 2, scale=5.0)),
        Case("N=5, D=2, H=6, prev_h all zero", (x, np.zeros((5, 6)), Wx, Wh, b)),
    ]


def _numerical_gradients(forward, inputs, upstream):
    """Gradients of sum_k <forward(*inputs)[k], upstream[k]> for every input, numerically."""
    inputs = [x.copy() for x in inputs]
    df = np.concatenate([u.ravel() for u in upstream])

    def outputs():
        produced = forward(*inputs)
        return np.concatenate([produced[k].ravel() for k in range(len(upstream))])

    return tuple(numerical_gradient(outputs, x, df) for x in inputs)


def _backward_case(label, forward, inputs, upstream):
    cache = forward(*inputs)[-1]
    expected = _numerical_gradients(forward, inputs, upstream)
    return Case(label, tuple(upstream) + (cache,), expected=expected, forward_args=inputs, **GRADIENT_TOLERANCE)


def rnn_step_backward():
    rng = np.random.default_rng(104)
    cases = []
    for N, D, H in ((2, 3, 4), (1, 5, 2), (4, 2, 3)):
        inputs = _rnn_step_inputs(rng, N, D, H)
        cases.append(_backward_case(f"N={N}, D={D}, H={H}, numerical gradients", layers.rnn_step_forward,
                                    inputs, [_normal(rng, N, H)]))
    return cases


def rnn_forward():
    rng = np.random.default_rng(105)
    cases = []
    for N, T, D, H, label in ((2, 5, 3, 4, ""), (1, 1, 2, 2, ", one step"), (3, 10, 4, 6, ", ten steps"),
                              (2, 4, 1, 3, ", D=1")):
        x, h0, Wx, Wh, b = _normal(rng, N, T, D), _normal(rng, N, H), _normal(rng, D, H, scale=0.5), \
            _normal(rng, H, H, scale=0.5), _normal(rng, H, scale=0.1)
        cases.append(Case(f"N={N}, T={T}, D={D}, H={H}{label}", (x, h0, Wx, Wh, b)))
    return cases


def clip_gradients():
    rng = np.random.default_rng(106)
    tolerance = {"rtol": 1e-5, "unchanged": True}
    large = {"Wx": _normal(rng, 4, 3, scale=3.0), "Wh": _normal(rng, 3, 3, scale=3.0), "b": _normal(rng, 3),
             "W_embed": _normal(rng, 2, 3, 2)}
    small = {"W": _normal(rng, 2, 2, scale=0.1), "b": _normal(rng, 2, scale=0.1)}
    one = {"W": np.full((10, 10), 2.0)}
    return [
        Case("four arrays (one 3-D) with a global norm above max_norm=5", (large, 5.0), **tolerance),
        Case("global norm below max_norm: nothing changes", (small, 1.0), **tolerance),
        Case("one array with norm 20, max_norm=0.5", (one, 0.5), **tolerance),
    ]


def _lstm_step_inputs(rng, N, D, H, scale=0.5):
    x, h, Wx, Wh, b = _rnn_step_inputs(rng, N, D, H, gates=4, scale=scale)
    return x, h, _normal(rng, N, H), Wx, Wh, b


def lstm_step_forward():
    rng = np.random.default_rng(107)
    zero_c = _lstm_step_inputs(rng, 3, 4, 5)
    return [
        Case("N=1, D=1, H=1", _lstm_step_inputs(rng, 1, 1, 1)),
        Case("N=4, D=3, H=6", _lstm_step_inputs(rng, 4, 3, 6)),
        Case("N=2, D=5, H=3, large weights (gates saturate)", _lstm_step_inputs(rng, 2, 5, 3, scale=6.0)),
        Case("N=3, D=4, H=5, prev_c all zero", zero_c[:2] + (np.zeros((3, 5)),) + zero_c[3:]),
    ]


def lstm_step_backward():
    rng = np.random.default_rng(108)
    cases = []
    for N, D, H in ((2, 3, 4), (1, 4, 2), (3, 2, 3)):
        inputs = _lstm_step_inputs(rng, N, D, H)
        cases.append(_backward_case(f"N={N}, D={D}, H={H}, numerical gradients", layers.lstm_step_forward,
                                    inputs, [_normal(rng, N, H), _normal(rng, N, H)]))
    return cases


def gru_step_forward():
    rng = np.random.default_rng(109)

    def inputs(N, D, H, scale=0.5):
        return _rnn_step_inputs(rng, N, D, H, gates=3, scale=scale) + (_normal(rng, H, scale=0.1),)

    return [
        Case("N=1, D=1, H=1", inputs(1, 1, 1)),
        Case("N=4, D=3, H=5", inputs(4, 3, 5)),
        Case("N=2, D=6, H=3, large weights (gates saturate)", inputs(2, 6, 3, scale=5.0)),
        Case("N=3, D=2, H=4, a non-zero bhn matters", inputs(3, 2, 4)[:5] + (np.linspace(-1, 1, 4),)),
    ]


def count_parameters():
    sizes = (("rnn", 1, 1), ("lstm", 1, 1), ("gru", 1, 1), ("rnn", 65, 128), ("lstm", 300, 512), ("gru", 27, 100))
    return [Case(f'cell="{c}", input_size={D}, hidden_size={H}', (c, D, H)) for c, D, H in sizes]


def softmax_with_temperature():
    rng = np.random.default_rng(110)
    return [
        Case("large logits [1000, 1001, 999] (naive exp overflows)", (np.array([1000.0, 1001.0, 999.0]), 1.0)),
        Case("logits (2, 4), temperature=0.1", (_normal(rng, 2, 4), 0.1)),
        Case("logits (2, 3, 5), temperature=1.5", (_normal(rng, 2, 3, 5), 1.5)),
        Case("logits (6,), temperature=10 (almost uniform)", (_normal(rng, 6), 10.0)),
    ]


def top_k_filter():
    rng = np.random.default_rng(111)
    return [
        Case("logits (3, 8), k=3", (_normal(rng, 3, 8), 3), unchanged=True),
        Case("logits (2, 2, 5), k=2", (_normal(rng, 2, 2, 5), 2), unchanged=True),
        Case("k equal to the vocabulary size", (_normal(rng, 2, 4), 4), unchanged=True),
        Case("k=1 with all logits negative", (-np.abs(_normal(rng, 7)) - 1.0, 1), unchanged=True),
    ]


def perplexity():
    return [Case(f"mean_nll_nats={label}", (value,)) for label, value in
            (("0", 0.0), ("1", 1.0), ("log 2", math.log(2)), ("4.2", 4.2), ("10", 10.0),
             ("a NumPy float 3.0", np.float64(3.0)))]


def embedding_backward():
    rng = np.random.default_rng(112)
    return [
        Case("N=3, T=4, D=5, vocab_size=6, repeated ids", (_normal(rng, 3, 4, 5), rng.integers(0, 6, (3, 4)), 6)),
        Case("vocab_size larger than any id: unused rows stay zero",
             (_normal(rng, 2, 2, 3), np.array([[0, 1], [1, 0]]), 9)),
        Case("every position the same id", (_normal(rng, 2, 3, 2), np.full((2, 3), 3), 4)),
        Case("N=1, T=1", (_normal(rng, 1, 1, 4), np.array([[2]]), 3)),
    ]


CASES = {name: globals()[name] for name in (
    "one_hot", "row_lookup", "anbn_sequence", "predictable_positions", "rnn_step_forward",
    "rnn_step_backward", "rnn_forward", "clip_gradients", "lstm_step_forward", "lstm_step_backward",
    "gru_step_forward", "count_parameters", "softmax_with_temperature", "top_k_filter", "perplexity",
    "embedding_backward")}
