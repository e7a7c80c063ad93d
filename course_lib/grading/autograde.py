"""`python -m course_lib grade SUBMISSIONS --out DIR`: grade a class with the hidden tests.

For every student and every graded notebook, the exercise functions run in a fresh
process (see `sandbox` and `runner`) on the hidden tests' inputs; the answers are
compared here, with the expected values computed here. Writes DIR/gradebook.csv (one
row per student, notebook and exercise, sorted) and DIR/feedback/<student>.md, each
atomically, never over an existing file: when DIR already holds a gradebook, this
run's files get a suffix (gradebook-2.csv, feedback-2/) and the message says so.
"""
import concurrent.futures
import csv
import importlib.util
import io
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import exercises as registry
from ..progress import optional_bar
from . import cells, definitions, sandbox, submissions, wire
from .edition import course_root, hidden_tests_path

COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "message")
STATUSES = {
    "passed": "every hidden test passes",
    "partial": "some hidden tests pass (points in proportion)",
    "wrong": "runs, but no hidden test passes",
    "error": "raises an exception",
    "not_done": "still raises NotImplementedError",
    "missing": "the notebook defines no such function",
    "reference": "only calls course_lib's own version",
    "timeout": "took longer than the time limit",
    "crashed": "the process running it died",
    "memory": "ran out of memory",
    "unreadable": "the notebook file cannot be read",
    "not_submitted": "no such notebook in the submission",
    "grader_error": "the grader failed (not the student's fault)",
}


class GradingError(RuntimeError):
    """Grading cannot start (the message says why); nothing was written."""


@dataclass
class Hidden:
    """An exercise's hidden cases with their expected answers, and the runner's job for it."""
    exercise: registry.Exercise
    cases: list
    job: dict


@dataclass
class Row:
    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str


# -- setting up --------------------------------------------------------------------------

def load_sources(root):
    """[(stem, [ExerciseCell])] for the course's notebooks that hold exercises."""
    sources = []
    for path in sorted((Path(root) / "notebooks").glob("*.ipynb")):
        found = cells.find_exercises(cells.read_notebook(path))
        if found:
            sources.append((path.stem, found))
    if not sources:
        raise GradingError(f"{Path(root) / 'notebooks'} holds no notebooks with exercises")
    return sources


