"""instruments.testing.run_pytest: outcomes and recorded properties of a real pytest child run."""

import pytest

from kafkacourse.instruments.testing import run_pytest


def test_outcomes_and_properties(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import os\n"
        "def test_ok(record_property):\n    record_property('where', 'here')\n"
        "def test_bad():\n    assert os.environ.get('FLAG') == 'yes'\n")
    run = run_pytest(str(tmp_path / "test_x.py"), cwd=tmp_path)
    assert run.outcomes == {"test_ok": "passed", "test_bad": "failed"} and run.returncode == 1
    assert run.properties["test_ok"] == {"where": "here"}
    assert set(run.durations) == {"test_ok", "test_bad"}
    assert run_pytest(str(tmp_path / "test_x.py"), cwd=tmp_path, env={"FLAG": "yes"}).count("passed") == 2


def test_no_arguments_is_refused():
    with pytest.raises(ValueError):
        run_pytest()
