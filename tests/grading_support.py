"""Shared by test_release.py and test_grading.py: a course checkout to release and grade,
and a class of generated submissions (good, empty, wrong, crashing, looping, hostile).

The course checkout is the repository's own (course_lib, instructor, datasets,
notebooks) plus tests/fixtures/grading_fixture.ipynb as notebook 90, so the tests mean
something before the lesson notebooks exist and keep covering them once they do.
"""
import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from course_lib.exercises import EXERCISES
from course_lib.grading import cells
from course_lib.grading.edition import student_notebook

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "grading_fixture.ipynb"
FIXTURE_NAME = "90_grading_fixture.ipynb"
LESSONS = sorted((REPO / "notebooks").glob("*.ipynb"))


def make_course(folder):
    """A course checkout in `folder` that links to the repository's parts."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    for name in ("course_lib", "instructor", "datasets", "README.md", "pyproject.toml", "course.py", "environment.yml"):
        if (REPO / name).exists():
            (folder / name).symlink_to(REPO / name)
    (folder / "notebooks").mkdir()
    for path in LESSONS:
        (folder / "notebooks" / path.name).symlink_to(path)
    shutil.copyfile(FIXTURE, folder / "notebooks" / FIXTURE_NAME)
    return folder


def run_cli(*args, check=True):
    """`python -m course_lib ...` in a fresh interpreter; returns the CompletedProcess."""
    result = subprocess.run([sys.executable, "-m", "course_lib", *map(str, args)], capture_output=True, text=True,
                            cwd=REPO)
    if check and result.returncode != 0:
        raise AssertionError(f"python -m course_lib {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


EXECUTE = """
import sys, nbclient, nbformat
source, target, folder = sys.argv[1:4]
nb = nbformat.read(source, as_version=4)
try:
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=1200, resources={"metadata": {"path": folder}}).execute()
finally:
    nbformat.write(nb, target)
"""


def execute_notebook(nb, folder, scratch, env):
    """Run notebook `nb` (a dict) in a fresh kernel with working folder `folder`.

    Returns (executed notebook, error text or None). Runs in a subprocess so that
    several can run at once.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    source, target = scratch / "in.ipynb", scratch / "out.ipynb"
    source.write_text(json.dumps(nb), encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", EXECUTE, source, target, folder], capture_output=True,
                            text=True, env=env, timeout=3600)
    executed = json.loads(target.read_text(encoding="utf-8")) if target.exists() else None
    return executed, (result.stderr[-4000:] if result.returncode else None)


def source_notebooks(course):
    """[(stem, nb, [ExerciseCell])] of the course's notebooks with exercises."""
    found = []
    for path in sorted((Path(course) / "notebooks").glob("*.ipynb")):
        nb = cells.read_notebook(path)
        exercises = cells.find_exercises(nb)
        if exercises:
            found.append((path.stem, nb, exercises))
    return found


# -- rewriting exercise functions -------------------------------------------------------------

PERTURB = '''def _perturb(value):
    """A wrong answer of the same type: arrays +0.5 (flipped, or a row longer when empty),
    one token more, numbers + 1."""
    import numpy
    if isinstance(value, numpy.ndarray) and value.size == 0:
        return numpy.ones((1,) + value.shape[1:], dtype=value.dtype)
    if isinstance(value, numpy.ndarray):
        return ~value if value.dtype == bool else value + 0.5
    if isinstance(value, (tuple, list)):
        if value and all(isinstance(v, str) for v in value):
            return list(value) + ["<eos>"]
        return type(value)(_perturb(v) for v in value)
    if isinstance(value, dict):
        return {k: _perturb(v) for k, v in value.items()}
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    return value'''

MONKEYPATCH = '''import numpy as np
import course_lib.exercises
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
course_lib.exercises.check = lambda *args, **kwargs: True
course_lib.exercises.compare_outputs = lambda *args, **kwargs: None
check = lambda *args, **kwargs: True'''

BODIES = {
    "raise": 'raise ValueError("a bug in the student\'s code")',
    "loop": "while True:\n        pass",
    "kill": "import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)",
    "exit": "import os\n    os._exit(3)",
    "allocate": "import numpy\n    blocks = []\n    while True:\n        blocks.append(numpy.ones(10_000_000))",
    "perturb": "return _perturb(_solution_{name}(*args, **kwargs))",
    "patch_inside": ("import numpy\n    numpy.allclose = lambda *a, **k: True\n    numpy.isclose = lambda *a, **k: True\n"
                     "    return _perturb(_solution_{name}(*args, **kwargs))"),
    "attack": ("import os, signal, subprocess, importlib, course_lib.{module}\n"
               "    for attempt in (lambda: os.kill(os.getppid(), signal.SIGKILL),\n"
               "                    lambda: subprocess.run(['touch', '/tmp/grading-attack.txt']),\n"
               "                    lambda: importlib.reload(course_lib.{module}),\n"
               "                    lambda: open('/tmp/grading-attack.txt', 'w')):\n"
               "        try:\n            attempt()\n        except Exception:\n            pass\n"
               "    return {reference_call}"),
    "reference": "import course_lib.{module}\n    return {reference_call}",
}


