"""A model that takes the frame difference itself must not get frames differenced already."""

from pathlib import Path

import pytest

pytest.importorskip("torch")

from rppg_distill.models import EXPECTED_INPUT, INTERNAL_TRANSFORMS, MODELS, check_input_transform
from rppg_distill.train.config import ConfigError, CrossModalConfig, from_dict, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_every_video_model_declares_its_input():
    video = {n for n in MODELS if n not in ("rf_conv_decoder", "spectral_policy")}
    assert video == set(INTERNAL_TRANSFORMS) == set(EXPECTED_INPUT)
    for name in video:
        check_input_transform(name, EXPECTED_INPUT[name])   # the expected input passes


@pytest.mark.parametrize("name", ["factorizephys", "efficientphys_c", "EfficientPhys"])
def test_differencing_models_refuse_diff_normalized_frames(name):
    with pytest.raises(ValueError, match=r"model \w+ applies frame_difference to its input itself.*"
                                         r"'diff_normalized'.*set data.transform: (raw|standardized)"):
        check_input_transform(name, "diff_normalized")
    with pytest.raises(ValueError, match="'diff_normalized'"):
        check_input_transform(name, ["standardized", "diff_normalized"])
    check_input_transform(name, "raw")
    check_input_transform("physnet", "diff_normalized")


def test_configs_are_checked_when_built():
    with pytest.raises(ConfigError, match="data.transform: model factorizephys applies frame_difference.*"
                                          "set data.transform: raw"):
        from_dict({"trainer": "crossmodal", "data": {"transform": "diff_normalized"}})
    with pytest.raises(ConfigError, match="model efficientphys_c applies frame_difference"):
        load_config(CONFIGS / "crossview-asymmetric.yaml", ["data.transform=diff_normalized"])
    cfg = CrossModalConfig()
    assert (cfg.model.name, cfg.data.transform, cfg.data.label_transform) == ("factorizephys", "raw", "standardized")


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_give_each_model_its_input(path):
    cfg = load_config(path)
    check_input_transform(cfg.model.name, cfg.data.transform)
    if cfg.model.name == "factorizephys":
        assert cfg.data.transform == "raw" and cfg.model.kwargs.get("input_norm") is True
