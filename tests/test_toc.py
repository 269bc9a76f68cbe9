"""notebooks/README.md is generated from the notebooks; it must match what the generator writes now."""

from pathlib import Path

from kafkacourse.course.toc import render

REPO = Path(__file__).resolve().parents[1]


def test_table_of_contents_is_up_to_date():
    expected = render(REPO)
    assert (REPO / "notebooks" / "README.md").read_text() == expected, "run `./course toc` and commit the result"
    assert "[Check your setup](day1/00-check-your-setup.ipynb)" in expected
