"""Lab check cells, and the generator that makes labs/ from solutions/.

In a lab notebook each step is followed by a check cell::

    kc.check(topic in cluster.topics(), "topic exists",
             hint=f"create it: kafka-topics.sh --bootstrap-server ... --create --topic {topic} --partitions 3")

A passing check prints ``✅ what: OK``; a failing one raises LabCheckFailed, ``❌ what: not yet. hint``, so the
learner (and nbval) sees exactly what is still wrong, in words that do not depend on an emoji font. In
JupyterLab the failure renders as that message alone (IPython calls an exception's ``_render_traceback_``),
never as a traceback through this module. Check cells verify from the cluster itself: `topic_records` (what
a topic holds) and `Cluster.group_offsets` (a group's committed offsets and lag).

Solutions are the single source of truth: in their code cells, a region between ``### BEGIN SOLUTION``
(optionally followed by ``hint: <text>``) and ``### END SOLUTION`` becomes, in the lab, a TODO comment and
``raise kc.ToDo(<step>, "<hint>")`` at the same indentation: a NotImplementedError that renders as one line,
"step N is still to do: <hint>". The step is the number of the nearest "Step N" heading above the cell (else
the region's rank). A solution is named ``NN-solution-<name>.ipynb`` and its lab ``NN-lab-<name>.ipynb``, so
the two never open as tabs of the same name; the lab's title says "Lab:", the solution's "Solution:".
`kafkacourse toc` (or `kafkacourse labs`) regenerates labs/ with their navigation; tests/test_labs.py fails
when the committed labs differ from what the solutions generate.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from ..cluster import Cluster

BEGIN = re.compile(r"^(?P<indent>\s*)### BEGIN SOLUTION(?:\s+hint:\s*(?P<hint>.*))?\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
DEFAULT_HINT = "replace this line with your code"


RED, YELLOW, BOLD, RESET = "\x1b[31m", "\x1b[33m", "\x1b[1m", "\x1b[0m"


class LabCheckFailed(AssertionError):
    """A lab check that is not satisfied yet; the message tells the learner what to do.

    IPython shows an exception's ``_render_traceback_()`` lines instead of a traceback: the learner sees the
    message alone.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{RED}{self}{RESET}"]


class ToDo(NotImplementedError):
    """A lab step the learner has not written yet: ``raise kc.ToDo(2, "produce the six orders ...")``.

    Renders in a notebook as one line, ``step 2 is still to do: <hint>``, without a traceback.
    """

    def __init__(self, step: int, hint: str) -> None:
        super().__init__(f"step {step} is still to do: {hint}")
        self.step, self.hint = step, hint

    def _render_traceback_(self) -> list[str]:
        return [f"{YELLOW}{BOLD}{self}{RESET}"]


def check(condition: bool, what: str, hint: str) -> None:
    """Print ``✅ what: OK`` when `condition` holds, else raise LabCheckFailed(``❌ what: not yet. hint``).

    >>> kc.check(topic in cluster.topics(), f"topic {topic} exists", hint="create it with kafka-topics.sh --create")
    """
    if not condition:
        raise LabCheckFailed(f"❌ {what}: not yet. {hint}")
    print(f"✅ {what}: OK")


RECORD_COLUMNS = ["partition", "offset", "key", "value", "timestamp"]


def topic_records(cluster: "Cluster", topic: str, timeout: float = 10.0) -> pd.DataFrame:
    """Every record `topic` holds right now, read from the beginning without committing anything.

    An empty frame (same columns as `Cluster.consume`) when the topic does not exist, so a check cell can
    test the result and print a hint instead of failing on a missing topic.

    >>> topic_records(cluster, topic)[["partition", "key", "value"]]
    """
    if topic not in cluster.topics():
        return pd.DataFrame(columns=RECORD_COLUMNS)
    from ..cluster import _decode

    # Partitions assigned directly (Cluster.messages): no consumer group, so no wait for a group coordinator
    # that a broker started a moment ago may still be loading.
    rows = [{"partition": m.partition(), "offset": m.offset(), "key": _decode(m.key()), "value": _decode(m.value()),
             "timestamp": m.timestamp()[1]} for m in cluster.messages(topic, timeout=max(timeout, 30.0))]
    return pd.DataFrame(rows, columns=RECORD_COLUMNS)


class MarkerError(ValueError):
    """Unbalanced or nested solution markers, or a lab that cannot raise kc.ToDo."""


