import base64
import re
import subprocess
import sys
import threading
from pathlib import Path

import ipywidgets
import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from course_lib import Adam, LanguageModel, Vocabulary, one_hot
from course_lib import widgets
from course_lib.widgets import OneHotViewer, TrainingPanel, interactive_plot


def png_bytes(output):
    return base64.b64decode(output["data"]["image/png"])


# -- interactive_plot --------------------------------------------------------------------

def draw_power(scale, n):
    plt.plot(np.arange(n) ** scale)
    plt.title(f"scale {scale}")
    print(f"scale={scale} n={n}")


def test_moving_a_slider_redraws_the_figure():
    open_before = plt.get_fignums()
    view = interactive_plot(draw_power, scale=(0.5, 2.0, 0.5), n=(2, 20))
    before = view.output.outputs
    view.controls["scale"].value = 2.0
    after = view.output.outputs
    assert view.calls == 2
    assert [o["output_type"] for o in after] == ["stream", "display_data"]
    assert after[0]["text"] == "scale=2.0 n=11\n"
    assert png_bytes(after[1]) != png_bytes(before[1])
    assert png_bytes(after[1]).startswith(b"\x89PNG")
    assert plt.get_fignums() == open_before   # captured figures are closed


def test_a_figure_left_open_elsewhere_is_not_drawn_on():
    left_open = plt.figure()
    open_before = plt.get_fignums()
    try:
        view = interactive_plot(draw_power, scale=(0.5, 2.0, 0.5), n=(2, 20))
        assert [o["output_type"] for o in view.output.outputs] == ["stream", "display_data"]
        assert left_open.axes == [] and plt.get_fignums() == open_before
    finally:
        plt.close(left_open)


def test_a_function_that_only_prints_shows_no_empty_figure():
    view = interactive_plot(lambda n: print("a" * n), n=(1, 3))
    assert view.output.outputs == ({"output_type": "stream", "name": "stdout", "text": "aa\n"},)


def test_controls_get_human_descriptions_from_their_names():
    view = interactive_plot(lambda weight_scale, cell: None, weight_scale=(0.5, 1.5), cell=["rnn", "lstm"])
    scale, cell = view.controls.values()
    assert isinstance(scale, ipywidgets.FloatSlider) and scale.description == "weight scale"
    assert isinstance(cell, ipywidgets.Dropdown) and cell.description == "cell"
    assert repr(view) == ("(interactive plot with controls: weight scale, cell; "
                          "run the notebook in JupyterLab to use it)")


def test_a_given_widget_keeps_its_description_and_value():
    lr = widgets.log_slider("learning rate", 1e-4, 1e-1, value=1e-2)
    view = interactive_plot(lambda lr: f"lr is {lr:.0e}", lr=lr)
    assert view.controls["lr"] is lr
    assert view.output.outputs[0]["text"] == "lr is 1e-02\n"


def test_a_returned_figure_is_shown_and_plt_show_is_harmless():
    def returns_figure(n):
        fig, ax = plt.subplots()
        ax.plot(range(n))
        plt.show()
        return fig

    open_before = plt.get_fignums()
    view = interactive_plot(returns_figure, n=(1, 5))
    (shown,) = view.output.outputs
    assert shown["data"]["text/plain"].endswith("with 1 Axes>")
    assert png_bytes(shown).startswith(b"\x89PNG")
    assert plt.get_fignums() == open_before


def test_an_error_in_the_function_is_shown_not_swallowed():
    view = interactive_plot(lambda n: 1 / (n - 3), n=(1, 5))
    view.controls["n"].value = 3
    (shown,) = view.output.outputs
    assert shown["name"] == "stderr"
    assert shown["text"].startswith("ZeroDivisionError: division by zero")


def test_interactive_plot_needs_a_function_and_usable_controls():
    with pytest.raises(TypeError, match="fn must be a function"):
        interactive_plot("not a function", n=(1, 2))
    with pytest.raises(ValueError, match="at least one control"):
        interactive_plot(lambda: None)
    with pytest.raises(ValueError, match=r"n: cannot make a control from \(1, 2, 3, 4\)"):
        interactive_plot(lambda n: None, n=(1, 2, 3, 4))


def test_slider_helpers_check_their_ranges():
    assert isinstance(widgets.slider("n", 1, 9), ipywidgets.IntSlider)
    assert widgets.slider("scale", 0.0, 2.0).value == 1.0
    with pytest.raises(ValueError, match=r"n: value must lie in \[min, max\] = \[1, 9\], got 12"):
        widgets.slider("n", 1, 9, value=12)
    with pytest.raises(ValueError, match="learning rate: a log slider needs 0 < min < max"):
        widgets.log_slider("learning rate", 0, 1)


# -- OneHotViewer --------------------------------------------------------------------------

