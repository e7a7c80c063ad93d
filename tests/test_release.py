"""`python -m course_lib release OUT`: the student edition, and the exercise convention of
the source notebooks it is made from."""
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from course_lib.exercises import EXERCISES
from course_lib.grading import ReleaseError, cells, release
from course_lib.grading.edition import find_leaks, hidden_test_lines, student_notebook
from grading_support import FIXTURE, FIXTURE_NAME, LESSONS, REPO, execute_notebook, make_course, run_cli

SOURCES = LESSONS + [FIXTURE]
COURSE_LIB_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in sorted((REPO / "course_lib").rglob("*.py")))


def _code(text, nbgrader=None, outputs=()):
    return {"cell_type": "code", "execution_count": 3 if outputs else None, "source": text,
            "metadata": {"nbgrader": nbgrader} if nbgrader else {}, "outputs": list(outputs)}


def _notebook(*cells_):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells_)}


OUTPUT = {"output_type": "stream", "name": "stdout", "text": "something\n"}


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    """The student edition of the repository's notebooks plus the fixture, made by the CLI."""
    course = make_course(tmp_path_factory.mktemp("release") / "course")
    out = course.parent / "student"
    run_cli("release", out, "--source", course)
    return out


# -- the transformation ----------------------------------------------------------------------

def test_release_replaces_each_solution_block_keeping_its_indentation():
    text = ("def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\n"
            "class A:\n    def g(self):\n        ### BEGIN SOLUTION\n        return 2\n        ### END SOLUTION\n")
    released = student_notebook(_notebook(_code(text)))
    assert cells.source(released["cells"][0]) == (
        "def f(x):\n    \"\"\"doc\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\n"
        "class A:\n    def g(self):\n        # YOUR CODE HERE\n        raise NotImplementedError()\n")


def test_release_removes_hidden_test_blocks_and_markdown_answers():
    hidden = _code("check('f', f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\n")
    answer = {"cell_type": "markdown", "metadata": {}, "source": "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"}
    released = student_notebook(_notebook(hidden, answer))
    assert cells.source(released["cells"][0]) == "check('f', f)\n"
    assert cells.source(released["cells"][1]) == "Why?\nYOUR ANSWER HERE"


