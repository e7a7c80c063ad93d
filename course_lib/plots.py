"""Plots of what a recurrent network is doing, and a plain-text results table.

Every helper takes an optional `ax`. Without one it draws a new figure, closes it and
returns it, so a notebook cell that ends with `plot_losses(history)` shows the figure
exactly once (as the cell's value) and a cell that assigns it shows nothing. With an `ax`
it draws there and returns that Axes, for several plots side by side.

Figures are PNG in notebooks (see use_course_style): nbval never compares PNG bytes,
only their text twin such as `<Figure size 600x350 with 1 Axes>`, which is stable.
"""
import numbers

import matplotlib
import numpy as np

FIGSIZE = (6.0, 3.5)
DPI = 100
# characters a tick label cannot show as themselves
VISIBLE = {" ": "␣", "\n": "↵", "\t": "→", "\r": "↵"}


def use_course_style():
    """Small figures, PNG output in notebooks, light grids: call once at the top of a notebook."""
    matplotlib.rcParams.update({
        "figure.figsize": FIGSIZE,
        "figure.dpi": DPI,
        "savefig.dpi": DPI,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "font.size": 10,
    })
    from .progress import in_jupyter_kernel

    if in_jupyter_kernel():
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def plot_losses(history, ax=None, title="Training loss", smooth=None, ylabel="loss (nats per token)"):
    """Training loss per step (thin), its running mean, and validation points.

    history: a train.History (steps, train_loss, val_steps, val_loss).
    smooth: running-mean window; default about a twentieth of the run.
    """
    for name in ("steps", "train_loss", "val_steps", "val_loss"):
        if not hasattr(history, name):
            raise TypeError(f"history must be a course_lib.train.History (with .{name}), got "
                            f"{type(history).__name__}")
    fig, ax = _figure_and_axes(ax)
    steps = np.asarray(history.steps)
    losses = np.asarray(history.train_loss, dtype=np.float64)
    if losses.size:
        window = smooth or max(1, losses.size // 20)
        ax.plot(steps, losses, color="tab:blue", alpha=0.3, linewidth=0.8, label="train (each step)")
        if window > 1:
            ax.plot(steps, _running_mean(losses, window), color="tab:blue",
                    label=f"train (mean of {window})")
    if len(history.val_loss):
        ax.plot(history.val_steps, history.val_loss, "o-", color="tab:orange", markersize=4,
                label="validation")
    ax.set(title=title, xlabel="step", ylabel=ylabel)
    if losses.size or len(history.val_loss):
        ax.legend(loc="upper right", fontsize=8)
    return _finish(fig, ax)


def plot_grad_norms_over_time(norms, ax=None, title="Gradient norm through time",
                              ylabel=r"$\|\partial L / \partial h_t\|$", xlabel="time step t"):
    """How big the gradient reaching each time step is, on a log scale.

    norms: (T,) array of ||dL/dh_t||, or a dict {curve label: (T,) array} to compare
        several settings (e.g. recurrent weight scales) on one plot.
    """
    curves = {label: np.asarray(values, dtype=np.float64)
              for label, values in (norms.items() if isinstance(norms, dict) else [(None, norms)])}
    for label, values in curves.items():
        if values.ndim != 1:
            raise ValueError(f"norms must be 1-D (one norm per time step), got shape {values.shape}"
                             + (f" for {label!r}" if label is not None else ""))
    fig, ax = _figure_and_axes(ax)
    for label, values in curves.items():
        # zeros cannot sit on a log axis; leave a gap instead of a warning
        ax.plot(np.arange(values.size), np.where(values > 0, values, np.nan), marker=".", label=label)
    ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if isinstance(norms, dict):
        ax.legend(fontsize=8)
    return _finish(fig, ax)


def plot_heatmap(matrix, row_labels=None, col_labels=None, ax=None, title="Activations over time",
                 xlabel="time step", ylabel="hidden unit", cmap="RdBu_r", vmin=None, vmax=None,
                 colorbar_label="value", colorbar=True):
    """A (rows, columns) matrix as colours, e.g. gates or hidden states (units x time).

    col_labels: a string (one character per column, e.g. the input text) or a list.
    Spaces and newlines are drawn as ␣ and ↵ so every column has a visible label.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D (rows, columns), got shape {matrix.shape}")
    rows, cols = matrix.shape
    _check_labels("row_labels", row_labels, rows)
    _check_labels("col_labels", col_labels, cols)
    if vmin is None and vmax is None and matrix.size and matrix.min() < 0 < matrix.max():
        vmax = float(np.abs(matrix).max())   # centre diverging colours on zero
        vmin = -vmax
    fig, ax = _figure_and_axes(ax)
    image = ax.imshow(matrix, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.grid(False)
    _set_ticks(ax.set_xticks, ax.set_xticklabels, col_labels, cols)
    _set_ticks(ax.set_yticks, ax.set_yticklabels, row_labels, rows)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=colorbar_label)
    return _finish(fig, ax)


def plot_unit_over_text(text, activations, ax=None, title="What one hidden unit responds to",
                        line_width=60, cmap="RdBu_r", vmin=-1.0, vmax=1.0):
    """Draw `text` with each character on a background coloured by one unit's activation.

    text: str of length T; activations: (T,) values, one per character (tanh units lie
    in [-1, 1]: blue negative, red positive). Newlines in the text start a new line.
    """
    if not isinstance(text, str) or not text:
        raise TypeError(f"text must be a non-empty string, got {text!r:.40}")
    activations = np.asarray(activations, dtype=np.float64)
    if activations.shape != (len(text),):
        raise ValueError(f"activations must have shape (T,) = ({len(text)},), one value per character "
                         f"of text, got {activations.shape}")
    lines = _layout(text, line_width)
    grid = np.full((len(lines), max(len(line) for line in lines)), np.nan)
    for row, line in enumerate(lines):
        for col, index in enumerate(line):
            grid[row, col] = activations[index]
    height = max(1.0, 0.3 * len(lines) + 0.8)
    fig, ax = _figure_and_axes(ax, figsize=(max(4.0, 0.13 * grid.shape[1] + 1.5), height))
    image = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    scale = max(abs(vmin), abs(vmax))
    for row, line in enumerate(lines):
        for col, index in enumerate(line):
            char = text[index]
            dark = abs(activations[index]) > 0.6 * scale   # white on the deepest colours
            ax.text(col, row, char if char == " " else VISIBLE.get(char, char), ha="center",
                    va="center", fontsize=9, family="DejaVu Sans Mono", color="white" if dark else "black")
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set(title=title, xlabel="character (reading order, left to right)", ylabel="line")
    ax.figure.colorbar(image, ax=ax, label="activation", fraction=0.03)
    return _finish(fig, ax)


def results_table(rows, columns, digits=2, note=None):
    """A plain-text table for print(): text left-aligned, numbers right-aligned and rounded.

    rows: sequences (one value per column) or dicts keyed by column name.
    note: a unit note after the header, e.g. "(nats/char)".
    """
    columns = [str(c) for c in columns]
    table = []
    for i, row in enumerate(rows):
        values = [row.get(c) for c in columns] if isinstance(row, dict) else list(row)
        if len(values) != len(columns):
            raise ValueError(f"rows[{i}] has {len(values)} values but there are {len(columns)} columns")
        table.append(values)
    numeric = [bool(table) and all(_is_number(values[j]) for values in table) for j in range(len(columns))]
    cells = [[_cell_text(v, digits) for v in values] for values in table]
    widths = [max([len(columns[j])] + [len(r[j]) for r in cells]) for j in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric)).rstrip()

    header = line(columns) + (f"  {note}" if note else "")
    return "\n".join([header] + [line(r) for r in cells])


def _is_number(value):
    return value is None or (isinstance(value, numbers.Number) and not isinstance(value, bool))


def _cell_text(value, digits):
    if value is None:
        return "-"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{float(value):.{digits}f}"
    return str(value)


def _figure_and_axes(ax, figsize=None):
    if ax is not None:
        return None, ax
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=figsize or FIGSIZE, dpi=DPI)
    return fig, ax


def _finish(fig, ax):
    """A new figure is laid out, closed (so it is not shown a second time) and returned."""
    if fig is None:
        return ax
    import matplotlib.pyplot as plt

    fig.tight_layout()
    plt.close(fig)
    return fig


def _running_mean(values, window):
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, values.size + 1)
    starts = np.maximum(ends - window, 0)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _check_labels(name, labels, size):
    if labels is not None and len(labels) != size:
        raise ValueError(f"{name} must have one label per {'row' if name.startswith('row') else 'column'}"
                         f" ({size}), got {len(labels)}")


def _set_ticks(set_ticks, set_labels, labels, size):
    if labels is None:
        return
    step = max(1, -(-size // 80))   # past 80 labels they overlap: show every step-th
    positions = np.arange(0, size, step)
    set_ticks(positions)
    set_labels([VISIBLE.get(str(labels[i]), str(labels[i])) for i in positions])


def _layout(text, line_width):
    """Split character indices of text into display lines at newlines and every line_width."""
    lines, current = [], []
    for index, char in enumerate(text):
        current.append(index)
        if char == "\n" or len(current) == line_width:
            lines.append(current)
            current = []
    if current or not lines:
        lines.append(current)
    return lines
