"""Markers for the whole suite (tests/, and the notebooks nbval runs): `./course test --fast` leaves out
notebook cells and tests marked slow; CI runs everything."""

import pytest


def pytest_collection_modifyitems(config, items):
    """Markers that follow from what a test uses: a notebook cell, the three-broker cluster."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
        if "cluster3" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_cluster)