def test_release_clears_outputs_of_exercise_and_check_cells_only():
    exercise = _code("def one_hot(ids, vocab_size):\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                     {"grade_id": "ex_one_hot", "solution": True}, [OUTPUT])
    checked = _code('check("one_hot", one_hot)', {"grade_id": "check_one_hot", "grade": True, "points": 1}, [OUTPUT])
    other = _code("print('something')", outputs=[OUTPUT])
    released = student_notebook(_notebook(exercise, checked, other))
    assert [c["outputs"] for c in released["cells"]] == [[], [], [OUTPUT]]
    assert released["cells"][2]["execution_count"] == 3


def test_release_leaves_the_source_notebook_unchanged():
    nb = _notebook(_code("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION", outputs=[OUTPUT]))
    before = json.dumps(nb, sort_keys=True)
    student_notebook(nb)
    assert json.dumps(nb, sort_keys=True) == before


@pytest.mark.parametrize("text, complaint", [
    ("### BEGIN SOLUTION\nx = 1\n", "has no `### END SOLUTION`"),
    ("x = 1\n### END SOLUTION\n", "without a `### BEGIN SOLUTION`"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside another block"),
])
def test_unbalanced_solution_markers_are_a_clear_error(text, complaint):
    with pytest.raises(cells.NotebookError, match=re.escape(complaint)) as error:
        student_notebook(_notebook(_code("print(1)"), _code(text)), where="07_x.ipynb")
    assert "07_x.ipynb, cell 1" in str(error.value)


# -- the command ---------------------------------------------------------------------------

def test_release_refuses_a_non_empty_out_and_keeps_what_is_there(tmp_path):
    course = make_course(tmp_path / "course")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("my work")
    result = run_cli("release", out, "--source", course, check=False)
    assert result.returncode != 0
    assert "already exists and is not empty" in result.stderr and str(out) in result.stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and (out / "mine.txt").read_text() == "my work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course", "out"]  # no half-written staging folder


def test_release_writes_into_an_existing_empty_folder(tmp_path):
    course = make_course(tmp_path / "course")
    (tmp_path / "out").mkdir()
    release(tmp_path / "out", root=course, progress=False)
    assert (tmp_path / "out" / "notebooks" / FIXTURE_NAME).is_file()


def test_release_writes_nothing_when_a_solution_line_is_also_in_course_lib(tmp_path):
    course = make_course(tmp_path / "course")
    nb = json.loads((course / "notebooks" / FIXTURE_NAME).read_text())
    leaked = "    return np.tanh(x @ Wx + prev_h @ Wh + b)  # the same line as in course_lib\n"
    nb["cells"].append(_code(f"def g():\n    ### BEGIN SOLUTION\n{leaked}    ### END SOLUTION\n"))
    (course / "notebooks" / FIXTURE_NAME).write_text(json.dumps(nb))
    (course / "course_lib").unlink()
    (course / "course_lib").mkdir()
    (course / "course_lib" / "__init__.py").write_text(leaked)
    with pytest.raises(ReleaseError, match="would contain solution or hidden-test text"):
        release(tmp_path / "out", root=course, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["course"]


def test_release_refuses_a_folder_that_is_not_a_course(tmp_path):
    with pytest.raises(ReleaseError, match="no notebooks/ folder"):
        release(tmp_path / "out", root=tmp_path, progress=False)


# -- what the student edition holds -----------------------------------------------------------

def test_student_edition_has_the_notebooks_and_course_lib_without_grading_tools(edition):
    assert sorted(p.name for p in (edition / "notebooks").glob("*.ipynb")) == sorted(
        [p.name for p in LESSONS] + [FIXTURE_NAME])
    assert (edition / "course_lib" / "exercises.py").is_file()
    assert not (edition / "course_lib" / "grading").exists()
    assert not (edition / "instructor").exists()
    assert not list(edition.rglob("__pycache__")) and not list(edition.rglob("*hidden*"))
    for name in ("pyproject.toml", "README.md", "course.py"):
        assert (edition / name).is_file(), name
    if (REPO / "datasets").is_dir():
        assert sorted(p.name for p in (edition / "datasets").iterdir()) == sorted(
            p.name for p in (REPO / "datasets").iterdir() if p.name != "__pycache__")


def test_student_edition_contains_no_solution_or_hidden_test_text(edition):
    secrets = set(hidden_test_lines(REPO))
    for path in SOURCES:
        secrets.update(cells.solution_lines(cells.read_notebook(path), where=path.name))
    assert secrets, "there should be solution lines to look for"
    assert find_leaks(edition, secrets) == []


# This venv has the repository installed in editable mode; its import hook would serve the
# repository's course_lib modules to anyone. A student's own install points at their
# edition, so code that runs "as the student" drops that hook first.
ONLY_THE_EDITION = ("import sys\nsys.meta_path[:] = [f for f in sys.meta_path "
                    "if 'editable' not in getattr(f, '__name__', type(f).__name__).lower()]")


def test_student_edition_grading_command_says_it_is_for_instructors(edition):
    import subprocess
    import sys

    command = f"{ONLY_THE_EDITION}\nimport runpy\nrunpy.run_module('course_lib', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", command, "grade", "x", "--out", "y"], cwd=edition,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(edition)})
    assert result.returncode != 0 and "not part of the student edition" in result.stderr


# -- the source notebooks follow the convention ---------------------------------------------

