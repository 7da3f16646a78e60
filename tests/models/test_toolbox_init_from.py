"""``model.init_from``: the trainers start from an imported rPPG-Toolbox model."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from toolbox_files import parity_case

from rppg_distill.models.toolbox_import import load_toolbox_checkpoint, save_imported_checkpoint
from rppg_distill.train.config import ConfigError, from_dict
from rppg_distill.train.init_from import build_student


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """{arch: (self-describing .pt, the toolbox .pth, the imported model)}."""
    out = {}
    for arch in ("physnet", "factorizephys"):
        ckpt, _, _ = parity_case(arch)
        model, info = load_toolbox_checkpoint(ckpt)
        pt = save_imported_checkpoint(model, info, tmp_path_factory.mktemp(arch) / f"{arch}.pt")
        out[arch] = (pt, ckpt, model)
    return out


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], msg=k)


def test_crossview_trainer_starts_from_imported_physnet(imported):
    from rppg_distill.train.crossview import CrossViewTask

    pt, _, model = imported["physnet"]
    cfg = from_dict({"trainer": "crossview", "model": {"name": "physnet", "init_from": str(pt)},
                     "data": {"transform": "diff_normalized", "label_transform": "diff_normalized"}})
    task = CrossViewTask(cfg, torch.device("cpu"), [])
    _same_weights(task.model, model)


def test_rpm_trainer_starts_from_the_toolbox_file_itself(imported):
    from rppg_distill.train.crossmodal import RPMTask

    _, pth, model = imported["factorizephys"]
    cfg = from_dict({"trainer": "crossmodal",
                     "model": {"name": "factorizephys", "init_from": str(pth)},
                     "data": {"transform": "raw", "label_transform": "standardized"}})
    task = RPMTask(cfg, torch.device("cpu"), [], [], None)
    _same_weights(task.model, model)
    assert task.model.norm is not None and not task.model.fsam_at_inference


def test_mismatches_are_config_errors(imported, tmp_path):
    pt, _, _ = imported["physnet"]
    with pytest.raises(ConfigError, match="holds a physnet model, the config builds "
                                          "model.name: factorizephys"):
        build_student("factorizephys", {}, str(pt))
    data = from_dict({"trainer": "crossview", "data": {"transform": "standardized"}}).data
    with pytest.raises(ConfigError, match="trained on 'diff_normalized' input.*set "
                                          "data.transform: diff_normalized"):
        build_student("physnet", {}, str(pt), data)
    data = from_dict({"trainer": "crossview", "model": {"name": "physnet"},
                      "data": {"transform": "diff_normalized", "label_transform": "standardized"}}).data
    with pytest.raises(ConfigError, match="predicts diff_bvp.*set data.label_transform: "
                                          "diff_normalized"):
        build_student("physnet", {}, str(pt), data)
    with pytest.raises(ConfigError, match="does not fit physnet.*shape mismatch"):
        build_student("physnet", {"width": 8}, str(pt))


def test_code_pickle_as_init_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "rppg-distill-toolbox-import", "x": Payload()}, evil)
    with pytest.raises(ConfigError, match="model.init_from: .*not a weights-only torch checkpoint"):
        build_student("physnet", {}, str(evil))
    assert not marker.exists()


def test_config_key_is_type_checked(tmp_path):
    with pytest.raises(ConfigError, match="model.init_from: expected str, got int"):
        from_dict({"trainer": "crossview", "model": {"init_from": 3}})
    with pytest.raises(ConfigError, match="model.init_from: no such checkpoint file"):
        from_dict({"trainer": "crossview", "model": {"init_from": str(tmp_path / "no.pt")}})
    assert from_dict({"trainer": "crossview"}).model.init_from == ""
