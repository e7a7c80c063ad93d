"""The stored lessons are clean: executed, free of errors, warnings and stderr, PNG figures
only, and `# NBVAL_IGNORE_OUTPUT` used on widget cells alone (nbval compares the rest)."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
WIDGET_CALLS = ("interactive_plot(", "TrainingPanel(", "OneHotViewer(")


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_all_nine_lessons_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{k:02d}" for k in range(9)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebook_is_executed_and_clean(path):
    for k, cell in enumerate(code_cells(path)):
        assert cell["execution_count"] is not None, f"code cell {k} was never run"
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"code cell {k} stored an error"
            assert output.get("name") != "stderr", f"code cell {k} wrote to stderr: {output.get('text')!r}"
            assert "image/svg+xml" not in output.get("data", {}), f"code cell {k} stored an SVG (nbval compares it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_only_widget_cells_skip_the_output_comparison(path):
    for k, cell in enumerate(code_cells(path)):
        source = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in source or "NBVAL_SKIP" in source:
            assert any(call in source for call in WIDGET_CALLS), f"code cell {k} skips nbval but shows no widget"
