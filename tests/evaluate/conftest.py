import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_rppg_spectral_fallback", Path(__file__).parent.parent / "signal" / "spectral_fallback.py")
_fb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fb)


@pytest.fixture(autouse=True)
def core_or_fallback(monkeypatch):
    """Use the spectral core when built; otherwise the test-only fallback (see spectral_fallback.py)."""
    return _fb.install(monkeypatch)
