"""Drive a real JupyterLab in headless Chromium the way a student does.

Three pieces, used by conftest.py's fixtures:
- `LabServer`: a JupyterLab server on a free loopback port with a token, serving a
  throw-away root directory. Notebooks are copied into it before they are opened, so
  JupyterLab's autosave never touches the repository's notebooks.
- `launch_chromium`: the system Chromium through Playwright (no `playwright install`).
- `Notebook`: one open notebook page — wait for the kernel, Run All, find widgets by
  their description, move sliders, press buttons, read what the outputs show.

Selectors are JupyterLab 4 / ipywidgets 8 ones (see NOTES.md, "JupyterLab in a real
browser"): the kernel is ready when the *status bar* says "| Idle" (the toolbar's
indicator says idle before the kernel has started).
"""
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Console errors that are not the course's fault: (regex on the message, why it is
# harmless). Any other console error fails the test. None has been needed so far with
# JupyterLab 4.6 and Chromium 156 (the news toast, a source of network errors, is
# switched off below); add an entry only with the reason it is harmless.
CONSOLE_NOISE = []

# Lab settings a student's first visit would not have but a test run must: no news
# feed toast (it needs the internet and can cover widgets), no update check.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def find_chromium():
    """Path to a Chromium binary, or None. COURSE_CHROMIUM overrides the search."""
    if os.environ.get("COURSE_CHROMIUM"):
        path = Path(os.environ["COURSE_CHROMIUM"])
        return str(path) if path.exists() else None
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def missing_browser_tools():
    """What the browser tests lack on this machine (empty when nothing)."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright is not installed")
    if find_chromium() is None:
        missing.append("no Chromium found (looked for $COURSE_CHROMIUM, chromium, chromium-browser)")
    return missing


INSTALL_HINT = (
    "Install Chromium with `sudo apt-get install chromium` (Debian/Ubuntu; or point "
    "COURSE_CHROMIUM at a Chromium/Chrome binary) and the test extras with "
    "`pip install -e .[test]`. `playwright install` is not needed: the tests drive the "
    "system Chromium."
)


def unavailable_message(missing):
    return "browser tests cannot run: " + "; ".join(missing) + ". " + INSTALL_HINT


def browser_required():
    """True under COURSE_REQUIRE_BROWSER=1 (.ci/run): missing tools fail instead of skip."""
    return os.environ.get("COURSE_REQUIRE_BROWSER") == "1"


def launch_chromium(playwright, user_data_dir, executable_path):
    """A headless Chromium context with a fresh profile in user_data_dir."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=executable_path,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1400, "height": 1000},
    )


def course_notebook(number):
    """The repository's notebooks/<number>_*.ipynb; a clear failure when it is not there."""
    found = sorted((REPO / "notebooks").glob(f"{number}_*.ipynb"))
    if len(found) != 1:
        raise AssertionError(f"expected exactly one notebooks/{number}_*.ipynb, found {[p.name for p in found]}")
    return found[0]


def run_course_notebook(open_notebook, number, timeout):
    """Open notebooks/<number>_*.ipynb with the open_notebook fixture and Run All, printing how long it took."""
    notebook = open_notebook(course_notebook(number))
    print(f"{number} Run All: {notebook.run_all(timeout=timeout):.1f} s")
    return notebook


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server in its own temporary root, config and runtime directories."""

    def __init__(self, workdir, log_path):
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.log_path = Path(log_path)
        self.token = secrets.token_hex(16)
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=60):
        self.root.mkdir(parents=True)
        jupyter = self.workdir / "jupyter"
        for relative, values in LAB_SETTINGS.items():
            path = jupyter / "lab-settings" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={jupyter / 'lab-settings'}",
            f"--LabApp.workspaces_dir={jupyter / 'workspaces'}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        # The user's own Jupyter/IPython config stays out of the test, and the kernel
        # picks its matplotlib backend the way a student's would.
        env = dict(
            os.environ,
            JUPYTER_CONFIG_DIR=str(jupyter / "config"),
            JUPYTER_DATA_DIR=str(jupyter / "data"),
            JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"),
            IPYTHONDIR=str(jupyter / "ipython"),
        )
        env.pop("MPLBACKEND", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise TimeoutError(f"JupyterLab did not answer on {self.base_url} within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, method, path):
        request = urllib.request.Request(
            self.base_url + path, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def delete_sessions(self):
        """Shut down every kernel the server runs."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def stage(self, notebook):
        """Copy a notebook into the server's root; return its path relative to the root.

        It lands in notebooks/, as in the repository, so the kernel's working directory
        looks the same; anything the notebook writes stays in the temporary root.
        """
        target = self.root / "notebooks" / Path(notebook).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(notebook, target)
        return target.relative_to(self.root).as_posix()

    def notebook_url(self, relative_path):
        # ?reset: start from an empty workspace, not the layout the last test left.
        return f"{self.base_url}/lab/tree/{relative_path}?reset&token={self.token}"

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                self.api("POST", "/api/shutdown")   # shuts its kernels down too
                self.process.wait(timeout=20)
            except Exception:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        if self.process is not None:
            self._log.close()


