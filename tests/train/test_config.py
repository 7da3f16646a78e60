import pytest

from rppg_distill.train.config import (ConfigError, CrossModalConfig, CrossViewConfig, load_config,
                                       to_dict, from_dict)


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_defaults_are_the_papers():
    cv = CrossViewConfig()
    assert (cv.optim.name, cv.optim.lr, cv.optim.weight_decay, cv.optim.scheduler) == ("adamw", 3e-3, 0.01, "onecycle")
    assert (cv.loop.epochs, cv.loop.batch_size, cv.optim.grad_clip, cv.lam, cv.band) == (30, 4, 1.0, 0.01, (0.5, 3.0))
    assert cv.scheme == "asymmetric" and cv.model.name == "efficientphys_c"
    cm = CrossModalConfig()
    assert (cm.optim.name, cm.optim.lr, cm.optim.weight_decay) == ("adam", 5e-5, 1e-2)
    assert (cm.loop.epochs, cm.loop.batch_size, cm.data.clip_len, cm.data.stride) == (5, 1, 256, 30)
    assert (cm.policy.meta_every, cm.policy.lr, cm.lam) == (10, 1e-4, 1.0)


def test_unknown_key_is_named(tmp_path):
    p = write(tmp_path, "trainer: crossview\nloop:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match=r"loop\.epoch: unknown key.*epochs"):
        load_config(p)


def test_unknown_top_level_key(tmp_path):
    with pytest.raises(ConfigError, match=r"^lamda: unknown key.*'lam'"):
        load_config(write(tmp_path, "trainer: crossview\nlamda: 0.1\n"))


def test_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"optim\.lr: expected float, got str"):
        load_config(write(tmp_path, "trainer: crossview\noptim:\n  lr: fast\n"))
    with pytest.raises(ConfigError, match=r"loop\.epochs: expected int, got float"):
        load_config(write(tmp_path, "trainer: crossview\nloop: {epochs: 2.5}\n"))
    with pytest.raises(ConfigError, match=r"scheme: 'B2' is not one of"):
        load_config(write(tmp_path, "trainer: crossview\nscheme: B2\n"))
    with pytest.raises(ConfigError, match=r"band: expected 2 values"):
        load_config(write(tmp_path, "trainer: crossview\nband: [0.5, 3.0, 4.0]\n"))


def test_partial_sections_keep_trainer_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "trainer: crossmodal\nloop: {epochs: 1}\n"))
    assert cfg.loop.epochs == 1 and cfg.loop.batch_size == 1      # crossmodal default, not the generic 4
    assert cfg.optim.name == "adam"


def test_overrides_are_checked(tmp_path):
    p = write(tmp_path, "trainer: crossview\n")
    cfg = load_config(p, ["loop.epochs=2", "lam=0.1", "scheme=symmetric"])
    assert (cfg.loop.epochs, cfg.lam, cfg.scheme) == (2, 0.1, "symmetric")
    with pytest.raises(ConfigError, match=r"loop\.epoks: unknown key"):
        load_config(p, ["loop.epoks=2"])
    with pytest.raises(ConfigError, match=r"loop\.epochs: expected int"):
        load_config(p, ["loop.epochs=two"])


def test_roundtrip():
    cfg = CrossViewConfig()
    assert from_dict(to_dict(cfg)) == cfg


def test_missing_trainer(tmp_path):
    with pytest.raises(ConfigError, match="trainer"):
        load_config(write(tmp_path, "lam: 0.1\n"))


