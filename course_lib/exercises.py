"""The exercises of the course, and `check`: instant feedback on a student's function.

Every exercise asks for a function that course_lib also provides (the notebook goes on
with course_lib's version, so a student who is stuck can still run every later cell):

    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        ...
    check("rnn_step_forward", rnn_step_forward)

`check` runs a few small public cases, compares the answers with course_lib's own
version in float64, prints what it found (which case, expected against got, shapes) and
returns a `CheckResult`. It never raises: a broken function is feedback, not a crash.
The instructor's hidden tests reuse `Case` and `compare_outputs` from here, with more
and harder cases (see `python -m course_lib grade`).
"""
import copy
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Exercise:
    """One exercise: where it lives, what it is worth, and what it returns.

    reference: course_lib's own version as "module.function" (calling it from the
        student's function scores zero when grading).
    params: the parameter names, for messages.
    outputs: names of the returned values; several names mean a tuple is returned.
    compared: how many leading outputs are compared; the rest (a cache) is the
        student's own business.
    forward: for a backward exercise, the forward exercise whose cache it consumes.
    """
    name: str
    notebook: str
    points: int
    reference: str
    params: tuple
    outputs: tuple = ("result",)
    compared: int = 1
    forward: str = None


EXERCISES = {e.name: e for e in [
    Exercise("one_hot", "01", 1, "data.one_hot", ("ids", "vocab_size")),
    Exercise("row_lookup", "01", 1, "layers.embedding_forward", ("ids", "W")),
    Exercise("anbn_sequence", "02", 1, "data.anbn_tokens", ("n",)),
    Exercise("predictable_positions", "02", 1, "data.anbn_predictable", ("n",)),
    Exercise("rnn_step_forward", "03", 2, "layers.rnn_step_forward",
             ("x", "prev_h", "Wx", "Wh", "b"), ("next_h", "cache"), 1),
    Exercise("rnn_step_backward", "03", 3, "layers.rnn_step_backward", ("dnext_h", "cache"),
             ("dx", "dprev_h", "dWx", "dWh", "db"), 5, forward="rnn_step_forward"),
    Exercise("rnn_forward", "03", 2, "layers.rnn_forward", ("x", "h0", "Wx", "Wh", "b"), ("h", "cache"), 1),
    Exercise("clip_gradients", "03", 2, "optim.clip_gradients", ("grads", "max_norm"),
             ("clipped", "total_norm"), 2),
    Exercise("lstm_step_forward", "04", 2, "layers.lstm_step_forward",
             ("x", "prev_h", "prev_c", "Wx", "Wh", "b"), ("next_h", "next_c", "cache"), 2),
    Exercise("lstm_step_backward", "04", 3, "layers.lstm_step_backward", ("dnext_h", "dnext_c", "cache"),
             ("dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"), 6, forward="lstm_step_forward"),
    Exercise("gru_step_forward", "05", 2, "layers.gru_step_forward",
             ("x", "prev_h", "Wx", "Wh", "b", "bhn"), ("next_h", "cache"), 1),
    Exercise("count_parameters", "05", 1, "models.count_cell_parameters", ("cell", "input_size", "hidden_size")),
    Exercise("softmax_with_temperature", "06", 1, "sampling.softmax_with_temperature", ("logits", "temperature")),
    Exercise("top_k_filter", "06", 2, "sampling.top_k_filter", ("logits", "k")),
    Exercise("embedding_backward", "07", 2, "layers.embedding_backward", ("dout", "ids", "vocab_size"), ("dW",)),
    Exercise("perplexity", "07", 1, "metrics.perplexity", ("mean_nll_nats",)),
]}


@dataclass
class Case:
    """One test of an exercise: call the function on `args`, compare with `expected`.

    expected: what a correct function returns (a tuple when it returns several values;
        outputs that are not compared, such as caches, may be None).
    forward_args: backward exercises only. args[-1] is the cache course_lib's forward
        makes from these inputs; a student's own forward gets the same inputs, and the
        backward passes if it is right with either cache.
    unchanged: the function must leave its arguments as they were.
    """
    label: str
    args: tuple
    expected: object = None
    forward_args: tuple = None
    unchanged: bool = False
    rtol: float = 1e-6
    atol: float = 1e-9


