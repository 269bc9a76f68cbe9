"""The lab generator (solutions/ → labs/), the committed labs' freshness, and the labs' check cells on a live cluster.

- the generator, on small in-memory notebooks: marked regions become a TODO + ``raise kc.ToDo(step, hint)`` at
  the same indentation; unbalanced or nested markers raise MarkerError;
- in a real kernel, a failing check and a TODO render as their message alone (no traceback);
- drift: every lab in labs/ equals what its solution generates (run `kafkacourse labs` to fix);
- the generated Day 1 lab, executed untouched against the live cluster: each TODO cell raises
  kc.ToDo ("step N is still to do: <hint>"), each check cell then fails with LabCheckFailed carrying a precise hint
  (never a NameError), every other cell runs.
  The solutions themselves are executed by nbval (pyproject's testpaths include solutions/).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from confluent_kafka import TopicPartition
from nbclient import NotebookClient

import kafkacourse as kc
from kafkacourse.course import toc
from kafkacourse.course.labs import (DEFAULT_HINT, MarkerError, ToDo, generate_labs, lab_name, make_lab,
                                     strip_solutions, topic_records)

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS, LABS = REPO / "solutions", REPO / "labs"


def notebook(*cells: tuple[str, str]) -> dict:
    """An nbformat dict with (cell_type, source) cells, as it is stored on disk (source as a list of lines)."""
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        nb.cells.append(cell)
    return json.loads(nbformat.writes(nb))


def source_of(cell: dict) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


# -- the generator ---------------------------------------------------------------------------------------------

def test_a_marked_region_becomes_a_todo_that_raises_with_its_hint():
    source = ("import kafkacourse as kc\n"
              "### BEGIN SOLUTION hint: create the topic with 3 partitions\n"
              "cluster.create_topic(topic, partitions=3)\n"
              "### END SOLUTION\n"
              "print('after')\n")
    assert strip_solutions(source) == ("import kafkacourse as kc\n"
                                       "# TODO: create the topic with 3 partitions\n"
                                       "raise kc.ToDo(1, 'create the topic with 3 partitions')\n"
                                       "print('after')\n")


def test_the_todo_keeps_the_indentation_of_the_markers_and_the_code_still_compiles():
    source = ("def step(cluster, topic):\n"
              "    total = 0\n"
              "    for p in range(3):\n"
              "        ### BEGIN SOLUTION hint: add the partition's end offset\n"
              "        total += cluster.end_offsets(topic)[p]\n"
              "        ### END SOLUTION\n"
              "    return total\n")
    lab = strip_solutions(source, step=3)
    assert "        # TODO: add the partition's end offset\n" in lab
    assert "        raise kc.ToDo(3, \"add the partition's end offset\")\n" in lab
    assert "end_offsets" not in lab
    ast.parse(lab)  # the hint is quoted safely even with quotes in it


def test_without_a_hint_the_default_hint_is_used_and_every_region_is_replaced():
    source = ("a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\n"
              "c = 3\n### BEGIN SOLUTION hint: set d\nd = 4\n### END SOLUTION\n")
    lab = strip_solutions(source, step=None)
    assert lab == (f"a = 1\n# TODO: {DEFAULT_HINT}\nraise kc.ToDo(1, {DEFAULT_HINT!r})\n"
                   "c = 3\n# TODO: set d\nraise kc.ToDo(2, 'set d')\n")


def test_a_hint_with_a_backslash_or_braces_is_raised_verbatim():
    lab = strip_solutions("### BEGIN SOLUTION hint: !printf 'a:1\\n' | tool --topic {topic}\nx\n### END SOLUTION\n")
    namespace: dict = {"kc": kc}
    with pytest.raises(NotImplementedError) as raised:
        exec(lab, namespace)
    assert raised.value.hint == "!printf 'a:1\\n' | tool --topic {topic}"
    assert str(raised.value) == "step 1 is still to do: !printf 'a:1\\n' | tool --topic {topic}"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "END SOLUTION without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### END SOLUTION\n", "inside another"),
    ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### END SOLUTION\n", "END SOLUTION without a BEGIN"),
])
def test_unbalanced_or_nested_markers_raise_marker_error(source, message):
    with pytest.raises(MarkerError, match=message):
        strip_solutions(source)


def test_make_lab_strips_code_cells_clears_outputs_and_leaves_markdown_and_the_solution_alone():
    solution = notebook(("markdown", "# Solution: t\n### BEGIN SOLUTION\nmarkdown is prose, never stripped\n### END SOLUTION"),
                        ("code", "import kafkacourse as kc\n### BEGIN SOLUTION hint: h\nsecret = 42\n### END SOLUTION"),
                        ("code", "print('kept')"))
    solution["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["kept\n"]}]
    solution["cells"][2]["execution_count"] = 7
    before = json.dumps(solution, sort_keys=True)

    lab = make_lab(solution)

    assert json.dumps(solution, sort_keys=True) == before, "make_lab changed the solution"
    assert source_of(lab["cells"][0]) == source_of(solution["cells"][0]).replace("# Solution: t", "# Lab: t")
    assert source_of(lab["cells"][1]) == "import kafkacourse as kc\n# TODO: h\nraise kc.ToDo(1, 'h')\n"
    assert "secret" not in json.dumps(lab)
    assert lab["cells"][2]["outputs"] == [] and lab["cells"][2]["execution_count"] is None
    nbformat.validate(nbformat.from_dict(lab))


def test_make_lab_names_the_cell_of_a_bad_marker():
    solution = notebook(("code", "ok = 1"), ("code", "### BEGIN SOLUTION\nx = 1"))
    with pytest.raises(MarkerError, match="cell 1"):
        make_lab(solution)


def test_the_step_comes_from_the_step_heading_and_a_lab_must_import_kc():
    solution = notebook(("markdown", "# Lab: t"), ("code", "import kafkacourse as kc"),
                        ("markdown", "## Step 4: later"), ("code", "### BEGIN SOLUTION hint: h\nx = 1\n### END SOLUTION"))
    assert "raise kc.ToDo(4, 'h')" in source_of(make_lab(solution)["cells"][3])
    del solution["cells"][1]
    with pytest.raises(MarkerError, match="import kafkacourse as kc"):
        make_lab(solution)


def test_a_solution_named_nn_solution_gives_a_lab_named_nn_lab():
    assert lab_name("08-solution-cli-produce-consume.ipynb") == "08-lab-cli-produce-consume.ipynb"
    assert lab_name("08-lab-cli.ipynb") == "08-lab-cli.ipynb"  # old naming: flagged by test_navigation


def test_generate_labs_mirrors_the_solution_tree_and_skips_checkpoints(tmp_path):
    solutions, labs = tmp_path / "solutions", tmp_path / "labs"
    for path in (solutions / "day2" / "03-solution-x.ipynb", solutions / "day2" / ".ipynb_checkpoints" / "03-x-checkpoint.ipynb"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(notebook(("code", "import kafkacourse as kc\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"))))

    written = generate_labs(solutions, labs)

    assert written == [labs / "day2" / "03-lab-x.ipynb"]
    assert "raise kc.ToDo(1, " in source_of(json.loads(written[0].read_text())["cells"][0])


# -- the check helpers, on the live cluster (fixtures `cluster` and `topic`, 3 partitions: tests/conftest.py) ---

def test_topic_records_reads_everything_a_topic_holds_and_nothing_of_a_missing_topic(cluster, topic):
    assert topic_records(cluster, topic).empty
    sent = cluster.produce(topic, [(f"k{i % 4}", f"v{i}") for i in range(10)])
    records = topic_records(cluster, topic, timeout=5)
    assert sorted(zip(records.key, records.value)) == sorted(zip(sent.key, sent.value))
    missing = topic_records(cluster, kc.unique_name("never-created"))
    assert missing.empty and list(missing.columns) == ["partition", "offset", "key", "value", "timestamp"]


def test_group_offsets_reports_committed_end_and_lag_per_partition(cluster, topic):
    group = kc.unique_name("test-labs-group")
    assert cluster.group_offsets(group, topic).committed.tolist() == [None, None, None]
    cluster.produce(topic, [{"value": f"v{i}", "partition": i % 3} for i in range(9)])  # 3 per partition
    # commit partition 0 fully, partition 1 after one record, partition 2 not at all
    cluster.commit_offsets(group, [TopicPartition(topic, 0, 3), TopicPartition(topic, 1, 1)])

    offsets = cluster.group_offsets(group, topic)

    assert offsets.to_dict("records") == [
        {"partition": 0, "committed": 3, "end": 3, "lag": 0},
        {"partition": 1, "committed": 1, "end": 3, "lag": 2},
        {"partition": 2, "committed": None, "end": 3, "lag": 3},
    ]
    assert cluster.group_offsets(group, kc.unique_name("never-created")).empty


# -- drift: the committed labs are what the solutions generate (with their navigation) -------------------------

def test_every_committed_lab_is_what_its_solution_generates():
    pages = [p for p in toc.contents(REPO) if p.kind == "lab"]
    assert pages, f"no solution notebook under {SOLUTIONS}"
    stale = [str(p.path) for p in pages if p.path in toc.stale(REPO)]
    assert not stale, f"out of date (run `./course toc` and commit the result): {stale}"


def test_every_committed_lab_has_a_solution():
    orphans = toc.orphan_labs(REPO)
    assert not orphans, f"labs without a solution (delete them, or add the solution): {orphans}"


# -- the generated lab, executed untouched ---------------------------------------------------------------------

def execute(path: Path, tmp_path: Path) -> list[dict]:
    """Run a notebook in a fresh kernel of this Python, errors allowed; return its code cells with outputs."""
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, KAFKA_COURSE_HEADLESS="1", MPLBACKEND="Agg",
               PATH=os.pathsep.join([str(REPO / "bin"), str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    client = NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    return [cell for cell in nb.cells if cell.cell_type == "code"]


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def rendered(cell) -> str | None:
    """What JupyterLab shows for a cell's error: its traceback lines (ANSI colours removed), joined."""
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return ANSI.sub("", "\n".join(errors[0].traceback)) if errors else None


