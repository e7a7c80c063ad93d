"""The grading process: runs one student's exercise functions on the hidden inputs.

Started by `sandbox.py` with `python -I`, in an empty working folder. In order:
1. read the job (cells to run, inputs of every case) from stdin, set resource limits;
2. import numpy and course_lib, then replace course_lib's own implementations of the
   exercises (and the functions they are built from) by stubs that raise, so a
   function that only calls course_lib's version fails;
3. install an audit hook: no new processes, no killing other processes, no reading
   course_lib's source (no way to reload the real functions), no writing outside the
   working folder, no network, no digging through the garbage collector;
4. run the student's definitions (imports, defs and plain assignments only);
5. call each exercise function on each case and send its outputs back on the result
   pipe, one JSON line per exercise.
The expected answers never enter this process: the parent compares, so nothing the
student's code does here can turn a wrong answer into a pass.
"""
import ast
import builtins
import importlib
import inspect
import os
import pickle
import resource
import sys
import traceback

BLOCKED_MODULES = ("data", "layers", "models", "optim", "sampling", "metrics", "gradcheck", "train")
ALLOWED = frozenset({"course_lib.layers.sigmoid"})
PRELOADED = ("course_lib.exercises", "course_lib.checks", "course_lib.progress")
FORBIDDEN_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "pty.spawn", "os.killpg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
    "resource.setrlimit", "resource.prlimit", "os.remove", "os.rmdir", "os.rename", "os.truncate",
    "shutil.rmtree", "os.chmod", "os.chown", "os.link", "os.symlink", "socket.connect", "socket.bind",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
})
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
MAX_MESSAGE = 64_000_000


class ReferenceCallError(Exception):
    """Raised by course_lib's functions while an exercise is graded."""


def main():
    job = pickle.loads(sys.stdin.buffer.read())
    limit_resources(job["memory_mb"], job["cpu_seconds"])
    fd = job["result_fd"]
    from . import wire

    send = _sender(fd, wire.dumps)
    blocked_dir = block_references()
    send({"type": "ready"})
    install_guard(job["workdir"], blocked_dir)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    errors = load_cells(job["cells"], namespace)
    send({"type": "loaded", "errors": errors})
    for exercise in job["exercises"]:
        message = run_exercise(exercise, namespace, wire.encode)
        text = wire.dumps(message)
        if len(text) > MAX_MESSAGE:
            text = wire.dumps({"type": "exercise", "name": exercise["name"], "too_large": True})
        send(text)
    os._exit(0)


def limit_resources(memory_mb, cpu_seconds):
    """Cap address space, CPU time, file size and core dumps (soft = hard: no raising them)."""
    for limit, value in ((resource.RLIMIT_AS, memory_mb << 20), (resource.RLIMIT_CPU, cpu_seconds),
                         (resource.RLIMIT_FSIZE, 10 << 20), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # macOS refuses RLIMIT_AS; the parent's time limits still hold
            pass


def _sender(fd, dumps):
    def send(message):
        data = (message if isinstance(message, str) else dumps(message)).encode() + b"\n"
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    return send


def _stub(qualified_name):
    def off_limits(*args, **kwargs):
        raise ReferenceCallError(f"{qualified_name} is course_lib's own version; "
                                 "an exercise has to compute its answer itself")
    off_limits.__name__ = off_limits.__qualname__ = qualified_name.rsplit(".", 1)[1]
    return off_limits


def block_references():
    """Replace course_lib's implementations by stubs everywhere they can be reached.

    Returns course_lib's folder, whose files the guard then keeps closed (a reload would
    otherwise bring the real functions back).
    """
    import course_lib

    for name in BLOCKED_MODULES + PRELOADED:
        try:
            importlib.import_module(f"course_lib.{name.removeprefix('course_lib.')}")
        except ImportError:
            pass
    originals = {}
    for short in BLOCKED_MODULES:
        module = sys.modules.get(f"course_lib.{short}")
        for attr, obj in vars(module or object()).items():
            qualified = f"course_lib.{short}.{attr}"
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and qualified not in ALLOWED:
                originals[id(obj)] = qualified
    stubs = {}
    for name, module in list(sys.modules.items()):
        if name == "course_lib" or name.startswith("course_lib."):
            for attr, obj in list(vars(module).items()):
                if id(obj) in originals:
                    qualified = originals[id(obj)]
                    setattr(module, attr, stubs.setdefault(qualified, _stub(qualified)))
    return os.path.dirname(os.path.realpath(course_lib.__file__))


def install_guard(workdir, protected_dir):
    """An audit hook that keeps the student's code away from the grader and the machine."""
    own_pid = os.getpid()
    workdir = os.path.realpath(workdir) + os.sep
    protected = protected_dir + os.sep
    realpath, fsdecode = os.path.realpath, os.fsdecode

    def guard(event, args):
        if event in FORBIDDEN_EVENTS:
            raise PermissionError(f"{event} is not allowed while grading")
        if event == "open" and isinstance(args[0], (str, bytes)):
            path = realpath(fsdecode(args[0]))
            mode, flags = args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & WRITE_FLAGS)
            if path.startswith(protected):
                raise PermissionError("reading course_lib's files is not allowed while grading")
            if writing and not path.startswith(workdir) and path != "/dev/null":
                raise PermissionError(f"writing {path} is not allowed while grading")
        elif event == "os.kill" and args[0] != own_pid:
            raise PermissionError("killing other processes is not allowed while grading")

    sys.addaudithook(guard)


