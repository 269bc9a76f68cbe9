"""The generated files are up to date: home page, contents, navigation cells, labs; and the generator's rules.

`./course toc` regenerates them (idempotent); this test fails when a lesson, lab or solution changed without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat

from kafkacourse.course import toc

REPO = Path(__file__).resolve().parents[1]


def test_every_generated_file_is_up_to_date():
    stale = toc.stale(REPO)
    assert not stale, f"out of date (run `./course toc` and commit the result): {[str(p) for p in stale]}"


def test_no_lab_without_a_solution():
    assert not toc.orphan_labs(REPO), "labs no solution generates (delete them, or add the solution)"


def test_a_lab_and_its_solution_never_share_a_file_name():
    pages = toc.contents(REPO)
    labs = [p for p in pages if p.kind == "lab"]
    assert labs
    same = [str(p.path) for p in labs if p.path.name == p.source.name]
    assert not same, f"name the solution NN-solution-<name>.ipynb, not like its lab (tabs would look alike): {same}"


def _course(tmp_path: Path) -> Path:
    """A small course: two lessons on day 1, a lab, one lesson on day 2."""
    def lesson(title: str, time: str) -> nbformat.NotebookNode:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}\n\n**Time:** {time} · **Questions:** q\n\n**Objectives**\n- o"),
                    nbformat.v4.new_code_cell("import kafkacourse as kc"),
                    nbformat.v4.new_markdown_cell("## Summary\n- s")]
        return nb
    for path, title, time in (("notebooks/day1/00-a.ipynb", "Alpha", "10 minutes"),
                              ("notebooks/day1/01-b.ipynb", "Beta", "1 h 5 min"),
                              ("solutions/day1/02-solution-c.ipynb", "Lab: Gamma", "30 minutes"),
                              ("notebooks/day2/01-d.ipynb", "Delta", "20 minutes")):
        nb = lesson(title, time)
        if "solution" in path:
            nb.cells.insert(2, nbformat.v4.new_markdown_cell("## Step 1: do it"))
            nb.cells.insert(3, nbformat.v4.new_code_cell("### BEGIN SOLUTION hint: look it up\nx = 1\n### END SOLUTION"))
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, tmp_path / path)
    (tmp_path / "labs").mkdir()
    return tmp_path


def _cells(path: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"]]


def test_sync_writes_navigation_labs_home_and_contents_and_is_idempotent(tmp_path):
    repo = _course(tmp_path)
    assert toc.stale(repo)
    written = toc.sync(repo)
    assert Path("labs/day1/02-lab-c.ipynb") in written and toc.HOME in written
    assert toc.stale(repo) == [] and toc.sync(repo) == [], "a second run changes nothing"

    beta = _cells(repo / "notebooks/day1/01-b.ipynb")
    assert beta[0].startswith("# Beta") and beta[1].startswith(toc.NAV_MARK) and beta[-1].startswith(toc.NAV_MARK)
    assert "[← Previous: Alpha](00-a.ipynb)" in beta[1]
    assert "[Next: Lab: Gamma →](../../labs/day1/02-lab-c.ipynb)" in beta[1]
    assert "[Course home](../../START.ipynb)" in beta[-1]
    lab = _cells(repo / "labs/day1/02-lab-c.ipynb")
    assert lab[0].startswith("# Lab: Gamma") and "Try each step yourself first" in lab[1]
    assert "../../solutions/day1/02-solution-c.ipynb" in lab[1]
    assert "raise kc.ToDo(1, 'look it up')" in "\n".join(lab) and "x = 1" not in "\n".join(lab)
    assert "[Next: Delta →](../../notebooks/day2/01-d.ipynb)" in lab[-1]
    solution = _cells(repo / "solutions/day1/02-solution-c.ipynb")
    assert solution[0].startswith("# Solution: Gamma") and "Back to the lab" in solution[1]
    home = "\n".join(_cells(repo / "START.ipynb"))
    assert "[Alpha](notebooks/day1/00-a.ipynb) | 10 minutes" in home
    assert "Day 1 — Architecture and mental models · 1 h 45 min" in home, "10 + 65 + 30 minutes"
    assert "Day 5 —" in home and "./course doctor" in home
    assert "(coming)" in (repo / "notebooks/README.md").read_text()


def test_the_capstone_folder_comes_after_day_5_headed_capstone(tmp_path):
    repo = _course(tmp_path)
    (repo / "notebooks/capstone").mkdir(parents=True)
    shutil.copy(repo / "notebooks/day2/01-d.ipynb", repo / "notebooks/capstone/01-e.ipynb")
    toc.sync(repo)
    delta, capstone = _cells(repo / "notebooks/day2/01-d.ipynb"), _cells(repo / "notebooks/capstone/01-e.ipynb")
    assert "[Next: Delta →](../capstone/01-e.ipynb)" in delta[1]
    assert "Capstone · 01" in capstone[1] and "[← Previous: Delta](../day2/01-d.ipynb)" in capstone[1]
    home = "\n".join(_cells(repo / "START.ipynb"))
    assert home.index("### Day 5 —") < home.index("### Capstone — ") and "Day 6" not in home


def test_a_stale_navigation_cell_is_caught(tmp_path):
    repo = _course(tmp_path)
    toc.sync(repo)
    # a lesson is added between two others: the neighbours' links are now stale
    shutil.copy(repo / "notebooks/day1/00-a.ipynb", repo / "notebooks/day1/005-extra.ipynb")
    assert Path("notebooks/day1/00-a.ipynb") in toc.stale(repo)
    toc.sync(repo)
    # a hand edit of a navigation cell is caught too
    path = repo / "notebooks/day1/01-b.ipynb"
    path.write_text(path.read_text().replace("Course home", "Home"))
    assert toc.stale(repo) == [Path("notebooks/day1/01-b.ipynb")]


def test_minutes_reads_the_time_lines():
    assert [toc.minutes(t) for t in ("40 minutes", "1 hour", "1 h 30 min", "90 min", "")] == [40, 60, 90, 90, 0]
