"""How the grading process sends a student's results back: JSON with arrays as base64.

The sending side runs next to untrusted code, so the receiving side trusts nothing: it
accepts only plain numbers, strings, lists, tuples, dicts and numeric arrays, checks
every size, and never unpickles.
"""
import base64
import json

import numpy as np

NUMERIC_KINDS = "biuf"
MAX_DEPTH = 8
MAX_ITEMS = 100_000


class WireError(ValueError):
    """Something that does not decode as a result."""


def encode(value, depth=0):
    """A JSON-able form of a student's return value (only what can be compared)."""
    if depth > MAX_DEPTH:
        return {"t": "other", "type": "a structure nested too deeply"}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int) and type(value) is int:
        return {"t": "int", "v": str(value)}
    if isinstance(value, float) and type(value) is float:
        return {"t": "float", "v": repr(value)}
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.array(value, copy=True, subok=False)
        if array.dtype.kind not in NUMERIC_KINDS:
            return {"t": "other", "type": f"an array of dtype {array.dtype}"}
        kind = "scalar" if isinstance(value, np.generic) else "array"
        return {"t": kind, "dtype": array.dtype.str, "shape": list(array.shape),
                "data": base64.b64encode(array.tobytes()).decode("ascii")}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"t": "other", "type": f"a {type(value).__name__} of {len(value)} items"}
        return {"t": type(value).__name__, "items": [encode(v, depth + 1) for v in value]}
    if type(value) is dict:
        if not all(type(k) is str for k in value):
            return {"t": "other", "type": "a dict with keys that are not strings"}
        return {"t": "dict", "items": [[k, encode(v, depth + 1)] for k, v in value.items()]}
    return {"t": "other", "type": type(value).__name__}


def dumps(message):
    return json.dumps(message, allow_nan=False, separators=(",", ":"))


class Opaque:
    """Stands for a value the grader cannot compare (an object of some class)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return self.description

    def __eq__(self, other):
        return False

    __hash__ = None


def decode(data, depth=0):
    """The value `encode` described, rebuilt from untrusted JSON data."""
    if depth > MAX_DEPTH + 1:
        raise WireError("nested too deeply")
    if data is None or isinstance(data, (bool, str)):
        return data
    if not isinstance(data, dict):
        raise WireError(f"unexpected {type(data).__name__}")
    kind = data.get("t")
    if kind == "int":
        return int(_text(data["v"], 10_000))
    if kind == "float":
        return float(_text(data["v"], 40))
    if kind in ("array", "scalar"):
        return _decode_array(data, scalar=kind == "scalar")
    if kind in ("list", "tuple"):
        items = [decode(v, depth + 1) for v in _items(data)]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        pairs = _items(data)
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in pairs):
            raise WireError("malformed dict")
        return {k: decode(v, depth + 1) for k, v in pairs}
    if kind == "other":
        return Opaque(_text(data.get("type", "an object"), 200))
    raise WireError(f"unknown kind {kind!r}")


def _text(value, limit):
    if not isinstance(value, str) or len(value) > limit:
        raise WireError("malformed text")
    return value


def _items(data):
    items = data.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise WireError("malformed items")
    return items


def _decode_array(data, scalar):
    try:
        dtype = np.dtype(_text(data["dtype"], 10))
    except TypeError:
        raise WireError("unknown dtype") from None
    shape = data.get("shape")
    if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
        raise WireError(f"dtype {dtype} is not numeric")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape) or len(shape) > 32:
        raise WireError("malformed shape")
    raw = base64.b64decode(_text(data["data"], 1 << 30), validate=True)
    if len(raw) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        raise WireError("array data does not fit its shape")
    array = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    return array[()] if scalar else array
