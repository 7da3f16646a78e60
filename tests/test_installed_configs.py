"""The demo's configs ship with the install (a wheel has no top-level configs/ folder)."""

from rppg_distill.commands.demo import _config_dir
from rppg_distill.train.config import load_config


def test_demo_configs_are_installed_and_load():
    folder = _config_dir()
    names = {p.name for p in folder.glob("*-synthetic.yaml")}
    assert {"crossview-asymmetric-synthetic.yaml", "crossview-cam2-only-synthetic.yaml",
            "crossmodal-rpm-distill-synthetic.yaml"} <= names
    for name in sorted(names):
        load_config(folder / name)
