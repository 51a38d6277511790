"""Every notebook in notebooks/ executes without error (they are committed without outputs), in
a Jupyter kernel with its own (inline) backend, and every figure it draws reaches the outputs."""

import os
import re
from pathlib import Path

import pytest

#: a cell that makes a figure
FIGURE = re.compile(r"plt\.(subplots|figure)\(")
NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{path.name} is committed with outputs"
    )
    nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute(env={k: v for k, v in os.environ.items() if k != "MPLBACKEND"})
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and FIGURE.search(cell.source):
            images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            assert images, f"{path.name}: cell {i} draws a figure that never reaches the outputs"
