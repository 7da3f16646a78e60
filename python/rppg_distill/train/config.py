"""Typed training configs: dataclasses loaded from YAML with strict checking.

Every key in a YAML file must name a dataclass field, and every value must have the field's type.
Mistakes fail *before* training starts, with the dotted key named, e.g.::

    ConfigError: loop.epoch: unknown key (did you mean 'epochs'?)
    ConfigError: optim.lr: expected float, got str ('fast')
    ConfigError: loop.batch_size: must be >= 1, got -3

Every numeric field has a range (:func:`check_ranges`, also run by the training loop on configs
built in Python).

Overrides from the command line (``--set loop.epochs=2``) are parsed with ``yaml.safe_load`` and
applied to the raw mapping before validation, so they are checked the same way.

Defaults are the papers' settings (docs/METHODS.md §2 for the cross-view trainer, §3 for RPM-Distill).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A config key is unknown, missing, or has the wrong type (the message names the key)."""


# ----------------------------------------------------------------------------- sections
@dataclass
class LoopConfig:
    """The shared loop: seeds, devices, logging, checkpoints."""

    epochs: int = 30
    batch_size: int = 4
    seed: int = 0
    device: str = "auto"            # "auto" = cuda if available else cpu; or "cpu", "cuda", "cuda:1"
    amp: bool = True                # autocast on CUDA only (ignored on CPU)
    num_workers: int = 0
    num_threads: int = 0            # torch intra-op threads; 0 = leave torch's default. On a small
                                    # shared CPU, 1 is much faster for the small demo models (thread
                                    # oversubscription: 0.2 s vs 1.8 s per step measured on 2 cores)
    log_every: int = 10             # steps between metric log lines
    checkpoint_every: int = 0       # steps between checkpoints; 0 = at the end of each epoch
    max_steps: int = 0              # stop after this many optimizer steps (0 = no limit)
    progress: bool = True           # tqdm bars (auto-hidden when stdout is not a terminal)
    plots: bool = True              # loss/metric curves as PNG at the end
    deterministic: bool = False     # torch.use_deterministic_algorithms (slower)
    out_dir: str = "runs/default"


@dataclass
class OptimConfig:
    name: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.01
    scheduler: Literal["onecycle", "none", "cosine"] = "onecycle"
    grad_clip: float = 1.0          # max-norm; 0 disables


@dataclass
class ModelConfig:
    name: str = "efficientphys_c"
    kwargs: dict[str, Any] = field(default_factory=dict)
    # start from these weights: a model imported with `rppg-distill import-toolbox -o model.pt`
    # (or the toolbox's .pth itself) or a trainer checkpoint; "" = random initialization.
    # Its architecture, options and preprocessing must match (train/init_from.py checks them).
    init_from: str = ""

    def __post_init__(self):
        if self.init_from and not Path(self.init_from).is_file():
            raise ConfigError(f"model.init_from: no such checkpoint file: {self.init_from}")


@dataclass
class DataConfig:
    """Where clips come from. ``source: synthetic`` generates the built-in set into ``root``."""

    source: str = "synthetic"       # "synthetic" or a reader name under rppg_distill.data.readers
    root: str = "data/synthetic"
    cache_dir: str = ""             # default: <root>/cache
    reader_kwargs: dict[str, Any] = field(default_factory=dict)
    # synthetic generator settings (used when source == "synthetic")
    n_subjects: int = 6
    seconds: float = 20.0
    synth_kwargs: dict[str, Any] = field(default_factory=dict)
    # clips
    clip_len: int = 180
    stride: int = 180
    transform: str = "diff_normalized"      # model input: diff_normalized | standardized | raw
    label_transform: str = ""               # label: "" = same as transform; "diff_normalized" labels
                                            # are integrated (cumsum + detrend) before HR
    fs: float = 30.0                        # the model's frame rate; the cross-view clips of a
                                            # recording at another fps are resampled to it
                                            # (data/clip_rate.py)
    split: tuple[float, float, float] = (0.7, 0.1, 0.2)   # train/val/test by subject
    split_seed: int = 0
    face_backend: str = "haar"
    img_size: int = 72


@dataclass
class EvalConfig:
    band: tuple[float, float] = (0.5, 3.0)     # HR = FFT peak in this band (Hz)
    resolution_bpm: float = 0.1
    window_seconds: float = 0.0                # 0 = one HR per clip


