"""The speed benchmark (benchmarks/rnn_speed.py) runs, reports what it promises, and times honest work.

No timing is asserted here: speed is the benchmark's business. These tests pin that the
script works end to end on tiny sizes, that its JSON has the documented schema, and that
the baseline and the torch models compute the very loss and gradients course_lib does.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib.models import LanguageModel

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "rnn_speed.py"
sys.path.insert(0, str(SCRIPT.parent))

import rnn_speed  # noqa: E402
import tutorial_loop  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
SCHEMA = {"impl": str, "cell": str, "config": str, "dtype": str, "threads": int, "tokens_per_s": float}


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def tiny_model(cell, seed=1):
    """A float64 model with non-zero biases, so that every gradient term is exercised."""
    model = LanguageModel(7, 5, cell=cell, dtype=np.float64, seed=seed)
    rng = np.random.default_rng(seed)
    for name, value in model.params.items():
        model.params[name] = value + rng.normal(0, 0.1, value.shape)
    x, y = rng.integers(0, 7, (3, 4)), rng.integers(0, 7, (3, 4))
    return model, x, y


def test_smoke_run_writes_json_rows_with_the_documented_schema(tmp_path):
    out = tmp_path / "speed.json"
    result = run_script("--smoke", "--no-torch", "--clock", "cpu", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "torch rows skipped" in result.stdout
    rows = json.loads(out.read_text())
    assert isinstance(rows, list)
    for row in rows:
        for key, kind in SCHEMA.items():
            assert isinstance(row[key], kind), (key, row)
        assert row["tokens_per_s"] > 0
        assert (row["dtype"], row["threads"], row["clock"]) == ("float32", 1, "cpu")
    seen = {(r["impl"], r["cell"], r["config"]) for r in rows}
    expected = {(impl, cell, config) for impl in ("course_lib", "baseline") for cell in CELLS for config in "abcd"}
    assert seen == expected
    for row in rows:
        if row["impl"] == "course_lib":
            assert row["vs_baseline"] > 0 and row["vs_torch"] is None
        if row["config"] == "b":
            assert row["peak_step_memory_mib"] is None or row["peak_step_memory_mib"] >= 0


def test_smoke_run_has_torch_rows_and_ratios_when_torch_is_installed(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "speed.json"
    result = run_script("--smoke", "--no-memory", "--configs", "a", "--cells", "lstm",
                        "--threads", "2", "--dtype", "float64", "--json", str(out))
    assert result.returncode == 0, result.stderr
    rows = json.loads(out.read_text())
    assert {r["impl"] for r in rows} == {"course_lib", "baseline", "torch"}
    assert all((r["dtype"], r["threads"], r["config"], r["cell"]) == ("float64", 2, "a", "lstm") for r in rows)
    torch_row = rnn_speed.find(rows, "torch", "lstm", "a")
    assert torch_row["torch_input"] in ("one-hot", "embedding")
    ours = rnn_speed.find(rows, "course_lib", "lstm", "a")
    assert ours["vs_torch"] == pytest.approx(ours["tokens_per_s"] / torch_row["tokens_per_s"], rel=0.01)


def test_json_path_that_exists_is_not_overwritten(tmp_path):
    out = tmp_path / "mine.json"
    out.write_text("my notes")
    result = run_script("--smoke", "--no-torch", "--no-memory", "--json", str(out))
    assert result.returncode != 0
    assert "--overwrite" in result.stderr
    assert out.read_text() == "my notes"


@pytest.mark.parametrize("args, named", [(["--threads", "0"], "--threads"), (["--configs", "a,e"], "--configs"),
                                         (["--cells", "transformer"], "--cells"), (["--dtype", "float16"], "--dtype"),
                                         (["--clock", "sundial"], "--clock")])
def test_bad_arguments_are_refused_naming_the_argument(args, named):
    result = run_script(*args)
    assert result.returncode == 2
    assert named in result.stderr


@pytest.mark.parametrize("cell", CELLS)
def test_baseline_loop_computes_course_libs_loss_and_gradients(cell):
    model, x, y = tiny_model(cell)
    loss, grads, _ = model.loss_and_grads(x, y)
    base_loss, base_grads = tutorial_loop.loss_and_grads(cell, x, y, tutorial_loop.from_course_lib(model.params, cell))
    base_grads = tutorial_loop.to_course_lib(base_grads, cell)
    assert base_loss == pytest.approx(loss, rel=1e-12)
    assert set(base_grads) == set(grads)
    for name in grads:
        np.testing.assert_allclose(base_grads[name], grads[name], rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", CELLS)
def test_torch_one_hot_model_computes_course_libs_loss_and_gradients(cell):
    pytest.importorskip("torch")
    import torch_equivalent

    model, x, y = tiny_model(cell)
    loss, grads, _ = model.loss_and_grads(x, y)
    net = torch_equivalent.make_model(7, 5, cell, "one-hot", "float64")
    torch_equivalent.load_course_lib_params(net, model.params, cell)
    assert torch_equivalent.training_step(net, x, y)() == pytest.approx(loss, rel=1e-10)
    np.testing.assert_allclose(net.out.weight.grad.numpy().T, grads["W_out"], rtol=1e-7, atol=1e-12)
    H = 5
    order = [0, 1, 3, 2] if cell == "lstm" else range(grads["Wh0"].shape[1] // H)
    Wh_grad = net.rnn.weight_hh_l0.grad.numpy().T
    Wh_grad = np.hstack([Wh_grad[:, k * H:(k + 1) * H] for k in order])
    np.testing.assert_allclose(Wh_grad, grads["Wh0"], rtol=1e-7, atol=1e-12)


def test_step_flops_count_the_recurrent_and_output_matmuls():
    cfg = {"batch": 2, "seq": 3, "hidden": 4, "vocab": 5}
    # forward, backward-to-input and weight-gradient matmuls: 3 x 2*N*T*H*(G + V)
    assert rnn_speed.step_flops("rnn", cfg) == 3 * 2 * 2 * 3 * 4 * (4 + 5)
    assert rnn_speed.step_flops("lstm", cfg) == 3 * 2 * 2 * 3 * 4 * (16 + 5)
    assert rnn_speed.step_flops("gru", cfg) == 3 * 2 * 2 * 3 * 4 * (12 + 5)


def row(impl, cell, config, **extra):
    return {"impl": impl, "cell": cell, "config": config, **extra}


def test_targets_report_says_met_only_when_every_size_reaches_the_floor():
    rows = [row("course_lib", "rnn", c, vs_torch=1.2, vs_baseline=25.0) for c in "abc"]
    rows += [row("course_lib", "lstm", c, vs_torch=v, vs_baseline=30.0) for c, v in zip("abc", (0.95, 0.89, 1.1))]
    lines = rnn_speed.target_lines(rows, "float32", 1)
    assert any(line.startswith("course_lib/torch >= 1 for rnn") and line.endswith("met") for line in lines)
    assert any(line.startswith("course_lib/torch >= 0.9 for lstm") and line.endswith("MISSED") for line in lines)
    assert any(line.startswith("course_lib/baseline >= 20 for rnn") and line.endswith("met") for line in lines)
    assert any("for gru" in line and "not measured" in line for line in lines)
    assert not any("targets are for float32" in line for line in lines)
    assert "targets are for float32" in rnn_speed.target_lines(rows, "float64", 2)[0]
