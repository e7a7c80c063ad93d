"""Reading notebooks and finding what the grading tools care about in their cells.

Source (instructor) notebooks follow nbgrader's convention: an exercise cell has
nbgrader metadata `grade_id: ex_<name>` and its solution between `### BEGIN SOLUTION`
and `### END SOLUTION`; the check cell right after it has `grade_id: check_<name>`
and the exercise's points.
"""
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..exercises import EXERCISES

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
STUDENT_CODE = ("# YOUR CODE HERE", "raise NotImplementedError()")
STUDENT_ANSWER = ("YOUR ANSWER HERE",)
MAX_NOTEBOOK_BYTES = 50_000_000


class NotebookError(ValueError):
    """A file that is not a notebook, or a notebook that breaks the exercise convention."""


@dataclass(frozen=True)
class ExerciseCell:
    name: str
    index: int       # position of the exercise cell in the notebook
    points: float


def read_notebook(path):
    """The notebook at `path` as a dict (nbformat 4 JSON), or NotebookError saying why not."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"too large for a notebook of this course ({size // 1_000_000} MB)")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NotebookError(f"not a notebook (not valid JSON: {error.__class__.__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a notebook (no list of cells)")
    if nb.get("nbformat") != 4:
        raise NotebookError(f"not an nbformat 4 notebook (nbformat={nb.get('nbformat')!r})")
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or not isinstance(cell.get("source", ""), (str, list)):
            raise NotebookError("not a notebook (a malformed cell)")
    return nb


def write_notebook(nb, path):
    """Write a notebook the way Jupyter does (sorted keys, one-space indent)."""
    text = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    Path(path).write_text(text, encoding="utf-8")


def source(cell):
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def set_source(cell, text):
    """Store text as a list of lines, as Jupyter does."""
    cell["source"] = text.splitlines(keepends=True)


def nbgrader(cell):
    meta = cell.get("metadata", {})
    info = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return info if isinstance(info, dict) else {}


_DEF = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)
_CHECK = re.compile(r"""^\s*check\(\s*["']([A-Za-z_]\w*)["']""", re.MULTILINE)


def exercise_name(cell):
    """The exercise an exercise cell holds (by grade_id, else by its `def`), or None."""
    if cell.get("cell_type") != "code":
        return None
    grade_id = str(nbgrader(cell).get("grade_id", ""))
    if grade_id.startswith("ex_") and grade_id[3:] in EXERCISES:
        return grade_id[3:]
    text = source(cell)
    if BEGIN_SOLUTION in text:
        names = [n for n in _DEF.findall(text) if n in EXERCISES]
        if names:
            return names[0]
    return None


def check_name(cell):
    """The exercise a check cell checks, or None."""
    if cell.get("cell_type") != "code":
        return None
    grade_id = str(nbgrader(cell).get("grade_id", ""))
    if grade_id.startswith("check_"):
        return grade_id[6:]
    found = _CHECK.search(source(cell))
    return found.group(1) if found else None


def find_exercises(nb):
    """The exercises of a source notebook in order, with their points.

    Points come from the check cell's nbgrader metadata, else from the registry.
    """
    points = {}
    for cell in nb["cells"]:
        name = check_name(cell)
        if name and "points" in nbgrader(cell):
            points[name] = float(nbgrader(cell)["points"])
    found, seen = [], set()
    for index, cell in enumerate(nb["cells"]):
        name = exercise_name(cell)
        if name and name not in seen:
            seen.add(name)
            found.append(ExerciseCell(name, index, points.get(name, float(EXERCISES[name].points))))
    return found


# -- solution blocks -------------------------------------------------------------------

def _blocks(text, begin, end, where):
    """(first, last, indent) line numbers of each begin..end block, markers included."""
    blocks, start = [], None
    lines = text.splitlines()
    for number, line in enumerate(lines):
        marker = line.strip()
        if marker == begin:
            if start is not None:
                raise NotebookError(f"{where}: `{begin}` on line {number + 1} inside another block")
            start = number
        elif marker == end:
            if start is None:
                raise NotebookError(f"{where}: `{end}` on line {number + 1} without a `{begin}` before it")
            blocks.append((start, number, lines[start][: len(lines[start]) - len(lines[start].lstrip())]))
            start = None
    if start is not None:
        raise NotebookError(f"{where}: `{begin}` on line {start + 1} has no `{end}`")
    return blocks


def replace_blocks(text, begin, end, replacement, where):
    """Replace each begin..end block (markers included) by `replacement` lines at its indent."""
    lines = text.splitlines()
    for first, last, indent in reversed(_blocks(text, begin, end, where)):
        lines[first : last + 1] = [indent + r for r in replacement]
    return "\n".join(lines) + ("\n" if text.endswith("\n") and lines else "")


def solution_text(text, where="cell"):
    """The lines inside the solution blocks of a cell's source."""
    lines = text.splitlines()
    return [line for first, last, _ in _blocks(text, BEGIN_SOLUTION, END_SOLUTION, where)
            for line in lines[first + 1 : last]]


def hidden_text(text, where="cell"):
    lines = text.splitlines()
    return [line for first, last, _ in _blocks(text, BEGIN_HIDDEN, END_HIDDEN, where)
            for line in lines[first + 1 : last]]


def distinctive(lines, min_length=25):
    """Stripped lines long enough that finding one elsewhere means it was copied."""
    return sorted({line.strip() for line in lines if len(line.strip()) >= min_length})


def solution_lines(nb, where="notebook", min_length=25):
    """Distinctive lines of every solution (and hidden-test block) of a source notebook."""
    lines = []
    for index, cell in enumerate(nb["cells"]):
        text = source(cell)
        lines += solution_text(text, f"{where} cell {index}") + hidden_text(text, f"{where} cell {index}")
    return distinctive(lines, min_length)
