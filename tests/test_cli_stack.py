"""`kafkacourse up/status/logs/down/reset` with --profile and --with, on a scratch home and shifted ports."""

from __future__ import annotations

import pytest

from kafkacourse.course import cli
from kafkacourse.stack import LocalStack


@pytest.mark.slow
def test_profile_up_status_logs_down_reset(scratch_home, port_offset, capsys):
    stack = LocalStack(profile="dr")
    assert cli.main(["up", "--profile", "dr"]) == 0
    try:
        assert stack.running() and stack.brokers_answering() == {1}
        assert not LocalStack().registry.running(), "the dr profile starts no registry"
        capsys.readouterr()
        assert cli.main(["status"]) == 0
        rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()[1:]}
        assert rows["dr/broker-1"] == ["running", str(9692 + port_offset)], rows
        assert rows["single/broker-1"][0] == rows["registry"][0] == "stopped", rows
        assert cli.main(["logs", "--profile", "dr", "-n", "5"]) == 0
        assert "==> broker 1 of the dr stack" in capsys.readouterr().out
        assert cli.main(["down", "--profile", "single"]) == 0
        assert stack.running(), "down --profile single leaves dr alone"
    finally:
        assert cli.main(["down"]) == 0
    assert not stack.running() and stack.root.exists(), "down stops it and keeps its data"
    assert cli.main(["reset", "--profile", "dr", "--yes"]) == 0
    assert not stack.root.exists()


def test_brokers_3_is_the_cluster_profile_and_unknown_services_are_refused(capsys):
    assert cli._stack(cli.main.__globals__["argparse"].Namespace(profile=None, brokers=3, with_services=[])).name \
        == "cluster"
    with pytest.raises(SystemExit):
        cli.main(["up", "--with", "registry,zookeeper"])
    assert "unknown service zookeeper; known: registry" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["up", "--profile", "prod"])
