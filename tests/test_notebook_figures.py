"""Every notebook runs, its figures appear inline, and none switches warnings off wholesale.

This is where the suite executes the notebooks under ``notebooks/``, once each: in a Jupyter
kernel (nbclient, as an analyst runs it), from the notebooks' folder; a cell that raises
fails the test. Every code cell that calls a ``plot`` function or method must have an
``image/png`` output. A bare
``matplotlib.figure.Figure`` (what the package built before) shows as the text
``<Figure size ... with N Axes>`` instead and fails this test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
PLOT_CALL = re.compile(r"(\.plot\w*\(|\bplot_\w+\()")
WHOLESALE = re.compile(r"warnings\.(simplefilter|filterwarnings)\(\s*[\"']ignore[\"']")


def _plotting(cell) -> bool:
    code = "\n".join(line.split("#")[0] for line in cell.source.splitlines())
    return cell.cell_type == "code" and bool(PLOT_CALL.search(code))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_switches_warnings_off_wholesale(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    offending = [c.source for c in notebook.cells if WHOLESALE.search(c.source)]
    assert offending == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_its_own_id(path: Path) -> None:
    # nbformat 4.5 requires cell ids; it adds missing ones on reading, with a warning that
    # says it will stop (read the file as written, not through nbformat)
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    ids = [c.get("id") for c in cells]
    assert None not in ids, [i for i, c in enumerate(ids) if c is None]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_every_plot_shows_as_an_image(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    plotting = [c for c in notebook.cells if _plotting(c)]
    assert plotting, "each notebook plots something"
    without = [
        c.source.splitlines()[-1]
        for c in plotting
        if not any("image/png" in o.get("data", {}) for o in c.outputs)
    ]
    assert without == []
