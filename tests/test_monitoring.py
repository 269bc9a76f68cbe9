"""instruments.monitoring against the course's live Prometheus (the brokers' exporter targets)."""

from __future__ import annotations

import pytest

from kafkacourse.instruments.monitoring import brokers_not_scraped, wait_scraped


def test_every_broker_of_the_cluster_profile_is_scraped(prometheus_server, cluster):
    # Brokers started before the exporter existed are not scraped: lesson 03's rolling restart fixes that.
    missing = brokers_not_scraped(prometheus_server, "cluster")
    assert set(missing) <= {1, 2, 3}
    for node in sorted({1, 2, 3} - set(missing)):
        wait_scraped(prometheus_server, "cluster", node, timeout=10)


def test_an_unknown_profile_is_refused(prometheus_server):
    with pytest.raises(ValueError, match="no targets for the profile 'nope'"):
        brokers_not_scraped(prometheus_server, "nope")
