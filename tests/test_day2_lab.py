"""The Day 2 lab (order API, Avro events, durable Idempotency-Key), executed against the live stack.

- untouched (labs/ as generated): every top-level TODO cell raises kc.ToDo ("step N is still to do: <hint>"); the app
  cell of step 4 fails with a NameError (it needs step 1's OrderRequest); every check cell then fails with
  LabCheckFailed and a hint saying what to do (never a NameError); setup, read-back and clean-up run.
- steps 1-3 solved: the API starts, and the checks that need step 4's publish() or step 5 point at them,
  while the validation check (422, nothing produced) already passes.
- the wrong answers learners really write, each put into the solution in place of the right one: each must
  fail *its* check with a hint that names the mistake, and leave the other checks alone.
The solution itself is executed by nbval (pyproject's testpaths include solutions/); tests/test_labs.py checks
that labs/ is what the solutions generate.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_labs import error_of, execute  # the Day 1 lab test's helpers: run a notebook, read a cell's error

pytestmark = pytest.mark.slow  # executes whole notebooks: left out of `./course test --fast`

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "labs" / "day2" / "07-lab-order-api-idempotency.ipynb"
SOLUTION = REPO / "solutions" / "day2" / "07-solution-order-api-idempotency.ipynb"

NOT_RUNNING = r"your API is not running: do steps 1-3, then run step 4's cell"
CHECKS = ["OrderRequest validates orders", "holds the OrderPlaced schema", "order_placed\\(\\) builds",
          "POST /orders stores one OrderPlaced", "invalid orders get 422", "a Kafka outage gives 503",
          "an Idempotency-Key gives one order", "concurrent retries with one key", "with another body gets 422",
          "survives a restart", "a retry after a timed-out request"]
UNTOUCHED_HINTS = [
    ["write OrderLine and OrderRequest in step 1"],
    ["no schema is registered", "register ORDER_PLACED there before producing"],
    [r"do step 1 first \(OrderRequest\)"],
    *[[NOT_RUNNING]] * 8,
]


def check_cells(cells) -> list:
    return [c for c in cells if "kc.check(" in c.source]


def check_error(cells, name: str) -> tuple[str, str] | None:
    """The error of check `name` (a regex of its "what"), or None when it passed. A check cell may hold several
    checks: when a later one of them failed, `name` passed; when an earlier one failed, `name` never ran."""
    for cell in check_cells(cells):
        if not (mine := re.search(name, cell.source)):
            continue
        error = error_of(cell)
        if error is None or re.search(name, error[1]):
            return error
        failed = re.match(r"❌ (.*?): not yet", error[1])
        failed_at = cell.source.find(failed.group(1)[-25:]) if failed else -1
        if failed_at > mine.start():
            return None  # a later check of this cell failed: this one passed
        return error  # an earlier check failed: this one did not run (assert_fails_with says so)
    raise AssertionError(f"no check cell for {name!r}")


def assert_fails_with(cells, name: str, patterns: list[str]) -> None:
    error = check_error(cells, name)
    assert error is not None and error[0] == "LabCheckFailed", f"check {name!r} must fail with LabCheckFailed, not {error}"
    assert re.search(name, error[1]), f"another check of the cell failed first: {error[1]!r}"
    for pattern in patterns:
        assert re.search(pattern, error[1]), f"{pattern!r} not in the check's message {error[1]!r}"


def with_cells(tmp_path: Path, base: Path, replacements: dict[str, str]) -> Path:
    """`base` with each code cell that contains a key replaced by that key's source (a wrong answer)."""
    nb = nbformat.read(base, as_version=4)
    for marker, source in replacements.items():
        hits = [cell for cell in nb.cells if cell.cell_type == "code" and marker in cell.source]
        assert len(hits) == 1, f"{marker!r} is in {len(hits)} cells"
        hits[0].source = source
    path = tmp_path / "variant.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.timeout(240)
def test_the_untouched_lab_fails_each_check_with_its_hint(tmp_path):
    cells = execute(LAB, tmp_path)

    todo = [c for c in cells if "raise kc.ToDo(" in c.source]
    top_level = [c for c in todo if re.search(r"^raise kc\.ToDo\(", c.source, re.M)]
    assert len(todo) == 6 and len(top_level) == 2, "steps 1-2 are top-level TODOs, the others bodies"
    for cell in top_level:
        hint = re.search(r"# TODO: (.*)", cell.source).group(1)
        step = re.search(r"raise kc\.ToDo\((\d+),", cell.source).group(1)
        assert error_of(cell) == ("ToDo", f"step {step} is still to do: {hint}"), (cell.source[:200], error_of(cell))
    app_cell = next(c for c in todo if "def create_app" in c.source)
    assert error_of(app_cell) == ("NameError", "name 'OrderRequest' is not defined"), error_of(app_cell)

    checks = check_cells(cells)
    assert len(checks) == len(UNTOUCHED_HINTS) == len(CHECKS)
    for name, patterns in zip(CHECKS, UNTOUCHED_HINTS):
        assert_fails_with(cells, name, patterns)

    others = [c for c in cells if c not in todo and c not in checks]
    assert others and all(error_of(c) is None for c in others), \
        [(c.source[:60], error_of(c)) for c in others if error_of(c)]
    setup = "".join(o.get("text", "") for o in others[0].outputs if o.output_type == "stream")
    assert "topic: lab-" in setup and ".order.placed.v1" in setup, setup


