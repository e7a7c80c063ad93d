"""Sliders and panels for the notebooks, built on ipywidgets.

    interactive_plot(draw_gradients, weight_scale=(0.5, 1.5, 0.05))   # a slider redraws a plot
    OneHotViewer(vocab)                                                 # type text, see one-hot rows
    TrainingPanel(make_model, make_batches, sample_fn=sample_text)      # sliders + Train / Stop

Outputs are written into the widgets' own state (an Output widget's `outputs`, an HTML
widget's value) rather than captured from print/plt.show. That works the same from a
slider callback, from the training thread, and in a plain Python process, so tests can
check what a student would see; and nothing of it lands in the cell's own output, so
under nbval such a cell leaves only the widget's fixed text fallback. Interactive cells
still carry `# NBVAL_IGNORE_OUTPUT`: without a browser nobody moves the sliders anyway.
"""
import base64
import contextlib
import html
import io
import math
import threading
import time
import traceback
from unittest import mock

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from . import plots
from .data import one_hot
from .progress import ProgressBar

WIDE = {"description_width": "initial"}
REDRAW_SECONDS = 1.0


# -- building blocks ---------------------------------------------------------------------

def slider(description, min, max, value=None, step=None):
    """An IntSlider when all numbers are ints, else a FloatSlider; value defaults to the middle."""
    numbers = [min, max] + [v for v in (value, step) if v is not None]
    kind = ipywidgets.IntSlider if all(isinstance(v, int) for v in numbers) else ipywidgets.FloatSlider
    if value is None:
        value = (min + max) // 2 if kind is ipywidgets.IntSlider else (min + max) / 2
    _check_range(description, min, max, value)
    options = {} if step is None else {"step": step}
    return kind(value=value, min=min, max=max, description=description, style=WIDE, **options)


def log_slider(description, min, max, value=None, steps_per_decade=10):
    """A FloatLogSlider over [min, max] (e.g. learning rates 1e-4 .. 1e-1)."""
    if not (isinstance(min, (int, float)) and isinstance(max, (int, float)) and 0 < min < max):
        raise ValueError(f"{description}: a log slider needs 0 < min < max, got min={min!r}, max={max!r}")
    value = math.sqrt(min * max) if value is None else value
    _check_range(description, min, max, value)
    return ipywidgets.FloatLogSlider(value=value, base=10, min=math.log10(min), max=math.log10(max),
                                     step=1 / steps_per_decade, description=description,
                                     readout_format=".1e", style=WIDE)


def _check_range(description, min, max, value):
    if not min <= value <= max:
        raise ValueError(f"{description}: value must lie in [min, max] = [{min}, {max}], got {value}")


def _as_control(name, spec):
    """A widget as is, or an ipywidgets abbreviation: (min, max[, step]) -> slider, list -> dropdown."""
    widget = ipywidgets.interactive.widget_from_abbrev(spec)
    if widget is None or isinstance(widget, ipywidgets.fixed):
        raise ValueError(f"{name}: cannot make a control from {spec!r}; give a widget, (min, max[, step]) "
                         "or a list of choices")
    if not widget.description:
        widget.description = name.replace("_", " ")
    if hasattr(widget, "style") and hasattr(widget.style, "description_width"):
        widget.style.description_width = "initial"
    return widget


def figure(figsize=plots.FIGSIZE):
    """A matplotlib Figure not registered with pyplot: safe to draw from any thread."""
    return Figure(figsize=figsize, dpi=plots.DPI)


