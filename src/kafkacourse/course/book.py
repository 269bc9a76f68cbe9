"""The course as a static book: every lesson, lab and solution as an HTML page with its real outputs.

Notebooks are committed without outputs, so `kafkacourse book` first executes them (nbclient, the same kernel
and environment as `kafkacourse test`: headless, so every LiveChart is one static figure) into
``build/executed/``, then renders each with nbconvert's "lab" template into ``build/book/`` (images embedded
in the pages, CSS inline: the book reads offline), with links between notebooks pointing at the pages and
``index.html`` the course's home page. A notebook that has not been executed is rendered as committed, with
a note saying so.

    kafkacourse book                         # execute everything (the stack must be able to start), then build
    kafkacourse book --no-execute            # build from what build/executed/ already holds
    kafkacourse book notebooks/day1/00-check-your-setup.ipynb    # execute only these, then build everything

tests/test_book.py executes one short lesson and builds a book from it, so CI proves the build works
without running the course twice.
"""

from __future__ import annotations

import html
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .toc import HOME, contents

HREF = re.compile(r'href="(?P<target>[^"#:]+?)\.ipynb(?P<anchor>#[^"]*)?"')


@dataclass
class Executed:
    path: Path          # relative to the repo
    seconds: float
    errors: int         # cells that raised


def book_sources(repo: Path) -> list[Path]:
    """Every notebook the book has, relative to the repo: the home page, then the contents in reading order."""
    return [HOME, *[page.path for page in contents(repo)]]


def execute(repo: Path, path: Path, executed: Path, env: dict[str, str], timeout: int = 300) -> Executed:
    """Run `path` in a fresh kernel (in its own folder, errors allowed) and store it under `executed`."""
    from nbclient import NotebookClient

    nb = nbformat.read(repo / path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str((repo / path).parent)}})
    started = time.monotonic()
    client.execute(env=env)
    errors = sum(1 for c in nb.cells if c.cell_type == "code"
                 for o in c.get("outputs", []) if o.get("output_type") == "error")
    target = executed / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return Executed(path, time.monotonic() - started, errors)


def _page(path: Path) -> Path:
    return Path("index.html") if path == HOME else path.with_suffix(".html")


def render(nb: nbformat.NotebookNode, path: Path, executed: bool) -> str:
    """One page: nbconvert's lab template, links to notebooks turned into links to their pages."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
    index_prefix = os.path.relpath(".", path.parent)

    def to_page(match: re.Match[str]) -> str:
        target = Path(os.path.normpath(path.parent / (match.group("target") + ".ipynb")))
        page = Path(os.path.relpath(_page(target), path.parent)).as_posix()
        return f'href="{page}{match.group("anchor") or ""}"'

    body = HREF.sub(to_page, body)
    if not executed and path != HOME:
        why = ("A lab: its steps are yours to write, so it is shown as committed; the solution's page has the "
               "outputs." if path.parts[0] == "labs" else
               "Not executed for this book: shown as committed, without outputs.")
        note = ('<div style="background:#fff3cd;padding:.6em 1em;margin:1em;border-radius:4px">'
                f'{why} <a href="{Path(index_prefix, "index.html").as_posix()}">Course home</a></div>')
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + note, body, count=1)
    return body


def build(repo: Path, executed: Path, out: Path) -> list[Path]:
    """Write the book into `out` from the executed notebooks in `executed` (else the committed ones)."""
    written = []
    for path in book_sources(repo):
        source = executed / path
        ran = source.exists()
        nb = nbformat.read(source if ran else repo / path, as_version=4)
        target = out / _page(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(nb, path, ran or path == HOME), encoding="utf-8")
        written.append(target)
    return written


def main(repo: Path, notebooks: list[str], execute_them: bool, env: dict[str, str], out: Path | None = None) -> int:
    """`kafkacourse book`: execute (all, or `notebooks`), build, report; 1 when a notebook had errors."""
    executed, out = repo / "build" / "executed", out or repo / "build" / "book"
    # labs are shown as committed (their TODOs are the learner's); lessons and solutions run
    chosen = [Path(n) for n in notebooks] or [p for p in book_sources(repo) if p != HOME and p.parts[0] != "labs"]
    failures = 0
    if execute_them:
        for number, path in enumerate(chosen, start=1):
            print(f"[{number}/{len(chosen)}] executing {path}…", file=sys.stderr, flush=True)
            result = execute(repo, path, executed, env)
            failures += result.errors > 0
            print(f"[{number}/{len(chosen)}] {path}: {result.seconds:.0f} s"
                  + (f", {result.errors} cell(s) raised" if result.errors else ""), file=sys.stderr, flush=True)
    pages = build(repo, executed, out)
    print(f"wrote {len(pages)} pages: {html.escape(str(out / 'index.html'))}")
    return 1 if failures else 0