# ----------------------------------------------------------------------------- trainers
CROSSVIEW_SCHEMES = ("cam2-only", "side-only", "pooled-aug", "symmetric", "asymmetric")


@dataclass
class CrossViewConfig:
    """Paper 1 (docs/METHODS.md §2): frontal view teaches side views through the band PSD."""

    trainer: Literal["crossview"] = "crossview"
    scheme: Literal["cam2-only", "side-only", "pooled-aug", "symmetric", "asymmetric"] = "asymmetric"
    lam: float = 0.01                          # weight of the PSD KL term
    band: tuple[float, float] = (0.5, 3.0)     # Hz, for the KL term
    n_fft: int = 0                             # 0 = rfft bins with n = T
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    lambda_sweep: list[float] = field(default_factory=lambda: [0.005, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0])
    run_lambda_sweep: bool = False
    augment: bool = False                      # flips/brightness jitter (pooled-aug turns it on)
    # which weights are evaluated on the test views: the epoch with the lowest validation MAE
    # (validation subjects are held out of training and evaluated at the end of every epoch) over
    # the side views ("val_side_mae", mean of their MAEs) or over all views ("val_mean_mae"), or
    # the last weights ("last": no validation pass)
    model_selection: Literal["val_side_mae", "val_mean_mae", "last"] = "val_side_mae"
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    # EfficientPhys-C differences its input itself: standardized frames in, diff_normalized labels
    # (rPPG-Toolbox's EfficientPhys setting). diff_normalized *frames* would be differenced twice.
    data: DataConfig = field(default_factory=lambda: DataConfig(transform="standardized",
                                                                label_transform="diff_normalized"))
    eval: EvalConfig = field(default_factory=EvalConfig)


@dataclass
class TeacherConfig:
    """Radar teacher (RF_conv_decoder) pretraining; its recipe was not published (docs/METHODS.md §3)."""

    pretrain: bool = True
    checkpoint: str = ""                       # load a pretrained teacher instead of training
    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 1e-2
    batch_size: int = 8


@dataclass
class PolicyConfig:
    enabled: bool = True                       # False = "w/o policy" (alpha = 1/3 each, g = 1)
    bilevel: bool = True                       # False = "w/o bilevel" (policy trained on L_train)
    meta_every: int = 10                       # bilevel step every N student steps
    lr: float = 1e-4
    rank: int = 8
    use_weights: bool = True                   # False = "w/o weights" (equal alpha)
    use_gate: bool = True                      # False = "w/o gate" (g = 1)


@dataclass
class CrossModalConfig:
    """Paper 2, RPM-Distill (docs/METHODS.md §3): a radar teacher teaches a video-only student."""

    trainer: Literal["crossmodal"] = "crossmodal"
    mode: Literal["sup_only", "distill_only", "sup_plus_distill"] = "sup_plus_distill"
    lam: float = 1.0                           # weight of L_distill
    label_fraction: float = 1.0                # share of training samples whose label is kept (mask m_i)
    components: list[str] = field(default_factory=lambda: ["peak", "off", "shape"])  # ablations drop one
    band: tuple[float, float] = (0.75, 3.0)    # 45-180 bpm
    radar_shift_prob: float = 0.0              # robustness: share of pairs whose radar is shifted
    radar_shift_seconds: float = 1.0
    seeds: list[int] = field(default_factory=lambda: [0])
    log_policy: bool = True                    # per-sample gate/alpha log + distribution plots
    # FactorizePhys differences its frames itself: raw frames in, standardized labels, the
    # differences instance-normalized inside (rPPG-Toolbox's FactorizePhys: DATA_TYPE Raw,
    # LABEL_TYPE Standardized). diff_normalized frames would be differenced twice (refused).
    model: ModelConfig = field(default_factory=lambda: ModelConfig(name="factorizephys",
                                                                   kwargs={"input_norm": True}))
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        name="adam", lr=5e-5, weight_decay=1e-2, scheduler="none", grad_clip=0.0))
    loop: LoopConfig = field(default_factory=lambda: LoopConfig(epochs=5, batch_size=1))
    data: DataConfig = field(default_factory=lambda: DataConfig(
        clip_len=256, stride=30, transform="raw", label_transform="standardized"))
    eval: EvalConfig = field(default_factory=lambda: EvalConfig(band=(0.75, 3.0)))


TRAINERS: dict[str, type] = {"crossview": CrossViewConfig, "crossmodal": CrossModalConfig}


