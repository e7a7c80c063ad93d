"""Numerical gradients, to check the analytic ones of backpropagation."""
import numpy as np


def rel_error(a, b):
    """Largest relative difference |a - b| / max(1e-8, |a| + |b|), entry by entry."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def array_rel_error(a, b):
    """Relative error of whole arrays, ||a - b|| / (||a|| + ||b||).

    Preferred for gradient checks of a loss: an entry whose true gradient is ~1e-9 is
    dominated by the finite difference's round-off (~1e-11 absolute), which inflates the
    entry-wise rel_error without saying anything about the backward pass.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of shapes {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def numerical_gradient(f, x, df=None, h=1e-5):
    """Central-difference gradient of f at x, changing x in place and restoring it.

    f: a function of no arguments that reads x and returns an array (or a scalar);
    df: the upstream gradient of f's output (None for a scalar f).
    Returns d(sum(f() * df))/dx, shaped like x. Use float64: float32 rounding swamps h.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        original = x[i]
        x[i] = original + h
        plus = np.asarray(f(), dtype=np.float64).copy()
        x[i] = original - h
        minus = np.asarray(f(), dtype=np.float64).copy()
        x[i] = original
        grad[i] = np.sum((plus - minus) * (1.0 if df is None else df)) / (2 * h)
    return grad


def check_gradients(f, arrays, analytic, df=None, h=1e-5):
    """Compare analytic gradients with numerical ones for several arrays at once.

    arrays: {name: array f reads}; analytic: {name: gradient}.
    Returns {name: array_rel_error}.
    """
    return {name: array_rel_error(analytic[name], numerical_gradient(f, arrays[name], df, h)) for name in analytic}
