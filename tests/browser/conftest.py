"""Fixtures for the browser tests: a JupyterLab server, a Chromium, an open notebook.

Where Chromium or Playwright is missing these tests are skipped with a message saying
how to install them; with COURSE_REQUIRE_BROWSER=1 (set by .ci/run) that is a failure.
Screenshots and the server logs go to test-artifacts/browser/ at the repository root.
"""
import time
from pathlib import Path

import pytest

import labdriver

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"

# The fixture notebooks are opened in the browser, never collected (e.g. by nbval).
collect_ignore_glob = ["fixtures/*"]


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium (deselect with -m 'not browser')")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


# Every notebook page open right now, so a failing test can be photographed.
OPEN_PAGES = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        for index, notebook in enumerate(OPEN_PAGES):
            notebook.screenshot(f"{item.name}-FAILED-{index}")


class NotebookPages:
    """Notebooks opened on copies in a LabServer, one browser page each, closed together.

    The copies live in the server's temporary root: JupyterLab autosaves, and the
    repository's notebooks must never be written.
    """

    def __init__(self, server, browser, artifacts):
        self.server, self.browser, self.artifacts = server, browser, artifacts
        self.opened = []

    def open(self, path):
        path = Path(path)
        if not path.exists():
            pytest.fail(f"notebook {path} does not exist", pytrace=False)
        relative = self.server.stage(path)
        page = self.browser.new_page()
        notebook = labdriver.Notebook(page, labdriver.ConsoleLog(page), self.artifacts)
        self.opened.append(notebook)
        OPEN_PAGES.append(notebook)
        started = time.monotonic()
        page.goto(self.server.notebook_url(relative))
        notebook.wait_for_idle_kernel()
        print(f"{path.name}: rendered with an idle kernel in {time.monotonic() - started:.1f} s")
        return notebook

    def close(self):
        """Close every page and shut down the kernels; return console errors nobody checked."""
        leftover = []
        for notebook in self.opened:
            leftover += notebook.console.unchecked()
            OPEN_PAGES.remove(notebook)
            notebook.page.close()
        self.server.delete_sessions()
        return leftover


@pytest.fixture(scope="session")
def chromium_path():
    missing = labdriver.missing_browser_tools()
    if missing:
        message = labdriver.unavailable_message(missing)
        if labdriver.browser_required():
            pytest.fail(message + " (COURSE_REQUIRE_BROWSER=1: this is a failure, not a skip)", pytrace=False)
        pytest.skip(message)
    return labdriver.find_chromium()


@pytest.fixture(scope="session")
def artifacts(chromium_path):
    """test-artifacts/browser/, emptied of the screenshots and logs of earlier runs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log")]:
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(chromium_path, artifacts, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = labdriver.launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"), chromium_path)
        yield context
        context.close()


@pytest.fixture(scope="module")
def lab_server(chromium_path, artifacts, tmp_path_factory, request):
    """A fresh JupyterLab per test module, so no module sees another's kernels."""
    name = Path(request.module.__file__).stem
    server = labdriver.LabServer(tmp_path_factory.mktemp(f"lab-{name}"), artifacts / f"{name}-jupyterlab.log")
    started = time.monotonic()
    server.start()
    print(f"JupyterLab ready in {time.monotonic() - started:.1f} s at {server.base_url}")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def open_notebook(lab_server, browser, artifacts):
    """open_notebook(path) -> labdriver.Notebook on a copy of path, with an idle kernel.

    Pages and kernels stay open for the module, so a notebook that takes minutes to run
    is run once for all of the module's tests; each module has its own server, so no
    module sees another's kernels or widget state. Console errors fail a test when it
    calls `notebook.console.assert_clean()`; any left unchecked fail the module's teardown.
    """
    pages = NotebookPages(lab_server, browser, artifacts)
    yield pages.open
    leftover = pages.close()
    if leftover:
        pytest.fail("JavaScript console errors:\n" + "\n".join(leftover), pytrace=False)
