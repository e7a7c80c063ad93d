import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import plots
from course_lib.train import History


def make_history(steps=200, eval_every=50):
    history = History()
    for step in range(steps):
        history.steps.append(step)
        history.train_loss.append(3.0 * np.exp(-step / 80) + 0.5)
        if (step + 1) % eval_every == 0:
            history.val_steps.append(step)
            history.val_loss.append(3.0 * np.exp(-step / 80) + 0.7)
    return history


def assert_titled_and_labelled(ax):
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_plot_losses_returns_a_closed_figure_so_it_is_shown_once():
    fig = plots.plot_losses(make_history())
    assert isinstance(fig, matplotlib.figure.Figure)
    assert fig.number not in plt.get_fignums()
    (ax,) = fig.axes
    assert_titled_and_labelled(ax)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["train (each step)", "train (mean of 10)", "validation"]
    val = ax.get_lines()[2]
    assert list(val.get_xdata()) == [49, 99, 149, 199]


def test_plot_losses_draws_on_a_given_axes_and_returns_it():
    fig, ax = plt.subplots()
    try:
        assert plots.plot_losses(make_history(), ax=ax, title="run 1") is ax
        assert ax.get_title() == "run 1"
    finally:
        plt.close(fig)


def test_plot_losses_smoothing_is_a_running_mean():
    history = History(steps=[0, 1, 2, 3], train_loss=[4.0, 2.0, 6.0, 0.0])
    fig = plots.plot_losses(history, smooth=2)
    smoothed = fig.axes[0].get_lines()[1].get_ydata()
    np.testing.assert_allclose(smoothed, [4.0, 3.0, 4.0, 3.0])


def test_plot_losses_refuses_something_that_is_not_a_history():
    with pytest.raises(TypeError, match="history must be"):
        plots.plot_losses([1.0, 2.0])


def test_grad_norms_are_on_a_log_axis_one_curve_per_setting():
    norms = {f"scale {s}": s ** np.arange(20.0) for s in (0.5, 1.5)}
    fig = plots.plot_grad_norms_over_time(norms)
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    assert_titled_and_labelled(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["scale 0.5", "scale 1.5"]


def test_grad_norm_zeros_leave_a_gap_instead_of_breaking_the_log_axis():
    fig = plots.plot_grad_norms_over_time(np.array([1.0, 0.0, 0.1]))
    ydata = fig.axes[0].get_lines()[0].get_ydata()
    assert np.isnan(ydata[1]) and ydata[2] == 0.1


def test_grad_norms_must_be_one_per_time_step_and_bad_input_leaves_no_figure():
    open_before = plt.get_fignums()
    with pytest.raises(ValueError, match=r"norms must be 1-D.*\(2, 3\)"):
        plots.plot_grad_norms_over_time(np.ones((2, 3)))
    assert plt.get_fignums() == open_before


def test_heatmap_labels_columns_with_visible_characters():
    text = "a b\n"
    fig = plots.plot_heatmap(np.arange(8.0).reshape(2, 4), row_labels=["i", "f"], col_labels=text)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "␣", "b", "↵"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["i", "f"]
    assert_titled_and_labelled(ax)


def test_heatmap_centres_diverging_colours_on_zero():
    fig = plots.plot_heatmap(np.array([[-0.5, 2.0]]))
    assert fig.axes[0].images[0].get_clim() == (-2.0, 2.0)


def test_heatmap_thins_labels_on_long_sequences():
    fig = plots.plot_heatmap(np.zeros((2, 200)), col_labels="x" * 200)
    assert len(fig.axes[0].get_xticks()) == 67        # every third of 200


def test_heatmap_checks_label_counts_and_rank():
    with pytest.raises(ValueError, match=r"col_labels must have one label per column \(3\), got 2"):
        plots.plot_heatmap(np.zeros((2, 3)), col_labels="ab")
    with pytest.raises(ValueError, match="matrix must be 2-D"):
        plots.plot_heatmap(np.zeros(3))


def test_unit_over_text_draws_every_character_on_its_activation():
    text = "ab\ncd"
    activations = np.array([-1.0, 0.0, 0.5, 0.9, 1.0])
    fig = plots.plot_unit_over_text(text, activations)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["a", "b", "↵", "c", "d"]
    grid = ax.images[0].get_array()
    np.testing.assert_allclose(grid[0], [-1.0, 0.0, 0.5])          # the newline ends line one
    np.testing.assert_allclose(grid[1, :2], [0.9, 1.0])
    assert grid.mask[1, 2]                                          # nothing after "d"
    assert ax.get_title()


def test_unit_over_text_wraps_long_lines():
    fig = plots.plot_unit_over_text("x" * 25, np.zeros(25), line_width=10)
    assert fig.axes[0].images[0].get_array().shape == (3, 10)


def test_unit_over_text_needs_one_activation_per_character():
    with pytest.raises(ValueError, match=r"activations must have shape \(T,\) = \(3,\)"):
        plots.plot_unit_over_text("abc", np.zeros(4))


def test_results_table_aligns_text_left_and_rounded_numbers_right():
    table = plots.results_table(
        [["bigram", 729, 2.4512, 2.4649], {"model": "LSTM", "params": 123456, "train": 1.5, "val": None}],
        ["model", "params", "train", "val"], note="(nats/char)")
    assert table == ("model    params  train   val  (nats/char)\n"
                     "bigram      729   2.45  2.46\n"
                     "LSTM    123,456   1.50     -")


def test_results_table_rows_must_fit_the_columns():
    with pytest.raises(ValueError, match=r"rows\[1\] has 1 values but there are 2 columns"):
        plots.results_table([["a", 1], ["b"]], ["name", "n"])


def test_course_style_uses_small_figures(monkeypatch):
    with matplotlib.rc_context():
        plots.use_course_style()
        assert tuple(matplotlib.rcParams["figure.figsize"]) == plots.FIGSIZE
        assert matplotlib.rcParams["figure.dpi"] == plots.DPI