# ----------------------------------------------------------------------------- checking
_YAML11_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for section {tp.__name__}, got "
                              f"{type(value).__name__} ({value!r})")
        return _build(tp, value, key + ".")
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of {tp}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{key}: {value!r} is not one of {list(args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} ({value!r})")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
            return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        elem = args[0] if args else Any
        out = [_convert(v, elem, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} ({value!r})")
        return dict(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected bool, got {type(value).__name__} ({value!r})")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected int, got {type(value).__name__} ({value!r})")
        return value
    if tp is float:
        if isinstance(value, str) and _YAML11_EXPONENT.match(value):
            value = float(value)  # YAML 1.1 reads 1e-3 (no dot) as a string
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected float, got {type(value).__name__} ({value!r})")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected str, got {type(value).__name__} ({value!r})")
        return value
    raise ConfigError(f"{key}: unsupported field type {_type_name(tp)}")  # pragma: no cover


def _build(cls: type, raw: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in raw:
        if k not in names:
            close = difflib.get_close_matches(str(k), names, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(names)})"
            raise ConfigError(f"{prefix}{k}: unknown key{hint}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            kwargs[f.name] = _convert(raw[f.name], hints[f.name], prefix + f.name)
        elif dataclasses.is_dataclass(hints[f.name]) and f.default_factory is not dataclasses.MISSING:
            # a partially given section keeps the trainer's defaults for the rest
            default = f.default_factory()
            kwargs[f.name] = default
    return cls(**kwargs)


def _merge_section_defaults(cls: type, raw: dict) -> dict:
    """Merge a partially given nested section onto the trainer's default section."""
    out = dict(raw)
    defaults = cls()
    for f in dataclasses.fields(cls):
        v = getattr(defaults, f.name)
        if dataclasses.is_dataclass(v) and isinstance(raw.get(f.name), dict):
            merged = dataclasses.asdict(v)
            merged.update(raw[f.name])
            out[f.name] = merged
    return out


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a raw mapping, in place."""
    if overrides and not isinstance(raw, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(raw).__name__}")
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, text = item.split("=", 1)
        value = _parse_yaml(text, f"--set {key.strip()}") if text.strip() else ""
        node = raw
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: '{p}' is not a section")
        node[parts[-1]] = value
    return raw


def from_dict(raw: dict, cls: type | None = None) -> Any:
    """Build a trainer config from a mapping; ``trainer:`` picks the class unless ``cls`` is given."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config: expected a mapping at the top level, got {type(raw).__name__}")
    if cls is None:
        name = raw.get("trainer")
        if name not in TRAINERS:
            raise ConfigError(f"trainer: must be one of {sorted(TRAINERS)}, got {name!r}")
        cls = TRAINERS[name]
    cfg = _build(cls, _merge_section_defaults(cls, raw))
    check_ranges(cfg)
    return cfg


# section class -> field -> (lowest, highest, lowest excluded); a value outside is a ConfigError.
# Every float in a config must be finite besides.
_INF = float("inf")
_N1 = (1, _INF, False)   # >= 1
_N0 = (0, _INF, False)   # >= 0
_POS = (0, _INF, True)   # > 0
_LR = (0, 10.0, True)    # 0 < lr <= 10
_SHARE = (0, 1, False)   # 0 <= x <= 1
RANGES: dict[str, dict[str, tuple[float, float, bool]]] = {
    "LoopConfig": {"epochs": _N1, "batch_size": _N1, "seed": _N0, "num_workers": _N0,
                   "num_threads": _N0, "log_every": _N1, "checkpoint_every": _N0, "max_steps": _N0},
    "OptimConfig": {"lr": _LR, "weight_decay": _N0, "grad_clip": _N0},
    "DataConfig": {"n_subjects": _N1, "seconds": _POS, "clip_len": (8, _INF, False),
                   "stride": _N1, "fs": (0, 1000.0, True), "img_size": (8, 1024, False)},
    "EvalConfig": {"resolution_bpm": _POS, "window_seconds": _N0},
    "CrossViewConfig": {"lam": _N0, "n_fft": _N0},
    "TeacherConfig": {"epochs": _N0, "lr": _LR, "weight_decay": _N0, "batch_size": _N1},
    "PolicyConfig": {"meta_every": _N1, "lr": _LR, "rank": _N1},
    "CrossModalConfig": {"lam": _N0, "label_fraction": _SHARE, "radar_shift_prob": _SHARE,
                         "radar_shift_seconds": _N0},
}


def check_ranges(cfg: Any, prefix: str = "") -> None:
    """Range-check a built config (ConfigError naming the dotted key): ``RANGES`` per section,
    finite floats everywhere, bands ``0 <= lo < hi``, split shares in [0, 1] summing to 1, and
    non-empty seed lists."""
    import math

    rules = RANGES.get(type(cfg).__name__, {})
    for f in dataclasses.fields(cfg):
        key, v = prefix + f.name, getattr(cfg, f.name)
        if dataclasses.is_dataclass(v):
            check_ranges(v, key + ".")
            continue
        values = list(v) if isinstance(v, (list, tuple)) else [v]
        for x in values:
            if isinstance(x, float) and not math.isfinite(x):
                raise ConfigError(f"{key}: must be finite, got {v!r}")
        if f.name in rules:
            lo, hi, open_lo = rules[f.name]
            if not ((lo < v) if open_lo else (lo <= v)) or v > hi:
                need = f"{'>' if open_lo else '>='} {lo:g}" + (f" and <= {hi:g}" if hi < _INF else "")
                raise ConfigError(f"{key}: must be {need}, got {v!r}")
        if f.name == "band" and not 0 <= v[0] < v[1]:
            raise ConfigError(f"{key}: need 0 <= lo < hi, got {list(v)}")
        if f.name == "split" and (min(v) < 0 or abs(sum(v) - 1.0) > 1e-6):
            raise ConfigError(f"{key}: shares must be >= 0 and sum to 1, got {list(v)}")
        if f.name == "seeds" and not v:
            raise ConfigError(f"{key}: needs at least one seed")
        if f.name == "lambda_sweep" and any(x < 0 for x in v):
            raise ConfigError(f"{key}: weights must be >= 0, got {list(v)}")
        if f.name == "components" and (set(v) - {"peak", "off", "shape"} or len(set(v)) != len(v)):
            raise ConfigError(f"{key}: must be distinct names from ['peak', 'off', 'shape'], got {list(v)}")
    _check_nyquist(cfg, prefix)
    _check_model_input(cfg, prefix)


def _check_model_input(cfg: Any, prefix: str) -> None:
    """A trainer's ``data.transform`` must not apply what its ``model.name`` applies to its input
    itself (``rppg_distill.models.check_input_transform``: no frame difference taken twice)."""
    data, model = getattr(cfg, "data", None), getattr(cfg, "model", None)
    if not (isinstance(data, DataConfig) and isinstance(model, ModelConfig)):
        return
    from rppg_distill.models import check_input_transform, resolve_name

    try:
        resolve_name(model.name)
    except ValueError:
        return  # an unknown model name is reported where the model is built
    try:
        check_input_transform(model.name, data.transform)
    except ValueError as err:
        raise ConfigError(f"{prefix}data.transform: {err}") from None


def _check_nyquist(cfg: Any, prefix: str) -> None:
    """A trainer's bands (``band``, ``eval.band``) must lie below the Nyquist frequency of data.fs."""
    data = getattr(cfg, "data", None)
    if not isinstance(data, DataConfig):
        return
    for key, band in (("band", getattr(cfg, "band", None)),
                      ("eval.band", getattr(getattr(cfg, "eval", None), "band", None))):
        if band is not None and band[1] > data.fs / 2:
            raise ConfigError(f"{prefix}{key}: the upper edge {band[1]:g} Hz is above the Nyquist "
                              f"frequency of data.fs={data.fs:g} ({data.fs / 2:g} Hz)")


def load_config(path: str | Path, overrides: list[str] | None = None, cls: type | None = None) -> Any:
    """Read a YAML config, apply ``--set`` overrides, and check every key and type."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the config file {path}: {err}") from None
    raw = _parse_yaml(text, f"config file {path}")
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys at the top level, "
                          f"got a {type(raw).__name__}")
    apply_overrides(raw, overrides or [])
    return from_dict(raw, cls)


def _parse_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load`` with a syntax error turned into a one-line ConfigError naming ``what``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{what}: not valid YAML{where}: {problem}") from None


def to_dict(cfg: Any) -> dict:
    """Plain mapping (tuples as lists) suitable for YAML/JSON and for checkpoints."""
    def fix(v):
        if isinstance(v, dict):
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [fix(x) for x in v]
        return v
    return fix(dataclasses.asdict(cfg))


def save_config(cfg: Any, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        yaml.safe_dump(to_dict(cfg), fh, sort_keys=False)
