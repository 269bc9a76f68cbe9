"""The Day 3 lab (inventory consumer with manual commits, a DLQ and a retry topic) against the live stack.

- wrong answers learners really write, each put into the solution's files and run through the lab's whole
  scenario (a real process, SIGKILLed and restarted): the matching check fails with its hint;
- the generated lab, untouched: every check cell fails with LabCheckFailed and a hint (never a NameError),
  every other cell runs.
The solution itself passes under nbval (pyproject's testpaths include solutions/); tests/test_labs.py checks
that labs/ is what the solutions generate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_labs import assert_checks_fail_with_their_hints, error_of, execute, written_files

from courseapps.day3.inventory_lab import CHECKS, InventoryLab

pytestmark = pytest.mark.slow  # executes whole notebooks: left out of `./course test --fast`

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "day3" / "08-solution-inventory-consumer.ipynb"
LAB = REPO / "labs" / "day3" / "08-lab-inventory-consumer.ipynb"


def solution_files() -> dict[str, str]:
    files = written_files(SOLUTION)
    assert set(files) == {"inventory_store.py", "inventory_consumer.py"}, files.keys()
    return files


def swap(a: str, b: str):
    return lambda source: source.replace(a + b, b + a)


COMMIT_AFTER = ("            handle(ctx, db, producer, deserialize, msg)\n",
                "            consumer.commit(message=msg, asynchronous=False)\n")
DEDUP = ('        if db.execute("SELECT 1 FROM applied_events WHERE event_id = ?", (event["event_id"],)).fetchone():\n'
         "            return False\n",
         '        db.execute("INSERT INTO applied_events (event_id) VALUES (?)", (event["event_id"],))\n')

WRONG_ANSWERS = {
    "commit before the write": ("inventory_consumer.py", swap(*COMMIT_AFTER), "after-commit",
                                r"crash-after-commit was lost.*order of the stock write and the commit"),
    "no dedup": ("inventory_store.py", lambda s: s.replace(DEDUP[0], "").replace(DEDUP[1], ""), "before-commit",
                 r"crash-before-commit was applied twice.*remember about the events it has applied"),
    "DLQ without headers": ("inventory_consumer.py",
                            lambda s: s.replace("value=msg.value(), headers=headers)", "value=msg.value())"), "dlq",
                            r"DLQ records lack the headers \[.*'error.original.offset'.*why it failed and where it came from"),
    "auto-commit left on": ("inventory_consumer.py",
                            lambda s: s.replace('{"enable.auto.commit": False, "auto.offset.reset": "earliest"}',
                                                '{"auto.offset.reset": "earliest"}'), "in-hand",
                            r"crash-in-hand was lost.*who else commits offsets"),
}


@pytest.mark.timeout(240)
@pytest.mark.parametrize("wrong", WRONG_ANSWERS)
def test_a_wrong_answer_fails_its_check_with_its_hint(cluster, tmp_path, wrong):
    filename, change, check, pattern = WRONG_ANSWERS[wrong]
    files = solution_files()
    changed = change(files[filename])
    assert changed != files[filename], f"the wrong answer {wrong!r} no longer applies to the solution"
    files[filename] = changed
    lab = InventoryLab.create(cluster, tmp_path / "lab")
    try:
        for name, source in files.items():
            (lab.code_dir / name).write_text(source)
        result = lab.run_scenario(progress=False)
        verdicts = {name: lab.problem(name, result) for name in CHECKS}
        assert verdicts["ran"] is None, verdicts["ran"]  # the wrong answer runs; its check catches it
        assert verdicts[check] is not None and re.search(pattern, verdicts[check], re.S), (check, verdicts)
        if wrong == "no dedup":
            assert re.search(r"applied a second time decremented the stock again", lab.check_store() or "")
    finally:
        lab.cleanup()


UNTOUCHED = [r"apply_order still raises NotImplementedError"] + \
    [r"your consumer exited with code 1.*NotImplementedError"] + \
    [r"the scenario did not get through: your consumer exited with code 1"] * (len(CHECKS) - 1)


@pytest.mark.timeout(240)
def test_the_untouched_lab_fails_each_check_with_its_hint(tmp_path):
    cells = execute(LAB, tmp_path)

    todo = [c for c in cells if "raise NotImplementedError" in c.source]
    assert len(todo) == 2 and all(c.source.startswith("%%writefile") for c in todo), "two files with TODOs"
    assert all(error_of(c) is None for c in todo), "writing a file with TODOs works; running it does not"
    assert_checks_fail_with_their_hints(cells, UNTOUCHED, todo)
