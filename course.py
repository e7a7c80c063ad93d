#!/usr/bin/env python3
"""Set up the course's environment, then open it in JupyterLab or run its tests.

    python3 course.py lab     # create/update .venv, open the course in JupyterLab
    python3 course.py test    # create/update .venv, run every test

Needs only Python 3.11+. The environment lives in `.venv/` next to this file and is
reinstalled only when `pyproject.toml` changes. Extra arguments after `test` go to
pytest (`python3 course.py test -k lstm`), after `lab` to JupyterLab.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".course-setup-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


def say(message):
    print(f"[course] {message}", flush=True)


def run(*command):
    subprocess.run([str(c) for c in command], cwd=ROOT, check=True)


def setup():
    """Create .venv if needed and install the course into it (with test extras)."""
    if sys.version_info < (3, 11):
        sys.exit(f"[course] Python 3.11 or newer is needed; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        say(f"creating a virtual environment in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    say("installing the course and its dependencies (first time: about a minute)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test]")
    STAMP.write_text(wanted)


def lab(args):
    command = [BIN / "jupyter", "lab", "notebooks/00_welcome.ipynb"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    say("starting JupyterLab (Ctrl-C stops it)")
    os.execv(str(command[0]), [str(c) for c in command + args])


def test(args):
    say("running every test: unit tests, notebooks (nbval), grading, browser")
    result = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT)
    sys.exit(result.returncode)


def main(argv):
    commands = {"lab": lab, "test": test}
    if not argv or argv[0] not in commands:
        sys.exit(__doc__)
    if argv[0] == "test" and not (ROOT / "tests").is_dir():
        sys.exit("[course] this is the student edition: the tests come with the instructor edition. "
                 "Check your exercises with check(...) in the notebooks.")
    setup()
    commands[argv[0]](argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
