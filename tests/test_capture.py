"""instruments.capture: a real tcpdump capture on loopback finds a record on the single broker's PLAINTEXT
listener and not on the secure profile's TLS listener; clear errors when tcpdump is missing or unused."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse.instruments import capture
from kafkacourse.instruments.capture import Capture, CaptureError


def _payload() -> bytes:
    return f"card=4111-1111-1111-1111 {kc.unique_name('probe')}".encode()


def test_plaintext_record_is_in_the_capture_with_its_requests(cluster, make_topic):
    topic, payload, client = make_topic(1), _payload(), kc.unique_name("wire-client")
    with Capture(cluster.stack.profile.nodes[0].broker_port) as wire:
        sent = cluster.produce(topic, [payload], settings={"compression.type": "none", "client.id": client})
    assert sent.error.isna().all()
    hits = wire.count(payload)
    assert hits["to_port"] >= 1 and hits["from_port"] == 0, hits   # produced, never fetched
    assert wire.dropped == 0
    ours = wire.kafka_requests().query("client_id == @client")
    assert ours.api.iloc[0] == "ApiVersions" and "Produce" in set(ours.api), ours
    assert wire.tls_records().empty or not set(wire.tls_records().connection) & set(ours.connection)


@pytest.mark.secure
def test_tls_record_is_not_in_the_capture():
    secure = kc.connect(profile="secure")
    topic, payload, client = secure.create_topic(kc.unique_name("wire")), _payload(), kc.unique_name("wire-client")
    try:
        with Capture(secure.stack.profile.nodes[0].broker_port) as wire:
            secure.produce(topic, [payload], settings={"compression.type": "none", "client.id": client})
        assert [m.value() for m in secure.messages(topic)] == [payload]
        assert wire.count(payload) == {"to_port": 0, "from_port": 0}
        records = wire.tls_records()
        assert {"handshake", "application_data"} <= set(records.type), records
        # Other clients may talk plaintext to the TLS port (lesson 01 does, on purpose): ours are never readable.
        assert client not in set(wire.kafka_requests().client_id) and not wire.contains(client)
    finally:
        secure.delete_topic(topic)


def test_clear_errors(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="TCP port"):
        Capture(0)
    with pytest.raises(CaptureError, match="nothing captured yet"):
        Capture(9092).count(b"x")
    with pytest.raises(CaptureError, match="did not start capturing"):
        Capture(9092, interface="no-such-interface").start(timeout=5)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(capture.os, "access", lambda *_: False)
    with pytest.raises(CaptureError, match="apt-get install"):
        Capture(9092).start()


def test_doctor_reports_tcpdump(monkeypatch, tmp_path):
    from kafkacourse.course import doctor

    present = doctor._tcpdump()
    assert present.ok and present.detail.startswith("tcpdump version"), present
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(capture.os, "access", lambda *_: False)
    missing = doctor._tcpdump()
    assert not missing.ok and "apt-get install" in missing.fix, missing