def reference_call(name):
    """Source of a call of course_lib's own version with the exercise's arguments."""
    module, function = EXERCISES[name].reference.split(".")
    if name == "row_lookup":
        return f"course_lib.{module}.{function}(*args)[0]"
    if name == "embedding_backward":
        return (f"course_lib.{module}.{function}(args[0], (args[1], (args[2], args[0].shape[-1])))")
    return f"course_lib.{module}.{function}(*args, **kwargs)"


def replace_function(nb, name, body):
    """Rename the student's `name` to _solution_<name> and define `name` with `body`."""
    module = EXERCISES[name].reference.split(".")[0]
    text = BODIES[body].format(name=name, module=module, reference_call=reference_call(name))
    for cell in nb["cells"]:
        source = cells.source(cell)
        if cell.get("cell_type") == "code" and re.search(rf"^def {name}\(", source, re.MULTILINE):
            renamed = re.sub(rf"^def {name}\(", f"def _solution_{name}(", source, flags=re.MULTILINE)
            cells.set_source(cell, f"{renamed}\n\n\ndef {name}(*args, **kwargs):\n    {text}\n")
            return
    raise AssertionError(f"no def {name}( in the notebook")


def code_cell(text):
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": text}


def insert_after_imports(nb, text):
    """A new code cell after the first code cell (where the notebooks import things)."""
    first = next(i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code")
    nb["cells"].insert(first + 1, code_cell(text))


def target(nb, exercises):
    """The exercise the single-exercise variants break: one no other exercise depends on."""
    names = [e.name for e in exercises]
    forwards = {EXERCISES[n].forward for n in names}
    for e in exercises:
        others = "\n".join(cells.source(c) for c in nb["cells"] if cells.exercise_name(c) not in (None, e.name))
        if e.name not in forwards and not re.search(rf"\b{e.name}\(", others):
            return e.name
    return names[-1]


def variant(nb, exercises, kind):
    """(notebook dict, {exercise: (status, points)}) for one kind of submission."""
    nb = copy.deepcopy(nb)
    full = {e.name: ("passed", e.points) for e in exercises}
    zero = {e.name: (None, 0) for e in exercises}
    hit = target(nb, exercises)
    if kind == "full":
        return nb, full
    if kind == "untouched":
        return student_notebook(nb), {n: ("not_done", 0) for n in zero}
    if kind in ("wrong", "monkeypatch"):
        insert_after_imports(nb, PERTURB)
        if kind == "monkeypatch":
            insert_after_imports(nb, MONKEYPATCH)
        for e in exercises:
            replace_function(nb, e.name, "perturb" if kind == "wrong" else "patch_inside")
        if kind == "monkeypatch":
            for cell in nb["cells"]:
                if cells.check_name(cell):
                    cells.set_source(cell, f"assert {cells.source(cell)}")
        return nb, {n: ("wrong", 0) for n in zero}
    if kind == "reference":
        for e in exercises:
            replace_function(nb, e.name, "reference")
        return nb, {n: ("reference", 0) for n in zero}
    if kind == "edited_tests":
        nb["cells"] = [c for c in nb["cells"] if not cells.check_name(c)]
        for cell in nb["cells"]:
            cell.get("metadata", {}).pop("nbgrader", None)
        insert_after_imports(nb, "check = lambda *args, **kwargs: True")
        return nb, full
    if kind == "syntax_error":
        for cell in nb["cells"]:
            if re.search(rf"^def {hit}\(", cells.source(cell), re.MULTILINE):
                cells.set_source(cell, re.sub(rf"^def {hit}\(", f"def {hit}((", cells.source(cell), count=1,
                                              flags=re.MULTILINE))
        return nb, {**full, hit: ("missing", 0)}
    status = {"raise": "error", "loop": "timeout", "kill": "crashed", "exit": "crashed", "allocate": "memory",
              "attack": "reference"}[kind]
    replace_function(nb, hit, kind)
    if kind in ("raise", "loop"):
        insert_after_imports(nb, BODIES[kind].replace("\n    ", "\n"))  # the notebook itself raises / loops
    return nb, {**full, hit: (status, 0)}


KINDS = ("full", "untouched", "wrong", "raise", "loop", "kill", "exit", "allocate", "edited_tests", "monkeypatch",
         "reference", "attack", "syntax_error")


def make_class(folder, course):
    """A SUBMISSIONS folder; returns {(student, notebook, exercise): (status, points)} expected."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    expected = {}
    sources = source_notebooks(course)
    for kind in KINDS:
        (folder / kind).mkdir()
        for stem, nb, exercises in sources:
            made, outcome = variant(nb, exercises, kind)
            (folder / kind / f"{stem}.ipynb").write_text(json.dumps(made, indent=1), encoding="utf-8")
            expected.update({(kind, stem, name): v for name, v in outcome.items()})
    (folder / "garbage").mkdir()
    (folder / "garbage" / "notes.txt").write_text("my answers are in my head\n")
    (folder / "empty").mkdir()
    (folder / "stray.txt").write_text("not a notebook\n")
    for stem, _, exercises in sources:
        (folder / "garbage" / f"{stem}.ipynb").write_text("{ this is not JSON", encoding="utf-8")
        for e in exercises:
            expected[("garbage", stem, e.name)] = ("unreadable", 0)
            expected[("empty", stem, e.name)] = ("not_submitted", 0)
            expected[("stray", stem, e.name)] = ("not_submitted", 0)
    return expected
