"""Fixtures of the routing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.instances import bench_dir


@pytest.fixture
def benchmarks() -> Path:
    return bench_dir()
