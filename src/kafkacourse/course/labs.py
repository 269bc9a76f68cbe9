"""Lab check cells, and the generator that makes labs/ from solutions/.

In a lab notebook each step is followed by a check cell::

    kc.check(topic in cluster.topics(), "topic exists",
             hint=f"create it: kafka-topics.sh --bootstrap-server ... --create --topic {topic} --partitions 3")

A passing check prints a ✅ line; a failing one raises LabCheckFailed whose message is the hint, so the
learner (and nbval) sees exactly what is still wrong. Check cells verify from the cluster itself:
`topic_records` (what a topic holds) and `Cluster.group_offsets` (a group's committed offsets and lag).

Solutions are the single source of truth: in their code cells, a region between ``### BEGIN SOLUTION``
(optionally followed by ``hint: <text>``) and ``### END SOLUTION`` becomes, in the lab, a TODO comment and
``raise NotImplementedError("<hint>")`` at the same indentation. `kafkacourse labs` regenerates labs/;
tests/test_labs.py fails when the committed labs differ from what the solutions generate.
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


class LabCheckFailed(AssertionError):
    """A lab check that is not satisfied yet; the message tells the learner what to do."""


def check(condition: bool, what: str, hint: str) -> None:
    """Print ``✅ what`` when `condition` holds, else raise LabCheckFailed(``❌ what — hint``)."""
    if not condition:
        raise LabCheckFailed(f"❌ {what}: not yet. {hint}")
    print(f"✅ {what}")


RECORD_COLUMNS = ["partition", "offset", "key", "value", "timestamp"]


def topic_records(cluster: "Cluster", topic: str, timeout: float = 10.0) -> pd.DataFrame:
    """Every record `topic` holds right now, read from the beginning without committing anything.

    An empty frame (same columns as `Cluster.consume`) when the topic does not exist, so a check cell can
    test the result and print a hint instead of failing on a missing topic.

    >>> topic_records(cluster, topic)[["partition", "key", "value"]]
    """
    if topic not in cluster.topics():
        return pd.DataFrame(columns=RECORD_COLUMNS)
    return cluster.consume(topic, n=sum(cluster.end_offsets(topic).values()), timeout=timeout)


class MarkerError(ValueError):
    """Unbalanced or nested solution markers."""


def strip_solutions(source: str, where: str = "cell") -> str:
    """Replace each marked solution region in `source` by a TODO that raises NotImplementedError."""
    out: list[str] = []
    inside: re.Match[str] | None = None
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line.rstrip("\n")), END.match(line.rstrip("\n"))
        if begin:
            if inside:
                raise MarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution region")
            inside = begin
        elif end:
            if not inside:
                raise MarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION")
            indent, hint = inside.group("indent"), (inside.group("hint") or DEFAULT_HINT).strip()
            out.append(f"{indent}# TODO: {hint}\n")
            out.append(f"{indent}raise NotImplementedError({hint!r})\n")
            inside = None
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: BEGIN SOLUTION is never closed by END SOLUTION")
    return "".join(out)


def make_lab(solution: dict) -> dict:
    """The lab notebook (a new nbformat dict) for a solution notebook dict: regions stripped, outputs cleared."""
    lab = copy.deepcopy(solution)
    for index, cell in enumerate(lab["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        cell["source"] = strip_solutions(source, where=f"cell {index}")
        cell["outputs"], cell["execution_count"] = [], None
    return lab


def write_notebook(nb: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def generate_labs(solutions: Path, labs: Path) -> list[Path]:
    """Write labs/<same path> for every solutions/**/*.ipynb; return the lab paths written."""
    written = []
    for solution in sorted(solutions.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in solution.parts:
            continue
        target = labs / solution.relative_to(solutions)
        write_notebook(make_lab(json.loads(solution.read_text())), target)
        written.append(target)
    return written
