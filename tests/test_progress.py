import io

import ipywidgets
import numpy as np
import pytest

from course_lib import progress as progress_module
from course_lib.progress import ProgressBar, format_info, optional_bar, progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progress_module.time, "monotonic", fake)
    return fake


def test_terminal_bar_redraws_in_place_at_most_ten_times_a_second(clock):
    out = FakeTerminal()
    bar = ProgressBar(100, label="training", file=out)
    bar.update(1, loss=3.0)                 # first update draws
    clock.now += 0.05
    bar.update(2, loss=2.9)                 # too soon: skipped
    clock.now += 0.06
    bar.update(3, loss=2.8)                 # 0.11 s after the last draw
    assert out.getvalue().count("\r") == 2
    assert "loss 2.800" in out.getvalue().split("\r")[-1]
    assert "\n" not in out.getvalue()


def test_terminal_bar_always_draws_the_last_step_and_ends_the_line(clock):
    out = FakeTerminal()
    with ProgressBar(10, label="training", file=out) as bar:
        bar.update(9)
        bar.update(10, loss=1.23456)        # no time passed, but it is the last step
    last = out.getvalue().split("\r")[-1]
    assert last.startswith("training: [" + "#" * 30 + "] 10/10  loss 1.235")
    assert out.getvalue().endswith("\n")


def test_shorter_line_is_padded_to_cover_the_previous_one(clock):
    out = FakeTerminal()
    bar = ProgressBar(None, file=out)
    bar.update(1, note="a long message here")
    clock.now += 1
    bar.info.clear()
    bar.update(2)
    previous, latest = out.getvalue().split("\r")[1:]
    assert len(latest) >= len(previous)
    assert latest.rstrip() == "step 2  1s"


def test_stream_that_is_not_a_terminal_gets_one_final_line():
    out = io.StringIO()
    with ProgressBar(5, label="grading", file=out) as bar:
        for n in range(1, 6):
            bar.update(n)
    assert out.getvalue().count("\n") == 1
    assert "\r" not in out.getvalue()
    assert out.getvalue().startswith("grading: [" + "#" * 30 + "] 5/5")


def test_info_numbers_are_rounded_so_output_is_stable():
    assert format_info({"loss": np.float32(2.3104912), "step": np.int64(7)}) == "loss 2.310  step 7"
    assert format_info({"lr": 3e-4, "big": 123456.0}) == "lr 3.00e-04  big 1.23e+05"
    assert format_info({"loss": float("nan")}) == "loss nan"


def test_text_without_elapsed_time_is_deterministic(clock):
    bar = ProgressBar(500, label="training", file=io.StringIO())
    bar.update(120, loss=2.31)
    clock.now += 75
    assert bar.text() == "training: step 120/500  loss 2.310"
    assert bar.text(elapsed=True) == "training: step 120/500  loss 2.310  1:15"


@pytest.mark.parametrize("total", [-1, 2.5, "10", True])
def test_bad_total_is_refused_with_its_name(total):
    with pytest.raises(ValueError, match="total"):
        ProgressBar(total, file=io.StringIO())


def test_update_wants_steps_done_so_far_and_an_open_bar():
    bar = ProgressBar(3, file=io.StringIO())
    with pytest.raises(ValueError, match="n must be"):
        bar.update(-1)
    with pytest.raises(ValueError, match="n must be"):
        bar.update("2")
    bar.close()
    with pytest.raises(RuntimeError, match="closed"):
        bar.update(1)


def test_progress_wrapper_yields_every_item_and_counts_them():
    out = io.StringIO()
    items = list(progress(["a", "b", "c"], label="grading", file=out))
    assert items == ["a", "b", "c"]
    assert out.getvalue().startswith("grading: [" + "#" * 30 + "] 3/3")


def test_progress_wrapper_over_a_generator_of_unknown_length():
    out = io.StringIO()
    assert sum(progress((i for i in range(4)), file=out)) == 6
    assert out.getvalue().startswith("step 4")


def test_bar_drawn_into_given_widgets_updates_them_and_leaves_them(capsys):
    meter, caption = ipywidgets.IntProgress(), ipywidgets.HTML()
    with ProgressBar(40, label="training", into=(meter, caption)) as bar:
        bar.update(10, loss=2.0)
        assert (meter.max, meter.value) == (40, 10)
        bar.update(40, loss=1.5)
    assert (meter.value, meter.max) == (40, 40)
    assert caption.value == "training: step 40/40 &nbsp;loss 1.500"
    assert meter.comm is not None            # still alive: the panel owns it
    assert capsys.readouterr().out == ""


class FakeHandle:
    def __init__(self, shown):
        self.shown, self.updates = shown, []

    def update(self, obj, raw=False):
        self.updates.append((obj, raw))


def test_in_a_kernel_the_bar_leaves_only_a_summary_line(monkeypatch, capsys):
    """The strict-nbval design: no text/plain part, an empty bundle at the end, one printed line."""
    handles = []

    def fake_display(obj, raw=False, display_id=None):
        handles.append(FakeHandle(obj))
        assert raw and display_id
        return handles[-1]

    monkeypatch.setattr(progress_module, "in_jupyter_kernel", lambda: True)
    monkeypatch.setattr("IPython.display.display", fake_display)
    with ProgressBar(50, label="training") as bar:
        bar.update(50, loss=0.123456)
        box = bar._view.box
        model_id = box.model_id
    (handle,) = handles
    assert list(handle.shown) == ["application/vnd.jupyter.widget-view+json"]
    assert handle.shown["application/vnd.jupyter.widget-view+json"]["model_id"] == model_id
    assert handle.updates == [({}, True)]
    assert box.comm is None                   # the widget is closed, not left behind
    captured = capsys.readouterr()
    assert captured.out == "training: step 50/50  loss 0.123\n"
    assert captured.err == ""


def test_optional_bar_is_none_when_disabled_or_empty():
    assert optional_bar(10, "x", enabled=False) is None
    assert optional_bar(0, "x") is None
    with optional_bar(3, "x", file=io.StringIO()) as bar:
        assert isinstance(bar, ProgressBar)