# -- course_lib's answers, called with the exercises' signatures ---------------------------

def solve(name, *args):
    """What course_lib's own version returns for exercise `name` on `args`."""
    from . import data, layers, metrics, models, optim, sampling

    if name == "one_hot":
        return data.one_hot(args[0], args[1], dtype=np.float64)
    if name == "row_lookup":
        return layers.embedding_forward(*args)[0]
    if name == "perplexity":
        return metrics.perplexity(*args)
    if name == "embedding_backward":
        dout, ids, vocab_size = args
        _, cache = layers.embedding_forward(ids, np.zeros((vocab_size, dout.shape[-1]), dout.dtype))
        return layers.embedding_backward(dout, cache)
    modules = {"data": data, "layers": layers, "models": models, "optim": optim, "sampling": sampling}
    module, function = EXERCISES[name].reference.split(".")
    return getattr(modules[module], function)(*args)


def with_expected(name, cases):
    """Fill in each case's expected answer from course_lib's own version."""
    for case in cases:
        if case.expected is None:
            case.expected = solve(name, *copy.deepcopy(case.args))
    return cases


# -- comparing an answer with the expected one -----------------------------------------

def describe(value):
    """A short, stable description of a value's type (and shape) for messages."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {_shape(value.shape)} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if value is None:
        return "None"
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + (",)" if len(shape) == 1 else ")")


def _number(x):
    return f"{x:.4g}"


def _index(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def compare_outputs(exercise, got, expected, rtol=1e-6, atol=1e-9):
    """None if `got` matches `expected` for this exercise, else a message saying how not."""
    names = exercise.outputs
    if len(names) == 1:
        label = f"{exercise.name}(...)" if names[0] == "result" else names[0]
        return compare_value(label, got, expected, rtol, atol)
    if not isinstance(got, (tuple, list)) or len(got) != len(names):
        return f"should return a tuple of {len(names)} ({', '.join(names)}), but returned {describe(got)}"
    for name, g, e in list(zip(names, got, expected))[: exercise.compared]:
        problem = compare_value(name, g, e, rtol, atol)
        if problem:
            return problem
    return None


def compare_value(name, got, expected, rtol=1e-6, atol=1e-9):
    """None if one value matches, else a message naming it (`name`)."""
    if isinstance(expected, np.ndarray):
        return _compare_array(name, got, expected, rtol, atol)
    if isinstance(expected, dict):
        return _compare_dict(name, got, expected, rtol, atol)
    if isinstance(expected, list):
        return _compare_list(name, got, expected)
    if isinstance(expected, (int, np.integer)):
        if isinstance(got, (bool, np.bool_)) or not _is_integer(got):
            return f"{name} should be an integer, but is {describe(got)}"
        return None if int(got) == int(expected) else f"{name} is {int(got)}, expected {int(expected)}"
    if isinstance(expected, (float, np.floating)):
        if isinstance(got, (bool, np.bool_)) or not _is_real(got):
            return f"{name} should be a number, but is {describe(got)}"
        if math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return None
        return f"{name} is {_number(float(got))}, expected {_number(float(expected))}"
    return None if got == expected else f"{name} is {got!r}, expected {expected!r}"


def _is_integer(x):
    return isinstance(x, (int, np.integer)) or (isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iu")


def _is_real(x):
    return isinstance(x, (int, float, np.integer, np.floating)) or (
        isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf")


def _compare_array(name, got, expected, rtol, atol):
    if isinstance(got, (list, tuple, int, float, np.generic)):
        try:
            got = np.asarray(got)
        except (TypeError, ValueError):
            return f"{name} should be an array, but is {describe(got)}"
    if not isinstance(got, np.ndarray):
        return f"{name} should be an array, but is {describe(got)}"
    if expected.dtype == bool and got.dtype != bool:
        return f"{name} should be an array of booleans, but has dtype {got.dtype}"
    if expected.dtype.kind == "f" and got.dtype.kind != "f":
        return f"{name} should hold floats, but has dtype {got.dtype}"
    if got.shape != expected.shape:
        return f"{name} has shape {_shape(got.shape)}, expected {_shape(expected.shape)}"
    if expected.dtype == bool:
        wrong = np.argwhere(got != expected)
        if len(wrong):
            i = tuple(wrong[0])
            return f"{name} is wrong at {len(wrong)} position(s), first at {_index(i)}: got {got[i]}, expected {expected[i]}"
        return None
    got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
    with np.errstate(all="ignore"):  # inf - inf is fine here; a warning would clutter the notebook
        close = np.isclose(got64, expected64, rtol=rtol, atol=atol)
        if close.all():
            return None
        if np.isnan(got64).any():
            return f"{name} contains NaN"
        gap = np.where(close, 0.0, np.abs(got64 - expected64))
        gap[np.isnan(gap)] = np.inf
    i = np.unravel_index(np.argmax(gap), gap.shape)
    where = f" at {_index(i)}" if got.ndim else ""
    return (f"{name} differs from the expected values in {int((~close).sum())} of {close.size} entries; "
            f"the largest difference is{where}: got {_number(got64[i])}, expected {_number(expected64[i])}")


def _compare_dict(name, got, expected, rtol, atol):
    if not isinstance(got, dict):
        return f"{name} should be a dict, but is {describe(got)}"
    if set(got) != set(expected):
        return f"{name} should have the keys {sorted(expected)}, but has {sorted(map(str, got))}"
    for key in expected:
        problem = compare_value(f"{name}[{key!r}]", got[key], expected[key], rtol, atol)
        if problem:
            return problem
    return None


def _compare_list(name, got, expected):
    if not isinstance(got, (list, tuple)):
        return f"{name} should be a list, but is {describe(got)}"
    got = list(got)
    if got == expected:
        return None
    if len(got) != len(expected):
        return f"{name} has {len(got)} items, expected {len(expected)}: {_short(expected)}"
    i = next(i for i, (g, e) in enumerate(zip(got, expected)) if g != e)
    return f"{name}[{i}] is {got[i]!r}, expected {expected[i]!r}"


def _short(items, limit=12):
    text = ", ".join(map(repr, items[:limit]))
    return "[" + text + (", ...]" if len(items) > limit else "]")


def changed_argument(exercise, before, after):
    """The name of the first argument a call changed in place, or None."""
    for name, b, a in zip(exercise.params, before, after):
        if compare_value(name, a, b, rtol=0.0, atol=0.0) is not None:
            return name
    return None


# -- public cases (small, fixed seeds) ---------------------------------------------------

def _randn(rng, *shape):
    return rng.standard_normal(shape)


def _rnn_inputs(rng, N, D, H, gates=1):
    return (_randn(rng, N, D), _randn(rng, N, H),
            0.5 * _randn(rng, D, gates * H), 0.5 * _randn(rng, H, gates * H), 0.1 * _randn(rng, gates * H))


def _public_one_hot(rng):
    return [Case("ids=[2, 0, 1], vocab_size=3", (np.array([2, 0, 1]), 3)),
            Case("a repeated id, vocab_size=6", (np.array([4, 1, 4, 0, 5]), 6)),
            Case("a single id", (np.array([3]), 4))]


def _public_row_lookup(rng):
    return [Case("ids=[1, 0, 1], W of shape (3, 2)", (np.array([1, 0, 1]), _randn(rng, 3, 2))),
            Case("4 ids, W of shape (6, 3)", (np.array([5, 2, 2, 0]), _randn(rng, 6, 3)))]


def _public_anbn_sequence(rng):
    return [Case("n=1", (1,)), Case("n=3", (3,))]


def _public_predictable_positions(rng):
    return [Case("n=1", (1,)), Case("n=2", (2,)), Case("n=4", (4,))]


def _public_rnn_step_forward(rng):
    return [Case(f"N={N}, D={D}, H={H}", _rnn_inputs(rng, N, D, H)) for N, D, H in ((2, 3, 4), (3, 5, 2))]


def _backward_case(forward, forward_args, upstream, label):
    """A backward case: the cache comes from course_lib's forward on forward_args."""
    from . import layers

    cache = getattr(layers, forward)(*copy.deepcopy(forward_args))[-1]
    return Case(label, tuple(upstream) + (cache,), forward_args=forward_args)


