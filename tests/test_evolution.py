"""Schema evolution: the hand-written expectations agree with fastavro's schema resolution, and the live
registry (Apicurio's ccompat API) agrees with both, cell by cell; its one known deviation is checked too."""

from __future__ import annotations

import fastavro
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro.read import SchemaResolutionError

from kafkacourse.instruments import evolution as ev
from kafkacourse.instruments import schemas
from kafkacourse.plots.evolution import plot_matrix
@pytest.fixture(scope="module")
def verdicts(cluster):
    registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
    table = ev.registry_verdicts(registry, prefix="test-evolution")
    leftovers = [s for s in registry.get_subjects() if s.startswith("test-evolution")]
    assert not leftovers, f"registry_verdicts left subjects behind: {leftovers}"
    return table


def test_every_schema_in_the_matrix_is_valid_avro():
    for change in ev.CHANGES:
        for schema in (*change.history, change.candidate):
            fastavro.parse_schema(schema)
        assert set(change.expected) == set(ev.MODES)


def test_expectations_match_fastavro_resolution():
    assert ev.disagreements(ev.resolution_matrix(), ev.expected_matrix()) == []


def test_transitivity_matters_in_the_multi_version_rows():
    expected = ev.expected_matrix()
    differs = [(c, m) for c in expected.index for m in ("BACKWARD", "FORWARD", "FULL")
               if expected.loc[c, m] != expected.loc[c, f"{m}_TRANSITIVE"]]
    assert {c for c, _ in differs} == {"v3 drops the default v2 added", "v3 removes a field v2 gave a default"}


def test_registry_agrees_with_the_avro_rules_cell_by_cell(verdicts):
    assert len(verdicts) == len(ev.CHANGES) * len(ev.MODES)
    assert set(verdicts.status) <= {200, 409}
    assert (verdicts.accepted == (verdicts.status == 200)).all()
    assert ev.disagreements(ev.pivot(verdicts), ev.expected_matrix()) == []


def test_apicurio_dry_run_checks_every_version(cluster, verdicts):
    if schemas.registry_flavour(cluster.schema_registry_url) != "apicurio":
        assert ev.disagreements(ev.pivot(verdicts, "dry_run"), ev.expected_matrix()) == [], "Confluent: as register"
        return
    dry_run = ev.pivot(verdicts, "dry_run")
    assert ev.disagreements(dry_run, ev.expected_dry_run_matrix()) == []
    # ... which differs from registration exactly in the non-transitive modes of the multi-version rows.
    assert {(c, m) for c, m, *_ in ev.disagreements(dry_run, ev.expected_matrix())} == {
        ("v3 drops the default v2 added", "BACKWARD"), ("v3 drops the default v2 added", "FULL"),
        ("v3 removes a field v2 gave a default", "FORWARD"), ("v3 removes a field v2 gave a default", "FULL")}


def test_testing_against_latest_only_is_the_non_transitive_verdict(verdicts):
    """Per Confluent's API, a test against one version checks that version only: in the non-transitive modes
    it agrees with registration; in the transitive ones it answers like the plain mode."""
    latest = ev.pivot(verdicts, "test_latest")
    expected = ev.expected_matrix()
    for mode in ("BACKWARD", "FORWARD", "FULL"):
        assert latest[mode].equals(expected[mode]), mode
        assert latest[f"{mode}_TRANSITIVE"].equals(expected[mode]), mode


def test_read_as_fills_defaults_drops_unknown_fields_and_refuses_the_impossible():
    old = {"order_id": "o-1", "customer_id": "c-1", "quantity": 2, "coupon": "SAVE10"}
    v2 = ev.removed("coupon", ev.added(ev.CURRENCY_DEFAULT))
    assert ev.read_as(old, writer=ev.BASE, reader=v2) == {
        "order_id": "o-1", "customer_id": "c-1", "quantity": 2, "currency": "EUR"}
    new = {"order_id": "o-2", "customer_id": "c-2", "quantity": 1, "currency": "USD"}
    assert ev.read_as(new, writer=v2, reader=ev.BASE) == {
        "order_id": "o-2", "customer_id": "c-2", "quantity": 1, "coupon": None}
    with pytest.raises(SchemaResolutionError):
        ev.read_as(old, writer=ev.BASE, reader=ev.added(ev.CURRENCY_REQUIRED))


def test_plot_matrix_marks_disagreements():
    expected = ev.expected_matrix()
    flipped = expected.copy()
    flipped.iloc[0, 0] = not flipped.iloc[0, 0]
    fig = plot_matrix(flipped, expected)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == expected.size and sum("≠ rules" in t for t in texts) == 1


def test_enum_and_union_expectations_match_fastavro_and_the_registry(cluster):
    expected = ev.expected_matrix(ev.ENUM_AND_UNION_CHANGES, ev.PLAIN_MODES)
    assert ev.disagreements(ev.resolution_matrix(ev.ENUM_AND_UNION_CHANGES, ev.PLAIN_MODES), expected) == []
    registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
    table = ev.registry_verdicts(registry, ev.ENUM_AND_UNION_CHANGES, ev.PLAIN_MODES, prefix="test-enums")
    assert ev.disagreements(ev.pivot(table), expected) == []


def test_protobuf_wire_reads_match_by_number_and_wire_type():
    read = {name: ev.proto_wire_read(ev.PROTO_V1, candidate) for name, candidate in ev.PROTO_CHANGES.items()}
    assert read["rename field 3 (same number)"]["coupon"] == ("SPRING10", "SPRING10"), "names are not on the wire"
    assert "coupon" not in read["remove field 3, reserve it"], "a removed field is skipped"
    assert read["int64 -> string (wire type changes)"]["total_cents"] == (2**33 + 7, "")
    assert read["reuse number 3 for an int64"]["coupon"] == ("SPRING10", 0)
    assert [ev.proto_wire_verdict(ev.PROTO_V1, c) for c in ev.PROTO_CHANGES.values()] == [True, True, True] + [False] * 4


def test_protobuf_registry_refuses_what_loses_data(cluster):
    registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
    table = ev.proto_registry_verdicts(registry, prefix="test-proto-evolution")
    assert table.loc["add field 4", "accepted"] and not table.loc[~table.wire, "accepted"].any(), table
    assert not [s for s in registry.get_subjects() if s.startswith("test-proto-evolution")]
