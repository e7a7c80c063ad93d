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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item so fixtures can screenshot failures.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


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


@pytest.fixture
def open_notebook(lab_server, browser, artifacts, request):
    """open_notebook(path) -> labdriver.Notebook, opened on a copy, with an idle kernel.

    The copy lives in the server's temporary root (JupyterLab autosaves; the repository's
    notebooks are never written). Console errors fail the test: tests call
    `notebook.console.assert_clean()`, and teardown fails on any left unchecked.
    """
    lab_server.delete_sessions()
    opened = []

    def open_(path):
        path = Path(path)
        if not path.exists():
            pytest.fail(f"notebook {path} does not exist", pytrace=False)
        relative = lab_server.stage(path)
        page = browser.new_page()
        notebook = labdriver.Notebook(page, labdriver.ConsoleLog(page), artifacts)
        opened.append(notebook)
        started = time.monotonic()
        page.goto(lab_server.notebook_url(relative))
        notebook.wait_for_idle_kernel()
        print(f"{path.name}: rendered with an idle kernel in {time.monotonic() - started:.1f} s")
        return notebook

    yield open_
    failed = any(getattr(request.node, f"report_{when}", None) and getattr(request.node, f"report_{when}").failed
                 for when in ("setup", "call"))
    leftover = []
    for index, notebook in enumerate(opened):
        if failed:
            notebook.screenshot(f"{request.node.name}-FAILED-{index}")
        leftover += notebook.console.unchecked()
        notebook.page.close()
    lab_server.delete_sessions()
    if leftover and not failed:
        pytest.fail("JavaScript console errors:\n" + "\n".join(leftover), pytrace=False)