def load_hidden_tests(path, names):
    """{name: Hidden} for exercise `names`, checked against course_lib's own answers."""
    path = Path(path)
    if not path.is_file():
        raise GradingError(f"the hidden tests are not at {path}; grading needs the instructor's checkout "
                           "(the student edition has no hidden tests), or pass --hidden-tests FILE")
    spec = importlib.util.spec_from_file_location("course_hidden_tests", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hidden = {}
    for name in names:
        if name not in getattr(module, "CASES", {}):
            raise GradingError(f"{path} has no hidden tests for exercise {name!r} (CASES[{name!r}])")
        exercise = registry.EXERCISES[name]
        cases = registry.with_expected(name, module.CASES[name]())
        for case in cases:
            problem = registry.run_case(exercise, lambda *a: registry.solve(name, *a), case)
            if problem:
                raise GradingError(f"hidden test {case.label!r} of {name} fails course_lib's own version: {problem}")
        hidden[name] = Hidden(exercise, cases, {
            "name": name, "forward": exercise.forward, "n_outputs": len(exercise.outputs),
            "compared": exercise.compared,
            "cases": [{"args": _pickle(c.args), "unchanged": c.unchanged,
                       "forward_args": None if c.forward_args is None else _pickle(c.forward_args)} for c in cases]})
    return hidden


def _pickle(value):
    import pickle

    return pickle.dumps(value)


def _notebook_list(sources, wanted, found):
    """The notebooks to grade: those asked for, else those anyone submitted, else all."""
    stems = [stem for stem, _ in sources]
    if wanted:
        chosen = []
        for item in wanted:
            matches = [s for s in stems if s == item or s == Path(item).stem or s.split("_")[0] == item]
            if len(matches) != 1:
                raise GradingError(f"--notebooks: {item!r} names none of the notebooks with exercises "
                                   f"({', '.join(stems)})")
            chosen += matches
        return [s for s in stems if s in chosen]
    return [s for s in stems if s in found] or stems


# -- scoring -------------------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")


def _clean(text, workdir):
    text = _ADDRESS.sub("0x...", str(text)).replace(str(workdir), "<workdir>")
    return " ".join(text.split())[:400]


def score(hidden, max_points, result, load_errors, limits):
    """(points, status, message) for one exercise from the runner's result."""
    name = hidden.exercise.name
    if isinstance(result, sandbox.Failure):
        return 0.0, result.status, result.text
    if not result.get("found"):
        why = f" Problems while loading your code: {'; '.join(load_errors)}" if load_errors else ""
        return 0.0, "missing", f"no function named {name} was defined.{why}"
    if result.get("too_large"):
        return 0.0, "error", "returned something too large to grade"
    outcomes = [_case_outcome(hidden, i, attempts) for i, attempts in enumerate(result.get("cases", []))]
    outcomes += [("not_done", None)] * (len(hidden.cases) - len(outcomes))
    total, passed = len(hidden.cases), sum(kind == "passed" for kind, _ in outcomes)
    for kind, text in outcomes:
        if kind == "reference":
            return 0.0, "reference", f"{text} (calling course_lib's own version does not count)"
    if passed == total:
        return max_points, "passed", f"all {total} hidden tests pass"
    first = next(i for i, (kind, _) in enumerate(outcomes) if kind != "passed")
    kind, text = outcomes[first]
    case = hidden.cases[first]
    where = f"hidden test {first + 1} of {total} ({case.label})"
    if kind == "not_done" and passed == 0:
        return 0.0, "not_done", "not done yet: it raises NotImplementedError"
    if kind == "memory":
        text = f"ran out of memory (the limit is {limits.memory_mb} MB)"
    message = f"{where}: {text}"
    if passed:
        return round(max_points * passed / total, 2), "partial", f"{passed} of {total} hidden tests pass; {message}"
    return 0.0, ("wrong" if kind == "wrong" else kind), message


def _case_outcome(hidden, index, attempts):
    """(kind, text): kind is passed, wrong, error, not_done, memory or reference."""
    if index >= len(hidden.cases) or not isinstance(attempts, list) or not attempts:
        return "error", "no answer"
    case, found = hidden.cases[index], []
    for attempt in attempts:
        found.append(_attempt_outcome(hidden.exercise, case, attempt))
        if found[-1][0] == "passed":
            return found[-1]
    for kind in ("reference", "wrong"):  # calling course_lib's answer, or a wrong answer, explains most
        if any(f[0] == kind for f in found):
            return next(f for f in found if f[0] == kind)
    return found[0]


def _attempt_outcome(exercise, case, attempt):
    if not isinstance(attempt, dict):
        return "error", "no answer"
    error = attempt.get("error")
    if error is not None:
        kind = error.get("kind") if error.get("kind") in ("not_done", "reference", "memory") else "error"
        where = f" ({error['where']})" if error.get("where") else ""
        return kind, f"raised {error.get('text', 'an exception')}{where}"
    try:
        got = wire.decode(attempt.get("output"))
        problem = registry.compare_outputs(exercise, got, case.expected, case.rtol, case.atol)
        if problem is None and case.unchanged:
            changed = registry.changed_argument(exercise, case.args, wire.decode(attempt.get("after")))
            if changed:
                problem = f"changed its argument {changed} in place; it should leave it as it was"
    except (wire.WireError, KeyError, TypeError, ValueError, OverflowError):
        return "error", "returned something the grader cannot read"
    return ("wrong", problem) if problem else ("passed", None)


# -- running -----------------------------------------------------------------------------

def _grade_notebook(path, exercise_cells, hidden, limits, scratch):
    """({exercise: (points, status, message)}, load errors) for one submitted notebook."""
    copy = scratch / "work" / path.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(path, copy)  # run from a copy: the submission itself is never touched
    nb = cells.read_notebook(copy)
    names = [e.name for e in exercise_cells]
    chosen, syntax_errors = definitions.select(nb, names)
    load_errors, results = sandbox.run_notebook(chosen, [hidden[n].job for n in names], limits, copy.parent)
    load_errors = syntax_errors + load_errors
    scored = {}
    for e in exercise_cells:
        points, status, message = score(hidden[e.name], e.points, results[e.name], load_errors, limits)
        scored[e.name] = (points, status, _clean(message, copy.parent))
    return scored, [_clean(e, copy.parent) for e in load_errors]


def grade(submissions_dir, out, root=None, hidden_tests=None, notebooks=None, workers=2,
          timeout=120.0, exercise_timeout=20.0, memory_mb=2048, progress=True):
    """Grade every submission in `submissions_dir`; write the gradebook and feedback to `out`.

    Returns the path of the gradebook written. See the module docstring.
    """
    if os.name != "posix":
        raise GradingError("grading runs students' code under POSIX resource limits: use Linux or macOS")
    submissions_dir, out = Path(submissions_dir), Path(out)
    root = Path(root) if root is not None else course_root()
    limits = _limits(workers, timeout, exercise_timeout, memory_mb)
    if not submissions_dir.is_dir():
        raise GradingError(f"SUBMISSIONS must be a folder holding one folder or notebook per student; "
                           f"{submissions_dir} is {'a file' if submissions_dir.exists() else 'missing'}")
    sources = load_sources(root)
    students = submissions.discover(submissions_dir, [(s, [e.name for e in ex]) for s, ex in sources])
    if not students:
        raise GradingError(f"{submissions_dir} is empty: there is nothing to grade")
    found = {stem for s in students for stem in list(s.notebooks) + list(s.problems)}
    graded = _notebook_list(sources, notebooks, found)
    exercise_cells = {stem: ex for stem, ex in sources if stem in graded}
    hidden = load_hidden_tests(hidden_tests or hidden_tests_path(root),
                               sorted({e.name for ex in exercise_cells.values() for e in ex}))
    gradebook, feedback_dir = _free_names(out)
    notes = {s.student: s.notes + [f"could not read {b}" for b in s.broken] for s in students}
    rows, jobs = _rows_of_missing_notebooks(students, graded, exercise_cells), []
    for s in students:
        jobs += [(s.student, stem, s.notebooks[stem]) for stem in graded if stem in s.notebooks]
    with tempfile.TemporaryDirectory(prefix="course-grading-") as scratch:
        outcomes = _run_all(jobs, exercise_cells, hidden, limits, Path(scratch), workers, progress)
    for (student, stem, _), (scored, load_errors) in zip(jobs, outcomes):
        notes[student] += [f"{stem}: {e}" for e in load_errors]
        for e in exercise_cells[stem]:
            points, status, message = scored[e.name]
            rows.append(Row(student, stem, e.name, points, e.points, status, message))
    order = {(stem, e.name): (i, j) for i, (stem, ex) in enumerate(sources) for j, e in enumerate(ex)}
    rows.sort(key=lambda r: (r.student, order[(r.notebook, r.exercise)]))
    _write_atomically(gradebook, _csv(rows))
    feedback_dir.mkdir()
    for s in students:
        mine = [r for r in rows if r.student == s.student]
        _write_atomically(feedback_dir / f"{s.student}.md", _feedback(s.student, mine, notes[s.student]))
    _report(rows, students, graded, gradebook, feedback_dir, out)
    return gradebook


def _rows_of_missing_notebooks(students, graded, exercise_cells):
    """Zero-point rows for every graded notebook a student did not hand in readably."""
    rows = []
    for s in students:
        for stem in graded:
            if stem in s.notebooks:
                continue
            if stem in s.problems or s.broken:
                status, message = "unreadable", s.problems.get(stem) or "; ".join(s.broken)
            else:
                extra = f" ({'; '.join(s.notes)})" if s.notes else ""
                status, message = "not_submitted", f"no {stem}.ipynb in this submission{extra}"
            rows += [Row(s.student, stem, e.name, 0.0, e.points, status, message) for e in exercise_cells[stem]]
    return rows


def _limits(workers, timeout, exercise_timeout, memory_mb):
    for name, value in (("workers", workers), ("timeout", timeout), ("exercise_timeout", exercise_timeout),
                        ("memory_mb", memory_mb)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise GradingError(f"{name} must be a positive number, got {value!r}")
    if memory_mb < 256:
        raise GradingError(f"memory_mb must be at least 256 (Python and NumPy need that much), got {memory_mb}")
    return sandbox.Limits(float(timeout), float(exercise_timeout), int(memory_mb))


def _run_all(jobs, exercise_cells, hidden, limits, scratch, workers, progress):
    bar = optional_bar(len(jobs), "grading notebooks", enabled=progress, file=sys.stderr)
    outcomes = [None] * len(jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=int(workers)) as pool:
        futures = {pool.submit(_grade_notebook, path, exercise_cells[stem], hidden, limits, scratch / f"job-{k}"): k
                   for k, (_, stem, path) in enumerate(jobs)}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            k = futures[future]
            try:
                outcomes[k] = future.result()
            except Exception as error:  # a bug of the grader's costs this notebook's rows, not the run
                text = f"the grader failed on this notebook ({type(error).__name__}: {error})"
                outcomes[k] = ({e.name: (0.0, "grader_error", text) for e in exercise_cells[jobs[k][1]]}, [])
            if bar:
                bar.update(done)
    if bar:
        bar.close()
    return outcomes


# -- writing -----------------------------------------------------------------------------

def _free_names(out):
    """gradebook.csv and feedback/ in `out`, or the first -N suffix for which neither exists."""
    out.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        gradebook, feedback = out / f"gradebook{suffix}.csv", out / f"feedback{suffix}"
        if not gradebook.exists() and not feedback.exists():
            return gradebook, feedback
        n += 1


def _write_atomically(path, text):
    """Write to a temporary file beside `path`, then link it into place (never replacing a file)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _points(value):
    return f"{round(value, 2):g}"


def _csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r.student, r.notebook, r.exercise, _points(r.points), _points(r.max_points), r.status, r.message])
    return buffer.getvalue()


def _feedback(student, rows, notes):
    total, most = sum(r.points for r in rows), sum(r.max_points for r in rows)
    lines = [f"# Feedback for {student}", "", f"Total: {_points(total)} of {_points(most)} points.", ""]
    for notebook in dict.fromkeys(r.notebook for r in rows):
        mine = [r for r in rows if r.notebook == notebook]
        lines += [f"## {notebook}: {_points(sum(r.points for r in mine))} of "
                  f"{_points(sum(r.max_points for r in mine))} points", ""]
        lines += [f"- **{r.exercise}** ({_points(r.points)}/{_points(r.max_points)}, {r.status}): {r.message}"
                  for r in mine]
        lines.append("")
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _report(rows, students, graded, gradebook, feedback_dir, out):
    if gradebook.name != "gradebook.csv":
        print(f"{out / 'gradebook.csv'} already exists and was left alone; this run wrote {gradebook.name} "
              f"and {feedback_dir.name}/ beside it.")
    counts = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{counts[s]} {s}" for s in STATUSES if s in counts)
    print(f"Graded {len(students)} students on {', '.join(graded)}: {len(rows)} rows ({summary}).")
    print(f"Gradebook: {gradebook}\nFeedback:  {feedback_dir}/ ({len(students)} files)")
    if "grader_error" in counts:
        print(f"Warning: {counts['grader_error']} rows could not be graded because the grader failed; "
              "see their message.", file=sys.stderr)
