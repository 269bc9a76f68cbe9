"""Notebooks in the exact form JupyterLab writes them, so that a lesson opens clean (no unsaved-changes dot).

JupyterLab 4.6 marks a notebook dirty as soon as it opens when the kernel's answers differ from the file:
on start it sets ``metadata.kernelspec`` to the running kernel's spec (name, display name, language) and
``metadata.language_info`` to the kernel's language info (it compares deeply and changes nothing when they
are already equal). Saving goes through jupyter_server, which writes ``nbformat.writes(nb)`` — keys sorted,
indent 1, non-ASCII kept, sources split into lines — followed by one newline.

So a committed notebook here is: nbformat 4.5, every cell with an id, code cells without outputs
(``execution_count`` null), the course kernel's ``kernelspec`` and ``language_info`` (the Python version is
the one of the interpreter that normalizes, i.e. the course's), serialized as above.

>>> normalize_file(Path("notebooks/day1/00-check-your-setup.ipynb"))   # True when it rewrote the file
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
VERSION = re.compile(r"^3\.\d+\.\d+")


def language_info(version: str | None = None) -> dict:
    """What ipykernel answers in ``kernel_info`` (its IPythonKernel.language_info), for `version` or this Python."""
    return {
        "codemirror_mode": {"name": "ipython", "version": 3},
        "file_extension": ".py",
        "mimetype": "text/x-python",
        "name": "python",
        "nbconvert_exporter": "python",
        "pygments_lexer": "ipython3",
        "version": version or sys.version.split()[0],
    }


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def normalize(nb: dict | nbformat.NotebookNode, python_version: str | None = None) -> nbformat.NotebookNode:
    """A copy of `nb` in the committed form: outputs cleared, ids present, the course kernel's metadata.

    `python_version` goes into ``language_info.version``; by default the running interpreter's.
    Other notebook and cell metadata is kept, as JupyterLab keeps it.
    """
    node = nbformat.from_dict(json.loads(json.dumps(nb)))
    node.nbformat, node.nbformat_minor = 4, 5
    for cell in node.cells:
        cell.source = _source(cell)
        cell.setdefault("metadata", {})
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    node.metadata["kernelspec"] = dict(KERNELSPEC)
    node.metadata["language_info"] = language_info(python_version)
    for cell in node.cells:  # an id for a cell that has none, as nbformat gives one on upgrade
        if not cell.get("id"):
            cell["id"] = nbformat.corpus.words.generate_corpus_id()
    nbformat.validate(node)
    return node


def dumps(nb: dict | nbformat.NotebookNode) -> str:
    """The text jupyter_server writes for `nb` (nbformat's serializer, then a newline)."""
    text = nbformat.writes(nbformat.from_dict(json.loads(json.dumps(nb))), version=nbformat.NO_CONVERT)
    return text if text.endswith("\n") else text + "\n"


def normalized_text(text: str, python_version: str | None = None) -> str:
    """The committed form of the notebook `text` (see the module docstring)."""
    return dumps(normalize(json.loads(text), python_version))


def file_python_version(text: str) -> str | None:
    """The ``language_info.version`` a notebook file records, when it looks like a Python 3 version."""
    version = json.loads(text).get("metadata", {}).get("language_info", {}).get("version", "")
    return version if VERSION.match(str(version)) else None


def is_normalized(path: Path) -> bool:
    """True when `path` is already in the committed form (any Python 3.x.y recorded counts as the kernel's)."""
    text = path.read_text(encoding="utf-8")
    return text == normalized_text(text, file_python_version(text))


def normalize_file(path: Path) -> bool:
    """Rewrite `path` in the committed form (this interpreter's Python version); True when it changed."""
    text = path.read_text(encoding="utf-8")
    new = normalized_text(text)
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


def write(nb: dict | nbformat.NotebookNode, path: Path) -> bool:
    """Write `nb` to `path` in the committed form; True when the file changed (or is new)."""
    new = dumps(normalize(nb))
    if path.exists() and path.read_text(encoding="utf-8") == new:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
    return True
