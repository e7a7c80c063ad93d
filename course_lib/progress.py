"""Progress bars that behave in a terminal, in JupyterLab, and under nbval.

    with ProgressBar(500, label="training") as bar:
        for step in range(500):
            ...
            bar.update(step + 1, loss=loss)

    for name in progress(submissions, label="grading"):
        ...

In a terminal the bar is one line on stderr, redrawn in place with a carriage return at
most ten times a second. In a Jupyter kernel it is an ipywidgets bar that lives only
while the loop runs: `close()` removes it and prints one summary line such as
`training: step 500/500  loss 1.234`. Elapsed time appears only in the live bar.

Why the notebook bar is built this way (nbval compares stored and fresh outputs):
- the bar is displayed with no text/plain part, only the widget view, which nbval skips;
- later changes of the bar travel as widget messages, which nbval ignores and which are
  not cell outputs;
- `close()` replaces the display with an empty bundle. JupyterLab and nbclient apply that
  to the saved notebook; nbval ignores it. Either way there is nothing left to compare,
  so the one printed summary line is the cell's whole checked output.
- no clear_output and nothing on stderr: nbval sees those differently from a frontend.
"""
import numbers
import sys
import time

REDRAW_SECONDS = 0.1
BAR_WIDTH = 30
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def in_jupyter_kernel():
    """True inside an IPython kernel (JupyterLab, nbclient, nbval), False in a terminal."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return type(shell).__name__ == "ZMQInteractiveShell"


def format_info(info):
    """Render keyword numbers as `loss 2.310  val 2.400`, rounded so output is stable."""
    return "  ".join(f"{name} {_format_number(value)}" for name, value in info.items())


def _format_number(value):
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return str(int(value))
    value = float(value)
    if value == 0 or 0.01 <= abs(value) < 1e5 or value != value:
        return f"{value:.3f}"
    return f"{value:.2e}"


def _format_seconds(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}" if minutes else f"{seconds}s"


class ProgressBar:
    """A progress bar over `total` steps (None when the length is unknown).

    update(n, **info): n steps are done; info holds a few numbers to show (loss=2.31).
    close(): finish the bar (also done on leaving a `with` block).
    file: a stream to draw a text bar on (default: a widget in Jupyter, stderr elsewhere).
    into: an existing (IntProgress, HTML) pair to draw into, e.g. a panel's own bar;
        close() then leaves those widgets in place and prints nothing.
    """

    def __init__(self, total, label="", file=None, into=None):
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise ValueError(f"total must be a non-negative integer or None, got {total!r}")
        if not isinstance(label, str):
            raise TypeError(f"label must be a string, got {type(label).__name__}")
        self.total, self.label = total, label
        self.n, self.info = 0, {}
        self.closed = False
        self._start = time.monotonic()
        self._last_draw = None
        self._view = _pick_view(self, file, into)

    def update(self, n, **info):
        """Record that `n` steps are done (not `n` more) and redraw if it is time to."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be the number of steps done so far (an integer >= 0), got {n!r}")
        if self.closed:
            raise RuntimeError("this progress bar is closed; make a new one")
        self.n = n
        self.info.update(info)
        now = time.monotonic()
        finished = self.total is not None and n >= self.total
        if finished or self._last_draw is None or now - self._last_draw >= REDRAW_SECONDS:
            self._last_draw = now
            self._view.draw()

    def close(self):
        if not self.closed:
            self.closed = True
            self._view.finish()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def text(self, elapsed=False):
        """`training: step 120/500  loss 2.310` (plus the elapsed time if asked)."""
        parts = [f"step {self.n}/{self.total}" if self.total is not None else f"step {self.n}"]
        if self.info:
            parts.append(format_info(self.info))
        if elapsed:
            parts.append(_format_seconds(time.monotonic() - self._start))
        return (f"{self.label}: " if self.label else "") + "  ".join(parts)

    def fraction(self):
        if not self.total:
            return 1.0 if self.total == 0 else 0.0
        return min(self.n / self.total, 1.0)


def optional_bar(total, label, enabled=True, file=None):
    """A ProgressBar for a loop of `total` steps, or None when disabled or empty."""
    return ProgressBar(total, label=label, file=file) if enabled and total else None


def progress(iterable, label="", total=None, file=None):
    """Yield the items of `iterable` while a ProgressBar counts them."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    with ProgressBar(total, label=label, file=file) as bar:
        for done, item in enumerate(iterable, start=1):
            yield item
            bar.update(done)


def _pick_view(bar, file, into):
    if into is not None:
        return _WidgetView(bar, into, owned=False)
    if file is None and in_jupyter_kernel():
        try:
            return _WidgetView(bar, _make_widgets(bar.total), owned=True)
        except ImportError:
            return _SummaryView(bar)
    return _TextView(bar, file if file is not None else sys.stderr)


class _TextView:
    """One line on a stream, redrawn with \\r on a terminal, written once at the end elsewhere."""

    def __init__(self, bar, file):
        self.bar, self.file = bar, file
        self.live = hasattr(file, "isatty") and file.isatty()
        self.width = 0

    def line(self):
        bar = self.bar
        line = bar.text(elapsed=True)
        if bar.total:
            filled = round(bar.fraction() * BAR_WIDTH)
            meter = "[" + "#" * filled + "-" * (BAR_WIDTH - filled) + "]"
            line = line.replace("step ", f"{meter} ", 1)
        return line

    def draw(self):
        if self.live:
            line = self.line()
            # pad with spaces so a shorter line fully covers the previous one
            self.file.write("\r" + line.ljust(self.width))
            self.width = len(line)
            self.file.flush()

    def finish(self):
        if self.live:
            self.draw()
            self.file.write("\n")
        else:
            self.file.write(self.line() + "\n")
        self.file.flush()


class _SummaryView:
    """In a kernel without ipywidgets: draw nothing live, print the summary at the end."""

    def __init__(self, bar):
        self.bar = bar

    def draw(self):
        pass

    def finish(self):
        print(self.bar.text())


def _make_widgets(total):
    import ipywidgets

    meter = ipywidgets.IntProgress(value=0, min=0, max=max(total or 0, 1))
    caption = ipywidgets.HTML(value="")
    return meter, caption


class _WidgetView:
    """An ipywidgets bar; when it owns the widgets it displays them and removes them at the end."""

    def __init__(self, bar, widgets, owned):
        self.bar, self.owned = bar, owned
        self.meter, self.caption = widgets
        self.meter.max = max(bar.total or 0, 1)
        self.meter.value = 0
        self.meter.bar_style = ""
        self.caption.value = _html_escape(bar.text())
        self.handle = None
        if owned:
            import ipywidgets
            from IPython.display import display

            self.box = ipywidgets.HBox([self.meter, self.caption])
            # only the widget view, no text/plain: nbval skips widget views (see module doc)
            view = {WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self.box.model_id}}
            self.handle = display(view, raw=True, display_id=True)

    def draw(self):
        bar = self.bar
        self.meter.value = round(bar.fraction() * self.meter.max) if bar.total else 0
        self.caption.value = _html_escape(bar.text(elapsed=True))

    def finish(self):
        if not self.owned:
            self.draw()
            self.caption.value = _html_escape(self.bar.text())
            return
        self.handle.update({}, raw=True)
        for widget in (self.box, self.meter, self.caption):
            widget.close()
        print(self.bar.text())


def _html_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("  ", " &nbsp;")
