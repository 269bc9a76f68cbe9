"""The Day 2 lab (order API, Avro events, Idempotency-Key), as generated into labs/, executed against the live stack.

- untouched: every top-level TODO cell raises kc.ToDo ("step N is still to do: <hint>"); the app cell of step 4 fails
  with a NameError (it needs step 1's OrderRequest); every check cell then fails with LabCheckFailed and a
  hint saying what to do (never a NameError); setup, the read-back cell and the clean-up run.
- steps 1-3 solved (their solution cells put back): the API starts, and the checks that need step 4's
  publish() or step 5's publish_once() fail with the hint that the endpoint answered 500, while the
  validation check (422, nothing produced) already passes.
The solution itself is executed by nbval (pyproject's testpaths include solutions/); tests/test_labs.py checks
that labs/ is what the solutions generate.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_labs import error_of, execute  # the Day 1 lab test's helpers: run a notebook, read a cell's error

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labs" / "day2" / "07-lab-order-api-idempotency.ipynb"
SOLUTION = REPO / "solutions" / "day2" / "07-solution-order-api-idempotency.ipynb"

NOT_RUNNING = r"your API is not running: do steps 1-3, then run step 4's cell"
UNTOUCHED_HINTS = [
    [r"OrderRequest validates orders: not yet", "write OrderLine and OrderRequest in step 1"],
    [r"lab-\w+\.order\.placed\.v1-value holds the OrderPlaced schema: not yet", "no schema is registered",
     re.escape('registry.register_schema(subject, Schema(json.dumps(ORDER_PLACED), "AVRO"))')],
    [r"order_placed\(\) builds a valid OrderPlaced: not yet", r"do step 1 first \(OrderRequest\)"],
    [r"POST /orders stores one OrderPlaced event per order: not yet", NOT_RUNNING],
    [r"invalid orders get 422 and produce nothing: not yet", NOT_RUNNING],
    [r"an Idempotency-Key gives one order and one event: not yet", NOT_RUNNING],
    [r"concurrent retries with one key make one order: not yet", NOT_RUNNING],
]


def check_cells(cells) -> list:
    return [c for c in cells if "kc.check(" in c.source]


def assert_fails_with(cell, patterns: list[str]) -> None:
    error = error_of(cell)
    assert error is not None and error[0] == "LabCheckFailed", \
        f"a check cell must fail with LabCheckFailed, not {error}:\n{cell.source[:300]}"
    for pattern in patterns:
        assert re.search(pattern, error[1]), f"{pattern!r} not in the check's message {error[1]!r}"


@pytest.mark.timeout(180)
def test_the_untouched_lab_fails_each_check_with_its_hint(tmp_path):
    cells = execute(LAB, tmp_path)

    todo = [c for c in cells if "raise kc.ToDo(" in c.source]
    top_level = [c for c in todo if re.search(r"^raise kc\.ToDo\(", c.source, re.M)]
    assert len(todo) == 5 and len(top_level) == 2, "steps 1-2 are top-level TODOs, steps 3-5 function bodies"
    for cell in top_level:
        hint = re.search(r"# TODO: (.*)", cell.source).group(1)
        step = re.search(r"raise kc\.ToDo\((\d+),", cell.source).group(1)
        assert error_of(cell) == ("ToDo", f"step {step} is still to do: {hint}"), (cell.source[:200], error_of(cell))
    app_cell = next(c for c in todo if "def create_app" in c.source)
    assert error_of(app_cell) == ("NameError", "name 'OrderRequest' is not defined"), error_of(app_cell)

    checks = check_cells(cells)
    assert len(checks) == len(UNTOUCHED_HINTS)
    for cell, patterns in zip(checks, UNTOUCHED_HINTS):
        assert_fails_with(cell, patterns)

    others = [c for c in cells if c not in todo and c not in checks]
    assert others and all(error_of(c) is None for c in others), \
        [(c.source[:60], error_of(c)) for c in others if error_of(c)]
    setup = "".join(o.get("text", "") for o in others[0].outputs if o.output_type == "stream")
    assert "topic: lab-" in setup and ".order.placed.v1" in setup, setup


@pytest.mark.timeout(180)
def test_with_steps_1_to_3_done_the_api_runs_and_the_checks_point_at_the_endpoint(tmp_path):
    lab, solution = nbformat.read(LAB, as_version=4), nbformat.read(SOLUTION, as_version=4)
    assert len(lab.cells) == len(solution.cells)
    solved_steps = ("class OrderLine", "schema_id = registry.register_schema", "def order_placed")
    for index, cell in enumerate(solution.cells):  # put back the solution of steps 1-3 only
        if cell.cell_type == "code" and any(marker in cell.source for marker in solved_steps):
            lab.cells[index] = cell
    partial = tmp_path / "partial.ipynb"
    nbformat.write(lab, partial)

    cells = execute(partial, tmp_path)

    app_cell = next(c for c in cells if "def create_app" in c.source)
    assert error_of(app_cell) is None, error_of(app_cell)
    first, validation, retry, storm = check_cells(cells)[3:]
    assert_fails_with(first, [r"POST /orders answered 500", r"publish\(\) raises NotImplementedError"])
    assert error_of(validation) is None, "422 comes from the model alone, before the endpoint runs"
    assert_fails_with(retry, [r"the three requests got \[500, 500, 500\]", r"publish_once\(\) raises"])
    assert_fails_with(storm, [r"the five requests got \[500(, 500){4}\]"])
    assert all(error_of(c) is None for c in check_cells(cells)[:3]), "steps 1-3 pass"