def _public_rnn_step_backward(rng):
    cases = []
    for N, D, H in ((2, 3, 4), (3, 5, 2)):
        inputs = _rnn_inputs(rng, N, D, H)
        cases.append(_backward_case("rnn_step_forward", inputs,
                                    [_randn(rng, N, H)], f"N={N}, D={D}, H={H}"))
    return cases


def _public_rnn_forward(rng):
    cases = []
    for N, T, D, H in ((2, 3, 4, 5), (1, 1, 2, 3)):
        x, h0, Wx, Wh, b = _randn(rng, N, T, D), _randn(rng, N, H), 0.5 * _randn(rng, D, H), \
            0.5 * _randn(rng, H, H), 0.1 * _randn(rng, H)
        cases.append(Case(f"N={N}, T={T}, D={D}, H={H}", (x, h0, Wx, Wh, b)))
    return cases


def _public_clip_gradients(rng):
    grads = {"W": _randn(rng, 3, 4), "b": _randn(rng, 4)}
    return [Case("global norm above max_norm=1", (grads, 1.0), unchanged=True, rtol=1e-5),
            Case("global norm below max_norm=100 (nothing to clip)", (copy.deepcopy(grads), 100.0),
                 unchanged=True, rtol=1e-5)]


def _public_lstm_step_forward(rng):
    cases = []
    for N, D, H in ((2, 3, 4), (3, 2, 5)):
        x, h, Wx, Wh, b = _rnn_inputs(rng, N, D, H, gates=4)
        cases.append(Case(f"N={N}, D={D}, H={H}", (x, h, _randn(rng, N, H), Wx, Wh, b)))
    return cases


