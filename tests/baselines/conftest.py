"""Fixtures of the baseline tests."""

from __future__ import annotations

import pytest
from baseline_helpers import make_batch


@pytest.fixture
def batch() -> dict:
    """A 2-image 32×64 batch."""
    return make_batch()
