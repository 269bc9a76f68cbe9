"""courseapps.day4.acks_api: the same endpoint with Kafka (acks=all, record on the topic) and without."""

from __future__ import annotations

import httpx

import kafkacourse as kc
from courseapps.day4.acks_api import create_app

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 9.5}


def test_with_kafka_the_record_is_on_the_topic_without_it_nothing_is_sent(cluster, make_topic):
    topic = make_topic(partitions=1, prefix="test-acks-api")
    with kc.serve(create_app(cluster.config(), topic)) as api:
        answer = httpx.post(api.url + "/orders", json=ORDER, timeout=30)
        assert answer.status_code == 201 and answer.json()["offset"] == 0
        assert httpx.post(api.url + "/orders", json={"order_id": "o-2"}, timeout=30).status_code == 422
    with kc.serve(create_app(None, topic)) as api:
        answer = httpx.post(api.url + "/orders", json={**ORDER, "order_id": "o-9"}, timeout=30)
        assert answer.status_code == 201 and "offset" not in answer.json()
    values = cluster.consume(topic, timeout=3).value.tolist()
    assert len(values) == 1 and '"o-1"' in values[0]