class ConsoleLog:
    """Every console error and uncaught exception of one page, minus documented noise."""

    def __init__(self, page):
        self.messages = []
        self.checked = 0
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.messages.append(f"uncaught exception: {error}"))

    def _on_console(self, message):
        if message.type != "error":
            return
        if any(re.search(pattern, message.text) for pattern, _ in CONSOLE_NOISE):
            return
        where = message.location.get("url", "")
        self.messages.append(f"console.error: {message.text}" + (f"  (at {where})" if where else ""))

    def unchecked(self):
        return self.messages[self.checked:]

    def assert_clean(self):
        new = self.unchecked()
        self.checked = len(self.messages)
        assert not new, "JavaScript console errors:\n" + "\n".join(new)


@dataclass(frozen=True, repr=False)
class OutputSnapshot:
    """What a student sees in some outputs: the images (their src) and the text."""

    images: tuple
    text: str

    def describe(self):
        return f"{len(self.images)} image(s), text {self.text.strip()[:300]!r}"

    def __repr__(self):   # not the base64 of every image in a failure report
        return f"OutputSnapshot({self.describe()})"

    def text_without(self, values):
        """The text with every number equal to one of `values` replaced by '#'.

        A callback that prints the slider's own value ("temperature 1.10: ...") changes
        its text even when what it computes ignores the slider; masking that echo
        leaves only what was computed to compare.
        """
        echoed = {float(value) for value in values}
        return NUMBER.sub(lambda m: "#" if float(m.group()) in echoed else m.group(), self.text)


class OutputUnchanged(AssertionError):
    """Raised when an output that should respond to a widget did not."""


NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def exact_text(text):
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def as_pattern(description):
    """A string matches a label exactly (give a compiled regex to search instead)."""
    return exact_text(description) if isinstance(description, str) else description


def only_one(found, candidates, kind, description):
    """found, if it is exactly one element; else an error listing what the page has."""
    if found.count() != 1:
        names = [name.strip() for name in candidates.all_text_contents()]
        raise AssertionError(f"expected exactly one {kind} {description!r}, found {found.count()}; "
                             f"the page has {kind}s {names}")
    return found


