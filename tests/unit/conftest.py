"""Unit tests: the shared client code on tests/fakes.py's FakeDriver, no network."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from fakes import close_pipes  # noqa: E402


@pytest.fixture(autouse=True)
def _close_pipes():
    yield
    close_pipes()
