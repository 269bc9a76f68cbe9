"""LiveChart headless (as under nbval): it collects points and draws one static figure."""

from __future__ import annotations

from kafkacourse import LiveChart
from kafkacourse.plots.live import is_headless


def test_headless_chart_returns_its_data_and_draws_each_line(monkeypatch):
    monkeypatch.setenv("KAFKA_COURSE_HEADLESS", "1")
    assert is_headless()
    chart = LiveChart("throughput", xlabel="s", ylabel="records/s")
    assert not chart.live
    for second in range(5):
        chart.add(second, produced=10 * second, consumed=8 * second)
    frame = chart.finish()
    assert list(frame.columns) == ["produced", "consumed"] and frame.loc[4, "consumed"] == 32
    figure = chart.figure()
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["produced", "consumed"]
    assert figure.axes[0].get_title() == "throughput"


def test_step_chart_for_ownership_timelines(monkeypatch):
    monkeypatch.setenv("KAFKA_COURSE_HEADLESS", "1")
    chart = LiveChart("partitions owned", kind="step")
    chart.add(0, c1=6)
    chart.add(1, c1=3, c2=3)
    assert chart.finish().fillna(0).to_dict() == {"c1": {0: 6, 1: 3}, "c2": {0: 0.0, 1: 3}}