def _public_lstm_step_backward(rng):
    cases = []
    for N, D, H in ((2, 3, 4), (3, 2, 5)):
        x, h, Wx, Wh, b = _rnn_inputs(rng, N, D, H, gates=4)
        inputs = (x, h, _randn(rng, N, H), Wx, Wh, b)
        cases.append(_backward_case("lstm_step_forward", inputs,
                                    [_randn(rng, N, H), _randn(rng, N, H)], f"N={N}, D={D}, H={H}"))
    return cases


def _public_gru_step_forward(rng):
    cases = []
    for N, D, H in ((2, 3, 4), (3, 5, 2)):
        x, h, Wx, Wh, b = _rnn_inputs(rng, N, D, H, gates=3)
        cases.append(Case(f"N={N}, D={D}, H={H}", (x, h, Wx, Wh, b, 0.1 * _randn(rng, H))))
    return cases


def _public_count_parameters(rng):
    return [Case(f'cell="{cell}", input_size={D}, hidden_size={H}', (cell, D, H))
            for cell, D, H in (("rnn", 3, 4), ("lstm", 10, 20), ("gru", 5, 7))]


def _public_softmax_with_temperature(rng):
    logits = _randn(rng, 2, 5)
    return [Case("logits (2, 5), temperature=1", (logits, 1.0)),
            Case("logits (2, 5), temperature=0.5", (logits.copy(), 0.5)),
            Case("logits (4,), temperature=2", (np.array([1.0, 2.0, 3.0, 4.0]), 2.0))]


def _public_top_k_filter(rng):
    return [Case("logits (2, 6), k=2", (_randn(rng, 2, 6), 2), unchanged=True),
            Case("logits (5,), k=1", (np.array([0.5, -1.0, 2.0, 0.0, 1.5]), 1), unchanged=True),
            Case("k equal to the vocabulary size keeps everything", (_randn(rng, 3), 3), unchanged=True)]


def _public_perplexity(rng):
    return [Case("mean_nll_nats=0 (a perfect model)", (0.0,)),
            Case("mean_nll_nats=log(65) (uniform over 65 characters)", (math.log(65),)),
            Case("mean_nll_nats=2.5", (2.5,))]


def _public_embedding_backward(rng):
    return [Case("ids without repeats, vocab_size=5", (_randn(rng, 1, 3, 2), np.array([[0, 3, 1]]), 5)),
            Case("repeated ids collect their gradients, vocab_size=4",
                 (_randn(rng, 2, 3, 2), np.array([[1, 1, 3], [3, 1, 0]]), 4))]


PUBLIC_CASES = {name: globals()[f"_public_{name}"] for name in EXERCISES}


