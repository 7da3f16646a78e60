"""rPPG-Toolbox checkpoint import: parity with the toolbox's own outputs, name maps, bad files."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F
from toolbox_files import parity_case

from rppg_distill.models import EfficientPhysC, FactorizePhys, PhysNet
from rppg_distill.models.toolbox_import import (
    detect_arch,
    load_toolbox_checkpoint,
    read_state_dict,
    save_imported_checkpoint,
)

# float32 rounding: the toolbox's outputs were computed by a different code path (its modules)
RTOL = 1e-5


def _rel(ref, got):
    return float(np.abs(got - ref).max() / np.abs(ref).max())


@pytest.mark.parametrize("arch", ["physnet", "factorizephys"])
def test_released_checkpoint_matches_toolbox_outputs(arch):
    ckpt, x, ref = parity_case(arch)
    model, info = load_toolbox_checkpoint(ckpt)  # architecture told from the keys
    assert info["arch"] == arch and not model.training
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape
    assert _rel(ref, got) < RTOL, f"{arch}: max rel diff {_rel(ref, got):.3g}"


def test_physnet_import_keeps_package_names_and_defaults():
    ckpt, _, _ = parity_case("physnet")
    model, info = load_toolbox_checkpoint(ckpt, arch="physnet")
    assert isinstance(model, PhysNet) and info["model_kwargs"] == {"frames": 128, "in_channels": 3}
    assert info["preprocessing"]["normalization"] == "diff_normalized"
    assert info["preprocessing"]["output"] == "diff_bvp"


def test_factorizephys_import_options_and_fsam_weights():
    ckpt, x, ref = parity_case("factorizephys")
    model, info = load_toolbox_checkpoint(ckpt, arch="FactorizePhys")
    assert isinstance(model, FactorizePhys) and model.norm is not None
    raw = read_state_dict(ckpt)
    # the trained FSAM tensors are loaded (for fine-tuning) though unused at inference
    torch.testing.assert_close(model.fsam.post[2].weight,
                               raw["rppg_head.fsam.post_conv_block.1.weight"])
    assert model.bias1.item() == 1.0
    # switching FSAM on at inference changes the output: the switch is what makes parity
    model.fsam_at_inference = True
    with torch.no_grad():
        on = model(torch.from_numpy(x)).numpy()
    assert _rel(ref, on) > 1e-3


def test_self_describing_checkpoint_round_trip(tmp_path):
    from rppg_distill.deploy.export import load_checkpoint_model

    ckpt, x, ref = parity_case("factorizephys")
    model, info = load_toolbox_checkpoint(ckpt)
    out = save_imported_checkpoint(model, info, tmp_path / "fp.pt", {"frames": 160})
    saved = torch.load(out, weights_only=True)
    assert saved["model_name"] == "factorizephys" and saved["config"]["data"]["transform"] == "raw"
    again, _ = load_checkpoint_model(out)  # the exporter's loader understands it
    with torch.no_grad():
        got = again(torch.from_numpy(x)).numpy()
    assert _rel(ref, got) < RTOL


# ----------------------------------------------------------------------------- EfficientPhys
def _toolbox_efficientphys_state(seed=0, size=72):
    """A state dict with the toolbox's EfficientPhys names and shapes (its public source:
    in_channels 3, nb_filters 32/64, kernel 3, nb_dense 128, final_dense_1 16384 inputs at 72)."""
    g = torch.Generator().manual_seed(seed)
    flat = {36: 3136, 72: 16384, 96: 30976}[size]
    shapes = {"motion_conv1": (32, 3, 3, 3), "motion_conv2": (32, 32, 3, 3),
              "motion_conv3": (64, 32, 3, 3), "motion_conv4": (64, 64, 3, 3),
              "apperance_att_conv1": (1, 32, 1, 1), "apperance_att_conv2": (1, 64, 1, 1),
              "final_dense_1": (128, flat), "final_dense_2": (1, 128)}
    sd = {}
    for name, shp in shapes.items():
        fan_in = int(np.prod(shp[1:]))
        sd[f"{name}.weight"] = torch.randn(shp, generator=g) / fan_in ** 0.5
        sd[f"{name}.bias"] = 0.1 * torch.randn(shp[0], generator=g)
    sd["batch_norm.weight"] = 1 + 0.1 * torch.randn(3, generator=g)
    sd["batch_norm.bias"] = 0.1 * torch.randn(3, generator=g)
    sd["batch_norm.running_mean"] = 0.01 * torch.randn(3, generator=g)
    sd["batch_norm.running_var"] = 0.5 + torch.rand(3, generator=g)
    sd["batch_norm.num_batches_tracked"] = torch.tensor(1000)
    return sd


def _toolbox_efficientphys_forward(sd, frames, depth=10):
    """The toolbox's EfficientPhys forward, eval mode, written from its public source:
    ``frames [T+1, C, H, W]`` (its trainer flattens the batch and appends the last frame)."""
    def tsm(x):
        nt, c, h, w = x.shape
        x = x.view(nt // depth, depth, c, h, w)
        fold = c // 3
        out = torch.zeros_like(x)
        out[:, :-1, :fold] = x[:, 1:, :fold]
        out[:, 1:, fold:2 * fold] = x[:, :-1, fold:2 * fold]
        out[:, :, 2 * fold:] = x[:, :, 2 * fold:]
        return out.view(nt, c, h, w)

    def mask(g):
        return g / g.sum(dim=(2, 3), keepdim=True) * g.shape[2] * g.shape[3] * 0.5

    def conv(x, name, pad=0):
        return F.conv2d(x, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=pad)

    x = torch.diff(frames, dim=0)
    x = F.batch_norm(x, sd["batch_norm.running_mean"], sd["batch_norm.running_var"],
                     sd["batch_norm.weight"], sd["batch_norm.bias"], False, 0.0, 1e-5)
    d2 = torch.tanh(conv(tsm(torch.tanh(conv(tsm(x), "motion_conv1", 1))), "motion_conv2"))
    d3 = F.avg_pool2d(d2 * mask(torch.sigmoid(conv(d2, "apperance_att_conv1"))), 2)
    d6 = torch.tanh(conv(tsm(torch.tanh(conv(tsm(d3), "motion_conv3", 1))), "motion_conv4"))
    d7 = F.avg_pool2d(d6 * mask(torch.sigmoid(conv(d6, "apperance_att_conv2"))), 2)
    d10 = torch.tanh(F.linear(d7.flatten(1), sd["final_dense_1.weight"], sd["final_dense_1.bias"]))
    return F.linear(d10, sd["final_dense_2.weight"], sd["final_dense_2.bias"]).flatten()


@pytest.mark.parametrize("size", [72, 36])
def test_efficientphys_mapping_reproduces_toolbox_forward(tmp_path, size):
    sd = _toolbox_efficientphys_state(size=size)
    path = tmp_path / "ep.pth"
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)  # DataParallel prefix
    model, info = load_toolbox_checkpoint(path)
    assert info["arch"] == "efficientphys" and isinstance(model, EfficientPhysC)
    assert model.img_size == size
    torch.manual_seed(1)
    clip = torch.rand(1, 3, 20, size, size) * 255  # T = 20 = two TSM groups
    with torch.no_grad():
        got = model(clip).flatten()
        frames = torch.cat([clip[0], clip[0, :, -1:]], dim=1).permute(1, 0, 2, 3)  # [T+1, C, H, W]
        ref = _toolbox_efficientphys_forward(sd, frames)
    assert _rel(ref.numpy(), got.numpy()) < 1e-5


def test_detect_arch():
    assert detect_arch({"ConvBlock1.0.weight": 0, "ConvBlock10.weight": 0}) == "physnet"
    assert detect_arch({"rppg_feature_extractor.x": 0}) == "factorizephys"
    assert detect_arch(_toolbox_efficientphys_state()) == "efficientphys"
    # TS-CAN-like keys without the EfficientPhys input batch norm: unclear
    assert detect_arch({"motion_conv1.weight": 0, "final_dense_1.weight": 0}) is None


# ----------------------------------------------------------------------------- bad input
def test_pickle_with_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # unpickling would create the marker file

    path = tmp_path / "evil.pth"
    torch.save({"ConvBlock1.0.weight": torch.zeros(1), "x": Payload()}, path)
    with pytest.raises(ValueError, match="refused: the file holds Python objects") as err:
        load_toolbox_checkpoint(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(ValueError, match=r"not a state dict \(got list\)"):
        load_toolbox_checkpoint(path)
    path2 = tmp_path / "mixed.pth"
    torch.save({"ConvBlock1.0.weight": torch.zeros(1), "epoch": 3}, path2)
    with pytest.raises(ValueError, match="entry 'epoch' is a int, not a tensor"):
        load_toolbox_checkpoint(path2)


def test_not_a_torch_file(tmp_path):
    path = tmp_path / "text.pth"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_toolbox_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such checkpoint file"):
        load_toolbox_checkpoint(tmp_path / "nope.pth")


def test_unknown_arch(tmp_path):
    path = tmp_path / "ep.pth"
    torch.save(_toolbox_efficientphys_state(), path)
    with pytest.raises(ValueError, match="unknown toolbox architecture 'resnet'; known: physnet"):
        load_toolbox_checkpoint(path, arch="resnet")


def test_unexpected_keys_and_wrong_arch(tmp_path):
    sd = _toolbox_efficientphys_state()
    sd["extra_head.weight"] = torch.zeros(3)
    path = tmp_path / "ep.pth"
    torch.save(sd, path)
    with pytest.raises(ValueError, match=r"1 unexpected key\(s\) for toolbox efficientphys: "
                                         r"extra_head.weight"):
        load_toolbox_checkpoint(path)
    # an EfficientPhys file forced to load as PhysNet: every key is unexpected
    with pytest.raises(ValueError, match="unexpected key.*for toolbox physnet"):
        load_toolbox_checkpoint(path, arch="physnet")


def test_wrong_shapes_and_missing_keys(tmp_path):
    sd = _toolbox_efficientphys_state()
    sd["motion_conv2.weight"] = torch.zeros(32, 32, 5, 5)
    path = tmp_path / "ep.pth"
    torch.save(sd, path)
    with pytest.raises(ValueError, match=r"shape mismatch.*motion_conv2.weight \(32, 32, 5, 5\) "
                                         r"vs \(32, 32, 3, 3\)"):
        load_toolbox_checkpoint(path)
    sd = _toolbox_efficientphys_state()
    del sd["motion_conv4.bias"]
    torch.save(sd, path)
    with pytest.raises(ValueError, match=r"1 parameter\(s\) missing.*motion_conv4.bias"):
        load_toolbox_checkpoint(path)


def test_unclear_arch_asks_for_it(tmp_path):
    path = tmp_path / "x.pth"
    torch.save({"layer.weight": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="cannot tell the architecture.*name it"):
        load_toolbox_checkpoint(path)
