"""docs/lab_notebook.ipynb runs top to bottom in a fresh kernel and draws its charts with Altair."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "lab_notebook.ipynb"
SPEC = "application/json"  # what Altair's "json" renderer emits: the Vega-Lite spec itself


def test_notebook_runs_top_to_bottom_and_draws_the_profile():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # committed clean
    # Charts as their Vega-Lite JSON instead of the default HTML + script, so the test can read their data.
    notebook.cells.insert(0, nbformat.v4.new_code_cell('import altair\naltair.renderers.enable("json")'))
    # Run from the repository root, as after `pip install .`: the kernel imports this checkout's packages.
    NotebookClient(notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    markdown = [o.data["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(markdown) == 2 and all("**holds**" in m for m in markdown)  # both lessons' claims, as their tests say
    charts = [data for o in outputs for kind, data in o.get("data", {}).items() if kind == SPEC]
    assert len(charts) == 2
    rows = next(iter(charts[0]["datasets"].values()))  # the profile chart's long-form data
    assert min(r["t"] for r in rows) == 1  # timesteps numbered from 1, as in the lessons' text
    assert {r["series"] for r in rows} == {"‖∂L/∂h_t‖", "‖∂L/∂c_t‖"}
    assert "ratio" in text
