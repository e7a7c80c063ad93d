"""The course's own notebooks in JupyterLab, used the way a student uses them.

Each test opens a copy of a notebook, runs all its cells, then moves a slider or presses
a button and checks what changes on the page. Screenshots of each go to
test-artifacts/browser/. A missing notebook is a failure that names it, never a pass.
"""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
RUN_ALL_TIMEOUT = 300   # seconds; notebooks 03 and 06 train small models while running


def course_notebook(number):
    found = sorted(NOTEBOOKS.glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        pytest.fail(f"expected exactly one notebooks/{number}_*.ipynb, found {[p.name for p in found]}",
                    pytrace=False)
    return found[0]


def training_panel_variable(path):
    """The name a notebook gives its TrainingPanel (`panel = TrainingPanel(...)`)."""
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        match = re.search(r"^(\w+)\s*=\s*(?:\w+\.)*TrainingPanel\(", source, re.MULTILINE)
        if cell["cell_type"] == "code" and match:
            return match.group(1)
    pytest.fail(f"{path.name} has no cell assigning a TrainingPanel to a name", pytrace=False)


def move_slider_and_watch(notebook, description, artifact):
    """Press ArrowRight on a slider; return its readouts and its cell's widget outputs before and after."""
    slider = notebook.slider(description)
    outputs = notebook.widget_outputs(slider.cell)
    before = notebook.snapshot(outputs)
    readout_before = slider.readout
    notebook.screenshot(f"{artifact}-before", show=outputs)
    readout_after = slider.press("ArrowRight")
    after = notebook.wait_for_change(outputs, before, what=f"the output of the {readout_before!r} slider")
    notebook.screenshot(f"{artifact}-after", show=outputs)
    return (readout_before, readout_after), before, after


def test_notebook_03_weight_scale_slider_redraws_gradient_norms_and_printed_number(open_notebook):
    notebook = open_notebook(course_notebook("03"))
    print(f"03 Run All: {notebook.run_all(timeout=RUN_ALL_TIMEOUT):.1f} s")

    readouts, before, after = move_slider_and_watch(
        notebook, re.compile(r"weight scale", re.IGNORECASE), "notebook03-weight-scale")

    assert before.images and after.images, f"no gradient-norm plot under the slider: {after.describe()}"
    assert after.images != before.images, f"the plot stayed the same when the slider went {readouts}"
    assert after.text != before.text, f"the printed text stayed {before.text!r} when the slider went {readouts}"
    notebook.console.assert_clean()


def test_notebook_06_temperature_slider_changes_the_sample(open_notebook):
    notebook = open_notebook(course_notebook("06"))
    print(f"06 Run All: {notebook.run_all(timeout=RUN_ALL_TIMEOUT):.1f} s")

    readouts, before, after = move_slider_and_watch(
        notebook, re.compile(r"temperature", re.IGNORECASE), "notebook06-temperature")

    assert before.text.strip(), "no sample text under the temperature slider"
    assert after.text != before.text, f"the sample stayed {before.text!r} when the temperature went {readouts}"
    notebook.console.assert_clean()


def test_training_panel_trains_live_and_stop_keeps_the_model(open_notebook):
    path = course_notebook("06")
    panel_name = training_panel_variable(path)
    notebook = open_notebook(path)
    notebook.run_all(timeout=RUN_ALL_TIMEOUT)
    train = notebook.button("Train")
    cell = notebook.cell_of(train)
    progress = notebook.progress(within=cell)
    curve = notebook.widget_outputs(cell)
    before = notebook.snapshot(curve)
    # The longest run the panel offers, so that Stop lands in the middle of it.
    notebook.slider("training steps").press("End")

    train.click()
    notebook.wait_until(lambda: progress() > 0, "the progress bar to move after Train", timeout=60)
    drawn = notebook.wait_for_change(curve, before, timeout=60, what="the loss curve")
    assert drawn.images, "Train drew no loss curve"
    redrawn = notebook.wait_for_change(curve, drawn, timeout=60, what="the loss curve, as training goes on")
    filled = progress()
    notebook.screenshot("panel-training", show=curve)

    notebook.button("Stop").click()
    status = cell.locator(".widget-html", has_text=re.compile(r"stopped at step \d+"))
    status.wait_for(timeout=30_000)
    stopped_at = int(re.search(r"stopped at step (\d+)", status.text_content()).group(1))
    notebook.page.wait_for_timeout(1500)
    assert progress() >= filled
    assert progress() < 100, "training ran to the end: Stop did not stop it"
    settled = progress()
    notebook.page.wait_for_timeout(1500)
    assert progress() == settled, "the progress bar still moves after Stop"
    assert notebook.snapshot(curve).images, "the loss curve disappeared after Stop"
    notebook.screenshot("panel-stopped", show=curve)

    kept = notebook.append_and_run(
        f"print(len({panel_name}.history.steps), {panel_name}.model is not None, {panel_name}.running)")
    steps, has_model, running = kept.split()
    assert (has_model, running) == ("True", "False"), f"after Stop the panel reports {kept!r}"
    assert int(steps) == stopped_at > 0, "the history lost the steps trained before Stop"
    assert redrawn.images != drawn.images
    notebook.console.assert_clean()