def public_cases(name):
    """The public cases of an exercise, with their expected answers (fixed seed)."""
    return with_expected(name, PUBLIC_CASES[name](np.random.default_rng(0)))


# -- running one case --------------------------------------------------------------------

def run_case(exercise, fn, case, own_forward=None):
    """Call fn on one case; return None if it passes, else a message.

    A backward exercise is tried with the cache of course_lib's forward, and also with
    the cache of the student's own forward when there is one; either may pass. An
    exception propagates only when every attempt raised (the caller reports it).
    """
    variants = []
    if own_forward is not None and case.forward_args is not None:
        try:
            own_cache = own_forward(*copy.deepcopy(case.forward_args))[-1]
        except Exception:  # a broken forward leaves course_lib's cache to try
            own_cache = None
        if own_cache is not None:
            variants.append(case.args[:-1] + (own_cache,))
    variants.append(case.args)
    problems, errors = [], []
    for args in variants:
        given = copy.deepcopy(args)
        try:
            got = fn(*given)
        except NotImplementedError:
            raise
        except Exception as error:
            errors.append(error)
            continue
        problem = compare_outputs(exercise, got, case.expected, case.rtol, case.atol)
        if problem is None and case.unchanged:
            changed = changed_argument(exercise, args, given)
            if changed:
                problem = f"changed its argument {changed} in place; it should leave it as it was"
        if problem is None:
            return None
        problems.append(problem)
    if problems:
        return problems[0]
    raise errors[0]


# -- check -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """What `check` found. True when every public case passed.

    status: "passed", "failed", "not done", "error" (the function raised) or "unknown".
    """
    name: str
    status: str
    passed: int
    total: int
    message: str

    def __bool__(self):
        return self.status == "passed"

    def _ipython_display_(self):
        """Show nothing more in a notebook: check has already printed the message."""


def check(name, fn, own_forward=None):
    """Run the public tests of exercise `name` on the student's function `fn`.

    Prints friendly feedback and returns a CheckResult; never raises.
    own_forward: for rnn_step_backward / lstm_step_backward, the student's own forward
        function (found in the calling notebook by name when not given), whose cache
        the backward may consume instead of course_lib's.
    """
    try:
        if own_forward is None:
            own_forward = _callers_forward(name)
        result = _check(name, fn, own_forward)
    except Exception as error:  # the checker itself must never stop a notebook
        result = CheckResult(name, "error", 0, 0, f"{name}: the checker failed ({type(error).__name__}: "
                             f"{error}). Please tell your instructor.")
    print(result.message)
    return result


def _callers_forward(name):
    import sys

    exercise = EXERCISES.get(name)
    if exercise is None or exercise.forward is None:
        return None
    caller = sys._getframe(2)  # the notebook (or function) that called check
    candidate = caller.f_locals.get(exercise.forward, caller.f_globals.get(exercise.forward))
    return candidate if callable(candidate) else None


def _check(name, fn, own_forward):
    exercise = EXERCISES.get(name)
    if exercise is None:
        known = ", ".join(sorted(EXERCISES))
        return CheckResult(str(name), "unknown", 0, 0, f"There is no exercise called {name!r}. Exercises: {known}.")
    if not callable(fn):
        return CheckResult(name, "error", 0, 0, f"✗ {name}: expected your function, got {describe(fn)}.")
    cases = public_cases(name)
    for number, case in enumerate(cases, start=1):
        where = f"case {number} of {len(cases)} ({case.label})"
        try:
            problem = run_case(exercise, fn, case, own_forward)
        except NotImplementedError:
            return CheckResult(name, "not done", 0, len(cases),
                               f"… {name}: not done yet. Replace `raise NotImplementedError()` with your code, "
                               f"then run this cell again.")
        except Exception as error:
            return CheckResult(name, "error", number - 1, len(cases),
                               f"✗ {name}: {where} raised {type(error).__name__}: {error}")
        if problem:
            return CheckResult(name, "failed", number - 1, len(cases), f"✗ {name}: {where}: {problem}.")
    return CheckResult(name, "passed", len(cases), len(cases),
                       f"✓ {name}: all {len(cases)} public tests pass.")
