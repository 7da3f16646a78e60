import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_rppg_independent_dft", Path(__file__).parent / "independent_dft.py")
_dft = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_dft)


@pytest.fixture
def independent_peak_frequency():
    """The test-only direct-DFT peak picker, used as an independent expectation."""
    return _dft.independent_peak_frequency
