"""The inventory lab's harness on its own: the step-1 check against the solution's store and wrong ones,
and clear errors for a check that does not exist. (The whole scenario: tests/test_day3_lab.py and nbval.)"""

from __future__ import annotations

import pytest
from test_day3_lab import DEDUP, solution_files

from courseapps.day3.inventory_lab import CHECKS, InventoryLab, ScenarioResult


@pytest.fixture
def lab(cluster, tmp_path):
    lab = InventoryLab.create(cluster, tmp_path / "lab")
    yield lab
    lab.cleanup()


def test_check_store_passes_the_solution_and_names_each_mistake(lab):
    store = lab.code_dir / "inventory_store.py"
    assert "does not exist yet" in lab.check_store()
    source = solution_files()["inventory_store.py"]
    store.write_text(source)
    assert lab.check_store() is None
    store.write_text(source.replace(DEDUP[0], "").replace(DEDUP[1], ""))
    assert "applied a second time decremented the stock again" in lab.check_store()
    store.write_text(source.replace("            if changed == 0:\n                raise UnknownProduct(line[\"sku\"])\n", ""))
    assert "should raise UnknownProduct" in lab.check_store()
    no_transaction = source.replace("    with db:  #", "    if True:  #")
    store.write_text(no_transaction)  # never committed at all
    assert "expected mug 8, tea 9" in lab.check_store()
    store.write_text(no_transaction.replace("(line[\"quantity\"], line[\"sku\"])).rowcount\n",
                                            "(line[\"quantity\"], line[\"sku\"])).rowcount\n            db.commit()\n"))
    assert "all its lines or not at all" in (lab.check_store() or ""), "a commit per line"


def test_problem_rejects_an_unknown_check_and_points_every_check_at_a_failed_run(lab):
    with pytest.raises(ValueError, match="unknown check"):
        lab.problem("nope", ScenarioResult("t", "r", "d", "g", {}))
    failed = ScenarioResult("t", "r", "d", "g", {}, error="your consumer exited with code 1; the end of its log:\nboom")
    assert lab.problem("ran", failed).startswith("your consumer exited with code 1")
    assert all(lab.problem(name, failed).startswith("the scenario did not get through") for name in CHECKS[1:])