def shown_matrix(viewer):
    return viewer.draw(viewer.vocab.tokenize(viewer.text.value),
                       viewer.vocab.encode(viewer.text.value)).axes[0].images[0].get_array()


def test_one_hot_viewer_shows_the_one_hot_rows_of_the_typed_text():
    vocab = Vocabulary.build("hello world")
    viewer = OneHotViewer(vocab, text="hello")
    first = viewer.output.outputs
    viewer.text.value = "low"
    ids = vocab.encode("low")
    assert viewer.ids_line.value == f"<code>ids = {ids.tolist()}</code>"
    np.testing.assert_array_equal(shown_matrix(viewer), one_hot(ids, len(vocab)))
    assert png_bytes(viewer.output.outputs[0]) != png_bytes(first[0])


def test_one_hot_viewer_with_a_big_vocabulary_shows_only_used_columns():
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = Vocabulary.build(" ".join(a + b for a in letters for b in letters), level="word")
    assert len(vocab) > 600
    viewer = OneHotViewer(vocab, text="ab ac ab")
    matrix = shown_matrix(viewer)
    assert matrix.shape == (3, 2)
    np.testing.assert_array_equal(matrix, [[1, 0], [0, 1], [1, 0]])


def test_one_hot_viewer_explains_a_token_its_vocabulary_cannot_encode():
    viewer = OneHotViewer(Vocabulary.build("abc", specials=()), text="ab")
    viewer.text.value = "abz"
    assert "unknown token &#x27;z&#x27;: it is not in the vocabulary" in viewer.ids_line.value
    assert viewer.output.outputs == ()


def test_one_hot_viewer_with_empty_text_asks_for_input():
    viewer = OneHotViewer(Vocabulary.build("abc"), text="")
    assert viewer.output.outputs == ()
    assert "type something" in viewer.ids_line.value


# -- TrainingPanel ---------------------------------------------------------------------------

VOCAB = 5
IDS = np.random.default_rng(0).integers(0, VOCAB, size=(4, 41))


class Recorder:
    """make_model / make_batches for a tiny RNN that remember what they were asked for."""

    def __init__(self):
        self.hidden_sizes, self.seq_lens = [], []
        self.steps_seen = threading.Event()

    def make_model(self, hidden_size):
        self.hidden_sizes.append(hidden_size)
        model = LanguageModel(VOCAB, hidden_size=hidden_size, cell="rnn", seed=0)
        return model, Adam(model.params, lr=1.0)   # lr is overwritten by the slider

    def make_batches(self, seq_len):
        self.seq_lens.append(seq_len)
        windows = [(IDS[:, s:s + seq_len], IDS[:, s + 1:s + seq_len + 1]) for s in range(0, 40 - seq_len + 1, seq_len)]

        def batch(step):
            if step >= 5:
                self.steps_seen.set()
            return windows[step % len(windows)]
        return batch


def small_panel(recorder, **options):
    settings = dict(hidden_size=(8, 4, 32, 4), seq_len=(10, 5, 20, 5), steps=(60, 10, 100000, 10),
                    learning_rate=(1e-2, 1e-4, 1e-1))
    settings.update(options)
    return TrainingPanel(recorder.make_model, recorder.make_batches, **settings)


def test_panel_has_the_sliders_and_buttons_the_notebooks_and_browser_tests_use():
    panel = small_panel(Recorder())
    assert [w.description for w in panel.sliders.values()] == [
        "learning rate", "hidden size", "sequence length", "training steps"]
    assert isinstance(panel.sliders["learning_rate"], ipywidgets.FloatLogSlider)
    assert (panel.train_button.description, panel.stop_button.description) == ("Train", "Stop")
    assert panel.stop_button.disabled and not panel.train_button.disabled


def test_panel_trains_with_the_slider_settings_and_keeps_model_and_history():
    recorder = Recorder()
    panel = small_panel(recorder, sample_fn=lambda model: f"sample from H={model.config['hidden_size']}")
    panel.sliders["hidden_size"].value = 12
    panel.sliders["seq_len"].value = 5
    panel.sliders["learning_rate"].value = 0.05
    panel.train(blocking=True)
    assert (recorder.hidden_sizes, recorder.seq_lens) == ([12], [5])
    assert panel.optimizer.lr == pytest.approx(0.05)
    history = panel.history
    assert len(history.steps) == 60 and history.stopped_reason is None
    assert np.mean(history.train_loss[-10:]) < np.mean(history.train_loss[:10])
    assert panel.model.params["Wh0"].shape == (12, 12)
    assert "sample from H=12" in panel.samples.value
    assert panel.caption.value.startswith("training: step 60/60")
    assert panel.status.value.startswith("finished 60 steps; last training loss")
    assert png_bytes(panel.plot.outputs[0]).startswith(b"\x89PNG")


