"""How fast does course_lib train a recurrent language model? (GitHub issue 3)

    python benchmarks/rnn_speed.py                     # float32, 1 thread, every size
    python benchmarks/rnn_speed.py --json out.json     # also write the numbers as JSON
    python benchmarks/rnn_speed.py --threads 2 --dtype float64 --configs a,b --cells lstm

Times one training step -- one-hot input of vocabulary V, the recurrent cell over T steps,
an affine map to V logits, mean softmax cross-entropy, backpropagation to every parameter
gradient, no optimiser update -- of course_lib's RNN, LSTM and GRU language models, and
the same step done by
  - baseline: a per-sequence, per-time-step loop in the style of from-scratch
    tutorials (benchmarks/tutorial_loop.py), and
  - torch: torch.nn.RNN/LSTM/GRU models of the same sizes, when torch is installed
    (benchmarks/torch_equivalent.py explains how its input is made equivalent).
Each number is the median over repeated steps after warm-up; the implementations of one
(cell, size) are timed in alternating rounds so that a busy machine slows them alike.

Also measured in the same run: the machine's matmul peak (GFLOP/s of a square matmul),
the share of it each implementation reaches, and the memory training takes at size b.
benchmarks/README.md explains the method and shows a run.
"""
import argparse
import datetime
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import tutorial_loop  # noqa: E402  (benchmarks/ is not a package)
from course_lib.models import GATES, LanguageModel  # noqa: E402

CONFIGS = {
    "a": {"vocab": 65, "batch": 32, "seq": 64, "hidden": 128, "what": "character level"},
    "b": {"vocab": 65, "batch": 32, "seq": 64, "hidden": 256, "what": "character level, wider"},
    "c": {"vocab": 5000, "batch": 32, "seq": 32, "hidden": 128, "what": "word level"},
    "d": {"vocab": 65, "batch": 1, "seq": 25, "hidden": 100, "what": "min-char-rnn sized"},
}
# The baseline handles one sequence after another, so its tokens/s does not depend on the
# batch size; to keep the run short it is timed on the first few sequences of the batch.
BASELINE_SEQUENCES = {"a": 8, "b": 8, "c": 2, "d": 1}
# --smoke: the same four shapes shrunk, to check the script end to end in seconds.
SMOKE_CONFIGS = {
    "a": {"vocab": 11, "batch": 3, "seq": 4, "hidden": 6, "what": "smoke"},
    "b": {"vocab": 11, "batch": 3, "seq": 4, "hidden": 8, "what": "smoke"},
    "c": {"vocab": 50, "batch": 2, "seq": 3, "hidden": 6, "what": "smoke"},
    "d": {"vocab": 11, "batch": 1, "seq": 5, "hidden": 5, "what": "smoke"},
}
CELLS = ("rnn", "lstm", "gru")
MEMORY_CONFIG = "b"
# What issue 3 asks for, measured in float32 with one thread.
TARGETS = [
    ("course_lib/torch", "rnn", "abc", 1.0), ("course_lib/torch", "gru", "abc", 1.0),
    ("course_lib/torch", "lstm", "abc", 0.9),
    ("course_lib/baseline", "rnn", "a", 20.0), ("course_lib/baseline", "lstm", "a", 20.0),
    ("course_lib/baseline", "gru", "a", 20.0),
]
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
            "MKL_NUM_THREADS")


def import_torch():
    """torch and benchmarks/torch_equivalent.py, or (None, None) when torch is not installed."""
    try:
        import torch
        import torch_equivalent
    except ImportError:
        return None, None
    return torch, torch_equivalent


# -- the steps being timed ---------------------------------------------------------------

def token_batch(cfg, seed=0):
    rng = np.random.default_rng(seed)
    shape = (cfg["batch"], cfg["seq"])
    return rng.integers(0, cfg["vocab"], shape), rng.integers(0, cfg["vocab"], shape)