def png_output(fig):
    """One notebook output (a dict) holding fig as PNG."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    width, height = (round(v) for v in fig.get_size_inches() * fig.dpi)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"),
                     "text/plain": f"<Figure size {width}x{height} with {len(fig.axes)} Axes>"}}


def text_output(text, stream="stdout"):
    return {"output_type": "stream", "name": stream, "text": text}


class _Panel(ipywidgets.VBox):
    """A VBox whose text fallback (what nbval and non-widget viewers see) is a fixed sentence."""

    fallback = "(interactive widget: run the notebook in JupyterLab to use it)"

    def __repr__(self):
        return self.fallback


# -- slider -> plot or text ----------------------------------------------------------------

class InteractivePlot(_Panel):
    """Controls above an Output widget; fn(**values) is rerun whenever a control changes.

    .controls: {name: widget}; .output: the Output widget; .calls: how many redraws ran.
    """

    def __init__(self, fn, controls):
        self.fn, self.controls = fn, controls
        self.output = ipywidgets.Output()
        self.calls = 0
        super().__init__(list(controls.values()) + [self.output])
        names = ", ".join(w.description for w in controls.values())
        self.fallback = f"(interactive plot with controls: {names}; run the notebook in JupyterLab to use it)"
        for widget in controls.values():
            widget.observe(self.redraw, names="value")
        self.redraw()

    def values(self):
        return {name: widget.value for name, widget in self.controls.items()}

    def redraw(self, change=None):
        self.calls += 1
        self.output.outputs = tuple(run_for_outputs(self.fn, self.values()))


def interactive_plot(fn, **controls):
    """Show sliders (or dropdowns) and what fn draws or prints for their current values.

    fn(**values) may draw with matplotlib (pyplot or a returned Figure), print, or return
    a string; each change of a control reruns it and replaces the shown output.
    controls: name=widget, or name=(min, max[, step]) for a slider, or name=[choices].

        interactive_plot(lambda n: print(" ".join(anbn_tokens(n))), n=(1, 10))
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function of the controls' values, got {type(fn).__name__}")
    if not controls:
        raise ValueError("give at least one control, e.g. n=(1, 10)")
    return InteractivePlot(fn, {name: _as_control(name, spec) for name, spec in controls.items()})


def run_for_outputs(fn, kwargs):
    """Call fn(**kwargs); return its printed text, figures and returned value as notebook outputs.

    Figures it opens with pyplot are captured and closed; an exception becomes a short
    message in the output instead of vanishing inside a widget callback.
    """
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    plt.figure()   # so that fn's plt.plot draws here, not on a figure left open elsewhere
    printed = io.StringIO()
    outputs = []
    try:
        # plt.show() inside fn would hand the figure to the inline backend, which closes it
        # and publishes it where no one sees it (a widget callback is not a cell): skip it
        with contextlib.redirect_stdout(printed), mock.patch.object(plt, "show", lambda *a, **k: None):
            result = fn(**kwargs)
    except Exception as error:
        result = None
        frames = traceback.extract_tb(error.__traceback__)[1:]   # drop this function's own frame
        where = f" (line {frames[-1].lineno} of {frames[-1].name})" if frames else ""
        outputs.append(text_output(f"{type(error).__name__}: {error}{where}\n", stream="stderr"))
    if printed.getvalue():
        outputs.insert(0, text_output(printed.getvalue()))
    figures = [plt.figure(n) for n in plt.get_fignums() if n not in before]
    if isinstance(result, Figure) and result not in figures:
        figures.append(result)
    outputs.extend(png_output(fig) for fig in figures if fig.axes)
    for fig in figures:
        plt.close(fig)
    if isinstance(result, str):
        outputs.append(text_output(result if result.endswith("\n") else result + "\n"))
    return outputs


# -- notebook 01: one-hot viewer ------------------------------------------------------------

class OneHotViewer(_Panel):
    """A text box; below it, the one-hot matrix of what is typed, for a given Vocabulary.

    Rows are the typed tokens, columns the vocabulary entries. A vocabulary bigger than
    max_columns shows only the columns that hold a 1 (the rest are all zeros anyway).
    """

    fallback = "(one-hot viewer: run the notebook in JupyterLab to type into it)"

    def __init__(self, vocab, text="hello", max_tokens=40, max_columns=80):
        for name in ("tokens", "encode", "tokenize"):
            if not hasattr(vocab, name):
                raise TypeError(f"vocab must be a course_lib Vocabulary, got {type(vocab).__name__}")
        self.vocab, self.max_tokens, self.max_columns = vocab, max_tokens, max_columns
        self.text = ipywidgets.Text(value=text, description="text", placeholder="type here",
                                    style=WIDE)
        self.ids_line = ipywidgets.HTML()
        self.output = ipywidgets.Output()
        super().__init__([self.text, self.ids_line, self.output])
        self.text.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, change=None):
        tokens = self.vocab.tokenize(self.text.value)[: self.max_tokens]
        if not tokens:
            self.ids_line.value = "<i>type something to see its one-hot rows</i>"
            self.output.outputs = ()
            return
        try:
            ids = self.vocab.encode(tokens)
        except KeyError as error:   # a vocabulary without <unk> cannot encode an unseen token
            self.ids_line.value = f"<span style='color:#b00'>{html.escape(str(error.args[0]))}</span>"
            self.output.outputs = ()
            return
        self.ids_line.value = f"<code>ids = {html.escape(str(ids.tolist()))}</code>"
        self.output.outputs = (png_output(self.draw(tokens, ids)),)

    def draw(self, tokens, ids):
        size = len(self.vocab)
        columns = np.arange(size) if size <= self.max_columns else np.unique(ids)
        matrix = one_hot(ids, size)[:, columns]
        shown = "" if size <= self.max_columns else f" (the {len(columns)} non-zero of {size} columns)"
        fig = figure(figsize=(max(4.0, 0.18 * len(columns) + 1.5), max(2.0, 0.25 * len(tokens) + 1.3)))
        plots.plot_heatmap(matrix, row_labels=tokens, col_labels=[self.vocab.tokens[i] for i in columns],
                           ax=fig.add_subplot(), cmap="Greys", vmin=0, vmax=1,
                           title=f"One-hot rows: {len(tokens)} tokens x {size} vocabulary entries{shown}",
                           xlabel="vocabulary entry", ylabel="typed token", colorbar=False)
        ax = fig.axes[0]
        ax.tick_params(axis="x", labelrotation=90)
        fig.tight_layout()
        return fig