def load_cells(cells, namespace):
    """Run the chosen top-level statements of each cell; return what went wrong where."""
    errors = []
    for index, text, keep in cells:
        tree = ast.parse(text)
        for position in keep:
            node = tree.body[position]
            code = compile(ast.Module(body=[node], type_ignores=[]), f"<cell {index}>", "exec")
            try:
                exec(code, namespace)
            except BaseException as error:
                errors.append(f"cell {index}, line {node.lineno}: {describe_error(error)}")
    return errors


def describe_error(error):
    text = str(error).strip().splitlines()
    return type(error).__name__ + (f": {text[0][:300]}" if text else "")


def error_kind(error):
    chain = []
    while error is not None and len(chain) < 10:
        chain.append(error)
        error = error.__cause__ or error.__context__
    if any(isinstance(e, ReferenceCallError) for e in chain):
        return "reference"
    if isinstance(chain[0], NotImplementedError):
        return "not_done"
    if isinstance(chain[0], MemoryError):
        return "memory"
    return "error"


def error_location(error):
    """`cell 5, line 3`: the last line of the student's own code the error passed through."""
    where = None
    for frame, line in traceback.walk_tb(error.__traceback__):
        name = frame.f_code.co_filename
        if name.startswith("<cell "):
            where = f"{name[1:-1]}, line {line}"
    return where


def run_exercise(exercise, namespace, encode):
    """Call the student's function on every case; return the message for the parent."""
    name = exercise["name"]
    fn = namespace.get(name)
    if not callable(fn):
        return {"type": "exercise", "name": name, "found": False, "cases": []}
    forward = namespace.get(exercise["forward"]) if exercise["forward"] else None
    results = []
    for case in exercise["cases"]:
        attempts = []
        for cache in _caches(forward, case):
            args = pickle.loads(case["args"])
            if cache is not None:
                args = args[:-1] + (cache,)
            attempts.append(_attempt(fn, args, exercise, case["unchanged"], encode))
        results.append(attempts)
        if all(a.get("error", {}).get("kind") == "not_done" for a in attempts):
            break  # not started: every further case would say the same
    return {"type": "exercise", "name": name, "found": True, "cases": results}


def _caches(forward, case):
    """None (use course_lib's cache in the args) and, when it works, the student's own."""
    caches = []
    if callable(forward) and case["forward_args"] is not None:
        try:
            produced = forward(*pickle.loads(case["forward_args"]))
            if isinstance(produced, tuple) and len(produced) > 1:
                caches.append(produced[-1])
        except Exception:
            pass
    return caches + [None]


def _attempt(fn, args, exercise, unchanged, encode):
    try:
        value = fn(*args)
    except BaseException as error:
        return {"error": {"kind": error_kind(error), "text": describe_error(error), "where": error_location(error)}}
    n, compared = exercise["n_outputs"], exercise["compared"]
    if n > 1 and type(value) in (tuple, list) and len(value) == n:
        value = tuple(value[:compared]) + (None,) * (n - compared)  # caches stay here
    try:
        result = {"output": encode(value)}
        if unchanged:
            result["after"] = encode(tuple(args))
    except Exception as error:  # an object that breaks while being read is the student's
        return {"error": {"kind": "error", "text": f"returned something unreadable ({describe_error(error)})",
                          "where": None}}
    return result


if __name__ == "__main__":
    main()