@pytest.mark.parametrize("override, message", [
    ("loop.batch_size=-3", r"^loop\.batch_size: must be a finite number >= 1, got -3$"),
    ("loop.batch_size=0", r"^loop\.batch_size: must be .* >= 1, got 0"),
    ("loop.epochs=0", r"^loop\.epochs: must be .* >= 1"),
    ("loop.max_steps=-1", r"^loop\.max_steps: must be .* >= 0"),
    ("loop.checkpoint_every=-5", r"^loop\.checkpoint_every: "),
    ("loop.num_workers=-1", r"^loop\.num_workers: "),
    ("optim.lr=0", r"^optim\.lr: must be a finite number > 0, got 0"),
    ("optim.lr=-1e-3", r"^optim\.lr: must be a finite number > 0"),
    ("optim.lr=.nan", r"^optim\.lr: must be a finite number > 0, got nan"),
    ("optim.lr=.inf", r"^optim\.lr: must be a finite number > 0, got inf"),
    ("optim.weight_decay=-0.1", r"^optim\.weight_decay: "),
    ("optim.grad_clip=.nan", r"^optim\.grad_clip: "),
    ("data.img_size=4", r"^data\.img_size: must be .* >= 8, got 4"),
    ("data.split=[0.7, 0.4, 0.2]", r"^data\.split: must be 3 fractions"),
    ("data.split=[1.5, -0.3, -0.2]", r"^data\.split: "),
    ("data.fs=0", r"^data\.fs: must be a finite number > 0"),
    ("data.clip_len=1", r"^data\.clip_len: "),
    ("data.stride=0", r"^data\.stride: "),
    ("lam=-0.01", r"^lam: must be .* >= 0"),
    ("band=[3.0, 0.5]", r"^band: must be \[low, high\] Hz"),
    ("band=[0.5, 20.0]", r"^band: the upper edge 20.0 Hz is above the Nyquist frequency"),
    ("eval.resolution_bpm=0", r"^eval\.resolution_bpm: "),
    ("seeds=[]", r"^seeds: must not be empty"),
    ("lambda_sweep=[0.1, -1]", r"^lambda_sweep: item 1 must be"),
])
def test_crossview_values_out_of_range_are_named(tmp_path, override, message):
    p = write(tmp_path, "trainer: crossview\n")
    with pytest.raises(ConfigError, match=message):
        load_config(p, [override])


@pytest.mark.parametrize("override, message", [
    ("label_fraction=1.5", r"^label_fraction: must be in \[0, 1\], got 1.5"),
    ("radar_shift_prob=-0.1", r"^radar_shift_prob: must be in \[0, 1\]"),
    ("components=[peak, pek]", r"^components: must be distinct names from"),
    ("teacher.batch_size=0", r"^teacher\.batch_size: "),
    ("teacher.lr=0", r"^teacher\.lr: "),
    ("policy.meta_every=0", r"^policy\.meta_every: "),
    ("policy.rank=0", r"^policy\.rank: "),
])
def test_crossmodal_values_out_of_range_are_named(tmp_path, override, message):
    p = write(tmp_path, "trainer: crossmodal\n")
    with pytest.raises(ConfigError, match=message):
        load_config(p, [override])


def test_shipped_configs_and_defaults_are_in_range():
    from pathlib import Path

    from rppg_distill.train.config import check_ranges

    check_ranges(CrossViewConfig())
    check_ranges(CrossModalConfig())
    configs = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        load_config(path)


def test_yaml_syntax_errors_and_a_list_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML at line \d+, column \d+"):
        load_config(write(tmp_path, "trainer: crossview\nloop: {epochs: 2\n"))
    with pytest.raises(ConfigError, match=r"expected a mapping of keys at the top level, got a list"):
        load_config(write(tmp_path, "- trainer: crossview\n"), ["loop.epochs=2"])
    with pytest.raises(ConfigError, match=r"--set loop\.epochs: not valid YAML"):
        load_config(write(tmp_path, "trainer: crossview\n"), ["loop.epochs=[2"])
    with pytest.raises(ConfigError, match=r"cannot read the config file"):
        (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
        load_config(tmp_path / "bin.yaml", [])


def test_exponent_without_a_dot_is_a_float(tmp_path):
    cfg = load_config(write(tmp_path, "trainer: crossview\noptim: {lr: 1e-3}\n"), ["lam=2E-2"])
    assert (cfg.optim.lr, cfg.lam) == (1e-3, 2e-2)


def test_train_command_refuses_a_bad_value_with_one_line(tmp_path, capsys):
    from rppg_distill.cli import main

    p = write(tmp_path, f"trainer: crossview\nloop: {{out_dir: {tmp_path / 'run'}}}\n")
    assert main(["train", str(p), "--set", "loop.batch_size=-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("loop.batch_size: must be a finite number >= 1, got -3") and "\n" not in err
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_fit_checks_configs_built_in_python(tmp_path):
    from rppg_distill.train.config import LoopConfig, OptimConfig
    from rppg_distill.train.loop import fit

    from .tiny_task import TinyConfig, TinyTask

    cfg = TinyConfig(LoopConfig(batch_size=0, device="cpu", out_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"^loop\.batch_size: must be .* >= 1, got 0"):
        fit(lambda d: TinyTask(d), cfg)
    cfg = TinyConfig(LoopConfig(device="cpu", out_dir=str(tmp_path)), OptimConfig(lr=float("nan")))
    with pytest.raises(ConfigError, match=r"^optim\.lr: .* got nan"):
        fit(lambda d: TinyTask(d), cfg)