def test_fixed_settings_get_no_slider():
    recorder = Recorder()
    panel = small_panel(recorder, seq_len=10, hidden_size=6, steps=20)
    assert list(panel.sliders) == ["learning_rate"]
    panel.train(blocking=True)
    assert (recorder.hidden_sizes, recorder.seq_lens, len(panel.history.steps)) == ([6], [10], 20)


def test_stop_button_stops_a_background_run_and_keeps_what_was_trained():
    recorder = Recorder()
    panel = small_panel(recorder)
    panel.sliders["steps"].value = 100000
    panel.train_button.click()
    assert recorder.steps_seen.wait(30), "training did not start"
    assert panel.running and panel.train_button.disabled and not panel.stop_button.disabled
    panel.stop_button.click()
    assert panel.wait(30), "training did not stop"
    history = panel.history
    assert history.stopped_reason.startswith("stopped at step")
    assert 5 <= len(history.steps) < 100000
    initial = LanguageModel(VOCAB, hidden_size=8, cell="rnn", seed=0).params["Wh0"]
    assert not np.allclose(panel.model.params["Wh0"], initial)
    assert panel.status.value.startswith("stopped at step")
    assert not panel.train_button.disabled and panel.stop_button.disabled


def test_train_while_running_is_refused():
    recorder = Recorder()
    panel = small_panel(recorder)
    panel.sliders["steps"].value = 100000
    panel.train()
    try:
        assert recorder.steps_seen.wait(30)
        with pytest.raises(RuntimeError, match="already running"):
            panel.train()
    finally:
        panel.stop()
        panel.wait(30)


def test_a_failing_run_reports_the_error_and_frees_the_buttons():
    def broken_model(hidden_size):
        raise ValueError("hidden_size must be even")

    panel = TrainingPanel(broken_model, Recorder().make_batches, steps=10)
    panel.train_button.click()
    assert panel.wait(30)
    assert isinstance(panel.error, ValueError)
    assert "training failed: ValueError: hidden_size must be even" in panel.status.value
    assert not panel.train_button.disabled
    with pytest.raises(ValueError, match="must be even"):
        panel.train(blocking=True)


def test_panel_arguments_are_checked():
    recorder = Recorder()
    with pytest.raises(TypeError, match="make_model must be a function"):
        TrainingPanel(None, recorder.make_batches)
    with pytest.raises(ValueError, match=r"hidden_size must be \(value, min, max\)"):
        small_panel(recorder, hidden_size=(8, 4))
    with pytest.raises(ValueError, match="hidden_size takes whole numbers"):
        small_panel(recorder, hidden_size=(8.0, 4, 16))
    with pytest.raises(ValueError, match=r"training steps: value must lie in \[min, max\]"):
        small_panel(recorder, steps=(5, 10, 100))


# -- strict nbval on a notebook that uses all of the above ---------------------------------------

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "widgets_demo.ipynb"


def run_strict_nbval(notebook, cwd):
    """Run pytest --nbval (outputs compared) on one notebook in a fresh process; return its report."""
    command = [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env", "-p", "no:cacheprovider",
               "-o", "addopts=", "--rootdir", str(cwd), "-rA",
               "--nbval-sanitize-with", str(ROOT / "tests" / "nbval_sanitize.cfg"), str(notebook)]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def test_fixture_notebook_has_stored_outputs_to_compare():
    notebook = nbformat.read(FIXTURE, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    # nbval does not compare cells that were never run: an unexecuted fixture would pass vacuously
    assert all(cell.execution_count is not None for cell in code)
    training = code[1]
    assert "ProgressBar" not in training.source and "NBVAL" not in training.source
    assert [o.get("text") for o in training.outputs if o.output_type == "stream"] == [
        "training: step 200/200  loss 1.150\nfinal training loss 1.150\n"]


def test_training_cells_with_progress_bars_pass_strict_nbval(tmp_path):
    code, report = run_strict_nbval(FIXTURE, tmp_path)
    assert code == 0, report
    assert "10 passed" in report


def test_strict_nbval_does_compare_these_cells(tmp_path):
    """Negative control: a changed summary line and a raw interact cell without its marker fail."""
    notebook = nbformat.read(FIXTURE, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for output in code[1].outputs:
        if output.output_type == "stream":
            output.text = output.text.replace("loss 1.150", "loss 9.999")
    code[-1].source = code[-1].source.replace("# NBVAL_IGNORE_OUTPUT\n", "")
    mutated = tmp_path / "mutated.ipynb"
    nbformat.write(notebook, mutated)
    exit_code, report = run_strict_nbval(mutated, tmp_path)
    assert exit_code != 0
    assert re.findall(r"^FAILED \S+::(Cell \d+)", report, flags=re.MULTILINE) == ["Cell 1", "Cell 9"], report
