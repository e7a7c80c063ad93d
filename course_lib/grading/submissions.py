"""Finding each student's notebooks in a folder of submissions.

SUBMISSIONS holds one entry per student: a folder (any layout inside; notebooks are
found anywhere in it) or a single file (`alice.ipynb`). A notebook counts as a course
notebook by its file name (`03_vanilla_rnn.ipynb`), else by its number (`03_...`), else
by the exercises it defines. Anything else is listed in the student's feedback.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import cells

_NUMBER = re.compile(r"^(\d+)[_\- ]")
_DEFINES = re.compile(r"^def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


@dataclass
class Submission:
    """One student's work.

    notebooks: course notebook stem -> file; problems: stem -> why its file is unreadable;
    broken: unreadable .ipynb files that match no notebook by name; notes: what was ignored.
    """
    student: str
    notebooks: dict = field(default_factory=dict)
    problems: dict = field(default_factory=dict)
    broken: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _visible(path, top):
    parts = path.relative_to(top).parts
    return not any(p.startswith(".") or p in ("__MACOSX", "__pycache__") for p in parts)


def discover(folder, sources):
    """[Submission] for every student in `folder`, sorted by name.

    sources: [(stem, exercise names)] of the course's notebooks with exercises.
    """
    folder = Path(folder)
    found = {}
    for entry in sorted(folder.iterdir()):
        if not _visible(entry, folder):
            continue
        if entry.is_dir():
            student, base = entry.name, entry
            files = sorted(p for p in entry.rglob("*") if p.is_file() and _visible(p, entry))
        else:
            student, files, base = entry.stem, [entry], folder
        submission, candidates = found.setdefault(student, (Submission(student), []))
        if entry.is_dir() and not files:
            submission.notes.append(f"{entry.name}/ is empty")
        for path in files:
            candidate = _candidate(submission, path, path.relative_to(base).as_posix(), sources)
            if candidate:
                candidates.append(candidate)
    for submission, candidates in found.values():
        _choose(submission, candidates)
    return [found[name][0] for name in sorted(found)]


def _candidate(submission, path, shown, sources):
    """(readable?, rank, shown, stem, path or problem) for a file that may be a course notebook."""
    if path.suffix != ".ipynb":
        submission.notes.append(f"ignored {shown}: not a notebook")
        return None
    by_name = _match_by_name(path, sources)
    try:
        nb = cells.read_notebook(path)
    except (cells.NotebookError, OSError) as error:
        if by_name is None:
            submission.broken.append(f"{shown}: {error}")
            return None
        return (1, by_name[1], shown, by_name[0], f"{shown}: {error}")
    stem, rank = by_name or (_match_by_content(nb, sources), 2)
    if stem is None:
        submission.notes.append(f"ignored {shown}: it is none of the course's notebooks")
        return None
    return (0, rank, shown, stem, path)


def _choose(submission, candidates):
    """Per course notebook, the readable file matched best (exact name, number, content)."""
    for unreadable, rank, shown, stem, found in sorted(candidates, key=lambda c: c[:3]):
        if stem in submission.notebooks or stem in submission.problems:
            submission.notes.append(f"ignored {shown}: another file was already taken as {stem}")
        elif unreadable:
            submission.problems[stem] = found
        else:
            submission.notebooks[stem] = found


def _match_by_name(path, sources):
    """(stem, 0) for the exact file name, (stem, 1) for a matching number, else None."""
    for stem, _ in sources:
        if path.stem == stem:
            return stem, 0
    number = _NUMBER.match(path.name)
    if number:
        matches = [stem for stem, _ in sources if (m := _NUMBER.match(stem)) and m.group(1) == number.group(1)]
        if len(matches) == 1:
            return matches[0], 1
    return None


def _match_by_content(nb, sources):
    defined = {name for cell in nb["cells"] if cell.get("cell_type") == "code"
               for name in _DEFINES.findall(cells.source(cell))}
    defined |= {cells.exercise_name(cell) for cell in nb["cells"]} - {None}
    overlap = [(len(defined & set(names)), stem) for stem, names in sources]
    best = max(overlap, default=(0, None))
    return best[1] if best[0] > 0 else None