@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_solutions_do_not_repeat_course_lib_lines(path):
    """course_lib ships with the student edition: a solution line found in it would give the answer away."""
    repeated = [line for line in cells.solution_lines(cells.read_notebook(path), where=path.name)
                if line in COURSE_LIB_TEXT]
    assert repeated == [], f"{path.name}: solution lines also in course_lib (rephrase them): {repeated}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_source_notebook_follows_the_exercise_convention(path):
    nb = cells.read_notebook(path)
    for exercise in cells.find_exercises(nb):
        cell = nb["cells"][exercise.index]
        meta = cells.nbgrader(cell)
        assert meta.get("grade_id") == f"ex_{exercise.name}" and meta.get("solution") is True, (path.name, meta)
        assert cells.solution_text(cells.source(cell)), f"{path.name}: {exercise.name} has no solution block"
        following = nb["cells"][exercise.index + 1]
        check_meta = cells.nbgrader(following)
        assert cells.source(following).strip() == f'check("{exercise.name}", {exercise.name})', path.name
        assert check_meta.get("grade_id") == f"check_{exercise.name}" and check_meta.get("grade") is True
        assert check_meta.get("points", 0) > 0, f"{path.name}: check_{exercise.name} has no points"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_has_every_exercise_the_course_lists_for_it(path):
    number = path.name[:2]
    listed = [name for name, e in EXERCISES.items() if e.notebook == number]
    found = [e.name for e in cells.find_exercises(cells.read_notebook(path))]
    assert found == listed, f"{path.name}: exercises {found}, the course lists {listed}"


def test_every_listed_exercise_is_in_the_lessons_once_they_all_exist():
    missing = sorted({e.notebook for e in EXERCISES.values()} - {p.name[:2] for p in LESSONS})
    if missing:
        pytest.skip(f"lesson notebooks {', '.join(missing)} are not written yet")
    found = [e.name for p in LESSONS for e in cells.find_exercises(cells.read_notebook(p))]
    assert sorted(found) == sorted(EXERCISES) and len(EXERCISES) == 16


# -- the student edition runs --------------------------------------------------------------

RUN_TEST = "test_student_edition_notebook_runs_top_to_bottom"
RELEASED = [p.name for p in LESSONS] + [FIXTURE_NAME]


@pytest.fixture(scope="module")
def executed(edition, request, tmp_path_factory):
    """The student-edition notebooks whose tests were selected, run two at a time (2 cores).

    A cell first drops the editable-install hook (see ONLY_THE_EDITION), a last cell
    prints which course_lib the kernel imported.
    """
    wanted = [item.callspec.params["name"] for item in request.session.items
              if getattr(item, "originalname", None) == RUN_TEST]
    env = {**os.environ, "PYTHONPATH": str(edition)}
    scratch = tmp_path_factory.mktemp("executed")

    def run(name):
        nb = json.loads((edition / "notebooks" / name).read_text(encoding="utf-8"))
        nb["cells"] = ([nbformat.v4.new_code_cell(ONLY_THE_EDITION)] + nb["cells"]
                       + [nbformat.v4.new_code_cell("import course_lib\nprint(course_lib.__file__)")])
        return execute_notebook(nb, edition / "notebooks", scratch / name, env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {name: pool.submit(run, name) for name in wanted}


@pytest.mark.parametrize("name", RELEASED)
def test_student_edition_notebook_runs_top_to_bottom(edition, executed, name):
    """Every cell runs without an error, each check cell says "not done yet", the kernel
    uses the student edition's own course_lib, and no solution or hidden-test text is left."""
    nb, error = executed[name].result()
    assert error is None, f"the student edition of {name} fails:\n{error}"
    assert "".join(nb["cells"][-1]["outputs"][0]["text"]).strip() == str(edition / "course_lib" / "__init__.py")
    for cell in nb["cells"]:
        if cells.check_name(cell):
            printed = "".join("".join(o.get("text", "")) for o in cell["outputs"])
            assert "not done yet" in printed, (name, cells.source(cell), cell["outputs"])
    source = cells.read_notebook(FIXTURE if name == FIXTURE_NAME else REPO / "notebooks" / name)
    assert find_leaks(edition / "notebooks" / name, set(cells.solution_lines(source)) | hidden_test_lines(REPO)) == []
