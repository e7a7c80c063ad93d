"""The two ways to install the course, pip (pyproject.toml) and conda (environment.yml),
ask for the same packages at the same minimum versions."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def requirement(text):
    """'numpy>=1.26' -> ('numpy', '>=1.26'); names compared case- and dash-insensitively."""
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", text).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["test"]
    return dict(requirement(r) for r in wanted)


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for entry in env["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            if not item.startswith("-"):
                found.update([requirement(item)])
    return found


def test_environment_yml_and_pyproject_ask_for_the_same_packages():
    conda = conda_requirements()
    assert conda.pop("python") == ">=3.11"
    conda.pop("pip")
    assert conda == pyproject_requirements()


def test_environment_yml_installs_course_lib_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert "-e ." in pip_section


def test_python_floor_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
