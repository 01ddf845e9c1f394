"""Training configuration: frozen dataclasses loaded from TOML, unknown keys rejected, every
value checked (``vivid.training.config_checks``) before anything else happens.

A config file has the sections ``[model]``, ``[data]``, ``[optim]``, ``[loss]`` and ``[run]``;
every key has a default (the paper's recipe where the paper gives one). ``--set
section.key=value`` on the command line overrides single values (the value is parsed as TOML,
falling back to a plain string).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vivid.errors import VividError
from vivid.training.config_checks import check_values

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class ModelSection:
    scale: int = 4
    blocks: int = 16
    channels: int = 64
    # the image generator: "srresnet" (vivid.nets.srresnet; in the video stages the SR part of
    # the recurrent generator) or "light" (vivid.nets.light, for real time; stages srresnet,
    # srgan, and video, where it upscales each frame on its own)
    architecture: str = "srresnet"
    # video stages: the recurrent generator's motion estimate, "network" (FNet, trained) or
    # "farneback" / "dis" (OpenCV on the LR frames, no weights; vivid.nets.frvsr); with the
    # light architecture the OpenCV motion of the temporal loss
    motion: str = "network"
    # video stages: the recurrent generator's fusion design (vivid.nets.frvsr, 1, 2 or 3)
    frvsr_version: int = 2
    # light architecture: train the head's and blocks' kernels as sums of linear branches
    # (vivid.nets.reparam), folded into plain convs when saved; a fresh network only
    reparam: bool = False
    reparam_tail: bool = False  # with reparam: the tail conv too (its merged kernel starts at 0)


@dataclass(frozen=True)
class DataSection:
    train: tuple[str, ...] = ()  # HR image folders
    train_lr: tuple[str, ...] = ()  # optional pre-made LR folders, one per HR folder
    validation: str = ""  # HR folder for validation ("" = none)
    validation_images: tuple[str, ...] = ()  # names in `validation`, never trained on
    crop: int = 96  # HR crop side
    recursive: bool = False
    # image stages: how a crop's image is drawn: "image" (every image of `train` equally
    # likely) or "folder" (a `train` folder uniformly, then an image of it: equal weight per
    # folder, e.g. per domain)
    balance: str = "image"
    only: tuple[str, ...] = ()  # image stages: train on these file names of `train` only
    # stage "video": folders of sequence folders (frames), and the names held out of them
    videos: tuple[str, ...] = ()
    validation_videos: tuple[str, ...] = ()  # sequence names in `validation`, never trained on
    frames: int = 7  # frames per training sequence
    synthetic: float = 0.5  # fraction of sequences made by moving over `train` stills
    # how LR is made: bicubic | blur-bicubic | bd (stage video: bd, as TecoGAN) | mixed (video
    # stages: bd or bicubic drawn per sequence, validation under both)
    degradation: str = "bicubic"
    # video stages: HR pixels per side around each crop that the generator sees and the
    # losses do not (motion estimated with context; a multiple of the scale)
    context: int = 0


@dataclass(frozen=True)
class OptimSection:
    iterations: int = 100_000
    batch_size: int = 16
    learning_rate: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    schedule: str = "constant"  # constant | cosine | step
    step_at: float = 0.5  # "step": fraction of the run after which the rate is x step_factor
    step_factor: float = 0.1
    min_learning_rate: float = 1e-7  # "cosine": final rate
    warmup: int = 0  # iterations of linear warm-up from ~0 to the schedule's rate (0 = none)
    grad_clip: float = 0.0  # max gradient norm; 0 = off
    ema: float = 0.0  # generator EMA decay; 0 = off
    fused: bool = True  # fused Adam: one pass per tensor (3x faster on the CPU for D's dense)
    # video stages: learning rate x this for the parts that fuse the previous output
    # (state_head, blend), which start at zero / a constant next to a trained SR network
    recurrence_lr_factor: float = 1.0


@dataclass(frozen=True)
class LossSection:
    pixel: str = "mse"  # mse | l1 (stage srresnet)
    content_layer: str = "relu5_4"  # VGG19 layer of the content loss (stage srgan)
    vgg_weights: str = ""  # VGG19 weights file (torchvision layout)
    vgg_input: str = "caffe"  # caffe (0-255 minus mean) | torchvision ([0,1] mean/std)
    content_scale: float = 1 / 12.75  # the paper's rescaling of VGG features
    adversarial_weight: float = 1e-3
    warp_weight: float = 1.0  # video stages: the flow network's LR warping loss
    pingpong_weight: float = 0.5  # video stages: TecoGAN's ping-pong loss (0 = off)
    temporal_weight: float = 0.0  # video stages: output changes vs the truth's, along motion
    pixel_weight: float = 1.0  # stage video-gan: weight of the pixel loss beside the others
    feature_matching_weight: float = 0.0  # stage video-gan: D's layers, generated vs real


@dataclass(frozen=True)
class RunSection:
    stage: str = "srresnet"  # srresnet | srgan | video-flow | video | video-gan
    # generator weights to start from (srgan: stage 1; video: an SRResNet; video-gan: video)
    init: str = ""
    seed: int = 0
    precision: str = "auto"  # auto | fp32 | bf16 | fp16
    channels_last: bool = True
    subpixel_tail: bool = True  # same function, faster tail (models.subpixel_tail)
    compile: bool = False
    deterministic: bool = False
    log_every: int = 50
    validate_every: int = 1000
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    sync_batchnorm: bool = False


@dataclass(frozen=True)
class TrainConfig:
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    loss: LossSection = field(default_factory=LossSection)
    run: RunSection = field(default_factory=RunSection)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise VividError(f"{where}: expected a list, got {value!r}")
        return tuple(_coerce(v, typing.get_args(kind)[0], where) for v in value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = kind if not isinstance(kind, types.UnionType) else typing.get_args(kind)
    if not isinstance(value, expected) or (kind is int and isinstance(value, bool)):
        raise VividError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _build(cls: type, values: dict[str, Any], source: str, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in known:
            raise VividError(f"{source}: unknown key '{prefix}{key}' "
                             f"(known: {', '.join(sorted(known))})")
    kwargs = {}
    for key, value in values.items():
        kind = hints[key]
        if dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise VividError(f"{source}: '{prefix}{key}' must be a section")
            kwargs[key] = _build(kind, value, source, f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, kind, f"{source}: '{prefix}{key}'")
    return cls(**kwargs)


def _parse_override(text: str) -> tuple[list[str], Any]:
    if "=" not in text:
        raise VividError(f"--set {text}: expected section.key=value")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip().split("."), value


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()
                ) -> TrainConfig:
    """Read a TOML config (None: all defaults), apply ``section.key=value`` overrides."""
    values: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path is not None:
        try:
            values = tomllib.loads(Path(path).read_text())
        except OSError as error:
            raise VividError(f"{path}: cannot read ({error.strerror})") from error
        except tomllib.TOMLDecodeError as error:
            raise VividError(f"{path}: invalid TOML ({error})") from error
    for text in overrides:
        keys, value = _parse_override(text)
        target = values
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    config = _build(TrainConfig, values, source)
    check_values(config, source)
    return config


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain nested dict (JSON/TOML-able) of a config."""
    return dataclasses.asdict(config)