def error_of(cell) -> tuple[str, str] | None:
    errors = [o for o in cell.outputs if o.output_type == "error"]
    return (errors[0].ename, errors[0].evalue) if errors else None


# Per check cell of the lab, in order: what its failure message must say when the learner has done nothing.
DAY1_CLI_LAB_HINTS = [
    [r"topic lab-orders-\w+ exists: not yet", r"no topic named lab-orders-\w+\. kafka-topics\.sh --help"],
    [r"lab-orders-\w+ holds the 6 keyed orders, in order: not yet", "the topic does not exist yet: do step 1"],
    [r"group lab-readers-\w+ has read all of lab-orders-\w+: not yet", "the topic does not exist yet: do step 1"],
    ["current_offsets holds the group's committed offsets: not yet", "do step 3 first"],
]


@pytest.mark.timeout(120)
def test_the_untouched_day1_cli_lab_fails_each_check_with_its_hint(tmp_path):
    lab = LABS / "day1" / "08-lab-cli-produce-consume.ipynb"
    cells = execute(lab, tmp_path)

    todo_cells = [c for c in cells if "raise kc.ToDo(" in c.source]
    check_cells = [c for c in cells if re.search(r"kc\.check\(|day1_lab\.check_", c.source)]
    marked = {id(c) for c in todo_cells + check_cells}
    assert len(todo_cells) == len(check_cells) == len(DAY1_CLI_LAB_HINTS), "one TODO and one check per step"

    for step, cell in enumerate(todo_cells, start=1):
        hint = re.search(r"# TODO: (.*)", cell.source).group(1)
        assert error_of(cell) == ("ToDo", f"step {step} is still to do: {hint}"), (cell.source, error_of(cell))
        assert rendered(cell) == f"step {step} is still to do: {hint}", "the TODO shows as one line, no traceback"

    for cell, expected in zip(check_cells, DAY1_CLI_LAB_HINTS):
        error = error_of(cell)
        assert error is not None and error[0] == "LabCheckFailed", \
            f"a check cell must fail with LabCheckFailed, not {error}:\n{cell.source}"
        for pattern in expected:
            assert re.search(pattern, error[1]), f"{pattern!r} not in the check's message {error[1]!r}"
        assert rendered(cell) == error[1], "a failing check shows its message alone, not a traceback"

    others = [c for c in cells if id(c) not in marked]
    assert others and all(error_of(c) is None for c in others), \
        [(c.source[:60], error_of(c)) for c in others if error_of(c)]
    setup = "\n".join(o.get("text", "") for o in others[0].outputs if o.output_type == "stream")
    assert "topic: lab-orders-" in setup and "group: lab-readers-" in setup, setup


def written_files(solution: Path) -> dict[str, str]:
    """The module files a solution's %%writefile cells write (file name → source), solution markers removed:
    the lab tests start from them and swap in a learner's wrong answer."""
    files = {}
    for cell in json.loads(solution.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.startswith("%%writefile"):
            first, body = source.split("\n", 1)
            files[first.rsplit("/", 1)[1]] = "".join(line + "\n" for line in body.splitlines() if "### " not in line)
    return files


def assert_checks_fail_with_their_hints(cells, patterns: list[str], todo: list) -> None:
    """An executed untouched lab: its kc.check cells, in order, each fail as LabCheckFailed with a message matching
    its pattern; every cell that is neither a check nor one of the `todo` cells runs without an error."""
    checks = [c for c in cells if "kc.check(" in c.source]
    assert len(checks) == len(patterns)
    for cell, pattern in zip(checks, patterns):
        error = error_of(cell)
        assert error is not None and error[0] == "LabCheckFailed", (cell.source, error)
        assert re.search(pattern, error[1], re.S), (pattern, error[1])
    others = [c for c in cells if c not in todo and c not in checks]
    assert others and all(error_of(c) is None for c in others), [(c.source[:60], error_of(c)) for c in others if error_of(c)]
