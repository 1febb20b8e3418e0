"""Fixtures of the routing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.instances import INSTANCES


@pytest.fixture
def instances() -> Path:
    """The folder of the VRPLIB/TSPLIB instance files the tests read."""
    return INSTANCES
