"""`rppg-distill import-toolbox`: the ONNX it writes, its contract, the command's bad-input lines,
and the runtime's use of the contract's face-detection policy."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from toolbox_files import parity_case

from rppg_distill.cli import main
from rppg_distill.deploy.contract import Contract, contract_from_onnx
from rppg_distill.deploy.runtime.config import MonitorConfig

EXPECTED = {  # the toolbox's infer configs (PURE_UBFC-rPPG_*.yaml)
    "physnet": dict(frames=128, normalization="diff_normalized", output="diff_bvp",
                    face_box_coef=1.5, detect_every=0, fs=30.0),
    "factorizephys": dict(frames=160, normalization="raw", output="bvp", face_box_coef=1.5,
                          detect_every=30, fs=30.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["physnet", "factorizephys"])
def test_imported_onnx_matches_toolbox_outputs(tmp_path, arch, capsys):
    ckpt, x, ref = parity_case(arch)
    out = tmp_path / f"{arch}.onnx"
    assert main(["import-toolbox", str(ckpt), "-o", str(out), "--batch", "1",
                 "--exporter", "legacy", "--save-checkpoint", str(tmp_path / f"{arch}.pt")]) == 0
    assert "onnxruntime vs torch max rel err" in capsys.readouterr().out
    c = contract_from_onnx(out)
    for k, v in EXPECTED[arch].items():
        assert getattr(c, k) == v, k
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    rel = float(np.abs(got - ref).max() / np.abs(ref).max())
    assert rel < 1e-4, f"{arch}: onnxruntime vs the toolbox max rel diff {rel:.3g}"
    assert (tmp_path / f"{arch}.pt").is_file()


def test_import_to_checkpoint_only(tmp_path, capsys):
    ckpt, _, _ = parity_case("physnet")
    out = tmp_path / "physnet.pt"
    assert main(["import-toolbox", str(ckpt), "-o", str(out)]) == 0
    saved = torch.load(out, weights_only=True)
    assert saved["contract"]["normalization"] == "diff_normalized"
    assert saved["contract"]["detect_every"] == 0
    assert "detect once" in capsys.readouterr().out


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_cli_bad_inputs(tmp_path, capsys):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pth"
    torch.save({"ConvBlock1.0.weight": Payload()}, evil)
    assert main(["import-toolbox", str(evil), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "refused: the file holds Python objects" in _one_error_line(capsys)
    assert not marker.exists()

    assert main(["import-toolbox", str(tmp_path / "missing.pth"), "-o", "m.onnx"]) == 2
    assert "no such checkpoint file" in _one_error_line(capsys)

    lst = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], lst)
    assert main(["import-toolbox", str(lst), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "not a state dict (got list)" in _one_error_line(capsys)

    with pytest.raises(SystemExit) as ex:
        main(["import-toolbox", str(lst), "--arch", "resnet", "-o", "m.onnx"])
    assert ex.value.code == 2
    assert "invalid choice: 'resnet'" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_monitor_face_detection_policy_from_contract():
    once = Contract(model="physnet", frames=128, detect_every=0)
    every = Contract(model="factorizephys", detect_every=30)
    unset = Contract()
    assert MonitorConfig().face_detection(once) == (10**9, 10**9)  # detect once, keep the box
    assert MonitorConfig().face_detection(every) == (30, 60)
    assert MonitorConfig().face_detection(unset) == (15, 30)  # the runtime's default
    assert MonitorConfig(detect_every=5).face_detection(once) == (5, 10)  # the user decides
    assert MonitorConfig(detect_every=5, max_hold=7).face_detection(every) == (5, 7)
    with pytest.raises(ValueError, match="detect_every must be None or >= 0"):
        Contract(detect_every=-1)


@pytest.mark.slow
def test_efficientphys_import_to_onnx(tmp_path):
    """EfficientPhys (no released file at hand): a state dict with the toolbox's names."""
    from test_toolbox_import import _toolbox_efficientphys_state

    from rppg_distill.deploy.toolbox_import import import_toolbox

    path = tmp_path / "PURE_EfficientPhys.pth"
    torch.save(_toolbox_efficientphys_state(), path)
    rep = import_toolbox(path, tmp_path / "ep.onnx", batch=1, exporter="legacy")
    c = contract_from_onnx(tmp_path / "ep.onnx")
    assert (c.model, c.frames, c.normalization, c.output, c.detect_every) == (
        "efficientphys_c", 180, "standardized", "diff_bvp", 0)
    assert max(v["rel_err"] for v in rep["onnx"]["parity"].values()) < 1e-4