def build_step(impl, cell, cfg, dtype, torch_input="one-hot", seed=0, sequences=None):
    """A no-argument function that runs one training step of `impl` on a fixed batch.

    All three start from the same course_lib weights (torch's "embedding" variant, a
    different parametrisation, from its own seeded initialisation). sequences: use only
    the first few sequences of the batch (for the baseline).
    """
    x, y = token_batch(cfg, seed)
    x, y = x[:sequences], y[:sequences]
    model = LanguageModel(cfg["vocab"], cfg["hidden"], cell=cell, dtype=dtype, seed=seed)
    if impl == "course_lib":
        return lambda: model.loss_and_grads(x, y)
    if impl == "baseline":
        params = tutorial_loop.from_course_lib(model.params, cell)
        return lambda: tutorial_loop.loss_and_grads(cell, x, y, params)
    _, torch_equivalent = import_torch()
    net = torch_equivalent.make_model(cfg["vocab"], cfg["hidden"], cell, torch_input, dtype, seed)
    if torch_input == "one-hot":
        torch_equivalent.load_course_lib_params(net, model.params, cell)
    return torch_equivalent.training_step(net, x, y)


def step_flops(cell, cfg):
    """Matmul FLOPs of the essential work of one step (the same count for every implementation).

    Recurrence h_{t-1} Wh, its two backward matmuls (dh_{t-1}, dWh): 3 * 2*N*T*H*G;
    output layer h W_out and its two backward matmuls: 3 * 2*N*T*H*V. The one-hot input
    term is a row lookup (no FLOPs); elementwise work is not counted.
    """
    N, T, H, V = cfg["batch"], cfg["seq"], cfg["hidden"], cfg["vocab"]
    return 6 * N * T * H * (GATES[cell] * H + V)


# -- timing --------------------------------------------------------------------------------

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]


def seconds_of(step):
    start = clock()
    step()
    return clock() - start


def time_interleaved(steps, budget, min_repeats, rounds):
    """Median seconds per step of each function in `steps` (dict name -> function).

    Each is warmed up, then all are timed in `rounds` alternating rounds, each getting
    about `budget` seconds in total (at least `min_repeats` steps).
    Returns {name: (median_seconds, number_of_timed_steps)}.
    """
    estimate = {}
    for name, step in steps.items():
        estimate[name] = seconds_of(step)
        if estimate[name] < budget / 20:  # cheap: one more warm-up, then trust the estimate
            estimate[name] = seconds_of(step)
    per_round = {name: max(1, math.ceil(max(min_repeats, budget / max(t, 1e-9)) / rounds))
                 for name, t in estimate.items()}
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            times[name].extend(seconds_of(step) for _ in range(per_round[name]))
    return {name: (statistics.median(ts), len(ts)) for name, ts in times.items()}


