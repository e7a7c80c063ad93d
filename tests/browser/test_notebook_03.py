"""Notebook 03 (the vanilla RNN) in JupyterLab: the recurrent-weight slider at work."""
import re

import pytest

from labdriver import move_slider_and_watch, run_course_notebook

RUN_ALL_TIMEOUT = 300   # seconds; the notebook trains small RNNs while it runs


@pytest.fixture(scope="module")
def vanilla_rnn(open_notebook):
    return run_course_notebook(open_notebook, "03", RUN_ALL_TIMEOUT)


def test_weight_scale_slider_redraws_the_gradient_norms_and_the_printed_number(vanilla_rnn):
    readouts, before, after = move_slider_and_watch(
        vanilla_rnn, re.compile(r"weight scale", re.IGNORECASE), "notebook03-weight-scale")

    assert before.images and after.images, f"no gradient-norm plot under the slider: {after.describe()}"
    assert after.images != before.images, f"the plot stayed the same when the slider went {readouts}"
    assert after.text_without(readouts) != before.text_without(readouts), (
        f"the printed figures stayed {before.text!r} (but for the slider's own value) when it went {readouts}")
    vanilla_rnn.console.assert_clean()
