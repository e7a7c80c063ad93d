"""Instructor tools: the student edition (`release`) and autograding (`grade`).

    python -m course_lib release OUT
    python -m course_lib grade SUBMISSIONS --out DIR

Students' instant feedback, `check`, lives in `course_lib.exercises`; this package is
left out of the student edition. Its modules load on first use, so the grading process
that runs student code (`runner`) imports nothing it does not need.
"""

_EXPORTS = {"release": "edition", "ReleaseError": "edition", "grade": "autograde", "GradingError": "autograde"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_EXPORTS)
