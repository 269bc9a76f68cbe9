"""The capstone lab (the inventory service inside the whole system) against the live stack.

- wrong answers learners really write, put into the solution's files and run through the lab's scenario (the
  whole system, load, a poison record, SIGKILLs at crash points and from outside): each one's check fails with
  its hint, and only the checks it should. Three of them do not hide one another and share one run (no
  compensation, no stock check, commit before the write); a reservation that is not idempotent needs a run
  of its own (a commit first would hide it: the crash before the commit then finds nothing written);
- each wrong answer also fails Step 1's check on a scratch store, where it can;
- the generated lab, untouched: every check cell fails with LabCheckFailed and a hint, never a NameError.
The solution itself passes under nbval (pyproject's testpaths include solutions/).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_labs import assert_checks_fail_with_their_hints, error_of, execute, written_files

from courseapps.capstone.inventory_lab import CHECKS, InventoryLab

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "capstone" / "03-solution-inventory-service.ipynb"
LAB = REPO / "labs" / "capstone" / "03-lab-inventory-service.ipynb"


def solution_files() -> dict[str, str]:
    files = written_files(SOLUTION)
    assert set(files) == {"inventory_store.py", "inventory_service.py"}, files.keys()
    return files


def replace(a: str, b: str):
    def change(source: str) -> str:
        assert a in source, f"the wrong answer no longer applies to the solution: {a!r}"
        return source.replace(a, b)
    return change


RELEASE_BEGIN = '''    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT state, lines, updated_at FROM reservations'''
COMMIT = "            consumer.commit(message=msg, asynchronous=False)\n"
HANDLE = "            published = handle(db, suffix, event)\n            publish(producer, events, published)\n"

# name → (file, change, the check it fails, its hint, the scratch-store hint or None)
WRONG_ANSWERS = {
    "no compensation on PaymentFailed": (
        "inventory_store.py", replace(RELEASE_BEGIN, "    return []  # nothing to undo?\n" + RELEASE_BEGIN),
        "compensation", r"orders whose payment failed still hold their stock.*what does the saga's compensation do",
        r"PaymentFailed for a reserved order published \[\]"),
    "stock allowed negative": (
        "inventory_store.py", replace("            state, at = (\"REJECTED\" if short else", "            short = []\n"
                                      "            state, at = (\"REJECTED\" if short else"),
        "never-negative", r"stock went below zero.*What must reserve find out about every line",
        r"for 2 of b \(1 in stock\) published \['inventory.reserved'\].*never go negative"),
    "commit before the store write": (
        "inventory_service.py", replace(HANDLE + COMMIT, COMMIT + HANDLE),
        "answered", r"after-commit crash point never got an answer.*store write, publish, commit", None),
    "reservation not idempotent on redelivery": (
        "inventory_store.py", lambda s: replace("        if row is None:\n", "        if True:  # reserve what was ordered\n")(
            replace("INSERT INTO reservations", "INSERT OR REPLACE INTO reservations")(s)),
        "redelivery", r"stock taken beyond what the orders hold.*delivered to your service twice",
        r"the same order delivered again left \{'a': 1, 'b': 1\}"),
}
RUNS = {"three that do not hide one another": ["no compensation on PaymentFailed", "stock allowed negative",
                                                "commit before the store write"],
        "a reservation that is not idempotent": ["reservation not idempotent on redelivery"]}


@pytest.mark.timeout(420)
@pytest.mark.parametrize("run", RUNS)
def test_wrong_answers_fail_their_checks_with_their_hints(cluster, tmp_path, run):
    files = solution_files()
    for wrong in RUNS[run]:
        filename, change, _, _, _ = WRONG_ANSWERS[wrong]
        files[filename] = change(files[filename])
    lab = InventoryLab.create(cluster, tmp_path / "lab")
    try:
        for name, source in files.items():
            (lab.code_dir / name).write_text(source)
        store_hint = lab.check_store()
        result = lab.run_scenario(progress=False)
        verdicts = {name: lab.problem(name, result) for name in CHECKS}
    finally:
        lab.cleanup()
    assert verdicts["ran"] is None, verdicts["ran"]  # the wrong answers run; their checks catch them
    expected = {WRONG_ANSWERS[w][2] for w in RUNS[run]}
    assert {name for name, problem in verdicts.items() if problem} == expected, verdicts
    for wrong in RUNS[run]:
        _, _, check, pattern, _ = WRONG_ANSWERS[wrong]
        assert re.search(pattern, verdicts[check], re.S), (wrong, verdicts[check])
    assert store_hint is not None  # and Step 1's check already said so (which hint: the test below)


@pytest.mark.parametrize("wrong", [w for w, answer in WRONG_ANSWERS.items() if answer[4]])
def test_step_1s_check_catches_each_wrong_store_on_a_scratch_database(cluster, tmp_path, wrong):
    filename, change, _, _, pattern = WRONG_ANSWERS[wrong]
    files = solution_files()
    lab = InventoryLab.create(cluster, tmp_path / "lab")
    for name, source in files.items():
        (lab.code_dir / name).write_text(change(source) if name == filename else source)
    assert re.search(pattern, lab.check_store() or "", re.S), lab.check_store()


def test_the_solutions_store_passes_step_1s_check(cluster, tmp_path):
    lab = InventoryLab.create(cluster, tmp_path / "lab")
    for name, source in solution_files().items():
        (lab.code_dir / name).write_text(source)
    assert lab.check_store() is None


UNTOUCHED = ([r"not yet\. step 1 is still to do: one transaction per order"]
             + [r"the scenario did not get through: step 1 is still to do"] * len(CHECKS))


@pytest.mark.timeout(240)
def test_the_untouched_lab_fails_each_check_with_its_hint(tmp_path):
    cells = execute(LAB, tmp_path)
    todo = [c for c in cells if "raise NotImplementedError" in c.source]
    assert len(todo) == 2 and all(c.source.startswith("%%writefile") for c in todo), "two files with TODOs"
    assert all(error_of(c) is None for c in todo), "writing a file with TODOs works; running it does not"
    assert_checks_fail_with_their_hints(cells, UNTOUCHED, todo)