# -- notebooks 03, 04, 06, 07: the training panel ----------------------------------------------

class TrainingPanel(_Panel):
    """Hyperparameter sliders, Train and Stop buttons, a live loss curve and samples.

    make_model(hidden_size) -> (model, optimizer); the optimizer's lr is set from the slider.
    make_batches(seq_len) -> batches for course_lib.train.train.
    sample_fn(model) -> str, shown after each evaluation (optional).
    val_fn(model) -> validation loss (optional), passed on to train.
    learning_rate, hidden_size, seq_len, steps: (value, min, max[, step]) for a slider, or a
        single number for a fixed setting with no slider.
    After a run (finished or stopped): .model, .optimizer, .history; .error if it failed.

        panel = TrainingPanel(make_model, make_batches, sample_fn=lambda m: sample(m, vocab))
        panel
    """

    fallback = "(training panel: run the notebook in JupyterLab to train with its sliders)"
    knobs = {"learning_rate": "learning rate", "hidden_size": "hidden size",
             "seq_len": "sequence length", "steps": "training steps"}

    def __init__(self, make_model, make_batches, sample_fn=None, val_fn=None,
                 learning_rate=(3e-3, 1e-4, 1e-1), hidden_size=(64, 8, 256, 8), seq_len=(25, 5, 100, 5),
                 steps=(300, 50, 3000, 50), eval_every=None, clip=5.0, carry_state=False):
        for name, fn in (("make_model", make_model), ("make_batches", make_batches)):
            if not callable(fn):
                raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
        self.make_model, self.make_batches = make_model, make_batches
        self.sample_fn, self.val_fn = sample_fn, val_fn
        self.eval_every, self.clip, self.carry_state = eval_every, clip, carry_state
        self.model = self.optimizer = self.history = self.error = None
        self._stop = threading.Event()
        self._thread = None
        self._last_draw = 0.0
        specs = {"learning_rate": learning_rate, "hidden_size": hidden_size, "seq_len": seq_len, "steps": steps}
        self.fixed = {name: spec for name, spec in specs.items() if not isinstance(spec, tuple)}
        self.sliders = {name: self._make_slider(name, spec) for name, spec in specs.items()
                        if isinstance(spec, tuple)}
        self.train_button = ipywidgets.Button(description="Train", button_style="primary", icon="play")
        self.stop_button = ipywidgets.Button(description="Stop", button_style="warning", icon="stop",
                                             disabled=True)
        self.train_button.on_click(lambda _: self.train())
        self.stop_button.on_click(lambda _: self.stop())
        self.meter = ipywidgets.IntProgress(value=0, min=0, max=1)
        self.caption = ipywidgets.HTML()
        self.status = ipywidgets.HTML("ready: choose settings and press <b>Train</b>")
        self.plot = ipywidgets.Output()
        self.samples = ipywidgets.HTML()
        super().__init__([
            ipywidgets.VBox(list(self.sliders.values())),
            ipywidgets.HBox([self.train_button, self.stop_button]),
            ipywidgets.HBox([self.meter, self.caption]),
            self.status, self.plot, self.samples,
        ])

    def _make_slider(self, name, spec):
        if not 3 <= len(spec) <= 4:
            raise ValueError(f"{name} must be (value, min, max) or (value, min, max, step), got {spec!r}")
        value, low, high, *step = spec
        if name == "learning_rate":
            return log_slider(self.knobs[name], low, high, value)
        if not all(isinstance(v, int) for v in spec):
            raise ValueError(f"{name} takes whole numbers, got {spec!r}")
        return slider(self.knobs[name], low, high, value, *step)

    def settings(self):
        """The current hyperparameters: {learning_rate, hidden_size, seq_len, steps}."""
        return {**self.fixed, **{name: widget.value for name, widget in self.sliders.items()}}

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def train(self, blocking=False):
        """Train a fresh model with the current settings (in a background thread unless blocking)."""
        if self.running:
            raise RuntimeError("training is already running: press Stop first")
        self._stop.clear()
        self._set_running(True)
        settings = self.settings()
        if blocking:
            self._run(settings, reraise=True)
        else:
            self._thread = threading.Thread(target=self._run, args=(settings,), daemon=True)
            self._thread.start()
        return self

    def stop(self):
        """Ask the running training to stop after its current step; model and history are kept."""
        self._stop.set()

    def wait(self, timeout=None):
        """Block until a background run has finished; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, settings, reraise=False):
        from .train import History, train

        self.error, self.history = None, History()
        self.plot.outputs, self.samples.value = (), ""
        steps = settings["steps"]
        bar = ProgressBar(steps, label="training", into=(self.meter, self.caption))
        status = "training ended"
        try:
            self.status.value = "building the model…"
            self.model, self.optimizer = self.make_model(settings["hidden_size"])
            self.optimizer.lr = settings["learning_rate"]
            batches = self.make_batches(settings["seq_len"])
            self.status.value = f"training for {steps} steps (Stop keeps the model trained so far)"
            train(self.model, self.optimizer, batches, steps, clip=self.clip, val_fn=self.val_fn,
                  eval_every=self.eval_every or max(1, steps // 20), carry_state=self.carry_state,
                  progress=False, callback=self._after_eval, should_stop=lambda: self._poll(bar),
                  verbose=False, history=self.history)
            self._poll(bar)
            status = self._summary()
        except Exception as error:
            self.error = error
            status = (f"<span style='color:#b00'>training failed: {html.escape(type(error).__name__)}:"
                      f" {html.escape(str(error))}</span>")
            if reraise:
                raise
        finally:
            bar.close()
            self._draw()
            self._set_running(False)
            # last: once the status says finished, stopped or failed, the panel is final
            self.status.value = status

    def _poll(self, bar):
        """Called by train before every step: move the bar, report whether Stop was pressed."""
        history = self.history
        if history.steps:
            bar.update(len(history.steps), loss=history.train_loss[-1])
        return self._stop.is_set()

    def _after_eval(self, history):
        if self.sample_fn is not None:
            history.samples.append((history.steps[-1], self.sample_fn(self.model)))
        # a redraw costs ~0.2 s of the training thread's time: at most one a second
        if time.monotonic() - self._last_draw >= REDRAW_SECONDS:
            self._draw()

    def _draw(self):
        self._last_draw = time.monotonic()
        history = self.history
        if history is None or not history.steps:
            return
        fig = figure()
        plots.plot_losses(history, ax=fig.add_subplot(), title="Loss while training")
        fig.tight_layout()
        self.plot.outputs = (png_output(fig),)
        if history.samples:
            step, text = history.samples[-1]
            self.samples.value = (f"<b>sample after step {step + 1}</b><pre style='white-space:pre-wrap'>"
                                  f"{html.escape(text)}</pre>")

    def _summary(self):
        history = self.history
        done = len(history.steps)
        text = f"finished {done} steps" if history.stopped_reason is None else history.stopped_reason
        if done:
            text += f"; last training loss {history.train_loss[-1]:.3f}"
        if history.val_loss:
            text += f", validation loss {history.val_loss[-1]:.3f}"
        return html.escape(text)

    def _set_running(self, running):
        self.train_button.disabled = running
        self.stop_button.disabled = not running
        for widget in self.sliders.values():
            widget.disabled = running
