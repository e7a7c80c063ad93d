"""Notebook 06 (character-level language models) in JupyterLab: temperature and training panel.

The notebook trains several models as it runs (a minute or more), so both tests share
one Run All.
"""
import json
import re

import pytest

from labdriver import course_notebook, move_slider_and_watch, run_course_notebook

RUN_ALL_TIMEOUT = 400   # seconds; the notebook trains three name models and a Shakespeare LSTM


@pytest.fixture(scope="module")
def char_lm(open_notebook):
    return run_course_notebook(open_notebook, "06", RUN_ALL_TIMEOUT)


def training_panel_variable(path):
    """The name a notebook gives its TrainingPanel (`panel = widgets.TrainingPanel(...)`)."""
    for cell in json.loads(path.read_text())["cells"]:
        match = re.search(r"^(\w+)\s*=\s*(?:\w+\.)*TrainingPanel\(", "".join(cell["source"]), re.MULTILINE)
        if cell["cell_type"] == "code" and match:
            return match.group(1)
    raise AssertionError(f"{path.name} has no cell assigning a TrainingPanel to a name")


def test_temperature_slider_changes_the_sampled_names(char_lm):
    readouts, before, after = move_slider_and_watch(
        char_lm, re.compile(r"temperature", re.IGNORECASE), "notebook06-temperature")

    assert before.text.strip(), "no sample under the temperature slider"
    assert after.text_without(readouts) != before.text_without(readouts), (
        f"the sample stayed {before.text!r} (but for the temperature it prints) when the temperature went {readouts}")
    char_lm.console.assert_clean()


def test_training_panel_trains_live_and_stop_keeps_the_model(char_lm):
    panel_name = training_panel_variable(course_notebook("06"))
    train = char_lm.button("Train")
    cell = char_lm.cell_of(train)
    progress = char_lm.progress(within=cell)
    curve = char_lm.widget_outputs(cell)

    train.click()
    char_lm.wait_until(lambda: progress() > 0, "the progress bar to move after Train", timeout=60)
    drawn = char_lm.wait_for_change(curve, char_lm.snapshot(curve), timeout=90, what="the loss curve")
    filled = progress()
    redrawn = char_lm.wait_for_change(curve, drawn, timeout=90, what="the loss curve, as training goes on")
    assert redrawn.images and redrawn.images != drawn.images, "the loss curve was not redrawn"
    assert progress() > filled, "the progress bar stood still while the curve was redrawn"
    char_lm.screenshot("notebook06-panel-training", show=curve)

    char_lm.button("Stop").click()
    status = cell.locator(".widget-html", has_text=re.compile(r"stopped at step \d+|finished \d+ steps"))
    status.wait_for(timeout=60_000)
    assert "stopped at step" in status.text_content(), f"training ran to its end before Stop: {status.text_content()!r}"
    stopped_at = int(re.search(r"stopped at step (\d+)", status.text_content()).group(1))
    settled = progress()
    char_lm.page.wait_for_timeout(1500)
    assert progress() == settled, "the progress bar still moves after Stop"
    assert 0 < settled < 100, f"the progress bar shows {settled}% after Stop"
    assert char_lm.snapshot(curve).images, "the loss curve disappeared after Stop"
    char_lm.screenshot("notebook06-panel-stopped", show=curve)

    kept = char_lm.append_and_run(
        f"print(len({panel_name}.history.steps), {panel_name}.model is not None, {panel_name}.running)")
    assert kept.split() == [str(stopped_at), "True", "False"], (
        f"after Stop at step {stopped_at} the panel reports (steps, has model, running) = {kept!r}")
    char_lm.console.assert_clean()