STEP_HEADING = re.compile(r"^#+\s*Step\s+(\d+)\b", re.M | re.I)
TITLE = re.compile(r"^#\s+(?:(?:Lab|Solution)\s*:\s*)?(.*)$", re.I)


def strip_solutions(source: str, where: str = "cell", step: int | None = 1) -> str:
    """Replace each marked solution region in `source` by a TODO that raises ``kc.ToDo(step, hint)``.

    `step` None numbers the regions 1, 2, … within `source` (for a lone cell). In a ``%%writefile`` cell (a module
    the lab runs as its own process, where ``kc`` is not imported) the TODO raises a plain NotImplementedError with
    the same "step N is still to do" text.
    """
    module_file = source.lstrip().startswith("%%writefile")
    out: list[str] = []
    inside: re.Match[str] | None = None
    rank = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line.rstrip("\n")), END.match(line.rstrip("\n"))
        if begin:
            if inside:
                raise MarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution region")
            inside = begin
        elif end:
            if not inside:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            rank += 1
            indent, hint = inside.group("indent"), (inside.group("hint") or DEFAULT_HINT).strip()
            out.append(f"{indent}# TODO: {hint}\n")
            step_number = step if step is not None else rank
            todo = f"step {step_number} is still to do: {hint}"
            out.append(f"{indent}raise NotImplementedError({todo!r})\n" if module_file
                       else f"{indent}raise kc.ToDo({step_number}, {hint!r})\n")
            inside = None
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def lab_name(solution_name: str) -> str:
    """The lab's file name for a solution's: ``08-solution-cli.ipynb`` → ``08-lab-cli.ipynb``.

    A solution still named like its lab (``08-lab-cli.ipynb``) keeps its name; tests/test_labs.py flags it.
    """
    return re.sub(r"^(\d+)-solution-", r"\1-lab-", solution_name)


def retitle(source: str, word: str) -> str:
    """`source` (a first cell) with its ``# Title`` line as ``# <word>: <title>``."""
    first, _, rest = source.partition("\n")
    match = TITLE.match(first)
    if not match:
        return source
    return f"# {word}: {match.group(1).strip()}" + (f"\n{rest}" if _ else "")


def make_lab(solution: dict, lab_cells_before: list[dict] | None = None,
             lab_cells_after: list[dict] | None = None) -> dict:
    """The lab notebook (a new nbformat dict) for a solution notebook dict.

    Marked regions become ``raise kc.ToDo(step, hint)``, outputs are cleared, the title reads "Lab: …", and
    the solution's generated navigation cells (metadata tag "navigation") are replaced by
    `lab_cells_before` (after the title) and `lab_cells_after` (at the end), which the table of contents
    makes: where the solution is, and "try first".
    """
    from .toc import is_navigation

    lab = copy.deepcopy(solution)
    lab["cells"] = [c for c in lab["cells"] if not is_navigation(c)]
    step, regions = 0, 0
    for index, cell in enumerate(lab["cells"]):
        source = _source(cell)
        if cell["cell_type"] == "markdown":
            heading = STEP_HEADING.search(source)
            if index == 0:
                cell["source"] = retitle(source, "Lab")
            if heading:
                step = int(heading.group(1))
            continue
        if cell["cell_type"] != "code":
            continue
        if BEGIN.search(source) or "### BEGIN SOLUTION" in source:
            regions += 1
        cell["source"] = strip_solutions(source, where=f"cell {index}", step=step or regions)
        cell["outputs"], cell["execution_count"] = [], None
    if regions and not any(re.search(r"^\s*import kafkacourse as kc\b", _source(c), re.M)
                           for c in lab["cells"] if c["cell_type"] == "code"):
        raise MarkerError("a lab raises kc.ToDo: a code cell must `import kafkacourse as kc`")
    if lab_cells_before:
        lab["cells"][1:1] = copy.deepcopy(lab_cells_before)
    if lab_cells_after:
        lab["cells"].extend(copy.deepcopy(lab_cells_after))
    return lab


def generate_labs(solutions: Path, labs: Path) -> list[Path]:
    """Write labs/<dayN>/<lab name> for every solutions/**/*.ipynb, without navigation; return the paths.

    The course's own labs are written by `kafkacourse toc` (`toc.sync`), which adds their navigation.
    """
    from .notebooks import write

    written = []
    for solution in sorted(solutions.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in solution.parts:
            continue
        target = labs / solution.relative_to(solutions).with_name(lab_name(solution.name))
        write(make_lab(json.loads(solution.read_text())), target)
        written.append(target)
    return written
