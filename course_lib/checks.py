"""Argument checks that fail with a message a student can act on.

Every public function in course_lib validates its inputs through these helpers, so a
wrong shape or dtype is reported by argument name ("Wh must have shape (H, H) = (8, 8),
got (8, 9)") instead of as a broadcasting error from deep inside NumPy.
"""
import numpy as np


def _shape_text(shape):
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def float_array(name, x, ndim=None):
    """Return x as a floating-point ndarray, or raise naming `name`.

    Integer and boolean arrays are refused rather than silently converted: they almost
    always mean token ids were passed where vectors were expected.
    """
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be an array of floats, got {type(x).__name__}") from error
    if not np.issubdtype(x.dtype, np.floating):
        hint = " (token ids? one-hot encode or embed them first)" if np.issubdtype(x.dtype, np.integer) else ""
        raise TypeError(f"{name} must be a float array, got dtype {x.dtype}{hint}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {_shape_text(x.shape)}")
    return x


def int_array(name, ids, ndim=None, upper=None):
    """Return ids as an integer ndarray, checking rank and the range [0, upper)."""
    ids = np.asarray(ids)
    if ids.dtype == bool or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{name} must be an array of integer token ids, got dtype {ids.dtype}")
    if ndim is not None and ids.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {_shape_text(ids.shape)}")
    if upper is not None and ids.size:
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= upper:
            bad = low if low < 0 else high
            raise ValueError(f"{name} holds token id {bad}, outside the vocabulary [0, {upper})")
    return ids


def shape(name, x, expected):
    """Check x.shape against `expected`, a tuple of (label, size-or-None) pairs.

    Example: shape("Wh", Wh, (("H", H), ("H", H))). A None size accepts anything.
    """
    wanted = tuple(size for _, size in expected)
    if x.ndim != len(expected) or any(w is not None and w != s for w, s in zip(wanted, x.shape)):
        labels = ", ".join(label for label, _ in expected)
        sizes = _shape_text(tuple("?" if s is None else s for s in wanted))
        raise ValueError(f"{name} must have shape ({labels}) = {sizes}, got {_shape_text(x.shape)}")


def positive(name, value, integer=False):
    """Check that a hyperparameter is a positive number (an int when `integer`)."""
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        what = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def one_of(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
