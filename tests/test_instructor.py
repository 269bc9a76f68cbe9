"""Instructor notes: each lesson of a day that has notes (instructor/dayN.md) has a section with its parts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kafkacourse.course import labs

REPO = Path(__file__).resolve().parents[1]
DAYS = sorted(p for p in REPO.glob("instructor/*.md") if p.name != "README.md")


def test_every_day_with_lessons_has_notes():
    days = {d.name for d in (REPO / "notebooks").iterdir() if d.is_dir() and any(d.glob("*.ipynb"))}
    assert days and days <= {p.stem for p in DAYS}, f"no instructor notes for {sorted(days - {p.stem for p in DAYS})}"


@pytest.mark.parametrize("notes", DAYS, ids=lambda p: p.name)
def test_every_lesson_and_lab_of_the_day_has_a_section_with_timing_live_code_and_mistakes(notes):
    day = notes.stem
    names = [p.name for p in sorted((REPO / "notebooks" / day).glob("*.ipynb"))]
    names += [labs.lab_name(p.name) for p in sorted((REPO / "solutions" / day).glob("*.ipynb"))]
    sections = dict(re.findall(r"^## (\S+\.ipynb) — .*?\n(.*?)(?=^## |\Z)", notes.read_text(), re.M | re.S))
    missing = [n for n in names if n not in sections]
    assert not missing, f"{notes.name} has no section for {missing}"
    for name in names:
        for part in ("**Timing:**", "**Type live:**", "**Usual mistakes:**"):
            assert part in sections[name], f"{notes.name}, {name}: no {part}"
    assert not set(sections) - set(names), f"notes for notebooks that do not exist: {set(sections) - set(names)}"
