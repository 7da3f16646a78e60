import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(folder with fp32.onnx, clips of 4 recordings); bench/int8_layers.py uses the same recipe."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from precision_data import C, pulse_clips, student

    from rppg_distill.deploy.export import export_onnx

    d = tmp_path_factory.mktemp("prec")
    export_onnx(student(), d / "fp32.onnx", C, exporter="legacy")
    return d, pulse_clips([60, 75, 90, 105], range(4))[0]


@pytest.fixture(scope="module")
def heldout():
    """Clips of four other recordings (other HRs, other noise) and their true HR."""
    from precision_data import pulse_clips

    return pulse_clips([66, 84, 96, 114], range(10, 14))
