"""The CLI's step progress: plain lines where no terminal watches (CI logs), a spinner redrawn in place on one."""

from __future__ import annotations

import io
import time

from kafkacourse.course.progress import Steps


def test_without_a_terminal_each_message_is_one_line_and_nothing_is_redrawn():
    out = io.StringIO()
    with Steps(out, tty=False, interval_s=0.01) as steps:
        steps("Resolving jars with Maven (once)…")
        time.sleep(0.05)
        steps("Starting Kafka broker 1 on :9092…")
        steps("Kafka ready.")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "[1] Resolving jars with Maven (once)…" and lines[1].startswith("[1] done in ")
    assert lines[2] == "[2] Starting Kafka broker 1 on :9092…" and lines[3].startswith("[2] done in ")
    assert lines[4] == "Kafka ready." and len(lines) == 5


def test_on_a_terminal_the_running_step_spins_and_a_finished_step_leaves_one_line():
    out = io.StringIO()
    with Steps(out, tty=True, interval_s=0.01) as steps:
        steps("Starting Kafka broker 1 on :9092…")
        time.sleep(0.2)
    text = out.getvalue()
    redraws = text.count("\r")
    assert redraws >= 3, "the spinner redraws the running step in place"
    final = text.split("\r")[-1]
    assert final.startswith("\x1b[K✔ OK [1] Starting Kafka broker 1 on :9092… ") and final.endswith(" s\n")
    assert text.count("\n") == 1, "one line per finished step"


def test_kc_progress_yields_every_item_and_draws_a_bar(capsys):
    import kafkacourse as kc

    assert list(kc.progress(range(5), desc="sweep", mininterval=0)) == [0, 1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "sweep" in err and "5/5" in err
    with kc.progress(total=3, desc="records", unit="rec", mininterval=0) as bar:
        bar.update(3)
    assert "3/3" in capsys.readouterr().err