@pytest.mark.timeout(240)
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
    for name in CHECKS[:3]:
        assert check_error(cells, name) is None, f"step 1-3 check {name!r} passes"
    assert_fails_with(cells, CHECKS[3], [r"POST /orders answered 500", r"publish\(\) raises NotImplementedError"])
    assert check_error(cells, CHECKS[4]) is None, "422 comes from the model alone, before the endpoint runs"
    assert_fails_with(cells, CHECKS[5], [r"does not work yet with the network up \(500\): do step 4 first"])
    assert_fails_with(cells, CHECKS[6], [r"the three requests got \[500, 500, 500\]", r"publish_once\(\) raises"])
    assert_fails_with(cells, CHECKS[7], [r"the five requests got \[500(, 500){4}\]"])
    assert_fails_with(cells, CHECKS[8], [r"the first request got 500"])
    assert_fails_with(cells, CHECKS[9], [r"the requests got 500 and 500"])
    assert_fails_with(cells, CHECKS[10], [r"the retry got 500"])


# The wrong answers. Each variant puts several independent mistakes into the solution at once (one per step),
# so that one execution tests several checks; each mistake must be caught by its own check, by name.
NO_FORBID = '''### BEGIN SOLUTION
class OrderLine(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    unit_price_cents: int = Field(gt=0)


class OrderRequest(BaseModel):  # no extra="forbid": unknown fields are silently dropped
    customer_id: str = Field(min_length=1)
    lines: list[OrderLine] = Field(min_length=1)
    currency: Currency
### END SOLUTION'''
AUTO_REGISTER = '''### BEGIN SOLUTION
schema_id = registry.register_schema(subject, Schema(json.dumps(ORDER_PLACED), "AVRO"))
serializer = AvroSerializer(registry, json.dumps(ORDER_PLACED))  # the default: auto.register.schemas=True
### END SOLUTION'''
IN_MEMORY = '''MEMORY = {}  # survives an API restart in this kernel, not a process restart


async def publish_once(app: FastAPI, key: str, order: "OrderRequest") -> dict:
    ### BEGIN SOLUTION
    if key not in MEMORY:  # no lock, no fingerprint, no file
        MEMORY[key] = await publish(app, order)
    return MEMORY[key]
    ### END SOLUTION'''


def publish_variant(body: str) -> str:
    """The solution's step-4 cell with publish()'s body replaced."""
    source = nbformat.read(SOLUTION, as_version=4)
    cell = next(c for c in source.cells if c.cell_type == "code" and "async def publish(app" in c.source)
    head, rest = cell.source.split("    ### BEGIN SOLUTION", 1)
    return head + "    ### BEGIN SOLUTION\n" + body + "\n    ### END SOLUTION" + rest.split("    ### END SOLUTION", 1)[1]


WRONG_KEY_NO_503 = publish_variant('''    order_id = str(uuid.uuid4())
    value = serializer(order_placed(order_id, order), VALUE)
    msg = await app.state.producer.send(topic, value=value, key=order.customer_id)  # the customer as key; no except
    return {"order_id": order_id, "partition": msg.partition(), "offset": msg.offset()}''')
FIRE_AND_FORGET = publish_variant('''    order_id = str(uuid.uuid4())
    app.state.producer.produce(topic, value=serializer(order_placed(order_id, order), VALUE), key=order_id)
    return {"order_id": order_id}  # answered before the broker said anything''')


@pytest.mark.timeout(300)
def test_models_serializer_and_store_mistakes_fail_their_own_checks(tmp_path):
    cells = execute(with_cells(tmp_path, SOLUTION, {"class OrderLine": NO_FORBID,
                                                    "serializer = AvroSerializer": AUTO_REGISTER,
                                                    "async def publish_once": IN_MEMORY}), tmp_path)
    assert_fails_with(cells, CHECKS[0], [r"accepts these bad orders: \['unknown field coupon', 'unknown field in a line'\]",
                                         "pydantic ignores undeclared fields", "model_config"])
    assert_fails_with(cells, "serializer only uses registered schemas",
                      ["your serializer registered the schema itself", r"help\(AvroSerializer\)"])
    assert_fails_with(cells, CHECKS[4], [r"'unknown field coupon': 201"])
    assert check_error(cells, CHECKS[6]) is None, "one key, sequential: the dict is enough for that"
    assert_fails_with(cells, CHECKS[7], ["different order ids", r"hold .*app\.state\.locks\[key\]"])
    assert_fails_with(cells, CHECKS[8], ["the same key with another body got 201", "fingerprint", "422"])
    assert_fails_with(cells, CHECKS[9], [r"the key is not in data/\S+\.sqlite3"])
    assert_fails_with(cells, CHECKS[10], [r"2 events for one key", "Hold the key's lock"])
    for name in (CHECKS[1], CHECKS[2], CHECKS[3], CHECKS[5]):
        assert check_error(cells, name) is None, f"{name!r} is not affected by these mistakes"


@pytest.mark.timeout(300)
def test_a_record_keyed_by_the_customer_and_an_uncaught_delivery_error_fail_their_checks(tmp_path):
    cells = execute(with_cells(tmp_path, SOLUTION, {"async def publish(app": WRONG_KEY_NO_503}), tmp_path)
    assert_fails_with(cells, CHECKS[3], [r"the record's key is b'c-42', not the order id"])
    assert_fails_with(cells, CHECKS[5], ["a Kafka outage became a 500", "answer 503"])
    for name in CHECKS[6:]:
        assert check_error(cells, name) is None, f"{name!r} is not affected by these mistakes"


@pytest.mark.timeout(300)
def test_a_201_before_the_delivery_report_fails_the_outage_check(tmp_path):
    cells = execute(with_cells(tmp_path, SOLUTION, {"async def publish(app": FIRE_AND_FORGET}), tmp_path)
    assert_fails_with(cells, CHECKS[5], ["answered 201 while no broker could have stored the order",
                                         "answer only after the delivery report"])
