"""The course as a learner meets it: JupyterLab started as `./course open` starts it, driven by headless Chromium.

One test, in order (a learner's first minutes):
1. `/` lands on the course's home page (START.ipynb, rendered), which opens clean (no unsaved-changes dot);
2. from its "Begin here" link, day1/00 opens clean; saving it unchanged writes the very same bytes (the
   committed form is the form JupyterLab writes);
3. Run → Run All Cells runs the lesson: every cell executes, none shows an error, the doctor table, a widget
   and a chart (an image in the LiveChart's widget) render;
4. the Day 1 lab: its TODO shows "step 1 is still to do: …" and the check after it its message alone, with
   no traceback through the library.

JupyterLab serves a copy of the course's notebooks (the rest of the repo linked in), so nothing the browser
does touches the committed files. Screenshots go to tests/artifacts/ (git-ignored); with
KAFKA_COURSE_SCREENSHOTS=1 the two README pictures in docs/images/ are rewritten from this run.

Needs Debian's chromium (/usr/bin/chromium; `./course test` installs it as root) and Playwright for Python
(no browser download: `executable_path`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from kafkacourse.course.cli import REPO, course_env, lab_command

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts"
PICTURES = REPO / "docs" / "images"
LESSON = "notebooks/day1/00-check-your-setup.ipynb"
LAB = "labs/day1/08-lab-cli-produce-consume.ipynb"
COPIED = ("notebooks", "labs", "solutions", "START.ipynb")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (`./course test` installs it when run as root)")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def course_root(tmp_path) -> Path:
    """A copy of the notebooks, beside links to everything else of the repo."""
    root = tmp_path / "course"
    root.mkdir()
    for entry in REPO.iterdir():
        if entry.name in COPIED:
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, root / entry.name)
        elif not entry.name.startswith("."):
            (root / entry.name).symlink_to(entry)
    return root


@pytest.fixture
def jupyterlab(course_root, tmp_path, cluster):
    """JupyterLab as `./course open` starts it (same command, same environment), on a free port with a known token."""
    port, token = free_port(), secrets.token_hex(16)
    settings = tmp_path / "settings" / "@jupyterlab" / "docmanager-extension"
    settings.mkdir(parents=True)
    (settings / "plugin.jupyterlab-settings").write_text('{"autosave": false}')
    command = lab_command([
        "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True", "--ServerApp.terminals_enabled=False",
    ], root=course_root)
    env = {k: v for k, v in course_env().items() if k not in ("KAFKA_COURSE_HEADLESS", "MPLBACKEND")}
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=course_root)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"JupyterLab did not start:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.3)
    try:
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def page(jupyterlab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.set_default_timeout(60_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.errors = errors  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


# -- helpers over JupyterLab's own model (the app is exposed to the page for the test) --------------------------

CURRENT = "window.jupyterapp.shell.currentWidget"


def wait_kernel_idle(page, timeout_s: float = 60) -> None:
    page.wait_for_function(f"() => {{ const w = {CURRENT}; return w && w.sessionContext && w.sessionContext.session"
                           " && w.sessionContext.session.kernel && w.sessionContext.session.kernel.status === 'idle'"
                           " && w.context.isReady; }", timeout=timeout_s * 1000)


def dirty(page) -> bool:
    return page.evaluate(f"() => {CURRENT}.context.model.dirty")


def open_path(page, url: str, token: str, path: str) -> None:
    page.evaluate(f"p => window.jupyterapp.commands.execute('docmanager:open', {{path: p}})", path)
    page.wait_for_function(f"p => {CURRENT} && {CURRENT}.context && {CURRENT}.context.path === p", arg=path)
    wait_kernel_idle(page)


def cell_errors(page) -> list[str]:
    return page.evaluate(f"""() => {{
        const cells = {CURRENT}.content.model.cells, found = [];
        for (let i = 0; i < cells.length; i++) {{
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            for (const out of cell.outputs.toJSON()) if (out.output_type === 'error') found.push(i + ': ' + out.ename + ': ' + out.evalue);
        }}
        return found; }}""")


def executed_counts(page) -> tuple[int, int]:
    return tuple(page.evaluate(f"""() => {{
        const cells = {CURRENT}.content.model.cells; let code = 0, done = 0;
        for (let i = 0; i < cells.length; i++) {{
            const cell = cells.get(i);
            if (cell.type !== 'code') continue;
            code++; if (cell.executionCount !== null) done++;
        }}
        return [done, code]; }}"""))


def run_cell(page, index: int) -> None:
    page.evaluate(f"i => {{ {CURRENT}.content.activeCellIndex = i; }}", index)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    page.wait_for_function(f"i => {CURRENT}.content.model.cells.get(i).executionCount !== null", arg=index)
    wait_kernel_idle(page)


def output_text(page, index: int) -> str:
    return page.evaluate(f"i => {CURRENT}.content.widgets[i].node.querySelector('.jp-OutputArea').innerText", index)


def test_a_learners_first_minutes_in_a_real_browser(page, jupyterlab, course_root):
    url, token = jupyterlab
    started = time.monotonic()

    def phase(name: str) -> None:
        print(f"{time.monotonic() - started:6.1f} s  {name}")

    # 1. the front door: `/` opens the rendered home page, clean
    page.goto(f"{url}/?token={token}")
    home = page.locator(".jp-RenderedMarkdown h1", has_text="Kafka & FastAPI in five days")
    home.wait_for()
    wait_kernel_idle(page)
    assert page.locator(".jp-RenderedMarkdown", has_text="Begin here").count() == 1
    assert page.locator(".jp-RenderedMarkdown h3", has_text="Day 1").count() == 1
    page.wait_for_timeout(500)  # anything JupyterLab would change on open has happened by now
    assert not dirty(page), "the home page opens with the unsaved-changes dot"
    page.screenshot(path=str(ARTIFACTS / "home.png"))
    page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")  # room for the lesson

    phase('home page rendered')
    # 2. "Begin here" opens day1/00, clean; saving it unchanged writes the same bytes
    page.locator(".jp-RenderedMarkdown a", has_text="Check your setup").first.click()
    page.wait_for_function(f"p => {CURRENT} && {CURRENT}.context && {CURRENT}.context.path === p", arg=LESSON)
    wait_kernel_idle(page)
    page.wait_for_timeout(500)
    assert not dirty(page), f"{LESSON} opens with the unsaved-changes dot: run `./course toc`"
    committed = (course_root / LESSON).read_bytes()
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_timeout(1000)
    assert (course_root / LESSON).read_bytes() == committed, "JupyterLab writes the notebook differently"

    phase('lesson open and saved')
    # 3. Run → Run All Cells, through the menu
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(f"""() => {{ const cells = {CURRENT}.content.model.cells; let todo = 0;
        for (let i = 0; i < cells.length; i++) {{ const c = cells.get(i); if (c.type === 'code' && c.executionCount === null) todo++; }}
        return todo === 0 && {CURRENT}.sessionContext.session.kernel.status === 'idle'; }}""", timeout=100_000)
    done, code = executed_counts(page)
    assert done == code > 5, (done, code)
    assert cell_errors(page) == [], "a cell of the lesson shows an error"
    assert page.locator(".jp-OutputArea-output table.dataframe").count() >= 1, "the doctor's table renders"
    widget = page.locator(".jp-OutputArea-output .jupyter-widgets")
    assert widget.count() >= 1, "an ipywidget renders"
    chart = page.locator(".jp-OutputArea-output .jupyter-widgets img, .jp-OutputArea-output img").last
    chart.wait_for()
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, f"the chart is drawn: {box}"
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=str(ARTIFACTS / "chart.png"))
    page.evaluate(f"() => {{ {CURRENT}.content.activeCellIndex = 0; {CURRENT}.content.scrollToItem(0); }}")
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "lesson.png"))

    phase('lesson run')
    # 4. the lab: a TODO and a failing check, each as its message alone
    open_path(page, url, token, LAB)
    assert not dirty(page), f"{LAB} opens with the unsaved-changes dot"
    sources = page.evaluate(f"() => {{ const c = {CURRENT}.content.model.cells, s = []; "
                            "for (let i = 0; i < c.length; i++) s.push([c.get(i).type, c.get(i).sharedModel.getSource()]); return s; }")
    setup = next(i for i, (kind, src) in enumerate(sources) if kind == "code" and "kc.connect()" in src)
    todo = next(i for i, (kind, src) in enumerate(sources) if kind == "code" and "raise kc.ToDo(" in src)
    check = next(i for i, (kind, src) in enumerate(sources)
                 if i > todo and kind == "code" and re.search(r"kc\.check\(|day1_lab\.check_", src))
    for index in (setup, todo, check):
        run_cell(page, index)
    todo_text, check_text = output_text(page, todo), output_text(page, check)
    assert todo_text.strip().startswith("step 1 is still to do: "), todo_text
    assert re.match(r"❌ topic lab-orders-\w+ exists: not yet\. the cluster has no topic named ", check_text.strip()), check_text
    for text in (todo_text, check_text):
        assert "Traceback" not in text and "labs.py" not in text and "File " not in text, text
    page.evaluate(f"i => {CURRENT}.content.scrollToItem(i, 'center')", check)
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "lab.png"))

    phase('lab checked')
    assert page.errors == [], f"JavaScript errors in the page: {page.errors}"  # type: ignore[attr-defined]
    elapsed = time.monotonic() - started
    if os.environ.get("KAFKA_COURSE_SCREENSHOTS") == "1":
        from PIL import Image  # matplotlib's own dependency

        PICTURES.mkdir(parents=True, exist_ok=True)
        for shot, picture in (("lesson.png", "first-hour-lesson.png"), ("chart.png", "first-hour-chart.png")):
            # 128 colours are plenty for a screenshot of text and lines, and keep the repo small
            Image.open(ARTIFACTS / shot).convert("RGB").quantize(colors=128).save(PICTURES / picture, optimize=True)
    print(f"browser walk-through: {elapsed:.0f} s")
