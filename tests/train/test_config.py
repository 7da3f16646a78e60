import pytest

from rppg_distill.train.config import ConfigError, CrossModalConfig, CrossViewConfig, from_dict, load_config, to_dict


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


@pytest.mark.parametrize("trainer, override, message", [
    ("crossview", "band=[0.5, 20.0]", r"^band: the upper edge 20 Hz is above the Nyquist frequency "
                                      r"of data\.fs=30 \(15 Hz\)"),
    ("crossview", "eval.band=[0.5, 16]", r"^eval\.band: the upper edge 16 Hz is above the Nyquist"),
    ("crossmodal", "components=[peak, pek]", r"^components: must be distinct names from"),
    ("crossmodal", "components=[peak, peak]", r"^components: must be distinct names from"),
    ("crossview", "loop.seed=-1", r"^loop\.seed: must be >= 0, got -1"),
])
def test_values_that_would_be_silently_wrong_are_named(tmp_path, trainer, override, message):
    """Beyond the ranges of test_config_ranges.py: a band above Nyquist, an unknown loss component
    (silently dropped before), a negative seed."""
    p = write(tmp_path, f"trainer: {trainer}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(p, [override])


def test_yaml_syntax_errors_and_a_list_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"c\.yaml: not valid YAML at line \d+, column \d+"):
        load_config(write(tmp_path, "trainer: crossview\nloop: {epochs: 2\n"))
    with pytest.raises(ConfigError, match=r"expected a mapping of keys at the top level, got a list"):
        load_config(write(tmp_path, "- trainer: crossview\n"), ["loop.epochs=2"])
    with pytest.raises(ConfigError, match=r"--set loop\.epochs: not valid YAML"):
        load_config(write(tmp_path, "trainer: crossview\n"), ["loop.epochs=[2"])
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"cannot read the config file"):
        load_config(tmp_path / "bin.yaml", [])


def test_exponent_without_a_dot_is_a_float(tmp_path):
    cfg = load_config(write(tmp_path, "trainer: crossview\noptim: {lr: 1e-3}\n"), ["lam=2E-2"])
    assert (cfg.optim.lr, cfg.lam) == (1e-3, 2e-2)


def test_fit_checks_configs_built_in_python(tmp_path):
    from rppg_distill.train.config import LoopConfig, OptimConfig
    from rppg_distill.train.loop import fit

    from .tiny_task import TinyConfig, TinyTask

    cfg = TinyConfig(LoopConfig(batch_size=0, device="cpu", out_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"^loop\.batch_size: must be >= 1, got 0"):
        fit(lambda d: TinyTask(d), cfg)
    cfg = TinyConfig(LoopConfig(device="cpu", out_dir=str(tmp_path)), OptimConfig(lr=float("nan")))
    with pytest.raises(ConfigError, match=r"^optim\.lr: must be finite, got nan"):
        fit(lambda d: TinyTask(d), cfg)
