"""Running a student's exercises in a separate process, with limits, and surviving it.

One notebook's exercises run in one `runner` process. The parent waits for each
exercise's result with a deadline; when the process dies (os._exit, a signal) or an
exercise takes too long, the parent kills the process group, records that for the
exercise, and starts a fresh process for the exercises after it. The whole notebook
also has a time budget. Results travel on a pipe opened before the student's code runs.
"""
import json
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import wire

BOOT = "import sys; sys.path.insert(0, {root!r}); from course_lib.grading.runner import main; main()"
STARTUP_SECONDS = 60
MAX_LINE = 80_000_000


@dataclass(frozen=True)
class Limits:
    """timeout: seconds for all of a notebook's exercises; exercise_timeout: for each one."""
    timeout: float = 120.0
    exercise_timeout: float = 20.0
    memory_mb: int = 2048


@dataclass
class Failure:
    """An exercise that produced no result: status "timeout", "crashed" or "grader_error"."""
    status: str
    text: str


class _Timeout(Exception):
    pass


class _Channel:
    """JSON lines from a pipe, each awaited until a deadline."""

    def __init__(self, fd):
        self.fd, self.buffer = fd, bytearray()

    def receive(self, deadline):
        """The next message; None at end of file; _Timeout past the deadline."""
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                raise _Timeout()
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > MAX_LINE:
                raise wire.WireError("a message larger than any result")
        line, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        try:
            return json.loads(line)
        except ValueError:
            raise wire.WireError("a line that is not JSON") from None


class _Runner:
    """One runner process and its result pipe."""

    def __init__(self, job, workdir, limits):
        read_fd, write_fd = os.pipe()
        self.errors = open(Path(workdir).parent / f"stderr-{time.monotonic_ns()}.txt", "w+b")
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "MPLBACKEND": "Agg"}
        root = str(Path(__file__).resolve().parents[2])
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT.format(root=root)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=self.errors, cwd=workdir, env=env,
            pass_fds=(write_fd,), start_new_session=True)
        os.close(write_fd)
        self.channel = _Channel(read_fd)
        self.read_fd = read_fd
        job = {**job, "result_fd": write_fd, "workdir": str(workdir), "memory_mb": limits.memory_mb,
               "cpu_seconds": int(limits.timeout) + 10}
        try:
            self.process.stdin.write(pickle.dumps(job))
            self.process.stdin.close()
        except BrokenPipeError:
            pass

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        os.close(self.read_fd)
        self.errors.close()

    def exit_text(self):
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            return f"was killed by signal {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def stderr_tail(self):
        self.errors.flush()
        self.errors.seek(0)
        lines = self.errors.read()[-2000:].decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else "no error message"


def run_notebook(cells, exercises, limits, workdir):
    """Run `exercises` (job dicts, in order) against the student's `cells`.

    Returns (load_errors, results): results maps each exercise name to the runner's
    message or to a Failure.
    """
    deadline = time.monotonic() + limits.timeout
    results, load_errors, remaining = {}, None, list(exercises)
    while remaining:
        if time.monotonic() >= deadline:
            for exercise in remaining:
                results[exercise["name"]] = Failure("timeout", f"not run: the notebook's time limit of "
                                                    f"{limits.timeout:g} s ran out")
            break
        runner = _Runner({"cells": cells, "exercises": remaining}, workdir, limits)
        try:
            done, errors = _collect(runner, remaining, limits, deadline, results)
        finally:
            runner.stop()
        if load_errors is None:
            load_errors = errors
        remaining = remaining[done:]
    return load_errors or [], results


def _collect(runner, exercises, limits, deadline, results):
    """Read one runner's messages; return (exercises settled, load errors)."""
    def wait(seconds):
        return runner.channel.receive(min(time.monotonic() + seconds, deadline))

    try:
        ready = wait(STARTUP_SECONDS)
    except (_Timeout, wire.WireError):
        ready = None
    if not ready or ready.get("type") != "ready":
        text = f"the grading process failed before running any student code: {runner.stderr_tail()}"
        for exercise in exercises:
            results[exercise["name"]] = Failure("grader_error", text)
        return len(exercises), None
    stage = "loading your code"
    try:
        loaded = wait(limits.exercise_timeout)
        if not loaded or loaded.get("type") != "loaded":
            raise wire.WireError("no report after loading")
        errors = [str(e)[:500] for e in loaded.get("errors", [])][:50]
        for done, exercise in enumerate(exercises):
            stage = f"running {exercise['name']}"
            message = wait(limits.exercise_timeout)
            if message is None or message.get("type") != "exercise" or message.get("name") != exercise["name"]:
                raise wire.WireError("no result")
            results[exercise["name"]] = message
        return len(exercises), errors
    except _Timeout:
        limit = (f"the notebook's time limit of {limits.timeout:g} s" if time.monotonic() >= deadline
                 else f"the time limit of {limits.exercise_timeout:g} s per exercise")
        failure = Failure("timeout", f"did not finish {stage} within {limit}")
    except wire.WireError:
        failure = Failure("crashed", f"the process running your code {runner.exit_text()} while {stage}")
    if stage == "loading your code":
        for exercise in exercises:
            results[exercise["name"]] = failure
        return len(exercises), []
    results[exercise["name"]] = failure
    return done + 1, errors