class Notebook:
    """One notebook open in JupyterLab, in one browser page."""

    def __init__(self, page, console, artifacts):
        self.page = page
        self.console = console
        self.artifacts = Path(artifacts)

    # -- kernel and execution ------------------------------------------------------
    def wait_for_idle_kernel(self, timeout=90):
        self.page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=timeout * 1000)

    def run_all(self, timeout=180):
        """Run > Run All Cells, wait until every cell has run; return the seconds it took.

        JupyterLab marks every queued cell [*] when Run All is chosen and resets the
        queue to [ ] when a cell raises, so "no [*] left and every non-empty code cell
        numbered" means all of them ran in this kernel.
        """
        self.wait_for_idle_kernel()
        start = time.monotonic()
        self.page.locator(".lm-MenuBar-itemLabel", has_text=exact_text("Run")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=exact_text("Run All Cells")).click()
        deadline = start + timeout
        while self._prompts_pending():
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run All did not finish within {timeout} s; prompts: {self.prompts()}")
            time.sleep(0.25)
        self.wait_for_idle_kernel()
        self._assert_every_cell_ran()
        return time.monotonic() - start

    def prompts(self):
        """(prompt text, is the cell empty) for every code cell, top to bottom."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map(cell => [
                   cell.querySelector('.jp-InputPrompt').textContent.trim(),
                   cell.querySelector('.cm-content').textContent.trim() === ''])"""
        )

    def _prompts_pending(self):
        return any(prompt == "[*]:" for prompt, _ in self.prompts())

    def _assert_every_cell_ran(self):
        cells = self.page.locator(".jp-Notebook .jp-CodeCell")
        for index, (prompt, empty) in enumerate(self.prompts()):
            if empty or re.fullmatch(r"\[\d+\]:", prompt):
                continue
            if index == 0:
                raise AssertionError(f"Run All ran nothing: the first code cell shows {prompt!r}")
            last_run = cells.nth(index - 1).locator(".jp-Cell-outputArea").text_content()
            raise AssertionError(
                f"Run All stopped after code cell {index} of {cells.count()}: cell {index + 1} shows "
                f"{prompt!r}. The output of cell {index}:\n{last_run[-3000:]}"
            )

    def append_and_run(self, code, timeout=60):
        """Add a code cell at the end, type `code` into it, run it; return its output text."""
        cells = self.page.locator(".jp-Notebook .jp-Cell")
        count = cells.count()
        cells.last.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")
        # By index: Shift+Enter on the last cell adds yet another one below it.
        cell = cells.nth(count)
        cell.locator(".cm-content").click()
        self.page.keyboard.insert_text(code)
        self.page.keyboard.press("Shift+Enter")
        cell.locator(".jp-InputPrompt", has_text=re.compile(r"\[\d+\]")).wait_for(timeout=timeout * 1000)
        self.wait_for_idle_kernel()
        return cell.locator(".jp-Cell-outputArea").text_content()

    # -- widgets -------------------------------------------------------------------
    def slider(self, description):
        """The one ipywidgets slider labelled `description` (a string, or a regex to search)."""
        every = self.page.locator(".widget-slider")
        found = every.filter(has=self.page.locator(".widget-label", has_text=as_pattern(description)))
        return Slider(self, only_one(found, every.locator(".widget-label"), "slider", description))

    def button(self, description):
        """The one ipywidgets button that says `description` (a string, or a regex to search)."""
        every = self.page.locator("button.jupyter-button")
        return only_one(every.filter(has_text=as_pattern(description)), every, "button", description)

    def cell_of(self, locator):
        """The notebook cell that holds `locator`."""
        return locator.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-CodeCell ')][1]")

    def progress(self, within):
        """A function returning the fill (0-100 %) of the one progress bar in `within`."""
        bars = within.locator(".widget-hprogress .progress-bar, .widget-vprogress .progress-bar")
        if bars.count() != 1:
            raise AssertionError(f"expected one progress bar, found {bars.count()}")
        return lambda: float(bars.evaluate("bar => parseFloat(bar.style.width) || 0"))

    def wait_until(self, condition, what, timeout=20):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.2)

    # -- what the student sees -----------------------------------------------------
    def widget_outputs(self, within):
        """The ipywidgets Output areas inside `within` (a cell, usually)."""
        return within.locator(".widget-output")

    def snapshot(self, outputs):
        return OutputSnapshot(
            images=tuple(outputs.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")),
            text="\n".join(t.strip() for t in outputs.all_text_contents()),
        )

    def wait_for_change(self, outputs, before, timeout=20, what="the output"):
        """Wait until `outputs` show something other than `before` and have settled.

        Settled: as many images as before (a redraw clears then draws) and the same
        snapshot on two polls in a row. Raises OutputUnchanged on timeout.
        """
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            now = self.snapshot(outputs)
            if now != before and len(now.images) >= len(before.images) and now == last:
                return now
            last = now
            time.sleep(0.3)
        raise OutputUnchanged(f"{what} did not change within {timeout} s; it still shows {before.describe()}")

    # -- artifacts -----------------------------------------------------------------
    def screenshot(self, name, show=None):
        """Save a screenshot of the page to the artifact folder, `show` scrolled into view."""
        if show is not None:
            show.first.evaluate("element => element.scrollIntoView({block: 'center'})")
        path = self.artifacts / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


class Slider:
    def __init__(self, notebook, locator):
        self.notebook = notebook
        self.locator = locator

    @property
    def readout(self):
        return self.locator.locator(".widget-readout").text_content().strip()

    @property
    def cell(self):
        return self.notebook.cell_of(self.locator)

    def press(self, key="ArrowRight", times=1):
        """Focus the slider's handle and press a key, as a student using the keyboard."""
        before = self.readout
        handle = self.locator.locator(".noUi-handle")
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(times):
            handle.press(key)
        deadline = time.monotonic() + 5
        while self.readout == before:
            if time.monotonic() > deadline:
                raise AssertionError(f"pressing {key} did not move the slider off {before}")
            time.sleep(0.05)
        return self.readout


def move_slider_and_watch(notebook, description, artifact, timeout=20):
    """Press ArrowRight on a slider and wait for its cell's widget outputs to change.

    Screenshots `<artifact>-before` and `-after`. Returns ((readout before, after),
    OutputSnapshot before, after); raises OutputUnchanged if nothing changed.
    """
    slider = notebook.slider(description)
    outputs = notebook.widget_outputs(slider.cell)
    before = notebook.snapshot(outputs)
    readout_before = slider.readout
    notebook.screenshot(f"{artifact}-before", show=outputs)
    readout_after = slider.press("ArrowRight")
    after = notebook.wait_for_change(
        outputs, before, timeout=timeout,
        what=f"the output under the slider {description!r} (moved {readout_before} -> {readout_after})")
    notebook.screenshot(f"{artifact}-after", show=outputs)
    return (readout_before, readout_after), before, after
