"""`kafkacourse book` builds: one short lesson executed for real, and the book built from it (CI does not run
the course a second time for the book; this proves the build and its outputs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafkacourse.course import book
from kafkacourse.course.cli import notebook_env
from kafkacourse.course.toc import contents

pytestmark = pytest.mark.slow  # executes whole notebooks: left out of `./course test --fast`

REPO = Path(__file__).resolve().parents[1]
LESSON = Path("notebooks/day1/00-check-your-setup.ipynb")


@pytest.mark.timeout(240)
def test_a_lesson_executed_for_real_becomes_a_page_with_its_outputs_and_charts(tmp_path, cluster):
    executed, out = tmp_path / "executed", tmp_path / "book"
    result = book.execute(REPO, LESSON, executed, notebook_env(figures=True))
    assert result.errors == 0, f"{LESSON} raised while executing for the book"

    pages = book.build(REPO, executed, out)

    assert len(pages) == 1 + len(contents(REPO)), "the home page and every lesson, lab and solution"
    page = (out / LESSON.with_suffix(".html")).read_text()
    assert re.search(r'<img[^>]+src="data:image/png;base64,', page), "the LiveChart's figure is embedded"
    assert "Check your setup" in page, "the lesson's own text"
    assert re.search(r"confluent-kafka 2\.\d+\.\d+, librdkafka 2\.\d+", page), "the doctor's real output (its client row)"
    assert 'href="../../index.html"' in page, "navigation leads to the book's home, not to a notebook"
    assert ".ipynb\"" not in re.sub(r'href="https?://[^"]*"', "", page)
    home = (out / "index.html").read_text()
    assert 'href="notebooks/day1/00-check-your-setup.html"' in home
    other = (out / "notebooks/day1/01-why-event-driven.html").read_text()
    assert "Not executed for this book" in other, "a page without an execution says so"
