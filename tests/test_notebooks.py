"""House rules every committed notebook keeps (the content itself is executed by nbval in the same run).

Each notebook is also in the exact form JupyterLab writes (`kafkacourse.course.notebooks`), so that it opens
without the unsaved-changes dot: `./course toc` normalizes them all.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from kafkacourse.course.notebooks import is_normalized, normalized_text
from kafkacourse.course.toc import without_navigation

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for folder in ("notebooks", "solutions", "labs") for p in (REPO / folder).rglob("*.ipynb")
                   if ".ipynb_checkpoints" not in p.parts)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_is_clean_and_follows_the_skeleton(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    # nbval compares a NBVAL_CHECK_OUTPUT cell with its stored output; stored outputs are stripped here, so
    # such a marker would check nothing: notebooks prove their claims with asserts instead.
    assert not any("NBVAL_CHECK_OUTPUT" in c.source for c in code)
    own = without_navigation(nb.cells)  # the generated navigation cells are not the lesson's own
    opening = own[0].source
    assert opening.startswith("# ") and all(w in opening for w in ("**Time:**", "**Questions:**", "**Objectives**")), \
        "open with a title, time, questions and objectives"
    closing = "\n".join(c.source for c in own[-3:] if c.cell_type == "markdown")
    assert "## Summary" in closing, "close with a summary (and questions to think about)"
    assert json.loads(path.read_text())["nbformat"] == 4


@pytest.mark.parametrize("path", NOTEBOOKS + [REPO / "START.ipynb"], ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_is_in_the_form_jupyterlab_writes(path):
    assert is_normalized(path), f"{path.relative_to(REPO)} is not as JupyterLab writes it: run `./course toc`"


def test_the_normalizer_catches_what_jupyterlab_would_change():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# T\n\ntext"), nbformat.v4.new_code_cell("x = 1\nx")]
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)]
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    raw = json.dumps(nb, indent=1)  # what a hand-written generator might produce
    fixed = normalized_text(raw, "3.11.7")
    assert fixed != raw and normalized_text(fixed, "3.11.7") == fixed, "normalizing is idempotent"
    data = json.loads(fixed)
    assert data["metadata"]["kernelspec"]["display_name"] == "Python 3 (ipykernel)"
    assert data["metadata"]["language_info"]["version"] == "3.11.7"
    assert data["metadata"]["language_info"]["pygments_lexer"] == "ipython3"
    assert data["cells"][1]["outputs"] == [] and data["cells"][1]["execution_count"] is None
    assert data["cells"][1]["source"] == ["x = 1\n", "x"], "sources are split into lines"
    assert fixed.endswith("}\n") and fixed.startswith('{\n "cells": [\n  {\n')
