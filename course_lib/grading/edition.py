"""`python -m course_lib release OUT`: the student edition of the course.

The source notebooks are the instructor edition. The student edition has every
solution block replaced by `# YOUR CODE HERE` + `raise NotImplementedError()` (at the
block's indentation), the outputs of exercise and check cells cleared, hidden-test
blocks removed, and course_lib without its grading tools. It is built in a temporary
folder next to OUT, scanned for any line of a solution or of the hidden tests, and
only then renamed to OUT, so a failed release leaves nothing half-written.
"""
import json
import shutil
import sys
import tempfile
from pathlib import Path

from ..progress import optional_bar
from . import cells

TOP_LEVEL_FILES = ("README.md", "LICENSE", "LICENSE.md", "LICENSE.txt", "course.py",
                   "pyproject.toml", "environment.yml", ".gitignore")
TOP_LEVEL_DIRS = ("datasets",)
JUNK = ("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", ".DS_Store")
LARGE_FILE = 2_000_000   # bytes; larger files are scanned line by line, not as one string


class ReleaseError(RuntimeError):
    """The student edition cannot be written (the message says why); nothing was written."""


def course_root():
    """The course checkout this course_lib belongs to."""
    return Path(__file__).resolve().parents[2]


def hidden_tests_path(root):
    return Path(root) / "instructor" / "hidden_tests.py"


def student_notebook(nb, where="notebook"):
    """A copy of a source notebook as students get it."""
    nb = {**nb, "cells": [dict(cell) for cell in nb["cells"]]}
    for index, cell in enumerate(nb["cells"]):
        text = cells.source(cell)
        here = f"{where}, cell {index}"
        is_exercise = cells.BEGIN_SOLUTION in text or cells.exercise_name(cell) is not None
        if cell.get("cell_type") == "code":
            text = cells.replace_blocks(text, cells.BEGIN_HIDDEN, cells.END_HIDDEN, [], here)
            text = cells.replace_blocks(text, cells.BEGIN_SOLUTION, cells.END_SOLUTION, cells.STUDENT_CODE, here)
            if is_exercise or cells.check_name(cell) is not None:
                cell["outputs"], cell["execution_count"] = [], None
        elif cell.get("cell_type") == "markdown":
            text = cells.replace_blocks(text, cells.BEGIN_SOLUTION, cells.END_SOLUTION, cells.STUDENT_ANSWER, here)
        cells.set_source(cell, text)
    return nb


def release(out, root=None, progress=True):
    """Write the student edition of the course at `root` (default: this checkout) to `out`.

    Refuses (ReleaseError) when `out` exists and is not empty. Returns the Path written.
    """
    root = Path(root) if root is not None else course_root()
    out = Path(out)
    for needed in ("notebooks", "course_lib"):
        if not (root / needed).is_dir():
            raise ReleaseError(f"{root} is not a course checkout: it has no {needed}/ folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out} already exists and is not empty; release writes only to a new or empty "
                           f"folder, so nothing there is overwritten. Choose another OUT.")
    sources = sorted((root / "notebooks").glob("*.ipynb"))
    if not sources:
        raise ReleaseError(f"{root / 'notebooks'} holds no notebooks to release")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        secrets = _write_edition(root, sources, staging, progress)
        leaks = find_leaks(staging, secrets)
        if leaks:
            path, line = leaks[0]
            raise ReleaseError(f"the student edition would contain solution or hidden-test text: "
                               f"{path} has {line!r}. Rephrase one of the two; nothing was written.")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    exercises = sum(len(cells.find_exercises(cells.read_notebook(p))) for p in sources)
    folders = "".join(f", {d}/" for d in TOP_LEVEL_DIRS if (out / d).is_dir())
    print(f"Wrote the student edition to {out}: {_count(len(sources), 'notebook')} with "
          f"{_count(exercises, 'exercise')}, course_lib/ without its grading tools{folders}.")
    return out


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _write_edition(root, sources, staging, progress):
    """Fill `staging`; return the distinctive lines that must not appear in it."""
    (staging / "notebooks").mkdir()
    secrets = set()
    bar = optional_bar(len(sources), "releasing notebooks", enabled=progress, file=sys.stderr)
    for done, path in enumerate(sources, start=1):
        nb = cells.read_notebook(path)
        secrets.update(cells.solution_lines(nb, where=path.name))
        cells.write_notebook(student_notebook(nb, where=path.name), staging / "notebooks" / path.name)
        if bar:
            bar.update(done)
    if bar:
        bar.close()
    ignore = shutil.ignore_patterns(*JUNK, "*.ipynb")
    shutil.copytree(root / "notebooks", staging / "notebooks", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(root / "course_lib", staging / "course_lib", ignore=shutil.ignore_patterns(*JUNK, "grading"))
    for name in TOP_LEVEL_DIRS:
        if (root / name).is_dir():
            shutil.copytree(root / name, staging / name, ignore=shutil.ignore_patterns(*JUNK))
    for name in TOP_LEVEL_FILES:
        if (root / name).is_file():
            shutil.copy2(root / name, staging / name)
    secrets.update(hidden_test_lines(root))
    return secrets


def hidden_test_lines(root):
    """Distinctive lines of the hidden tests, leaving out imports and lines course_lib has too."""
    path = hidden_tests_path(root)
    if not path.is_file():
        return set()
    public = "\n".join(p.read_text(encoding="utf-8") for p in (Path(root) / "course_lib").rglob("*.py"))
    return {line for line in cells.distinctive(path.read_text(encoding="utf-8").splitlines())
            if line not in public and not line.startswith(("import ", "from "))}


def find_leaks(folder, secrets):
    """(file, line) for every secret line found in a text file under `folder` (or in that file)."""
    leaks, folder = [], Path(folder)
    if not secrets:
        return leaks
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".ipynb":
            text = "\n".join(_strings(json.loads(text)))  # JSON escapes quotes: search the decoded text
        if len(text) > LARGE_FILE:
            found = secrets.intersection(line.strip() for line in text.splitlines())
        else:
            found = {s for s in secrets if s in text}
        leaks += [(path.relative_to(folder) if path != folder else Path(path.name), line) for line in sorted(found)]
    return leaks


def _strings(value):
    """Every string inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