def matmul_peak_gflops(dtype, n, torch=None, tries=5):
    """Best GFLOP/s of an (n, n) @ (n, n) matmul in NumPy, and in torch when given."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)).astype(dtype), rng.standard_normal((n, n)).astype(dtype)
    out = np.empty_like(a)
    numpy_best = min(seconds_of(lambda: np.matmul(a, b, out=out)) for _ in range(tries + 1))
    peaks = {"numpy": 2 * n**3 / numpy_best / 1e9}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        torch_best = min(seconds_of(lambda: torch.mm(ta, tb)) for _ in range(tries + 1))
        peaks["torch"] = 2 * n**3 / torch_best / 1e9
    return peaks


# -- peak memory of one step, measured in a fresh process ----------------------------------

def rss_line(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def probe_memory(spec):
    """Child process: how far two training steps raise the resident memory, in bytes.

    Measured from just before the first step, in a fresh process, so that what an
    implementation allocates once and keeps (course_lib's reused arrays, torch's caches)
    counts too. Linux only: /proc/self/clear_refs resets the peak (VmHWM). Run with
    MALLOC_MMAP_THRESHOLD_ fixed so freed arrays go back to the system at once and the
    resident size follows live memory.
    """
    from threadpoolctl import threadpool_limits

    if spec["impl"] == "torch":
        torch, _ = import_torch()
        torch.set_num_threads(spec["threads"])
    with threadpool_limits(limits=spec["threads"]):
        step = build_step(spec["impl"], spec["cell"], spec["cfg"], spec["dtype"], spec["torch_input"],
                          sequences=spec["sequences"])
        gc.collect()
        before = rss_line("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
        except OSError:  # some sandboxes refuse: no measurement rather than a wrong one
            return None
        step()
        step()
        return rss_line("VmHWM") - before


def peak_step_memory(impl, cell, cfg, dtype, threads, torch_input, sequences=None):
    """MiB by which the first two training steps raise a fresh process's resident memory
    (beyond the model and the batch), or None where that cannot be measured (not Linux)."""
    if not Path("/proc/self/clear_refs").exists():
        return None
    spec = {"impl": impl, "cell": cell, "cfg": cfg, "dtype": dtype, "threads": threads,
            "torch_input": torch_input, "sequences": sequences}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    result = subprocess.run([sys.executable, __file__, "--memory-probe", json.dumps(spec)],
                            capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"memory probe for {impl} {cell} failed:\n{result.stderr}")
    measured = result.stdout.strip().splitlines()[-1]
    return None if measured == "None" else int(measured) / 2**20


# -- reporting -------------------------------------------------------------------------------

def blas_description():
    from threadpoolctl import threadpool_info

    libs = [f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture', '?')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    env = [f"{k}={os.environ[k]}" for k in BLAS_ENV if k in os.environ]
    return "; ".join(libs) + " | env: " + (", ".join(env) if env else "no BLAS variables set")


def thousands(x):
    return "-" if x is None else f"{x / 1000:,.1f}k"


def ratio_text(x):
    return "-" if x is None else f"{x:.2f}"


def percent(x):
    return "-" if x is None else f"{100 * x:.0f}%"


def find(rows, impl, cell, config):
    return next((r for r in rows if (r["impl"], r["cell"], r["config"]) == (impl, cell, config)), None)


def table_lines(rows, configs, cells, markdown=False):
    header = ["config", "cell", "course_lib tok/s", "baseline tok/s", "torch tok/s",
              "course_lib/torch", "course_lib/baseline", "% of matmul peak (course_lib / baseline / torch)"]
    body = []
    for config in configs:
        for cell in cells:
            ours, base, theirs = (find(rows, impl, cell, config) for impl in ("course_lib", "baseline", "torch"))
            speed = lambda r: None if r is None else r["tokens_per_s"]
            torch_text = "-" if theirs is None else f"{thousands(theirs['tokens_per_s'])} ({theirs['torch_input']})"
            shares = " / ".join(percent(None if r is None else r["share_of_matmul_peak"]) for r in (ours, base, theirs))
            body.append([config, cell, thousands(speed(ours)), thousands(speed(base)), torch_text,
                         ratio_text(ours.get("vs_torch")), ratio_text(ours.get("vs_baseline")), shares])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return lines + ["| " + " | ".join(row) + " |" for row in body]
    widths = [max(len(str(row[i])) for row in [header] + body) for i in range(len(header))]
    fmt = lambda row: "  ".join(str(v).rjust(w) if i > 1 else str(v).ljust(w) for i, (v, w) in enumerate(zip(row, widths)))
    return [fmt(header)] + [fmt(row) for row in body]


def memory_lines(rows, cells, markdown=False):
    header = ["cell", "course_lib MiB", "baseline MiB", "torch MiB"]
    body = []
    for cell in cells:
        values = []
        for impl in ("course_lib", "baseline", "torch"):
            r = find(rows, impl, cell, MEMORY_CONFIG)
            mib = None if r is None else r.get("peak_step_memory_mib")
            values.append("-" if mib is None else f"{mib:.1f}")
        body.append([cell] + values)
    if markdown:
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
               ["| " + " | ".join(row) + " |" for row in body]
    return ["  ".join(f"{v:>14}" if i else f"{v:<5}" for i, v in enumerate(row)) for row in [header] + body]


def target_lines(rows, dtype, threads):
    lines = []
    if dtype != "float32" or threads != 1:
        lines.append(f"(issue 3's targets are for float32 and 1 thread; this run is {dtype}, {threads} thread(s))")
    for name, cell, configs, floor in TARGETS:
        key = "vs_torch" if name.endswith("torch") else "vs_baseline"
        values = {c: find(rows, "course_lib", cell, c) for c in configs}
        got = {c: r[key] for c, r in values.items() if r is not None and r.get(key) is not None}
        if not got:
            lines.append(f"{name} >= {floor:g} for {cell}: not measured in this run")
            continue
        verdict = "met" if all(v >= floor for v in got.values()) else "MISSED"
        shown = ", ".join(f"{c} {v:.2f}" for c, v in got.items())
        lines.append(f"{name} >= {floor:g} for {cell} at {', '.join(configs)}: {shown}  -> {verdict}")
    return lines


def write_json(path, rows, overwrite):
    path = Path(path)
    if path.exists() and not overwrite:
        raise SystemExit(f"--json: {path} exists; pass --overwrite to replace it, or choose another path")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows, indent=1) + "\n")


# -- the run ---------------------------------------------------------------------------------

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def choice_list(allowed):
    def parse(text):
        items = [item.strip() for item in text.split(",") if item.strip()]
        wrong = [item for item in items if item not in allowed]
        if wrong or not items:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(allowed)}, got {text!r}")
        return [item for item in allowed if item in items]
    return parse


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=positive_int, default=1, help="BLAS/torch threads (default 1)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")
    parser.add_argument("--overwrite", action="store_true", help="let --json replace an existing file")
    parser.add_argument("--configs", type=choice_list(tuple(CONFIGS)), default=list(CONFIGS),
                        help="sizes to run, e.g. a,b (default a,b,c,d)")
    parser.add_argument("--cells", type=choice_list(CELLS), default=list(CELLS), help="e.g. lstm,gru")
    parser.add_argument("--budget", type=float, default=0.6,
                        help="seconds of timed steps per implementation and size (default 0.6)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: CPU time of this process, all threads "
                             "(steadier when other programs share the machine)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch rows even if torch is installed")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--markdown", action="store_true", help="also print the tables as markdown")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and single repeats: checks that the script works; the numbers mean nothing")
    parser.add_argument("--memory-probe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.budget >= 0:
        parser.error(f"--budget must be a number of seconds >= 0, got {args.budget}")
    return args


def run(args):
    global clock
    clock = CLOCKS[args.clock]
    torch, _ = (None, None) if args.no_torch else import_torch()
    configs = SMOKE_CONFIGS if args.smoke else CONFIGS
    budget, min_repeats, rounds = (0.0, 1, 1) if args.smoke else (args.budget, 3, 3)
    if torch is not None:
        torch.set_num_threads(args.threads)

    print(f"rnn_speed: {args.dtype}, {args.threads} thread(s), {args.clock} clock, numpy {np.__version__}"
          + ("" if torch is None else f", torch {torch.__version__}"))
    print(f"BLAS: {blas_description()}")
    if torch is None:
        why = "--no-torch" if args.no_torch else "torch is not installed"
        print(f"torch rows skipped ({why}); `pip install torch` to compare with torch.nn")

    peaks = matmul_peak_gflops(args.dtype, 64 if args.smoke else 1024, torch)
    peak = max(peaks.values())
    print("matmul peak: " + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items())
          + f" -> machine peak {peak:.1f} GFLOP/s")

    rows = []
    for config in args.configs:
        cfg = configs[config]
        print(f"timing config {config}: vocab {cfg['vocab']}, batch {cfg['batch']}, seq {cfg['seq']}, "
              f"hidden {cfg['hidden']} ({cfg['what']})", flush=True)
        for cell in args.cells:
            steps = {"course_lib": build_step("course_lib", cell, cfg, args.dtype),
                     "baseline": build_step("baseline", cell, cfg, args.dtype,
                                            sequences=BASELINE_SEQUENCES[config])}
            if torch is not None:
                for mode in ("one-hot", "embedding"):
                    steps[f"torch:{mode}"] = build_step("torch", cell, cfg, args.dtype, torch_input=mode)
            timed = time_interleaved(steps, budget, min_repeats, rounds)
            torch_modes = {k: v for k, v in timed.items() if k.startswith("torch:")}
            chosen = {"course_lib": timed["course_lib"], "baseline": timed["baseline"]}
            if torch_modes:
                fastest = min(torch_modes, key=lambda k: torch_modes[k][0])
                chosen["torch"] = torch_modes[fastest]
            for impl, (seconds, repeats) in chosen.items():
                batch = min(cfg["batch"], BASELINE_SEQUENCES[config]) if impl == "baseline" else cfg["batch"]
                tokens = batch * cfg["seq"]
                gflops = step_flops(cell, dict(cfg, batch=batch)) / seconds / 1e9
                row = {"impl": impl, "cell": cell, "config": config, "dtype": args.dtype,
                       "threads": args.threads, "tokens_per_s": round(tokens / seconds, 1), "clock": args.clock,
                       "vocab": cfg["vocab"], "batch": batch, "seq_len": cfg["seq"],
                       "hidden": cfg["hidden"], "ms_per_step": round(1000 * seconds, 3),
                       "timed_steps": repeats, "gflops": round(gflops, 2),
                       "share_of_matmul_peak": round(gflops / peak, 4),
                       "matmul_peak_gflops": round(peak, 1)}
                if impl == "torch":
                    row["torch_input"] = fastest.split(":")[1]
                    row["torch_input_tokens_per_s"] = {k.split(":")[1]: round(tokens / v[0], 1)
                                                       for k, v in torch_modes.items()}
                rows.append(row)
            ours = find(rows, "course_lib", cell, config)
            theirs = find(rows, "torch", cell, config)
            ours["vs_baseline"] = round(ours["tokens_per_s"] / find(rows, "baseline", cell, config)["tokens_per_s"], 2)
            ours["vs_torch"] = None if theirs is None else round(ours["tokens_per_s"] / theirs["tokens_per_s"], 2)

    if MEMORY_CONFIG in args.configs and not args.no_memory:
        print(f"measuring the memory of training steps at config {MEMORY_CONFIG} (a fresh process each)", flush=True)
        for row in rows:
            if row["config"] == MEMORY_CONFIG:
                row["peak_step_memory_mib"] = peak_step_memory(
                    row["impl"], row["cell"], configs[MEMORY_CONFIG], args.dtype, args.threads,
                    row.get("torch_input", "one-hot"), sequences=row["batch"])
                if row["peak_step_memory_mib"] is not None:
                    row["peak_step_memory_mib"] = round(row["peak_step_memory_mib"], 2)

    print()
    print(f"tokens/s of one training step ({args.dtype}, {args.threads} thread(s); median of repeats; "
          f"k = thousand)")
    for line in table_lines(rows, args.configs, args.cells):
        print(line)
    print("baseline: timed on the first " + ", ".join(f"{min(configs[c]['batch'], BASELINE_SEQUENCES[c])} ({c})"
                                                   for c in args.configs)
          + " sequences of the batch; it handles one sequence after another, so its tokens/s does not depend on the batch")
    if torch is not None:
        print("torch: the faster of its two input forms, one-hot or nn.Embedding(V, H) (benchmarks/torch_equivalent.py)")
    if any("peak_step_memory_mib" in r for r in rows):
        print()
        print(f"memory of training at config {MEMORY_CONFIG}: peak resident set of the first two steps "
              f"in a fresh process, beyond the model (MiB)")
        for line in memory_lines(rows, args.cells):
            print(line)
    print()
    print("targets of issue 3:")
    for line in target_lines(rows, args.dtype, args.threads):
        print("  " + line)
    if args.markdown:
        print()
        print("\n".join(table_lines(rows, args.configs, args.cells, markdown=True)))
        if any("peak_step_memory_mib" in r for r in rows):
            print()
            print("\n".join(memory_lines(rows, args.cells, markdown=True)))
    if args.json:
        write_json(args.json, rows, args.overwrite)
        print(f"\nwrote {len(rows)} rows to {args.json}")
    return rows


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.json and Path(args.json).exists() and not args.overwrite:
        raise SystemExit(f"--json: {args.json} exists; pass --overwrite to replace it, or choose another path")
    from threadpoolctl import threadpool_limits

    if args.memory_probe:
        print(probe_memory(json.loads(args.memory_probe)))
        return
    if not args.no_torch:
        import_torch()  # loaded before the limits, so that they reach torch's thread pool too
    started = time.perf_counter()
    with threadpool_limits(limits=args.threads):
        run(args)
    print(f"({time.perf_counter() - started:.0f} s, {datetime.date.today().isoformat()})")


if __name__ == "__main__":
    main()
