"""The browser helpers themselves, proved on small fixture notebooks.

If these pass, a course-notebook test that fails points at the notebook, not at the
harness; and the unwired-slider test shows the harness can tell a dead slider from a
live one.
"""
import re
from pathlib import Path

import pytest

from labdriver import ConsoleLog, OutputUnchanged, browser_required, missing_browser_tools, unavailable_message

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_chromium_and_playwright_are_available():
    missing = missing_browser_tools()
    if missing and not browser_required():
        pytest.skip(unavailable_message(missing))
    assert not missing, unavailable_message(missing) + " (COURSE_REQUIRE_BROWSER=1: a failure, not a skip)"


@pytest.fixture(scope="module")
def sliders(open_notebook):
    """The slider fixture notebook, run once for the tests that move its sliders."""
    notebook = open_notebook(FIXTURES / "slider_plot.ipynb")
    print(f"Run All: {notebook.run_all():.1f} s")
    return notebook


def test_a_wired_slider_redraws_its_plot_and_its_printed_number(sliders):
    slider = sliders.slider("weight scale")
    outputs = sliders.widget_outputs(slider.cell)
    before = sliders.snapshot(outputs)
    assert len(before.images) == 1 and "gradient norm 30 steps back: 1\n" in before.text + "\n"

    assert slider.press("ArrowRight") == "1.10"
    after = sliders.wait_for_change(outputs, before, what="the weight scale plot")

    assert after.images != before.images, "the plot's image did not change"
    assert "gradient norm 30 steps back: 15.9" in after.text  # 1.1 ** 29
    sliders.screenshot("fixture-slider-moved", show=outputs)
    sliders.console.assert_clean()


def test_an_unwired_slider_is_reported_as_not_changing_its_output(sliders):
    slider = sliders.slider("unwired scale")
    outputs = sliders.widget_outputs(slider.cell)
    before = sliders.snapshot(outputs)

    slider.press("ArrowRight")
    with pytest.raises(OutputUnchanged, match="did not change within 5 s"):
        sliders.wait_for_change(outputs, before, timeout=5)
    sliders.console.assert_clean()


def test_train_moves_progress_and_curve_and_stop_keeps_the_model(open_notebook):
    notebook = open_notebook(FIXTURES / "train_panel.ipynb")
    notebook.run_all()
    panel = notebook.cell_of(notebook.button("Train"))
    progress = notebook.progress(within=panel)
    curve = notebook.widget_outputs(panel)
    assert progress() == 0

    notebook.button("Train").click()
    notebook.wait_until(lambda: progress() > 0, "the progress bar to move after Train")
    first_curve = notebook.wait_for_change(curve, notebook.snapshot(curve), what="the loss curve")
    notebook.wait_for_change(curve, first_curve, what="the loss curve, a second time")
    notebook.screenshot("fixture-panel-training", show=curve)

    notebook.button("Stop").click()
    status = panel.locator(".widget-label", has_text="stopped at step")
    status.wait_for(timeout=10_000)
    stopped_at = int(re.search(r"stopped at step (\d+)", status.text_content()).group(1))
    assert 0 < stopped_at < 2000
    notebook.page.wait_for_timeout(1000)
    assert progress() == pytest.approx(100 * stopped_at / 2000, abs=0.1), "training went on after Stop"

    kept = notebook.append_and_run("print(model.steps, model.w != 0.0)")
    assert kept.split() == [str(stopped_at), "True"]
    notebook.screenshot("fixture-panel-stopped", show=curve)
    notebook.console.assert_clean()


def test_console_errors_are_caught(browser):
    page = browser.new_page()
    console = ConsoleLog(page)
    page.set_content("<p>a page that logs an error</p>")
    page.evaluate("console.error('a deliberate error')")
    page.wait_for_timeout(200)
    page.close()
    with pytest.raises(AssertionError, match="a deliberate error"):
        console.assert_clean()
